"""Calibrated relevance: z against unrelated pairs of the same languages, then a regression to a probability."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from memory_core.models import MemoryItem
from memory_core.recall.background import Background
from memory_core.recall.lexical import ScoredMemory
from memory_core.recall.relevance import (
    PARAMETERS_FILE,
    Calibration,
    Lexical,
    language_code,
    lexical_evidence,
    library_z,
)

SHIPPED = Calibration.load()
BACKGROUND = ((0.78, 0.03), (0.75, 0.025), (0.75, 0.02), (0.84, 0.02))
TOY = Calibration("toy", BACKGROUND, (2.0, -6.0), (2.0, 1.0, 0.5, 2.0, 3.0, 3.0, -6.0))


def _lexical(n: int, **columns: list[float]) -> Lexical:
    zero = [0.0] * n
    return Lexical(*(np.array(columns.get(name, zero), dtype=float) for name in ("bm25_norm", "coverage", "entity",
                                                                                  "name")))  # fmt: skip


def test_z_uses_the_background_of_the_query_and_memory_languages() -> None:
    z = TOY.z(np.array([0.84, 0.84]), np.array([0, 1], dtype=np.int8), query_lang=1)
    assert z == pytest.approx([(0.84 - 0.75) / 0.02, 0.0])


def test_relevance_rises_with_the_cosine_in_every_language_pair() -> None:
    cosine = np.linspace(0.6, 0.95, 50)
    for query_lang in (0, 1):
        for memory_lang in (0, 1):
            z = TOY.z(cosine, np.full(50, memory_lang, dtype=np.int8), query_lang)
            assert np.all(np.diff(TOY.dense_relevance(z)) > 0)
            assert np.all(np.diff(TOY.fused_relevance(z, _lexical(50))) >= 0)


def test_the_same_standing_against_its_background_scores_the_same_in_any_language_pair() -> None:
    """A cross-lingual pair as far above its background as a same-language pair is as relevant."""
    same = TOY.z(np.array([0.84 + 2 * 0.02]), np.array([1], dtype=np.int8), query_lang=1)
    cross = TOY.z(np.array([0.75 + 2 * 0.025]), np.array([1], dtype=np.int8), query_lang=0)
    assert TOY.dense_relevance(same) == pytest.approx(TOY.dense_relevance(cross))


def test_a_memory_near_every_question_gains_less_from_the_same_cosine() -> None:
    """The centre moves half-way from the pair's mean to the memory's hub: a higher hub, a lower z."""
    cosine, langs = np.array([0.86, 0.86, 0.86]), np.array([1, 1, 1], dtype=np.int8)
    z = TOY.z(cosine, langs, query_lang=1, hub=np.array([0.80, 0.84, 0.88]))
    assert z[0] > z[1] > z[2]
    assert z[1] == pytest.approx(TOY.z(cosine[:1], langs[:1], query_lang=1)[0])  # a hub at the mean: no change
    assert z == pytest.approx((0.86 - (0.5 * 0.84 + 0.5 * np.array([0.80, 0.84, 0.88]))) / 0.02)


def test_a_rows_hub_is_the_same_alone_or_in_a_batch() -> None:
    """Float64 products rounded to float32: an index kept write by write holds what a rebuild computes."""
    rng = np.random.default_rng(3)
    questions = rng.standard_normal((10, 32))
    background = Background("toy", questions, np.array([0] * 5 + [1] * 5, dtype=np.int8))
    rows = rng.standard_normal((300, 32)).astype(np.float32)
    batch = background.hub(rows)
    assert batch.shape == (300, 2) and batch.dtype == np.float32
    assert all(np.array_equal(background.hub(rows[n]), batch[n : n + 1]) for n in range(300))
    assert batch[7, 1] == pytest.approx(np.median(questions[5:] @ rows[7].astype(np.float64)), abs=1e-6)


def test_lexical_evidence_raises_relevance_and_lands_on_its_memory() -> None:
    item = MemoryItem("m2", "我叫小张", "note", "", "", "session", {}, "p", "c", "l", "t", "t")
    hit = ScoredMemory(item, 3.0, 0.0, 5.0, 8.0, ("我叫",), (), 1)
    evidence = lexical_evidence([hit], [2], 4, query_terms=2)
    assert evidence.bm25_norm.tolist() == [0, 0, 1, 0] and evidence.coverage.tolist() == [0, 0, 0.5, 0]
    assert evidence.name.tolist() == [0, 0, 1, 0] and evidence.entity.tolist() == [0, 0, 0, 0]
    z = np.zeros(4)
    scores = TOY.fused_relevance(z, evidence)
    assert scores[2] > scores[0] == scores[1] == scores[3]


def test_without_a_background_for_the_embedder_the_library_stands_in() -> None:
    other = SHIPPED.for_embedder("some-other-embedder")
    assert other.background == () and other.fused == SHIPPED.fused
    assert SHIPPED.for_embedder(SHIPPED.model) is SHIPPED
    rng = np.random.default_rng(1)
    cosine = rng.normal(0.3, 0.05, 40)
    cosine[7] = 0.6
    langs = np.array([0, 1] * 20, dtype=np.int8)
    z = other.z(cosine, langs, query_lang=0)
    assert int(np.argmax(z)) == 7 and abs(float(np.median(z[langs == 0]))) < 1e-9


def test_library_z_pools_a_language_with_few_memories() -> None:
    cosine = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95])
    langs = np.array([0] * 9 + [1], dtype=np.int8)
    z = library_z(cosine, langs)
    assert z[-1] > 1 and z[0] < -1  # the lone Chinese memory is judged against the whole library


def test_language_codes() -> None:
    assert language_code("I love tea") == 0 and language_code("我喜欢喝茶") == 1


def test_parameters_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "relevance.json"
    TOY.save(path)
    assert Calibration.load(path) == TOY


def test_the_shipped_background_is_a_sane_distribution() -> None:
    assert PARAMETERS_FILE.is_file(), "python -m memory_core relevance train"
    assert len(SHIPPED.background) == 4
    assert all(0.5 < mean < 0.95 and 0.005 < std < 0.1 for mean, std in SHIPPED.background)
    # e5 scores unrelated same-language pairs above unrelated cross-language ones: what calibration undoes
    assert SHIPPED.background[0][0] > SHIPPED.background[1][0] and SHIPPED.background[3][0] > SHIPPED.background[2][0]
