"""Two libraries of one profile and character: each search sees its own library only, at every layer."""

from __future__ import annotations

import pytest
from fakes import HashingEmbedder

from memory_core import MemoryEngine, NewItem, Scope, SQLiteStore, Tuning, load_settings
from memory_core.recall.dense import DenseRetriever
from memory_core.recall.fusion import FusionRetriever
from memory_core.recall.lexical import BM25Retriever

HOME = Scope.of("alice", "mia", "home")
WORK = Scope.of("alice", "mia", "work")
HOME_TEA = "At home I drink oolong tea without sugar"
WORK_TEA = "At work I drink green tea from the office kettle"


@pytest.fixture
def two_libraries(store: SQLiteStore) -> SQLiteStore:
    store.ensure_library(HOME, "Home")
    store.ensure_library(WORK, "Work")
    store.add_items(HOME, [NewItem(HOME_TEA, "preference", "user_preference")])
    store.add_items(WORK, [NewItem(WORK_TEA, "preference", "user_preference")])
    return store


def test_the_snapshot_holds_only_its_library(two_libraries: SQLiteStore) -> None:
    _, home = two_libraries.snapshot(HOME)
    _, work = two_libraries.snapshot(WORK)
    assert [item.text for item in home] == [HOME_TEA]
    assert [item.text for item in work] == [WORK_TEA]


def test_bm25_searches_one_library(two_libraries: SQLiteStore) -> None:
    bm25 = BM25Retriever(two_libraries)
    assert [h.item.text for h in bm25.search(HOME, "what tea do I drink", limit=5)] == [HOME_TEA]
    assert [h.item.text for h in bm25.search(WORK, "what tea do I drink", limit=5)] == [WORK_TEA]


@pytest.mark.parametrize("method", ["fusion", "dense"])
def test_fusion_and_dense_search_one_library(two_libraries: SQLiteStore, method: str) -> None:
    fusion = FusionRetriever(BM25Retriever(two_libraries), DenseRetriever(two_libraries, HashingEmbedder()))
    assert [h.item.text for h in fusion.search(HOME, "what tea do I drink", limit=5, method=method)] == [HOME_TEA]
    assert [h.item.text for h in fusion.search(WORK, "what tea do I drink", limit=5, method=method)] == [WORK_TEA]


def test_a_turn_recalls_from_the_sessions_library_only(two_libraries: SQLiteStore) -> None:
    engine = MemoryEngine(two_libraries, BM25Retriever(two_libraries), settings=load_settings({}))
    tuning = Tuning(recall_limit=5)
    home = engine.run_turn(engine.open_session(HOME, enabled=True, tuning=tuning), "Do you remember what tea I drink?")
    work = engine.run_turn(engine.open_session(WORK, enabled=True, tuning=tuning), "Do you remember what tea I drink?")
    assert [h.item.text for h in home.hits] == [HOME_TEA]
    assert [h.item.text for h in work.hits] == [WORK_TEA]
    assert WORK_TEA not in home.memory_block and HOME_TEA not in work.memory_block
