from __future__ import annotations

import gc
import math
import random
import tracemalloc
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memory_core.recall.bm25 import ENTITY_BOOST, NAME_BOOST, BM25Index, ReferenceBM25, bm25_score, idf, term_weight

VOCAB = [f"w{i}" for i in range(12)]


def order(n: int, key: str) -> tuple[str, str]:
    return (f"2025-01-01T00:00:{n:02d}.000000Z", key)


def build(docs: dict[str, list[str]], **kwargs: float) -> BM25Index:
    index = BM25Index(**kwargs)  # type: ignore[arg-type]
    for n, (key, tokens) in enumerate(docs.items()):
        index.add(key, tokens, order=order(n, key))
    return index


def reference_scores(docs: dict[str, list[str]], query: list[str]) -> dict[str, float]:
    keys = list(docs)
    if not any(docs.values()):  # rank-bm25 divides by a zero average length; no document can match
        return {}
    scores = ReferenceBM25([docs[k] for k in keys]).get_scores(query)
    return {key: float(score) for key, score in zip(keys, scores, strict=True) if score > 0}


def index_scores(index: BM25Index, query: list[str]) -> dict[str, float]:
    return {hit.key: hit.bm25 for hit in index.score(query, limit=1000)}


def assert_matches_reference(index: BM25Index, docs: dict[str, list[str]], query: list[str]) -> None:
    expected = reference_scores(docs, query)
    got = index_scores(index, query)
    assert set(got) == set(expected)
    for key, score in expected.items():
        assert got[key] == pytest.approx(score, abs=1e-6)


def test_idf_is_the_reference_formula_and_always_positive() -> None:
    assert idf(10, 2) == pytest.approx(math.log(1 + 8.5 / 2.5))
    assert idf(3, 3) > 0


def test_reference_bm25_uses_the_reference_idf_without_a_floor() -> None:
    model = ReferenceBM25([["a", "b"], ["a"], ["a", "c"]])
    assert model.idf["a"] == pytest.approx(idf(3, 3))
    assert model.idf["b"] == pytest.approx(idf(3, 1))


def test_pure_score_matches_reference_and_counts_repeated_query_terms() -> None:
    docs = [["a", "b", "b"], ["b", "c"], ["c", "d", "e", "a"]]
    df = Counter(term for doc in docs for term in set(doc))
    avgdl = sum(map(len, docs)) / len(docs)
    query = ["b", "a", "b"]
    expected = ReferenceBM25(docs).get_scores(query)
    for doc, score in zip(docs, expected, strict=True):
        assert bm25_score(query, doc, doc_freq=df, n_docs=3, avgdl=avgdl) == pytest.approx(score)
    assert term_weight(1, 2.0, 2.0) == pytest.approx(1.0)


ops = st.lists(
    st.tuples(st.sampled_from(["add", "remove"]), st.integers(0, 15), st.lists(st.sampled_from(VOCAB), max_size=8)),
    min_size=1,
    max_size=60,
)


@settings(max_examples=150, deadline=None, database=None)
@given(ops, st.lists(st.sampled_from([*VOCAB, "unseen"]), min_size=1, max_size=5), st.integers(2, 6))
def test_index_equals_reference_after_adds_removes_and_readds(
    operations: list[tuple[str, int, list[str]]], query: list[str], compact_min: int
) -> None:
    index = BM25Index(compact_min=compact_min)
    docs: dict[str, list[str]] = {}
    for n, (op, number, tokens) in enumerate(operations):
        key = f"k{number}"
        if op == "add":
            index.add(key, tokens, order=order(n % 60, key))
            docs[key] = tokens
        elif key in docs:
            index.remove(key)
            del docs[key]
    assert len(index) == len(docs)
    assert all(key in index for key in docs)
    if docs:
        assert_matches_reference(index, docs, query)
    else:
        assert index.score(query, limit=10) == []


def test_compaction_keeps_results_identical() -> None:
    docs = {f"k{i}": [VOCAB[i % 12], VOCAB[(i * 7) % 12], VOCAB[(i * 5) % 12]] for i in range(40)}
    index = build(docs, compact_min=10_000)
    for i in range(0, 40, 3):
        index.remove(f"k{i}")
        del docs[f"k{i}"]
    query = ["w1", "w3", "w3", "w8"]
    before = index.score(query, limit=50)
    slots = index.n_slots
    index.compact()
    assert index.n_slots == len(docs) < slots
    assert index.score(query, limit=50) == before
    assert_matches_reference(index, docs, query)


def test_automatic_compaction_when_dead_slots_pass_the_ratio() -> None:
    index = build({f"k{i}": ["a", f"t{i}"] for i in range(10)}, compact_min=3, compact_ratio=0.25)
    for i in range(3):
        index.remove(f"k{i}")
    assert index.n_slots == 7
    assert [hit.key for hit in index.score(["t5"], limit=5)] == ["k5"]
    assert index.n_terms == 8


def test_exact_entity_filter_and_boost() -> None:
    index = BM25Index()
    index.add("a", ["146服务器", "146", "部署"], order=order(1, "a"), entities=frozenset({"146服务器"}))
    index.add("b", ["147服务器", "147", "部署"], order=order(2, "b"), entities=frozenset({"147服务器"}))
    index.add("c", ["部署", "部署"], order=order(3, "c"))
    index.add("d", ["10.0.0.1", "146服务器"], order=order(4, "d"), entities=frozenset({"146服务器", "10.0.0.1"}))
    hits = index.score(["146服务器", "146", "部署"], query_entities=frozenset({"146服务器"}), limit=10)
    assert [hit.key for hit in hits] == ["a", "d"]
    assert all(hit.entity_boost == ENTITY_BOOST for hit in hits)
    assert hits[0].matched_entities == ("146服务器",)
    assert hits[0].score == pytest.approx(hits[0].bm25 + ENTITY_BOOST)
    both = index.score(["zzz"], query_entities=frozenset({"146服务器", "10.0.0.1"}), limit=10)
    assert [(hit.key, hit.bm25, hit.entity_boost) for hit in both] == [("d", 0.0, 2 * ENTITY_BOOST), ("a", 0.0, 10.0)]
    assert index.score(["部署"], query_entities=frozenset({"9.9.9.9"}), limit=10) == []


