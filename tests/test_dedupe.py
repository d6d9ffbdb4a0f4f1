"""Dedupe on write: a repeat is seen again (NOOP), not stored twice; a question is never stored at all."""

from __future__ import annotations

from collections.abc import Callable

from fakes import HashingEmbedder

from memory_core import MemoryEngine, NewItem, Scope, SQLiteStore, load_settings
from memory_core.models import MemoryItem
from memory_core.recall.dense import DenseRetriever
from memory_core.recall.fusion import FusionRetriever
from memory_core.recall.lexical import BM25Retriever
from memory_core.tuning import Tuning
from memory_core.write.dedupe import find_duplicate, text_key

Factory = Callable[..., MemoryEngine]


def item(text: str, type: str = "chat_turn") -> MemoryItem:
    return MemoryItem(f"id-{len(text)}", text, type, "", "", "session", {}, "p", "c", "l", "t", "t")


def test_the_same_text_is_a_repeat_whatever_its_case_and_punctuation() -> None:
    assert text_key("  I'm allergic to SHELLFISH!! ") == text_key("i'm allergic to shellfish.")
    for stored in ("I’m allergic to shellfish.", "i'm allergic to shellfish", "I'm allergic to shellfish"):
        found = find_duplicate("I'm allergic to shellfish!", [(item(stored), None)])
        assert found is not None and (found.how, found.similarity) == ("same_text", 1.0)
    assert find_duplicate("I'm allergic to shellfish!", [(item("I'm allergic to peanuts"), None)]) is None


def test_a_near_duplicate_needs_the_threshold_and_the_nearest_wins() -> None:
    candidates = [(item("I like oolong"), 0.97), (item("I really like oolong"), 0.99), (item("oolong, yes"), 0.986)]
    found = find_duplicate("I like oolong tea", candidates, threshold=0.985)
    assert found is not None and (found.item.text, found.how, found.similarity) == (
        "I really like oolong",
        "near_duplicate",
        0.99,
    )
    assert find_duplicate("I like oolong tea", candidates[:1], threshold=0.985) is None


def test_a_summary_is_never_what_a_memory_repeats() -> None:
    assert find_duplicate("I like tea", [(item("I like tea", type="summary"), 1.0)]) is None


def test_a_seen_memory_counts_and_records_it(store: SQLiteStore, scope: Scope) -> None:
    store.ensure_library(scope)
    (stored,) = store.add_items(scope, [NewItem("I like tea")])
    assert store.mark_seen(scope, stored.id).metadata["seen"] == 2
    again = store.mark_seen(scope, stored.id)
    assert again.metadata["seen"] == 3 and again.metadata["last_seen_at"] and again.text == stored.text
    assert [e.event for e in store.history(scope, stored.id)] == ["add", "seen", "seen"]


def test_a_repeated_fact_is_written_once_and_seen_twice(
    engine_factory: Factory, store: SQLiteStore, scope: Scope
) -> None:
    engine = engine_factory()
    session = engine.open_session(scope, enabled=True, tuning=Tuning(summary_enabled=False))
    first = engine.run_turn(session, "I'm allergic to shellfish.")
    second = engine.run_turn(session, "i'm allergic to shellfish!")
    assert first.write is not None and first.write.write_action == "direct_write"
    assert second.write is not None and second.write.write_action == "seen"
    assert "same_text" in second.write.note and "seen 2 times" in second.write.note
    (kept,) = [i for i in store.iter_items(scope) if i.type != "summary"]
    assert kept.metadata["seen"] == 2


def test_a_repeated_question_is_written_zero_times(engine_factory: Factory, store: SQLiteStore, scope: Scope) -> None:
    engine = engine_factory()
    session = engine.open_session(scope, enabled=True)
    for _ in range(3):
        engine.run_turn(session, "我喜欢喝什么茶？")
    engine.end_session(session)
    assert list(store.iter_items(scope)) == []


def test_with_an_embedder_a_paraphrase_is_a_repeat(store: SQLiteStore, scope: Scope) -> None:
    embedder = HashingEmbedder(dims=64)
    retriever = FusionRetriever(BM25Retriever(store), DenseRetriever(store, embedder))
    engine = MemoryEngine(store, retriever, settings=load_settings({}))
    session = engine.open_session(scope, enabled=True, tuning=Tuning(summary_enabled=False, dedupe_threshold=0.9))
    engine.run_turn(session, "My sister Anna lives in Lisbon.")
    repeat = engine.run_turn(session, "My sister Anna lives in Lisbon now.")
    other = engine.run_turn(session, "I'm allergic to peanuts.")
    assert repeat.write is not None and repeat.write.write_action == "seen" and "near_duplicate" in repeat.write.note
    assert other.write is not None and other.write.write_action == "direct_write"
    assert sorted(i.text for i in store.iter_items(scope)) == [
        "I'm allergic to peanuts.",
        "My sister Anna lives in Lisbon.",
    ]


def test_an_import_drops_repeats_of_itself_and_of_the_library(
    engine_factory: Factory, store: SQLiteStore, scope: Scope
) -> None:
    engine = engine_factory()
    store.ensure_library(scope)
    engine.import_turns(scope, [("user", "My dog is called Biscuit.")], source="wechat")
    turns = [("user", "my dog is called biscuit"), ("user", "I work as a nurse."), ("user", "I work as a nurse!")]
    written = engine.import_turns(scope, turns, source="wechat")
    assert [i.text for i in written] == ["I work as a nurse."]
    dog = next(i for i in store.iter_items(scope) if "Biscuit" in i.text)
    assert dog.metadata["seen"] == 2 and [e.source for e in store.history(scope, dog.id)] == ["import", "import"]
