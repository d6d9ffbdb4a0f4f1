"""Dense recall state: each library's item vectors, kept in step with the store and stored with it.

Vectors are computed in batches, stored in SQLite with the embedder's model name, and reused: a text
whose hash has not changed is never embedded again, and switching embedders re-embeds only what the
new model has no vector for. Libraries live in an `IndexCache` under a memory budget shared with
BM25: one evicted as least recently used is rebuilt from the stored vectors on its next use.

In memory a library is a `DenseIndex`: one preallocated float32 matrix with a slot per memory and,
beside it, per-slot arrays (live, language code, category code, text hash). A write fills one row in
place; a deleted memory's slot is marked dead and reused by a later add; capacity doubles when full.
A search multiplies the matrix once and hands fusion arrays; items are fetched only for the hits.
"""

from __future__ import annotations

import hashlib
import heapq
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, cast, runtime_checkable

import numpy as np
import numpy.typing as npt

from ..errors import InvalidInputError
from ..models import Change, MemoryItem, Scope
from .background import Background, shipped_background
from .embeddings import LANGUAGES, Embedder, Vectors, language_of
from .index_cache import LIBRARY_BYTES, CacheSection, IndexCache, item_bytes
from .lexical import collector_paused

Progress = Callable[[int, int], None]
Positions = npt.NDArray[np.intp]
G = TypeVar("G", bound=np.generic)
BATCH = 32
# Rows are multiplied in whole blocks of this many: BLAS then rounds every row's dot product the same way
# wherever the row sits, so an index kept incrementally scores exactly like one rebuilt from the store.
ROW_BLOCK = 16
# The size estimate (see index_cache.py): per slot, its matrix row plus this for the live flag, language,
# category, superseded flag, text hash, tenant, item pointer and hub; per memory, the item plus its slot-map
# entry and slot number.
SLOT_BYTES = 37
DOC_BYTES = 150
_INT16_MAX = int(np.iinfo(np.int16).max)


class VectorSource(Protocol):
    """What the dense index reads and writes in the store."""

    def changes_since(self, scope: Scope, seq: int) -> tuple[Change, ...]: ...

    def items_by_id(self, scope: Scope, ids: Iterable[str]) -> dict[str, MemoryItem]: ...

    def snapshot(self, scope: Scope) -> tuple[int, tuple[MemoryItem, ...]]: ...

    def vectors(self, scope: Scope, model: str) -> dict[str, tuple[str, bytes]]: ...

    def put_vectors(self, scope: Scope, model: str, dims: int, rows: Sequence[tuple[str, str, bytes]]) -> int: ...


class StoredMatrix(Protocol):
    """A library's stored vectors in one matrix: row n is item `ids[n]`, embedded from a text hashed to `hashes[n]`."""

    @property
    def ids(self) -> Sequence[str]: ...

    @property
    def hashes(self) -> Sequence[str]: ...

    @property
    def matrix(self) -> npt.NDArray[np.float32]: ...


