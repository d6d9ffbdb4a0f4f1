"""Okapi BM25 with the reference's rules: the maths as pure functions, a slow oracle, a fast index.

`BM25Index` is an incremental inverted index (its documents and postings kept by `postings.Postings`)
that scores only the documents in the query terms' postings. `ReferenceBM25` scores every document in
Python (rank-bm25) and is what the index is tested against.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from rank_bm25 import BM25Okapi

from .postings import Postings, int_view

K1 = 1.5
B = 0.75
ENTITY_BOOST = 10.0  # per exact entity the query and the document share
NAME_BOOST = 5.0  # the query asks the user's name and the document declares one

FloatArray = npt.NDArray[np.float64]


def idf(n_docs: int, df: int) -> float:
    """The reference's idf, always positive: ln(1 + (N - df + 0.5) / (df + 0.5))."""
    return math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))


def term_weight(tf: Any, doc_len: Any, avgdl: float, *, k1: float = K1, b: float = B) -> Any:
    """Okapi's saturated term frequency; works on floats and on numpy arrays alike."""
    return tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * doc_len / avgdl))


def bm25_score(
    query_tokens: Iterable[str],
    doc_tokens: Sequence[str],
    *,
    doc_freq: Mapping[str, int],
    n_docs: int,
    avgdl: float,
    k1: float = K1,
    b: float = B,
) -> float:
    """One document's score; each query token counts as often as it occurs in the query."""
    tf = Counter(doc_tokens)
    return float(
        sum(
            idf(n_docs, doc_freq[term]) * term_weight(tf[term], len(doc_tokens), avgdl, k1=k1, b=b)
            for term in query_tokens
            if tf[term]
        )
    )


class ReferenceBM25(BM25Okapi):  # type: ignore[misc]
    """rank-bm25's Okapi scorer with the reference idf and no epsilon floor: slow, obviously right."""

    def _calc_idf(self, nd: Mapping[str, int]) -> None:
        for word, df in nd.items():
            self.idf[word] = idf(self.corpus_size, df)


@dataclass(frozen=True)
class IndexHit:
    key: str
    bm25: float
    entity_boost: float
    name_boost: float
    score: float
    matched_terms: tuple[str, ...]
    matched_entities: tuple[str, ...]


