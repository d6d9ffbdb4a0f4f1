"""Okapi BM25 with the reference's rules: the maths as pure functions, a slow oracle, a fast index.

`BM25Index` is an incremental inverted index that scores only the documents in the query terms'
postings. `ReferenceBM25` scores every document in Python (rank-bm25) and is what the index is tested
against.
"""

from __future__ import annotations

import math
import sys
from array import array
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from rank_bm25 import BM25Okapi

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


def _empty_ints() -> array[int]:
    return array("i")


def _int_array(values: npt.NDArray[Any]) -> array[int]:
    packed = array("i")
    packed.frombytes(values.astype(np.int32).tobytes())
    return packed


def _view(values: array[int]) -> npt.NDArray[np.int32]:
    return np.frombuffer(values, dtype=np.int32)


class BM25Index:
    """Incremental BM25 over keyed token lists, with the reference's entity filter and name boost.

    Each document gets a slot that is never reused until `compact()`; a term's postings are two
    parallel int32 arrays (slots ascending, term frequencies). Removing a document marks its slot
    dead; its postings are skipped until compaction, which runs once dead slots pass `compact_ratio`.
    """

    def __init__(self, *, k1: float = K1, b: float = B, compact_ratio: float = 0.25, compact_min: int = 64) -> None:
        self.k1 = k1
        self.b = b
        self.compact_ratio = compact_ratio
        self.compact_min = compact_min
        self._reset()

    def _reset(self) -> None:
        self._slot_of: dict[str, int] = {}
        self._keys: list[str | None] = []
        self._orders: list[tuple[str, str] | None] = []
        self._doc_len = np.zeros(16, dtype=np.float64)
        self._alive = np.zeros(16, dtype=bool)
        self._doc_terms = _empty_ints()  # term ids of slot i at [_doc_start[i], _doc_start[i + 1])
        self._doc_start = array("q", [0])
        self._term_id: dict[str, int] = {}
        self._terms: list[str | None] = []
        self._free_ids: list[int] = []
        self._df: list[int] = []
        self._post_slots: list[array[int]] = []
        self._post_tf: list[array[int]] = []
        self._doc_entities: dict[int, frozenset[str]] = {}
        self._entity_slots: dict[str, set[int]] = {}
        self._name_slots: set[int] = set()
        self._live_len = 0
        self._dead = 0

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, key: object) -> bool:
        return key in self._slot_of

    @property
    def n_terms(self) -> int:
        """Distinct terms in live documents."""
        return len(self._term_id)

    @property
    def n_slots(self) -> int:
        return len(self._keys)

    # -- writes --------------------------------------------------------------------------------

    def add(
        self,
        key: str,
        tokens: Sequence[str],
        *,
        order: tuple[str, str],
        entities: frozenset[str] = frozenset(),
        declares_name: bool = False,
    ) -> None:
        """Index a document; a key already present is replaced (an update is remove + add)."""
        if key in self._slot_of:
            self.remove(key)
        slot = self._new_slot(key, order, len(tokens))
        for term, tf in Counter(tokens).items():
            term_id = self._term_id.get(term)
            if term_id is None:
                term_id = self._new_term(term)
            self._post_slots[term_id].append(slot)
            self._post_tf[term_id].append(tf)
            self._df[term_id] += 1
            self._doc_terms.append(term_id)
        self._doc_start.append(len(self._doc_terms))
        if entities:
            self._doc_entities[slot] = entities
            for entity in entities:
                self._entity_slots.setdefault(entity, set()).add(slot)
        if declares_name:
            self._name_slots.add(slot)

    def _new_slot(self, key: str, order: tuple[str, str], length: int) -> int:
        slot = len(self._keys)
        if slot == len(self._alive):
            self._alive = np.concatenate([self._alive, np.zeros(slot, dtype=bool)])
            self._doc_len = np.concatenate([self._doc_len, np.zeros(slot, dtype=np.float64)])
        self._keys.append(key)
        self._orders.append(order)
        self._slot_of[key] = slot
        self._alive[slot] = True
        self._doc_len[slot] = length
        self._live_len += length
        return slot

    def _new_term(self, term: str) -> int:
        if self._free_ids:
            term_id = self._free_ids.pop()
            self._terms[term_id] = term
        else:
            term_id = len(self._terms)
            self._terms.append(term)
            self._df.append(0)
            self._post_slots.append(_empty_ints())
            self._post_tf.append(_empty_ints())
        self._term_id[term] = term_id
        return term_id

    def remove(self, key: str) -> None:
        """Drop a document; raises KeyError when the key is not indexed."""
        slot = self._slot_of.pop(key)
        self._alive[slot] = False
        self._live_len -= int(self._doc_len[slot])
        for term_id in self._doc_terms[self._doc_start[slot] : self._doc_start[slot + 1]]:
            self._df[term_id] -= 1
            if self._df[term_id] == 0:
                self._free_term(term_id)
        for entity in self._doc_entities.pop(slot, ()):
            holders = self._entity_slots[entity]
            holders.discard(slot)
            if not holders:
                del self._entity_slots[entity]
        self._name_slots.discard(slot)
        self._keys[slot] = self._orders[slot] = None
        self._dead += 1
        if self._dead >= self.compact_min and self._dead > self.compact_ratio * len(self._keys):
            self.compact()

    def _free_term(self, term_id: int) -> None:
        # Every posting of a term with no live documents is dead: drop them all and recycle the id.
        del self._term_id[str(self._terms[term_id])]
        self._terms[term_id] = None
        self._post_slots[term_id] = _empty_ints()
        self._post_tf[term_id] = _empty_ints()
        self._free_ids.append(term_id)

    def compact(self) -> None:
        """Renumber live documents densely and drop dead postings; scores are unchanged."""
        count = len(self._keys)
        alive = self._alive[:count]
        live = np.flatnonzero(alive)
        remap = np.full(max(count, 1), -1, dtype=np.int64)
        remap[live] = np.arange(len(live))
        for term_id, slots_packed in enumerate(self._post_slots):
            if self._df[term_id]:
                slots = _view(slots_packed)
                keep = alive[slots]
                self._post_tf[term_id] = _int_array(_view(self._post_tf[term_id])[keep])
                self._post_slots[term_id] = _int_array(remap[slots[keep]])
        self._compact_docs(live, remap)

    def _compact_docs(self, live: npt.NDArray[np.int64], remap: npt.NDArray[np.int64]) -> None:
        starts = np.frombuffer(self._doc_start, dtype=np.int64)
        lengths = np.diff(starts)
        owner = np.repeat(np.arange(len(lengths)), lengths)
        self._doc_terms = _int_array(_view(self._doc_terms)[self._alive[owner]])
        self._doc_start = array("q", [0])
        self._doc_start.extend(np.cumsum(lengths[live]).tolist())
        capacity = max(16, 2 * len(live))
        self._doc_len = np.concatenate([self._doc_len[live], np.zeros(capacity - len(live))])
        self._alive = np.zeros(capacity, dtype=bool)
        self._alive[: len(live)] = True
        self._keys = [self._keys[i] for i in live]
        self._orders = [self._orders[i] for i in live]
        self._slot_of = {str(key): slot for slot, key in enumerate(self._keys)}
        self._doc_entities = {int(remap[s]): entities for s, entities in self._doc_entities.items()}
        self._entity_slots = {e: {int(remap[s]) for s in slots} for e, slots in self._entity_slots.items()}
        self._name_slots = {int(remap[s]) for s in self._name_slots}
        self._dead = 0

    # -- queries -------------------------------------------------------------------------------

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
        parts = [
            (int(slots[i]), float(bm25[slots[i]]), float(entity[i]), float(name[i]), float(final[i]))
            for i in self._top(slots, final, limit)
        ]
        return [self._hit(part, counts, query_entities) for part in parts]

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
            slots = _view(self._post_slots[term_id])
            weight = idf(n_docs, self._df[term_id]) * count
            scores[slots] += weight * term_weight(
                _view(self._post_tf[term_id]), self._doc_len[slots], avgdl, k1=self.k1, b=self.b
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

    def _top(self, slots: npt.NDArray[np.int64], final: FloatArray, limit: int) -> list[int]:
        """Positions of the best `limit` scores; ties go to the newest (created_at, then id, descending)."""
        positions = np.arange(len(slots))
        if len(slots) > limit:
            kth = np.partition(final, len(final) - limit)[len(final) - limit]
            positions = np.flatnonzero(final >= kth)
        ranked = sorted(positions.tolist(), key=lambda i: self._orders[slots[i]] or ("", ""), reverse=True)
        ranked.sort(key=lambda i: final[i], reverse=True)
        return ranked[:limit]

    def _hit(
        self, part: tuple[int, float, float, float, float], counts: Mapping[str, int], query_entities: frozenset[str]
    ) -> IndexHit:
        slot, bm25, entity_boost, name_boost, score = part
        doc_terms = set(self._doc_terms[self._doc_start[slot] : self._doc_start[slot + 1]])
        matched = tuple(term for term in counts if self._term_id[term] in doc_terms)
        entities = tuple(sorted(query_entities & self._doc_entities.get(slot, frozenset())))
        return IndexHit(str(self._keys[slot]), bm25, entity_boost, name_boost, score, matched, entities)

    def memory_bytes(self) -> int:
        """An estimate of the index's size: arrays, containers and the strings they alone hold."""
        size = (
            self._doc_len.nbytes + self._alive.nbytes + sys.getsizeof(self._doc_terms) + sys.getsizeof(self._doc_start)
        )
        size += sum(sys.getsizeof(a) for a in self._post_slots) + sum(sys.getsizeof(a) for a in self._post_tf)
        size += sys.getsizeof(self._term_id) + sum(sys.getsizeof(t) for t in self._term_id)
        size += sys.getsizeof(self._terms) + sys.getsizeof(self._df) + sys.getsizeof(self._post_slots) * 2
        size += sys.getsizeof(self._slot_of) + sys.getsizeof(self._keys) + sys.getsizeof(self._orders)
        size += sum(sys.getsizeof(k) for k in self._slot_of)
        size += sum(sys.getsizeof(o) + sys.getsizeof(o[0]) for o in self._orders if o is not None)
        size += sys.getsizeof(self._doc_entities) + sys.getsizeof(self._entity_slots) + sys.getsizeof(self._name_slots)
        size += sum(sys.getsizeof(s) for s in self._entity_slots.values())
        return size
