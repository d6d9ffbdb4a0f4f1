"""The schema as named migration steps, written in SQLite's dialect (a connector translates its DDL)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator

from .connection import Connection, Connector

MIGRATIONS: tuple[tuple[str, str], ...] = (
    (
        "001_libraries",
        """
        CREATE TABLE libraries (
            profile_id TEXT NOT NULL, character_id TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
            PRIMARY KEY (profile_id, character_id, id)
        );
        """,
    ),
    (
        "002_items",
        """
        CREATE TABLE items (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL, text TEXT NOT NULL, type TEXT NOT NULL, category TEXT NOT NULL,
            confidence TEXT NOT NULL, source TEXT NOT NULL, metadata_json TEXT NOT NULL,
            profile_id TEXT NOT NULL, character_id TEXT NOT NULL, library_id TEXT NOT NULL,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
            UNIQUE (profile_id, character_id, library_id, id),
            FOREIGN KEY (profile_id, character_id, library_id)
                REFERENCES libraries (profile_id, character_id, id) ON DELETE CASCADE
        );
        CREATE INDEX items_by_created ON items (profile_id, character_id, library_id, created_at, id);
        """,
    ),
    (
        "003_item_events",
        """
        CREATE TABLE item_events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            profile_id TEXT NOT NULL, character_id TEXT NOT NULL, library_id TEXT NOT NULL,
            item_id TEXT NOT NULL, event TEXT NOT NULL, at TEXT NOT NULL, source TEXT NOT NULL,
            before_json TEXT, after_json TEXT
        );
        CREATE INDEX item_events_by_library ON item_events (profile_id, character_id, library_id, seq);
        CREATE INDEX item_events_by_item ON item_events (profile_id, character_id, library_id, item_id, seq);
        """,
    ),
    (
        "004_characters_and_meta",
        """
        CREATE TABLE characters (
            id TEXT PRIMARY KEY, name TEXT NOT NULL, persona TEXT NOT NULL,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL
        );
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        """,
    ),
    (
        "005_item_vectors",
        """
        CREATE TABLE item_vectors (
            profile_id TEXT NOT NULL, character_id TEXT NOT NULL, library_id TEXT NOT NULL, item_id TEXT NOT NULL,
            model TEXT NOT NULL, dims INTEGER NOT NULL, text_hash TEXT NOT NULL, vector BLOB NOT NULL,
            PRIMARY KEY (profile_id, character_id, library_id, item_id, model),
            FOREIGN KEY (profile_id, character_id, library_id, item_id)
                REFERENCES items (profile_id, character_id, library_id, id) ON DELETE CASCADE
        );
        """,
    ),
    (
        # A character belongs to everyone (owner '') or to one profile: a public sandbox's own characters.
        "006_character_owner",
        """
        CREATE TABLE characters_owned (
            owner TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, persona TEXT NOT NULL,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
            PRIMARY KEY (owner, id)
        );
        INSERT INTO characters_owned SELECT '', id, name, persona, created_at, updated_at FROM characters;
        DROP TABLE characters;
        ALTER TABLE characters_owned RENAME TO characters;
        CREATE INDEX items_by_profile ON items (profile_id);
        CREATE INDEX item_events_by_profile ON item_events (profile_id);
        """,
    ),
    (
        # A user's corrections of recall decisions, per character; the local judge reads them at once.
        "007_taught_examples",
        """
        CREATE TABLE taught_examples (
            owner TEXT NOT NULL, character_id TEXT NOT NULL, id TEXT NOT NULL, text TEXT NOT NULL,
            should_recall INTEGER NOT NULL, model TEXT NOT NULL, vector BLOB NOT NULL, created_at TEXT NOT NULL,
            PRIMARY KEY (owner, character_id, id)
        );
        """,
    ),
    (
        # Taught examples keep the order they were taught in without SQLite's rowid, which other databases lack;
        # examples taught before this step are numbered by time, then id.
        "008_taught_order",
        """
        ALTER TABLE taught_examples ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
        UPDATE taught_examples SET seq = (
            SELECT COUNT(*) FROM taught_examples t
            WHERE t.created_at < taught_examples.created_at
                OR (t.created_at = taught_examples.created_at AND t.id <= taught_examples.id)
        );
        """,
    ),
)


_LEDGER = "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"


def migrate(connector: Connector, clock: Callable[[], str]) -> None:
    """Apply the steps not yet applied, each in its own write transaction; two processes opening one database at
    once apply each step once (the check runs inside the write lock)."""
    with connector.transaction(write=True) as conn:
        conn.execute(connector.ddl(_LEDGER))
        applied = {str(row[0]) for row in conn.execute("SELECT name FROM schema_migrations").fetchall()}
    for name, script in MIGRATIONS:
        if name not in applied:
            with connector.transaction(write=True) as conn:
                _apply(conn, connector.ddl(script), name, clock)


def _apply(conn: Connection, script: str, name: str, clock: Callable[[], str]) -> None:
    # Checked again inside the write lock: another process may have applied the step since we looked.
    if conn.execute("SELECT 1 FROM schema_migrations WHERE name = ?", (name,)).fetchone() is None:
        for statement in _statements(script):
            conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)", (name, clock()))


def _statements(script: str) -> Iterator[str]:
    # executescript() would commit our open transaction, so the script runs one statement at a time.
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending.strip()
            pending = ""
