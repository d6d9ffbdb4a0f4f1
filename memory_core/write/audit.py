"""A write audit of a library: how much of what was stored should not have been.

The write gate keeps lasting statements, dedupe sees repeats again instead of storing them, and
supersession marks what a newer statement replaced. A library filled before those (or by imports and
edits around them) can still hold questions, copies and the assistant's own words: the audit counts
them, so a glance says whether the library is clean.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..models import MemoryItem
from .dedupe import text_key
from .utterance import sentences, speech_act

CLEAN_SHARE = 0.05  # questions, stored repeats and assistant-origin items together, below this: clean
_ASSISTANT = re.compile(r"(?:^|[^a-z])assistant(?:$|[^a-z])")
# The shares the verdict weighs, as (field, how the verdict names it).
_FLAWS = (("questions", "questions"), ("repeats_stored", "repeats stored"), ("assistant_origin", "assistant-origin"))


@dataclass(frozen=True)
class LibraryAudit:
    """Counts of a library's items by what the write path should have kept out, or has marked."""

    total: int
    questions: int  # every sentence of the text asks something
    repeats_stored: int  # the same text (text_key) as another stored item: each copy counts
    seen_again: int  # said more than once and stored once (metadata `seen` > 1)
    superseded: int  # replaced by a newer memory (metadata `superseded_by`)
    assistant_origin: int  # the assistant's words, not the user's
    summaries: int
    flagged: int  # items that are a question, a stored repeat or the assistant's, each counted once

    def share(self, count: int) -> float:
        """A count as a fraction of the library (0 for an empty one)."""
        return count / self.total if self.total else 0.0

    @property
    def counts(self) -> dict[str, int]:
        return {
            "questions": self.questions,
            "repeats_stored": self.repeats_stored,
            "seen_again": self.seen_again,
            "superseded": self.superseded,
            "assistant_origin": self.assistant_origin,
            "summaries": self.summaries,
        }

    @property
    def verdict(self) -> str:
        """One line: "clean", or which shares make the library not clean."""
        if not self.total:
            return "empty: nothing stored"
        if self.share(self.flagged) < CLEAN_SHARE:
            return "clean"
        high = sorted(((self.share(getattr(self, name)), label) for name, label in _FLAWS), key=lambda p: -p[0])
        shown = ", ".join(f"{label} {share:.0%}" for share, label in high if share > 0)
        return f"not clean: {shown} ({self.share(self.flagged):.0%} of items flagged)"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the total, each count and its share of the total, and the verdict."""
        counts = self.counts
        return {
            "total": self.total,
            "counts": counts,
            "shares": {name: round(self.share(count), 4) for name, count in counts.items()},
            "flagged": self.flagged,
            "flagged_share": round(self.share(self.flagged), 4),
            "verdict": self.verdict,
        }


def audit_library(items: Iterable[MemoryItem]) -> LibraryAudit:
    """The write audit of a library's items (pure: the caller reads them from the store)."""
    listed = list(items)
    questions = {item.id for item in listed if is_question_item(item)}
    repeats = repeated_ids(listed)
    assistant = {item.id for item in listed if is_assistant_origin(item)}
    return LibraryAudit(
        total=len(listed),
        questions=len(questions),
        repeats_stored=len(repeats),
        seen_again=sum(1 for item in listed if seen_count(item) > 1),
        superseded=sum(1 for item in listed if item.metadata.get("superseded_by")),
        assistant_origin=len(assistant),
        summaries=sum(1 for item in listed if item.type == "summary"),
        flagged=len(questions | repeats | assistant),
    )


def is_question_item(item: MemoryItem) -> bool:
    """Every sentence of the item asks something (a memory of a question tells nothing about the user)."""
    parts = sentences(item.text)
    return bool(parts) and all(speech_act(part) == "question" for part in parts)


def repeated_ids(items: Sequence[MemoryItem]) -> set[str]:
    """The ids of items whose text is, case and punctuation aside, another item's (summaries aside, as dedupe)."""
    keyed = [(item.id, text_key(item.text)) for item in items if item.type != "summary"]
    counts = Counter(key for _, key in keyed if key)
    return {item_id for item_id, key in keyed if key and counts[key] > 1}


def is_assistant_origin(item: MemoryItem) -> bool:
    """The item records the assistant's words: its role, or its type or source says so."""
    meta = item.metadata
    if str(meta.get("role", "")).casefold() == "assistant":
        return True
    labels = (item.type, item.source, meta.get("source"), meta.get("source_type"), meta.get("type"))
    return any(_ASSISTANT.search(str(label).casefold()) for label in labels if label)


def seen_count(item: MemoryItem) -> int:
    """How many times the memory was said (metadata `seen`, 1 when absent or unreadable)."""
    try:
        return int(item.metadata.get("seen", 1))
    except (TypeError, ValueError):
        return 1
