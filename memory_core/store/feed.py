"""The change feed: what changed in a library since a cursor, and snapshots read with their cursor."""

from __future__ import annotations

from ..models import Change, MemoryItem, Scope
from .base import StoreBase
from .rows import _IN_LIBRARY, _ORDER, _SELECT_ITEMS, _checked, _cursor, _item_from_row, _key


class FeedMixin(StoreBase):
    """The change feed search indexes follow, and consistent snapshots."""

    def change_cursor(self, scope: Scope) -> int:
        """The library's latest event number (0 if it has none)."""
        scope = _checked(scope)
        with self._reading() as conn:
            return _cursor(conn, scope)

    def changes_since(self, scope: Scope, seq: int) -> tuple[Change, ...]:
        """The library's events after ``seq``, oldest first."""
        scope = _checked(scope)
        query = f"SELECT seq, item_id, event FROM item_events WHERE {_IN_LIBRARY} AND seq > ? ORDER BY seq"
        with self._reading() as conn:
            rows = conn.execute(query, (*_key(scope), int(seq))).fetchall()
        return tuple(Change(*row) for row in rows)

    def snapshot(self, scope: Scope) -> tuple[int, tuple[MemoryItem, ...]]:
        """The change cursor and every current item, read together so no change falls between them."""
        scope = _checked(scope)
        with self._reading() as conn:
            cursor = _cursor(conn, scope)
            shared = self._take_shared(scope, cursor)
            if shared is not None:
                return shared
            # A row at a time, not fetchall(): a large library's rows are never all held beside its items (they
            # would leave their holes in memory behind them)
            snapshot = cursor, tuple(map(_item_from_row, conn.execute(f"{_SELECT_ITEMS} {_ORDER}", _key(scope))))
        self._keep_shared(scope, snapshot)
        return snapshot
