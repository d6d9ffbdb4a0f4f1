"""Dense recall state: vectors stored per model, embedded in batches, re-embedded only when needed."""

from __future__ import annotations

import numpy as np
import pytest
from fakes import HashingEmbedder

from memory_core import (
    InvalidInputError,
    MemoryEngine,
    MemoryItem,
    NewItem,
    ProviderError,
    Scope,
    SQLiteStore,
    Tuning,
    load_settings,
)
from memory_core.recall.dense import DenseRetriever, DenseView
from memory_core.recall.fusion import CATEGORY_SCALE, FusionRetriever
from memory_core.recall.index_cache import IndexCache
from memory_core.recall.lexical import BM25Retriever

TEXTS = [
    "我喜欢喝乌龙茶，不加糖",
    "My sister Anna lives in Lisbon",
    "146服务器是测试环境",
    "I run every Sunday morning",
]


def items_of(view: DenseView) -> list[MemoryItem]:
    """Every memory of a view, in its order (a view fetches items only when asked)."""
    items = view.items_at(range(view.size))
    assert None not in items
    return [item for item in items if item is not None]


def seed(store: SQLiteStore, scope: Scope) -> list[str]:
    store.ensure_library(scope)
    return [item.id for item in store.add_items(scope, [NewItem(t) for t in TEXTS])]


def test_vectors_are_embedded_in_batches_and_stored_with_the_model(store: SQLiteStore, scope: Scope) -> None:
    seed(store, scope)
    embedder = HashingEmbedder()
    calls: list[tuple[int, int]] = []
    assert (
        DenseRetriever(store, embedder, batch_size=3).sync(scope, lambda done, total: calls.append((done, total))) == 4
    )
    assert calls == [(3, 4), (4, 4)]
    assert store.vector_counts(scope) == {"hashing-16": 4}
    # A second process (a new retriever) reuses the stored vectors: nothing is embedded again.
    again = HashingEmbedder()
    assert DenseRetriever(store, again).sync(scope) == 0 and again.embedded == []


def test_only_changed_texts_are_re_embedded(store: SQLiteStore, scope: Scope) -> None:
    ids = seed(store, scope)
    embedder = HashingEmbedder()
    dense = DenseRetriever(store, embedder)
    dense.sync(scope)
    embedder.embedded.clear()
    store.edit_item(scope, ids[0], category="user_preference")  # metadata only
    store.edit_item(scope, ids[1], text="My sister Anna moved to Porto")
    store.delete_item(scope, ids[2])
    store.add_items(scope, [NewItem("我对花生过敏")])
    dense.sync(scope)
    assert sorted(embedder.embedded) == ["My sister Anna moved to Porto", "我对花生过敏"]
    items = items_of(dense.view(scope, "Porto"))
    assert len(items) == 4 and ids[2] not in {item.id for item in items}
    assert items[[i.id for i in items].index(ids[0])].category == "user_preference"


def test_changing_the_embedder_re_embeds_for_the_new_model_only(store: SQLiteStore, scope: Scope) -> None:
    seed(store, scope)
    DenseRetriever(store, HashingEmbedder("model-a")).sync(scope)
    other = HashingEmbedder("model-b", dims=8)
    assert DenseRetriever(store, other).sync(scope) == 4
    assert store.vector_counts(scope) == {"model-a": 4, "model-b": 4}
    back = HashingEmbedder("model-a")
    assert DenseRetriever(store, back).sync(scope) == 0  # switching back reuses model-a's vectors


def test_deleting_an_item_or_library_removes_its_vectors(store: SQLiteStore, scope: Scope) -> None:
    ids = seed(store, scope)
    DenseRetriever(store, HashingEmbedder()).sync(scope)
    store.delete_item(scope, ids[0])
    assert store.vector_counts(scope) == {"hashing-16": 3}
    store.delete_library(scope)
    assert store.vector_counts(scope) == {}


