"""A whole store copied to another database, SQLite or PostgreSQL either way: every table row for row, with the
ids and the history's numbers it had, then verified by row counts and checksums read back from both sides.

The source is only read, never migrated: it must be at this version's schema (open it once with this version,
which migrates it, then copy), so a copy can read a database an older Memtune still serves. The target is
migrated first. Rows go over in key order, a batch per write transaction, each inserted unless its key is taken
(ON CONFLICT DO NOTHING): a run that was interrupted is resumed by running it again, and a target that held
other rows under the same keys keeps them and fails verification instead of being overwritten.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config_values import redacted
from ..errors import InvalidInputError, ProviderError
from ..models import utc_timestamp
from .connection import Connector, SQLiteConnector
from .postgres import PostgresConnector, is_postgres_url
from .schema import MIGRATIONS, migrate

BATCH = 500
MAX_BATCH = 10_000
SQLITE_URL = "sqlite:///"  # SQLAlchemy's form: sqlite:///relative/path, sqlite:////absolute/path


@dataclass(frozen=True)
class Table:
    """A table as the copy reads it: its columns, and the key its rows are read in order of."""

    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    numbered: bool = False  # the key is a number the database draws itself (AUTOINCREMENT, an identity)

    def select(self, *, after: bool) -> str:
        key = ", ".join(self.key)
        where = f" WHERE ({key}) > ({', '.join('?' * len(self.key))})" if after else ""
        return f"SELECT {', '.join(self.columns)} FROM {self.name}{where} ORDER BY {key} LIMIT ?"

    def insert(self) -> str:
        values = ", ".join("?" * len(self.columns))
        return f"INSERT INTO {self.name} ({', '.join(self.columns)}) VALUES ({values}) ON CONFLICT DO NOTHING"

    def key_of(self, row: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(row[self.columns.index(name)] for name in self.key)


_LIBRARY = ("profile_id", "character_id", "library_id")
# In foreign-key order: libraries before their items, items before their vectors.
TABLES = (
    Table("libraries", ("profile_id", "character_id", "id", "name", "created_at", "updated_at"),
          ("profile_id", "character_id", "id")),
    Table("items", ("seq", "id", "text", "type", "category", "confidence", "source", "metadata_json", *_LIBRARY,
                    "created_at", "updated_at"), ("seq",), numbered=True),
    Table("item_events", ("seq", *_LIBRARY, "item_id", "event", "at", "source", "before_json", "after_json"),
          ("seq",), numbered=True),
    Table("characters", ("owner", "id", "name", "persona", "created_at", "updated_at"), ("owner", "id")),
    Table("meta", ("key", "value"), ("key",)),
    Table("item_vectors", (*_LIBRARY, "item_id", "model", "dims", "text_hash", "vector"),
          (*_LIBRARY, "item_id", "model")),
    Table("taught_examples", ("owner", "character_id", "id", "text", "should_recall", "model", "vector",
                              "created_at", "seq"), ("owner", "character_id", "id")),
)  # fmt: skip


@dataclass(frozen=True)
class Progress:
    """One batch committed: the table's rows written so far by this run, and those already there."""

    table: str
    copied: int
    skipped: int


@dataclass(frozen=True)
class TableReport:
    """One table after the copy: rows on each side, what this run wrote and skipped, whether the rows agree."""

    table: str
    source_rows: int
    target_rows: int
    copied: int
    skipped: int
    checksum_ok: bool

    @property
    def ok(self) -> bool:
        return self.checksum_ok and self.source_rows == self.target_rows


@dataclass(frozen=True)
class CopyReport:
    """A whole copy: where from, where to, and each table's verification."""

    source: str
    target: str
    tables: tuple[TableReport, ...]

    @property
    def ok(self) -> bool:
        return all(table.ok for table in self.tables)


ProgressCallback = Callable[[Progress], None]


def copy_store(
    source: str, target: str, *, batch: int = BATCH, on_progress: ProgressCallback | None = None
) -> CopyReport:
    """Copy every table of the store at ``source`` into the one at ``target`` (made and migrated if need be),
    then verify both sides; InvalidInputError for a missing source, a bad batch or a schema that differs."""
    batch = _checked_batch(batch)
    if _place(source) == _place(target):
        raise InvalidInputError("--from and --to are the same store")
    with closing(open_source(source)) as reading, closing(open_target(target)) as writing:
        counts = [copy_table(reading, writing, table, batch, on_progress) for table in TABLES]
        reports = tuple(verify_table(reading, writing, t, c, batch) for t, c in zip(TABLES, counts, strict=True))
    return CopyReport(shown(source), shown(target), reports)


def open_connector(location: str, *, create: bool = False) -> Connector:
    """A connector to a postgresql:// URL or a SQLite file (a path or sqlite:///path), which must exist unless
    ``create``; nothing is migrated."""
    if is_postgres_url(location):
        return PostgresConnector(location)
    path = sqlite_path(location)
    if not create and not path.is_file():
        raise InvalidInputError(f"{location}: no such SQLite file")
    return SQLiteConnector(path)


