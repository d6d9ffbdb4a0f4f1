"""The seam under the store's SQL: a connection the mixins run statements on, and a connector that hands one out
inside a transaction. The mixins write SQLite's dialect with ``?`` placeholders and portable upserts; a connector
for another database translates what differs (`postgres.PostgresConnector`)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

from ..errors import ProviderError


class Cursor(Protocol):
    """What the store reads back from a statement (sqlite3's and psycopg's cursors both are one)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def fetchmany(self, size: int = ...) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """A connection inside a transaction: statements in SQLite's dialect, ``?`` placeholders."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor: ...


class Connector(Protocol):
    """Where the store's connections come from: one transaction per operation, a failure as ProviderError."""

    def transaction(self, *, write: bool) -> AbstractContextManager[Connection]:
        """A transaction: a write one holds the store's write lock from its start, so writers never interleave and
        the change feed's numbers are committed in order; a read one sees one consistent snapshot."""
        ...

    def describe(self) -> str:
        """What kind of database this is, for the console's provider note."""
        ...

    def ddl(self, script: str) -> str:
        """A migration script of the store's schema (SQLite's dialect) in this database's."""
        ...

    def follow_ids(self, conn: Connection, table: str, column: str) -> None:
        """After rows were written with their own numbers in ``column`` (a copy's), make the table number the next
        row after the largest; ``table`` and ``column`` are the schema's names, never a user's input."""
        ...

    def close(self) -> None: ...


class SQLiteConnector:
    """One SQLite connection shared by the process's threads, guarded by a lock."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._in_memory = str(path) == ":memory:"
        self._lock = threading.RLock()
        with sqlite_errors():
            self._conn = _connect(self.path, in_memory=self._in_memory)

    def describe(self) -> str:
        return "SQLite in memory" if self._in_memory else "embedded SQLite"

    def ddl(self, script: str) -> str:
        return script

    def follow_ids(self, conn: Connection, table: str, column: str) -> None:
        pass  # AUTOINCREMENT goes on after the largest number ever written, explicit ones included

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Connection]:
        # IMMEDIATE takes the write lock up front, so a batch never fails half-way on a busy database.
        with self._lock, sqlite_errors():
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN DEFERRED")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise


@contextmanager
def sqlite_errors() -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise ProviderError(f"SQLite store failed: {exc}") from exc


def _connect(path: Path, *, in_memory: bool) -> sqlite3.Connection:
    if not in_memory:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ProviderError(f"cannot create the folder for {path}: {exc}") from exc
    # isolation_level=None: we issue BEGIN/COMMIT ourselves so every transaction boundary is explicit.
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    try:
        if not in_memory:
            conn.execute("PRAGMA journal_mode=WAL")
        for pragma in ("foreign_keys=ON", "busy_timeout=5000", "synchronous=NORMAL"):
            conn.execute(f"PRAGMA {pragma}")
        conn.create_function("memcore_fold", 1, _fold, deterministic=True)
    except BaseException:
        conn.close()
        raise
    return conn


def _fold(value: str | None) -> str | None:
    # SQLite's own LIKE folds ASCII case only; Python's casefold covers every script.
    return value.casefold() if value is not None else None