def test_fusion_hits_carry_both_parts_and_the_weight(store: SQLiteStore, scope: Scope) -> None:
    seed(store, scope)
    fusion = FusionRetriever(BM25Retriever(store), DenseRetriever(store, HashingEmbedder()), max_weight=0.6)
    hits = fusion.search(scope, "Where does my sister Anna live?", limit=2)
    top = hits[0]
    assert top.item.text == "My sister Anna lives in Lisbon" and top.method == "fusion"
    assert 0 < top.weight <= 0.6 and top.bm25 > 0 and top.bm25_norm == 1.0
    assert np.isclose(top.score, top.weight * top.bm25_norm + (1 - top.weight) * top.dense_norm)
    dense_only = fusion.search(scope, "Where does my sister Anna live?", limit=4, method="dense")
    assert {h.weight for h in dense_only} == {0.0}
    bm25 = fusion.search(scope, "Where does my sister Anna live?", limit=4, method="bm25")
    assert [h.item.text for h in bm25] == ["My sister Anna lives in Lisbon"]


def test_fusion_keeps_the_exact_entity_filter(store: SQLiteStore, scope: Scope) -> None:
    seed(store, scope)
    store.add_items(scope, [NewItem("147服务器是生产环境")])
    fusion = FusionRetriever(BM25Retriever(store), DenseRetriever(store, HashingEmbedder()))
    hits = fusion.search(scope, "146服务器怎么登录", limit=5)
    assert [h.item.text for h in hits] == ["146服务器是测试环境"]


def test_when_bm25_matches_nothing_dense_stands_alone(store: SQLiteStore, scope: Scope) -> None:
    seed(store, scope)
    fusion = FusionRetriever(BM25Retriever(store), DenseRetriever(store, HashingEmbedder()))
    report = fusion.search_report(scope, "zzqx", limit=4, min_score=0.6)
    hits = report.hits
    # one scale for every language: only the best memory of the library scores 1.0, not the best of each language
    assert hits and hits[0].score == 1.0 and [h.score for h in hits[1:]].count(1.0) == 0
    assert all(h.weight == 0.0 and h.bm25 == 0.0 and h.score == h.dense_norm > 0.6 for h in hits)
    assert (
        report.below_threshold == len(TEXTS) - len(hits)
        and report.note() == f"{report.below_threshold} below the threshold"
    )


class BrokenEmbedder(HashingEmbedder):
    """Embeds passages, then fails on queries: an embeddings endpoint that went down mid-session."""

    def embed(self, texts, *, kind):  # type: ignore[no-untyped-def]
        if kind == "query":
            raise ProviderError("embeddings endpoint down")
        return super().embed(texts, kind=kind)


def engine_with(store: SQLiteStore, embedder: HashingEmbedder) -> MemoryEngine:
    fusion = FusionRetriever(BM25Retriever(store), DenseRetriever(store, embedder))
    return MemoryEngine(store, fusion, settings=load_settings({}))


def test_engine_turns_use_fusion_and_embed_on_write(store: SQLiteStore, scope: Scope) -> None:
    seed(store, scope)
    embedder = HashingEmbedder()
    engine = engine_with(store, embedder)
    session = engine.open_session(scope, enabled=True)
    write = engine.run_turn(session, "My goal is to run a half marathon in March")
    assert "My goal is to run a half marathon in March" in embedder.embedded  # embedded at write time
    trace = engine.run_turn(session, "还记得我喜欢喝什么茶吗")
    assert write.write is not None and trace.recall_note.startswith("hybrid without Mem0: fusion (")
    assert trace.recall_note.endswith(" below the threshold) over the library")
    assert trace.hits[0].item.text == "我喜欢喝乌龙茶，不加糖" and trace.hits[0].method == "fusion"
    session.tuning = Tuning(retrieval_method="bm25")
    assert engine.run_turn(session, "还记得我喜欢喝什么茶吗").hits[0].method == "bm25"


def test_a_failing_embedder_falls_back_to_bm25(store: SQLiteStore, scope: Scope) -> None:
    seed(store, scope)
    engine = engine_with(store, BrokenEmbedder())
    trace = engine.run_turn(engine.open_session(scope, enabled=True), "还记得我喜欢喝什么茶吗")
    assert trace.hits[0].method == "bm25" and "fusion failed" in trace.recall_note
    assert "embeddings endpoint down" in trace.errors[0]


def test_without_an_embedder_fusion_settings_mean_bm25(store: SQLiteStore, scope: Scope) -> None:
    seed(store, scope)
    engine = MemoryEngine(store, BM25Retriever(store), settings=load_settings({}))
    trace = engine.run_turn(engine.open_session(scope, enabled=True), "还记得我喜欢喝什么茶吗")
    assert "bm25 (fusion needs an embedder)" in trace.recall_note and trace.hits[0].method == "bm25"


