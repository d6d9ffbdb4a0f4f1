"""Taught examples: stored per character, embedded once, and the local judge follows them at once."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fakes import HashingEmbedder
from fastapi import FastAPI
from fastapi.testclient import TestClient
from postgres_server import StoreOpener, open_store, postgres
from test_local_judge import ROWS

from console.rest import build_router
from console.rest_errors import install_error_handlers
from memory_core import (
    BM25Retriever,
    ConfigurationError,
    InvalidInputError,
    MemoryEngine,
    NewItem,
    NotFoundError,
    RecallDecider,
    Scope,
    SQLiteStore,
    load_settings,
)
from memory_core.decide.local_judge import TAUGHT_RADIUS, LocalJudge, train
from memory_core.models import NewTaughtExample
from memory_core.recall.dense import DenseRetriever
from memory_core.recall.fusion import FusionRetriever
from memory_core.store.schema import MIGRATIONS
from memory_core.store.sqlite import SQLStore

VECTOR = np.ones(4, dtype=np.float32).tobytes()


# The store


__all__ = ["open_store", "postgres"]  # the fixtures, imported for this module


@pytest.fixture
def store(open_store: StoreOpener) -> Iterator[SQLStore]:
    """Each test on SQLite and on PostgreSQL: the taught examples, and the engine and REST layer over them."""
    with open_store() as opened:
        yield opened


def test_an_example_round_trips(store: SQLStore) -> None:
    taught = store.teach("tutor", "  what is my name again  ", True, VECTOR, "hashing-16", owner="alice")
    assert (taught.owner, taught.character_id, taught.text, taught.should_recall) == ("alice", "tutor",
            "what is my name again", True)  # fmt: skip
    assert taught.id.startswith("ex_") and taught.vector == VECTOR and taught.model == "hashing-16"
    assert store.taught_examples("tutor", owner="alice") == (taught,)
    assert store.taught_examples("tutor") == () and store.taught_examples("other", owner="alice") == ()


def test_examples_list_oldest_first_and_one_can_be_forgotten(store: SQLStore) -> None:
    first = store.teach("tutor", "first", True, VECTOR, "m")
    second = store.teach("tutor", "second", False, VECTOR, "m")
    assert store.taught_examples("tutor") == (first, second)
    store.forget_example(first.id, character_id="tutor")
    assert store.taught_examples("tutor") == (second,)


def test_forgetting_an_unknown_or_someone_elses_example_is_not_found(store: SQLStore) -> None:
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
    store: SQLStore, character_id: str, text: str, should_recall: bool, vector: bytes, model: str, owner: str
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
    conn.execute("DELETE FROM schema_migrations WHERE name IN ('007_taught_examples', '008_taught_order')")
    conn.commit()
    conn.close()
    with SQLiteStore(path) as store:
        assert [item.text for item in store.iter_items(Scope.of("alice", "tutor"))] == ["kept"]
        assert store.teach("tutor", "works after upgrade", True, VECTOR, "m").text == "works after upgrade"
    assert [name for name, _ in MIGRATIONS[-2:]] == ["007_taught_examples", "008_taught_order"]


def test_examples_taught_before_the_order_step_keep_their_order(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with SQLiteStore(path, clock=lambda: "2026-01-01T00:00:00Z") as store:
        store.add_taught_examples("tutor", [NewTaughtExample(text, True, "m", VECTOR) for text in ("b", "a", "c")])
    conn = sqlite3.connect(path)
    conn.execute("ALTER TABLE taught_examples DROP COLUMN seq")
    conn.execute("DELETE FROM schema_migrations WHERE name = '008_taught_order'")
    conn.commit()
    conn.close()
    with SQLiteStore(path) as store:
        before = [example.id for example in store.taught_examples("tutor")]
        assert before == sorted(before)  # one timestamp: numbered by id
        later = store.teach("tutor", "d", True, VECTOR, "m")
        assert store.taught_examples("tutor")[-1] == later


def test_purging_a_profile_removes_its_examples_only(store: SQLStore) -> None:
    store.teach("tutor", "alice's", True, VECTOR, "m", owner="alice")
    shared = store.teach("tutor", "everyone's", True, VECTOR, "m")
    bobs = store.teach("tutor", "bob's", False, VECTOR, "m", owner="bob")
    store.purge_profile("alice")
    assert store.taught_examples("tutor", owner="alice") == ()
    assert store.taught_examples("tutor") == (shared,) and store.taught_examples("tutor", owner="bob") == (bobs,)


def test_hashing_embedder_vectors_fit_the_store(store: SQLStore) -> None:
    vector = HashingEmbedder().embed(["hello"], kind="query")[0].astype(np.float32).tobytes()
    assert store.teach("tutor", "hello", False, vector, "hashing-16").vector == vector


# The decision

TAUGHT = "how tall is the eiffel tower"  # the judge's training says: no recall
PARAPHRASE = "so how tall is the eiffel tower"  # cosine 0.97 under the hashing embedder
UNRELATED = "what is the capital of peru"  # cosine 0.60
HYBRID = {"OPENTALKING_MEMORY_DECISION_MODE": "hybrid", "OPENTALKING_MEMORY_ENABLED": "true"}


@pytest.fixture(scope="module")
def embedder() -> HashingEmbedder:
    return HashingEmbedder(dims=64)


@pytest.fixture(scope="module")
def decider(embedder: HashingEmbedder) -> RecallDecider:
    return RecallDecider(None, LocalJudge(embedder, train(ROWS, embedder)))


def teach(store: SQLStore, embedder: HashingEmbedder, text: str, should_recall: bool, model: str = "") -> bytes:
    vector = embedder.embed([text], kind="query")[0].astype(np.float32).tobytes()
    store.teach("tutor", text, should_recall, vector, model or embedder.name)
    return vector


def test_a_taught_example_decides_a_near_paraphrase_and_names_itself(
    store: SQLStore, embedder: HashingEmbedder, decider: RecallDecider
) -> None:
    assert not decider.decide(PARAPHRASE, mode="hybrid").should_recall
    teach(store, embedder, TAUGHT, True)
    decision = decider.decide(PARAPHRASE, mode="hybrid", taught=store.taught_examples("tutor"))
    assert decision.should_recall and decision.decided_by == "taught_example" and decision.reason == "taught_example"
    assert repr(TAUGHT) in decision.evidence and "similarity 0.97" in decision.evidence
    assert decision.categories and decision.query == PARAPHRASE


def test_an_unrelated_message_is_left_to_the_judge(
    store: SQLStore, embedder: HashingEmbedder, decider: RecallDecider
) -> None:
    teach(store, embedder, TAUGHT, True)
    decision = decider.decide(UNRELATED, mode="hybrid", taught=store.taught_examples("tutor"))
    assert decision.decided_by == "local_judge" and not decision.should_recall
    assert TAUGHT_RADIUS == 0.9


def test_taught_examples_apply_in_llm_mode_but_not_in_rule_mode(
    store: SQLStore, embedder: HashingEmbedder, decider: RecallDecider
) -> None:
    teach(store, embedder, "where does my sister live", False)  # the rules would recall it
    taught = store.taught_examples("tutor")
    assert decider.decide("where does my sister live now", mode="llm", taught=taught).decided_by == "taught_example"
    assert not decider.decide("where does my sister live now", mode="llm", taught=taught).should_recall
    rule = decider.decide("where does my sister live now", mode="rule", taught=taught)
    assert rule.decided_by == "rule" and rule.should_recall


def test_an_example_of_another_model_is_not_compared(
    store: SQLStore, embedder: HashingEmbedder, decider: RecallDecider
) -> None:
    teach(store, embedder, TAUGHT, True, model="another-model")
    decision = decider.decide(PARAPHRASE, mode="hybrid", taught=store.taught_examples("tutor"))
    assert decision.decided_by == "local_judge"


def test_a_hard_reject_stays_rejected(store: SQLStore, embedder: HashingEmbedder, decider: RecallDecider) -> None:
    teach(store, embedder, "hi", True)
    decision = decider.decide("hi", mode="llm", taught=store.taught_examples("tutor"))
    assert decision.decided_by == "rule" and not decision.should_recall


# The engine


def dense_engine(store: SQLStore, embedder: HashingEmbedder, decider: RecallDecider) -> MemoryEngine:
    retriever = FusionRetriever(BM25Retriever(store), DenseRetriever(store, embedder))
    return MemoryEngine(store, retriever, settings=load_settings(HYBRID), decider=decider)


def test_the_engine_teaches_once_and_the_next_turn_follows(
    store: SQLStore, embedder: HashingEmbedder, decider: RecallDecider
) -> None:
    engine = dense_engine(store, embedder, decider)
    scope = Scope.of("alice", "tutor")
    session = engine.open_session(scope)
    first = engine.run_turn(session, PARAPHRASE).decision
    assert first is not None and first.decided_by == "local_judge"
    taught = engine.teach(scope, TAUGHT, True)
    assert (taught.owner, taught.character_id, taught.model) == ("alice", "tutor", embedder.name)
    decision = engine.run_turn(session, PARAPHRASE).decision
    assert decision is not None and decision.decided_by == "taught_example" and decision.should_recall
    other = engine.run_turn(engine.open_session(Scope.of("bob", "tutor")), PARAPHRASE).decision
    assert other is not None and other.decided_by == "local_judge"  # alice's correction is hers


def test_forgetting_the_example_restores_the_old_decision(
    store: SQLStore, embedder: HashingEmbedder, decider: RecallDecider
) -> None:
    engine = dense_engine(store, embedder, decider)
    scope = Scope.of("alice", "tutor")
    session = engine.open_session(scope)
    before = engine.run_turn(session, PARAPHRASE).decision
    taught = engine.teach(scope, TAUGHT, True)
    store.forget_example(taught.id, character_id="tutor", owner="alice")
    after = engine.run_turn(session, PARAPHRASE).decision
    assert before is not None and after is not None
    old = (before.decided_by, before.should_recall)
    assert (after.decided_by, after.should_recall) == old == ("local_judge", False)


def test_shared_examples_apply_to_every_profile(
    store: SQLStore, embedder: HashingEmbedder, decider: RecallDecider
) -> None:
    engine = dense_engine(store, embedder, decider)
    teach(store, embedder, TAUGHT, True)
    assert [e.text for e in engine.taught_examples(Scope.of("bob", "tutor"))] == [TAUGHT]
    decision = engine.run_turn(engine.open_session(Scope.of("bob", "tutor")), PARAPHRASE).decision
    assert decision is not None and decision.decided_by == "taught_example"


def test_teaching_without_an_embedder_is_a_configuration_error(store: SQLStore) -> None:
    engine = MemoryEngine(store, BM25Retriever(store), settings=load_settings({}))
    with pytest.raises(ConfigurationError, match="embedder"):
        engine.teach(Scope.of("alice", "tutor"), TAUGHT, True)
    assert store.taught_examples("tutor", owner="alice") == ()


# The REST API

EXAMPLES = "/memory/characters/tutor/examples"
AUTH = {"Authorization": "Bearer s3cret"}


def rest_client(engine: MemoryEngine) -> TestClient:
    app = FastAPI()
    app.include_router(build_router(engine))
    install_error_handlers(app)
    return TestClient(app)


def test_rest_creates_lists_and_deletes_examples(
    store: SQLStore, embedder: HashingEmbedder, decider: RecallDecider
) -> None:
    engine = dense_engine(store, embedder, decider)
    engine.settings = load_settings({**HYBRID, "MEMTUNE_API_TOKEN": "s3cret"})
    with rest_client(engine) as client:
        made = client.post(EXAMPLES, params={"profile_id": "alice"}, json={"text": TAUGHT, "should_recall": True},
                           headers=AUTH)  # fmt: skip
        assert made.status_code == 201, made.text
        example = made.json()
        assert {k: example[k] for k in ("profile_id", "character_id", "text", "should_recall", "model")} == {
            "profile_id": "alice", "character_id": "tutor", "text": TAUGHT, "should_recall": True,
            "model": embedder.name}  # fmt: skip
        listed = client.get(EXAMPLES, params={"profile_id": "alice"}, headers=AUTH)
        assert listed.status_code == 200 and listed.json() == {"items": [example]}
        assert client.get(EXAMPLES, headers=AUTH).json() == {"items": []}  # the default profile has none
        gone = client.delete(f"{EXAMPLES}/{example['id']}", params={"profile_id": "alice"}, headers=AUTH)
        assert gone.status_code == 200 and gone.json() == {"deleted": True}
        assert client.get(EXAMPLES, params={"profile_id": "alice"}, headers=AUTH).json() == {"items": []}


def test_rest_recall_follows_the_taught_example(
    store: SQLStore, embedder: HashingEmbedder, decider: RecallDecider
) -> None:
    engine = dense_engine(store, embedder, decider)
    with rest_client(engine) as client:
        client.post("/memory/libraries", json={"id": "default", "character_id": "tutor", "profile_id": "alice"})
        client.post(EXAMPLES, params={"profile_id": "alice"}, json={"text": TAUGHT, "should_recall": True})
        body = {"text": PARAPHRASE, "profile_id": "alice", "character_id": "tutor"}
        decision = client.post("/memory/recall", json=body).json()["decision"]
        assert decision["decided_by"] == "taught_example" and decision["should_recall"]


def test_rest_errors(store: SQLStore, embedder: HashingEmbedder, decider: RecallDecider) -> None:
    engine = dense_engine(store, embedder, decider)
    engine.settings = load_settings({"MEMTUNE_API_TOKEN": "s3cret"})
    with rest_client(engine) as client:
        assert client.get(EXAMPLES).status_code == 401
        assert client.post(EXAMPLES, json={"text": TAUGHT, "should_recall": True}).status_code == 401
        assert client.delete(f"{EXAMPLES}/ex_1", headers={"Authorization": "Bearer nope"}).status_code == 401
        missing = client.delete(f"{EXAMPLES}/ex_missing", headers=AUTH)
        assert missing.status_code == 404 and "not found" in missing.json()["detail"]
        assert client.post(EXAMPLES, json={"text": "  ", "should_recall": True}, headers=AUTH).status_code == 400
        assert client.post(EXAMPLES, json={"text": TAUGHT}, headers=AUTH).status_code == 422
        assert client.post(EXAMPLES, json={"text": TAUGHT, "should_recall": True, "x": 1},
                           headers=AUTH).status_code == 422  # fmt: skip
        blank = client.get("/memory/characters/%20/examples", headers=AUTH)
        assert blank.status_code == 400
    assert store.taught_examples("tutor", owner="default") == ()


def test_rest_without_a_store_is_a_503() -> None:
    engine = MemoryEngine(None, None, settings=load_settings({}))
    with rest_client(engine) as client:
        assert client.get(EXAMPLES).status_code == 503
        assert client.post(EXAMPLES, json={"text": TAUGHT, "should_recall": True}).status_code == 503


def test_rest_teaching_without_an_embedder_is_a_503(store: SQLStore) -> None:
    engine = MemoryEngine(store, BM25Retriever(store), settings=load_settings({}))
    with rest_client(engine) as client:
        refused = client.post(EXAMPLES, json={"text": TAUGHT, "should_recall": True})
        assert refused.status_code == 503 and "embedder" in refused.json()["detail"]


def test_teaching_a_text_again_keeps_one_example_with_the_latest_label(
    store: SQLStore, embedder: HashingEmbedder, decider: RecallDecider
) -> None:
    engine = dense_engine(store, embedder, decider)
    scope = Scope.of("alice", "tutor")
    first = engine.teach(scope, TAUGHT, True)
    assert engine.teach(scope, f"  {TAUGHT} ", True) == first  # the same correction again changes nothing
    flipped = engine.teach(scope, TAUGHT, False)
    assert store.taught_examples("tutor", owner="alice") == (flipped,) and not flipped.should_recall
    engine.forget_example(scope, flipped.id)
    assert store.taught_examples("tutor", owner="alice") == ()


def test_a_profile_may_teach_a_character_a_bounded_number_of_examples(
    store: SQLStore, embedder: HashingEmbedder, decider: RecallDecider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("memory_core.decide.teaching.MAX_TAUGHT_EXAMPLES", 2)
    engine = dense_engine(store, embedder, decider)
    scope = Scope.of("alice", "tutor")
    engine.teach(scope, "first message", True)
    engine.teach(scope, "second message", False)
    engine.teach(scope, "second message", True)  # relabelling an existing text is not a new example
    with pytest.raises(InvalidInputError, match="already has 2 taught examples"):
        engine.teach(scope, "third message", True)
    assert len(store.taught_examples("tutor", owner="alice")) == 2
    engine.teach(Scope.of("bob", "tutor"), "third message", True)  # the bound is per profile
