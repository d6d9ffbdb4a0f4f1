"""The incremental dense index: every write lands in place, and it answers exactly as a fresh rebuild would."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

import numpy as np
import pytest
from fakes import HashingEmbedder

from memory_core import MemoryItem, NewItem, Scope, SQLiteStore
from memory_core.models import Change
from memory_core.recall.background import embed_background
from memory_core.recall.dense import LANGUAGES, DenseIndex, DenseRetriever, MatrixSource, text_hash
from memory_core.recall.embeddings import language_of
from memory_core.recall.fusion import CATEGORY_SCALE, FusionRetriever
from memory_core.recall.lexical import BM25Retriever, ScoredMemory
from memory_core.recall.relevance import language_code
from memory_core.recall.tokenizer import filter_entities

WORDS = "tea sister Lisbon server deploy marathon coffee piano garden river doctor winter 146 10.0.0.7".split()
ZH = ("我喜欢喝乌龙茶", "妹妹住在里斯本", "146服务器是测试环境", "三月要跑半程马拉松")
CATEGORIES = ("user_preference", "episode_summary", "fact", "")
QUERIES = ("tea with my sister", "146服务器怎么登录", "server 10.0.0.7 deploy", "还记得我喜欢喝什么茶吗", "zzqx")


def random_text(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return rng.choice(ZH) + rng.choice(("", "，周末", "，不加糖"))
    return " ".join(rng.sample(WORDS, rng.randint(1, 4)))  # short texts: duplicates and exact ties happen


def fusion_over(store: SQLiteStore) -> FusionRetriever:
    """Fusion with each memory's hub (its median cosine to the background questions, see background.py)."""
    embedder = HashingEmbedder()
    return FusionRetriever(BM25Retriever(store), DenseRetriever(store, embedder, background=embed_background(embedder)))


def searches(fusion: FusionRetriever, scope: Scope) -> list[tuple[ScoredMemory, ...]]:
    return [fusion.search(scope, query, limit=limit, method=method, min_score=min_score, categories=categories,
                          include_superseded=superseded)
            for query in QUERIES for method in ("fusion", "dense") for superseded in (True, False)
            for limit, min_score, categories in ((3, 0.0, ()), (8, -1.0, ("fact",)))]  # fmt: skip


def cosines(dense: DenseRetriever, scope: Scope, query: str) -> dict[str, float]:
    view = dense.view(scope, query)
    return {item.id: float(c) for item, c in zip(view.items_at(range(view.size)), view.cosine, strict=True) if item}


class Writer:
    """Random writes through the store: adds, text and metadata edits, deletes and re-adds of deleted ids."""

    def __init__(self, store: SQLiteStore, scope: Scope, seed: int) -> None:
        self.store, self.scope, self.rng = store, scope, random.Random(seed)
        self.live: list[str] = []
        self.dead: list[str] = []
        self.serial = 0

    def step(self) -> None:
        rng, kinds = self.rng, ["add", "add", "text", "metadata", "delete", "readd", "seen", "replace", "supersede"]
        kind = rng.choice(kinds if self.live else ["add"])
        if kind == "add" or (kind == "readd" and not self.dead):
            self.serial += 1
            self._add(f"m{self.serial:04d}")
        elif kind == "readd":
            self._add(self.dead.pop(rng.randrange(len(self.dead))))
        elif kind == "delete":
            item_id = self.live.pop(rng.randrange(len(self.live)))
            self.store.delete_item(self.scope, item_id)
            self.dead.append(item_id)
        else:
            self._change(kind, rng.choice(self.live))

    def _add(self, item_id: str) -> None:
        created = f"2024-01-{self.rng.randint(1, 3):02d}T00:00:00Z"  # coarse: ties on created_at happen too
        new = NewItem(random_text(self.rng), id=item_id, category=self.rng.choice(CATEGORIES), created_at=created)
        self.store.add_items(self.scope, [new])
        self.live.append(item_id)

    def _change(self, kind: str, item_id: str) -> None:
        if kind == "text":
            self.store.edit_item(self.scope, item_id, text=random_text(self.rng))
        elif kind == "metadata":
            self.store.edit_item(self.scope, item_id, category=self.rng.choice(CATEGORIES))
        elif kind == "seen":
            self.store.mark_seen(self.scope, item_id)
        elif kind == "supersede":
            self.store.supersede(self.scope, [item_id], self.rng.choice(self.live))
        else:
            replacement = NewItem(random_text(self.rng), id=item_id, category=self.rng.choice(CATEGORIES))
            self.store.add_items(self.scope, [replacement], on_conflict="replace")


