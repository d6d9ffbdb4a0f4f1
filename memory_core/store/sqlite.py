"""Embedded SQLite storage for libraries, items and their history: the only module that speaks SQL."""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, Protocol

from ..errors import ConflictError, InvalidInputError, NotFoundError, ProviderError, QuotaError
from ..models import (
    MAX_PERSONA_LENGTH,
    Change,
    Character,
    ItemEvent,
    ItemFilter,
    Library,
    MemoryItem,
    NewItem,
    Page,
    Scope,
    check_id,
    check_text,
    utc_timestamp,
    validate_new_item,
)
from .schema import connect, migrate

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
_INSERT_EVENT = """
    INSERT INTO item_events (profile_id, character_id, library_id, item_id, event, at, source, before_json, after_json)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
"""


class WriteLimits(Protocol):
    """Quotas per profile, checked inside the write's transaction (a public sandbox's); None is no limit."""

    def max_items(self, profile_id: str) -> int | None: ...

    def max_text(self, profile_id: str) -> int | None: ...


class SQLiteStore:
    """Libraries, items and their audit history in one SQLite database, safe to share between threads."""

    def __init__(
        self, path: str | Path, *, clock: Callable[[], str] = utc_timestamp, limits: WriteLimits | None = None
    ) -> None:
        self._path = Path(path)
        self._clock = clock
        self.limits = limits
        self._lock = threading.RLock()
        with _provider_errors():
            self._conn = connect(self._path, in_memory=str(path) == ":memory:")
        try:
            with _provider_errors():
                migrate(self._conn, clock)
        except BaseException:
            self._conn.close()
            raise

    @property
    def path(self) -> Path:
        """The database file (``:memory:`` for an in-memory store)."""
        return self._path

    def close(self) -> None:
        """Close the connection; the store cannot be used afterwards."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self, mode: str = "IMMEDIATE") -> Iterator[sqlite3.Connection]:
        # Writes use IMMEDIATE so the write lock is taken up front and a batch never fails half-way.
        with self._lock, _provider_errors():
            conn = self._conn
            conn.execute(f"BEGIN {mode}")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    # Characters and small key/value facts about the database

    def save_character(self, character_id: str, name: str, persona: str, *, owner: str = "") -> Character:
        """Create or update a character (everyone's, or one profile's own); its memories are untouched."""
        character_id = check_id(character_id, what="character_id")
        name = _library_name(name, default=character_id)
        if not isinstance(persona, str) or len(persona) > MAX_PERSONA_LENGTH:
            raise InvalidInputError(f"persona must be text of at most {MAX_PERSONA_LENGTH} characters")
        persona = check_text(persona, what="persona")
        now = self._clock()
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO characters (owner, id, name, persona, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (owner, id) DO UPDATE SET name = excluded.name, persona = excluded.persona, "
                "updated_at = excluded.updated_at",
                (owner, character_id, name, persona.strip(), now, now),
            )
            return _character(conn, owner, character_id)

    def get_character(self, character_id: str, *, owner: str = "") -> Character:
        with self._transaction("DEFERRED") as conn:
            return _character(conn, owner, check_id(character_id, what="character_id"))

    def list_characters(self, *, owner: str = "") -> tuple[Character, ...]:
        """The characters of one owner ('' is the shared catalogue)."""
        with self._transaction("DEFERRED") as conn:
            rows = conn.execute(f"{_SELECT_CHARACTERS} WHERE owner = ? ORDER BY name, id", (owner,)).fetchall()
        return tuple(Character(*row) for row in rows)

    def delete_character(self, character_id: str, *, owner: str = "") -> None:
        """Remove a character from the catalogue; memories stored for it stay in their libraries."""
        character_id = check_id(character_id, what="character_id")
        with self._transaction() as conn:
            gone = conn.execute("DELETE FROM characters WHERE owner = ? AND id = ?", (owner, character_id))
            if gone.rowcount == 0:
                raise NotFoundError(f"character {character_id!r} not found")

    def list_profiles(self) -> tuple[str, ...]:
        """Every profile that owns at least one library."""
        with self._transaction("DEFERRED") as conn:
            rows = conn.execute("SELECT DISTINCT profile_id FROM libraries ORDER BY profile_id").fetchall()
        return tuple(row[0] for row in rows)

    def count_profile_items(self, profile_id: str) -> int:
        """How many items a profile holds across all its libraries and characters."""
        with self._transaction("DEFERRED") as conn:
            return _profile_items(conn, check_id(profile_id, what="profile_id"))

    def purge_profile(self, profile_id: str) -> int:
        """Delete everything a profile owns, history and vectors included, in one transaction; returns the
        number of items deleted. For swept sandboxes: nothing of theirs is left behind."""
        profile_id = check_id(profile_id, what="profile_id")
        with self._transaction() as conn:
            count = _profile_items(conn, profile_id)
            for table in ("item_vectors", "items", "item_events", "libraries"):
                conn.execute(f"DELETE FROM {table} WHERE profile_id = ?", (profile_id,))
            conn.execute("DELETE FROM characters WHERE owner = ?", (profile_id,))
        return count

    def meta_with_prefix(self, prefix: str) -> dict[str, str]:
        """Every meta entry whose key starts with ``prefix``."""
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self._transaction("DEFERRED") as conn:
            rows = conn.execute("SELECT key, value FROM meta WHERE key LIKE ? ESCAPE '\\'", (pattern,)).fetchall()
        return {str(key): str(value) for key, value in rows}

    def delete_meta(self, key: str) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM meta WHERE key = ?", (key,))

    def get_meta(self, key: str) -> str | None:
        with self._transaction("DEFERRED") as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction() as conn:
            conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = ?",
                         (key, value, value))  # fmt: skip

    # Vectors of items, per embedding model (the dense index keeps them in step)

    def vectors(self, scope: Scope, model: str) -> dict[str, tuple[str, bytes]]:
        """Stored vectors of the library for one model: item id -> (text hash, float32 bytes)."""
        scope = _checked(scope)
        query = f"SELECT item_id, text_hash, vector FROM item_vectors WHERE {_IN_LIBRARY} AND model = ?"
        with self._transaction("DEFERRED") as conn:
            rows = conn.execute(query, (*_key(scope), model)).fetchall()
        return {row[0]: (row[1], bytes(row[2])) for row in rows}

    def put_vectors(self, scope: Scope, model: str, dims: int, rows: Sequence[tuple[str, str, bytes]]) -> int:
        """Store (item id, text hash, vector bytes) rows; rows of items deleted meanwhile are skipped."""
        scope = _checked(scope)
        insert = (
            "INSERT OR REPLACE INTO item_vectors "
            "(profile_id, character_id, library_id, item_id, model, dims, text_hash, vector) "
            f"SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM items WHERE {_IN_LIBRARY} AND id = ?)"
        )
        key = _key(scope)
        with self._transaction() as conn:
            before = conn.total_changes
            conn.executemany(insert, [(*key, item_id, model, dims, digest, blob, *key, item_id)
                                      for item_id, digest, blob in rows])  # fmt: skip
            return conn.total_changes - before

    def vector_counts(self, scope: Scope) -> dict[str, int]:
        """How many items of the library have vectors, per embedding model."""
        scope = _checked(scope)
        query = f"SELECT model, COUNT(*) FROM item_vectors WHERE {_IN_LIBRARY} GROUP BY model"
        with self._transaction("DEFERRED") as conn:
            return {row[0]: int(row[1]) for row in conn.execute(query, _key(scope)).fetchall()}

    # Libraries

    def ensure_library(self, scope: Scope, name: str | None = None) -> Library:
        """Return the scope's library, creating it first if missing; an existing one is left unchanged."""
        scope, name = _checked(scope), _library_name(name)
        with self._transaction() as conn:
            _insert_library(conn, scope, name, self._clock())
            return _library(conn, scope)

    def create_library(self, scope: Scope, name: str | None = None) -> Library:
        """Create the scope's library; ConflictError if it already exists."""
        scope, name = _checked(scope), _library_name(name)
        with self._transaction() as conn:
            if not _insert_library(conn, scope, name, self._clock()):
                raise ConflictError(f"library {scope.library_id!r} already exists")
            return _library(conn, scope)

    def get_library(self, scope: Scope) -> Library:
        """The scope's library with its item count."""
        scope = _checked(scope)
        with self._transaction("DEFERRED") as conn:
            return _library(conn, scope)

    def list_libraries(self, scope: Scope) -> tuple[Library, ...]:
        """Every library of the scope's profile and character, most recently updated first."""
        scope = _checked(scope)
        query = f"{_SELECT_LIBRARIES} ORDER BY l.updated_at DESC, l.id"
        with self._transaction("DEFERRED") as conn:
            rows = conn.execute(query, (scope.profile_id, scope.character_id)).fetchall()
        return tuple(Library(*row) for row in rows)

    def rename_library(self, scope: Scope, name: str) -> Library:
        """Give the scope's library a new name."""
        scope, name = _checked(scope), _library_name(name, default="")
        with self._transaction() as conn:
            query = f"UPDATE libraries SET name = ?, updated_at = ? WHERE {_IS_LIBRARY}"
            if conn.execute(query, (name, self._clock(), *_key(scope))).rowcount == 0:
                raise _library_missing(scope)
            return _library(conn, scope)

    def delete_library(self, scope: Scope, *, source: str = "api") -> int:
        """Delete the library and its items (their history is kept); returns how many items went with it."""
        scope = _checked(scope)
        with self._transaction() as conn:
            _library(conn, scope)
            doomed = [_item_from_row(row) for row in conn.execute(_SELECT_ITEMS, _key(scope))]
            _record(conn, scope, "delete", self._clock(), source, [(item, None) for item in doomed])
            conn.execute(f"DELETE FROM items WHERE {_IN_LIBRARY}", _key(scope))
            conn.execute(f"DELETE FROM libraries WHERE {_IS_LIBRARY}", _key(scope))
        return len(doomed)

    # Items

    def add_items(
        self,
        scope: Scope,
        items: Sequence[NewItem],
        *,
        source: str = "api",
        on_conflict: str = "error",
        create_library_name: str | None = None,
    ) -> tuple[MemoryItem, ...]:
        """Store a batch atomically; returns the items stored (added or replaced), in batch order."""
        scope = _checked(scope)
        if on_conflict not in ON_CONFLICT:
            raise InvalidInputError(f"on_conflict {on_conflict!r} is not one of {', '.join(ON_CONFLICT)}")
        library_name = None if create_library_name is None else _library_name(create_library_name)
        batch = _prepare_batch(items)
        with self._transaction() as conn:
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
        stored = {item.id: item for item in fresh} | {after.id: after for _, after in replaced}
        return tuple(stored[key] for key in batch if key in stored)

    def get_item(self, scope: Scope, item_id: str) -> MemoryItem:
        """One item of the scope's library."""
        scope, item_id = _checked(scope), check_id(item_id, what="item id")
        with self._transaction("DEFERRED") as conn:
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
        with self._transaction() as conn:
            before = _item(conn, scope, item_id)
            after = _edited(before, changes)
            if _content(after) == _content(before):
                return before
            self._check_limits(conn, scope.profile_id, 0, [after.text])
            now = self._clock()
            after = replace(after, updated_at=now)
            _write_batch(conn, scope, [], [(before, after)], source, now)
        return after

    def _check_limits(self, conn: sqlite3.Connection, profile_id: str, adding: int, texts: list[str]) -> None:
        if self.limits is None:
            return
        longest = self.limits.max_text(profile_id)
        if longest is not None and any(len(text) > longest for text in texts):
            raise QuotaError(f"a memory may hold at most {longest} characters here; nothing was saved")
        cap = self.limits.max_items(profile_id)
        if cap is not None and adding and _profile_items(conn, profile_id) + adding > cap:
            raise QuotaError(f"this sandbox holds at most {cap} memories; delete some first (nothing was saved)")

    def delete_item(self, scope: Scope, item_id: str, *, source: str = "api") -> None:
        """Delete one item; NotFoundError if it is not in the scope's library."""
        scope, item_id = _checked(scope), check_id(item_id, what="item id")
        with self._transaction() as conn:
            _delete(conn, scope, [_item(conn, scope, item_id)], self._clock(), source)

    def delete_items(self, scope: Scope, item_ids: Iterable[str], *, source: str = "api") -> int:
        """Delete the listed items that exist (unknown ids are ignored); returns how many were deleted."""
        scope = _checked(scope)
        if isinstance(item_ids, str):
            raise InvalidInputError("item_ids must be a collection of ids, not one string")
        wanted = [check_text(item_id, what="item id") for item_id in dict.fromkeys(item_ids)]
        with self._transaction() as conn:
            doomed = list(_items_by_id(conn, scope, wanted).values())
            _delete(conn, scope, doomed, self._clock(), source)
        return len(doomed)

    # Reading

    def list_items(self, scope: Scope, filter: ItemFilter = ALL_ITEMS, *, offset: int = 0, limit: int = 50) -> Page:
        """One page of the library's items, newest first, with the full filtered count."""
        scope = _checked(scope)
        if not 0 <= offset <= MAX_OFFSET or not 1 <= limit <= MAX_PAGE_LIMIT:
            raise InvalidInputError(f"offset must be 0 to {MAX_OFFSET} and limit between 1 and {MAX_PAGE_LIMIT}")
        where, params = _where(filter)
        with self._transaction("DEFERRED") as conn:
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
            with self._transaction("DEFERRED") as conn:
                rows = conn.execute(query, (*params, *after, _BATCH)).fetchall()
            yield from map(_item_from_row, rows)
            if len(rows) < _BATCH:
                return
            after = (rows[-1][_ITEM_FIELDS.index("created_at")], rows[-1][0])

    def history(self, scope: Scope, item_id: str) -> tuple[ItemEvent, ...]:
        """An item's events, oldest first; still available after the item was deleted."""
        scope, item_id = _checked(scope), check_id(item_id, what="item id")
        with self._transaction("DEFERRED") as conn:
            rows = conn.execute(_SELECT_EVENTS, (*_key(scope), item_id)).fetchall()
        if not rows:
            raise NotFoundError("memory item not found")
        return tuple(_event_from_row(row) for row in rows)

    # Change feed

    def change_cursor(self, scope: Scope) -> int:
        """The library's latest event number (0 if it has none)."""
        scope = _checked(scope)
        with self._transaction("DEFERRED") as conn:
            return _cursor(conn, scope)

    def changes_since(self, scope: Scope, seq: int) -> tuple[Change, ...]:
        """The library's events after ``seq``, oldest first."""
        scope = _checked(scope)
        query = f"SELECT seq, item_id, event FROM item_events WHERE {_IN_LIBRARY} AND seq > ? ORDER BY seq"
        with self._transaction("DEFERRED") as conn:
            rows = conn.execute(query, (*_key(scope), int(seq))).fetchall()
        return tuple(Change(*row) for row in rows)

    def items_by_id(self, scope: Scope, ids: Iterable[str]) -> dict[str, MemoryItem]:
        """The listed items that exist, keyed by id."""
        scope = _checked(scope)
        wanted = [check_text(item_id, what="item id") for item_id in dict.fromkeys(ids)]
        with self._transaction("DEFERRED") as conn:
            return _items_by_id(conn, scope, wanted)

    def snapshot(self, scope: Scope) -> tuple[int, tuple[MemoryItem, ...]]:
        """The change cursor and every current item, read together so no change falls between them."""
        scope = _checked(scope)
        with self._transaction("DEFERRED") as conn:
            cursor = _cursor(conn, scope)
            rows = conn.execute(f"{_SELECT_ITEMS} {_ORDER}", _key(scope)).fetchall()
        return cursor, tuple(map(_item_from_row, rows))