@pytest.mark.parametrize("max_weight", [0.9, 0.3])
def test_a_turn_fuses_with_the_sessions_max_weight(store: SQLiteStore, scope: Scope, max_weight: float) -> None:
    seed(store, scope)
    engine = engine_with(store, HashingEmbedder())  # the retriever's own max_weight is 0.6
    session = engine.open_session(scope, enabled=True, tuning=Tuning(fusion_max_weight=max_weight))
    trace = engine.run_turn(session, "Where does my sister Anna live?")
    top = trace.hits[0]
    assert top.item.text == "My sister Anna lives in Lisbon" and top.method == "fusion"
    assert top.weight == pytest.approx(max_weight)  # every query term matches: the weight is the session's cap


def test_a_deleted_item_leaves_the_next_view_and_the_cache_charge(store: SQLiteStore, scope: Scope) -> None:
    ids = seed(store, scope)
    cache = IndexCache()
    dense = DenseRetriever(store, HashingEmbedder(), cache=cache)
    assert len(items_of(dense.view(scope, "tea"))) == 4
    store.delete_item(scope, ids[0])
    view = dense.view(scope, "tea")
    assert sorted(item.id for item in items_of(view)) == sorted(ids[1:])
    assert view.cosine.shape == (3,)
    fresh = IndexCache()
    DenseRetriever(store, HashingEmbedder(), cache=fresh).view(scope, "tea")
    assert cache.bytes_used == fresh.bytes_used  # the charge went down by exactly the deleted memory


def test_a_deleted_item_lowers_the_bm25_charge(store: SQLiteStore, scope: Scope) -> None:
    ids = seed(store, scope)
    cache = IndexCache()
    bm25 = BM25Retriever(store, cache=cache)
    bm25.search(scope, "tea", limit=5)
    before = cache.bytes_used
    store.delete_item(scope, ids[1])
    assert [h.item.id for h in bm25.search(scope, "Anna Lisbon", limit=5)] == []
    fresh = IndexCache()
    BM25Retriever(store, cache=fresh).search(scope, "tea", limit=5)
    assert fresh.bytes_used <= cache.bytes_used < before  # dead postings stay until compaction, the text goes


def fusion_of(store: SQLiteStore) -> FusionRetriever:
    return FusionRetriever(BM25Retriever(store), DenseRetriever(store, HashingEmbedder()))


def test_fusion_defaults_are_the_references() -> None:
    dense = DenseRetriever.__new__(DenseRetriever)
    dense.embedder = HashingEmbedder()
    fusion = FusionRetriever(BM25Retriever.__new__(BM25Retriever), dense)
    assert (fusion.max_weight, fusion.candidates, fusion.relevance_floor) == (0.6, 200, 0.05)


def test_fusion_in_bm25_mode_passes_every_search_argument_on(store: SQLiteStore, scope: Scope) -> None:
    seed(store, scope)
    store.add_items(scope, [NewItem("I drink green tea at noon", category="user_preference"), NewItem("tea sets")])
    fusion, bm25 = fusion_of(store), BM25Retriever(store)
    for args in ({"limit": 1}, {"limit": 5, "min_score": 0.5}, {"limit": 5, "categories": ["user_preference"]},
                 {"limit": 5, "categories": ["user_preference"], "category_boost": 0.0}):  # fmt: skip
        assert fusion.search(scope, "tea", method="bm25", **args) == bm25.search(scope, "tea", **args)  # type: ignore[arg-type]


def test_a_fused_hit_names_its_parts_and_ranks_from_one(store: SQLiteStore, scope: Scope) -> None:
    seed(store, scope)
    hits = fusion_of(store).search(scope, "Where does my sister Anna live?", limit=4, min_score=-1.0)
    assert [h.rank for h in hits] == [1, 2, 3, 4]
    view = DenseRetriever(store, HashingEmbedder()).view(scope, "Where does my sister Anna live?")
    cosine = {item.id: float(c) for item, c in zip(items_of(view), view.cosine, strict=True)}
    for hit in hits:
        assert hit.dense == pytest.approx(cosine[hit.item.id]) and hit.category_boost == 0.0
    dense_only = [h for h in hits if h.bm25 == 0.0]
    assert dense_only and all((h.entity_boost, h.name_boost, h.bm25_norm) == (0.0, 0.0, 0.0) for h in dense_only)
    assert all(h.matched_terms == () and h.matched_entities == () for h in dense_only)


