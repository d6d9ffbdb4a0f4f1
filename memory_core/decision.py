"""The recall decision in three modes (rule, hybrid, llm) behind one interface.

Rules decide first. `hybrid` sends only the ambiguous `no_marker` messages to the LLM judge, `llm` sends
everything but the hard rejects. Whenever the judge is missing, late, failing or unparseable the rule
result stands, and the decision says so: never "no recall for everything".
"""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, Protocol

from .chat import ChatModel
from .errors import InvalidInputError
from .prompts import judge_messages
from .recall_rules import HARD_REJECTS, RuleMatch, decide_by_rules

MODES = ("rule", "hybrid", "llm")
DECIDED_BY = ("rule", "llm", "fallback_rule")


@dataclass(frozen=True)
class RecallDecision:
    """Whether to recall, what to search for, why, and who decided it how fast."""

    should_recall: bool
    query: str
    reason: str
    categories: tuple[str, ...]
    mode: str
    decided_by: str
    fallback_reason: str = ""
    rule_reason: str = ""
    evidence: str = ""
    latency_ms: float = 0.0
    judge_raw: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "should_recall": self.should_recall,
            "query": self.query,
            "reason": self.reason,
            "categories": list(self.categories),
            "mode": self.mode,
            "decided_by": self.decided_by,
            "fallback_reason": self.fallback_reason,
            "rule_reason": self.rule_reason,
            "evidence": self.evidence,
            "latency_ms": round(self.latency_ms, 3),
        }


@dataclass(frozen=True)
class JudgeVerdict:
    should_recall: bool
    query: str
    reason: str
    categories: tuple[str, ...]
    raw: str


class JudgeError(Exception):
    """The judge answered, but not with a usable verdict."""

    def __init__(self, message: str, raw: str = "") -> None:
        super().__init__(message)
        self.raw = raw


class Judge(Protocol):
    def judge(self, text: str) -> JudgeVerdict: ...


class Decider(Protocol):
    def decide(self, text: str, *, mode: str, timeout_ms: int) -> RecallDecision: ...


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise JudgeError(f"should_recall must be a boolean, got {value!r}")


def parse_verdict(raw: str, user_text: str) -> JudgeVerdict:
    """Parse the judge's answer strictly: one JSON object with a boolean `should_recall`."""
    body = _FENCE.sub("", raw.strip())
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise JudgeError(f"judge answer is not JSON: {exc.msg}", raw) from None
    if not isinstance(data, dict) or "should_recall" not in data:
        raise JudgeError("judge answer is not an object with should_recall", raw)
    try:
        should_recall = _as_bool(data["should_recall"])
    except JudgeError as exc:
        raise JudgeError(str(exc), raw) from None
    query = data.get("query")
    categories = data.get("categories") or ()
    if isinstance(categories, str):
        categories = (categories,)
    return JudgeVerdict(
        should_recall=should_recall,
        query=query.strip() if isinstance(query, str) and query.strip() else user_text,
        reason=str(data.get("reason") or "llm_decision"),
        categories=tuple(str(c) for c in categories if isinstance(c, str | int)),
        raw=raw,
    )


class LLMJudge:
    """Asks a chat model whether a message needs recall (prompt in prompts.JUDGE_SYSTEM)."""

    def __init__(self, model: ChatModel) -> None:
        self.model = model

    def judge(self, text: str) -> JudgeVerdict:
        return parse_verdict(self.model.complete(judge_messages(text)), text)


class RecallDecider:
    """Rule, hybrid or llm decisions; the judge is optional and bounded by a timeout that really cuts."""

    def __init__(self, judge: Judge | None = None, *, max_workers: int = 4) -> None:
        self.judge = judge
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="recall-judge")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def decide(self, text: str, *, mode: str = "rule", timeout_ms: int = 2000) -> RecallDecision:
        if mode not in MODES:
            raise InvalidInputError(f"decision mode must be one of {', '.join(MODES)}, got {mode!r}")
        started = time.perf_counter()
        rule = decide_by_rules(text)
        needs_judge = mode == "llm" and rule.reason not in HARD_REJECTS
        needs_judge = needs_judge or (mode == "hybrid" and rule.reason == "no_marker")
        if not needs_judge:
            return _from_rule(rule, text, mode, "rule", "", started)
        if self.judge is None:
            return _from_rule(rule, text, mode, "fallback_rule", "llm_unavailable", started)
        return self._ask_judge(self.judge, rule, text, mode, timeout_ms, started)

    def _ask_judge(
        self, judge: Judge, rule: RuleMatch, text: str, mode: str, timeout_ms: int, started: float
    ) -> RecallDecision:
        future: Future[JudgeVerdict] = self._pool.submit(judge.judge, text)
        try:
            verdict = future.result(timeout=max(timeout_ms, 1) / 1000)
        except FutureTimeout:
            future.cancel()  # a late answer is discarded
            return _from_rule(rule, text, mode, "fallback_rule", f"timeout after {timeout_ms} ms", started)
        except JudgeError as exc:
            return _from_rule(rule, text, mode, "fallback_rule", f"unparseable: {exc}", started, raw=exc.raw)
        except Exception as exc:  # any provider failure falls back to the rules
            return _from_rule(rule, text, mode, "fallback_rule", f"error: {type(exc).__name__}: {exc}", started)
        return RecallDecision(
            should_recall=verdict.should_recall,
            query=verdict.query if verdict.should_recall else text.strip(),
            reason=verdict.reason,
            categories=verdict.categories,
            mode=mode,
            decided_by="llm",
            rule_reason=rule.reason,
            evidence=rule.evidence,
            latency_ms=(time.perf_counter() - started) * 1000,
            judge_raw=verdict.raw,
        )


def _from_rule(
    rule: RuleMatch, text: str, mode: str, decided_by: str, fallback: str, started: float, *, raw: str = ""
) -> RecallDecision:
    return RecallDecision(
        should_recall=rule.should_recall,
        query=text.strip(),
        reason=rule.reason,
        categories=rule.categories,
        mode=mode,
        decided_by=decided_by,
        fallback_reason=fallback,
        rule_reason=rule.reason,
        evidence=rule.evidence,
        latency_ms=(time.perf_counter() - started) * 1000,
        judge_raw=raw,
    )
