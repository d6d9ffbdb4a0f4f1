"""One memory budget for every per-library search index: the least recently used libraries are evicted.

Each retriever keeps its fitted libraries in a `CacheSection` of a shared `IndexCache` (BM25 and dense
draw on the same budget). A retriever reports a library's estimated size whenever the library changes;
libraries used least recently are then dropped until the total is within the budget again. An evicted
library is simply absent: its retriever rebuilds it from the store on the next use.

The library just charged is never evicted by its own charge, so one library larger than the whole
budget still works (alone). A library a thread is using when it is evicted stays valid for that thread;
its later charge is ignored, because the cache no longer holds that object.

Sizes are estimates, not measurements: counts times per-entry byte costs (calibrated with tracemalloc
on synthetic libraries of 30 to 3,000 items, within about 15%), so charging stays O(1) per change.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from ..errors import InvalidInputError
from ..models import MemoryItem, Scope

MEGABYTE = 1024 * 1024
DEFAULT_BUDGET_BYTES = 512 * MEGABYTE
LIBRARY_BYTES = 2_048  # an empty library: its lock, dicts and the index's initial arrays
ITEM_BYTES = 350  # a MemoryItem (a slotted object, its id and timestamp strings; labels are shared strings)
METADATA_ENTRY_BYTES = 150  # one metadata key and value

T = TypeVar("T")


def item_bytes(item: MemoryItem) -> int:
    """The estimated bytes one item held in an index costs: the object, its text and its metadata."""
    return ITEM_BYTES + sys.getsizeof(item.text) + METADATA_ENTRY_BYTES * len(item.metadata)


@dataclass(frozen=True)
class CachedIndex:
    """One library's index held in the cache: which kind (bm25, dense), whose, and its estimated bytes."""

    kind: str
    scope: Scope
    nbytes: int


@dataclass
class _Entry:
    section: CacheSection[Any]
    scope: Scope
    value: Any
    nbytes: int = LIBRARY_BYTES


class IndexCache:
    """Per-library indexes of every retriever under one budget, evicted least recently used first."""

    def __init__(self, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        if isinstance(budget_bytes, bool) or not isinstance(budget_bytes, int) or budget_bytes < 0:
            raise InvalidInputError(f"the index budget must be a non-negative number of bytes, got {budget_bytes!r}")
        self.budget_bytes = budget_bytes
        self.evictions = 0
        self._entries: OrderedDict[tuple[CacheSection[Any], Scope], _Entry] = OrderedDict()
        self._used = 0
        self._lock = threading.Lock()

    @classmethod
    def from_megabytes(cls, megabytes: float) -> IndexCache:
        """A cache with a budget in MiB (MEMTUNE_INDEX_BUDGET_MB)."""
        return cls(int(megabytes * MEGABYTE))

    @property
    def bytes_used(self) -> int:
        """The estimated bytes of every library held, all kinds together."""
        with self._lock:
            return self._used

    def libraries(self) -> tuple[CachedIndex, ...]:
        """What is held, least recently used first."""
        with self._lock:
            return tuple(CachedIndex(e.section.kind, e.scope, e.nbytes) for e in self._entries.values())

    def section(self, kind: str) -> CacheSection[Any]:
        """A new, separate namespace in this cache for one retriever's libraries."""
        return CacheSection(self, kind)

    def forget_profile(self, profile_id: str) -> int:
        """Drop every library of a profile, of every kind; returns how many were held."""
        return self._drop(lambda entry: entry.scope.profile_id == profile_id)

    def _get(self, section: CacheSection[Any], scope: Scope, build: Callable[[], Any]) -> Any:
        key = (section, scope)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = _Entry(section, scope, build())
                self._used += entry.nbytes
                self._evict(key)
            else:
                self._entries.move_to_end(key)
            return entry.value

    def _charge(self, section: CacheSection[Any], scope: Scope, value: object, nbytes: int) -> None:
        key = (section, scope)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.value is not value:
                return  # evicted or forgotten while in use: its owner rebuilds it next time
            self._used += nbytes - entry.nbytes
            entry.nbytes = nbytes
            self._entries.move_to_end(key)
            self._evict(key)

    def _evict(self, keep: tuple[CacheSection[Any], Scope]) -> None:
        while self._used > self.budget_bytes:
            oldest = next(iter(self._entries))
            if oldest == keep:
                return
            self._used -= self._entries.pop(oldest).nbytes
            self.evictions += 1

    def _pop(self, section: CacheSection[Any], scope: Scope) -> bool:
        with self._lock:
            entry = self._entries.pop((section, scope), None)
            if entry is not None:
                self._used -= entry.nbytes
            return entry is not None

    def _drop(self, doomed: Callable[[_Entry], bool]) -> int:
        with self._lock:
            keys = [key for key, entry in self._entries.items() if doomed(entry)]
            for key in keys:
                self._used -= self._entries.pop(key).nbytes
            return len(keys)


class CacheSection(Generic[T]):
    """One retriever's libraries in an `IndexCache`; two sections never share an entry, even of the same kind."""

    def __init__(self, cache: IndexCache, kind: str) -> None:
        self.cache = cache
        self.kind = kind

    def get(self, scope: Scope, build: Callable[[], T]) -> T:
        """The library's entry, made by `build` when absent; either way it becomes the most recently used."""
        return cast(T, self.cache._get(self, scope, build))

    def charge(self, scope: Scope, value: T, nbytes: int) -> None:
        """Record the library's new estimated size, then evict others while the cache is over budget."""
        self.cache._charge(self, scope, value, nbytes)

    def forget(self, scope: Scope) -> bool:
        """Drop one library's entry; True when it was held."""
        return self.cache._pop(self, scope)

    def forget_profile(self, profile_id: str) -> int:
        """Drop this section's libraries of a profile; returns how many were held."""
        return self.cache._drop(lambda entry: entry.section is self and entry.scope.profile_id == profile_id)
