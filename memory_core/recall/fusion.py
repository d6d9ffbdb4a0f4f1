"""Fusing BM25 with dense recall, with a weight set per query from what the query shows, and a calibrated
relevance that can say "nothing here helps".

The policy (measured on LoCoMo, the bilingual retrieval set and our own; see the README):

1. Cosines are calibrated per language pair (`relevance.Calibration.z`): a multilingual embedder scores
   a same-language pair higher than a cross-language one whatever the meaning, so each cosine is
   standardised against unrelated pairs of the same query and memory languages. The dense score is the
   memory's calibrated similarity as a share of the library's range for this query. (Min-max scaling
   within each memory language, as before, lifted the best memory of every language to 1 however
   unrelated it was: one memory of the other language came along with nearly every recall.)
2. BM25 scores are scaled by the query's best BM25 score (a memory BM25 did not match scores 0).
3. The BM25 weight is `max_weight × overlap`, where overlap is the idf-weighted share of the
   query's terms that occur anywhere in the library: a query BM25 can read (same language, same
   words) leans on BM25; a paraphrase or a cross-lingual query leans on the embeddings.
4. When BM25 matches nothing the dense ranking stands alone (weight 0). An exact entity in the
   query (an IP, a path, a server alias) keeps the reference's hard filter: only memories sharing it.
5. Every memory also gets a calibrated relevance, the probability that it helps with the query (from
   its calibrated similarity, how far it trails the best, and BM25's evidence; fitted on the project's
   own data). When no memory reaches the relevance floor nothing is recalled, and the search says so.
   An exact shared entity, or a declared name for a name question, always passes: a strong lexical
   match is never cut because another memory is semantically closer. With an embedder the parameters
   were not fitted for, relevance is estimated against the library's own background and the floor is off.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from ..errors import InvalidInputError
from ..models import MemoryItem, Scope
from .dense import DenseRetriever, DenseView
from .lexical import CATEGORY_BOOST, MAX_LIMIT, BM25Retriever, ScoredMemory, check_search_args
from .relevance import Calibration, Lexical, language_code, lexical_evidence
from .tokenizer import filter_entities

METHODS = ("bm25", "dense", "fusion")
# Fused scores live in 0..1 (BM25 raw scores run to 10s), so the category boost is scaled down to match.
CATEGORY_SCALE = 0.05
# Nothing is recalled when no memory's calibrated relevance reaches this (MEMTUNE_FUSION_RELEVANCE_FLOOR). Low on
# purpose: at 0.05 it cuts 1 of our 148 answerable retrieval queries (dev and fresh together) and every general
# question of the conversation sets that a decision sent to recall; at 0.1 it cuts 4, as e5 finds some
# cross-lingual answers only faintly. A library with sharper needs sets its own from the golden-query sweep.
RELEVANCE_FLOOR = 0.05
Positions = npt.NDArray[np.intp]
Mask = npt.NDArray[np.bool_]
Floats = npt.NDArray[np.float64]


def scale_by_max(values: npt.ArrayLike) -> Floats:
    """Scale non-negative scores to 0..1 by the largest (a memory BM25 did not match stays 0)."""
    array = np.asarray(values, dtype=np.float64)
    top = float(array.max()) if array.size else 0.0
    return array / top if top > 0 else np.zeros_like(array)


def standing(z: npt.ArrayLike, among: Mask | None = None) -> Floats:
    """Each memory's calibrated similarity as a share of the range of those `among` (default all) for this
    query (the best 1, the least similar 0); all-equal or a single memory: 1."""
    values = np.asarray(z, dtype=np.float64)
    pool = values if among is None else values[among]
    if pool.size == 0:
        return np.ones_like(values)
    low, spread = float(pool.min()), float(pool.max() - pool.min())
    return (values - low) / spread if spread > 0 else np.ones_like(values)


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
    relevance: Floats  # the calibrated probability that each memory helps


@dataclass(frozen=True)
class SearchReport:
    """A search's hits, and what the floors held back: how many memories scored at or below `min_score`,
    the best calibrated relevance, and whether the relevance floor cut everything."""

    hits: tuple[ScoredMemory, ...]
    below_threshold: int = 0
    best_relevance: float = 0.0
    relevance_floor: float = 0.0

    @property
    def nothing_likely(self) -> bool:
        return not self.hits and self.best_relevance < self.relevance_floor

    def note(self) -> str:
        """What the floors did, for the trace ("" when nothing was held back)."""
        if self.nothing_likely:
            return (f"no memory is likely to help (best relevance {self.best_relevance:.2f} < floor "
                    f"{self.relevance_floor:g}), so nothing was recalled")  # fmt: skip
        return f"{self.below_threshold} below the threshold" if self.below_threshold else ""


def fuse(
    bm25: npt.ArrayLike, z: npt.ArrayLike, weight: float, relevance: Floats, among: Mask | None = None
) -> FusedScores:
    """weight × BM25 scaled by its max + (1 − weight) × calibrated standing, for aligned arrays, both scaled
    over the memories `among` (default all: the others' scores mean nothing).

    `bm25` holds raw scores (0 for a memory BM25 did not match), `z` each memory's calibrated similarity.
    """
    raw = np.asarray(bm25, dtype=np.float64)
    bm25_norm = scale_by_max(raw if among is None else np.where(among, raw, 0.0))
    dense_norm = standing(z, among)
    return FusedScores(bm25_norm, dense_norm, weight * bm25_norm + (1 - weight) * dense_norm, weight, relevance)


class FusionRetriever:
    """BM25, dense or fused recall over the same libraries (the method is chosen per call)."""

    methods: tuple[str, ...] = METHODS

    def __init__(self, bm25: BM25Retriever, dense: DenseRetriever, *, max_weight: float = 0.6,
                 candidates: int = 200, calibration: Calibration | None = None,
                 relevance_floor: float = RELEVANCE_FLOOR) -> None:  # fmt: skip
        self.bm25 = bm25
        self.dense = dense
        self.max_weight = max_weight
        self.candidates = candidates
        # The shipped parameters when they were fitted for this embedder, else the library's own background.
        self.calibration = (calibration or Calibration.load()).for_embedder(dense.embedder.name)
        self.relevance_floor = relevance_floor

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
        relevance_floor: float | None = None,
        include_superseded: bool = True,
    ) -> tuple[ScoredMemory, ...]:
        """The best memories by the chosen method; every hit carries BM25, dense, the weight and the total.
        Without `include_superseded`, memories a newer one replaced are left out before scores are scaled."""
        return self.search_report(
            scope, query, limit=limit, min_score=min_score, categories=categories, category_boost=category_boost,
            method=method, max_weight=max_weight, candidates=candidates, relevance_floor=relevance_floor,
            include_superseded=include_superseded,
        ).hits  # fmt: skip

    def search_report(
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
        relevance_floor: float | None = None,
        include_superseded: bool = True,
    ) -> SearchReport:
        """`search`, with what its floors held back (for bm25: the hits alone)."""
        if method not in METHODS:
            raise InvalidInputError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
        if method == "bm25":
            return SearchReport(self.bm25.search(scope, query, limit=limit, min_score=min_score,
                                                 categories=categories, category_boost=category_boost))  # fmt: skip
        check_search_args(limit, min_score)
        depth = min(max(candidates or self.candidates, limit), MAX_LIMIT)
        lexical, overlap = self.bm25.lexical(scope, query, limit=depth)
        by_id = {hit.item.id: hit for hit in lexical}
        view = self.dense.view(scope, query, locate=list(by_id))
        pool = np.ones(view.size, dtype=np.bool_) if include_superseded else ~view.superseded
        matched = bool(pool[view.located[view.located >= 0]].any())  # BM25 matched a memory of the pool
        cap = self.max_weight if max_weight is None else max_weight
        weight = 0.0 if method == "dense" else bm25_weight(overlap, cap, matched)
        evidence = self._evidence(view, lexical, query)
        query_lang = language_code(query)
        hub = view.hub[:, query_lang] if view.hub is not None else None
        z = self.calibration.z(view.cosine, view.langs, query_lang, hub)
        fused = fuse(_bm25_scores(view, lexical), z, weight, np.zeros(view.size), pool)
        boosts = _category_boosts(view, categories, category_boost)
        total = fused.final + boosts
        keep = _entity_mask(query, view, matched) & pool
        scored = _relevance_needed(view, z, total, keep, limit)
        top = float(z[pool].max()) if pool.any() else 0.0
        fused.relevance[scored] = self._relevance(z, evidence, method, scored, top)
        floor = self.relevance_floor if relevance_floor is None else relevance_floor
        floor = floor if self.calibration.fitted else 0.0  # an estimate from the library alone cuts nothing
        best = float(fused.relevance[scored[keep[scored]]].max()) if keep.any() else 0.0
        # never cut (the module's policy, point 5): an exact entity or a declared name, when fusion reads BM25
        strong = (evidence.entity > 0) | (evidence.name > 0) if method == "fusion" else np.zeros(view.size, bool)
        eligible = keep & (((total > min_score) & (best >= floor)) | strong)
        hits = tuple(
            _hit(item, by_id.get(item.id), fused, float(view.cosine[n]), n, float(boosts[n]), float(total[n]), rank,
                 method)
            for rank, (n, item) in enumerate(_best(view, total, eligible, limit), 1)
        )  # fmt: skip
        return SearchReport(hits, int((keep & ~(total > min_score)).sum()), best, floor)

    def _relevance(self, z: Floats, evidence: Lexical, method: str, at: Positions, top: float) -> Floats:
        """The calibrated relevance of the memories at `at`: from meaning alone for dense, with BM25's evidence
        (and how far each trails the `top` z) for fusion."""
        if method == "dense":
            return self.calibration.dense_relevance(z[at])
        return self.calibration.fused_relevance(z[at], evidence.at(at), top=top)

    def _evidence(self, view: DenseView, lexical: Sequence[ScoredMemory], query: str) -> Lexical:
        """BM25's evidence at the lexical hits' positions in the view."""
        found = view.located >= 0
        hits = [hit for hit, present in zip(lexical, found.tolist(), strict=True) if present]
        return lexical_evidence(hits, view.located[found].tolist(), view.size, len(set(self.bm25.tokenizer(query))))


def _relevance_needed(view: DenseView, z: Floats, total: Floats, keep: Mask, limit: int) -> Positions:
    """Where a search needs relevance: every memory that can be a hit (the `limit` best kept by score, and
    BM25's matches, which a floor never cuts when strong) and the memory of best relevance among those BM25 did
    not match (relevance rises with z when nothing else differs), so the floor reads the library's best."""
    lexical = np.zeros(view.size, dtype=np.bool_)
    lexical[view.located[view.located >= 0]] = True
    wanted = [_contenders(total, keep, limit), np.flatnonzero(lexical)]
    unmatched = keep & ~lexical
    if unmatched.any():
        wanted.append(np.array([int(np.argmax(np.where(unmatched, z, -np.inf)))]))
    return np.unique(np.concatenate(wanted))


def _bm25_scores(view: DenseView, lexical: Sequence[ScoredMemory]) -> Floats:
    """The lexical hits' scores at their positions in the view (0 for a memory BM25 did not match)."""
    raw = np.zeros(view.size)
    found = view.located >= 0
    raw[view.located[found]] = np.array([hit.score for hit in lexical], dtype=np.float64)[found]
    return raw


def _category_boosts(view: DenseView, categories: Sequence[str], category_boost: float) -> Floats:
    """The boost of each memory whose category the decision asked for (none when the boost is off)."""
    codes = view.category_codes(frozenset(categories)) if category_boost > 0 else []
    if not codes:
        return np.zeros(view.size)
    return (np.isin(view.categories, codes) * float(category_boost * CATEGORY_SCALE)).astype(np.float64, copy=False)


def _entity_mask(query: str, view: DenseView, bm25_matched: bool) -> npt.NDArray[np.bool_]:
    """The reference's exact-entity filter: with an entity in the query, only the memories BM25 matched."""
    keep = np.ones(view.size, dtype=np.bool_)
    if filter_entities(query) and bm25_matched:
        keep[:] = False
        keep[view.located[view.located >= 0]] = True
    return keep


def _best(view: DenseView, total: Floats, eligible: npt.NDArray[np.bool_], limit: int) -> list[tuple[int, MemoryItem]]:
    """The `limit` best eligible positions with their items, ties newest first (created_at, then id, descending)."""
    candidates = _contenders(total, eligible, limit)
    present = [(n, item) for n, item in zip(candidates.tolist(), view.items_at(candidates), strict=True)
               if item is not None]  # fmt: skip
    return heapq.nlargest(limit, present, key=lambda pair: (total[pair[0]], pair[1].created_at, pair[1].id))


def _contenders(total: Floats, eligible: npt.NDArray[np.bool_], limit: int) -> npt.NDArray[np.intp]:
    """The eligible positions scoring at least the `limit`-th best of them: everything tied with it stays in."""
    masked = np.where(eligible, total, -np.inf)
    if masked.size > limit:
        cut = masked[np.argpartition(masked, -limit)[-limit]]
        if cut > -np.inf:
            return np.flatnonzero(masked >= cut)
    return np.flatnonzero(eligible)


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
        relevance=float(fused.relevance[n]),
    )