def assert_same_as_a_rebuild(store: SQLiteStore, scope: Scope, kept: FusionRetriever) -> None:
    fresh = fusion_over(store)
    index, rebuilt = kept.dense.index(scope), fresh.dense.index(scope)
    assert set(index.slots) == set(rebuilt.slots) == {item.id for item in store.snapshot(scope)[1]}
    for item_id in index.slots:
        assert np.array_equal(index.vector(item_id), rebuilt.vector(item_id))
        assert np.array_equal(index.hub[index.slots[item_id]], rebuilt.hub[rebuilt.slots[item_id]])
        assert index.superseded[index.slots[item_id]] == rebuilt.superseded[rebuilt.slots[item_id]]
    assert index.docs_bytes == rebuilt.docs_bytes  # the cache is charged for exactly the memories held
    for query in QUERIES:
        assert cosines(kept.dense, scope, query) == cosines(fresh.dense, scope, query)  # exactly, not approximately
    assert searches(kept, scope) == searches(fresh, scope)  # same hits, order, scores and parts


@pytest.mark.parametrize("seed", range(8))
def test_the_incremental_index_answers_as_a_rebuild_from_the_store(store: SQLiteStore, scope: Scope, seed: int) -> None:
    store.ensure_library(scope)
    writer, kept = Writer(store, scope, seed), fusion_over(store)
    peak = 0
    for step in range(120):
        writer.step()
        peak = max(peak, len(writer.live))
        if writer.rng.random() < 0.3:  # the index follows the change feed a few changes at a time
            kept.search(scope, "tea", limit=3)
            assert kept.dense.index(scope).rows <= peak  # dead slots are reused before new ones are opened
        if step % 40 == 39:
            assert_same_as_a_rebuild(store, scope, kept)


def reference_search(
    fusion: FusionRetriever, scope: Scope, query: str, *, limit: int, min_score: float, categories: tuple[str, ...],
    method: str,
) -> list[tuple[str, float, float, float]]:  # fmt: skip
    """Fusion computed item by item in plain Python: (id, bm25_norm, dense_norm, score) of each hit, best first."""
    lexical, overlap = fusion.bm25.lexical(scope, query, limit=max(fusion.candidates, limit))
    bm25 = {hit.item.id: hit.score for hit in lexical}
    cosine = cosines(fusion.dense, scope, query)
    items = {item.id: item for item in fusion.dense.view(scope, query).items_at(range(len(cosine))) if item}
    weight = 0.0 if method == "dense" or not bm25 else fusion.max_weight * min(max(overlap, 0.0), 1.0)
    top = max(bm25.values(), default=0.0)
    ids = list(items)
    codes = np.array([LANGUAGES.index(language_of(items[i].text)) for i in ids], dtype=np.int8)
    lang, index, background = language_code(query), fusion.dense.index(scope), fusion.dense.background
    assert background is not None
    hub = np.array([float(background.hub(index.vector(i))[0, lang]) for i in ids])  # each memory's own, one by one
    z = dict(zip(ids, fusion.calibration.z(np.array([cosine[i] for i in ids]), codes, lang, hub), strict=True))
    low, high = min(z.values(), default=0.0), max(z.values(), default=0.0)
    rows = []
    for item_id, item in items.items():
        dense_norm = (z[item_id] - low) / (high - low) if high > low else 1.0
        bm25_norm = bm25.get(item_id, 0.0) / top if top > 0 else 0.0
        boost = 1.0 * CATEGORY_SCALE if item.category in categories else 0.0
        score = weight * bm25_norm + (1 - weight) * dense_norm + boost
        if score > min_score and (item_id in bm25 or not (filter_entities(query) and bm25)):
            rows.append((score, item.created_at, item_id, bm25_norm, dense_norm))
    rows.sort(reverse=True)
    return [(item_id, bm25_norm, dense_norm, score) for score, _, item_id, bm25_norm, dense_norm in rows[:limit]]


