"""The storage behind BM25Index: slots, postings as int32 arrays, entities; adding, removing, compacting."""

from __future__ import annotations

import sys
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt


def _empty_ints() -> array[int]:
    return array("i")


def _packed(int32_bytes: bytes, start: int, end: int) -> array[int]:
    packed = array("i")
    packed.frombytes(int32_bytes[4 * start : 4 * end])
    return packed


def _int_array(values: npt.NDArray[Any]) -> array[int]:
    packed = array("i")
    packed.frombytes(values.astype(np.int32).tobytes())
    return packed


def int_view(values: array[int]) -> npt.NDArray[np.int32]:
    return np.frombuffer(values, dtype=np.int32)


@dataclass(frozen=True)
class Batch:
    """Documents to index at once, as parallel sequences (one entry per document)."""

    keys: Sequence[str]
    tokens: Iterable[Sequence[str]]  # read once, a document at a time: a lazy iterable keeps one in memory
    orders: Sequence[tuple[str, str]]
    entities: Sequence[frozenset[str]]
    declares_name: Sequence[bool]


def _capacity(count: int) -> int:
    # The slot arrays' size after `count` one-by-one adds: 16, doubled whenever full.
    capacity = 16
    while capacity < count:
        capacity *= 2
    return capacity


def _encoded(tokens: Iterable[Sequence[str]], term_ids: dict[str, int]) -> tuple[npt.NDArray[np.int64], ...]:
    """Every document's term ids, end to end, and each document's length; new terms get ids in first-occurrence
    order. A document at a time: only the terms' first occurrences outlive it, so a large library's tokens are
    never all in memory at once (and leave no holes behind them)."""
    flat, lengths = array("q"), array("q")
    for doc in tokens:
        for term in dict.fromkeys(doc):
            term_ids.setdefault(term, len(term_ids))
        flat.extend(map(term_ids.__getitem__, doc))
        lengths.append(len(doc))
    return np.frombuffer(flat, dtype=np.int64), np.frombuffer(lengths, dtype=np.int64)


def _pairs(tokens: Iterable[Sequence[str]], term_ids: dict[str, int]) -> tuple[npt.NDArray[np.int64], ...]:
    """(slot, term id, term frequency) of every distinct term of every document, documents in order and each
    document's terms in first-occurrence order (as `Counter` gives them), and each document's length."""
    ids, lengths = _encoded(tokens, term_ids)
    owner = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    unique, first, tf = np.unique(owner * max(len(term_ids), 1) + ids, return_index=True, return_counts=True)
    order = np.argsort(first, kind="stable")
    unique, tf = unique[order], tf[order]
    return unique // max(len(term_ids), 1), unique % max(len(term_ids), 1), tf, lengths


class Postings:
    """The documents of an incremental inverted index, kept for BM25Index to score.

    Each document gets a slot that is never reused until `compact()`; a term's postings are two
    parallel int32 arrays (slots ascending, term frequencies). Removing a document marks its slot
    dead; its postings are skipped until compaction, which runs once dead slots pass `compact_ratio`.
    """

    def __init__(self, *, compact_ratio: float = 0.25, compact_min: int = 64) -> None:
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

    def doc_shape(self, key: str) -> tuple[int, int]:
        """(distinct terms, exact entities) of an indexed document."""
        slot = self._slot_of[key]
        return self._doc_start[slot + 1] - self._doc_start[slot], len(self._doc_entities.get(slot, ()))

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

    def add_batch(self, batch: Batch) -> None:
        """Index many documents; into an empty index, in bulk (the same state as adding them one by one)."""
        if self._slot_of or len(set(batch.keys)) != len(batch.keys):
            for key, tokens, order, entities, name in zip(batch.keys, batch.tokens, batch.orders, batch.entities,
                                                          batch.declares_name, strict=True):  # fmt: skip
                self.add(key, tokens, order=order, entities=entities, declares_name=name)
            return
        self._reset()  # an emptied index may still hold recycled term ids
        slots, term_ids, tf, lengths = _pairs(batch.tokens, self._term_id)
        self._load_postings(slots, term_ids, tf)
        self._load_docs(batch, np.bincount(slots, minlength=len(batch.keys)), lengths)

    def _load_postings(
        self, slots: npt.NDArray[np.int64], term_ids: npt.NDArray[np.int64], tf: npt.NDArray[np.int64]
    ) -> None:
        n_terms = len(self._term_id)
        self._terms = list(self._term_id)
        df = np.bincount(term_ids, minlength=n_terms)
        self._df = df.tolist()
        by_term = np.argsort(term_ids, kind="stable")  # stable: each term's slots stay ascending
        bounds = [0, *np.cumsum(df).tolist()]
        slot_bytes, tf_bytes = slots[by_term].astype(np.int32).tobytes(), tf[by_term].astype(np.int32).tobytes()
        self._post_slots = [_packed(slot_bytes, a, b) for a, b in pairwise(bounds)]
        self._post_tf = [_packed(tf_bytes, a, b) for a, b in pairwise(bounds)]
        self._doc_terms = _int_array(term_ids)

    def _load_docs(self, batch: Batch, distinct: npt.NDArray[np.int64], lengths: npt.NDArray[np.int64]) -> None:
        count = len(batch.keys)
        self._doc_start = array("q", [0])
        self._doc_start.frombytes(np.cumsum(distinct, dtype=np.int64).tobytes())
        self._keys, self._orders = list(batch.keys), list(batch.orders)
        self._slot_of = {key: slot for slot, key in enumerate(batch.keys)}
        self._doc_len = np.zeros(_capacity(count), dtype=np.float64)
        self._doc_len[:count] = lengths
        self._alive = np.zeros(_capacity(count), dtype=bool)
        self._alive[:count] = True
        self._live_len = int(lengths.sum())
        for slot, entities in enumerate(batch.entities):
            if entities:
                self._doc_entities[slot] = entities
                for entity in entities:
                    self._entity_slots.setdefault(entity, set()).add(slot)
        self._name_slots = {slot for slot, name in enumerate(batch.declares_name) if name}

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
                slots = int_view(slots_packed)
                keep = alive[slots]
                self._post_tf[term_id] = _int_array(int_view(self._post_tf[term_id])[keep])
                self._post_slots[term_id] = _int_array(remap[slots[keep]])
        self._compact_docs(live, remap)

    def _compact_docs(self, live: npt.NDArray[np.int64], remap: npt.NDArray[np.int64]) -> None:
        starts = np.frombuffer(self._doc_start, dtype=np.int64)
        lengths = np.diff(starts)
        owner = np.repeat(np.arange(len(lengths)), lengths)
        self._doc_terms = _int_array(int_view(self._doc_terms)[self._alive[owner]])
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
