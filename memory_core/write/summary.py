"""Session summaries (spec §6): a window of turns condensed into one lasting memory.

Without a chat model, or when it fails, times out or answers nothing, an offline summary is used. The
reference's joined the first N user utterances with "；", questions and greetings included; here the
window holds only turns the write gate kept, and the offline summary lists those facts, each once, at
most N of them. A window with nothing lasting in it writes no summary. The window is never dropped: a
session's end flushes it, and a failed summary still writes the offline one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..chat import CallOptions, ChatModel, LLMCall, call_model
from ..prompts import summary_messages
from ..recall.tokenizer import tokenize
from .gate import reject_reason


@dataclass(frozen=True)
class SummaryText:
    text: str
    by: str  # llm | fallback
    error: str = ""
    call: LLMCall | None = None
    dropped: int = 0  # points past SUMMARY_MAX_ITEMS, left out
    not_user: int = 0  # points about the character, not the user, left out


def fallback_summary(turns: Sequence[tuple[str, str]], max_items: int) -> str:
    """The offline summary: the facts the user stated in the window, one per line, each once, at most N."""
    return fallback_points(turns, max_items)[0]


def fallback_points(turns: Sequence[tuple[str, str]], max_items: int) -> tuple[str, int]:
    """The offline summary, and how many more facts the window held than N."""
    facts: dict[str, str] = {}
    for user_text, _ in turns:
        if (text := user_text.strip()) and not reject_reason(text):
            facts.setdefault(_folded(text), text)
    kept = list(facts.values())
    return "\n".join(kept[:max_items]), max(len(kept) - max_items, 0)


def _fallback(
    turns: Sequence[tuple[str, str]], max_items: int, error: str = "", call: LLMCall | None = None
) -> SummaryText:
    text, dropped = fallback_points(turns, max_items)
    return SummaryText(text, "fallback", error, call, dropped)


def _folded(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


def summary_points(
    answer: str, max_items: int, turns: Sequence[tuple[str, str]] = (), name: str = ""
) -> tuple[str, int, int]:
    """At most N lines of the model's answer about the user; how many more it gave, and how many it gave
    about the character instead (left out: small models attribute the character's words to the user)."""
    lines = [line.strip() for line in answer.strip().splitlines() if line.strip()]
    about_user = [line for line in lines if not about_character(line, turns, name)]
    kept = about_user[:max_items]
    return "\n".join(kept), len(about_user) - len(kept), len(lines) - len(about_user)


def about_character(line: str, turns: Sequence[tuple[str, str]], name: str) -> bool:
    """A point that names the character as its subject, or shares more words with what only the character
    said than with what the user said."""
    subject = re.sub(r"^[-*•\d.)\s]+", "", line).casefold()
    names = [n for n in (name.strip().casefold(), "the character", "the assistant", "assistant") if n]
    if any(subject.startswith(n) for n in names):
        return True
    words = set(tokenize(line))
    user = {t for u, _ in turns for t in tokenize(u)}
    character = {t for _, a in turns for t in tokenize(a)} - user
    return len(words & character) > len(words & user)


def summarise_window(
    model: ChatModel | None,
    turns: Sequence[tuple[str, str]],
    max_items: int,
    *,
    timeout_ms: int = 20_000,
    name: str = "",
) -> SummaryText:
    """Summarise with the model when there is one, else (or on any failure) with the fallback; ``name`` is
    the character's, so the model can tell the user's facts from the character's words."""
    if model is None:
        return _fallback(turns, max_items)
    messages = summary_messages(turns, max_items, name=name)
    completion, call = call_model(model, messages, purpose="summary", options=CallOptions(timeout_ms))
    if completion is None:
        return _fallback(turns, max_items, call.error, call)
    text, dropped, not_user = summary_points(completion.text, max_items, turns, name)
    if not text:
        return _fallback(turns, max_items, "no point about the user" if not_user else "empty summary", call)
    return SummaryText(text, "llm", call=call, dropped=dropped, not_user=not_user)
