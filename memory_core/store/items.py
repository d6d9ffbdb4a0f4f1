"""Items and their history."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from ..errors import ConflictError, InvalidInputError, NotFoundError
from ..models import ItemEvent, ItemFilter, MemoryItem, NewItem, Page, Scope, check_id, check_text
from .base import StoreBase
from .connection import Connection
from .rows import (
    _BATCH,
    _EDITABLE,
    _IN_LIBRARY,
    _ITEM_FIELDS,
    _ORDER,
    _SELECT_EVENTS,
    _SELECT_ITEMS,
    _UPDATE_METADATA,
    ALL_ITEMS,
    MAX_OFFSET,
    MAX_PAGE_LIMIT,
    ON_CONFLICT,
    _checked,
    _content,
    _delete,
    _edited,
    _event_from_row,
    _insert_library,
    _item,
    _item_from_row,
    _items_by_id,
    _key,
    _library_name,
    _metadata_json,
    _prepare_batch,
    _record,
    _require_library,
    _sample,
    _stored,
    _where,
    _write_batch,
)


class ItemsMixin(StoreBase):
    """Add, edit, delete and read items; every change is recorded in the item's history."""

    def add_items(
        self,
        scope: Scope,
        items: Sequence[NewItem],
        *,
        source: str = "api",
        on_conflict: str = "error",
        create_library_name: str | None = None,
        supersedes: Sequence[str] = (),
    ) -> tuple[MemoryItem, ...]:
        """Store a batch atomically; returns the items stored (added or replaced), in batch order.

        ``supersedes`` lists current items the batch's first item replaces: in the same transaction they are
        marked superseded by it (they stay, with their history, and recall leaves them out by default)."""
        scope = _checked(scope)
        if on_conflict not in ON_CONFLICT:
            raise InvalidInputError(f"on_conflict {on_conflict!r} is not one of {', '.join(ON_CONFLICT)}")
        library_name = None if create_library_name is None else _library_name(create_library_name)
        batch = _prepare_batch(items)
        with self._writing() as conn:
            now = self._clock()
            if library_name is None:
                _require_library(conn, scope)
            else:
                _insert_library(conn, scope, library_name, now)
            existing = _items_by_id(conn, scope, list(batch))
            if existing and on_conflict == "error":
                raise ConflictError(f"items already exist: {_sample(existing)}")
            fresh = [_stored(scope, new, source, now) for key, new in batch.items() if key not in existing]
            outdated = existing.values() if on_conflict == "replace" else ()
            replaced = [(old, _stored(scope, batch[old.id], source, now, old)) for old in outdated]
            self._check_limits(conn, scope.profile_id, len(fresh), [item.text for item in batch.values()])
            _write_batch(conn, scope, fresh, replaced, source, now)
            if supersedes and fresh:
                self._mark_superseded(conn, scope, list(supersedes), fresh[0].id, source, now)
        self._added(len(fresh))
        stored = {item.id: item for item in fresh} | {after.id: after for _, after in replaced}
        return tuple(stored[key] for key in batch if key in stored)

    def get_item(self, scope: Scope, item_id: str) -> MemoryItem:
        """One item of the scope's library."""
        scope, item_id = _checked(scope), check_id(item_id, what="item id")
        with self._reading() as conn:
            return _item(conn, scope, item_id)

    def edit_item(
        self,
        scope: Scope,
        item_id: str,
        *,
        text: str | None = None,
        type: str | None = None,
        category: str | None = None,
        confidence: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        source: str = "api",
    ) -> MemoryItem:
        """Change the given fields of an item; an edit that changes nothing records nothing."""
        scope, item_id = _checked(scope), check_id(item_id, what="item id")
        given = zip(_EDITABLE, (text, type, category, confidence, metadata), strict=True)
        changes = {name: value for name, value in given if value is not None}
        with self._writing() as conn:
            before = _item(conn, scope, item_id)
            after = _edited(before, changes)
            if _content(after) == _content(before):
                return before
            self._check_limits(conn, scope.profile_id, 0, [after.text])
            now = self._clock()
            after = replace(after, updated_at=now)
            _write_batch(conn, scope, [], [(before, after)], source, now)
        return after

    def mark_seen(self, scope: Scope, item_id: str, *, source: str = "session") -> MemoryItem:
        """A memory said again: its `seen` count goes up and `last_seen_at` moves on; the history records a
        `seen` event. Its text, its position in the list and its embedding are untouched."""
        scope, item_id = _checked(scope), check_id(item_id, what="item id")
        with self._writing() as conn:
            before = _item(conn, scope, item_id)
            now = self._clock()
            seen = int(before.metadata.get("seen", 1)) + 1
            after = replace(before, metadata={**before.metadata, "seen": seen, "last_seen_at": now})
            conn.execute(_UPDATE_METADATA, (_metadata_json(after.metadata), *_key(scope), item_id))
            _record(conn, scope, "seen", now, source, [(before, after)])
        return after

    def supersede(self, scope: Scope, old_ids: Sequence[str], new_id: str, *, source: str = "api") -> None:
        """Mark current items superseded by ``new_id`` (which must exist); unknown ids are ignored."""
        scope, new_id = _checked(scope), check_id(new_id, what="item id")
        with self._writing() as conn:
            _item(conn, scope, new_id)
            self._mark_superseded(conn, scope, list(old_ids), new_id, source, self._clock())

    def _mark_superseded(
        self, conn: Connection, scope: Scope, old_ids: list[str], new_id: str, source: str, now: str
    ) -> None:
        for before in _items_by_id(conn, scope, old_ids).values():
            after = replace(before, metadata={**before.metadata, "superseded_by": new_id, "superseded_at": now})
            conn.execute(_UPDATE_METADATA, (_metadata_json(after.metadata), *_key(scope), before.id))
            _record(conn, scope, "superseded", now, source, [(before, after)])

    def delete_item(self, scope: Scope, item_id: str, *, source: str = "api") -> None:
        """Delete one item; NotFoundError if it is not in the scope's library."""
        scope, item_id = _checked(scope), check_id(item_id, what="item id")
        with self._writing() as conn:
            _delete(conn, scope, [_item(conn, scope, item_id)], self._clock(), source)

    def delete_items(self, scope: Scope, item_ids: Iterable[str], *, source: str = "api") -> int:
        """Delete the listed items that exist (unknown ids are ignored); returns how many were deleted."""
        scope = _checked(scope)
        if isinstance(item_ids, str):
            raise InvalidInputError("item_ids must be a collection of ids, not one string")
        wanted = [check_text(item_id, what="item id") for item_id in dict.fromkeys(item_ids)]
        with self._writing() as conn:
            doomed = list(_items_by_id(conn, scope, wanted).values())
            _delete(conn, scope, doomed, self._clock(), source)
        return len(doomed)

    def list_items(self, scope: Scope, filter: ItemFilter = ALL_ITEMS, *, offset: int = 0, limit: int = 50) -> Page:
        """One page of the library's items, newest first, with the full filtered count."""
        scope = _checked(scope)
        if not 0 <= offset <= MAX_OFFSET or not 1 <= limit <= MAX_PAGE_LIMIT:
            raise InvalidInputError(f"offset must be 0 to {MAX_OFFSET} and limit between 1 and {MAX_PAGE_LIMIT}")
        where, params = _where(filter)
        with self._reading() as conn:
            total = conn.execute(f"SELECT COUNT(*) FROM items WHERE {_IN_LIBRARY}{where}", params(scope)).fetchone()
            query = f"{_SELECT_ITEMS}{where} {_ORDER} LIMIT ? OFFSET ?"
            rows = conn.execute(query, (*params(scope), limit, offset)).fetchall()
        return Page(items=tuple(map(_item_from_row, rows)), total=total[0], offset=offset, limit=limit)

    def iter_items(self, scope: Scope, filter: ItemFilter = ALL_ITEMS) -> Iterator[MemoryItem]:
        """Every matching item, in list order, read in batches so memory stays flat."""
        scope = _checked(scope)
        where, params = _where(filter)
        return self._iterate(where, params(scope))

    def _iterate(self, where: str, params: tuple[Any, ...]) -> Iterator[MemoryItem]:
        # Keyset pagination: each batch resumes after the last (created_at, id), so no offset scans and no cap.
        after: tuple[str, ...] = ()
        while True:
            resume = " AND (created_at, id) < (?, ?)" if after else ""
            query = f"{_SELECT_ITEMS}{where}{resume} {_ORDER} LIMIT ?"
            with self._reading() as conn:
                rows = conn.execute(query, (*params, *after, _BATCH)).fetchall()
            yield from map(_item_from_row, rows)
            if len(rows) < _BATCH:
                return
            after = (rows[-1][_ITEM_FIELDS.index("created_at")], rows[-1][0])

    def history(self, scope: Scope, item_id: str) -> tuple[ItemEvent, ...]:
        """An item's events, oldest first; still available after the item was deleted."""
        scope, item_id = _checked(scope), check_id(item_id, what="item id")
        with self._reading() as conn:
            rows = conn.execute(_SELECT_EVENTS, (*_key(scope), item_id)).fetchall()
        if not rows:
            raise NotFoundError("memory item not found")
        return tuple(_event_from_row(row) for row in rows)

    def items_by_id(self, scope: Scope, ids: Iterable[str]) -> dict[str, MemoryItem]:
        """The listed items that exist, keyed by id."""
        scope = _checked(scope)
        wanted = [check_text(item_id, what="item id") for item_id in dict.fromkeys(ids)]
        with self._reading() as conn:
            return _items_by_id(conn, scope, wanted)
