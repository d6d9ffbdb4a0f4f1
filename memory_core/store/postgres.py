"""PostgreSQL as the store: the same mixins and the same migrations as SQLite's, over a psycopg 3 connection pool.

What differs from SQLite is all here. Placeholders become ``%s``; the schema's types become PostgreSQL's (an
identity column for the change feed's numbers, ``bytea`` for vectors, text compared byte by byte as SQLite
compares it); the write lock is a transaction-level advisory lock, so writers of every process take turns as
SQLite's writers do, and the change feed's numbers are committed in the order they were drawn; a read sees one
snapshot (REPEATABLE READ). While the server is unreachable, operations fail fast for a moment instead of each
waiting out the pool's timeout, and the pool reconnects on its own once it is back.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..config_values import redacted
from ..errors import ConfigurationError, ProviderError
from ..models import Change, Scope, utc_timestamp
from .connection import Connection, Cursor
from .protocol import WriteLimits
from .quiet_feed import QuietFeed
from .sqlite import SQLStore
from .statistics import GrowthTrigger

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

URL_SCHEMES = ("postgresql", "postgres")
WRITE_LOCK = 0x6D656D74756E65  # one advisory lock key for every Memtune writer of a database ("memtune")
POOL_SIZE = 8
POLL_MS = 200  # MEMTUNE_DATABASE_POLL_MS: how long a library found unchanged is taken as still unchanged
TIMEOUT_S = 3.0  # connecting, and waiting for a free connection
RETRY_AFTER_S = 1.0  # after the server was unreachable, operations fail at once for this long
_FOLD = (
    "CREATE OR REPLACE FUNCTION memcore_fold(value text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE "
    'AS $$ SELECT lower(value COLLATE "default") $$'
)
_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"


def is_postgres_url(url: str) -> bool:
    return urlsplit(url).scheme in URL_SCHEMES


class PostgresConnector:
    """A pool of connections to one PostgreSQL database; every transaction borrows one."""

    def __init__(self, url: str, *, pool_size: int = POOL_SIZE, timeout_s: float = TIMEOUT_S) -> None:
        if not is_postgres_url(url):
            raise ConfigurationError("MEMTUNE_DATABASE_URL must start with postgresql://")
        self.url = url
        self._timeout_s = timeout_s
        self._down_until = 0.0
        self.writes = 0  # write transactions committed by this process
        self._state = threading.Lock()
        self._pool = _open_pool(url, pool_size, timeout_s)
        try:
            with self.transaction(write=True) as conn:
                conn.execute(_FOLD)
        except BaseException:
            self._pool.close()
            raise

    def describe(self) -> str:
        return f"PostgreSQL at {redacted(self.url)}"

    def ddl(self, script: str) -> str:
        return _ddl(script)

    def follow_ids(self, conn: Connection, table: str, column: str) -> None:
        conn.execute(_follow_ids(table, column))

    def close(self) -> None:
        self._pool.close()

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Connection]:
        self._fail_fast()
        with self._errors(), self._pool.connection() as raw:
            raw.execute("BEGIN" if write else _READ)
            try:
                if write:
                    raw.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
                yield _PostgresConnection(raw)
                raw.execute("COMMIT")
                if write:
                    self._count_write()
            except BaseException:
                _roll_back(raw)
                raise

    def analyse(self) -> int:
        """Refresh the planner's statistics of the item tables; returns the items it counted (-1: it failed,
        which changes nothing else: autovacuum analyses them in its own time)."""
        try:
            with self._errors(), self._pool.connection() as raw:
                raw.execute("ANALYZE items, item_events")
                row = raw.execute("SELECT reltuples FROM pg_class WHERE oid = 'items'::regclass").fetchone()
        except ProviderError:
            return -1
        return int(row[0]) if row is not None else 0

    def _count_write(self) -> None:
        with self._state:
            self.writes += 1  # what a replica's quiet libraries are compared with (`quiet_feed`)

    def _fail_fast(self) -> None:
        with self._state:
            waiting = self._down_until - time.monotonic()
        if waiting > 0:
            raise ProviderError(f"PostgreSQL store unreachable at {redacted(self.url)}; retrying in {waiting:.1f} s")

    @contextmanager
    def _errors(self) -> Iterator[None]:
        import psycopg

        try:
            yield
        except psycopg.OperationalError as exc:  # the pool's timeout is one too
            with self._state:
                self._down_until = time.monotonic() + RETRY_AFTER_S
            raise ProviderError(f"PostgreSQL store unreachable at {redacted(self.url)}: {first_line(exc)}") from exc
        except psycopg.Error as exc:
            raise ProviderError(f"PostgreSQL store failed: {first_line(exc)}") from exc


class PostgresStore(SQLStore):
    """Libraries, items and their audit history in a PostgreSQL database that several processes share."""

    def __init__(
        self,
        url: str,
        *,
        clock: Callable[[], str] = utc_timestamp,
        limits: WriteLimits | None = None,
        poll_ms: int = POLL_MS,
    ) -> None:
        self._pg = PostgresConnector(url)
        self._quiet = QuietFeed(poll_ms)
        self._growth = GrowthTrigger(self._pg.analyse)
        super().__init__(self._pg, clock=clock, limits=limits)

    def _added(self, count: int) -> None:
        """A process that added as many items as the tables held when they were last analysed refreshes the
        planner's statistics (see `statistics`)."""
        self._growth.added(count)

    def changes_since(self, scope: Scope, seq: int) -> tuple[Change, ...]:
        """The library's events after ``seq``; a library found quiet less than ``poll_ms`` ago is not asked
        again, unless this process wrote since (see `quiet_feed`)."""
        writes = self._pg.writes
        if self._quiet.still_quiet(scope, seq, writes):
            return ()
        asked_at = self._quiet.now()
        changes = super().changes_since(scope, seq)
        if not changes:
            self._quiet.found_quiet(scope, seq, writes, asked_at)
        return changes


