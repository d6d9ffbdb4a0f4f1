"""Replies: the chat model's, within the session's bound, else the offline responder's.

The offline responder answers from the recalled memories, said back to the user in the second person, or
says plainly what it cannot do offline. Its reply text is only the reply: that it wrote it, and why (no
model configured, or the configured one timed out after how long, failed, or failed mid-stream), is the
reply's `note`, shown beside it so nobody mistakes it for a model's answer in a demo. A streamed reply the
bound cut is kept only marked as partial (`partial_mark`, in the trace, the chat and the stored turn), or
dropped for the offline reply when the session's `partial_replies` is "drop".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..chat import CallOptions, ChatMessage, ChatModel, LLMCall, StreamResult, call_model
from ..decide.decider import RecallDecision
from ..prompts import offline_greeting, offline_note, offline_reply, partial_mark, partial_note
from ..recall.lexical import ScoredMemory
from ..tuning import Tuning
from .offline import is_chinese, reply_kind, shortened


@dataclass(frozen=True)
class Question:
    """What a reply answers: the user's words, the memories recalled for them, and whether recall was
    decided (None: no decision was made, memory is off) and why."""

    text: str
    hits: tuple[ScoredMemory, ...] = ()
    recalled: bool | None = None
    reason: str = ""

    @classmethod
    def of(cls, text: str, hits: Sequence[ScoredMemory], decision: RecallDecision | None) -> Question:
        if decision is None:
            return cls(text, tuple(hits))
        return cls(text, tuple(hits), decision.should_recall, decision.reason)

    @property
    def chinese(self) -> bool:
        return is_chinese(self.text)


class OfflineResponder:
    """Answers in the user's language from the top recalled memories, or says honestly what it cannot do."""

    def reply(self, question: Question) -> str:
        memories = [h.item.text.strip() for h in question.hits if h.item.text.strip()]
        kind = reply_kind(question.text, found=bool(memories), recalled=question.recalled, reason=question.reason)
        return offline_reply(kind, memories, chinese=question.chinese)

    def greeting(self, name: str, memories: Sequence[str], *, memory_on: bool = True) -> str:
        return offline_greeting(name, [m.strip() for m in memories if m.strip()], memory_on=memory_on)

    def reply_without_memory(self, user_text: str) -> str:
        """A reply with no memory at all: it never holds a memory's text, and asks about the user instead."""
        return self.reply(Question(user_text))

    def note(self, user_text: str, *, why: str = "", seconds: float = 0.0, error: str = "") -> str:
        """The note beside an offline reply; ``why`` is "" (no model configured), "timeout", "error" or "cut"."""
        return offline_note(chinese=is_chinese(user_text), why=why, seconds=seconds, error=shortened(error))


@dataclass(frozen=True)
class Reply:
    """What answered a turn: the text as shown and kept, who made it, its call, whether the bound cut it, and
    the note shown beside it (who wrote an offline reply and why; that a reply was cut)."""

    text: str
    by: str  # llm | offline
    call: LLMCall | None = None
    partial: bool = False
    error: str = ""
    note: str = ""


def model_reply(
    model: ChatModel | None, responder: OfflineResponder, messages: Sequence[ChatMessage], question: Question,
    tuning: Tuning,
) -> Reply:  # fmt: skip
    """The model's whole answer within the reply bound; the offline reply, saying why, when it gives none."""
    if model is None:
        return Reply(responder.reply(question), "offline", note=responder.note(question.text))
    completion, call = call_model(model, messages, purpose="reply", options=CallOptions(tuning.reply_timeout_ms))
    if completion is not None and completion.text.strip():
        return Reply(completion.text, "llm", call)
    return _offline(responder, question, call, tuning)


def streamed_reply(result: StreamResult, responder: OfflineResponder, question: Question, tuning: Tuning) -> Reply:
    """What a streamed answer leaves: whole, cut and marked partial (or dropped), or the offline reply (a
    stream that failed part-way is never kept as if it were whole)."""
    call = result.call
    if call is not None and call.ok and result.text.strip():
        return Reply(result.text, "llm", call)
    seconds = tuning.reply_timeout_ms / 1000
    if call is not None and call.partial and result.text.strip() and tuning.partial_replies == "keep":
        mark = partial_mark(chinese=question.chinese, seconds=seconds)
        note = partial_note(chinese=question.chinese, seconds=seconds)
        return Reply(result.text + mark, "llm", call, partial=True, error=f"reply cut: {call.error}", note=note)
    return _offline(responder, question, call, tuning, cut=bool(result.text.strip()))


def _offline(
    responder: OfflineResponder, question: Question, call: LLMCall | None, tuning: Tuning, *, cut: bool = False
) -> Reply:
    error = call.error if call is not None and call.error else "empty answer"
    why = "timeout" if error.startswith("timeout") else "cut" if cut else "error"
    note = responder.note(question.text, why=why, seconds=tuning.reply_timeout_ms / 1000, error=error)
    return Reply(responder.reply(question), "offline", call, error=f"reply failed: {error}", note=note)
