"""`store copy`: a whole store between SQLite files and a real PostgreSQL, history numbers kept, resumable, verified."""

from __future__ import annotations

import io
import json
import re
import sqlite3
import struct
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from postgres_server import PostgresServer, StoreOpener, empty_database, open_store, postgres

from memory_core import InvalidInputError, NewItem, Scope
from memory_core.cli import main
from memory_core.store.copy import TABLES, Progress, copy_store, shown
from memory_core.store.postgres import PostgresStore
from memory_core.store.sqlite import SQLiteStore, SQLStore

__all__ = ["open_store", "postgres"]  # the fixtures, imported for this module

MAIN, WORK, BOB = Scope("alice", "luna", "main"), Scope("alice", "luna", "work"), Scope("bob", "sol", "default")
SCOPES = (MAIN, WORK, BOB)
HISTORIES = ((MAIN, "tea"), (MAIN, "cat"), (MAIN, "city"), (WORK, "days"), (BOB, "chess"))
MODEL = "test/hashing-4"
VECTORS = (struct.pack("<4f", 0.5, -1.0, 2.0, 0.0), struct.pack("<4f", 1.0, 0.25, -0.5, 3.0))
# What the filled store holds: 5 items added, one edited, one deleted (its history stays).
ROWS = {"libraries": 3, "items": 4, "item_events": 7, "characters": 2, "meta": 1, "item_vectors": 2,
        "taught_examples": 2}  # fmt: skip


class Interrupted(Exception):
    """A copy stopped half-way, as a killed process or a lost connection stops it."""


def fill(store: SQLStore) -> None:
    """Libraries of two profiles, items with edit and delete history, vectors, characters, lessons and meta."""
    store.add_items(MAIN, [NewItem("likes green tea", id="tea"), NewItem("has a cat named Miso", id="cat"),
                           NewItem("lives in Lyon", id="city", metadata={"né": "à Lyon"})],
                    create_library_name="Luna")  # fmt: skip
    store.add_items(WORK, [NewItem("works on Tuesdays", id="days")], create_library_name="Work")
    store.add_items(BOB, [NewItem("plays chess", id="chess")], create_library_name="Sol")
    store.edit_item(MAIN, "tea", text="likes jasmine tea")
    store.delete_item(MAIN, "cat")
    store.put_vectors(MAIN, MODEL, 4, [("tea", "hash-tea", VECTORS[0]), ("city", "hash-city", VECTORS[1])])
    store.save_character("luna", "Luna", "a patient tutor")
    store.save_character("mine", "Mine", "alice's own character", owner="alice")
    store.teach("luna", "what did I tell you", True, VECTORS[0], MODEL)
    store.teach("luna", "how tall is the eiffel tower", False, VECTORS[1], MODEL, owner="alice")
    store.set_meta("demo:seeded", "yes")


def contents(store: SQLStore) -> dict[str, Any]:
    """Everything a user of the store can read back of what `fill` wrote."""
    return {
        "libraries": [store.list_libraries(scope) for scope in SCOPES],
        "items": [store.list_items(scope, limit=100) for scope in SCOPES],
        "history": [store.history(scope, item_id) for scope, item_id in HISTORIES],
        "vectors": [store.vectors(scope, MODEL) for scope in SCOPES],
        "cursors": [store.change_cursor(scope) for scope in SCOPES],
        "characters": [store.list_characters(owner=owner) for owner in ("", "alice")],
        "taught": [store.taught_examples("luna", owner=owner) for owner in ("", "alice")],
        "meta": store.meta_with_prefix(""),
    }


@pytest.fixture
def source_file(tmp_path: Path) -> str:
    with SQLiteStore(tmp_path / "source.sqlite3") as store:
        fill(store)
    return str(tmp_path / "source.sqlite3")


def counts(report: Any, field: str) -> dict[str, int]:
    return {table.table: getattr(table, field) for table in report.tables}


