"""Session summaries (spec §6): a window of turns condensed into one lasting memory.

Without a chat model, or when it fails or answers nothing, the reference's fallback is used: the
first N user utterances joined with "；". The window is never dropped: a session's end flushes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from .chat import ChatModel
from .prompts import summary_messages


@dataclass(frozen=True)
class SummaryText:
    text: str
    by: str  # llm | fallback
    error: str = ""


class Summariser(Protocol):
    def summarise(self, turns: Sequence[tuple[str, str]], max_items: int) -> str: ...


def fallback_summary(turns: Sequence[tuple[str, str]], max_items: int) -> str:
    """The reference's offline summary: the first N user utterances joined with "；"."""
    users = [u.strip() for u, _ in turns if u.strip()]
    return "；".join(users[:max_items])


class LLMSummariser:
    """Asks a chat model for at most N bullet memories (prompts.SUMMARY_SYSTEM / SUMMARY_USER)."""

    def __init__(self, model: ChatModel) -> None:
        self.model = model

    def summarise(self, turns: Sequence[tuple[str, str]], max_items: int) -> str:
        answer = self.model.complete(summary_messages(turns, max_items))
        lines = [line.strip() for line in answer.strip().splitlines() if line.strip()]
        return "\n".join(lines[:max_items])


def summarise_window(summariser: Summariser | None, turns: Sequence[tuple[str, str]], max_items: int) -> SummaryText:
    """Summarise with the model when there is one, else (or on any failure) with the fallback."""
    if summariser is None:
        return SummaryText(fallback_summary(turns, max_items), "fallback")
    try:
        text = summariser.summarise(turns, max_items).strip()
    except Exception as exc:  # a failed summary must not lose the window
        return SummaryText(fallback_summary(turns, max_items), "fallback", f"{type(exc).__name__}: {exc}")
    if not text:
        return SummaryText(fallback_summary(turns, max_items), "fallback", "empty summary")
    return SummaryText(text, "llm")
