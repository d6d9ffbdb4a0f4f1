"""Building an index in bulk leaves exactly the state (and the scores) that adding one document at a time does."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from memory_core.eval.benchmarks import _synthetic_texts
from memory_core.recall.bm25 import BM25Index
from memory_core.recall.postings import Batch
from memory_core.recall.tokenizer import filter_entities, tokenize

Doc = tuple[str, list[str], frozenset[str], bool]


def batch_of(docs: list[Doc]) -> Batch:
    return Batch(
        keys=[key for key, *_ in docs],
        tokens=[tokens for _, tokens, _, _ in docs],
        orders=[(f"2025-01-01T00:00:{len(key) % 60:02d}", key) for key, *_ in docs],
        entities=[entities for _, _, entities, _ in docs],
        declares_name=[name for *_, name in docs],
    )


def one_by_one(batch: Batch) -> BM25Index:
    index = BM25Index()
    for key, tokens, order, entities, name in zip(batch.keys, batch.tokens, batch.orders, batch.entities,
                                                  batch.declares_name, strict=True):  # fmt: skip
        index.add(key, tokens, order=order, entities=entities, declares_name=name)
    return index


def in_bulk(batch: Batch) -> BM25Index:
    index = BM25Index()
    index.add_batch(batch)
    return index


def plain(value: Any) -> Any:
    if isinstance(value, np.ndarray | memoryview) or type(value).__name__ == "array":
        return np.asarray(value).tolist()
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def state(index: BM25Index) -> dict[str, Any]:
    return {name: plain(value) for name, value in vars(index).items()}


def synthetic_docs(n: int, seed: int) -> list[Doc]:
    rng = random.Random(seed)
    texts = list(_synthetic_texts(n, seed))
    return [(f"k{i}", tokenize(t), filter_entities(t), rng.random() < 0.05) for i, t in enumerate(texts)]


def test_bulk_build_leaves_the_same_state_as_adding_one_by_one() -> None:
    batch = batch_of(synthetic_docs(1000, 3))
    assert state(in_bulk(batch)) == state(one_by_one(batch))


def test_bulk_built_index_scores_and_changes_like_the_one_by_one_index() -> None:
    docs = synthetic_docs(900, 4)
    bulk, single = in_bulk(batch_of(docs)), one_by_one(batch_of(docs))
    rng = random.Random(1)
    for _ in range(50):
        query = rng.sample(rng.choice(docs)[1] or ["none"], k=1) + rng.choice(docs)[1][:2]
        entities = rng.choice(docs)[2] if rng.random() < 0.2 else frozenset()
        args: dict[str, Any] = {"query_entities": entities, "name_question": rng.random() < 0.1, "limit": 10}
        assert bulk.score(query, **args) == single.score(query, **args)
    for key in [f"k{i}" for i in range(0, 900, 3)]:  # past the compaction threshold
        bulk.remove(key)
        single.remove(key)
    bulk.add("new", ["kalo", "mi"], order=("2030", "new"))
    single.add("new", ["kalo", "mi"], order=("2030", "new"))
    assert state(bulk) == state(single)


def test_a_batch_into_a_non_empty_index_or_with_repeated_keys_adds_one_by_one() -> None:
    docs = synthetic_docs(50, 5)
    index = in_bulk(batch_of(docs[:10]))
    index.add_batch(batch_of(docs[10:]))
    assert state(index) == state(one_by_one(batch_of(docs)))
    repeated = batch_of([*docs[:5], ("k0", ["again"], frozenset(), False)])
    assert state(in_bulk(repeated)) == state(one_by_one(repeated))


def test_an_emptied_index_rebuilds_in_bulk_from_scratch() -> None:
    docs = synthetic_docs(200, 6)
    index = in_bulk(batch_of(docs))
    for key, *_ in docs:
        index.remove(key)
    assert len(index) == 0 and 0 < index.n_slots < 200  # compacted along the way, a few dead slots left
    index.add_batch(batch_of(docs[:20]))
    assert state(index) == state(one_by_one(batch_of(docs[:20])))


TOKENS = st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f"]), max_size=6)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(TOKENS, st.booleans(), st.booleans()), max_size=12))
def test_bulk_equals_one_by_one_on_random_documents(rows: list[tuple[list[str], bool, bool]]) -> None:
    docs = [(f"k{i}", tokens, frozenset({"10.0.0.1"}) if entity else frozenset(), name)
            for i, (tokens, entity, name) in enumerate(rows)]  # fmt: skip
    assert state(in_bulk(batch_of(docs))) == state(one_by_one(batch_of(docs)))