@contextmanager
def _provider_errors() -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise ProviderError(f"SQLite store failed: {exc}") from exc


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
    values[_METADATA] = json.dumps(dict(item.metadata), ensure_ascii=False)
    return values


def _item_from_row(row: Sequence[Any]) -> MemoryItem:
    values = list(row)
    values[_METADATA] = json.loads(values[_METADATA])
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


def _character(conn: sqlite3.Connection, owner: str, character_id: str) -> Character:
    row = conn.execute(f"{_SELECT_CHARACTERS} WHERE owner = ? AND id = ?", (owner, character_id)).fetchone()
    if row is None:
        raise NotFoundError(f"character {character_id!r} not found")
    return Character(*row)


def _profile_items(conn: sqlite3.Connection, profile_id: str) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM items WHERE profile_id = ?", (profile_id,)).fetchone()[0])


def _library(conn: sqlite3.Connection, scope: Scope) -> Library:
    row = conn.execute(f"{_SELECT_LIBRARIES} AND l.id = ?", _key(scope)).fetchone()
    if row is None:
        raise _library_missing(scope)
    return Library(*row)


def _require_library(conn: sqlite3.Connection, scope: Scope) -> None:
    if conn.execute(f"SELECT 1 FROM libraries WHERE {_IS_LIBRARY}", _key(scope)).fetchone() is None:
        raise _library_missing(scope)


