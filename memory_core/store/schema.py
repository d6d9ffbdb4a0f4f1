"""The SQLite schema as named migration steps, and opening a connection configured for the store."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import ProviderError

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
)


def connect(path: Path, *, in_memory: bool) -> sqlite3.Connection:
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


def migrate(conn: sqlite3.Connection, clock: Callable[[], str]) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for name, script in MIGRATIONS:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Checked inside the write lock: another process may have applied the step since we opened.
            if conn.execute("SELECT 1 FROM schema_migrations WHERE name = ?", (name,)).fetchone() is None:
                for statement in _statements(script):
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)", (name, clock()))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


def _statements(script: str) -> Iterator[str]:
    # executescript() would commit our open transaction, so the script runs one statement at a time.
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending.strip()
            pending = ""
