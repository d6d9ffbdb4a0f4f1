"""Libraries: a profile's and character's named collections of items."""

from __future__ import annotations

from ..errors import ConflictError
from ..models import Library, Scope
from .base import StoreBase
from .rows import (
    _IN_LIBRARY,
    _IS_LIBRARY,
    _SELECT_ITEMS,
    _SELECT_LIBRARIES,
    _checked,
    _insert_library,
    _item_from_row,
    _key,
    _library,
    _library_missing,
    _library_name,
    _record,
)


class LibrariesMixin(StoreBase):
    """Create, read, rename and delete libraries."""

    def ensure_library(self, scope: Scope, name: str | None = None) -> Library:
        """Return the scope's library, creating it first if missing; an existing one is left unchanged."""
        scope, name = _checked(scope), _library_name(name)
        with self._writing() as conn:
            _insert_library(conn, scope, name, self._clock())
            return _library(conn, scope)

    def create_library(self, scope: Scope, name: str | None = None) -> Library:
        """Create the scope's library; ConflictError if it already exists."""
        scope, name = _checked(scope), _library_name(name)
        with self._writing() as conn:
            if not _insert_library(conn, scope, name, self._clock()):
                raise ConflictError(f"library {scope.library_id!r} already exists")
            return _library(conn, scope)

    def get_library(self, scope: Scope) -> Library:
        """The scope's library with its item count."""
        scope = _checked(scope)
        with self._reading() as conn:
            return _library(conn, scope)

    def list_libraries(self, scope: Scope) -> tuple[Library, ...]:
        """Every library of the scope's profile and character, most recently updated first."""
        scope = _checked(scope)
        query = f"{_SELECT_LIBRARIES} ORDER BY l.updated_at DESC, l.id"
        with self._reading() as conn:
            rows = conn.execute(query, (scope.profile_id, scope.character_id)).fetchall()
        return tuple(Library(*row) for row in rows)

    def rename_library(self, scope: Scope, name: str) -> Library:
        """Give the scope's library a new name."""
        scope, name = _checked(scope), _library_name(name, default="")
        with self._writing() as conn:
            query = f"UPDATE libraries SET name = ?, updated_at = ? WHERE {_IS_LIBRARY}"
            if conn.execute(query, (name, self._clock(), *_key(scope))).rowcount == 0:
                raise _library_missing(scope)
            return _library(conn, scope)

    def delete_library(self, scope: Scope, *, source: str = "api") -> int:
        """Delete the library and its items (their history is kept); returns how many items went with it."""
        scope = _checked(scope)
        with self._writing() as conn:
            _library(conn, scope)
            doomed = [_item_from_row(row) for row in conn.execute(_SELECT_ITEMS, _key(scope))]
            _record(conn, scope, "delete", self._clock(), source, [(item, None) for item in doomed])
            conn.execute(f"DELETE FROM items WHERE {_IN_LIBRARY}", _key(scope))
            conn.execute(f"DELETE FROM libraries WHERE {_IS_LIBRARY}", _key(scope))
        return len(doomed)

    def recent_libraries(self, limit: int) -> tuple[Scope, ...]:
        """The `limit` most recently updated libraries of every profile, as scopes (what a start-up warms)."""
        query = "SELECT profile_id, character_id, id FROM libraries ORDER BY updated_at DESC, id LIMIT ?"
        with self._reading() as conn:
            rows = conn.execute(query, (max(limit, 0),)).fetchall()
        return tuple(Scope.of(*row) for row in rows)

    def list_profiles(self) -> tuple[str, ...]:
        """Every profile that owns at least one library."""
        with self._reading() as conn:
            rows = conn.execute("SELECT DISTINCT profile_id FROM libraries ORDER BY profile_id").fetchall()
        return tuple(row[0] for row in rows)
