"""Fusing BM25 with dense recall, with a weight set per query from what the query shows.

The policy (measured on LoCoMo and the bilingual retrieval set; see the README):

1. Dense scores are calibrated per memory language: cosine similarities are min-max scaled within
   each language group of the library. Multilingual embedders score a same-language pair higher
   than a cross-language one regardless of meaning, so without this an English question ranks
   unrelated English memories above the Chinese memory that answers it.
2. BM25 scores are scaled by the query's best BM25 score (a memory BM25 did not match scores 0).
3. The BM25 weight is `max_weight × overlap`, where overlap is the idf-weighted share of the
   query's terms that occur anywhere in the library: a query BM25 can read (same language, same
   words) leans on BM25; a paraphrase or a cross-lingual query leans on the embeddings.
4. When BM25 matches nothing the dense ranking stands alone (weight 0). An exact entity in the
   query (an IP, a path, a server alias) keeps the reference's hard filter: only memories sharing it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from ..errors import InvalidInputError
from ..models import MemoryItem, Scope
from .dense import DenseRetriever
from .lexical import CATEGORY_BOOST, MAX_LIMIT, BM25Retriever, ScoredMemory, check_search_args
from .tokenizer import filter_entities

METHODS = ("bm25", "dense", "fusion")
# Fused scores live in 0..1 (BM25 raw scores run to 10s), so the category boost is scaled down to match.
CATEGORY_SCALE = 0.05
Floats = npt.NDArray[np.float64]


def minmax(values: npt.ArrayLike) -> Floats:
    """Scale to 0..1; all-equal values (or none) scale to 0."""
    array = np.asarray(values, dtype=np.float64)
    if array.size == 0:
        return array
    low, high = float(array.min()), float(array.max())
    return (array - low) / (high - low) if high > low else np.zeros_like(array)


def scale_by_max(values: npt.ArrayLike) -> Floats:
    """Scale non-negative scores to 0..1 by the largest (a memory BM25 did not match stays 0)."""
    array = np.asarray(values, dtype=np.float64)
    top = float(array.max()) if array.size else 0.0
    return array / top if top > 0 else np.zeros_like(array)


def calibrate_by_language(cosine: npt.ArrayLike, langs: Sequence[str]) -> Floats:
    """Min-max scale the cosines separately within each language group.

    A group with a single memory (or all-equal cosines) has no spread to scale by: its members are
    the best of their language and get 1.
    """
    values = np.asarray(cosine, dtype=np.float64)
    out = np.zeros_like(values)
    groups = np.asarray(langs)
    for lang in set(langs):
        members = groups == lang
        spread = np.ptp(values[members])
        out[members] = minmax(values[members]) if spread > 0 else 1.0
    return out


def bm25_weight(overlap: float, max_weight: float, bm25_matched: bool) -> float:
    """The policy's weight for BM25 in this query (the dense part gets the rest)."""
    if not bm25_matched or not math.isfinite(overlap):
        return 0.0
    return max_weight * min(max(overlap, 0.0), 1.0)


@dataclass(frozen=True)
class FusedScores:
    bm25_norm: Floats
    dense_norm: Floats
    final: Floats
    weight: float


def fuse(bm25: npt.ArrayLike, cosine: npt.ArrayLike, langs: Sequence[str], weight: float) -> FusedScores:
    """weight × BM25 scaled by its max + (1 − weight) × language-calibrated cosine, for aligned arrays."""
    bm25_norm = scale_by_max(bm25)
    dense_norm = calibrate_by_language(cosine, langs)
    return FusedScores(bm25_norm, dense_norm, weight * bm25_norm + (1 - weight) * dense_norm, weight)


