"""A scratch schema in a PostgreSQL database: a store opened in it starts empty, and nothing is left behind.

What a benchmark needs from a database it is lent: it never reads, clears or overwrites what the database already
holds (a Memtune store in ``public`` included); it makes a schema of its own, points the store's search path at
it, and drops it with everything in it afterwards, failure or not.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from ..config_values import redacted
from ..errors import ConfigurationError, InvalidInputError, ProviderError
from .postgres import TIMEOUT_S, first_line, is_postgres_url

if TYPE_CHECKING:
    from psycopg import sql

PREFIX = "memtune_scratch_"


@contextmanager
def scratch_schema(url: str) -> Iterator[tuple[str, str]]:
    """(a new schema's name, ``url`` with its search path set to that schema) for the block; the schema is dropped
    afterwards with everything in it. Needs CREATE on the database (its owner has it)."""
    if not is_postgres_url(url):
        raise InvalidInputError("the database URL must start with postgresql://")
    from psycopg import sql

    name = PREFIX + secrets.token_hex(4)
    _run(url, sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        yield name, in_schema(url, name)
    finally:
        _run(url, sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


def in_schema(url: str, schema: str) -> str:
    """``url`` whose connections look for tables (and make them) in ``schema`` only: its ``options`` gain a
    ``search_path`` (libpq decodes %20, not ``+``, so the query is percent-encoded)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    options = [value for key, value in query if key == "options"]
    rest = [(key, value) for key, value in query if key != "options"]
    query = [*rest, ("options", " ".join([*options, f"-c search_path={schema}"]))]
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def _run(url: str, statement: sql.Composed) -> None:
    try:
        import psycopg
    except ImportError as exc:
        raise ConfigurationError("a postgresql:// store needs psycopg[binary] and psycopg-pool installed") from exc
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=max(1, round(TIMEOUT_S))) as conn:
            conn.execute(statement)
    except psycopg.Error as exc:
        raise ProviderError(f"PostgreSQL at {redacted(url)}: {first_line(exc)}") from exc