def test_the_copy_knows_every_table_and_column_and_reads_in_primary_key_order(tmp_path: Path) -> None:
    SQLiteStore(tmp_path / "schema.sqlite3").close()
    query = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' AND name <> ?"
    with closing(sqlite3.connect(tmp_path / "schema.sqlite3")) as conn:
        info = {
            name: conn.execute(f"PRAGMA table_info({name})").fetchall()
            for (name,) in conn.execute(query, ("schema_migrations",))
        }
    assert {name: {row[1] for row in rows} for name, rows in info.items()} == {t.name: set(t.columns) for t in TABLES}
    primary = {name: sorted((row[5], row[1]) for row in rows if row[5]) for name, rows in info.items()}
    keys = {name: tuple(column for _, column in columns) for name, columns in primary.items()}
    assert keys == {table.name: table.key for table in TABLES}


def test_a_round_trip_through_postgres_keeps_everything(postgres: PostgresServer, tmp_path: Path) -> None:
    first, back = tmp_path / "first.sqlite3", tmp_path / "back.sqlite3"
    url = empty_database(postgres, "copy_trip")
    with SQLiteStore(first) as store:
        fill(store)
        expected = contents(store)
    there = copy_store(str(first), url, batch=2)
    again = copy_store(url, str(back), batch=3)
    assert there.ok and again.ok
    assert counts(there, "copied") == counts(again, "copied") == counts(again, "target_rows") == ROWS
    with PostgresStore(url) as middle, SQLiteStore(back) as last:
        assert contents(middle) == expected
        assert contents(last) == expected


def test_the_copy_numbers_new_rows_after_the_copied_ones(open_store: StoreOpener, source_file: str) -> None:
    assert copy_store(source_file, open_store.url("copied")).ok
    with open_store("copied") as store:
        store.add_items(MAIN, [NewItem("drinks it without sugar", id="sugar")])
        store.teach("luna", "and what else", True, VECTORS[0], MODEL)
        assert [event.seq for event in store.history(MAIN, "sugar")] == [ROWS["item_events"] + 1]
        assert store.change_cursor(MAIN) == ROWS["item_events"] + 1
        assert [example.text for example in store.taught_examples("luna")] == ["what did I tell you", "and what else"]
        assert store.get_library(MAIN).memory_count == 3


def test_an_interrupted_copy_resumes_and_duplicates_nothing(open_store: StoreOpener, source_file: str) -> None:
    def stop_in_items(progress: Progress) -> None:
        if progress.table == "items":
            raise Interrupted

    with pytest.raises(Interrupted):
        copy_store(source_file, open_store.url("copied"), batch=2, on_progress=stop_in_items)
    report = copy_store(source_file, open_store.url("copied"), batch=2)
    assert report.ok
    assert counts(report, "skipped") == {**dict.fromkeys(ROWS, 0), "libraries": 3, "items": 2}
    assert counts(report, "target_rows") == ROWS
    with SQLiteStore(source_file) as source, open_store("copied") as copied:
        assert contents(copied) == contents(source)


def test_a_copy_run_again_skips_every_row(open_store: StoreOpener, source_file: str) -> None:
    copy_store(source_file, open_store.url("copied"))
    report = copy_store(source_file, open_store.url("copied"))
    assert report.ok and counts(report, "copied") == dict.fromkeys(ROWS, 0) and counts(report, "skipped") == ROWS


def test_other_rows_under_the_same_keys_fail_verification_and_are_kept(
    open_store: StoreOpener, source_file: str
) -> None:
    with open_store("copied") as store:
        store.create_library(MAIN, "Someone else's")
        store.set_meta("demo:seeded", "no")
    report = copy_store(source_file, open_store.url("copied"))
    assert not report.ok
    assert {table.table for table in report.tables if not table.ok} == {"libraries", "meta"}
    assert counts(report, "target_rows") == ROWS  # the same keys, other contents: only the checksums tell
    with open_store("copied") as store:
        assert (store.get_library(MAIN).name, store.get_meta("demo:seeded")) == ("Someone else's", "no")


