"""Fusion maths as pure functions: scaling, language calibration, the per-query weight, ties."""

from __future__ import annotations

import numpy as np
import pytest

from memory_core.recall.fusion import bm25_weight, calibrate_by_language, fuse, minmax, scale_by_max


def test_minmax_and_scale_by_max() -> None:
    assert minmax([2.0, 4.0, 3.0]).tolist() == [0.0, 1.0, 0.5]
    assert minmax([5.0, 5.0]).tolist() == [0.0, 0.0]
    assert minmax([]).size == 0
    assert scale_by_max([0.0, 2.0, 8.0]).tolist() == [0.0, 0.25, 1.0]
    assert scale_by_max([0.0, 0.0]).tolist() == [0.0, 0.0]


def test_language_calibration_puts_each_language_on_its_own_scale() -> None:
    # English memories score higher for an English query whatever they say; calibration removes that.
    cosine = [0.80, 0.78, 0.76, 0.70, 0.62]
    langs = ["en", "en", "en", "zh", "zh"]
    assert calibrate_by_language(cosine, langs).round(6).tolist() == [1.0, 0.5, 0.0, 1.0, 0.0]
    assert calibrate_by_language([0.3], ["zh"]).tolist() == [1.0]  # a lone memory is the best of its language


@pytest.mark.parametrize(
    ("overlap", "matched", "weight"), [(1.0, True, 0.6), (0.5, True, 0.3), (0.0, True, 0.0), (0.9, False, 0.0),
                                       (1.7, True, 0.6), (float("nan"), True, 0.0)],
)  # fmt: skip
def test_bm25_weight_follows_what_the_query_shows(overlap: float, matched: bool, weight: float) -> None:
    assert bm25_weight(overlap, 0.6, matched) == pytest.approx(weight)


def test_fuse_combines_the_parts_with_the_weight() -> None:
    fused = fuse([0.0, 10.0, 5.0], [0.70, 0.80, 0.75], ["en", "en", "en"], 0.5)
    assert fused.bm25_norm.tolist() == [0.0, 1.0, 0.5]
    assert fused.dense_norm.round(6).tolist() == [0.0, 1.0, 0.5]
    assert fused.final.round(6).tolist() == [0.0, 1.0, 0.5]
    assert fused.weight == 0.5


def test_when_bm25_matches_nothing_the_dense_ranking_stands_alone() -> None:
    weight = bm25_weight(0.8, 0.6, bm25_matched=False)
    fused = fuse(np.zeros(3), [0.2, 0.9, 0.5], ["zh", "zh", "zh"], weight)
    assert weight == 0.0
    assert np.argsort(-fused.final).tolist() == [1, 2, 0]
