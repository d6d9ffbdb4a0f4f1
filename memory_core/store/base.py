"""The store's connector, its transactions and its write limits: what every concern of the store shares."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Self

from ..errors import QuotaError
from ..models import MemoryItem, Scope, utc_timestamp
from .connection import Connection, Connector
from .protocol import WriteLimits
from .rows import _profile_items
from .schema import migrate


@dataclass(frozen=True)
class SharedSnapshot:
    key: tuple[Scope, int]  # the library and the cursor it was read at
    items: tuple[int, tuple[MemoryItem, ...]]


class StoreBase:
    """The store's connector (one transaction per operation), its clock and its write limits."""

    def __init__(
        self, connector: Connector, *, clock: Callable[[], str] = utc_timestamp, limits: WriteLimits | None = None
    ) -> None:
        self._connector = connector
        self._clock = clock
        self.limits = limits
        self._lock = threading.RLock()
        # The last snapshot read, handed to the next reader of the same library at the same cursor (BM25 then
        # the dense index of one cold search): both then hold the same item objects, not two copies.
        self._shared_snapshot: SharedSnapshot | None = None
        try:
            migrate(connector, clock)
        except BaseException:
            connector.close()
            raise

    def _take_shared(self, scope: Scope, cursor: int) -> tuple[int, tuple[MemoryItem, ...]] | None:
        """The kept snapshot when it is this library's at this cursor (it is handed out once, then dropped)."""
        with self._lock:
            shared, self._shared_snapshot = self._shared_snapshot, None
        return shared.items if shared is not None and shared.key == (scope, cursor) else None

    def _keep_shared(self, scope: Scope, snapshot: tuple[int, tuple[MemoryItem, ...]]) -> None:
        with self._lock:
            self._shared_snapshot = SharedSnapshot((scope, snapshot[0]), snapshot)

    def describe(self) -> str:
        """What kind of store this is, for the console's provider note."""
        return self._connector.describe()

    def close(self) -> None:
        """Close the store's connections; the store cannot be used afterwards."""
        self._connector.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _writing(self) -> AbstractContextManager[Connection]:
        """A write transaction: it holds the write lock from its start, so a batch never fails half-way."""
        return self._connector.transaction(write=True)

    def _reading(self) -> AbstractContextManager[Connection]:
        """A read transaction: one consistent snapshot, no write lock."""
        return self._connector.transaction(write=False)

    def _added(self, count: int) -> None:
        """After a committed batch added ``count`` items: a database may refresh what it plans with."""

    def _check_limits(self, conn: Connection, profile_id: str, adding: int, texts: list[str]) -> None:
        if self.limits is None:
            return
        longest = self.limits.max_text(profile_id)
        if longest is not None and any(len(text) > longest for text in texts):
            raise QuotaError(f"a memory may hold at most {longest} characters here; nothing was saved")
        cap = self.limits.max_items(profile_id)
        if cap is not None and adding and _profile_items(conn, profile_id) + adding > cap:
            raise QuotaError(f"this sandbox holds at most {cap} memories; delete some first (nothing was saved)")
