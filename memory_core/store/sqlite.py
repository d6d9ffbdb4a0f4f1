"""Embedded SQLite storage for libraries, items and their history: the store package is the only one that
speaks SQL. `SQLiteStore` composes one mixin per concern over a shared connection (`base.StoreBase`)."""

from __future__ import annotations

from .base import StoreBase
from .catalogue import CatalogueMixin
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
    "SQLiteStore",
    "StoreBase",
    "WriteLimits",
]


class SQLiteStore(LibrariesMixin, ItemsMixin, FeedMixin, VectorsMixin, CatalogueMixin, TeachingMixin):
    """Libraries, items and their audit history in one SQLite database, safe to share between threads."""