CASES = ((5, 0.0, (), "fusion"), (20, -1.0, ("fact",), "fusion"), (7, 0.2, ("user_preference",), "dense"),
         (1, 0.0, (), "dense"), (150, -1.0, (), "fusion"))  # fmt: skip


def written(store: SQLiteStore, scope: Scope, seed: int) -> FusionRetriever:
    """Fusion over a library after 150 random writes."""
    store.ensure_library(scope)
    writer = Writer(store, scope, seed=seed)
    for _ in range(150):
        writer.step()
    return fusion_over(store)


def test_fusion_equals_a_per_item_reference(store: SQLiteStore, scope: Scope) -> None:
    fusion = written(store, scope, seed=99)
    for query in (*QUERIES, "Lisbon", "river"):
        for limit, min_score, categories, method in CASES:
            hits = fusion.search(scope, query, limit=limit, min_score=min_score, categories=categories, method=method)
            got = [(h.item.id, h.bm25_norm, h.dense_norm, h.score) for h in hits]
            want = reference_search(fusion, scope, query, limit=limit, min_score=min_score, categories=categories,
                                    method=method)  # fmt: skip
            assert [g[0] for g in got] == [w[0] for w in want], (query, limit, method)
            assert np.allclose([g[1:] for g in got], [w[1:] for w in want], rtol=0, atol=1e-12)


def test_the_cosines_are_the_stored_vectors_dot_the_query(store: SQLiteStore, scope: Scope) -> None:
    store.ensure_library(scope)
    store.add_items(scope, [NewItem(text) for text in (*ZH, "tea with my sister", "server deploy")])
    embedder = HashingEmbedder()
    dense = DenseRetriever(store, embedder)
    query = embedder.embed(["tea sister"], kind="query")[0].astype(np.float64)
    found = cosines(dense, scope, "tea sister")
    stored = store.vectors(scope, embedder.name)
    assert len(found) == len(stored) == 6
    for item_id, cosine in found.items():
        assert cosine == pytest.approx(float(np.frombuffer(stored[item_id][1], dtype=np.float32) @ query), abs=1e-6)


def one(text: str, item_id: str) -> NewItem:
    return NewItem(text, id=item_id)


def test_a_write_then_a_search_fills_one_row_in_place(store: SQLiteStore, scope: Scope) -> None:
    store.ensure_library(scope)
    store.add_items(scope, [one(f"note {n} about tea", f"n{n}") for n in range(20)])
    fusion = fusion_over(store)
    fusion.search(scope, "tea", limit=3)
    index = fusion.dense.index(scope)
    matrix, allocations, capacity = index.matrix, index.allocations, index.capacity
    assert capacity >= 21 and index.rows == 20
    store.add_items(scope, [one("a new note about coffee", "fresh")])
    store.edit_item(scope, "n3", text="an edited note about the river")
    store.edit_item(scope, "n4", category="fact")
    assert [h.item.id for h in fusion.search(scope, "coffee note", limit=1)] == ["fresh"]
    assert fusion.dense.index(scope) is index and index.matrix is matrix and index.allocations == allocations
    assert index.rows == 21 and index.items[index.slots["n4"]].category == "fact"  # type: ignore[union-attr]


def test_a_deleted_slot_is_reused_and_a_full_index_doubles(store: SQLiteStore, scope: Scope) -> None:
    store.ensure_library(scope)
    store.add_items(scope, [one(f"note {n}", f"n{n}") for n in range(4)])
    dense = DenseRetriever(store, HashingEmbedder())
    index = dense.index(scope)
    slot = index.slots["n1"]
    store.delete_item(scope, "n1")
    store.add_items(scope, [one("a later note", "later")])
    assert dense.index(scope).slots["later"] == slot and index.rows == 4 and "n1" not in index.slots
    store.add_items(scope, [one(f"more {n}", f"more{n}") for n in range(index.capacity - 4 + 1)])
    dense.sync(scope)
    assert (index.capacity, index.allocations) == (32, 2)  # 16 slots, then 32: one reallocation, doubled


