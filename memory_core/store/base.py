"""The store's connection, its transactions and its write limits: what every concern of the store shares."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from ..errors import QuotaError
from ..models import MemoryItem, Scope, utc_timestamp
from .protocol import WriteLimits
from .rows import _profile_items, _provider_errors
from .schema import connect, migrate


@dataclass(frozen=True)
class SharedSnapshot:
    key: tuple[Scope, int]  # the library and the cursor it was read at
    items: tuple[int, tuple[MemoryItem, ...]]


class StoreBase:
    """One SQLite connection, guarded by a lock, with explicit transactions."""

    def __init__(
        self, path: str | Path, *, clock: Callable[[], str] = utc_timestamp, limits: WriteLimits | None = None
    ) -> None:
        self._path = Path(path)
        self._clock = clock
        self.limits = limits
        self._lock = threading.RLock()
        # The last snapshot read, handed to the next reader of the same library at the same cursor (BM25 then
        # the dense index of one cold search): both then hold the same item objects, not two copies.
        self._shared_snapshot: SharedSnapshot | None = None
        with _provider_errors():
            self._conn = connect(self._path, in_memory=str(path) == ":memory:")
        try:
            with _provider_errors():
                migrate(self._conn, clock)
        except BaseException:
            self._conn.close()
            raise

    def _take_shared(self, scope: Scope, cursor: int) -> tuple[int, tuple[MemoryItem, ...]] | None:
        """The kept snapshot when it is this library's at this cursor (it is handed out once, then dropped)."""
        with self._lock:
            shared, self._shared_snapshot = self._shared_snapshot, None
        return shared.items if shared is not None and shared.key == (scope, cursor) else None

    def _keep_shared(self, scope: Scope, snapshot: tuple[int, tuple[MemoryItem, ...]]) -> None:
        with self._lock:
            self._shared_snapshot = SharedSnapshot((scope, snapshot[0]), snapshot)

    @property
    def path(self) -> Path:
        """The database file (``:memory:`` for an in-memory store)."""
        return self._path

    def describe(self) -> str:
        """What kind of store this is, for the console's provider note."""
        return "SQLite in memory" if str(self._path) == ":memory:" else "embedded SQLite"

    def close(self) -> None:
        """Close the connection; the store cannot be used afterwards."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _writing(self) -> AbstractContextManager[sqlite3.Connection]:
        """A write transaction: IMMEDIATE, so the write lock is taken up front and a batch never fails half-way."""
        return self._transaction("BEGIN IMMEDIATE")

    def _reading(self) -> AbstractContextManager[sqlite3.Connection]:
        """A read transaction: one consistent snapshot, no write lock."""
        return self._transaction("BEGIN DEFERRED")

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Connection]:
        with self._lock, _provider_errors():
            conn = self._conn
            conn.execute(begin)
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _check_limits(self, conn: sqlite3.Connection, profile_id: str, adding: int, texts: list[str]) -> None:
        if self.limits is None:
            return
        longest = self.limits.max_text(profile_id)
        if longest is not None and any(len(text) > longest for text in texts):
            raise QuotaError(f"a memory may hold at most {longest} characters here; nothing was saved")
        cap = self.limits.max_items(profile_id)
        if cap is not None and adding and _profile_items(conn, profile_id) + adding > cap:
            raise QuotaError(f"this sandbox holds at most {cap} memories; delete some first (nothing was saved)")