def test_a_category_boost_lifts_its_category_by_its_share(store: SQLiteStore, scope: Scope) -> None:
    store.ensure_library(scope)
    store.add_items(scope, [NewItem("green tea in the morning", category="user_preference"),
                            NewItem("green tea in the evening", category="episode_summary")])  # fmt: skip
    fusion = fusion_of(store)
    plain = {h.item.category: h.score for h in fusion.search(scope, "green tea", limit=2)}
    boosted = fusion.search(scope, "green tea", limit=2, categories=["user_preference"], category_boost=2.0)
    by_category = {h.item.category: h for h in boosted}
    assert by_category["user_preference"].category_boost == pytest.approx(2.0 * CATEGORY_SCALE)
    assert by_category["user_preference"].score == pytest.approx(plain["user_preference"] + 2.0 * CATEGORY_SCALE)
    assert by_category["episode_summary"].score == pytest.approx(plain["episode_summary"])
    off = fusion.search(scope, "green tea", limit=2, categories=["user_preference"], category_boost=0.0)
    assert {h.item.category: h.score for h in off} == pytest.approx(plain)


def test_without_a_query_entity_nothing_is_filtered_out(store: SQLiteStore, scope: Scope) -> None:
    seed(store, scope)
    assert len(fusion_of(store).search(scope, "sister Anna", limit=4, min_score=-1.0)) == 4


def test_ties_at_the_cut_stay_in_the_race_newest_first(store: SQLiteStore, scope: Scope) -> None:
    store.ensure_library(scope)
    dated = [NewItem("zebra", id=f"z{n}", created_at=f"2024-01-0{n}T00:00:00Z") for n in range(1, 5)]
    items = store.add_items(scope, dated)
    hits = fusion_of(store).search(scope, "zebra", limit=2)
    assert [h.item.id for h in hits] == [items[3].id, items[2].id]


def test_an_unknown_method_is_named_with_the_choices(store: SQLiteStore, scope: Scope) -> None:
    seed(store, scope)
    with pytest.raises(InvalidInputError, match=r"^method must be one of bm25, dense, fusion, got 'magic'$"):
        fusion_of(store).search(scope, "tea", method="magic")


def test_the_nearest_passages_are_ranked_and_embedded_as_memories(store: SQLiteStore, scope: Scope) -> None:
    seed(store, scope)
    embedder = HashingEmbedder()
    dense = DenseRetriever(store, embedder)
    nearest = dense.nearest_passages(scope, "My sister Anna lives in Lisbon")
    assert len(nearest) == 3 and nearest[0][0].text == "My sister Anna lives in Lisbon"
    assert nearest[0][1] == pytest.approx(1.0) and [c for _, c in nearest] == sorted(
        (c for _, c in nearest), reverse=True
    )
    assert embedder.embedded[-1] == "My sister Anna lives in Lisbon"  # embedded as a passage, not a query
    assert len(dense.nearest_passages(scope, "tea", limit=10)) == 4
    assert dense.nearest_passages(Scope.of("nobody", "tutor", "default"), "tea") == []


def test_left_out_superseded_memories_neither_take_a_place_nor_set_the_scale(store: SQLiteStore, scope: Scope) -> None:
    """The replaced memory is the closest match; left out before scaling, the correction is the best there is
    (scaled to 1) instead of trailing a memory no recall shows."""
    store.ensure_library(scope)
    old, new, other = store.add_items(scope, [NewItem("My brother Ravi moved to Perth for work"),
                                              NewItem("Correction: Ravi went to Adelaide instead"),
                                              NewItem("I like long walks by the river")])  # fmt: skip
    fusion, query = fusion_of(store), "Where did my brother Ravi move to?"
    assert len(fusion.search(scope, query, limit=3, min_score=-1.0, include_superseded=False)) == 3
    store.supersede(scope, [old.id], new.id)  # after the first search: the kept index takes the new flag
    everything = fusion.search(scope, query, limit=3, min_score=-1.0)
    assert everything[0].item.id == old.id
    current = fusion.search(scope, query, limit=3, min_score=-1.0, include_superseded=False)
    assert [h.item.id for h in current] == [new.id, other.id]
    assert current[0].bm25_norm == 1.0 and current[0].dense_norm == 1.0 and current[1].dense_norm == 0.0
