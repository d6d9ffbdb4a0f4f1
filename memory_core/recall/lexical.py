"""Lexical recall: a BM25 index per library, kept in step with the store through its change feed.

The first search of a library builds its index from one snapshot; every later search first applies
the changes since the last one it saw, so a query never re-tokenises the whole library. Libraries live
in an `IndexCache` under a memory budget: one evicted as least recently used is rebuilt on its next use.
"""

from __future__ import annotations

import ctypes
import gc
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Protocol

from ..decide.patterns import asks_user_name, declares_user_name
from ..errors import InvalidInputError
from ..models import Change, MemoryItem, Scope
from .bm25 import K1, B, BM25Index, IndexHit
from .index_cache import LIBRARY_BYTES, CacheSection, IndexCache, item_bytes
from .postings import Batch
from .tokenizer import filter_entities, tokenize

MAX_LIMIT = 1000
CATEGORY_BOOST = 1.0
# The size estimate of a library's index (see index_cache.py): per document, its slot, key, order and
# length, plus the item; per posting, the slot and term frequency (int32 each) and the document's term
# list (int32), with the arrays' over-allocation; per distinct term, its string, id, df and two arrays.
DOC_BYTES = 300
POSTING_BYTES = 16
ENTITY_BYTES = 150
TERM_BYTES = 350


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
    method: str = "bm25"
    bm25_norm: float = 0.0  # fusion: BM25 score scaled to 0..1 over the query's candidates
    dense: float = 0.0  # cosine similarity of query and memory embeddings
    dense_norm: float = 0.0  # the calibrated cosine as a share of the library's range for this query (0..1)
    weight: float = 1.0  # the BM25 weight fusion used for this query (1 for bm25, 0 for dense)
    relevance: float = 0.0  # fusion and dense: the calibrated probability that this memory helps with the query


class Retriever(Protocol):
    methods: tuple[str, ...]

    def search(
        self,
        scope: Scope,
        query: str,
        *,
        limit: int,
        min_score: float,
        categories: Sequence[str] = (),
        category_boost: float = CATEGORY_BOOST,
        method: str = "bm25",
    ) -> tuple[ScoredMemory, ...]: ...


class ItemSource(Protocol):
    """What a retriever reads from the store: a change feed and items by id, per library."""

    def changes_since(self, scope: Scope, seq: int) -> tuple[Change, ...]: ...

    def items_by_id(self, scope: Scope, ids: Sequence[str]) -> dict[str, MemoryItem]: ...

    def snapshot(self, scope: Scope) -> tuple[int, tuple[MemoryItem, ...]]: ...


class _CollectorPause:
    """Builds under way (in any thread), and whether the collector was on when the first of them began."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.builds = 0
        self.was_enabled = False


_PAUSE = _CollectorPause()


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, where the C library has it (Linux with glibc; elsewhere None)."""
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):
        return None
    return trim


def return_freed_memory() -> None:
    """Hand the heap pages a build freed back to the system: glibc keeps them otherwise, and a 100k library's
    build frees tens of MB in the middle of the heap (measured: RSS 476 -> 443 MB after a cold 100k search)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a library is built, back on when the last build ends.

    A build allocates millions of objects while the library's items are alive, and every full collection
    meanwhile walks all of them again: about a third of a cold 100k build. Cycles made meanwhile are
    collected once the collector is back on, and then what the builds freed goes back to the system.
    """
    with _PAUSE.lock:
        if _PAUSE.builds == 0:
            _PAUSE.was_enabled = gc.isenabled()
            gc.disable()
        _PAUSE.builds += 1
    try:
        yield
    finally:
        with _PAUSE.lock:
            _PAUSE.builds -= 1
            if _PAUSE.builds == 0:
                if _PAUSE.was_enabled:
                    gc.enable()
                return_freed_memory()


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
    docs_bytes: int = 0  # their sum

    def nbytes(self) -> int:
        """The library's estimated size: its documents, its vocabulary and a fixed overhead."""
        return LIBRARY_BYTES + self.docs_bytes + TERM_BYTES * self.index.n_terms