def _insert_library(conn: sqlite3.Connection, scope: Scope, name: str, now: str) -> bool:
    query = "INSERT OR IGNORE INTO libraries (profile_id, character_id, id, name, created_at, updated_at)"
    return conn.execute(f"{query} VALUES (?, ?, ?, ?, ?, ?)", (*_key(scope), name, now, now)).rowcount == 1


def _touch_library(conn: sqlite3.Connection, scope: Scope, now: str) -> None:
    conn.execute(f"UPDATE libraries SET updated_at = ? WHERE {_IS_LIBRARY}", (now, *_key(scope)))


def _item(conn: sqlite3.Connection, scope: Scope, item_id: str) -> MemoryItem:
    row = conn.execute(f"{_SELECT_ITEMS} AND id = ?", (*_key(scope), item_id)).fetchone()
    if row is None:
        raise NotFoundError("memory item not found")
    return _item_from_row(row)


def _items_by_id(conn: sqlite3.Connection, scope: Scope, ids: list[str]) -> dict[str, MemoryItem]:
    found: dict[str, MemoryItem] = {}
    for start in range(0, len(ids), _BATCH):
        chunk = ids[start : start + _BATCH]
        query = f"{_SELECT_ITEMS} AND id IN ({', '.join('?' * len(chunk))})"
        found.update((row[0], _item_from_row(row)) for row in conn.execute(query, (*_key(scope), *chunk)))
    return found


def _cursor(conn: sqlite3.Connection, scope: Scope) -> int:
    query = f"SELECT COALESCE(MAX(seq), 0) FROM item_events WHERE {_IN_LIBRARY}"
    return int(conn.execute(query, _key(scope)).fetchone()[0])


_Pair = tuple[MemoryItem | None, MemoryItem | None]


def _record(conn: sqlite3.Connection, scope: Scope, event: str, now: str, source: str, pairs: list[_Pair]) -> None:
    """Append one audit event per (before, after) pair."""
    rows = ((_item_id(*pair), event, now, source, _dumps(pair[0]), _dumps(pair[1])) for pair in pairs)
    conn.executemany(_INSERT_EVENT, ((*_key(scope), *row) for row in rows))


def _write_batch(
    conn: sqlite3.Connection,
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


def _delete(conn: sqlite3.Connection, scope: Scope, doomed: list[MemoryItem], now: str, source: str) -> None:
    _record(conn, scope, "delete", now, source, [(item, None) for item in doomed])
    conn.executemany(f"DELETE FROM items WHERE {_IN_LIBRARY} AND id = ?", ((*_key(scope), i.id) for i in doomed))
    if doomed:
        _touch_library(conn, scope, now)
