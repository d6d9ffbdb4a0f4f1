"""Whether a Mem0 `threshold` filters anything for one library, and a value that does.

Mem0's threshold applies to the semantic score: the cosine between the query's vector and a memory's. With
e5 every cosine sits high (0.7-0.9 between unrelated sentences), so Pipecat's default 0.1 lets everything
through. The library's own memories show where its cosines lie: embedded as Mem0 embeds them (the query
prefix for both sides), the cosines between pairs of its memories stand in for the scores of unrelated
memories. A threshold at or below the lowest of them filters nothing.

Scores are compared on the scale of the store Mem0 searches: Qdrant gives the cosine; on Chroma Mem0 turns
the squared L2 distance into 1/(1+d), which for unit vectors is 1/(3-2cos) (0.714 for a cosine of 0.8, and
never below 1/3), so a threshold is judged and suggested on that scale there.

The suggestion is the 30th percentile of those pair cosines (`PYTHONPATH=. python bench/threshold.py`,
top 5 ranked by cosine). On our own retrieval cases (tests/data/retrieval-fresh.json, 4 libraries of 45
memories, 140 queries) it cost no answer (recall@5 0.740 with no threshold and at p30; p40 also 0.740) and
cut the wrong memories per query from 4.35 to 4.02. On the shared dev set it cost 0.010 (0.723 to 0.713;
p40 cost 0.085, which is why p40 was not taken) and cut them from 4.15 to 3.77. e5-small separates so
little that no threshold does much more: ranking and the top-k do the work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .embeddings import Embedder

SUGGESTED_PERCENTILE = 30
MAX_MEMORIES = 300  # 44,850 pairs: enough for the percentiles, a second or two to embed
Scale = Callable[[np.ndarray], np.ndarray]


def chroma_scale(cosines: np.ndarray) -> np.ndarray:
    """Mem0's score on Chroma for unit vectors: 1/(1+d), d = 2-2cos the squared L2 distance."""
    return np.asarray(1.0 / (3.0 - 2.0 * np.asarray(cosines, dtype=np.float64)))


SCALES: dict[str, Scale] = {"chroma": chroma_scale}  # any other store: the cosine itself


@dataclass(frozen=True)
class ThresholdAdvice:
    """A threshold judged against one library's pair cosines, with the value we suggest."""

    threshold: float
    memories: int
    scale: str = "cosine"  # the store's semantic score: "cosine", or "chroma" (1/(3-2cos))
    lowest: float = 0.0
    median: float = 0.0
    highest: float = 0.0
    suggested: float = 0.0
    filters_nothing: bool = False
    note: str = ""

    def as_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def pair_cosines(vectors: np.ndarray) -> np.ndarray:
    """The cosine of every pair of distinct rows (rows are unit vectors)."""
    similarity = vectors @ vectors.T
    return np.asarray(similarity[np.triu_indices(len(vectors), 1)], dtype=np.float64)


def advise(threshold: float, texts: Sequence[str], embedder: Embedder, *, scale: str = "cosine") -> ThresholdAdvice:
    """Judge `threshold` against the library's texts (the first MAX_MEMORIES of them) on the store's scale."""
    kept = [t for t in texts if t.strip()][:MAX_MEMORIES]
    if len(kept) < 2:
        note = "too few memories to judge the threshold (need 2)"
        return ThresholdAdvice(threshold, len(kept), scale, note=note)
    vectors = np.asarray(embedder.embed(kept, kind="query"), dtype=np.float32)
    return judged(threshold, pair_cosines(_unit(vectors)), scale=scale)


def judged(threshold: float, cosines: np.ndarray, *, scale: str = "cosine") -> ThresholdAdvice:
    """The advice for `threshold` given the pair cosines of a library, on the store's scale."""
    memories = round((1 + float(np.sqrt(1 + 8 * len(cosines)))) / 2)
    scores = SCALES[scale](cosines) if scale in SCALES else np.asarray(cosines, dtype=np.float64)
    lowest, median, highest = (float(np.percentile(scores, q)) for q in (0, 50, 100))
    suggested = float(np.floor(np.percentile(scores, SUGGESTED_PERCENTILE) * 100) / 100)
    filters_nothing = threshold <= lowest
    return ThresholdAdvice(
        threshold, memories, scale, round(lowest, 3), round(median, 3), round(highest, 3), suggested,
        filters_nothing, _note(threshold, lowest, suggested, filters_nothing, scale),
    )  # fmt: skip


def _note(threshold: float, lowest: float, suggested: float, filters_nothing: bool, scale: str) -> str:
    score = "score (Chroma's 1/(3-2cos))" if scale == "chroma" else "cosine"
    if filters_nothing:
        return (f"search_threshold {threshold:g} filters nothing: the lowest {score} between two of this "
                f"library's memories is {lowest:.2f}, so every memory passes; try {suggested:.2f}")  # fmt: skip
    return f"search_threshold {threshold:g} is above the lowest pair {score} ({lowest:.2f}); suggested {suggested:.2f}"


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.where(norms == 0, 1, norms))