class BM25Retriever:
    """BM25 recall over an item source, one incrementally maintained index per library."""

    def __init__(
        self,
        source: ItemSource,
        *,
        k1: float = K1,
        b: float = B,
        tokenizer: Callable[[str], list[str]] = tokenize,
        cache: IndexCache | None = None,
    ) -> None:
        self.source = source
        self.k1 = k1
        self.b = b
        self.tokenizer = tokenizer
        self.cache = cache or IndexCache()
        self._libraries: CacheSection[_Library] = self.cache.section("bm25")

    methods: tuple[str, ...] = ("bm25",)

    def search(
        self,
        scope: Scope,
        query: str,
        *,
        limit: int = 5,
        min_score: float = 0.0,
        categories: Sequence[str] = (),
        category_boost: float = CATEGORY_BOOST,
        method: str = "bm25",
    ) -> tuple[ScoredMemory, ...]:
        """The library's best memories for the query, best first; empty when nothing scores above min_score.

        Memories whose category is among the decision's `categories` gain `category_boost`: the recall
        decision's categories steer the ranking (the reference only logged them).
        """
        check_search_args(limit, min_score)
        if method != "bm25":
            raise InvalidInputError(f"this retriever only does bm25, not {method!r}")
        wanted = frozenset(categories) if category_boost > 0 else frozenset()
        # Boosting can lift a memory from just below the cut, so look a little deeper first.
        depth = min(limit * 4, MAX_LIMIT) if wanted else limit
        hits, _ = self.lexical(scope, query, limit=depth, min_score=min_score)
        boosted = [(h, category_boost if h.item.category in wanted else 0.0) for h in hits]
        boosted.sort(key=lambda p: (p[0].score + p[1], p[0].item.created_at, p[0].item.id), reverse=True)
        return tuple(
            replace(hit, category_boost=boost, score=hit.score + boost, rank=rank)
            for rank, (hit, boost) in enumerate(boosted[:limit], 1)
        )

    def lexical(
        self, scope: Scope, query: str, *, limit: int, min_score: float = 0.0
    ) -> tuple[tuple[ScoredMemory, ...], float]:
        """BM25 hits (with their score parts) and how much of the query the library's vocabulary covers."""
        check_search_args(limit, min_score)
        if not isinstance(query, str):
            raise InvalidInputError(f"query must be a string, got {type(query).__name__}")
        tokens = self.tokenizer(query)
        entities = filter_entities(query)
        name_question = asks_user_name(query)
        library = self._library(scope)
        with library.lock:
            self._sync(scope, library)
            overlap = library.index.overlap(tokens)
            if not (tokens or entities or name_question or min_score < 0):
                return (), overlap
            hits = library.index.score(
                tokens, query_entities=entities, name_question=name_question, limit=limit, min_score=min_score
            )
            pairs = [(library.items[hit.key], hit) for hit in hits]
        return tuple(_scored(item, hit, rank) for rank, (item, hit) in enumerate(pairs, 1)), overlap

    def forget(self, scope: Scope) -> None:
        """Drop a library's index; the next search rebuilds it from a snapshot."""
        self._libraries.forget(scope)

    def forget_profile(self, profile_id: str) -> int:
        """Drop the index of every library of a profile; returns how many were held."""
        return self._libraries.forget_profile(profile_id)

    def stats(self, scope: Scope) -> tuple[int, int, int]:
        """(documents, distinct terms, estimated index bytes) for a library, brought up to date first."""
        library = self._library(scope)
        with library.lock:
            self._sync(scope, library)
            return len(library.index), library.index.n_terms, library.index.memory_bytes()

    def _library(self, scope: Scope) -> _Library:
        return self._libraries.get(scope, lambda: _Library(BM25Index(k1=self.k1, b=self.b)))

    def _sync(self, scope: Scope, library: _Library) -> None:
        """Catch up with the store (building the index on first use) and charge the cache for any change."""
        before = library.nbytes()
        try:
            if not library.built:
                self._build(scope, library)
                return
            changes = self.source.changes_since(scope, library.cursor)
            if changes:
                self._apply(scope, library, changes)
        finally:
            if library.nbytes() != before:
                self._libraries.charge(scope, library, library.nbytes())

    def _build(self, scope: Scope, library: _Library) -> None:
        """Index a snapshot in one batch: tokenising is per item, the postings are built in bulk."""
        with collector_paused():
            cursor, items = self.source.snapshot(scope)
            self._build_from(library, items)
        library.cursor, library.built = cursor, True

    def _build_from(self, library: _Library, items: Sequence[MemoryItem]) -> None:
        library.index = BM25Index(k1=self.k1, b=self.b)
        library.index.add_batch(
            Batch(
                keys=[item.id for item in items],
                tokens=(self.tokenizer(item.text) for item in items),  # tokenised as the index reads them
                orders=[(item.created_at, item.id) for item in items],
                entities=[filter_entities(item.text) for item in items],  # cached, as the next search reads them
                declares_name=[declares_user_name(item.text) for item in items],
            )
        )
        library.items = {item.id: item for item in items}
        library.docs_bytes = sum(self._doc_bytes(library, item) for item in items)

    def _apply(self, scope: Scope, library: _Library, changes: Sequence[Change]) -> None:
        last_event = {change.item_id: change.event for change in changes}
        wanted = [item_id for item_id, event in last_event.items() if event != "delete"]
        current = self.source.items_by_id(scope, wanted) if wanted else {}
        for item_id in last_event:
            item = current.get(item_id)
            if item is not None:
                self._index(library, item)
            elif item_id in library.index:
                library.docs_bytes -= self._doc_bytes(library, library.items.pop(item_id))
                library.index.remove(item_id)
        library.cursor = max(library.cursor, changes[-1].seq)

    def _index(self, library: _Library, item: MemoryItem) -> None:
        old = library.items.get(item.id)
        if old is not None:
            library.docs_bytes -= self._doc_bytes(library, old)
        tokens = self.tokenizer(item.text)
        entities = filter_entities(item.text)
        library.index.add(
            item.id,
            tokens,
            order=(item.created_at, item.id),
            entities=entities,
            declares_name=declares_user_name(item.text),
        )
        library.items[item.id] = item
        library.docs_bytes += self._doc_bytes(library, item)

    @staticmethod
    def _doc_bytes(library: _Library, item: MemoryItem) -> int:
        """An indexed item's estimated bytes, read off the index (no per-item table to keep in step)."""
        distinct_terms, entities = library.index.doc_shape(item.id)
        return item_bytes(item) + DOC_BYTES + POSTING_BYTES * distinct_terms + ENTITY_BYTES * entities


def _scored(item: MemoryItem, hit: IndexHit, rank: int) -> ScoredMemory:
    return ScoredMemory(
        item=item,
        bm25=hit.bm25,
        entity_boost=hit.entity_boost,
        name_boost=hit.name_boost,
        score=hit.score,
        matched_terms=hit.matched_terms,
        matched_entities=hit.matched_entities,
        rank=rank,
    )
