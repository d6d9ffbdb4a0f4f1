"""What only the PostgreSQL store has: processes opening one database at once, a password never shown, the
settings that choose it, replicas that follow each other's writes, and the server going away mid-chat.

The store's behaviour itself is tested against both stores by the store test files (their `open_store`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import running_app
from gradio_client import Client
from postgres_server import PostgresServer, empty_database, postgres, running_postgres, wait_until_ready

from memory_core import MemoryEngine, NewItem, Scope, load_settings
from memory_core.errors import ConfigurationError, ProviderError
from memory_core.recall.lexical import BM25Retriever
from memory_core.store.postgres import RETRY_AFTER_S, PostgresStore
from memory_core.store.quiet_feed import QuietFeed
from memory_core.store.schema import MIGRATIONS
from memory_core.store.statistics import GrowthTrigger
from memory_core.wiring import open_catalogue, open_store

__all__ = ["postgres"]  # the fixture, imported for this module
SCOPE = Scope.of("alice", "mia", "main")


def test_processes_opening_one_new_database_at_once_migrate_it_once(postgres: PostgresServer) -> None:
    url = empty_database(postgres, "race")
    opened: list[PostgresStore] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            opened.append(PostgresStore(url))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in opened:
        store.close()
    assert errors == [] and len(opened) == 4
    with psycopg.connect(url) as conn:
        applied = [row[0] for row in conn.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()]
    assert applied == sorted(name for name, _ in MIGRATIONS)


def test_the_password_is_never_shown(postgres: PostgresServer) -> None:
    url = postgres.url.replace("memtune@", "memtune:hunter2@")
    settings = load_settings({"MEMTUNE_DATABASE_URL": url})
    with open_store(settings) as store:  # type: ignore[union-attr]
        assert isinstance(store, PostgresStore)
        assert store.describe() == f"PostgreSQL at 127.0.0.1:{postgres.port}/memtune"
    assert settings.provider_reason.endswith("; MEMTUNE_DATABASE_URL names the database")
    shown = dict(settings.describe())["MEMTUNE_DATABASE_URL"]
    assert shown == f"postgresql://127.0.0.1:{postgres.port}/memtune" and "hunter2" not in str(settings.describe())


@pytest.mark.parametrize("url", ["mysql://db/memtune", "postgresql://host-without-database", "http://x/y"])
def test_a_url_that_is_not_a_postgresql_database_is_refused_at_start(url: str) -> None:
    with pytest.raises(ConfigurationError, match="MEMTUNE_DATABASE_URL must look like postgresql://"):
        load_settings({"MEMTUNE_DATABASE_URL": url})


def test_mem0_keeps_its_catalogue_in_the_sqlite_file(tmp_path: Path, postgres: PostgresServer) -> None:
    settings = load_settings({"MEMTUNE_DATABASE_URL": postgres.url, "OPENTALKING_MEMORY_PROVIDER": "mem0",
                              "MEMTUNE_DATA_DIR": str(tmp_path)})  # fmt: skip
    with open_catalogue(settings) as store:
        assert store.describe() == "embedded SQLite"


def test_an_unreachable_server_at_start_is_a_clear_error() -> None:
    with pytest.raises(ProviderError, match=r"PostgreSQL store unreachable at 127\.0\.0\.1:1/memtune"):
        PostgresStore("postgresql://memtune@127.0.0.1:1/memtune")


def test_a_replica_recalls_another_replicas_write_at_its_next_search(postgres: PostgresServer) -> None:
    url = empty_database(postgres, "replicas")
    with PostgresStore(url) as one, PostgresStore(url, poll_ms=0) as other:
        one.ensure_library(SCOPE)
        reader = BM25Retriever(other)
        assert reader.search(SCOPE, "oolong tea", limit=3) == ()  # its index is built, empty
        (item,) = one.add_items(SCOPE, [NewItem(text="I like oolong tea")])
        assert [hit.item.id for hit in reader.search(SCOPE, "oolong tea", limit=3)] == [item.id]
        one.edit_item(SCOPE, item.id, text="I like green tea now")
        assert [hit.item.text for hit in reader.search(SCOPE, "green tea", limit=3)] == ["I like green tea now"]
        one.delete_item(SCOPE, item.id)
        assert reader.search(SCOPE, "green tea", limit=3) == ()


def test_a_replica_trusts_a_quiet_library_for_the_poll_delay_and_its_own_writes_at_once(
    postgres: PostgresServer,
) -> None:
    url = empty_database(postgres, "poll")
    with PostgresStore(url) as one, PostgresStore(url, poll_ms=300) as other:
        one.ensure_library(SCOPE)
        reader = BM25Retriever(other)
        assert reader.search(SCOPE, "oolong tea", limit=3) == ()  # found quiet now
        one.add_items(SCOPE, [NewItem(text="I like oolong tea")])
        written = time.monotonic()
        while not reader.search(SCOPE, "oolong tea", limit=3):
            time.sleep(0.02)
        assert time.monotonic() - written < 0.3 + 0.2  # within the delay (and a search's time)
        (own,) = other.add_items(SCOPE, [NewItem(text="I like green tea too")])
        assert own.id in [hit.item.id for hit in reader.search(SCOPE, "green tea", limit=3)]  # at once


# The server going away


@pytest.fixture
def own_server() -> Iterator[PostgresServer]:
    """A server of this test's own, which it may stop (the session's is shared)."""
    with running_postgres() as server:
        yield server


def test_a_chat_keeps_its_turns_while_the_database_is_down_and_recovers(own_server: PostgresServer) -> None:
    with PostgresStore(own_server.url) as store:
        engine = MemoryEngine(store, BM25Retriever(store), settings=load_settings({}))
        session = engine.open_session(SCOPE, enabled=True)
        engine.run_turn(session, "我喜欢在早上跑步")
        own_server.stop_server()
        trace = engine.run_turn(session, "我的目标是今年跑完一次全马")
        assert trace.reply and trace.write is not None and "PostgreSQL store unreachable" in trace.write.error
        assert len(session.pending_writes) == 1  # the turn's memory waits in the session
        started = time.monotonic()
        with pytest.raises(ProviderError, match="retrying in"):
            store.list_libraries(SCOPE)  # fails at once for a moment, not after the pool's timeout
        assert time.monotonic() - started < 0.5
        own_server.start_server()
        wait_until_ready(own_server)
        time.sleep(RETRY_AFTER_S)
        engine.run_turn(session, "我养了一只猫，叫小花")
        texts = {item.text for item in store.iter_items(SCOPE)}
        assert {"我喜欢在早上跑步", "我的目标是今年跑完一次全马", "我养了一只猫，叫小花"} <= texts
        assert session.pending_writes == []


def test_a_write_cut_off_by_the_server_stopping_leaves_nothing_half_done(own_server: PostgresServer) -> None:
    with PostgresStore(own_server.url) as store:
        store.ensure_library(SCOPE)
        own_server.stop_server()
        with pytest.raises(ProviderError, match="unreachable"):
            store.add_items(SCOPE, [NewItem(text=f"memory {n}") for n in range(200)])
        own_server.start_server()
        wait_until_ready(own_server)
        time.sleep(RETRY_AFTER_S)
        assert store.get_library(SCOPE).memory_count == 0 and store.change_cursor(SCOPE) == 0
        store.add_items(SCOPE, [NewItem(text="after the restart")])
        assert [item.text for item in store.iter_items(SCOPE)] == ["after the restart"]


def test_the_console_chats_on_through_a_database_restart(own_server: PostgresServer, tmp_path: Path) -> None:
    with running_app(tmp_path, MEMTUNE_DATABASE_URL=own_server.url) as url:
        client = Client(url, verbose=False)
        client.predict("default", "demo", "demo", True, "rule", "hybrid", api_name="/start_chat")
        own_server.stop_server()
        chat = client.predict("我的目标是今年跑完一次全马", False, api_name="/send")[0]
        reply = text_of(chat[-1])
        assert "Memory trouble" in reply and "PostgreSQL store unreachable" in reply and "1 write" in reply
        own_server.start_server()
        wait_until_ready(own_server)
        time.sleep(RETRY_AFTER_S)
        chat = client.predict("我养了一只猫，叫小花", False, api_name="/send")[0]
        assert "Memory trouble" not in text_of(chat[-1])  # recovered, no restart
        client.close()
    with psycopg.connect(own_server.url) as conn:
        texts = {row[0] for row in conn.execute("SELECT text FROM items WHERE library_id = 'demo'").fetchall()}
    assert {"我的目标是今年跑完一次全马", "我养了一只猫，叫小花"} <= texts  # no turn lost


def text_of(message: dict[str, Any]) -> str:
    content = message["content"]
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


def test_a_quiet_library_is_trusted_until_the_delay_passes_or_this_process_writes() -> None:
    now = [100.0]
    quiet = QuietFeed(250, monotonic=lambda: now[0])
    quiet.found_quiet(SCOPE, 7, writes=3, at=now[0])
    now[0] += 0.2
    assert quiet.still_quiet(SCOPE, 7, writes=3)
    assert not quiet.still_quiet(SCOPE, 7, writes=4)  # this process wrote since
    assert not quiet.still_quiet(SCOPE, 8, writes=3)  # another cursor
    assert not quiet.still_quiet(Scope.of("bob", "mia", "main"), 7, writes=3)
    now[0] += 0.06
    assert not quiet.still_quiet(SCOPE, 7, writes=3)  # the delay passed
    never = QuietFeed(0, monotonic=lambda: now[0])
    never.found_quiet(SCOPE, 7, writes=3, at=now[0])
    assert not never.still_quiet(SCOPE, 7, writes=3)


def test_statistics_are_refreshed_as_the_process_doubles_what_it_added() -> None:
    runs: list[int] = []
    trigger = GrowthTrigger(lambda: runs.append(len(runs)) or (len(runs) * 2_000))
    for _ in range(9):
        trigger.added(250)  # 2,250 items: the first ANALYZE at 1,000, the next when 2,000 more came
    assert len(runs) == 1
    trigger.added(1_000)
    assert len(runs) == 2


def test_a_bulk_load_analyses_the_item_tables(postgres: PostgresServer) -> None:
    url = empty_database(postgres, "analyse")
    with PostgresStore(url) as store:
        store.add_items(SCOPE, [NewItem(text=f"memory {n}") for n in range(1_200)], create_library_name="Main")
    with psycopg.connect(url) as conn:
        query = "SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL ORDER BY relname"
        assert [row[0] for row in conn.execute(query).fetchall()] == ["item_events", "items"]
