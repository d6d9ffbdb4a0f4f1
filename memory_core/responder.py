"""Replies: the chat model's, within the session's bound, else the offline responder's.

The offline responder builds a reply from the recalled memories; its replies are labelled so nobody
mistakes them for a model's answer in a demo, and the label says why it answered: no model configured,
or the configured one timed out (after how long) or failed. A streamed reply the bound cut is kept only
marked as partial (`partial_mark`, in the trace, the chat and the stored turn), or dropped for the
offline reply when the session's `partial_replies` is "drop".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .chat import CallOptions, ChatMessage, ChatModel, LLMCall, StreamResult, call_model
from .prompts import offline_greeting, offline_reply, offline_reply_without_memory, partial_mark
from .recall.lexical import ScoredMemory
from .tuning import Tuning

_CJK = re.compile(r"[\u4e00-\u9fff]")
MAX_SHOWN = 3


class OfflineResponder:
    """Answers in the user's language with the top recalled memories, or says it has none."""

    def reply(self, user_text: str, hits: Sequence[ScoredMemory], *, why: str = "", seconds: float = 0.0) -> str:
        """``why`` says the configured model did not answer ("timeout" after ``seconds``, or "error");
        empty, that no model is configured."""
        memories = [h.item.text.strip() for h in hits[:MAX_SHOWN] if h.item.text.strip()]
        return offline_reply(user_text.strip(), memories, chinese=is_chinese(user_text), why=why, seconds=seconds)

    def greeting(self, name: str, memories: Sequence[str]) -> str:
        return offline_greeting(name, [m.strip() for m in memories[:MAX_SHOWN] if m.strip()])

    def reply_without_memory(self, user_text: str) -> str:
        return offline_reply_without_memory(user_text.strip())


def is_chinese(text: str) -> bool:
    return bool(_CJK.search(text))


@dataclass(frozen=True)
class Reply:
    """What answered a turn: the text as shown and kept, who made it, its call, and whether the bound cut it."""

    text: str
    by: str  # llm | offline
    call: LLMCall | None = None
    partial: bool = False
    error: str = ""


def model_reply(
    model: ChatModel | None, responder: OfflineResponder, messages: Sequence[ChatMessage], user_text: str,
    hits: Sequence[ScoredMemory], tuning: Tuning,
) -> Reply:  # fmt: skip
    """The model's whole answer within the reply bound; the offline reply, saying why, when it gives none."""
    if model is None:
        return Reply(responder.reply(user_text, hits), "offline")
    completion, call = call_model(model, messages, purpose="reply", options=CallOptions(tuning.reply_timeout_ms))
    if completion is not None and completion.text.strip():
        return Reply(completion.text, "llm", call)
    return _offline(responder, user_text, hits, call, tuning)


def streamed_reply(
    result: StreamResult, responder: OfflineResponder, user_text: str, hits: Sequence[ScoredMemory], tuning: Tuning
) -> Reply:
    """What a streamed answer leaves: whole, cut and marked partial (or dropped), or the offline reply."""
    call = result.call
    if call is not None and call.ok and result.text.strip():
        return Reply(result.text, "llm", call)
    if call is not None and call.partial and result.text.strip() and tuning.partial_replies == "keep":
        mark = partial_mark(chinese=is_chinese(user_text), seconds=tuning.reply_timeout_ms / 1000)
        return Reply(result.text + mark, "llm", call, partial=True, error=f"reply cut: {call.error}")
    return _offline(responder, user_text, hits, call, tuning)


def _offline(
    responder: OfflineResponder, user_text: str, hits: Sequence[ScoredMemory], call: LLMCall | None, tuning: Tuning
) -> Reply:
    error = call.error if call is not None and call.error else "empty answer"
    why = "timeout" if error.startswith("timeout") else "error"
    text = responder.reply(user_text, hits, why=why, seconds=tuning.reply_timeout_ms / 1000)
    return Reply(text, "offline", call, error=f"reply failed: {error}")
