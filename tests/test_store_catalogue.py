"""The store's catalogue (characters, meta, whole profiles) and the contracts of its item calls that the
broader store tests leave implicit: defaults, boundaries and the words of its errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from postgres_server import open_store, postgres

from memory_core.errors import InvalidInputError, NotFoundError, QuotaError
from memory_core.models import MAX_PERSONA_LENGTH, NewItem, Scope
from memory_core.store.rows import MAX_OFFSET
from memory_core.store.sqlite import SQLiteStore, SQLStore

__all__ = ["open_store", "postgres"]  # the fixtures, imported for this module

SCOPE = Scope("alice", "luna", "main")


class OneItemEach:
    """Write limits of one memory of at most 40 characters per profile."""

    def max_items(self, profile_id: str) -> int | None:
        return 1

    def max_text(self, profile_id: str) -> int | None:
        return 40


@pytest.fixture
def store(open_store: Callable[..., SQLStore]) -> Iterator[SQLStore]:
    with open_store() as opened:
        opened.ensure_library(SCOPE)
        yield opened


# Characters


def test_a_saved_character_reads_back_with_its_persona_trimmed(store: SQLStore) -> None:
    saved = store.save_character("luna", "Luna", "  A calm guide.  ")
    assert (saved.id, saved.name, saved.persona) == ("luna", "Luna", "A calm guide.")
    assert store.get_character("luna") == saved


def test_a_character_without_a_name_is_named_by_its_id(store: SQLStore) -> None:
    assert store.save_character("mia", "", "").name == "mia"


def test_saving_again_updates_name_and_persona(store: SQLStore) -> None:
    store.save_character("luna", "Luna", "old")
    store.save_character("luna", "Luna II", "new")
    assert [(c.name, c.persona) for c in store.list_characters()] == [("Luna II", "new")]


def test_characters_are_listed_by_name_then_id(store: SQLStore) -> None:
    for character_id, name in (("c", "Bea"), ("b", "Ada"), ("a", "Bea")):
        store.save_character(character_id, name, "")
    assert [c.id for c in store.list_characters()] == ["b", "a", "c"]


def test_an_owned_character_is_invisible_to_other_owners(store: SQLStore) -> None:
    store.save_character("pet", "Pet", "mine", owner="alice")
    assert [c.id for c in store.list_characters(owner="alice")] == ["pet"]
    assert store.list_characters() == () and store.list_characters(owner="bob") == ()
    assert store.get_character("pet", owner="alice").persona == "mine"
    with pytest.raises(NotFoundError):
        store.get_character("pet")


def test_a_persona_may_be_exactly_the_maximum_but_not_longer(store: SQLStore) -> None:
    assert len(store.save_character("long", "Long", "x" * MAX_PERSONA_LENGTH).persona) == MAX_PERSONA_LENGTH
    with pytest.raises(InvalidInputError, match=f"persona must be text of at most {MAX_PERSONA_LENGTH}"):
        store.save_character("long", "Long", "x" * (MAX_PERSONA_LENGTH + 1))


def test_a_persona_that_is_not_text_is_refused(store: SQLStore) -> None:
    with pytest.raises(InvalidInputError, match=r"^persona must be text of at most"):
        store.save_character("luna", "Luna", 42)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=r"^persona is not valid Unicode text"):
        store.save_character("luna", "Luna", "\ud800")


def test_a_bad_character_id_is_named_in_the_error(store: SQLStore) -> None:
    for call in (lambda: store.save_character("", "x", ""), lambda: store.get_character(""),
                 lambda: store.delete_character("")):  # fmt: skip
        with pytest.raises(InvalidInputError, match=r"^character_id is required$"):
            call()


def test_deleting_a_character_removes_only_that_owners_entry(store: SQLStore) -> None:
    store.save_character("luna", "Luna", "shared")
    store.save_character("luna", "Luna", "alice's own", owner="alice")
    store.delete_character("luna", owner="alice")
    assert store.get_character("luna").persona == "shared"
    with pytest.raises(NotFoundError, match=r"^character 'luna' not found$"):
        store.delete_character("luna", owner="alice")


def test_deleting_a_character_keeps_its_memories(store: SQLStore) -> None:
    store.save_character("luna", "Luna", "")
    store.add_items(SCOPE, [NewItem(text="likes tea")])
    store.delete_character("luna")
    assert [item.text for item in store.iter_items(SCOPE)] == ["likes tea"]


# Meta


def test_meta_is_set_overwritten_read_and_deleted(store: SQLStore) -> None:
    assert store.get_meta("k") is None
    store.set_meta("k", "1")
    store.set_meta("k", "2")
    assert store.get_meta("k") == "2"
    store.delete_meta("k")
    assert store.get_meta("k") is None


def test_a_meta_prefix_is_matched_literally(store: SQLStore) -> None:
    for key in ("sbx_a", "sbx_b", "sbxXc", "other", "sbx%"):
        store.set_meta(key, key.upper())
    assert store.meta_with_prefix("sbx_") == {"sbx_a": "SBX_A", "sbx_b": "SBX_B"}
    assert store.meta_with_prefix("sbx%") == {"sbx%": "SBX%"}
    assert store.meta_with_prefix("nothing") == {}


# Whole profiles


def test_purging_a_profile_leaves_nothing_of_it_and_everything_else(store: SQLStore) -> None:
    work, bob = Scope("alice", "mia", "work"), Scope("bob", "luna", "main")
    for scope, text in ((SCOPE, "one"), (work, "two"), (work, "three"), (bob, "bob's")):
        store.add_items(scope, [NewItem(text=text)], create_library_name=scope.library_id)
    store.save_character("pet", "Pet", "", owner="alice")
    store.save_character("bobs", "Bobs", "", owner="bob")
    assert store.count_profile_items("alice") == 3
    assert store.purge_profile("alice") == 3
    assert store.count_profile_items("alice") == 0 and store.list_characters(owner="alice") == ()
    assert store.list_libraries(SCOPE) == () and store.list_libraries(work) == ()
    assert store.count_profile_items("bob") == 1 and [c.id for c in store.list_characters(owner="bob")] == ["bobs"]


def test_a_purged_profiles_history_is_gone_too(store: SQLStore) -> None:
    (item,) = store.add_items(SCOPE, [NewItem(text="one")])
    store.purge_profile("alice")
    with pytest.raises(NotFoundError, match=r"^memory item not found$"):
        store.history(SCOPE, item.id)
    with pytest.raises(NotFoundError, match=r"^memory item not found$"):
        store.get_item(SCOPE, item.id)


def test_profile_calls_name_a_bad_profile_id(store: SQLStore) -> None:
    for call in (store.count_profile_items, store.purge_profile):
        with pytest.raises(InvalidInputError, match=r"^profile_id is required$"):
            call("")


# Items: defaults, boundaries, the words of the errors


def test_every_item_call_names_a_bad_item_id(store: SQLStore) -> None:
    calls = (store.get_item, store.edit_item, store.delete_item, store.history, store.mark_seen)
    for call in calls:
        with pytest.raises(InvalidInputError, match=r"^item id is required$"):
            call(SCOPE, "")
    with pytest.raises(InvalidInputError, match=r"^item id must be a string"):
        store.delete_items(SCOPE, [42])  # type: ignore[list-item]


def test_one_string_of_ids_is_refused_with_a_reason(store: SQLStore) -> None:
    with pytest.raises(InvalidInputError, match=r"^item_ids must be a collection of ids, not one string$"):
        store.delete_items(SCOPE, "abc")


def test_changes_made_without_a_source_are_recorded_as_the_api(store: SQLStore) -> None:
    first, second, third = store.add_items(SCOPE, [NewItem(text=t) for t in ("a", "b", "c")])
    store.edit_item(SCOPE, first.id, text="a2")
    store.delete_item(SCOPE, second.id)
    store.delete_items(SCOPE, [third.id])
    sources = {item.id: [e.source for e in store.history(SCOPE, item.id)] for item in (first, second, third)}
    assert sources == {first.id: ["api", "api"], second.id: ["api", "api"], third.id: ["api", "api"]}


def test_deleting_a_library_records_the_api_as_the_source(store: SQLStore) -> None:
    (item,) = store.add_items(SCOPE, [NewItem(text="a")])
    assert store.delete_library(SCOPE) == 1
    assert [(e.event, e.source) for e in store.history(SCOPE, item.id)] == [("add", "api"), ("delete", "api")]


def test_a_page_is_fifty_items_by_default_and_echoes_its_bounds(store: SQLStore) -> None:
    store.add_items(SCOPE, [NewItem(text=f"fact {n}") for n in range(51)])
    page = store.list_items(SCOPE)
    assert (len(page.items), page.total, page.offset, page.limit) == (50, 51, 0, 50)
    assert store.list_items(SCOPE, limit=7).limit == 7


def test_the_last_allowed_offset_is_accepted(store: SQLStore) -> None:
    assert store.list_items(SCOPE, offset=MAX_OFFSET).items == ()
    with pytest.raises(InvalidInputError, match=f"offset must be 0 to {MAX_OFFSET}"):
        store.list_items(SCOPE, offset=MAX_OFFSET + 1)


def test_a_renamed_library_keeps_a_blank_name_out(store: SQLStore) -> None:
    assert store.rename_library(SCOPE, "Home").name == "Home"
    with pytest.raises(InvalidInputError):
        store.rename_library(SCOPE, "   ")


def test_editing_an_item_at_the_item_cap_is_allowed(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "capped.sqlite3", limits=OneItemEach()) as store:
        store.ensure_library(SCOPE)
        (item,) = store.add_items(SCOPE, [NewItem(text="short")])
        assert store.edit_item(SCOPE, item.id, text="still short").text == "still short"
        with pytest.raises(QuotaError, match="at most 40 characters"):
            store.edit_item(SCOPE, item.id, text="x" * 41)
        with pytest.raises(QuotaError, match="at most 1 memories"):
            store.add_items(SCOPE, [NewItem(text="another")])


def test_profiles_are_listed_once_each_in_order(store: SQLStore) -> None:
    for scope in (Scope("bob", "luna", "main"), Scope("alice", "mia", "work"), Scope("bob", "mia", "home")):
        store.ensure_library(scope)
    assert store.list_profiles() == ("alice", "bob")


def test_a_memory_seen_again_in_a_session_says_so_in_its_history(store: SQLStore) -> None:
    (item,) = store.add_items(SCOPE, [NewItem(text="likes tea")])
    store.mark_seen(SCOPE, item.id)
    assert [(e.event, e.source) for e in store.history(SCOPE, item.id)] == [("add", "api"), ("seen", "session")]


def test_superseding_needs_the_newer_item_and_ignores_unknown_old_ones(store: SQLStore) -> None:
    old, new = store.add_items(SCOPE, [NewItem(text="lives in Paris"), NewItem(text="lives in Lyon")])
    with pytest.raises(NotFoundError):
        store.supersede(SCOPE, [old.id], "missing")
    store.supersede(SCOPE, [old.id, "unknown"], new.id)
    assert store.get_item(SCOPE, old.id).metadata["superseded_by"] == new.id
    assert [(e.event, e.source) for e in store.history(SCOPE, old.id)] == [("add", "api"), ("superseded", "api")]
