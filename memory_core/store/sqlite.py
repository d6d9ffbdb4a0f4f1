"""Embedded SQLite storage for libraries, items and their history: the store package is the only one that
speaks SQL. `SQLiteStore` composes one mixin per concern over a shared connection (`base.StoreBase`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..models import utc_timestamp
from .base import StoreBase
from .catalogue import CatalogueMixin
from .connection import SQLiteConnector
from .feed import FeedMixin
from .items import ItemsMixin
from .libraries import LibrariesMixin
from .protocol import WriteLimits
from .rows import ALL_ITEMS, DEFAULT_LIBRARY_NAME, MAX_LIBRARY_NAME_LENGTH, MAX_OFFSET, MAX_PAGE_LIMIT, ON_CONFLICT
from .teaching import TeachingMixin
from .vectors import VectorsMixin

__all__ = [
    "ALL_ITEMS",
    "DEFAULT_LIBRARY_NAME",
    "MAX_LIBRARY_NAME_LENGTH",
    "MAX_OFFSET",
    "MAX_PAGE_LIMIT",
    "ON_CONFLICT",
    "SQLStore",
    "SQLiteStore",
    "StoreBase",
    "WriteLimits",
]


class SQLStore(LibrariesMixin, ItemsMixin, FeedMixin, VectorsMixin, CatalogueMixin, TeachingMixin):
    """Libraries, items and their audit history in one SQL database, over any connector."""


class SQLiteStore(SQLStore):
    """Libraries, items and their audit history in one SQLite database, safe to share between threads."""

    def __init__(
        self, path: str | Path, *, clock: Callable[[], str] = utc_timestamp, limits: WriteLimits | None = None
    ) -> None:
        self._path = Path(path)
        super().__init__(SQLiteConnector(path), clock=clock, limits=limits)

    @property
    def path(self) -> Path:
        """The database file (``:memory:`` for an in-memory store)."""
        return self._path
