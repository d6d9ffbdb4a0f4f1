"""The store's shared pieces: limits, SQL fragments, validation, row conversions and the statements
every concern runs inside its caller's transaction."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields, replace
from typing import Any

from ..errors import InvalidInputError, NotFoundError
from ..models import (
    Character,
    ItemEvent,
    ItemFilter,
    Library,
    MemoryItem,
    NewItem,
    Scope,
    check_id,
    check_text,
    validate_new_item,
)
from .connection import Connection

DEFAULT_LIBRARY_NAME = "Default memory"
MAX_LIBRARY_NAME_LENGTH = 200
MAX_PAGE_LIMIT = 10_000
MAX_OFFSET = 10**9
ON_CONFLICT: tuple[str, ...] = ("error", "skip", "replace")
ALL_ITEMS = ItemFilter()
# Small enough for SQLite's host-parameter limit on old builds, big enough that 100k ids is a few hundred queries.
_BATCH = 500

# Item columns follow MemoryItem's field order so rows convert positionally.
_ITEM_FIELDS = tuple(f.name for f in fields(MemoryItem))
_METADATA = _ITEM_FIELDS.index("metadata")
_SHARED = tuple(_ITEM_FIELDS.index(name) for name in (
    "type", "category", "confidence", "source", "profile_id", "character_id", "library_id"))  # fmt: skip
_ITEM_COLUMNS = ", ".join(_ITEM_FIELDS).replace("metadata", "metadata_json")
_EDITABLE = ("text", "type", "category", "confidence", "metadata")
_IN_LIBRARY = "profile_id = ? AND character_id = ? AND library_id = ?"
_IS_LIBRARY = "profile_id = ? AND character_id = ? AND id = ?"
_ORDER = "ORDER BY created_at DESC, id DESC"
_INSERT_ITEM = f"INSERT INTO items ({_ITEM_COLUMNS}) VALUES ({', '.join('?' * len(_ITEM_FIELDS))})"
_UPDATE_ITEM = (
    f"UPDATE items SET ({_ITEM_COLUMNS}) = ({', '.join('?' * len(_ITEM_FIELDS))}) WHERE {_IN_LIBRARY} AND id = ?"
)
_SELECT_ITEMS = f"SELECT {_ITEM_COLUMNS} FROM items WHERE {_IN_LIBRARY}"
_SELECT_LIBRARIES = """
    SELECT l.id, l.name, l.profile_id, l.character_id,
        (SELECT COUNT(*) FROM items i
         WHERE i.profile_id = l.profile_id AND i.character_id = l.character_id AND i.library_id = l.id),
        l.created_at, l.updated_at
    FROM libraries l WHERE l.profile_id = ? AND l.character_id = ?
"""
_SELECT_EVENTS = f"""
    SELECT seq, item_id, library_id, event, at, source, before_json, after_json
    FROM item_events WHERE {_IN_LIBRARY} AND item_id = ? ORDER BY seq
"""
_UPDATE_METADATA = f"UPDATE items SET metadata_json = ? WHERE {_IN_LIBRARY} AND id = ?"
_INSERT_EVENT = """
    INSERT INTO item_events (profile_id, character_id, library_id, item_id, event, at, source, before_json, after_json)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
