"""A library indexed in one batch on first use searches and sizes exactly as one indexed change by change."""

from __future__ import annotations

import gc
import random
import threading

from memory_core.eval.benchmarks import _synthetic_texts
from memory_core.models import NewItem, Scope
from memory_core.recall.lexical import BM25Retriever, collector_paused
from memory_core.store.sqlite import SQLiteStore

TEXTS = [*_synthetic_texts(400, 8), "My name is Mia", "我叫小林", "ssh 10.0.0.12 then check /var/log/app.log"]


def test_a_cold_build_matches_a_library_indexed_change_by_change(store: SQLiteStore, scope: Scope) -> None:
    store.add_items(scope, [NewItem(text, "note", id=f"n{i}") for i, text in enumerate(TEXTS)], create_library_name="x")
    cold = BM25Retriever(store)
    cold.stats(scope)
    other = Scope.of("alice", "tutor", "grown")
    grown = BM25Retriever(store)
    store.ensure_library(other)
    grown.stats(other)  # built empty: everything below arrives as changes
    store.add_items(other, [NewItem(text, "note", id=f"n{i}") for i, text in enumerate(TEXTS)])
    (docs, terms, packed), grown_stats = cold.stats(scope), grown.stats(other)
    assert (docs, terms) == grown_stats[:2] and packed > 0
    rng = random.Random(2)
    queries = ["what is my name", "10.0.0.12", "小林", *(" ".join(rng.choice(TEXTS).split()[:3]) for _ in range(40))]
    for query in queries:
        hot = [(h.item.id, h.score, h.matched_terms) for h in cold.search(scope, query, limit=10)]
        assert hot == [(h.item.id, h.score, h.matched_terms) for h in grown.search(other, query, limit=10)], query
    assert cold.cache.bytes_used == grown.cache.bytes_used


def test_the_collector_is_paused_during_builds_and_back_on_after_the_last() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        gc.enable()


def test_overlapping_builds_in_threads_leave_the_collector_on() -> None:
    started, release = threading.Barrier(3), threading.Event()

    def build() -> None:
        with collector_paused():
            started.wait()
            release.wait()

    threads = [threading.Thread(target=build) for _ in range(2)]
    for thread in threads:
        thread.start()
    started.wait()
    assert not gc.isenabled()
    release.set()
    for thread in threads:
        thread.join()
    assert gc.isenabled()