class _PostgresConnection:
    """A borrowed connection that speaks the mixins' dialect: ``?`` placeholders."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self._raw = raw

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor:
        return self._raw.execute(_placeholders(sql), tuple(parameters))

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor:
        cursor = self._raw.cursor()
        cursor.executemany(_placeholders(sql), [tuple(row) for row in parameters])
        return cursor


def _open_pool(url: str, size: int, timeout_s: float) -> ConnectionPool[Any]:
    try:
        import psycopg
        from psycopg_pool import ConnectionPool
    except ImportError as exc:
        raise ConfigurationError("a postgresql:// store needs psycopg[binary] and psycopg-pool installed") from exc
    # prepare_threshold None: no server-side prepared statements. A plan prepared while a table was small stays
    # in use as it grows (an id lookup scanned a whole library until autovacuum analysed it), and poolers in
    # front of hosted databases (PgBouncer in transaction mode) do not keep them.
    options = {"autocommit": True, "connect_timeout": max(1, round(timeout_s)), "application_name": "memtune",
               "prepare_threshold": None}  # fmt: skip
    pool: ConnectionPool[Any] = ConnectionPool(
        url, min_size=1, max_size=size, kwargs=options, timeout=timeout_s, open=False,
        check=ConnectionPool.check_connection, name="memtune",
    )  # fmt: skip
    try:
        pool.open(wait=True, timeout=timeout_s)
    except psycopg.Error as exc:
        pool.close()
        raise ProviderError(f"PostgreSQL store unreachable at {redacted(url)}: {first_line(exc)}") from exc
    return pool


def _roll_back(raw: psycopg.Connection[Any]) -> None:
    import psycopg

    if raw.closed:
        return
    with suppress(psycopg.Error):  # the pool discards a broken connection when it is given back
        raw.execute("ROLLBACK")


@lru_cache(maxsize=1024)
def _placeholders(sql: str) -> str:
    return sql.replace("?", "%s")


def _ddl(script: str) -> str:
    script = script.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
    script = re.sub(r"\bBLOB\b", "BYTEA", script)
    return re.sub(r"\bTEXT\b", 'TEXT COLLATE "C"', script)


def _follow_ids(table: str, column: str) -> str:
    # An identity column's sequence ignores rows written with their own numbers; without rows it stays as it is.
    return (f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), MAX({column})) FROM {table} "
            f"HAVING MAX({column}) IS NOT NULL")  # fmt: skip


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
