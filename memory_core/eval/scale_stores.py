"""`bench scale` on SQLite and on a PostgreSQL database in one run, side by side.

What the database decides is measured per store: writing (a bulk load of the items in batches, then single-item
adds into the filled library) and the cold start (opening the store, reading the library's snapshot, a fresh
retriever's first search, which builds the in-memory index from that snapshot). Recall latency is the in-memory
BM25 index's over each store, so it should be about equal; the hits of every query are compared between stores.
The database's one share of a search, the index asking the change feed what changed, is timed on its own
(feed_check_*), as searches call it; on PostgreSQL every search asks (MEMTUNE_DATABASE_POLL_MS=0), the worst case.

"Cold" is this process's: the database's pages stay in the OS cache (and in PostgreSQL's buffers). Both stores
get the same steady clock, so they hold identical rows and break score ties identically. The PostgreSQL side runs
in a scratch schema of the given database, dropped afterwards (store/scratch.py): nothing else is read or cleared.
"""

from __future__ import annotations

import gc
import hashlib
import itertools
import json
import random
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..models import NewItem, utc_timestamp
from ..recall.lexical import BM25Retriever
from ..recall.tokenizer import _exact, _run_terms, stem
from ..store.postgres import PostgresStore
from ..store.scratch import scratch_schema
from ..store.sqlite import SQLiteStore, SQLStore
from .scale_bench import SCOPE, Timings, _ms, _queries

BULK_BATCH = 1000  # items per add_items call of the bulk load
SINGLE_ADDS = 40
WARM_ITEMS = 200
LIMIT = 5
_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
# Figures compared as PostgreSQL's over SQLite's (recall's should come out near 1).
RATIOS = ("bulk_load_s", "add_one_p50_ms", "add_one_p95_ms", "open_ms", "snapshot_ms", "cold_search_ms",
          "p50_ms", "p95_ms", "feed_check_p50_ms")  # fmt: skip

Opener = Callable[[], SQLStore]  # opens the same database again at each call


@dataclass(frozen=True)
class StoreRun:
    """One store's figures, and the hits (id, score) of every query, for comparison between stores."""

    figures: dict[str, Any]
    hits: tuple[tuple[tuple[str, float], ...], ...]


def steady_clock() -> Callable[[], str]:
    """Store timestamps one microsecond apart from a fixed moment: the same rows in every store of a run."""
    ticks = itertools.count()
    return lambda: utc_timestamp(_EPOCH + timedelta(microseconds=next(ticks)))


def run_scale_stores(
    new_items: Sequence[NewItem], queries: int, database_url: str, *, seed: int = 7, k1: float = 1.5, b: float = 0.75
) -> dict[str, Any]:
    """The scale bench over a temporary SQLite file and over a scratch schema of ``database_url``, side by side."""
    texts = _queries(new_items, queries, random.Random(seed + 1))
    _warm_process(new_items, texts[0], k1, b)
    with _sqlite() as opener:
        on_sqlite = _run_store(opener, new_items, texts, k1, b)
    with _postgres(database_url) as (opener, schema):
        on_postgres = _run_store(opener, new_items, texts, k1, b)
    return {
        "benchmark": "scale",
        "scorer": "index",
        "items": len(new_items),
        "queries": queries,
        "database": f"{on_postgres.figures['store']}, schema {schema} (dropped afterwards)",
        "bulk_batch_items": BULK_BATCH,
        "single_adds": SINGLE_ADDS,
        "same_hits": on_sqlite.hits == on_postgres.hits,
        "stores": {"sqlite": on_sqlite.figures, "postgres": on_postgres.figures},
        "postgres_over_sqlite": {key: _ratio(on_postgres.figures[key], on_sqlite.figures[key]) for key in RATIOS},
    }


@contextmanager
def _sqlite() -> Iterator[Opener]:
    with tempfile.TemporaryDirectory(prefix="memtune-scale-") as tmp:
        path, clock = Path(tmp) / "scale.sqlite3", steady_clock()
        yield lambda: SQLiteStore(path, clock=clock)


@contextmanager
def _postgres(database_url: str) -> Iterator[tuple[Opener, str]]:
    with scratch_schema(database_url) as (schema, url):
        clock = steady_clock()
        # poll_ms=0: every search asks the database what changed, the worst case (the default trusts a quiet
        # library for MEMTUNE_DATABASE_POLL_MS, and a search then does not reach the database at all)
        yield (lambda: PostgresStore(url, clock=clock, poll_ms=0)), schema


