"""Dedupe on write: a memory that says what the library already holds is not added again.

Mem0's ADD / UPDATE / NOOP events are the model: a repeat is a NOOP that touches the existing item (its
`seen` count and last-seen time in its metadata, and a `seen` event in its history) instead of a second
copy that would compete with the first in every recall. A repeat is the same text once case, spacing
and punctuation are set aside, or, with an embedder, a passage whose embedding is nearly the same; the
threshold is high because "I like oolong" and "I like green tea" are close in embedding space too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..models import MemoryItem, Scope

DEFAULT_THRESHOLD = 0.985
_NOT_WORDS = re.compile(r"[^\w]+")


@dataclass(frozen=True)
class Duplicate:
    """The stored item a new memory repeats, how it was recognised, and how similar it is (1.0 for the same text)."""

    item: MemoryItem
    how: str  # same_text | near_duplicate
    similarity: float


class DuplicateFinder(Protocol):
    """The library's closest memories to a text: (item, passage similarity or None when only lexical)."""

    def __call__(self, scope: Scope, text: str) -> Sequence[tuple[MemoryItem, float | None]]: ...


def text_key(text: str) -> str:
    """The text with case, spacing and punctuation set aside: what "the same text" compares."""
    return " ".join(_NOT_WORDS.sub(" ", text.casefold()).split())


def find_duplicate(
    text: str, candidates: Sequence[tuple[MemoryItem, float | None]], *, threshold: float = DEFAULT_THRESHOLD
) -> Duplicate | None:
    """The first stored memory (summaries aside) that repeats ``text``: the same text first, then the nearest."""
    kept = [(item, similarity) for item, similarity in candidates if item.type != "summary"]
    key = text_key(text)
    for item, _ in kept:
        if text_key(item.text) == key:
            return Duplicate(item, "same_text", 1.0)
    near = [(item, s) for item, s in kept if s is not None and s >= threshold]
    if not near:
        return None
    item, similarity = max(near, key=lambda pair: pair[1])
    return Duplicate(item, "near_duplicate", round(similarity, 4))