class BM25Index(Postings):
    """Incremental BM25 over keyed token lists, with the reference's entity filter and name boost: scoring
    over the postings `Postings` keeps."""

    def __init__(self, *, k1: float = K1, b: float = B, compact_ratio: float = 0.25, compact_min: int = 64) -> None:
        self.k1 = k1
        self.b = b
        super().__init__(compact_ratio=compact_ratio, compact_min=compact_min)

    def score(
        self,
        query_tokens: Sequence[str],
        *,
        query_entities: frozenset[str] = frozenset(),
        name_question: bool = False,
        limit: int = 5,
        min_score: float = 0.0,
    ) -> list[IndexHit]:
        """The best `limit` documents with final score > min_score, best first, ties newest first."""
        if not self._slot_of or limit < 1:
            return []
        counts = Counter(term for term in query_tokens if term in self._term_id)
        bm25 = self._accumulate(counts)
        slots = self._candidates(bm25, query_entities, name_question, min_score)
        entity = self._entity_boosts(slots, query_entities)
        name = np.isin(slots, list(self._name_slots)) * NAME_BOOST if name_question else np.zeros(len(slots))
        final = bm25[slots] + entity + name
        keep = final > min_score
        slots, final, entity, name = slots[keep], final[keep], entity[keep], name[keep]
        top = self._top(slots, final, limit)
        hits = slots[top]
        parts = zip(hits.tolist(), bm25[hits].tolist(), entity[top].tolist(), name[top].tolist(), final[top].tolist(),
                    self._matched(hits, counts), strict=True)  # fmt: skip
        return [
            IndexHit(
                str(self._keys[slot]), score, boost, name_boost, total, matched, self._shared(slot, query_entities)
            )
            for slot, score, boost, name_boost, total, matched in parts
        ]

    def overlap(self, query_tokens: Sequence[str]) -> float:
        """The idf-weighted share of the query's terms that occur in the index at all (0 to 1).

        Near 1, BM25 can see the whole query; near 0 (a cross-lingual query, a paraphrase) it sees
        little of it. Fusion weights BM25 by this.
        """
        n_docs = len(self._slot_of)
        if not n_docs or not query_tokens:
            return 0.0
        total = seen = 0.0
        for term in query_tokens:
            term_id = self._term_id.get(term)
            df = self._df[term_id] if term_id is not None else 0
            weight = idf(n_docs, df)
            total += weight
            seen += weight if df else 0.0
        return seen / total

    def _accumulate(self, counts: Mapping[str, int]) -> FloatArray:
        """Dense BM25 scores per slot; only the query terms' postings are touched."""
        scores = np.zeros(len(self._keys), dtype=np.float64)
        n_docs = len(self._slot_of)
        if not counts:
            return scores
        avgdl = self._live_len / n_docs
        for term, count in counts.items():
            term_id = self._term_id[term]
            slots = int_view(self._post_slots[term_id])
            weight = idf(n_docs, self._df[term_id]) * count
            scores[slots] += weight * term_weight(
                int_view(self._post_tf[term_id]), self._doc_len[slots], avgdl, k1=self.k1, b=self.b
            )
        return scores

    def _candidates(
        self, bm25: FloatArray, query_entities: frozenset[str], name_question: bool, min_score: float
    ) -> npt.NDArray[np.int64]:
        alive = self._alive[: len(self._keys)]
        if query_entities:
            # The reference's hard filter: only documents sharing an exact entity with the query.
            shared = set().union(*(self._entity_slots.get(e, ()) for e in query_entities))
            return np.array(sorted(shared), dtype=np.int64)
        if min_score < 0:  # every document scores >= 0, so all of them pass
            return np.flatnonzero(alive)
        slots = np.flatnonzero((bm25 > 0) & alive)
        if name_question and self._name_slots:
            slots = np.union1d(slots, np.fromiter(self._name_slots, dtype=np.int64))
        return slots

    def _entity_boosts(self, slots: npt.NDArray[np.int64], query_entities: frozenset[str]) -> FloatArray:
        boosts = np.zeros(len(slots), dtype=np.float64)
        for entity in query_entities:
            holders = self._entity_slots.get(entity)
            if holders:
                boosts += np.isin(slots, list(holders)) * ENTITY_BOOST
        return boosts

    def _top(self, slots: npt.NDArray[np.int64], final: FloatArray, limit: int) -> npt.NDArray[np.int64]:
        """Positions of the best `limit` scores; ties go to the newest (created_at, then id, descending)."""
        positions = np.arange(len(slots))
        if len(slots) > limit:
            kth = np.partition(final, len(final) - limit)[len(final) - limit]
            positions = np.flatnonzero(final >= kth)
        held, scores = slots[positions].tolist(), final[positions].tolist()
        ranked = sorted(range(len(held)), key=lambda j: self._orders[held[j]] or ("", ""), reverse=True)
        ranked.sort(key=scores.__getitem__, reverse=True)
        return positions[ranked[:limit]]

    def _matched(self, hits: npt.NDArray[np.int64], counts: Mapping[str, int]) -> list[tuple[str, ...]]:
        """Each hit's query terms, in query order: looked up in each term's (ascending) postings at once."""
        terms = list(counts)
        if not terms or not len(hits):
            return [() for _ in range(len(hits))]
        found = np.zeros((len(terms), len(hits)), dtype=bool)
        for row, term in enumerate(terms):
            postings = int_view(self._post_slots[self._term_id[term]])
            at = np.minimum(np.searchsorted(postings, hits), len(postings) - 1)
            found[row] = postings[at] == hits
        return [tuple(term for term, has in zip(terms, column, strict=True) if has) for column in found.T.tolist()]

    def _shared(self, slot: int, query_entities: frozenset[str]) -> tuple[str, ...]:
        if not query_entities:
            return ()
        return tuple(sorted(query_entities & self._doc_entities.get(slot, frozenset())))