def test_a_view_never_hands_out_the_memory_that_took_a_slot_after_it(store: SQLiteStore, scope: Scope) -> None:
    store.ensure_library(scope)
    store.add_items(scope, [one("tea in the morning", "a"), one("tea at noon", "b")])
    dense = DenseRetriever(store, HashingEmbedder())
    view = dense.view(scope, "tea")
    store.delete_item(scope, "a")
    store.add_items(scope, [one("coffee at night", "c")])  # takes a's slot
    store.edit_item(scope, "b", category="fact")
    dense.sync(scope)
    items = dict(zip(view.slots.tolist(), view.items_at(range(view.size)), strict=True))
    assert items[dense.index(scope).slots["c"]] is None  # a is gone; c was not in the view
    assert [item.category for item in items.values() if item] == ["fact"]  # b, as it is now


def test_languages_and_categories_are_kept_as_codes_per_slot(store: SQLiteStore, scope: Scope) -> None:
    store.ensure_library(scope)
    store.add_items(scope, [NewItem("我喜欢喝乌龙茶", id="zh", category="user_preference"),
                            NewItem("I like oolong tea", id="en", category="fact")])  # fmt: skip
    index = DenseRetriever(store, HashingEmbedder()).index(scope)
    slots = {item_id: index.slots[item_id] for item_id in ("zh", "en")}
    assert [LANGUAGES[index.langs[slots[i]]] for i in ("zh", "en")] == ["zh", "en"]
    names = {code: name for name, code in index.vocabulary.items()}
    assert [names[int(index.categories[slots[i]])] for i in ("zh", "en")] == ["user_preference", "fact"]
    assert isinstance(index, DenseIndex) and all(isinstance(index.items[s], MemoryItem) for s in slots.values())


class RowsOnly:
    """The store read row by row (it has no `vector_matrix`), its vector writes dropped: what is stored stays put."""

    def __init__(self, store: SQLiteStore) -> None:
        self.store = store

    def changes_since(self, scope: Scope, seq: int) -> tuple[Change, ...]:
        return self.store.changes_since(scope, seq)

    def items_by_id(self, scope: Scope, ids: Iterable[str]) -> dict[str, MemoryItem]:
        return self.store.items_by_id(scope, ids)

    def snapshot(self, scope: Scope) -> tuple[int, tuple[MemoryItem, ...]]:
        return self.store.snapshot(scope)

    def vectors(self, scope: Scope, model: str) -> dict[str, tuple[str, bytes]]:
        return self.store.vectors(scope, model)

    def put_vectors(self, scope: Scope, model: str, dims: int, rows: Sequence[tuple[str, str, bytes]]) -> int:
        return 0


def cold_loads(store: SQLiteStore, scope: Scope) -> tuple[DenseIndex, list[str], DenseIndex, list[str]]:
    """A first load read row by row, then one read through `vector_matrix`: each index and the texts it embedded."""
    assert isinstance(store, MatrixSource) and not isinstance(RowsOnly(store), MatrixSource)
    by_rows, by_matrix = HashingEmbedder(), HashingEmbedder()
    rows_index = DenseRetriever(RowsOnly(store), by_rows).index(scope)
    return rows_index, by_rows.embedded, DenseRetriever(store, by_matrix).index(scope), by_matrix.embedded


def assert_same_index(index: DenseIndex, other: DenseIndex) -> None:
    assert (index.slots, index.rows, index.capacity, index.vocabulary) == (other.slots, other.rows, other.capacity,
                                                                           other.vocabulary)  # fmt: skip
    for name in ("matrix", "live", "langs", "hub", "categories", "superseded", "hashes", "tenants"):
        assert np.array_equal(getattr(index, name)[: index.rows], getattr(other, name)[: other.rows]), name
    assert (index.items, index.docs_bytes) == (other.items, other.docs_bytes)


