"""Fusion maths as pure functions: scaling, calibrated standing, the per-query weight, ties."""

from __future__ import annotations

import numpy as np
import pytest

from memory_core.recall.fusion import bm25_weight, fuse, scale_by_max, standing
from memory_core.recall.relevance import Calibration

NONE = np.zeros(3)


def test_scale_by_max_and_standing() -> None:
    assert scale_by_max([0.0, 2.0, 8.0]).tolist() == [0.0, 0.25, 1.0]
    assert scale_by_max([0.0, 0.0]).tolist() == [0.0, 0.0]
    assert standing([2.0, 4.0, 3.0]).tolist() == [0.0, 1.0, 0.5]
    assert standing([5.0, 5.0]).tolist() == [1.0, 1.0] and standing([0.3]).tolist() == [1.0]
    assert standing([]).size == 0


def test_the_best_memory_of_the_other_language_is_not_lifted_when_it_is_unrelated() -> None:
    """Per-language min-max gave the best Chinese memory 1 for an English query, however unrelated; calibrated
    against unrelated pairs of the same languages, it stays below the English memory that answers."""
    calibration = Calibration.load()
    langs = np.array([0, 0, 0, 1, 1], dtype=np.int8)
    cosine = np.array([0.86, 0.78, 0.76, 0.752, 0.74])  # the Chinese ones sit at their pair's background
    dense = standing(calibration.z(cosine, langs, query_lang=0))
    assert dense[0] == 1.0 and dense[3] < 0.5


@pytest.mark.parametrize(
    ("overlap", "matched", "weight"), [(1.0, True, 0.6), (0.5, True, 0.3), (0.0, True, 0.0), (0.9, False, 0.0),
                                       (1.7, True, 0.6), (float("nan"), True, 0.0)],
)  # fmt: skip
def test_bm25_weight_follows_what_the_query_shows(overlap: float, matched: bool, weight: float) -> None:
    assert bm25_weight(overlap, 0.6, matched) == pytest.approx(weight)


def test_fuse_combines_the_parts_with_the_weight() -> None:
    fused = fuse([0.0, 10.0, 5.0], [0.70, 0.80, 0.75], 0.5, NONE)
    assert fused.bm25_norm.tolist() == [0.0, 1.0, 0.5]
    assert fused.dense_norm.round(6).tolist() == [0.0, 1.0, 0.5]
    assert fused.final.round(6).tolist() == [0.0, 1.0, 0.5]
    assert fused.weight == 0.5


def test_when_bm25_matches_nothing_the_dense_ranking_stands_alone() -> None:
    weight = bm25_weight(0.8, 0.6, bm25_matched=False)
    fused = fuse(np.zeros(3), [0.2, 0.9, 0.5], weight, NONE)
    assert weight == 0.0
    assert np.argsort(-fused.final).tolist() == [1, 2, 0]


def test_in_a_one_language_library_calibrated_standing_is_the_cosines_min_max() -> None:
    """Calibration is affine within a language pair, so a monolingual library ranks and scores as before."""
    calibration = Calibration.load()
    cosine = np.array([0.81, 0.77, 0.79, 0.74])
    for lang in (0, 1):
        z = calibration.z(cosine, np.full(4, lang, dtype=np.int8), query_lang=lang)
        assert standing(z) == pytest.approx((cosine - cosine.min()) / (cosine.max() - cosine.min()))


def test_fuse_scales_among_the_memories_it_is_given() -> None:
    among = np.array([False, True, True])
    fused = fuse([9.0, 4.0, 2.0], [0.95, 0.80, 0.70], 0.5, NONE, among)
    assert fused.bm25_norm[1:].tolist() == [1.0, 0.5] and fused.dense_norm[1:].round(6).tolist() == [1.0, 0.0]
    assert standing([0.3, 0.5], np.array([False, False])).tolist() == [1.0, 1.0]
