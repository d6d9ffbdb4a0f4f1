"""The LLM judge: asks a chat model whether a message needs recall, and reads its answer strictly.

Small local models copy what they are shown, so the prompt shows a real answer with concrete values, never
placeholders; the answer is capped at a verdict's length and, where the endpoint offers it, constrained by
a JSON schema. What comes back is validated field by field: `should_recall` a boolean, categories from the
known set (each once), a query that is not the prompt's example copied nor a format echoed back (else the
message itself is searched), a reason
from the known set or short free text. An answer cut at the token cap still counts when its verdict was
complete in its first tokens. Anything else is a fallback, with the reason recorded in the call.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any

from ..chat import CallOptions, ChatModel, LLMCall, call_model
from ..models import JUDGE_REASONS, RECALL_CATEGORIES
from ..prompts import JUDGE_EXAMPLES, judge_messages
from ..recall.tokenizer import tokenize

MAX_CATEGORIES = 3
MAX_FREE_REASON = 80
JUDGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "should_recall": {"type": "boolean"},
        "query": {"type": "string", "maxLength": 120},
        "reason": {"type": "string", "enum": list(JUDGE_REASONS)},
        "categories": {
            "type": "array",
            "items": {"type": "string", "enum": list(RECALL_CATEGORIES)},
            "maxItems": MAX_CATEGORIES,
            "uniqueItems": True,
        },
    },
    "required": ["should_recall", "query", "reason", "categories"],
    "additionalProperties": False,
}
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)
_LEADING_VERDICT = re.compile(r'^\s*\{\s*"should_recall"\s*:\s*(true|false)\b')
_TEMPLATE_MARKS = ("|", "...", "…")
_EXAMPLE_QUERIES = frozenset(str(e["query"]).casefold() for e in JUDGE_EXAMPLES if e["query"])


@dataclass(frozen=True)
class JudgeVerdict:
    should_recall: bool
    query: str
    reason: str
    categories: tuple[str, ...]
    raw: str
    notes: tuple[str, ...] = ()  # what validation changed: a query replaced, categories dropped, a cut answer


class JudgeError(Exception):
    """The judge answered, but not with a usable verdict."""

    def __init__(self, message: str, raw: str = "") -> None:
        super().__init__(message)
        self.raw = raw


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise JudgeError(f"should_recall must be a boolean, got {value!r}")


def parse_verdict(raw: str, user_text: str, *, cut: bool = False) -> JudgeVerdict:
    """Parse the judge's answer strictly; ``cut`` says the answer stopped at its token cap, when a complete
    leading ``should_recall`` is enough."""
    body = _FENCE.sub("", raw.strip())
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        leading = _LEADING_VERDICT.match(body) if cut else None
        if leading is None:
            raise JudgeError(f"judge answer is not JSON: {exc.msg}", raw) from None
        data = {"should_recall": leading.group(1) == "true"}
        return _verdict(data, user_text, raw, ("answer cut at max_tokens: should_recall read from its start",))
    if not isinstance(data, dict) or "should_recall" not in data:
        raise JudgeError("judge answer is not an object with should_recall", raw)
    return _verdict(data, user_text, raw, ())


def _verdict(data: dict[str, Any], user_text: str, raw: str, notes: tuple[str, ...]) -> JudgeVerdict:
    try:
        should_recall = _as_bool(data["should_recall"])
    except JudgeError as exc:
        raise JudgeError(str(exc), raw) from None
    query, query_note = checked_query(data.get("query"), user_text) if should_recall else (user_text.strip(), "")
    categories, dropped = checked_categories(data.get("categories")) if should_recall else ((), ())
    reason = checked_reason(data.get("reason"))
    notes += tuple(n for n in (query_note, f"unknown categories dropped: {', '.join(dropped)}" if dropped else "") if n)
    return JudgeVerdict(should_recall, query, reason, categories, raw, notes)


def checked_query(value: Any, user_text: str) -> tuple[str, str]:
    """The judge's query, unless it is the prompt's own example copied for a message that does not share its
    words, or a format echoed back: then the message itself is searched."""
    message = user_text.strip()
    if not isinstance(value, str) or not value.strip():
        return message, ""
    query = value.strip()
    copied = query.casefold() in _EXAMPLE_QUERIES and not set(tokenize(query)) & set(tokenize(message))
    if copied or _looks_like_template(query):
        return message, f"query {query[:60]!r} is not about the message: the message is searched instead"
    return query, ""


def checked_categories(value: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The known categories, each once, at most MAX_CATEGORIES; and the strings that were not known."""
    values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    strings = [v.strip() for v in values if isinstance(v, str) and v.strip()]
    known = tuple(dict.fromkeys(v for v in strings if v in RECALL_CATEGORIES))[:MAX_CATEGORIES]
    return known, tuple(dict.fromkeys(v for v in strings if v not in RECALL_CATEGORIES))


def checked_reason(value: Any) -> str:
    """A known reason, or short free text that is not a template; else the generic "llm_decision"."""
    if not isinstance(value, str) or not value.strip():
        return "llm_decision"
    reason = value.strip()
    if reason in JUDGE_REASONS:
        return reason
    free = len(reason) <= MAX_FREE_REASON and not _looks_like_template(reason) and reason.lower() != "short reason"
    return reason if free else "llm_decision"


def _looks_like_template(text: str) -> bool:
    """Alternatives or an ellipsis: an answer format echoed back, not a value."""
    return any(mark in text for mark in _TEMPLATE_MARKS)


class LLMJudge:
    """Asks a chat model whether a message needs recall (prompt in prompts.JUDGE_SYSTEM)."""

    def __init__(self, model: ChatModel) -> None:
        self.model = model

    def ask(self, text: str, *, timeout_ms: int) -> tuple[JudgeVerdict | None, LLMCall]:
        """The verdict (None when the call failed, timed out or could not be parsed) and the call record."""
        messages = judge_messages(text)
        options = CallOptions(timeout_ms=timeout_ms, schema=JUDGE_SCHEMA)
        completion, call = call_model(self.model, messages, purpose="judge", options=options)
        if completion is None:
            return None, call
        try:
            verdict = parse_verdict(completion.text, text, cut=completion.finish_reason == "length")
        except JudgeError as exc:
            return None, replace(call, error=f"unparseable: {exc}")
        parsed = {"should_recall": verdict.should_recall, "query": verdict.query, "reason": verdict.reason,
                  "categories": list(verdict.categories), "notes": list(verdict.notes)}  # fmt: skip
        return verdict, replace(call, parsed=parsed)
