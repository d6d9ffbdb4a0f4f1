"""The background warm-up: after it, a library's first search builds nothing; a failing library is only logged."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes import HashingEmbedder

from memory_core import MemoryItem, NewItem, Scope, SQLiteStore
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