def test_a_cold_load_through_one_matrix_equals_one_read_row_by_row(store: SQLiteStore, scope: Scope) -> None:
    store.ensure_library(scope)
    writer = Writer(store, scope, seed=7)
    for step in range(200):
        writer.step()
        if step == 120:  # vectors stored now; later edits leave some stale, later adds have none
            DenseRetriever(store, HashingEmbedder()).sync(scope)
    rows_index, rows_embedded, matrix_index, matrix_embedded = cold_loads(store, scope)
    assert 0 < len(matrix_embedded) < len(matrix_index)  # some stored rows reused, some texts embedded
    assert matrix_embedded == rows_embedded
    assert_same_index(rows_index, matrix_index)


def test_a_stored_vector_of_another_size_is_embedded_again_either_way(store: SQLiteStore, scope: Scope) -> None:
    store.ensure_library(scope)
    store.add_items(scope, [one(f"note {n} about tea", f"n{n}") for n in range(5)])
    DenseRetriever(store, HashingEmbedder()).sync(scope)
    wrong = np.ones(8, dtype=np.float32).tobytes()  # the model's name, another size: the matrix read refuses it
    store.put_vectors(scope, HashingEmbedder().name, 8, [("n2", text_hash("note 2 about tea"), wrong)])
    rows_index, rows_embedded, matrix_index, matrix_embedded = cold_loads(store, scope)
    assert rows_embedded == matrix_embedded == ["note 2 about tea"]
    assert_same_index(rows_index, matrix_index)


def test_a_snapshot_is_handed_to_the_next_reader_once_at_the_same_cursor(store: SQLiteStore, scope: Scope) -> None:
    store.add_items(scope, [NewItem("tea"), NewItem("coffee")], create_library_name="x")
    first, second, third = store.snapshot(scope), store.snapshot(scope), store.snapshot(scope)
    assert second[1] is first[1]  # the next reader shares the items
    assert third[1] is not first[1] and third == first  # once: the one after reads its own
    store.add_items(scope, [NewItem("juice")])
    after = store.snapshot(scope)  # the kept one is stale: a write moved the cursor
    assert after[0] > third[0] and len(after[1]) == 3


def test_a_cold_fused_search_holds_one_copy_of_each_memory(store: SQLiteStore, scope: Scope) -> None:
    store.add_items(scope, [NewItem(f"note {n} about tea") for n in range(5)], create_library_name="x")
    fusion = fusion_over(store)
    fusion.search(scope, "tea", limit=5)
    lexical, _ = fusion.bm25.lexical(scope, "tea", limit=5)
    view = fusion.dense.view(scope, "tea", locate=[hit.item.id for hit in lexical])
    held = view.items_at(view.located.tolist())
    assert len(lexical) == 5 and all(hit.item is item for hit, item in zip(lexical, held, strict=True))


def test_relevance_read_where_a_search_needs_it_equals_it_read_everywhere(store: SQLiteStore, scope: Scope) -> None:
    """Hits' relevance and the best relevance the floor reads, against relevance computed for every memory."""
    fusion = written(store, scope, seed=5)
    for query in (*QUERIES, "Lisbon", "river"):
        lexical, _ = fusion.bm25.lexical(scope, query, limit=fusion.candidates)
        view = fusion.dense.view(scope, query, locate=[hit.item.id for hit in lexical])
        background = fusion.dense.background
        assert background is not None and view.hub is not None
        lang = language_code(query)
        z = fusion.calibration.z(view.cosine, view.langs, lang, view.hub[:, lang])
        evidence = fusion._evidence(view, lexical, query)
        everywhere = fusion.calibration.fused_relevance(z, evidence)
        report = fusion.search_report(scope, query, limit=4, min_score=-1.0)
        ids = [item.id if item else "" for item in view.items_at(range(view.size))]
        for hit in report.hits:
            assert hit.relevance == pytest.approx(everywhere[ids.index(hit.item.id)], abs=1e-12)
        keep = np.ones(view.size, dtype=bool)
        if filter_entities(query) and lexical:
            keep[:] = False
            keep[view.located[view.located >= 0]] = True
        assert report.best_relevance == pytest.approx(float(everywhere[keep].max()), abs=1e-12)
