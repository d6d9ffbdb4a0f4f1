"""What to write after a reply (spec §5): the reference's reject rules, then a gate for what lasts.

The reference's `recall_question` rule matched "我的名字是小张" and "我的目标是…" because nouns such as
名字/目标 counted as question words, so declarations were never written. Here a recall question has
to ask something: an interrogative word in the same clause, or a short message ending as a question.

The reference then wrote every other turn, so questions about the world, small talk and one-off
commands filled the library and outranked the answers. Here a turn is written only when one of its
sentences is a statement about the user that lasts (`durable`); where the rules find none, a
`WriteScorer` (a learned judge) may still keep it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..decide.patterns import is_invalid, is_sensitive
from ..decide.rules import is_low_value, is_named_entity_question
from ..models import NewItem
from .classify import classify_turn, context_kind
from .durable import durable_kind, is_transient
from .utterance import sentences, speech_act

REJECT_REASONS = (
    "interrupted_or_empty_assistant",
    "low_value",
    "invalid",
    "sensitive",
    "memory_check_question",
    "recall_question",
    "question",
    "command",
    "small_talk",
    "transient",
    "not_durable",
)

_MEMORY_CHECK = re.compile(
    r"(?:你|还|你还).{0,8}(?:记得|记住).{0,40}(?:吗|么|\?|？)"
    r"|(?:记住|记得).{0,20}(?:了吗|了么|吗|么|\?|？)"
    r"|\b(?:do|did|can|could) you (?:still )?(?:remember|recall)\b"
    r"|\bremember (?:what|when|where|who|which|how|my|me|that)\b.*\?|\bremember\s*\?",
    re.IGNORECASE,
)
_STYLE_QUESTION = re.compile(
    r"(?:按|照|根据).{0,4}(?:我|我的|之前|以前|上次|刚才).{0,8}"
    r"(?:方式|风格|偏好|习惯|回答|说法|计划|目标).{0,12}(?:解释|回答|说|讲|怎么|如何|吗|么|\?|？)"
)
_CLAUSE = re.compile(r"[，。,.!！;；\n]")
_OWNED_QUESTION_ZH = re.compile(
    r"(?:我的|我现在|我之前|我上次|我刚才)[^，。,.!！;；?？]{0,30}?(?:是什么|是啥|叫啥|哪个|哪些|什么|多少|几|哪)"
)
_SHORT_QUESTION_ZH = re.compile(r"^(?:我的|我现在|我之前|我上次|我刚才).{0,20}(?:吗|呢|么|来着|\?|？)$")
# A question about the user themself ("what do I prefer?", "what's my shoe size"): nothing new to store.
_OWNED_QUESTION_EN = re.compile(
    r"^\s*(?:what|what's|whats|when|where|who|which|how|do|did|does|am|is|are)\b[^.!]*\b(?:i|my|me)\b[^.!]*\?"
    r"|^\s*(?:what|what's|whats|when|where|who|which)\b[^.!?]*\bmy\b[^.!?]*$",
    re.IGNORECASE,
)


class WriteScorer(Protocol):
    """A second opinion for statements the rules cannot place: the probability that the turn lasts, and the
    probability from which the turn is written."""

    @property
    def threshold(self) -> float: ...

    def durable_probability(self, text: str) -> float | None: ...


@dataclass(frozen=True)
class AtThreshold:
    """A scorer read at a session's own threshold (MEMTUNE_WRITE_JUDGE_THRESHOLD)."""

    scorer: WriteScorer
    threshold: float

    def durable_probability(self, text: str) -> float | None:
        return self.scorer.durable_probability(text)


def at_threshold(scorer: WriteScorer | None, threshold: float) -> WriteScorer | None:
    """The scorer at this threshold; None (the rules alone) without one or at 1 and above."""
    return AtThreshold(scorer, threshold) if scorer is not None and threshold < 1 else None


@dataclass(frozen=True)
class WriteDecision:
    """Write or reject, why, and (when writing) the items with their classification."""

    action: str  # write | reject
    reason: str
    category: str = ""
    confidence: str = ""
    items: tuple[NewItem, ...] = ()
    context: str = ""  # correction | confirmation | "": whether a smart write needs the recent turns


