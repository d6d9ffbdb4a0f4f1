"""Taught examples: stored per character, embedded once, and the local judge follows them at once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from fakes import HashingEmbedder

from memory_core import InvalidInputError, NewItem, NotFoundError, Scope, SQLiteStore
from memory_core.store.schema import MIGRATIONS

VECTOR = np.ones(4, dtype=np.float32).tobytes()


# The store


def test_an_example_round_trips(store: SQLiteStore) -> None:
    taught = store.teach("tutor", "  what is my name again  ", True, VECTOR, "hashing-16", owner="alice")
    assert (taught.owner, taught.character_id, taught.text, taught.should_recall) == ("alice", "tutor",
            "what is my name again", True)  # fmt: skip
    assert taught.id.startswith("ex_") and taught.vector == VECTOR and taught.model == "hashing-16"
    assert store.taught_examples("tutor", owner="alice") == (taught,)
    assert store.taught_examples("tutor") == () and store.taught_examples("other", owner="alice") == ()


def test_examples_list_oldest_first_and_one_can_be_forgotten(store: SQLiteStore) -> None:
    first = store.teach("tutor", "first", True, VECTOR, "m")
    second = store.teach("tutor", "second", False, VECTOR, "m")
    assert store.taught_examples("tutor") == (first, second)
    store.forget_example(first.id, character_id="tutor")
    assert store.taught_examples("tutor") == (second,)


def test_forgetting_an_unknown_or_someone_elses_example_is_not_found(store: SQLiteStore) -> None:
    taught = store.teach("tutor", "mine", True, VECTOR, "m", owner="alice")
    with pytest.raises(NotFoundError):
        store.forget_example("ex_missing", character_id="tutor", owner="alice")
    with pytest.raises(NotFoundError):
        store.forget_example(taught.id, character_id="tutor", owner="bob")
    assert store.taught_examples("tutor", owner="alice") == (taught,)


@pytest.mark.parametrize(
    ("character_id", "text", "should_recall", "vector", "model", "owner"),
    [
        (" ", "text", True, VECTOR, "m", ""),
        ("a/b", "text", True, VECTOR, "m", ""),
        ("tutor", "   ", True, VECTOR, "m", ""),
        ("tutor", "\ud800", True, VECTOR, "m", ""),
        ("tutor", "x" * 20_001, True, VECTOR, "m", ""),
        ("tutor", "text", 1, VECTOR, "m", ""),
        ("tutor", "text", True, b"", "m", ""),
        ("tutor", "text", True, b"abc", "m", ""),
        ("tutor", "text", True, VECTOR, " ", ""),
        ("tutor", "text", True, VECTOR, "m", "bad owner"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(
    store: SQLiteStore, character_id: str, text: str, should_recall: bool, vector: bytes, model: str, owner: str
) -> None:
    with pytest.raises(InvalidInputError):
        store.teach(character_id, text, should_recall, vector, model, owner=owner)
    assert store.taught_examples("tutor") == ()


def test_the_migration_applies_to_an_existing_database(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with SQLiteStore(path) as store:
        store.add_items(Scope.of("alice", "tutor"), [NewItem(text="kept")], create_library_name="Main")
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE taught_examples")
    conn.execute("DELETE FROM schema_migrations WHERE name = '007_taught_examples'")
    conn.commit()
    conn.close()
    with SQLiteStore(path) as store:
        assert [item.text for item in store.iter_items(Scope.of("alice", "tutor"))] == ["kept"]
        assert store.teach("tutor", "works after upgrade", True, VECTOR, "m").text == "works after upgrade"
    assert MIGRATIONS[-1][0] == "007_taught_examples"


def test_purging_a_profile_removes_its_examples_only(store: SQLiteStore) -> None:
    store.teach("tutor", "alice's", True, VECTOR, "m", owner="alice")
    shared = store.teach("tutor", "everyone's", True, VECTOR, "m")
    bobs = store.teach("tutor", "bob's", False, VECTOR, "m", owner="bob")
    store.purge_profile("alice")
    assert store.taught_examples("tutor", owner="alice") == ()
    assert store.taught_examples("tutor") == (shared,) and store.taught_examples("tutor", owner="bob") == (bobs,)


def test_hashing_embedder_vectors_fit_the_store(store: SQLiteStore) -> None:
    vector = HashingEmbedder().embed(["hello"], kind="query")[0].astype(np.float32).tobytes()
    assert store.teach("tutor", "hello", False, vector, "hashing-16").vector == vector
