"""Session summaries (spec §6): a window of turns condensed into one lasting memory.

Without a chat model, or when it fails, times out or answers nothing, the reference's fallback is
used: the first N user utterances joined with "；". The window is never dropped: a session's end
flushes it, and a failed summary still writes the fallback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..chat import ChatModel, LLMCall, call_model
from ..prompts import summary_messages


@dataclass(frozen=True)
class SummaryText:
    text: str
    by: str  # llm | fallback
    error: str = ""
    call: LLMCall | None = None


def fallback_summary(turns: Sequence[tuple[str, str]], max_items: int) -> str:
    """The reference's offline summary: the first N user utterances joined with "；"."""
    users = [u.strip() for u, _ in turns if u.strip()]
    return "；".join(users[:max_items])


def summary_points(answer: str, max_items: int) -> str:
    """At most N non-empty lines of the model's answer."""
    lines = [line.strip() for line in answer.strip().splitlines() if line.strip()]
    return "\n".join(lines[:max_items])


def summarise_window(
    model: ChatModel | None, turns: Sequence[tuple[str, str]], max_items: int, *, timeout_ms: int = 20_000
) -> SummaryText:
    """Summarise with the model when there is one, else (or on any failure) with the fallback."""
    if model is None:
        return SummaryText(fallback_summary(turns, max_items), "fallback")
    completion, call = call_model(model, summary_messages(turns, max_items), purpose="summary", timeout_ms=timeout_ms)
    if completion is None:
        return SummaryText(fallback_summary(turns, max_items), "fallback", call.error, call)
    text = summary_points(completion.text, max_items)
    if not text:
        return SummaryText(fallback_summary(turns, max_items), "fallback", "empty summary", call)
    return SummaryText(text, "llm", call=call)
