"""`bench scale` with a database URL: SQLite and PostgreSQL side by side, in a scratch schema that leaves the
database as it found it."""

from __future__ import annotations

import json

import psycopg
import pytest
from postgres_server import PostgresServer, empty_database, postgres

from memory_core.cli import main
from memory_core.errors import InvalidInputError
from memory_core.eval.benchmarks import run_scale
from memory_core.eval.scale_stores import SCOPE, SINGLE_ADDS
from memory_core.models import NewItem
from memory_core.store.postgres import PostgresStore
from memory_core.store.scratch import PREFIX, in_schema

__all__ = ["postgres"]  # the fixture, imported for this module
STORES = ("sqlite", "postgres")
TIMINGS = ("create_ms", "bulk_load_s", "bulk_per_item_us", "bulk_batch_p50_ms", "open_ms", "snapshot_ms",
           "cold_search_ms", "feed_check_p50_ms", "add_one_p50_ms", "p50_ms")  # fmt: skip


def test_both_stores_side_by_side_hold_the_same_items_and_recall_the_same_hits(postgres: PostgresServer) -> None:
    url = empty_database(postgres, "scale")
    with PostgresStore(url) as theirs:  # what the database already holds, in the bench's own library's scope
        theirs.add_items(SCOPE, [NewItem("not the bench's", "note", id="theirs")], create_library_name="theirs")
    result = run_scale(300, queries=20, database_url=url)
    assert (result["items"], result["queries"], result["single_adds"]) == (300, 20, SINGLE_ADDS)
    assert set(result["stores"]) == set(STORES) and result["same_hits"] is True
    sqlite, pg = (result["stores"][name] for name in STORES)
    assert sqlite["index_docs"] == pg["index_docs"] == 300 and sqlite["index_terms"] == pg["index_terms"] > 0
    assert sqlite["hits_sha256"] == pg["hits_sha256"] and sqlite["store"] == "embedded SQLite"
    assert pg["store"].startswith("PostgreSQL at") and PREFIX in result["database"]
    for figures in (sqlite, pg):
        assert all(figures[name] > 0 for name in TIMINGS), figures
        assert figures["p95_ms"] >= figures["p50_ms"] and figures["max_ms"] >= figures["p95_ms"]
        assert figures["add_one_p95_ms"] >= figures["add_one_p50_ms"] and figures["bulk_batches"] == 1
    assert set(result["postgres_over_sqlite"]) <= set(pg)
    with PostgresStore(url) as theirs:
        assert [item.id for item in theirs.list_items(SCOPE).items] == ["theirs"]
    with psycopg.connect(url) as conn:
        schemas = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (PREFIX + "%",)).fetchall()
    assert schemas == []


def test_a_database_url_is_postgresql_and_compares_the_bm25_index_only() -> None:
    with pytest.raises(InvalidInputError, match="postgresql://"):
        run_scale(10, queries=2, database_url="sqlite:///tmp/x")
    with pytest.raises(InvalidInputError, match="bm25"):
        run_scale(10, queries=2, scorer="rank-bm25", database_url="postgresql://localhost/x")


def test_the_scratch_schema_joins_the_urls_own_options() -> None:
    assert in_schema("postgresql://u@h:5/db", "s1") == "postgresql://u@h:5/db?options=-c%20search_path%3Ds1"
    joined = in_schema("postgresql://h/db?sslmode=require&options=-c%20work_mem%3D8MB", "s1")
    assert joined == "postgresql://h/db?sslmode=require&options=-c%20work_mem%3D8MB%20-c%20search_path%3Ds1"


def test_the_cli_runs_the_side_by_side_bench(postgres: PostgresServer, capsys: pytest.CaptureFixture[str]) -> None:
    url = empty_database(postgres, "scale_cli")
    assert main(["bench", "scale", "--items", "200", "--queries", "10", "--database-url", url]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["same_hits"] is True and set(result["stores"]) == set(STORES)