def _run_store(opener: Opener, items: Sequence[NewItem], queries: Sequence[str], k1: float, b: float) -> StoreRun:
    """Fill the store, then measure it cold (fresh stores on the filled database), then recall and single adds."""
    gc.collect()
    started = time.perf_counter()
    with opener() as store:
        figures: dict[str, Any] = {"store": store.describe(), "create_ms": round(_ms(started), 1)}
        figures.update(_bulk_load(store, items))
    figures.update(_snapshot_read(opener))
    with opener() as store:
        retriever = BM25Retriever(store, k1=k1, b=b)
        _forget_words()
        started = time.perf_counter()
        retriever.search(SCOPE, queries[0], limit=LIMIT)
        figures["cold_search_ms"] = round(_ms(started), 1)
        latencies, hits = _recall(retriever, queries)
        docs, terms, nbytes = retriever.stats(SCOPE)
        figures.update(_feed_checks(store, len(queries)))
        figures.update(_single_adds(store, items))
    figures.update(latencies.summary(""), max_ms=round(max(latencies.ms), 3))
    figures.update(index_docs=docs, index_terms=terms, index_memory_bytes=nbytes)
    figures["hits_sha256"] = hashlib.sha256(json.dumps(hits).encode()).hexdigest()[:16]
    return StoreRun(figures, hits)


def _bulk_load(store: SQLStore, items: Sequence[NewItem]) -> dict[str, Any]:
    """The items in batches of BULK_BATCH, the first creating the library: the total, per item and per batch."""
    batches = [items[start : start + BULK_BATCH] for start in range(0, len(items), BULK_BATCH)]
    started = time.perf_counter()
    store.add_items(SCOPE, batches[0], source="bench", create_library_name="scale")
    times = [_ms(started)]
    times.extend(Timings.of(lambda batch: store.add_items(SCOPE, batch, source="bench"), batches[1:]).ms)
    total_s = sum(times) / 1000
    per_batch = Timings(tuple(times))
    return {
        "bulk_load_s": round(total_s, 3),
        "bulk_per_item_us": round(total_s / len(items) * 1e6, 1),
        "bulk_batches": len(batches),
        **per_batch.summary("bulk_batch_"),
        # first against last shows whether a batch's cost grows with the library it joins
        "bulk_batch_first_ms": round(times[0], 3),
        "bulk_batch_last_ms": round(times[-1], 3),
    }


def _snapshot_read(opener: Opener) -> dict[str, float]:
    """Opening a store on the filled database, and its snapshot of the library (what an index build reads)."""
    started = time.perf_counter()
    with opener() as store:
        opened_ms = _ms(started)
        started = time.perf_counter()
        store.snapshot(SCOPE)
        read_ms = _ms(started)
    return {"open_ms": round(opened_ms, 1), "snapshot_ms": round(read_ms, 1)}


def _recall(
    retriever: BM25Retriever, queries: Sequence[str]
) -> tuple[Timings, tuple[tuple[tuple[str, float], ...], ...]]:
    times, hits = [], []
    for query in queries:
        started = time.perf_counter()
        found = retriever.search(SCOPE, query, limit=LIMIT)
        times.append(_ms(started))
        hits.append(tuple((hit.item.id, round(hit.score, 6)) for hit in found))
    return Timings(tuple(times)), tuple(hits)


def _feed_checks(store: SQLStore, count: int) -> dict[str, float]:
    """The database's share of every search: the index asks the change feed what changed since its cursor."""
    cursor = store.change_cursor(SCOPE)
    return Timings.of(lambda _: store.changes_since(SCOPE, cursor), range(count)).summary("feed_check_")


def _warm_process(items: Sequence[NewItem], query: str, k1: float, b: float) -> None:
    """Pay this process's one-time costs (imports, the stemmer, compiled patterns) before either store is timed."""
    with SQLiteStore(":memory:") as store:
        store.add_items(SCOPE, items[:WARM_ITEMS], source="bench", create_library_name="warm")
        BM25Retriever(store, k1=k1, b=b).search(SCOPE, query, limit=LIMIT)


def _forget_words() -> None:
    """Empty the tokenizer's word caches: each store's cold start tokenises as a fresh process does, not helped
    by the store measured before it."""
    for cached in (stem, _run_terms, _exact):
        cached.cache_clear()


def _single_adds(store: SQLStore, items: Sequence[NewItem]) -> dict[str, float]:
    """One-item add_items calls into the filled library (texts of loaded items, under new ids)."""
    adds = [NewItem(items[n % len(items)].text, "note", id=f"add{n}") for n in range(SINGLE_ADDS)]
    return Timings.of(lambda item: store.add_items(SCOPE, [item], source="bench"), adds).summary("add_one_")


def _ratio(postgres: float, sqlite: float) -> float | None:
    return round(postgres / sqlite, 2) if sqlite > 0 else None
