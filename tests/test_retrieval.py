from __future__ import annotations

import math
import threading
from collections.abc import Iterable

import pytest

from memory_core.errors import InvalidInputError
from memory_core.models import Change, MemoryItem, Scope
from memory_core.recall.lexical import BM25Retriever, ItemSource, Retriever
from memory_core.recall.tokenizer import tokenize

ALICE = Scope("alice", "tutor", "default")


class FakeSource:
    """An in-memory item store with a change feed, counting the calls a retriever makes."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.items: dict[Scope, dict[str, MemoryItem]] = {}
        self.log: dict[Scope, list[Change]] = {}
        self.seq = 0
        self.calls: dict[str, int] = {"snapshot": 0, "changes_since": 0, "items_by_id": 0, "change_cursor": 0}

    def _record(self, scope: Scope, item_id: str, event: str) -> None:
        self.seq += 1
        self.log.setdefault(scope, []).append(Change(self.seq, item_id, event))

    def put(self, scope: Scope, item_id: str, text: str) -> MemoryItem:
        with self.lock:
            return self._put(scope, item_id, text)

    def _put(self, scope: Scope, item_id: str, text: str) -> MemoryItem:
        existing = self.items.setdefault(scope, {}).get(item_id)
        stamp = f"2025-11-01T00:00:00.{self.seq:06d}Z"
        item = MemoryItem(
            id=item_id,
            text=text,
            type="note",
            category="",
            confidence="",
            source="test",
            metadata={},
            profile_id=scope.profile_id,
            character_id=scope.character_id,
            library_id=scope.library_id,
            created_at=existing.created_at if existing else stamp,
            updated_at=stamp,
        )
        self.items[scope][item_id] = item
        self._record(scope, item_id, "update" if existing else "add")
        return item

    def delete(self, scope: Scope, item_id: str) -> None:
        with self.lock:
            del self.items[scope][item_id]
            self._record(scope, item_id, "delete")

    def change_cursor(self, scope: Scope) -> int:
        with self.lock:
            self.calls["change_cursor"] += 1
            log = self.log.get(scope, [])
            return log[-1].seq if log else 0

    def changes_since(self, scope: Scope, seq: int) -> tuple[Change, ...]:
        with self.lock:
            self.calls["changes_since"] += 1
            return tuple(change for change in self.log.get(scope, []) if change.seq > seq)

    def items_by_id(self, scope: Scope, ids: Iterable[str]) -> dict[str, MemoryItem]:
        with self.lock:
            self.calls["items_by_id"] += 1
            library = self.items.get(scope, {})
            return {item_id: library[item_id] for item_id in ids if item_id in library}

    def snapshot(self, scope: Scope) -> tuple[int, tuple[MemoryItem, ...]]:
        with self.lock:
            self.calls["snapshot"] += 1
            return self.change_cursor(scope), tuple(self.items.get(scope, {}).values())


class CountingTokenizer:
    def __init__(self) -> None:
        self.texts: list[str] = []

    def __call__(self, text: str) -> list[str]:
        self.texts.append(text)
        return tokenize(text)


@pytest.fixture
def source() -> FakeSource:
    return FakeSource()


def ids(hits: Iterable[object]) -> list[str]:
    return [hit.item.id for hit in hits]  # type: ignore[attr-defined]


def test_fake_source_and_retriever_satisfy_the_protocols(source: FakeSource) -> None:
    src: ItemSource = source
    retriever: Retriever = BM25Retriever(src)
    assert retriever.search(ALICE, "anything", limit=5, min_score=0.0) == ()


def test_second_search_without_changes_tokenises_nothing_and_snapshots_once(source: FakeSource) -> None:
    for n in range(5):
        source.put(ALICE, f"m{n}", f"memory number {n} about hiking")
    tokenizer = CountingTokenizer()
    retriever = BM25Retriever(source, tokenizer=tokenizer)
    first = retriever.search(ALICE, "hiking", limit=3, min_score=0.0)
    assert len(first) == 3
    assert len(tokenizer.texts) == 5 + 1
    second = retriever.search(ALICE, "hiking", limit=3, min_score=0.0)
    assert second == first
    assert tokenizer.texts[6:] == ["hiking"]
    assert source.calls["snapshot"] == 1
    assert source.calls["changes_since"] == 1
    assert source.calls["items_by_id"] == 0


def test_changes_after_the_first_search_are_applied_incrementally(source: FakeSource) -> None:
    source.put(ALICE, "tea", "I drink green tea every morning")
    tokenizer = CountingTokenizer()
    retriever = BM25Retriever(source, tokenizer=tokenizer)
    assert ids(retriever.search(ALICE, "coffee", limit=5, min_score=0.0)) == []
    source.put(ALICE, "coffee", "I switched to black coffee")
    assert ids(retriever.search(ALICE, "coffee", limit=5, min_score=0.0)) == ["coffee"]
    assert tokenizer.texts.count("I drink green tea every morning") == 1
    source.put(ALICE, "tea", "I now drink coffee with oat milk")
    hits = retriever.search(ALICE, "coffee milk", limit=5, min_score=0.0)
    assert ids(hits) == ["tea", "coffee"]
    assert hits[0].item.text == "I now drink coffee with oat milk"
    source.delete(ALICE, "coffee")
    assert ids(retriever.search(ALICE, "coffee", limit=5, min_score=0.0)) == ["tea"]
    assert source.calls["snapshot"] == 1
    assert retriever.stats(ALICE)[0] == 1


def test_add_then_delete_between_searches_leaves_nothing(source: FakeSource) -> None:
    retriever = BM25Retriever(source)
    retriever.search(ALICE, "x", limit=5, min_score=0.0)
    source.put(ALICE, "gone", "a short lived kayak memory")
    source.delete(ALICE, "gone")
    assert retriever.search(ALICE, "kayak", limit=5, min_score=0.0) == ()
    assert source.calls["items_by_id"] == 0


def test_a_second_retriever_over_the_same_source_sees_the_same(source: FakeSource) -> None:
    first = BM25Retriever(source)
    source.put(ALICE, "a", "Caroline went to the LGBTQ support group")
    first.search(ALICE, "support", limit=5, min_score=0.0)
    source.put(ALICE, "b", "Melanie painted a sunrise at the lake")
    second = BM25Retriever(source)
    for query in ("support group", "painting sunrises", "lake"):
        assert first.search(ALICE, query, limit=5, min_score=0.0) == second.search(ALICE, query, limit=5, min_score=0.0)


def test_scopes_never_cross(source: FakeSource) -> None:
    work = Scope("alice", "tutor", "work")
    bob = Scope("bob", "tutor", "default")
    source.put(ALICE, "a1", "my cat is called Mochi")
    source.put(work, "w1", "my cat is called Mochi")
    source.put(bob, "b1", "my cat is called Mochi")
    retriever = BM25Retriever(source)
    for scope, expected in ((ALICE, "a1"), (work, "w1"), (bob, "b1")):
        hits = retriever.search(scope, "Mochi the cat", limit=10, min_score=0.0)
        assert [(h.item.id, h.item.profile_id, h.item.library_id) for h in hits] == [
            (expected, scope.profile_id, scope.library_id)
        ]
    assert retriever.search(Scope("carol", "tutor"), "Mochi", limit=10, min_score=0.0) == ()


def test_chinese_bigrams_and_exact_entity_filter(source: FakeSource) -> None:
    source.put(ALICE, "s146", "146服务器是生产环境，部署前要先备份")
    source.put(ALICE, "s147", "147服务器上部署了测试环境")
    source.put(ALICE, "other", "周末喜欢去爬山")
    hits = BM25Retriever(source).search(ALICE, "146服务器上部署", limit=5, min_score=0.0)
    assert ids(hits) == ["s146"]
    assert hits[0].matched_entities == ("146服务器",)
    assert hits[0].entity_boost == 10.0
    assert {"146服务器", "部署"} <= set(hits[0].matched_terms)
    english = BM25Retriever(source).search(ALICE, "what runs on server 146?", limit=5, min_score=0.0)
    assert ids(english) == ["s146"]


def test_chinese_recall_by_bigrams_without_entities(source: FakeSource) -> None:
    source.put(ALICE, "hike", "周末喜欢去爬山")
    source.put(ALICE, "food", "不吃香菜")
    hits = BM25Retriever(source).search(ALICE, "我周末一般做什么？爬山吗", limit=5, min_score=0.0)
    assert ids(hits) == ["hike"]
    assert hits[0].rank == 1


@pytest.mark.parametrize(
    ("declaration", "question"),
    [("我叫小张", "我叫什么名字"), ("Please call me Sam from now on", "what's my name?")],
)
def test_name_question_boost(source: FakeSource, declaration: str, question: str) -> None:
    source.put(ALICE, "name", declaration)
    source.put(ALICE, "pet", "我的猫叫咪咪, my cat is named Kitty")
    hits = BM25Retriever(source).search(ALICE, question, limit=5, min_score=0.0)
    assert ids(hits)[0] == "name"
    assert hits[0].name_boost == 5.0
    assert hits[0].score == pytest.approx(hits[0].bm25 + 5.0)


def test_limit_min_score_ranks_and_score_parts(source: FakeSource) -> None:
    for n in range(6):
        source.put(ALICE, f"m{n}", "running shoes " + "trail " * n)
    retriever = BM25Retriever(source)
    hits = retriever.search(ALICE, "trail running", limit=3, min_score=0.0)
    assert [h.rank for h in hits] == [1, 2, 3]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(h.score == h.bm25 and h.entity_boost == h.name_boost == 0.0 for h in hits)
    cutoff = hits[1].score
    assert ids(retriever.search(ALICE, "trail running", limit=10, min_score=cutoff)) == ids(hits[:1])
    assert retriever.search(ALICE, "trail running", limit=10, min_score=1e6) == ()
    assert retriever.search(ALICE, "   ", limit=10, min_score=0.0) == ()


@pytest.mark.parametrize(
    ("limit", "min_score"),
    [(0, 0.0), (1001, 0.0), (True, 0.0), (2.5, 0.0), (5, math.nan), (5, math.inf), (5, "1")],
)
def test_invalid_limit_or_min_score(source: FakeSource, limit: object, min_score: object) -> None:
    with pytest.raises(InvalidInputError):
        BM25Retriever(source).search(ALICE, "x", limit=limit, min_score=min_score)  # type: ignore[arg-type]


def test_forget_rebuilds_and_stats_reports_the_index(source: FakeSource) -> None:
    source.put(ALICE, "a", "green tea")
    source.put(ALICE, "b", "black coffee")
    retriever = BM25Retriever(source)
    docs, terms, size = retriever.stats(ALICE)
    assert (docs, terms) == (2, 4)
    assert size > 0
    retriever.forget(ALICE)
    retriever.search(ALICE, "tea", limit=5, min_score=0.0)
    assert source.calls["snapshot"] == 2


def test_concurrent_searches_and_writes_agree_with_a_fresh_retriever(source: FakeSource) -> None:
    retriever = BM25Retriever(source)
    errors: list[BaseException] = []

    def search() -> None:
        try:
            for _ in range(30):
                retriever.search(ALICE, "note", limit=5, min_score=0.0)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=search) for _ in range(4)]
    for thread in threads:
        thread.start()
    for n in range(60):
        source.put(ALICE, f"n{n % 20}", f"note {n} about topic {n % 7}")
    for thread in threads:
        thread.join()
    assert errors == []
    query = "note topic 3"
    assert retriever.search(ALICE, query, limit=10, min_score=0.0) == BM25Retriever(source).search(
        ALICE, query, limit=10, min_score=0.0
    )
