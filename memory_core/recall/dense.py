"""Dense recall state: each library's item vectors, kept in step with the store and stored with it.

Vectors are computed in batches, stored in SQLite with the embedder's model name, and reused: a text
whose hash has not changed is never embedded again, and switching embedders re-embeds only what the
new model has no vector for. Libraries live in an `IndexCache` under a memory budget shared with
BM25: one evicted as least recently used is rebuilt from the stored vectors on its next use.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..models import Change, MemoryItem, Scope
from .embeddings import Embedder, Vectors, language_of
from .index_cache import LIBRARY_BYTES, CacheSection, IndexCache, item_bytes

Progress = Callable[[int, int], None]
BATCH = 32
# The size estimate per memory (see index_cache.py), beside the item and twice its vector (its own array
# and its row of the stacked matrix): the array and hash objects, the dict entries and its language.
DOC_BYTES = 300


class VectorSource(Protocol):
    """What the dense index reads and writes in the store."""

    def changes_since(self, scope: Scope, seq: int) -> tuple[Change, ...]: ...

    def items_by_id(self, scope: Scope, ids: Iterable[str]) -> dict[str, MemoryItem]: ...

    def snapshot(self, scope: Scope) -> tuple[int, tuple[MemoryItem, ...]]: ...

    def vectors(self, scope: Scope, model: str) -> dict[str, tuple[str, bytes]]: ...

    def put_vectors(self, scope: Scope, model: str, dims: int, rows: Sequence[tuple[str, str, bytes]]) -> int: ...


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class DenseView:
    """A library's live items with their cosine to one query, and each memory's language."""

    items: tuple[MemoryItem, ...]
    cosine: np.ndarray
    langs: tuple[str, ...]


@dataclass
class _Library:
    keys: list[str] = field(default_factory=list)
    items: dict[str, MemoryItem] = field(default_factory=dict)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    cursor: int = 0
    built: bool = False
    matrix: np.ndarray | None = None  # rows in `keys` order, rebuilt after changes
    snapshot: tuple[tuple[MemoryItem, ...], tuple[str, ...]] = ((), ())  # items and languages, same order
    lock: threading.Lock = field(default_factory=threading.Lock)
    docs_bytes: int = 0  # the estimated bytes of its memories

    def nbytes(self) -> int:
        return LIBRARY_BYTES + self.docs_bytes


class DenseRetriever:
    """Item vectors per library, embedded by `embedder`, persisted through `source`."""

    def __init__(
        self, source: VectorSource, embedder: Embedder, *, batch_size: int = BATCH, cache: IndexCache | None = None
    ) -> None:
        self.source = source
        self.embedder = embedder
        self.batch_size = batch_size
        self.cache = cache or IndexCache()
        self._libraries: CacheSection[_Library] = self.cache.section("dense")

    def sync(self, scope: Scope, progress: Progress | None = None) -> int:
        """Bring the library's vectors up to date; returns how many texts were embedded."""
        library = self._library(scope)
        with library.lock:
            return self._sync(scope, library, progress)

    def forget(self, scope: Scope) -> None:
        """Drop a library's vectors from memory (not from the store); the next use reloads them."""
        self._libraries.forget(scope)

    def forget_profile(self, profile_id: str) -> int:
        """Drop every library of a profile from memory; returns how many were held."""
        return self._libraries.forget_profile(profile_id)

    def view(self, scope: Scope, query: str) -> DenseView:
        """Cosine of the query to every memory of the library (after catching up with the store)."""
        matrix, items, langs = self._snapshot(scope)
        query_vector = self.embedder.embed([query], kind="query")[0]
        cosine = matrix @ query_vector if len(items) else np.zeros(0, dtype=np.float32)
        return DenseView(items, cosine, langs)

    def nearest_passages(self, scope: Scope, text: str, limit: int = 3) -> list[tuple[MemoryItem, float]]:
        """The memories whose embeddings are nearest to ``text`` embedded as a memory (not as a query)."""
        matrix, items, _ = self._snapshot(scope)
        if not items:
            return []
        cosine = matrix @ self.embedder.embed([text], kind="passage")[0]
        return [(items[n], float(cosine[n])) for n in np.argsort(-cosine)[:limit]]

    def _snapshot(self, scope: Scope) -> tuple[np.ndarray, tuple[MemoryItem, ...], tuple[str, ...]]:
        library = self._library(scope)
        with library.lock:
            self._sync(scope, library, None)
            if library.matrix is None:
                library.matrix = _stack(library, self.embedder.dims)
                items = tuple(library.items[key] for key in library.keys)
                library.snapshot = (items, tuple(language_of(item.text) for item in items))
            return library.matrix, *library.snapshot

    def _library(self, scope: Scope) -> _Library:
        return self._libraries.get(scope, _Library)

    def _sync(self, scope: Scope, library: _Library, progress: Progress | None) -> int:
        """Catch up with the store (loading the library on first use) and charge the cache for any change."""
        before = library.nbytes()
        try:
            return self._catch_up(scope, library, progress)
        finally:
            if library.nbytes() != before:
                self._libraries.charge(scope, library, library.nbytes())

    def _catch_up(self, scope: Scope, library: _Library, progress: Progress | None) -> int:
        if not library.built:
            cursor, items = self.source.snapshot(scope)
            stored = self.source.vectors(scope, self.embedder.name)
            embedded = self._index(scope, library, items, stored, progress)
            library.cursor, library.built = cursor, True  # only now: a failed embedding is retried next time
            return embedded
        changes = self.source.changes_since(scope, library.cursor)
        if not changes:
            return 0
        last = {c.item_id: c.event for c in changes}
        for item_id, event in last.items():
            if event == "delete":
                _drop(library, item_id)
        current = self.source.items_by_id(scope, [i for i, e in last.items() if e != "delete"])
        for item_id in set(last) - set(current):
            _drop(library, item_id)
        embedded = self._index(scope, library, tuple(current.values()), {}, progress)
        library.cursor = changes[-1].seq
        return embedded

    def _index(
        self,
        scope: Scope,
        library: _Library,
        items: Sequence[MemoryItem],
        stored: dict[str, tuple[str, bytes]],
        progress: Progress | None,
    ) -> int:
        """Place items in the index, reusing stored or known vectors and embedding the rest in batches."""
        todo: list[MemoryItem] = []
        for item in items:
            digest = text_hash(item.text)
            known = stored.get(item.id)
            if known is not None and known[0] == digest:
                _place(library, item, np.frombuffer(known[1], dtype=np.float32), digest)
            elif library.hashes.get(item.id) == digest:
                _place(library, item, library.vectors[item.id], digest)  # metadata changed, text did not
            else:
                todo.append(item)
        for start in range(0, len(todo), self.batch_size):
            batch = todo[start : start + self.batch_size]
            vectors = self.embedder.embed([item.text for item in batch], kind="passage")
            self._store(scope, batch, vectors)
            for item, vector in zip(batch, vectors, strict=True):
                _place(library, item, vector, text_hash(item.text))
            if progress is not None:
                progress(min(start + self.batch_size, len(todo)), len(todo))
        library.matrix = None
        return len(todo)

    def _store(self, scope: Scope, batch: Sequence[MemoryItem], vectors: Vectors) -> None:
        rows = [(item.id, text_hash(item.text), vector.astype(np.float32).tobytes())
                for item, vector in zip(batch, vectors, strict=True)]  # fmt: skip
        self.source.put_vectors(scope, self.embedder.name, int(vectors.shape[1]), rows)


def _doc_bytes(item: MemoryItem, vector: np.ndarray) -> int:
    return item_bytes(item) + DOC_BYTES + 2 * vector.nbytes


def _place(library: _Library, item: MemoryItem, vector: np.ndarray, digest: str) -> None:
    old = library.items.get(item.id)
    if old is None:
        library.keys.append(item.id)
    else:
        library.docs_bytes -= _doc_bytes(old, library.vectors[item.id])
    library.docs_bytes += _doc_bytes(item, vector)
    library.items[item.id] = item
    library.vectors[item.id] = vector
    library.hashes[item.id] = digest
    library.matrix = None


def _drop(library: _Library, item_id: str) -> None:
    if item_id in library.items:
        library.docs_bytes -= _doc_bytes(library.items[item_id], library.vectors[item_id])
        library.keys.remove(item_id)
        del library.items[item_id], library.vectors[item_id], library.hashes[item_id]
        library.matrix = None


def _stack(library: _Library, dims: int) -> np.ndarray:
    if not library.keys:
        return np.zeros((0, dims), dtype=np.float32)
    return np.stack([library.vectors[key] for key in library.keys]).astype(np.float32)