def is_recall_question(text: str) -> bool:
    """The user asks about stored memory (not telling us something new)."""
    if is_named_entity_question(text) or _STYLE_QUESTION.search(text):
        return True
    if _OWNED_QUESTION_ZH.search(text) or _SHORT_QUESTION_ZH.search(text.strip()):
        return True
    return bool(_OWNED_QUESTION_EN.search(text))


def _reject_reason(user_text: str) -> str:
    if is_low_value(user_text):
        return "low_value"
    if is_invalid(user_text):
        return "invalid"
    if is_sensitive(user_text):
        return "sensitive"
    if _MEMORY_CHECK.search(user_text):
        return "memory_check_question"
    if is_recall_question(user_text):
        return "recall_question"
    return ""


def lasting_sentence(text: str) -> tuple[str, str]:
    """The first sentence that states something lasting about the user, and its kind; else ("", why not)."""
    acts = [(sentence, speech_act(sentence)) for sentence in sentences(text)]
    statements = [sentence for sentence, act in acts if act == "statement"]
    if not statements:
        return "", acts[0][1] if acts else "not_durable"
    for sentence in statements:
        if kind := durable_kind(sentence):
            return sentence, kind
    return "", "transient" if any(map(is_transient, statements)) else "not_durable"


def reject_reason(user_text: str, scorer: WriteScorer | None = None) -> str:
    """Why a user's message is not written ("" when it is): the reference's rejects, then what lasts."""
    return _reject_reason(user_text) or gate_verdict(user_text, scorer)[0]


def gate_verdict(text: str, scorer: WriteScorer | None = None) -> tuple[str, float | None]:
    """Why a turn that passed the reject rules is not written ("" when it is), and the scorer's probability
    when it was asked (only where the rules found nothing lasting)."""
    sentence, why = lasting_sentence(text)
    if sentence or scorer is None or why != "not_durable":
        return ("" if sentence else why), None
    probability = scorer.durable_probability(text)
    return ("" if probability is not None and probability >= scorer.threshold else why), probability


def decide_write(
    user_text: str, assistant_text: str, *, interrupted: bool = False, scorer: WriteScorer | None = None
) -> WriteDecision:
    """Decide what a completed turn writes; accepted turns become one classified `chat_turn` item."""
    text = (user_text or "").strip()
    if interrupted or not (assistant_text or "").strip():
        return WriteDecision("reject", "interrupted_or_empty_assistant")
    if reason := _reject_reason(text):
        return WriteDecision("reject", reason)
    reason, probability = gate_verdict(text, scorer)
    if reason:
        return WriteDecision("reject", reason)
    c = classify_turn(text, import_mode=False)
    confidence = c.confidence if c.category else "unknown"
    metadata: dict[str, object] = {
        "role": "user",
        "source": "session",
        "source_type": "realtime_turn",
        "category": c.category,
        "confidence": confidence,
        "decision_reason": c.reason,
    }
    if probability is not None:  # the rules found nothing lasting; the write judge kept it
        metadata["write_judge"] = probability
    item = NewItem(text, "chat_turn", c.category, confidence, "session", metadata)
    return WriteDecision("write", c.reason, c.category, confidence, (item,), context_kind(text))


def import_items(
    turns: Sequence[tuple[str, str]], *, source: str, scorer: WriteScorer | None = None
) -> tuple[NewItem, ...]:
    """The items an import of chat turns stores: the user turns the write gate keeps, classified."""
    items = []
    for role, content in turns:
        text = content.strip()
        if role != "user" or reject_reason(text, scorer):
            continue
        c = classify_turn(text)  # import mode: the reference's fallback category for what the gate keeps
        metadata = {"role": "user", "source": source, "category": c.category, "confidence": c.confidence,
                    "decision_reason": c.reason, "source_type": "import"}  # fmt: skip
        items.append(NewItem(text, c.type, c.category, c.confidence, source, metadata))
    return tuple(items)