def test_name_boost_applies_even_without_shared_terms() -> None:
    index = BM25Index()
    index.add("name", ["我叫", "叫小", "小张"], order=order(1, "name"), declares_name=True)
    index.add("other", ["名字", "好听"], order=order(2, "other"))
    hits = index.score(["我叫", "名字"], name_question=True, limit=10)
    assert hits[0].key == "name"
    assert hits[0].name_boost == NAME_BOOST
    assert {hit.key: hit.name_boost for hit in hits} == {"name": NAME_BOOST, "other": 0.0}
    alone = index.score(["unrelated"], name_question=True, limit=10)
    assert [(hit.key, hit.bm25, hit.score) for hit in alone] == [("name", 0.0, NAME_BOOST)]
    assert index.score(["unrelated"], name_question=False, limit=10) == []


def test_ties_are_broken_newest_first_by_created_at_then_id() -> None:
    index = BM25Index()
    index.add("m-a", ["x"], order=("2025-01-02", "m-a"))
    index.add("m-c", ["x"], order=("2025-01-01", "m-c"))
    index.add("m-b", ["x"], order=("2025-01-02", "m-b"))
    index.add("m-d", ["x", "y"], order=("2024-01-01", "m-d"))
    assert [hit.key for hit in index.score(["x"], limit=10)] == ["m-b", "m-a", "m-c", "m-d"]
    assert [hit.key for hit in index.score(["x"], limit=2)] == ["m-b", "m-a"]


def test_limit_and_strict_min_score() -> None:
    index = build({"a": ["x", "y"], "b": ["x"], "c": ["z"]})
    scores = {hit.key: hit.score for hit in index.score(["x", "y"], limit=10)}
    assert [hit.key for hit in index.score(["x", "y"], limit=1)] == ["a"]
    assert [hit.key for hit in index.score(["x", "y"], limit=10, min_score=scores["b"])] == ["a"]
    below = index.score(["x", "y"], limit=10, min_score=scores["b"] - 1e-9)
    assert [hit.key for hit in below] == ["a", "b"]
    assert index.score(["x"], limit=0) == []


def test_negative_min_score_admits_zero_scores_newest_first() -> None:
    index = build({"a": ["x"], "b": ["y"], "c": ["z"]})
    hits = index.score(["x"], limit=10, min_score=-1.0)
    assert [(hit.key, hit.score > 0) for hit in hits] == [("a", True), ("c", False), ("b", False)]


def test_hits_report_matched_terms_in_query_order() -> None:
    index = build({"a": ["x", "y", "z"], "b": ["y"]})
    hits = {hit.key: hit for hit in index.score(["z", "q", "y", "z"], limit=10)}
    assert hits["a"].matched_terms == ("z", "y")
    assert hits["b"].matched_terms == ("y",)


def test_add_replaces_and_remove_forgets() -> None:
    index = build({"a": ["x"], "b": ["y"]})
    index.add("a", ["y"], order=order(5, "a"))
    assert len(index) == 2
    assert [hit.key for hit in index.score(["x"], limit=10)] == []
    assert [hit.key for hit in index.score(["y"], limit=10)] == ["a", "b"]
    index.remove("a")
    assert "a" not in index
    assert index.n_terms == 1
    with pytest.raises(KeyError):
        index.remove("a")


def test_empty_docs_count_in_n_and_empty_index_returns_nothing() -> None:
    assert BM25Index().score(["x"], limit=5) == []
    docs: dict[str, list[str]] = {"a": [], "b": ["x"], "c": ["y", "y"]}
    assert_matches_reference(build(docs), docs, ["x", "y"])


def test_memory_bytes_grows_with_content() -> None:
    small = build({"a": ["x"]})
    large = build({f"k{i}": [f"t{i}", f"u{i}", "common"] for i in range(500)})
    assert 0 < small.memory_bytes() < large.memory_bytes()


def test_the_pure_score_uses_the_k1_and_b_it_is_given() -> None:
    docs = [["a", "a", "a", "b"], ["a", "c"], ["c", "d", "e", "f", "g", "h"]]
    df = Counter(term for doc in docs for term in set(doc))
    avgdl = sum(map(len, docs)) / len(docs)
    for k1, b in ((0.5, 0.75), (1.5, 0.1), (3.0, 1.0)):
        expected = ReferenceBM25(docs, k1=k1, b=b).get_scores(["a", "c"])
        scores = [bm25_score(["a", "c"], doc, doc_freq=df, n_docs=3, avgdl=avgdl, k1=k1, b=b) for doc in docs]
        assert scores == pytest.approx(expected)


def test_the_index_size_estimate_tracks_what_the_index_allocates() -> None:
    rng = random.Random(7)
    vocab = [f"term{n}" for n in range(3000)]
    gc.collect()
    tracemalloc.start()
    try:
        index = BM25Index()
        for n in range(3000):
            entities = frozenset({f"10.0.0.{n % 250}"}) if n % 3 == 0 else frozenset()
            index.add(f"doc-{n}", rng.sample(vocab, 12), order=order(n % 60, f"doc-{n}"), entities=entities)
        gc.collect()
        measured, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert 0.75 < index.memory_bytes() / measured < 1.33