def test_the_cli_prints_each_table_then_one_json_line(open_store: StoreOpener, source_file: str) -> None:
    out = io.StringIO()
    argv = ["store", "copy", "--from", source_file, "--to", open_store.url("copied"), "--batch", "3"]
    assert main(argv, out=out) == 0
    *lines, last = out.getvalue().splitlines()
    summary = json.loads(last)
    assert (summary["store"], summary["ok"], summary["from"]) == ("copy", True, source_file)
    assert summary["tables"]["items"] == {"source_rows": 4, "target_rows": 4, "copied": 4, "skipped": 0,
                                          "checksum_ok": True}  # fmt: skip
    assert [line.split()[0] for line in lines[1:]] == [table.name for table in TABLES]


def test_the_cli_exits_1_when_the_copy_does_not_verify(open_store: StoreOpener, source_file: str) -> None:
    with open_store("copied") as store:
        store.save_character("luna", "Not Luna", "someone else")
    out = io.StringIO()
    assert main(["store", "copy", "--from", source_file, "--to", open_store.url("copied")], out=out) == 1
    *lines, last = out.getvalue().splitlines()
    assert json.loads(last)["ok"] is False
    assert json.loads(last)["tables"]["characters"]["checksum_ok"] is False
    assert lines[-1].startswith("verification failed: characters")


def test_a_missing_source_is_a_clear_error_and_nothing_is_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing, target = tmp_path / "missing.sqlite3", tmp_path / "target.sqlite3"
    with pytest.raises(InvalidInputError, match="no such SQLite file"):
        copy_store(str(missing), str(target))
    assert main(["store", "copy", "--from", str(missing), "--to", str(target)]) == 2
    assert capsys.readouterr().err == f"error: {missing}: no such SQLite file\n"
    assert not missing.exists() and not target.exists()


def test_sqlite_urls_name_files(source_file: str, tmp_path: Path) -> None:
    target = tmp_path / "by-url.sqlite3"
    assert copy_store(f"sqlite:///{source_file}", f"sqlite:///{target}").ok
    with SQLiteStore(target) as store:
        assert store.get_item(MAIN, "tea").text == "likes jasmine tea"


@pytest.mark.parametrize(
    ("ledger", "message"),
    [
        (
            "DELETE FROM schema_migrations WHERE name = '008_taught_order'",
            "is at an older schema .without 008_taught_order",
        ),
        (
            "INSERT INTO schema_migrations VALUES ('999_future', 'x')",
            "has schema steps this version does not know .999_future",
        ),
        ("DROP TABLE schema_migrations", "holds no Memtune store"),
    ],
)
def test_a_source_at_another_schema_is_refused_and_left_alone(
    source_file: str, tmp_path: Path, ledger: str, message: str
) -> None:
    with closing(sqlite3.connect(source_file)) as conn:
        conn.execute(ledger)
        conn.commit()
    with pytest.raises(InvalidInputError, match=f"the source {re.escape(source_file)} {message}"):
        copy_store(source_file, str(tmp_path / "target.sqlite3"))
    with closing(sqlite3.connect(source_file)) as conn:
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'schema_migrations'").fetchall() == (
            [] if ledger.startswith("DROP") else [("schema_migrations",)]
        )
        if ledger.startswith("DELETE"):  # never migrated by a copy
            assert conn.execute("SELECT 1 FROM schema_migrations WHERE name = '008_taught_order'").fetchall() == []


@pytest.mark.parametrize(
    ("target", "batch", "message"),
    [
        ("{source}", 500, "the same store"),
        ("sqlite:///{source}", 500, "the same store"),
        ("mysql://localhost/memtune", 500, "a SQLite file, sqlite:///path or postgresql://"),
        ("{folder}/target.sqlite3", 0, "--batch must be from 1 to 10000"),
    ],
)
def test_bad_arguments_are_refused(source_file: str, tmp_path: Path, target: str, batch: int, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        copy_store(source_file, target.format(source=source_file, folder=tmp_path), batch=batch)


def test_a_database_url_is_shown_without_its_password() -> None:
    assert shown("postgresql://memtune:s3cret@db.example:5433/memory") == "postgresql://db.example:5433/memory"