class FusionRetriever:
    """BM25, dense or fused recall over the same libraries (the method is chosen per call)."""

    methods: tuple[str, ...] = METHODS

    def __init__(self, bm25: BM25Retriever, dense: DenseRetriever, *, max_weight: float = 0.6,
                 candidates: int = 200) -> None:  # fmt: skip
        self.bm25 = bm25
        self.dense = dense
        self.max_weight = max_weight
        self.candidates = candidates

    def sync(self, scope: Scope, progress: Callable[[int, int], None] | None = None) -> int:
        """Embed what the library's new or changed memories need (writes call this; searches do too)."""
        return self.dense.sync(scope, progress)

    def forget(self, scope: Scope) -> None:
        """Drop a library's BM25 index and vectors from memory; the next use rebuilds both from the store."""
        self.bm25.forget(scope)
        self.dense.forget(scope)

    def forget_profile(self, profile_id: str) -> int:
        """Drop every in-memory index of a profile's libraries, both kinds; returns how many were held."""
        return self.bm25.forget_profile(profile_id) + self.dense.forget_profile(profile_id)

    def search(
        self,
        scope: Scope,
        query: str,
        *,
        limit: int = 5,
        min_score: float = 0.0,
        categories: Sequence[str] = (),
        category_boost: float = CATEGORY_BOOST,
        method: str = "fusion",
        max_weight: float | None = None,
        candidates: int | None = None,
    ) -> tuple[ScoredMemory, ...]:
        """The best memories by the chosen method; every hit carries BM25, dense, the weight and the total."""
        if method not in METHODS:
            raise InvalidInputError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
        if method == "bm25":
            return self.bm25.search(scope, query, limit=limit, min_score=min_score, categories=categories,
                                    category_boost=category_boost)  # fmt: skip
        check_search_args(limit, min_score)
        depth = min(max(candidates or self.candidates, limit), MAX_LIMIT)
        lexical, overlap = self.bm25.lexical(scope, query, limit=depth)
        view = self.dense.view(scope, query)
        by_id = {hit.item.id: hit for hit in lexical}
        raw = np.array([by_id[item.id].score if item.id in by_id else 0.0 for item in view.items])
        cap = self.max_weight if max_weight is None else max_weight
        weight = 0.0 if method == "dense" else bm25_weight(overlap, cap, bool(lexical))
        fused = fuse(raw, view.cosine, view.langs, weight)
        keep = np.array(_entity_filter(query, view.items, by_id), dtype=bool)
        wanted = frozenset(categories) if category_boost > 0 else frozenset()
        boosts = np.array([category_boost * CATEGORY_SCALE if i.category in wanted else 0.0 for i in view.items])
        total = fused.final + boosts
        order = _best(total, keep & (total > min_score), view.items, limit)
        return tuple(
            _hit(view.items[n], by_id.get(view.items[n].id), fused, float(view.cosine[n]), n, float(boosts[n]),
                 float(total[n]), rank, method)
            for rank, n in enumerate(order[:limit], 1)
        )  # fmt: skip


def _best(total: Floats, eligible: npt.NDArray[np.bool_], items: Sequence[MemoryItem], limit: int) -> list[int]:
    """Indices of the `limit` best eligible scores, ties newest first (created_at, then id, descending)."""
    candidates = np.flatnonzero(eligible)
    if candidates.size > limit:
        cut = np.partition(total[candidates], -limit)[-limit]
        candidates = candidates[total[candidates] >= cut]  # everything tied with the k-th stays in the race
    ranked = sorted(candidates.tolist(), key=lambda n: (total[n], items[n].created_at, items[n].id), reverse=True)
    return ranked[:limit]


def _entity_filter(query: str, items: Sequence[MemoryItem], lexical: dict[str, ScoredMemory]) -> list[bool]:
    """The reference's exact-entity filter: with an entity in the query, only memories sharing one."""
    if filter_entities(query) and lexical:
        return [item.id in lexical for item in items]
    return [True] * len(items)


def _hit(
    item: MemoryItem,
    lexical: ScoredMemory | None,
    fused: FusedScores,
    cosine: float,
    n: int,
    category_boost: float,
    total: float,
    rank: int,
    method: str,
) -> ScoredMemory:
    base = lexical or ScoredMemory(item, 0.0, 0.0, 0.0, 0.0, (), (), rank)
    return replace(
        base,
        rank=rank,
        method=method,
        score=total,
        category_boost=category_boost,
        bm25_norm=float(fused.bm25_norm[n]),
        dense=cosine,
        dense_norm=float(fused.dense_norm[n]),
        weight=fused.weight,
    )
