"""Per-library indexes under one memory budget: LRU eviction, identical rebuilds, forgetting a profile."""

from __future__ import annotations

import gc
import random
import threading
import tracemalloc

import pytest
from fakes import HashingEmbedder

from memory_core import MemoryEngine, NewItem, ProviderError, Scope, SQLiteStore, load_settings
from memory_core.errors import InvalidInputError
from memory_core.providers.embedders import EmbedderChoice
from memory_core.recall.dense import DenseRetriever
from memory_core.recall.fusion import FusionRetriever
from memory_core.recall.index_cache import MEGABYTE, IndexCache
from memory_core.recall.lexical import BM25Retriever
from memory_core.wiring import build_retriever

WORDS = ("tea hiking sister Lisbon server deploy marathon coffee piano garden novel train bread river "
         "doctor python budget winter concert museum").split()  # fmt: skip
ZH = ("我喜欢喝乌龙茶", "周末常去爬山", "妹妹住在里斯本", "146服务器是测试环境", "三月要跑半程马拉松")
QUERIES = ("tea with my sister", "server deploy", "还记得我喜欢喝什么茶吗", "marathon training in winter")


def library(name: str, profile: str = "alice") -> Scope:
    return Scope.of(profile, "tutor", name)


def seed(store: SQLiteStore, scope: Scope, count: int = 40) -> None:
    rng = random.Random(f"{scope.profile_id}/{scope.library_id}")
    texts = [" ".join(rng.sample(WORDS, 5)) + f" {scope.library_id} {n}" for n in range(count)]
    texts += [rng.choice(ZH) + f"，第{n}条" for n in range(count // 4)]
    store.add_items(scope, [NewItem(text) for text in texts], create_library_name=scope.library_id)


def fusion_over(store: SQLiteStore, cache: IndexCache, embedder: HashingEmbedder) -> FusionRetriever:
    return FusionRetriever(BM25Retriever(store, cache=cache), DenseRetriever(store, embedder, cache=cache))


def held(cache: IndexCache) -> set[tuple[str, str]]:
    return {(entry.kind, entry.scope.library_id) for entry in cache.libraries()}


def search_all(retriever: FusionRetriever, scope: Scope) -> list[object]:
    return [retriever.search(scope, q, limit=8, method=m) for q in QUERIES for m in ("bm25", "dense", "fusion")]


def library_bytes(store: SQLiteStore, scope: Scope) -> int:
    """What one library costs in the cache, BM25 and dense together."""
    cache = IndexCache()
    search_all(fusion_over(store, cache, HashingEmbedder()), scope)
    return cache.bytes_used


def test_the_least_recently_used_library_is_evicted_and_rebuilt_with_identical_hits(store: SQLiteStore) -> None:
    a, b, c = library("a"), library("b"), library("c")
    for scope in (a, b, c):
        seed(store, scope)
    cache = IndexCache(int(2.5 * max(library_bytes(store, s) for s in (a, b, c))))
    embedder = HashingEmbedder()
    retriever = fusion_over(store, cache, embedder)
    before = search_all(retriever, a)
    search_all(retriever, b)
    assert held(cache) == {(kind, name) for kind in ("bm25", "dense") for name in "ab"}
    search_all(retriever, c)
    both = {(kind, name) for kind in ("bm25", "dense") for name in "bc"}
    assert both <= held(cache) <= both | {("dense", "a")}  # A's BM25 index, used least recently, went first
    assert cache.evictions == 6 - len(held(cache))  # six indexes were built; each one missing was evicted once
    assert cache.bytes_used <= cache.budget_bytes
    retriever.dense.forget(a)  # and its vectors too, whether or not they still fitted
    embedded = len(embedder.embedded)
    assert search_all(retriever, a) == before  # rebuilt from the store: the same hits, scores and ranks
    assert len(embedder.embedded) == embedded  # the dense side reloaded stored vectors, embedding nothing
    assert {("bm25", "a"), ("dense", "a")} <= held(cache) and cache.bytes_used <= cache.budget_bytes


def test_a_rebuilt_library_sees_writes_made_while_it_was_evicted(store: SQLiteStore) -> None:
    a, b = library("a"), library("b")
    seed(store, a)
    seed(store, b)
    retriever = BM25Retriever(store, cache=IndexCache(int(1.5 * library_bytes(store, a))))
    retriever.search(a, "tea", limit=5)
    retriever.search(b, "tea", limit=5)
    (added,) = store.add_items(a, [NewItem("zebra tea ceremony")])
    assert [hit.item.id for hit in retriever.search(a, "zebra", limit=5)] == [added.id]
    assert retriever.search(a, "tea", limit=20) == BM25Retriever(store).search(a, "tea", limit=20)


def test_the_budget_holds_after_many_libraries(store: SQLiteStore) -> None:
    scopes = [library(f"lib{n}", profile=f"visitor{n % 7}") for n in range(30)]
    for scope in scopes:
        seed(store, scope, count=20)
    budget = 3 * library_bytes(store, scopes[0])
    cache = IndexCache(budget)
    retriever = fusion_over(store, cache, HashingEmbedder())
    for scope in scopes:
        retriever.search(scope, "tea with my sister", limit=5)
        assert cache.bytes_used <= budget
        assert cache.bytes_used == sum(entry.nbytes for entry in cache.libraries())
    assert 2 <= len(cache.libraries()) < 10
    assert {entry.scope for entry in cache.libraries()} <= set(scopes[-5:])


def test_a_library_larger_than_the_budget_still_answers_alone(store: SQLiteStore) -> None:
    big, small = library("big"), library("small")
    seed(store, big, count=200)
    seed(store, small, count=5)
    cache = IndexCache(1_000)
    retriever = BM25Retriever(store, cache=cache)
    retriever.search(small, "tea", limit=5)
    assert retriever.search(big, "tea", limit=5) == BM25Retriever(store).search(big, "tea", limit=5)
    assert held(cache) == {("bm25", "big")}


def test_forget_profile_drops_every_index_of_that_profile_and_nothing_else(store: SQLiteStore) -> None:
    alice = [library("a1"), library("a2")]
    bob = library("b1", profile="bob")
    for scope in (*alice, bob):
        seed(store, scope, count=10)
    cache = IndexCache()
    retriever = fusion_over(store, cache, HashingEmbedder())
    engine = MemoryEngine(store, retriever, settings=load_settings({}))
    for scope in (*alice, bob):
        retriever.search(scope, "tea", limit=5)
    assert engine.forget_profile("alice") == 4  # two libraries, BM25 and dense each
    assert {entry.scope for entry in cache.libraries()} == {bob}
    assert cache.bytes_used == sum(entry.nbytes for entry in cache.libraries())
    assert engine.forget_profile("alice") == 0
    assert retriever.search(alice[0], "tea", limit=5)  # a later visit rebuilds from the store
    retriever.forget(bob)
    assert {entry.scope for entry in cache.libraries()} == {alice[0]}


def test_forget_profile_on_a_bm25_engine_and_an_engine_without_a_store(store: SQLiteStore) -> None:
    scope = library("a1")
    seed(store, scope, count=5)
    retriever = BM25Retriever(store)
    engine = MemoryEngine(store, retriever, settings=load_settings({}))
    retriever.search(scope, "tea", limit=5)
    assert engine.forget_profile("alice") == 1 and retriever.cache.libraries() == ()
    assert MemoryEngine(None, None, settings=load_settings({})).forget_profile("alice") == 0


def test_concurrent_searches_and_writes_under_a_tiny_budget(store: SQLiteStore) -> None:
    scopes = [library(f"lib{n}") for n in range(6)]
    for scope in scopes:
        seed(store, scope, count=15)
    cache = IndexCache(2 * library_bytes(store, scopes[0]))
    retriever = fusion_over(store, cache, HashingEmbedder())
    errors: list[BaseException] = []

    def search(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(40):
                scope = rng.choice(scopes)
                retriever.search(scope, rng.choice(QUERIES), limit=5, method=rng.choice(("bm25", "fusion")))
                if rng.random() < 0.1:
                    retriever.forget(rng.choice(scopes))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    def write() -> None:
        try:
            for n in range(30):
                store.add_items(scopes[n % len(scopes)], [NewItem(f"late tea note {n}")])
                retriever.sync(scopes[n % len(scopes)])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=search, args=(n,)) for n in range(6)] + [threading.Thread(target=write)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert cache.bytes_used <= cache.budget_bytes
    assert cache.bytes_used == sum(entry.nbytes for entry in cache.libraries())
    fresh = fusion_over(store, IndexCache(), HashingEmbedder())
    for scope in scopes:
        assert search_all(retriever, scope) == search_all(fresh, scope)


class FlakyEmbedder(HashingEmbedder):
    """Fails the next `failures` passage batches: an embeddings endpoint that drops out for a while."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 0

    def embed(self, texts, *, kind):  # type: ignore[no-untyped-def]
        if kind == "passage" and self.failures:
            self.failures -= 1
            raise ProviderError("embeddings endpoint down")
        return super().embed(texts, kind=kind)


def test_memories_whose_embedding_failed_are_embedded_at_the_next_sync(store: SQLiteStore) -> None:
    scope = library("flaky")
    seed(store, scope, count=4)
    embedder = FlakyEmbedder()
    dense = DenseRetriever(store, embedder)
    embedder.failures = 1
    with pytest.raises(ProviderError):
        dense.sync(scope)  # the first load fails
    assert dense.sync(scope) == 5 and dense.view(scope, "tea").size == 5
    store.add_items(scope, [NewItem("a late note about tea")])
    embedder.failures = 1
    with pytest.raises(ProviderError):
        dense.sync(scope)  # a later change fails
    assert dense.sync(scope) == 1
    view = dense.view(scope, "tea")
    assert "a late note about tea" in {item.text for item in view.items_at(range(view.size)) if item is not None}


@pytest.mark.parametrize("kind", ["bm25", "dense"])
def test_the_size_estimate_is_close_to_the_measured_memory(store: SQLiteStore, kind: str) -> None:
    scope = library("measured")
    seed(store, scope, count=300)
    embedder = HashingEmbedder(dims=384)
    DenseRetriever(store, embedder).sync(scope)  # vectors stored before the measurement
    store.snapshot(scope)  # takes the snapshot the store kept for a next reader: the measured build reads its own
    cache = IndexCache()
    gc.collect()
    tracemalloc.start()
    try:
        if kind == "bm25":
            BM25Retriever(store, cache=cache).search(scope, "tea", limit=5)
        else:
            DenseRetriever(store, embedder, cache=cache).view(scope, "tea")
        gc.collect()
        measured, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert 0.7 < cache.bytes_used / measured < 1.4


def test_sections_of_one_cache_never_share_entries_and_stale_charges_are_ignored() -> None:
    cache = IndexCache(10_000)
    first, second = cache.section("bm25"), cache.section("bm25")
    scope = library("x")
    one, two = first.get(scope, lambda: ["one"]), second.get(scope, lambda: ["two"])
    assert (one, two) == (["one"], ["two"]) and first.get(scope, list) is one
    first.charge(scope, one, 3_000)
    assert first.forget(scope) and not first.forget(scope)
    first.charge(scope, one, 9_000)  # a thread still holding the forgotten value: nothing is recorded
    assert [(e.scope, e.nbytes) for e in cache.libraries()] == [(scope, cache.bytes_used)]
    assert second.forget_profile("alice") == 1 and cache.bytes_used == 0


@pytest.mark.parametrize("budget", [-1, 1.5, True, "10"])
def test_a_bad_budget_is_refused(budget: object) -> None:
    with pytest.raises(InvalidInputError):
        IndexCache(budget)  # type: ignore[arg-type]


def test_build_retriever_shares_one_cache_sized_by_the_setting(store: SQLiteStore) -> None:
    settings = load_settings({"MEMTUNE_INDEX_BUDGET_MB": "3"})
    retriever, _ = build_retriever(settings, store, EmbedderChoice(HashingEmbedder(), "test embedder"))
    assert isinstance(retriever, FusionRetriever)
    assert retriever.bm25.cache is retriever.dense.cache
    assert retriever.bm25.cache.budget_bytes == 3 * MEGABYTE
    bm25_only, _ = build_retriever(settings, store, EmbedderChoice(None, "no embedder"))
    assert isinstance(bm25_only, BM25Retriever) and bm25_only.cache.budget_bytes == 3 * MEGABYTE