@runtime_checkable
class MatrixSource(Protocol):
    """A source that reads a library's stored vectors in one matrix (a first load then needs no per-row bytes)."""

    def vector_matrix(self, scope: Scope, model: str, dims: int) -> StoredMatrix: ...


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def _blocks(rows: int) -> int:
    return -(-rows // ROW_BLOCK) * ROW_BLOCK


class DenseIndex:
    """One library's vectors in one matrix: a slot per memory, dead slots reused, capacity doubled when full."""

    def __init__(self, dims: int, capacity: int = ROW_BLOCK, background: Background | None = None) -> None:
        self.dims = dims
        self.background = background
        self.slots: dict[str, int] = {}  # item id -> slot, live memories only
        self.vocabulary: dict[str, int] = {}  # category -> code
        self.rows = 0  # slots ever used: the rest of the matrix is untouched
        self.allocations = 0  # how many times the matrix was (re)allocated
        self.docs_bytes = 0  # the estimated bytes of the memories held
        self.matrix = np.zeros((0, dims), dtype=np.float32)
        self.live = np.zeros(0, dtype=np.bool_)
        self.langs = np.zeros(0, dtype=np.int8)  # index in LANGUAGES
        self.hub = np.zeros((0, len(LANGUAGES)), dtype=np.float32)  # median cosine to each language's questions
        self.categories: npt.NDArray[np.integer[Any]] = np.zeros(0, dtype=np.int16)  # code in `vocabulary`
        self.superseded = np.zeros(0, dtype=np.bool_)  # replaced by a newer memory (metadata `superseded_by`)
        self.hashes = np.zeros(0, dtype=np.uint64)  # the text hash the row was embedded from
        self.tenants = np.zeros(0, dtype=np.int64)  # changes whenever a slot takes another memory
        self.items: list[MemoryItem | None] = []
        self._free: list[int] = []  # dead slots, a heap: the lowest is reused first
        self._tenants = 0
        self._allocate(max(_blocks(capacity), ROW_BLOCK))

    def __len__(self) -> int:
        return len(self.slots)

    @property
    def capacity(self) -> int:
        return int(self.matrix.shape[0])

    @property
    def row_bytes(self) -> int:
        return self.matrix.itemsize * self.dims

    def nbytes(self) -> int:
        """The estimated size: every slot's row and arrays, the memories held and a fixed overhead."""
        return LIBRARY_BYTES + self.capacity * (self.row_bytes + SLOT_BYTES) + self.docs_bytes

    def put(self, item: MemoryItem, vector: npt.ArrayLike, digest: str) -> None:
        """Write one memory's row in place: in its own slot, else a dead one, else a new one."""
        slot = self.slots.get(item.id)
        slot = self._claim(item.id) if slot is None else self._release(slot)
        self.matrix[slot] = vector
        self._place_hub(slot, slot + 1)
        self.hashes[slot] = int(digest, 16)
        self._describe(slot, item)

    def put_many(self, items: Sequence[MemoryItem], vectors: npt.NDArray[np.float32], digests: Sequence[str]) -> None:
        """`put` each memory, in one vectorised pass when all are new and no slot is dead (a library's first load)."""
        if not self._appendable(items):
            for item, vector, digest in zip(items, vectors, digests, strict=True):
                self.put(item, vector, digest)
        else:
            start = self._append(items, digests)
            self.matrix[start : start + len(items)] = vectors
            self._place_hub(start, start + len(items))

    def take_many(
        self, items: Sequence[MemoryItem], matrix: npt.NDArray[np.float32], rows: Positions, digests: Sequence[str]
    ) -> None:
        """`put_many(items, matrix[rows], digests)`, the rows copied straight into this index's matrix when it can."""
        if not self._appendable(items):
            self.put_many(items, matrix[rows], digests)
        else:
            start = self._append(items, digests)
            # mode="clip" (the rows are in range): with the default "raise", numpy buffers `out` in a temporary
            np.take(matrix, rows, axis=0, out=self.matrix[start : start + len(items)], mode="clip")
            self._place_hub(start, start + len(items))

    def relabel(self, item: MemoryItem) -> None:
        """Take a held memory's new metadata (its text, and so its vector, unchanged)."""
        self._describe(self._release(self.slots[item.id]), item)

    def drop(self, item_id: str) -> None:
        """Mark a memory's slot dead (a later add reuses it)."""
        slot = self.slots.pop(item_id, None)
        if slot is not None:
            self._release(slot)
            self.docs_bytes -= DOC_BYTES
            self.items[slot], self.live[slot] = None, False
            heapq.heappush(self._free, slot)

    def same_text(self, item_id: str, digest: str) -> bool:
        """Whether the memory is held with this text hash (so its row can stay)."""
        slot = self.slots.get(item_id)
        return slot is not None and int(self.hashes[slot]) == int(digest, 16)

    def vector(self, item_id: str) -> npt.NDArray[np.float32]:
        """A copy of one memory's row."""
        row: npt.NDArray[np.float32] = self.matrix[self.slots[item_id]].copy()
        return row

    def cosine(self, vector: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """The vector's dot product with every used slot, dead ones included (and up to a block past them)."""
        cosine: npt.NDArray[Any] = self.matrix[: _blocks(self.rows)] @ vector
        return cosine

    def live_slots(self) -> Positions:
        return np.arange(self.rows) if len(self.slots) == self.rows else np.flatnonzero(self.live[: self.rows])

    def _place_hub(self, start: int, end: int) -> None:
        """The hub of the rows just written (zero without a background: calibration then reads the cosine alone)."""
        if self.background is not None:
            self.hub[start:end] = self.background.hub(self.matrix[start:end])

    def _describe(self, slot: int, item: MemoryItem) -> None:
        self.items[slot] = item
        self.langs[slot] = LANGUAGES.index(language_of(item.text))
        self.categories[slot] = self._category_code(item.category)
        self.superseded[slot] = bool(item.metadata.get("superseded_by"))
        self.docs_bytes += item_bytes(item)

    def _release(self, slot: int) -> int:
        """Stop charging for the item a slot holds (it is about to be replaced or dropped)."""
        held = self.items[slot]
        self.docs_bytes -= item_bytes(held) if held is not None else 0
        return slot

    def _claim(self, item_id: str) -> int:
        if self._free:
            slot = heapq.heappop(self._free)
        else:
            if self.rows == self.capacity:
                self._allocate(2 * self.capacity)
            slot, self.rows = self.rows, self.rows + 1
        self._tenants += 1
        self.tenants[slot], self.live[slot], self.slots[item_id] = self._tenants, True, slot
        self.docs_bytes += DOC_BYTES
        return slot

    def _appendable(self, items: Sequence[MemoryItem]) -> bool:
        """Whether these memories are all new and distinct, with no dead slot to reuse: they then take the next rows."""
        ids = {item.id for item in items}
        return not self._free and len(ids) == len(items) and ids.isdisjoint(self.slots)

    def _append(self, items: Sequence[MemoryItem], digests: Sequence[str]) -> int:
        """What `put` does for each of these new memories but their rows, in one pass; returns their first slot."""
        start, end = self.rows, self.rows + len(items)
        while end > self.capacity:
            self._allocate(2 * self.capacity)
        self.hashes[start:end] = [int(digest, 16) for digest in digests]
        self.langs[start:end] = [LANGUAGES.index(language_of(item.text)) for item in items]
        self.categories[start:end] = [self._category_code(item.category) for item in items]
        self.superseded[start:end] = [bool(item.metadata.get("superseded_by")) for item in items]
        self.tenants[start:end] = np.arange(self._tenants + 1, self._tenants + 1 + len(items))
        self.live[start:end], self.items[start:end] = True, items
        self.slots.update(zip((item.id for item in items), range(start, end), strict=True))
        self.rows, self._tenants = end, self._tenants + len(items)
        self.docs_bytes += sum(item_bytes(item) for item in items) + DOC_BYTES * len(items)
        return start

    def _category_code(self, category: str) -> int:
        code = self.vocabulary.setdefault(category, len(self.vocabulary))
        if code > _INT16_MAX and self.categories.dtype == np.int16:
            self.categories = self.categories.astype(np.int32)  # past 32,767 categories
        return code

    def _allocate(self, capacity: int) -> None:
        """Make room for `capacity` slots, keeping what the used ones hold."""
        used = self.rows
        self.matrix = _grown(self.matrix, capacity, used)
        self.live = _grown(self.live, capacity, used)
        self.langs = _grown(self.langs, capacity, used)
        self.hub = _grown(self.hub, capacity, used)
        self.categories = _grown(self.categories, capacity, used)
        self.superseded = _grown(self.superseded, capacity, used)
        self.hashes = _grown(self.hashes, capacity, used)
        self.tenants = _grown(self.tenants, capacity, used)
        self.items += [None] * (capacity - len(self.items))
        self.allocations += 1


def _grown(array: npt.NDArray[G], capacity: int, used: int) -> npt.NDArray[G]:
    grown = np.zeros((capacity, *array.shape[1:]), dtype=array.dtype)
    grown[:used] = array[:used]
    return grown


@dataclass
class _Library:
    index: DenseIndex
    cursor: int = 0
    built: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def nbytes(self) -> int:
        return self.index.nbytes()


@dataclass(frozen=True, eq=False)
class DenseView:
    """A library's live memories against one query, as arrays aligned by position; items only on request.

    `located` gives, for each id the search asked about, its position here (-1 when the library lacks it).
    """

    slots: Positions
    cosine: npt.NDArray[Any]
    langs: npt.NDArray[np.int8]
    hub: npt.NDArray[np.float32] | None  # per position and query language (None: the index has no background)
    categories: npt.NDArray[np.integer[Any]]
    superseded: npt.NDArray[np.bool_]
    vocabulary: Mapping[str, int]
    located: Positions
    tenants: npt.NDArray[np.int64]
    library: _Library = field(repr=False)

    @property
    def size(self) -> int:
        return int(self.slots.size)

    def category_codes(self, names: Iterable[str]) -> list[int]:
        """The codes of those categories the library has."""
        return [self.vocabulary[name] for name in names if name in self.vocabulary]

    def items_at(self, positions: Iterable[int]) -> tuple[MemoryItem | None, ...]:
        """The memories at these positions: the latest version of each, None for one deleted since the view."""
        index = self.library.index
        with self.library.lock:
            return tuple(index.items[self.slots[n]] if index.tenants[self.slots[n]] == self.tenants[n] else None
                         for n in positions)  # fmt: skip


class DenseRetriever:
    """Item vectors per library, embedded by `embedder`, persisted through `source`."""

    def __init__(
        self,
        source: VectorSource,
        embedder: Embedder,
        *,
        batch_size: int = BATCH,
        cache: IndexCache | None = None,
        background: Background | None = None,
    ) -> None:
        self.source = source
        self.embedder = embedder
        # Default: the questions' vectors shipped for this embedder, if any (see background.py).
        self.background = background or shipped_background(embedder.name)
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

    def index(self, scope: Scope) -> DenseIndex:
        """The library's in-memory index, caught up with the store (for inspection and tests)."""
        library = self._library(scope)
        with library.lock:
            self._sync(scope, library, None)
            return library.index

    def view(self, scope: Scope, query: str, *, locate: Sequence[str] = ()) -> DenseView:
        """Cosine of the query to every live memory (after catching up with the store), and where `locate` sit."""
        query_vector = self.embedder.embed([query], kind="query")[0]
        library = self._library(scope)
        with library.lock:
            self._sync(scope, library, None)
            return _view(library, query_vector, locate)

    def nearest_passages(self, scope: Scope, text: str, limit: int = 3) -> list[tuple[MemoryItem, float]]:
        """The memories whose embeddings are nearest to ``text`` embedded as a memory (not as a query)."""
        self.sync(scope)  # the library's own texts first: a failure there is the library's, not this text's
        vector = self.embedder.embed([text], kind="passage")[0]
        library = self._library(scope)
        with library.lock:
            self._sync(scope, library, None)
            index = library.index
            slots = index.live_slots()
            cosine = index.cosine(vector)[slots]
            nearest = _largest(cosine, limit)
            return [(_held(index, int(slots[n])), float(cosine[n])) for n in nearest]

    def _library(self, scope: Scope) -> _Library:
        return self._libraries.get(scope, lambda: _Library(DenseIndex(self.embedder.dims, background=self.background)))

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
            with collector_paused():
                cursor, items = self.source.snapshot(scope)
                library.index = DenseIndex(self.embedder.dims, len(items) + len(items) // 4, self.background)
                embedded = self._load(scope, library.index, items, progress)
            library.cursor, library.built = cursor, True  # only now: a failed embedding is retried next time
            return embedded
        changes = self.source.changes_since(scope, library.cursor)
        if not changes:
            return 0
        last = {c.item_id: c.event for c in changes}
        current = self.source.items_by_id(scope, [i for i, e in last.items() if e != "delete"])
        for item_id in set(last) - set(current):
            library.index.drop(item_id)
        embedded = self._index(scope, library.index, tuple(current.values()), {}, progress)
        library.cursor = changes[-1].seq
        return embedded

    def _load(self, scope: Scope, index: DenseIndex, items: Sequence[MemoryItem], progress: Progress | None) -> int:
        """A library's first load into an empty index: stored vectors of unchanged texts reused, the rest embedded."""
        if not isinstance(self.source, MatrixSource):
            return self._index(scope, index, items, self.source.vectors(scope, self.embedder.name), progress)
        try:
            todo = self._place_stored(scope, self.source, index, items)
        except InvalidInputError:  # stored rows of another size: read them one by one, re-embedding those
            return self._index(scope, index, items, self.source.vectors(scope, self.embedder.name), progress)
        return self._embed(scope, index, todo, progress)

    def _place_stored(
        self, scope: Scope, source: MatrixSource, index: DenseIndex, items: Sequence[MemoryItem]
    ) -> list[MemoryItem]:
        """Copy the stored rows of items whose text is unchanged into the index in one pass; returns the others."""
        stored = source.vector_matrix(scope, self.embedder.name, self.embedder.dims)
        digests = [text_hash(item.text) for item in items]
        rows = _stored_rows(stored, items, digests)
        reused = (rows >= 0).tolist()
        index.take_many([item for item, ok in zip(items, reused, strict=True) if ok], stored.matrix, rows[rows >= 0],
                        [digest for digest, ok in zip(digests, reused, strict=True) if ok])  # fmt: skip
        return [item for item, ok in zip(items, reused, strict=True) if not ok]

    def _index(
        self,
        scope: Scope,
        index: DenseIndex,
        items: Sequence[MemoryItem],
        stored: dict[str, tuple[str, bytes]],
        progress: Progress | None,
    ) -> int:
        """Place items in the index, reusing stored or held vectors and embedding the rest in batches."""
        todo: list[MemoryItem] = []
        ready: list[tuple[MemoryItem, bytes, str]] = []
        for item in items:
            digest = text_hash(item.text)
            known = stored.get(item.id)
            if known is not None and known[0] == digest and len(known[1]) == index.row_bytes:
                ready.append((item, known[1], digest))
            elif index.same_text(item.id, digest):
                index.relabel(item)  # metadata changed, text did not
            else:
                todo.append(item)
        if ready:
            blobs = np.frombuffer(b"".join(blob for _, blob, _ in ready), dtype=np.float32).reshape(len(ready), -1)
            index.put_many([item for item, _, _ in ready], blobs, [digest for _, _, digest in ready])
        return self._embed(scope, index, todo, progress)

    def _embed(self, scope: Scope, index: DenseIndex, todo: Sequence[MemoryItem], progress: Progress | None) -> int:
        """Embed these memories in batches, storing each batch's vectors and placing them in the index."""
        for start in range(0, len(todo), self.batch_size):
            batch = todo[start : start + self.batch_size]
            vectors = self.embedder.embed([item.text for item in batch], kind="passage")
            self._store(scope, batch, vectors)
            for item, vector in zip(batch, vectors, strict=True):
                index.put(item, vector, text_hash(item.text))
            if progress is not None:
                progress(min(start + self.batch_size, len(todo)), len(todo))
        return len(todo)

    def _store(self, scope: Scope, batch: Sequence[MemoryItem], vectors: Vectors) -> None:
        rows = [(item.id, text_hash(item.text), vector.astype(np.float32).tobytes())
                for item, vector in zip(batch, vectors, strict=True)]  # fmt: skip
        self.source.put_vectors(scope, self.embedder.name, int(vectors.shape[1]), rows)


def _stored_rows(stored: StoredMatrix, items: Sequence[MemoryItem], digests: Sequence[str]) -> Positions:
    """Each item's row in `stored` when that row was embedded from the item's current text (its digest), else -1."""
    position = dict(zip(stored.ids, range(len(stored.ids)), strict=True))
    rows = np.fromiter((position.get(item.id, -1) for item in items), dtype=np.intp, count=len(items))
    held = np.asarray([*stored.hashes, ""], dtype=np.str_)[rows]  # row -1 reads the "" no digest equals
    matched: Positions = np.where(held == np.asarray(digests, dtype=np.str_), rows, -1)
    return matched


def _view(library: _Library, query_vector: npt.NDArray[Any], locate: Sequence[str]) -> DenseView:
    """The library's arrays against one query, copied (the caller holds the library's lock)."""
    index = library.index
    slots = index.live_slots()
    wanted = np.array([index.slots.get(item_id, -1) for item_id in locate], dtype=np.intp)
    located = np.where(wanted >= 0, np.searchsorted(slots, wanted), -1)
    hub = _live(index.hub, slots, index.rows) if index.background is not None else None
    return DenseView(slots, _live(index.cosine(query_vector), slots, index.rows), _live(index.langs, slots, index.rows),
                     hub, _live(index.categories, slots, index.rows), _live(index.superseded, slots, index.rows),
                     dict(index.vocabulary), located,
                     _live(index.tenants, slots, index.rows), library)  # fmt: skip


def _live(values: npt.NDArray[G], slots: Positions, rows: int) -> npt.NDArray[G]:
    """The live slots' entries, copied (a plain copy when no slot is dead, the usual case, is many times faster)."""
    return values[:rows].copy() if slots.size == rows else values.take(slots, axis=0)


def _largest(values: npt.NDArray[Any], limit: int) -> list[int]:
    """Positions of the `limit` largest values, largest first (ties by position)."""
    if values.size > limit:
        top = np.argpartition(-values, limit)[:limit]
        return sorted(top.tolist(), key=lambda n: (-values[n], n))
    return np.argsort(-values, kind="stable").tolist()  # type: ignore[no-any-return]


def _held(index: DenseIndex, slot: int) -> MemoryItem:
    return cast(MemoryItem, index.items[slot])  # a live slot always holds its item