def open_source(location: str) -> Connector:
    """The store to copy from: it must exist and be at this version's schema (it is not migrated)."""
    connector = open_connector(location)
    return _at_current_schema(connector, f"the source {shown(location)}")


def open_target(location: str) -> Connector:
    """The store to copy into, made if need be and migrated to this version's schema."""
    connector = open_connector(location, create=True)
    try:
        migrate(connector, utc_timestamp)
    except BaseException:
        connector.close()
        raise
    return _at_current_schema(connector, f"the target {shown(location)}")


def sqlite_path(location: str) -> Path:
    """The SQLite file a location names; InvalidInputError for a URL of another kind of database."""
    if location.startswith(SQLITE_URL):
        return Path(location.removeprefix(SQLITE_URL))
    if "://" in location:
        raise InvalidInputError(f"{shown(location)}: a store is a SQLite file, sqlite:///path or postgresql://")
    if not location.strip():
        raise InvalidInputError("a store location is empty")
    return Path(location)


def shown(location: str) -> str:
    """A location as a message may show it: a database URL without its user or password."""
    return f"postgresql://{redacted(location)}" if is_postgres_url(location) else location


def copy_table(
    source: Connector, target: Connector, table: Table, batch: int, on_progress: ProgressCallback | None = None
) -> tuple[int, int]:
    """Copy one table a batch per write transaction; (rows written, rows whose key the target already had)."""
    copied = skipped = 0
    for rows in read_batches(source, table, batch):
        with target.transaction(write=True) as conn:
            written = conn.executemany(table.insert(), rows).rowcount
            if table.numbered:
                target.follow_ids(conn, table.name, table.key[0])
        copied, skipped = copied + written, skipped + len(rows) - written
        if on_progress is not None:
            on_progress(Progress(table.name, copied, skipped))
    return copied, skipped


def verify_table(
    source: Connector, target: Connector, table: Table, counts: tuple[int, int], batch: int = BATCH
) -> TableReport:
    """Both sides' rows of one table counted and checksummed."""
    source_rows, source_sum = table_checksum(source, table, batch)
    target_rows, target_sum = table_checksum(target, table, batch)
    return TableReport(table.name, source_rows, target_rows, *counts, checksum_ok=source_sum == target_sum)


def table_checksum(connector: Connector, table: Table, batch: int = BATCH) -> tuple[int, str]:
    """(rows, sha256 over each row's canonical JSON in key order): equal values give equal sums in either database."""
    digest, count = hashlib.sha256(), 0
    for rows in read_batches(connector, table, batch):
        for row in rows:
            digest.update(canonical_row(row))
        count += len(rows)
    return count, digest.hexdigest()


def canonical_row(row: Sequence[Any]) -> bytes:
    """One row as a line of JSON: bytes (SQLite's BLOB, PostgreSQL's bytea) as hex, integers of any width alike."""
    return (json.dumps([_plain(value) for value in row], ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def read_batches(connector: Connector, table: Table, batch: int) -> Iterator[list[tuple[Any, ...]]]:
    """The table's rows in key order, ``batch`` at a time, each batch read in its own transaction."""
    after: tuple[Any, ...] = ()
    while True:
        with connector.transaction(write=False) as conn:
            rows = [tuple(row) for row in conn.execute(table.select(after=bool(after)), (*after, batch))]
        if rows:
            yield rows
        if len(rows) < batch:
            return
        after = table.key_of(rows[-1])


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return value


def _checked_batch(batch: int) -> int:
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= MAX_BATCH:
        raise InvalidInputError(f"--batch must be from 1 to {MAX_BATCH}, got {batch!r}")
    return batch


def _place(location: str) -> str:
    return location if is_postgres_url(location) else str(sqlite_path(location).resolve())


def _at_current_schema(connector: Connector, what: str) -> Connector:
    try:
        _require_current(_applied_steps(connector, what), what)
    except BaseException:
        connector.close()
        raise
    return connector


def _applied_steps(connector: Connector, what: str) -> set[str]:
    try:
        with connector.transaction(write=False) as conn:
            return {str(row[0]) for row in conn.execute("SELECT name FROM schema_migrations").fetchall()}
    except ProviderError as exc:  # no ledger: never opened by Memtune
        raise InvalidInputError(f"{what} holds no Memtune store ({exc})") from exc


def _require_current(applied: set[str], what: str) -> None:
    steps = [name for name, _ in MIGRATIONS]
    unknown = sorted(applied - set(steps))
    if unknown:
        raise InvalidInputError(f"{what} has schema steps this version does not know ({', '.join(unknown)}): "
                                "copy it with the Memtune version that wrote it")  # fmt: skip
    missing = [name for name in steps if name not in applied]
    if missing:
        raise InvalidInputError(f"{what} is at an older schema (without {', '.join(missing)}): open it once with "
                                "this Memtune version, which migrates it, then copy it")  # fmt: skip
