"""Lexical recall: a BM25 index per library, kept in step with the store through its change feed.

The first search of a library builds its index from one snapshot; every later search first applies
the changes since the last one it saw, so a query never re-tokenises the whole library.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .bm25 import K1, B, BM25Index, IndexHit
from .errors import InvalidInputError
from .models import Change, MemoryItem, Scope
from .patterns import asks_user_name, declares_user_name
from .tokenizer import filter_entities, tokenize

MAX_LIMIT = 1000
CATEGORY_BOOST = 1.0


@dataclass(frozen=True)
class ScoredMemory:
    """A recalled memory with its rank and every part of its score."""

    item: MemoryItem
    bm25: float
    entity_boost: float
    name_boost: float
    score: float
    matched_terms: tuple[str, ...]
    matched_entities: tuple[str, ...]
    rank: int
    category_boost: float = 0.0


class Retriever(Protocol):
    def search(
        self,
        scope: Scope,
        query: str,
        *,
        limit: int,
        min_score: float,
        categories: Sequence[str] = (),
        category_boost: float = CATEGORY_BOOST,
    ) -> tuple[ScoredMemory, ...]: ...


class ItemSource(Protocol):
    """What a retriever reads from the store: a change feed and items by id, per library."""

    def change_cursor(self, scope: Scope) -> int: ...

    def changes_since(self, scope: Scope, seq: int) -> tuple[Change, ...]: ...

    def items_by_id(self, scope: Scope, ids: Sequence[str]) -> dict[str, MemoryItem]: ...

    def snapshot(self, scope: Scope) -> tuple[int, tuple[MemoryItem, ...]]: ...


def check_search_args(limit: int, min_score: float) -> None:
    """Reject a limit outside 1..1000 or a min_score that is not a finite number."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInputError(f"limit must be an integer from 1 to {MAX_LIMIT}, got {limit!r}")
    if isinstance(min_score, bool) or not isinstance(min_score, int | float) or not math.isfinite(min_score):
        raise InvalidInputError(f"min_score must be a finite number, got {min_score!r}")


@dataclass
class _Library:
    """One library's fitted state: its index, the items behind it, and the change it has seen."""

    index: BM25Index
    cursor: int = 0
    items: dict[str, MemoryItem] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    built: bool = False


class BM25Retriever:
    """BM25 recall over an item source, one incrementally maintained index per library."""

    def __init__(
        self,
        source: ItemSource,
        *,
        k1: float = K1,
        b: float = B,
        tokenizer: Callable[[str], list[str]] = tokenize,
    ) -> None:
        self.source = source
        self.k1 = k1
        self.b = b
        self.tokenizer = tokenizer
        self._libraries: dict[Scope, _Library] = {}
        self._lock = threading.Lock()

    def search(
        self,
        scope: Scope,
        query: str,
        *,
        limit: int = 5,
        min_score: float = 0.0,
        categories: Sequence[str] = (),
        category_boost: float = CATEGORY_BOOST,
    ) -> tuple[ScoredMemory, ...]:
        """The library's best memories for the query, best first; empty when nothing scores above min_score.

        Memories whose category is among the decision's `categories` gain `category_boost`: the recall
        decision's categories steer the ranking (the reference only logged them).
        """
        check_search_args(limit, min_score)
        wanted = frozenset(categories) if category_boost > 0 else frozenset()
        if not isinstance(query, str):
            raise InvalidInputError(f"query must be a string, got {type(query).__name__}")
        tokens = self.tokenizer(query)
        entities = filter_entities(query)
        name_question = asks_user_name(query)
        library = self._library(scope)
        with library.lock:
            self._sync(scope, library)
            if not (tokens or entities or name_question or min_score < 0):
                return ()
            # Boosting can lift a memory from just below the cut, so look a little deeper first.
            depth = min(limit * 4, MAX_LIMIT) if wanted else limit
            hits = library.index.score(
                tokens, query_entities=entities, name_question=name_question, limit=depth, min_score=min_score
            )
            pairs = [(library.items[hit.key], hit) for hit in hits]
        boosted = [(item, hit, category_boost if item.category in wanted else 0.0) for item, hit in pairs]
        boosted.sort(key=lambda p: (p[1].score + p[2], p[0].created_at, p[0].id), reverse=True)
        return tuple(_scored(item, hit, boost, rank) for rank, (item, hit, boost) in enumerate(boosted[:limit], 1))

    def forget(self, scope: Scope) -> None:
        """Drop a library's index; the next search rebuilds it from a snapshot."""
        with self._lock:
            self._libraries.pop(scope, None)

    def stats(self, scope: Scope) -> tuple[int, int, int]:
        """(documents, distinct terms, estimated index bytes) for a library, brought up to date first."""
        library = self._library(scope)
        with library.lock:
            self._sync(scope, library)
            return len(library.index), library.index.n_terms, library.index.memory_bytes()

    def _library(self, scope: Scope) -> _Library:
        with self._lock:
            library = self._libraries.get(scope)
            if library is None:
                library = self._libraries[scope] = _Library(BM25Index(k1=self.k1, b=self.b))
            return library

    def _sync(self, scope: Scope, library: _Library) -> None:
        if not library.built:
            cursor, items = self.source.snapshot(scope)
            fresh = _Library(BM25Index(k1=self.k1, b=self.b), cursor)
            for item in items:
                self._index(fresh, item)
            library.index, library.items, library.cursor, library.built = fresh.index, fresh.items, cursor, True
            return
        changes = self.source.changes_since(scope, library.cursor)
        if changes:
            self._apply(scope, library, changes)

    def _apply(self, scope: Scope, library: _Library, changes: Sequence[Change]) -> None:
        last_event = {change.item_id: change.event for change in changes}
        wanted = [item_id for item_id, event in last_event.items() if event != "delete"]
        current = self.source.items_by_id(scope, wanted) if wanted else {}
        for item_id in last_event:
            item = current.get(item_id)
            if item is not None:
                self._index(library, item)
            elif item_id in library.index:
                library.index.remove(item_id)
                del library.items[item_id]
        library.cursor = max(library.cursor, changes[-1].seq)

    def _index(self, library: _Library, item: MemoryItem) -> None:
        library.index.add(
            item.id,
            self.tokenizer(item.text),
            order=(item.created_at, item.id),
            entities=filter_entities(item.text),
            declares_name=declares_user_name(item.text),
        )
        library.items[item.id] = item


def _scored(item: MemoryItem, hit: IndexHit, category_boost: float, rank: int) -> ScoredMemory:
    return ScoredMemory(
        item=item,
        bm25=hit.bm25,
        entity_boost=hit.entity_boost,
        name_boost=hit.name_boost,
        category_boost=category_boost,
        score=hit.score + category_boost,
        matched_terms=hit.matched_terms,
        matched_entities=hit.matched_entities,
        rank=rank,
    )