"""


# Validation


def _checked(scope: Scope) -> Scope:
    if not isinstance(scope, Scope):
        raise InvalidInputError(f"scope must be a Scope, got {type(scope).__name__}")
    ids = (
        check_id(value, what=name)
        for name, value in zip(("profile_id", "character_id", "library_id"), _key(scope), strict=True)
    )
    return Scope(*ids)


def _key(scope: Scope) -> tuple[str, str, str]:
    return scope.profile_id, scope.character_id, scope.library_id


def _library_name(name: str | None, *, default: str = DEFAULT_LIBRARY_NAME) -> str:
    if name is not None and not isinstance(name, str):
        raise InvalidInputError("library name must be a string")
    text = (name or "").strip() or default
    if not text:
        raise InvalidInputError("library name is empty")
    return check_text(text, what="library name", max_length=MAX_LIBRARY_NAME_LENGTH)


def _prepare_batch(items: Sequence[NewItem]) -> dict[str, NewItem]:
    batch: dict[str, NewItem] = {}
    for index, item in enumerate(items):
        if not isinstance(item, NewItem):
            raise InvalidInputError(f"item {index} must be a NewItem, got {type(item).__name__}")
        checked = validate_new_item(item, what=f"item {index}")
        if checked.id is None:
            checked = replace(checked, id=uuid.uuid4().hex)
        elif checked.id in batch:
            raise InvalidInputError(f"item {index} id {checked.id!r} appears more than once in the batch")
        batch[checked.id or ""] = checked
    return batch


def _sample(existing: dict[str, MemoryItem], shown: int = 10) -> str:
    ids = sorted(existing)
    more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
    return ", ".join(ids[:shown]) + more


def _edited(before: MemoryItem, changes: dict[str, Any]) -> MemoryItem:
    draft = NewItem(**{name: getattr(before, name) for name in _EDITABLE})
    checked = validate_new_item(replace(draft, **changes))
    return replace(before, **{name: getattr(checked, name) for name in _EDITABLE})


def _content(item: MemoryItem) -> tuple[Any, ...]:
    return tuple(getattr(item, name) for name in _EDITABLE)


def _where(filter: ItemFilter) -> tuple[str, Callable[[Scope], tuple[Any, ...]]]:
    """Extra WHERE clauses for a filter, and a function giving all parameters for a scope."""
    clauses, values = [], []
    for column, wanted in (("type", filter.type), ("category", filter.category)):
        if wanted is not None:
            check_text(wanted, what=f"{column} filter")
            clauses.append(f" AND {column} = ?")
            values.append(wanted)
    needle = check_text(filter.text_contains or "", what="text filter").strip().casefold()
    if needle:
        clauses.append(" AND memcore_fold(text) LIKE ? ESCAPE '\\'")
        values.append("%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
    return "".join(clauses), lambda scope: (*_key(scope), *values)


# Rows


def _stored(scope: Scope, new: NewItem, source: str, now: str, old: MemoryItem | None = None) -> MemoryItem:
    return MemoryItem(
        id=new.id or "",
        **{name: getattr(new, name) for name in _EDITABLE},
        source=new.source or source,
        profile_id=scope.profile_id,
        character_id=scope.character_id,
        library_id=scope.library_id,
        # A replaced item keeps its birth date unless the caller supplies one (imports carry theirs).
        created_at=new.created_at or (old.created_at if old else now),
        updated_at=new.updated_at or now,
    )


def _item_values(item: MemoryItem) -> list[Any]:
    values = [getattr(item, name) for name in _ITEM_FIELDS]
    values[_METADATA] = _metadata_json(item.metadata)
    return values


def _metadata_json(metadata: Mapping[str, Any]) -> str:
    return json.dumps(dict(metadata), ensure_ascii=False)


def _item_from_row(row: Sequence[Any]) -> MemoryItem:
    values = list(row)
    values[_METADATA] = json.loads(values[_METADATA])
    for n in _SHARED:  # one string per distinct value, not one per row (a big library repeats a few values)
        values[n] = sys.intern(values[n])
    return MemoryItem(*values)


def _dumps(item: MemoryItem | None) -> str | None:
    return None if item is None else json.dumps(item.to_dict(), ensure_ascii=False)


def _item_id(before: MemoryItem | None, after: MemoryItem | None) -> str:
    return before.id if before is not None else after.id if after is not None else ""


def _event_from_row(row: Sequence[Any]) -> ItemEvent:
    seq, item_id, library_id, event, at, source, before, after = row
    return ItemEvent(seq, item_id, library_id, event, at, source, _loads(before), _loads(after))


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _library_missing(scope: Scope) -> NotFoundError:
    return NotFoundError(f"library {scope.library_id!r} not found")


# Statements shared by the methods; each runs inside the caller's transaction.


_SELECT_CHARACTERS = "SELECT id, name, persona, created_at, updated_at FROM characters"


def _character(conn: Connection, owner: str, character_id: str) -> Character:
    row = conn.execute(f"{_SELECT_CHARACTERS} WHERE owner = ? AND id = ?", (owner, character_id)).fetchone()
    if row is None:
        raise NotFoundError(f"character {character_id!r} not found")
    return Character(*row)


def _profile_items(conn: Connection, profile_id: str) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM items WHERE profile_id = ?", (profile_id,)).fetchone()[0])


def _library(conn: Connection, scope: Scope) -> Library:
    row = conn.execute(f"{_SELECT_LIBRARIES} AND l.id = ?", _key(scope)).fetchone()
    if row is None:
        raise _library_missing(scope)
    return Library(*row)


def _require_library(conn: Connection, scope: Scope) -> None:
    if conn.execute(f"SELECT 1 FROM libraries WHERE {_IS_LIBRARY}", _key(scope)).fetchone() is None:
        raise _library_missing(scope)


def _insert_library(conn: Connection, scope: Scope, name: str, now: str) -> bool:
    query = "INSERT INTO libraries (profile_id, character_id, id, name, created_at, updated_at)"
    values = "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
    return conn.execute(f"{query} {values}", (*_key(scope), name, now, now)).rowcount == 1


def _touch_library(conn: Connection, scope: Scope, now: str) -> None:
    conn.execute(f"UPDATE libraries SET updated_at = ? WHERE {_IS_LIBRARY}", (now, *_key(scope)))


def _item(conn: Connection, scope: Scope, item_id: str) -> MemoryItem:
    row = conn.execute(f"{_SELECT_ITEMS} AND id = ?", (*_key(scope), item_id)).fetchone()
    if row is None:
        raise NotFoundError("memory item not found")
    return _item_from_row(row)


def _items_by_id(conn: Connection, scope: Scope, ids: list[str]) -> dict[str, MemoryItem]:
    found: dict[str, MemoryItem] = {}
    for start in range(0, len(ids), _BATCH):
        chunk = ids[start : start + _BATCH]
        query = f"{_SELECT_ITEMS} AND id IN ({', '.join('?' * len(chunk))})"
        found.update((row[0], _item_from_row(row)) for row in conn.execute(query, (*_key(scope), *chunk)))
    return found


def _cursor(conn: Connection, scope: Scope) -> int:
    # The newest event by the index's order, not MAX(): a planner without statistics (a table PostgreSQL has not
    # analysed yet) would aggregate every event of the library instead of reading one.
    query = f"SELECT seq FROM item_events WHERE {_IN_LIBRARY} ORDER BY seq DESC LIMIT 1"
    row = conn.execute(query, _key(scope)).fetchone()
    return 0 if row is None else int(row[0])


_Pair = tuple[MemoryItem | None, MemoryItem | None]


def _record(conn: Connection, scope: Scope, event: str, now: str, source: str, pairs: list[_Pair]) -> None:
    """Append one audit event per (before, after) pair."""
    rows = ((_item_id(*pair), event, now, source, _dumps(pair[0]), _dumps(pair[1])) for pair in pairs)
    conn.executemany(_INSERT_EVENT, ((*_key(scope), *row) for row in rows))


def _write_batch(
    conn: Connection,
    scope: Scope,
    fresh: list[MemoryItem],
    replaced: list[tuple[MemoryItem, MemoryItem]],
    source: str,
    now: str,
) -> None:
    conn.executemany(_INSERT_ITEM, map(_item_values, fresh))
    conn.executemany(_UPDATE_ITEM, ((*_item_values(after), *_key(scope), after.id) for _, after in replaced))
    _record(conn, scope, "add", now, source, [(None, item) for item in fresh])
    _record(conn, scope, "update", now, source, list(replaced))
    if fresh or replaced:
        _touch_library(conn, scope, now)


def _delete(conn: Connection, scope: Scope, doomed: list[MemoryItem], now: str, source: str) -> None:
    _record(conn, scope, "delete", now, source, [(item, None) for item in doomed])
    conn.executemany(f"DELETE FROM items WHERE {_IN_LIBRARY} AND id = ?", ((*_key(scope), i.id) for i in doomed))
    if doomed:
        _touch_library(conn, scope, now)
