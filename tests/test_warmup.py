"""The background warm-up: after it, a library's first search builds nothing; a failing library is only logged."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes import HashingEmbedder

from memory_core import MemoryEngine, MemoryItem, NewItem, Scope, SQLiteStore, load_settings
from memory_core.errors import ProviderError
from memory_core.recall.dense import DenseRetriever
from memory_core.recall.fusion import FusionRetriever
from memory_core.recall.lexical import BM25Retriever
from memory_core.recall.warmup import warm

NOTES = ("I drink oolong tea every morning", "my sister lives in Lisbon", "the 146 server is the test box")


class CountingStore(SQLiteStore):
    """A real store counting its snapshots, whose reads of the libraries in `broken` fail as a bad disk would."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.snapshots = 0
        self.broken: set[Scope] = set()

    def snapshot(self, scope: Scope) -> tuple[int, tuple[MemoryItem, ...]]:
        if scope in self.broken:
            raise ProviderError("disk I/O error")
        self.snapshots += 1
        return super().snapshot(scope)


@pytest.fixture
def counting(tmp_path: Path, scope: Scope) -> Iterator[CountingStore]:
    with CountingStore(tmp_path / "warm.sqlite3") as store:
        store.add_items(scope, [NewItem(text) for text in NOTES], create_library_name="default")
        yield store


def test_after_the_warm_up_a_fused_search_takes_no_snapshot_and_embeds_no_memory(
    counting: CountingStore, scope: Scope
) -> None:
    embedder = HashingEmbedder()
    fusion = FusionRetriever(BM25Retriever(counting), DenseRetriever(counting, embedder))
    thread = warm(fusion, [scope])
    assert thread.daemon
    thread.join(timeout=30)
    assert counting.snapshots == 2 and len(embedder.embedded) == len(NOTES)  # BM25's and the dense one's
    hits = fusion.search(scope, "oolong tea", limit=1)
    assert [hit.item.text for hit in hits] == [NOTES[0]]
    assert counting.snapshots == 2 and len(embedder.embedded) == len(NOTES)  # (queries are not counted)


def test_a_plain_bm25_retriever_is_warmed_too(counting: CountingStore, scope: Scope) -> None:
    bm25 = BM25Retriever(counting)
    warm(bm25, [scope]).join(timeout=30)
    assert counting.snapshots == 1
    assert [hit.item.text for hit in bm25.search(scope, "Lisbon", limit=1)] == [NOTES[1]]
    assert counting.snapshots == 1


def test_a_failing_library_is_logged_and_the_next_one_still_warmed(
    counting: CountingStore, scope: Scope, caplog: pytest.LogCaptureFixture
) -> None:
    broken = Scope.of("alice", "tutor", "broken")
    counting.broken.add(broken)
    fusion = FusionRetriever(BM25Retriever(counting), DenseRetriever(counting, HashingEmbedder()))
    with caplog.at_level(logging.INFO, logger="memory_core.recall.warmup"):
        thread = warm(fusion, [broken, scope])
        thread.join(timeout=30)  # an exception escaping the thread would fail the test (warnings are errors)
    assert not thread.is_alive()
    failed = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert len(failed) == 1 and "broken" in failed[0].getMessage() and failed[0].exc_info is not None
    assert counting.snapshots == 2  # the good library was warmed after the broken one failed
    counting.broken.clear()
    assert fusion.search(broken, "tea", limit=1) == ()  # its first search builds it, as without a warm-up


def test_the_engine_warms_the_named_libraries_then_the_latest_ones(counting: CountingStore, scope: Scope) -> None:
    """What the app starts with: the demo library first, then the most recently updated, each once."""
    others = [Scope.of("bob", "tutor", f"lib{n}") for n in range(3)]
    for n, other in enumerate(others):
        counting.add_items(other, [NewItem(f"note {n} about rivers")], create_library_name=f"lib{n}")
    assert counting.recent_libraries(2) == (others[2], others[1])  # the latest writes first
    bm25 = BM25Retriever(counting)
    engine = MemoryEngine(counting, bm25, settings=load_settings({}))
    thread = engine.warm_up([scope, others[2]], recent=2)
    assert thread is not None
    thread.join(timeout=30)
    assert counting.snapshots == 3  # scope, lib2, lib1 (lib2 named and recent: built once), not lib0
    assert bm25.search(others[0], "rivers", limit=1)[0].item.text == "note 0 about rivers"
    assert counting.snapshots == 4  # lib0 was not warmed: its first search built it
    assert MemoryEngine(counting, None, settings=load_settings({})).warm_up([scope], recent=5) is None
