"""SQLiteStore against real SQLite files: schema, libraries, items, history, scoping, change feed."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakes import nested
from postgres_server import StoreOpener, open_store, postgres

from memory_core.errors import ConflictError, InvalidInputError, NotFoundError, ProviderError
from memory_core.models import ItemFilter, NewItem, Scope, utc_timestamp
from memory_core.store.schema import MIGRATIONS
from memory_core.store.sqlite import SQLiteStore, SQLStore

__all__ = ["open_store", "postgres"]  # the fixtures, imported for this module

SCOPE = Scope("alice", "luna", "main")
OTHER = Scope("alice", "luna", "work")


class TickingClock:
    """A deterministic clock: each call is one second after the previous one."""

    def __init__(self) -> None:
        self.moment = datetime(2024, 1, 1, tzinfo=UTC)

    def __call__(self) -> str:
        self.moment += timedelta(seconds=1)
        return utc_timestamp(self.moment)


@pytest.fixture
def store(open_store: Callable[..., SQLStore]) -> Iterator[SQLStore]:
    with open_store(clock=TickingClock()) as opened:
        opened.ensure_library(SCOPE)
        yield opened


def items_in(store: SQLStore, scope: Scope = SCOPE) -> list[str]:
    return [item.text for item in store.iter_items(scope)]


def add_texts(store: SQLStore, texts: list[str], scope: Scope = SCOPE) -> list[str]:
    return [item.id for item in store.add_items(scope, [NewItem(text=text) for text in texts])]


# Opening and migrations


def test_fresh_database_applies_every_migration(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "memory.sqlite3"
    with SQLiteStore(path) as store:
        assert store.path == path
    assert path.exists()
    assert _applied(path) == [name for name, _ in MIGRATIONS]


def test_old_database_gets_the_missing_steps(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    conn.executescript(MIGRATIONS[0][1])
    conn.execute("INSERT INTO schema_migrations VALUES (?, ?)", (MIGRATIONS[0][0], "2023-01-01T00:00:00.000000Z"))
    conn.execute("INSERT INTO libraries VALUES ('alice', 'luna', 'main', 'Old one', 'x', 'x')")
    conn.commit()
    conn.close()
    with SQLiteStore(path) as store:
        assert store.get_library(SCOPE).name == "Old one"
        store.add_items(SCOPE, [NewItem(text="works after upgrade")])
        assert items_in(store) == ["works after upgrade"]
    assert _applied(path) == [name for name, _ in MIGRATIONS]


def test_reopening_keeps_data_and_reapplies_nothing(tmp_path: Path) -> None:
    path = tmp_path / "memory.sqlite3"
    with SQLiteStore(path) as store:
        store.add_items(SCOPE, [NewItem(text="persisted")], create_library_name="Main")
    with SQLiteStore(path) as store:
        assert items_in(store) == ["persisted"]
    assert len(_applied(path)) == len(MIGRATIONS)


def test_file_database_uses_wal(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "memory.sqlite3") as store:
        store.ensure_library(SCOPE)
    conn = sqlite3.connect(store.path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_in_memory_store_works() -> None:
    with SQLiteStore(":memory:") as store:
        store.add_items(SCOPE, [NewItem(text="volatile")], create_library_name="Temp")
        assert items_in(store) == ["volatile"]


def test_closed_store_raises_provider_error(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "memory.sqlite3")
    store.close()
    with pytest.raises(ProviderError) as caught:
        store.list_libraries(SCOPE)
    assert isinstance(caught.value.__cause__, sqlite3.Error)


def _applied(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [row[0] for row in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
    finally:
        conn.close()


# Libraries


def test_ensure_library_is_idempotent(store: SQLStore) -> None:
    first = store.ensure_library(OTHER, "Work notes")
    again = store.ensure_library(OTHER, "Another name")
    assert again == first
    assert first.name == "Work notes"
    assert store.get_library(SCOPE).name == "Default memory"


def test_create_library_conflicts_and_validates_names(store: SQLStore) -> None:
    with pytest.raises(ConflictError, match="main"):
        store.create_library(SCOPE, "Again")
    assert store.create_library(OTHER, "  Work  ").name == "Work"
    assert store.create_library(SCOPE.with_library("blank"), "   ").name == "Default memory"
    with pytest.raises(InvalidInputError, match="200"):
        store.create_library(SCOPE.with_library("long"), "x" * 201)
    with pytest.raises(InvalidInputError):
        store.create_library(Scope("alice", "luna", "bad id"))


def test_get_missing_library(store: SQLStore) -> None:
    with pytest.raises(NotFoundError, match="library 'nope' not found"):
        store.get_library(SCOPE.with_library("nope"))


def test_list_libraries_orders_by_update_and_counts_items(store: SQLStore) -> None:
    store.create_library(OTHER, "Work")
    store.create_library(Scope("bob", "luna", "main"), "Bob's")
    assert [lib.id for lib in store.list_libraries(SCOPE)] == ["work", "main"]
    store.add_items(SCOPE, [NewItem(text=f"memory {n}") for n in range(1500)])
    listed = store.list_libraries(SCOPE)
    assert [(lib.id, lib.memory_count) for lib in listed] == [("main", 1500), ("work", 0)]
    assert store.get_library(SCOPE).memory_count == 1500


def test_rename_library_bumps_updated_at(store: SQLStore) -> None:
    before = store.get_library(SCOPE)
    renamed = store.rename_library(SCOPE, " Renamed ")
    assert renamed.name == "Renamed"
    assert renamed.updated_at > before.updated_at
    assert renamed.created_at == before.created_at
    with pytest.raises(InvalidInputError):
        store.rename_library(SCOPE, "  ")
    with pytest.raises(NotFoundError):
        store.rename_library(OTHER, "Nope")


def test_delete_library_removes_items_but_keeps_history(store: SQLStore) -> None:
    store.create_library(OTHER)
    ids = add_texts(store, ["one", "two", "three"])
    kept = add_texts(store, ["elsewhere"], OTHER)
    assert store.delete_library(SCOPE, source="ui") == 3
    assert [lib.id for lib in store.list_libraries(SCOPE)] == ["work"]
    events = store.history(SCOPE, ids[0])
    assert [(e.event, e.source) for e in events] == [("add", "api"), ("delete", "ui")]
    assert events[-1].before is not None and events[-1].before["text"] == "one"
    assert items_in(store, OTHER) == ["elsewhere"]
    assert store.get_item(OTHER, kept[0]).text == "elsewhere"
    with pytest.raises(NotFoundError):
        store.delete_library(SCOPE)


# Adding, reading, editing, deleting


def test_add_and_get_item(store: SQLStore) -> None:
    new = NewItem(
        text="  Likes green tea  ",
        type="preference",
        category="user_preference",
        confidence="high",
        metadata={"lang": "en", "tags": ["tea"]},
    )
    (added,) = store.add_items(SCOPE, [new], source="chat")
    assert len(added.id) == 32
    assert (added.text, added.source, added.library_id) == ("Likes green tea", "chat", "main")
    assert added.created_at == added.updated_at
    assert store.get_item(SCOPE, added.id) == added
    with pytest.raises(NotFoundError, match="memory item not found"):
        store.get_item(SCOPE, "missing")


def test_add_keeps_given_ids_sources_and_timestamps(store: SQLStore) -> None:
    new = NewItem(text="old", id="fixed-1", source="wechat", created_at="2020-05-01T10:00:00+02:00")
    (added,) = store.add_items(SCOPE, [new])
    assert (added.id, added.source, added.created_at) == ("fixed-1", "wechat", "2020-05-01T08:00:00.000000Z")
    assert added.updated_at.startswith("2024-01-01")


def test_add_needs_an_existing_library_unless_asked_to_create_it(store: SQLStore) -> None:
    with pytest.raises(NotFoundError):
        store.add_items(OTHER, [NewItem(text="x")])
    store.add_items(OTHER, [NewItem(text="x")], create_library_name="Work")
    assert store.get_library(OTHER).name == "Work"
    assert store.get_library(OTHER).memory_count == 1


def test_add_bumps_library_only_when_something_is_stored(store: SQLStore) -> None:
    add_texts(store, ["a"])
    stamp = store.get_library(SCOPE).updated_at
    store.add_items(SCOPE, [])
    assert store.get_library(SCOPE).updated_at == stamp
    add_texts(store, ["b"])
    assert store.get_library(SCOPE).updated_at > stamp


def test_duplicate_ids_in_one_batch_are_rejected(store: SQLStore) -> None:
    with pytest.raises(InvalidInputError, match="item 1 id 'same'"):
        store.add_items(SCOPE, [NewItem(text="a", id="same"), NewItem(text="b", id="same")])
    assert items_in(store) == []


def test_conflict_error_names_ids_and_writes_nothing(store: SQLStore) -> None:
    store.add_items(SCOPE, [NewItem(text="original", id="taken")])
    with pytest.raises(ConflictError, match="taken"):
        store.add_items(SCOPE, [NewItem(text="fresh", id="new"), NewItem(text="clash", id="taken")])
    assert items_in(store) == ["original"]


def test_conflict_skip_leaves_existing_items_alone(store: SQLStore) -> None:
    store.add_items(SCOPE, [NewItem(text="original", id="taken")])
    stored = store.add_items(SCOPE, [NewItem(text="clash", id="taken"), NewItem(text="fresh")], on_conflict="skip")
    assert [item.text for item in stored] == ["fresh"]
    assert store.get_item(SCOPE, "taken").text == "original"


def test_conflict_replace_updates_and_records_it(store: SQLStore) -> None:
    (original,) = store.add_items(SCOPE, [NewItem(text="original", id="taken")])
    (replaced,) = store.add_items(SCOPE, [NewItem(text="newer", id="taken", type="fact")], on_conflict="replace")
    assert (replaced.text, replaced.type, replaced.created_at) == ("newer", "fact", original.created_at)
    assert replaced.updated_at > original.updated_at
    assert store.get_item(SCOPE, "taken") == replaced
    events = store.history(SCOPE, "taken")
    assert [e.event for e in events] == ["add", "update"]
    assert events[1].before == original.to_dict() and events[1].after == replaced.to_dict()


def test_unknown_conflict_mode_is_rejected(store: SQLStore) -> None:
    with pytest.raises(InvalidInputError, match="on_conflict"):
        store.add_items(SCOPE, [NewItem(text="x")], on_conflict="merge")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (NewItem(text="   "), "item 1 text is empty"),
        (NewItem(text="x", type="opinion"), "item 1 type"),
        (NewItem(text="x", confidence="certain"), "item 1 confidence"),
        (NewItem(text="x", metadata={"when": datetime(2024, 1, 1)}), "item 1 metadata"),
        (NewItem(text="x", metadata={"n": float("nan")}), "item 1 metadata"),
        (NewItem(text="x", id="has space"), "item 1 id"),
        (NewItem(text="x", id="a/b"), "item 1 id"),
        (NewItem(text="x", created_at="yesterday"), "item 1 created_at"),
    ],
)
def test_invalid_items_are_rejected_and_nothing_is_written(store: SQLStore, bad: NewItem, message: str) -> None:
    cursor = store.change_cursor(SCOPE)
    with pytest.raises(InvalidInputError, match=message):
        store.add_items(SCOPE, [NewItem(text="fine"), bad, NewItem(text="also fine")])
    assert items_in(store) == []
    assert store.change_cursor(SCOPE) == cursor


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (NewItem(text="tea \ud800"), "item 1 text is not valid Unicode text"),
        (NewItem(text="x", category="\udfff"), "item 1 category is not valid Unicode text"),
        (NewItem(text="x", source="\ud800"), "item 1 source is not valid Unicode text"),
        (NewItem(text="x", id="a\ud800"), "item 1 id is not valid Unicode text"),
        (NewItem(text="x", metadata={"k": ["\ud800"]}), "item 1 metadata value is not valid Unicode text"),
        (NewItem(text="x", metadata={"\ud800": 1}), "item 1 metadata key is not valid Unicode text"),
        (NewItem(text="x", metadata=nested(300)), "item 1 metadata is nested deeper than 20 levels"),
        (NewItem(text="x", metadata=nested(100_000)), "item 1 metadata is nested deeper than 20 levels"),
        (NewItem(text="x", metadata={"k": "x" * 70_000}), "item 1 metadata is larger than 65536 bytes"),
    ],
)
def test_text_the_database_cannot_hold_is_rejected_before_writing(store: SQLStore, bad: NewItem, message: str) -> None:
    cursor = store.change_cursor(SCOPE)
    with pytest.raises(InvalidInputError, match=message):
        store.add_items(SCOPE, [NewItem(text="fine"), bad])
    assert items_in(store) == [] and store.change_cursor(SCOPE) == cursor
    assert store.list_items(SCOPE).total == 0


def test_edit_to_text_the_database_cannot_hold_changes_nothing(store: SQLStore) -> None:
    (item,) = store.add_items(SCOPE, [NewItem(text="keep me")])
    for changes in ({"text": "\ud800"}, {"category": "\ud800"}, {"metadata": nested(1_000)}):
        with pytest.raises(InvalidInputError):
            store.edit_item(SCOPE, item.id, **changes)
    assert store.get_item(SCOPE, item.id) == item
    assert [event.event for event in store.history(SCOPE, item.id)] == ["add"]


def test_one_bad_item_among_many_writes_nothing(store: SQLStore) -> None:
    batch = [NewItem(text=f"memory {n}") for n in range(500)]
    batch[250] = NewItem(text="")
    with pytest.raises(InvalidInputError, match="item 250"):
        store.add_items(SCOPE, batch, create_library_name="unused")
    assert store.get_library(SCOPE).memory_count == 0


def test_database_failure_mid_batch_rolls_everything_back(store: SQLStore, open_store: StoreOpener) -> None:
    if open_store.kind == "sqlite":
        refusal = (
            "CREATE TRIGGER refuse BEFORE INSERT ON items WHEN NEW.text = 'boom' BEGIN SELECT RAISE(ABORT, 'no'); END"
        )
    else:
        refusal = "ALTER TABLE items ADD CONSTRAINT refuse CHECK (text <> 'boom')"
    open_store.sql(refusal)
    batch = [NewItem(text=f"memory {n}") for n in range(100)] + [NewItem(text="boom")]
    with pytest.raises(ProviderError) as caught:
        store.add_items(OTHER, batch, create_library_name="Work")
    assert ("no" if open_store.kind == "sqlite" else '"refuse"') in str(caught.value)
    assert [lib.id for lib in store.list_libraries(SCOPE)] == ["main"]
    assert store.change_cursor(OTHER) == 0


def test_edit_item_changes_fields_and_records_before_and_after(store: SQLStore) -> None:
    (item,) = store.add_items(SCOPE, [NewItem(text="likes tea", metadata={"a": 1})])
    edited = store.edit_item(SCOPE, item.id, text="likes coffee", category="user_preference", metadata={"b": 2})
    assert (edited.text, edited.category, dict(edited.metadata)) == ("likes coffee", "user_preference", {"b": 2})
    assert (edited.type, edited.created_at) == (item.type, item.created_at)
    assert edited.updated_at > item.updated_at
    assert store.get_item(SCOPE, item.id) == edited
    assert store.get_library(SCOPE).updated_at == edited.updated_at
    last = store.history(SCOPE, item.id)[-1]
    assert (last.event, last.before, last.after) == ("update", item.to_dict(), edited.to_dict())


def test_edit_that_changes_nothing_records_nothing(store: SQLStore) -> None:
    (item,) = store.add_items(SCOPE, [NewItem(text="same", metadata={"k": "v"})])
    cursor = store.change_cursor(SCOPE)
    assert store.edit_item(SCOPE, item.id, text=" same ", metadata={"k": "v"}) == item
    assert store.change_cursor(SCOPE) == cursor


def test_invalid_edit_changes_nothing(store: SQLStore) -> None:
    (item,) = store.add_items(SCOPE, [NewItem(text="keep me")])
    for changes in ({"text": ""}, {"type": "bogus"}, {"confidence": "sure"}, {"metadata": {"x": {1, 2}}}):
        with pytest.raises(InvalidInputError):
            store.edit_item(SCOPE, item.id, **changes)
    assert store.get_item(SCOPE, item.id) == item
    with pytest.raises(NotFoundError):
        store.edit_item(SCOPE, "missing", text="x")


def test_delete_item(store: SQLStore) -> None:
    ids = add_texts(store, ["a", "b"])
    stamp = store.get_library(SCOPE).updated_at
    store.delete_item(SCOPE, ids[0])
    assert items_in(store) == ["b"]
    assert store.get_library(SCOPE).updated_at > stamp
    with pytest.raises(NotFoundError):
        store.delete_item(SCOPE, ids[0])


def test_bulk_delete_ignores_unknown_ids(store: SQLStore) -> None:
    ids = add_texts(store, [f"m{n}" for n in range(1200)])
    assert store.delete_items(SCOPE, [*ids[:1100], "unknown", ids[0]], source="bulk") == 1100
    assert store.get_library(SCOPE).memory_count == 100
    assert store.history(SCOPE, ids[5])[-1].source == "bulk"
    assert store.delete_items(SCOPE, ["unknown"]) == 0


# Listing


def test_list_orders_newest_first_then_id_descending(store: SQLStore) -> None:
    store.add_items(SCOPE, [NewItem(text="old", id="z", created_at="2020-01-01T00:00:00Z")])
    store.add_items(SCOPE, [NewItem(text=t, id=i) for i, t in [("a", "first"), ("c", "second"), ("b", "third")]])
    assert [item.id for item in store.list_items(SCOPE).items] == ["c", "b", "a", "z"]
    assert [item.id for item in store.iter_items(SCOPE)] == ["c", "b", "a", "z"]


def test_list_filters(store: SQLStore) -> None:
    store.add_items(
        SCOPE,
        [
            NewItem(text="Likes GREEN tea", type="preference", category="user_preference"),
            NewItem(text="Discount is 100% off", type="fact"),
            NewItem(text="Discount is 100x off", type="fact", category="goal_progress"),
            NewItem(text="snake_case names", type="note"),
            NewItem(text="ice cream", type="note", category="x"),
            NewItem(text="Émile lives in Paris", type="fact", category="entity_relation"),
            NewItem(text="喜欢绿茶", type="preference", category="user_preference"),
        ],
    )

    def texts(**criteria: str) -> list[str]:
        return sorted(item.text for item in store.iter_items(SCOPE, ItemFilter(**criteria)))

    assert texts(type="fact") == ["Discount is 100% off", "Discount is 100x off", "Émile lives in Paris"]
    assert texts(category="user_preference") == ["Likes GREEN tea", "喜欢绿茶"]
    assert texts(category="") == ["Discount is 100% off", "snake_case names"]
    assert texts(text_contains="green") == ["Likes GREEN tea"]
    assert texts(text_contains="100%") == ["Discount is 100% off"]
    assert texts(text_contains="e_c") == ["snake_case names"]
    assert texts(text_contains="émile") == ["Émile lives in Paris"]
    assert texts(text_contains="绿茶", type="preference") == ["喜欢绿茶"]
    assert store.list_items(SCOPE, ItemFilter(type="fact", text_contains="discount")).total == 2


def test_pagination_has_no_hidden_cap(store: SQLStore) -> None:
    store.add_items(SCOPE, [NewItem(text=f"memory {n:04d}", type="fact" if n % 2 else "note") for n in range(1234)])
    first = store.list_items(SCOPE, limit=100)
    assert (len(first.items), first.total) == (100, 1234)
    deep = store.list_items(SCOPE, offset=1200, limit=100)
    assert (len(deep.items), deep.total, deep.offset) == (34, 1234, 1200)
    facts = store.list_items(SCOPE, ItemFilter(type="fact"), offset=600, limit=50)
    assert (len(facts.items), facts.total) == (17, 617)
    everything = store.list_items(SCOPE, limit=10_000).items
    assert len(everything) == 1234
    assert list(store.iter_items(SCOPE)) == list(everything)
    assert len({item.id for item in store.iter_items(SCOPE, ItemFilter(type="fact"))}) == 617


@pytest.mark.parametrize(("offset", "limit"), [(-1, 10), (0, 0), (0, 10_001)])
def test_list_rejects_bad_paging(store: SQLStore, offset: int, limit: int) -> None:
    with pytest.raises(InvalidInputError):
        store.list_items(SCOPE, offset=offset, limit=limit)


def test_a_large_batch_is_stored_whole(store: SQLStore) -> None:
    # How long it takes is `python -m memory_core bench scale --items 100000` (store_add_ms), not a unit test's.
    stored = store.add_items(SCOPE, [NewItem(text=f"memory number {n}", metadata={"n": n}) for n in range(100_000)])
    assert len(stored) == 100_000
    assert store.get_library(SCOPE).memory_count == 100_000


# History


def test_history_add_update_delete(store: SQLStore) -> None:
    (item,) = store.add_items(SCOPE, [NewItem(text="v1")], source="chat")
    edited = store.edit_item(SCOPE, item.id, text="v2", source="ui")
    store.delete_item(SCOPE, item.id, source="ui")
    events = store.history(SCOPE, item.id)
    assert [(e.event, e.source) for e in events] == [("add", "chat"), ("update", "ui"), ("delete", "ui")]
    assert [e.seq for e in events] == sorted(e.seq for e in events)
    assert (events[0].before, events[0].after) == (None, item.to_dict())
    assert (events[1].before, events[1].after) == (item.to_dict(), edited.to_dict())
    assert (events[2].before, events[2].after) == (edited.to_dict(), None)
    assert all(e.item_id == item.id and e.library_id == "main" for e in events)
    with pytest.raises(NotFoundError):
        store.history(SCOPE, "never-existed")


# Scope isolation


def test_same_item_id_in_different_scopes_stays_separate(store: SQLStore) -> None:
    scopes = [SCOPE, Scope("bob", "luna", "main"), Scope("alice", "sol", "main"), OTHER]
    for scope in scopes:
        store.add_items(scope, [NewItem(text=f"{scope}", id="shared")], create_library_name="x")
    assert [store.get_item(scope, "shared").text for scope in scopes] == [str(scope) for scope in scopes]

    store.edit_item(scopes[0], "shared", text="edited")
    store.delete_item(scopes[1], "shared")
    assert store.get_item(scopes[2], "shared").text == str(scopes[2])
    assert store.get_item(scopes[3], "shared").text == str(scopes[3])
    assert [e.event for e in store.history(scopes[3], "shared")] == ["add"]
    assert [e.event for e in store.history(scopes[0], "shared")] == ["add", "update"]
    assert items_in(store, scopes[1]) == []
    assert [lib.id for lib in store.list_libraries(scopes[2])] == ["main"]
    assert {lib.id for lib in store.list_libraries(SCOPE)} == {"main", "work"}


def test_wrong_scope_sees_and_touches_nothing(store: SQLStore) -> None:
    (item,) = store.add_items(SCOPE, [NewItem(text="private")])
    strangers = [Scope("mallory", "luna", "main"), Scope("alice", "other", "main"), OTHER]
    store.ensure_library(strangers[0])
    for stranger in strangers:
        with pytest.raises(NotFoundError):
            store.get_item(stranger, item.id)
        with pytest.raises(NotFoundError):
            store.edit_item(stranger, item.id, text="hijacked")
        with pytest.raises(NotFoundError):
            store.delete_item(stranger, item.id)
        with pytest.raises(NotFoundError):
            store.history(stranger, item.id)
        assert store.delete_items(stranger, [item.id]) == 0
        assert store.list_items(stranger).total == 0
        assert store.items_by_id(stranger, [item.id]) == {}
        assert store.changes_since(stranger, 0) == ()
    assert store.get_item(SCOPE, item.id) == item
    assert [e.event for e in store.history(SCOPE, item.id)] == ["add"]


# Change feed


def test_change_feed_follows_adds_edits_and_deletes(store: SQLStore) -> None:
    store.create_library(OTHER)
    assert store.change_cursor(SCOPE) == 0
    a, b = add_texts(store, ["a", "b"])
    add_texts(store, ["noise"], OTHER)
    cursor = store.change_cursor(SCOPE)
    assert [(c.item_id, c.event) for c in store.changes_since(SCOPE, 0)] == [(a, "add"), (b, "add")]
    store.edit_item(SCOPE, a, text="a2")
    store.delete_item(SCOPE, b)
    changes = store.changes_since(SCOPE, cursor)
    assert [(c.item_id, c.event) for c in changes] == [(a, "update"), (b, "delete")]
    assert changes[-1].seq == store.change_cursor(SCOPE)
    assert store.items_by_id(SCOPE, [a, b, "ghost"]) == {a: store.get_item(SCOPE, a)}


def test_snapshot_pairs_cursor_with_items(store: SQLStore) -> None:
    add_texts(store, ["a", "b", "c"])
    cursor, items = store.snapshot(SCOPE)
    assert cursor == store.change_cursor(SCOPE)
    assert items == store.list_items(SCOPE).items
    assert store.changes_since(SCOPE, cursor) == ()


# Concurrency


def test_concurrent_writes_from_threads_all_land(store: SQLStore) -> None:
    def writer(worker: int) -> None:
        for batch in range(25):
            store.add_items(SCOPE, [NewItem(text=f"w{worker} b{batch} n{n}") for n in range(10)])

    _run_threads(writer)
    assert store.get_library(SCOPE).memory_count == 1000
    assert len(store.changes_since(SCOPE, 0)) == 1000


def test_concurrent_writes_through_separate_connections_all_land(store: SQLStore, open_store: StoreOpener) -> None:
    def writer(worker: int) -> None:
        with open_store() as own:
            for batch in range(10):
                own.add_items(SCOPE, [NewItem(text=f"w{worker} b{batch} n{n}") for n in range(10)])

    _run_threads(writer)
    assert store.get_library(SCOPE).memory_count == 400


def _run_threads(work: Callable[[int], None]) -> None:
    errors: list[BaseException] = []

    def guarded(worker: int) -> None:
        try:
            work(worker)
        except BaseException as exc:  # the assertion below reports it in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_a_conflict_names_ten_ids_and_counts_the_rest(store: SQLStore) -> None:
    ids = [f"id{n:02d}" for n in range(12)]
    store.add_items(SCOPE, [NewItem(text=i, id=i) for i in ids])
    with pytest.raises(ConflictError, match=f"^items already exist: {', '.join(sorted(ids)[:10])} and 2 more$"):
        store.add_items(SCOPE, [NewItem(text=i, id=i) for i in ids])
    with pytest.raises(ConflictError, match=f"^items already exist: {', '.join(ids[:10])}$"):
        store.add_items(SCOPE, [NewItem(text=i, id=i) for i in ids[:10]])


def test_history_events_carry_the_clocks_time(store: SQLStore) -> None:
    (item,) = store.add_items(SCOPE, [NewItem(text="a")])
    (event,) = store.history(SCOPE, item.id)
    assert event.at == item.created_at and event.at.startswith("2024-01-01T00:00:")


def test_bad_filters_are_named_in_the_error(store: SQLStore) -> None:
    for criteria, named in (({"type": 7}, "type filter"), ({"category": 7}, "category filter"),
                            ({"text_contains": 7}, "text filter")):  # fmt: skip
        with pytest.raises(InvalidInputError, match=f"^{named} must be a string"):
            store.list_items(SCOPE, ItemFilter(**criteria))  # type: ignore[arg-type]


def test_a_text_filter_matches_a_backslash_literally(store: SQLStore) -> None:
    add_texts(store, ["C:\\temp holds it", "C:temp holds it"])
    assert [i.text for i in store.iter_items(SCOPE, ItemFilter(text_contains="c:\\t"))] == ["C:\\temp holds it"]
