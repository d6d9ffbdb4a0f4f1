"""Retrieval benchmarks: the bilingual set (its own memories), and golden queries against an existing library.

Bilingual file format (as ../shared/data/retrieval-dev.json):
{"profiles": [{"profile_id", "memories": [{"id", "lang", "text"}], "queries": [{"id", "lang", "text",
"relevant": [memory ids], "kind"}]}]}
Golden files: see golden.py.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError
from ..models import NewItem, Scope
from ..recall.embeddings import Embedder
from ..recall.fusion import METHODS
from ..recall.lexical import Retriever, ScoredMemory
from ..store.sqlite import SQLiteStore
from ..tuning import Tuning
from .benchmarks import method_rankers
from .golden import GoldenQuery, GoldenReport, Hit, MethodRun, QueryRun, golden_report, query_run, read_golden
from .metrics import mean, percentile, recall_at_k, reciprocal_rank

K = 5


@dataclass(frozen=True)
class Query:
    id: str
    text: str
    lang: str
    kind: str
    relevant: tuple[str, ...]


@dataclass(frozen=True)
class Profile:
    id: str
    memories: tuple[NewItem, ...]
    queries: tuple[Query, ...]


def load_retrieval_set(path: str | Path) -> tuple[Profile, ...]:
    """Read and check a retrieval set; a malformed file is an InvalidInputError naming the problem."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"cannot read retrieval set {path}: {exc}") from exc
    profiles = data.get("profiles") if isinstance(data, Mapping) else None
    if not isinstance(profiles, list) or not profiles:
        raise InvalidInputError(f"{path}: expected {{'profiles': [...]}} with at least one profile")
    return tuple(_profile(raw, n) for n, raw in enumerate(profiles))


def _profile(raw: Any, n: int) -> Profile:
    try:
        memories = tuple(NewItem(str(m["text"]), "note", id=str(m["id"]), metadata={"lang": m.get("lang", "")})
                         for m in raw["memories"])  # fmt: skip
        queries = tuple(Query(str(q["id"]), str(q["text"]), str(q.get("lang", "")), str(q.get("kind", "")),
                              tuple(str(r) for r in q["relevant"])) for q in raw["queries"])  # fmt: skip
    except (KeyError, TypeError) as exc:
        raise InvalidInputError(f"profile {n}: missing or malformed field {exc}") from exc
    known = {m.id for m in memories}
    for query in queries:
        if set(query.relevant) - known:
            raise InvalidInputError(f"profile {n}, query {query.id}: relevant ids must name its memories")
    return Profile(str(raw.get("profile_id") or f"profile-{n}"), memories, queries)


def run_retrieval(
    path: str | Path,
    *,
    method: str = "fusion",
    embedder: Embedder | None = None,
    k1: float = 1.5,
    b: float = 0.75,
    max_weight: float = 0.6,
) -> dict[str, Any]:
    """recall@5, hit@1, MRR and latency of the method (and, beside it, of the simpler methods)."""
    if method not in METHODS:
        raise InvalidInputError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    profiles = load_retrieval_set(path)
    rows: dict[str, list[dict[str, Any]]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="memtune-retrieval-") as tmp,
        SQLiteStore(Path(tmp) / "bench.sqlite3") as store,
    ):
        for profile in profiles:
            scope = Scope.of(profile.id, "bench", "memories")
            store.add_items(scope, profile.memories, source="bench", create_library_name=profile.id)
            rankers, _ = method_rankers(store, scope, method, embedder, k1=k1, b=b, max_weight=max_weight)
            for name, rank in rankers.items():
                rank(profile.queries[0].text, K)  # builds the indexes before the clock runs
                for query in (q for q in profile.queries if q.relevant):  # no answer: no rank to score
                    started = time.perf_counter()
                    ranked = rank(query.text, K)
                    elapsed = (time.perf_counter() - started) * 1000
                    rows.setdefault(name, []).append(_row(query, ranked, elapsed))
    unanswerable = sum(not q.relevant for profile in profiles for q in profile.queries)
    result: dict[str, Any] = {"benchmark": "retrieval", "method": method, "profiles": len(profiles),
                              "unanswerable_skipped": unanswerable, **_summary(rows[method])}  # fmt: skip
    if len(rows) > 1:
        result["by_method"] = {name: _summary(r) for name, r in rows.items()}
    return result


def _row(query: Query, ranked: list[str], elapsed_ms: float) -> dict[str, Any]:
    return {
        "kind": query.kind,
        "lang": query.lang,
        "recall": recall_at_k(ranked, query.relevant, K),
        "hit1": float(bool(ranked) and ranked[0] in query.relevant),
        "rr": reciprocal_rank(ranked, query.relevant),
        "ms": elapsed_ms,
    }


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def by(key: str) -> dict[str, float]:
        groups = sorted({r[key] for r in rows})
        return {g: round(mean([r["recall"] for r in rows if r[key] == g]), 4) for g in groups}

    return {
        "queries": len(rows),
        "recall@5": round(mean([r["recall"] for r in rows]), 4),
        "hit@1": round(mean([r["hit1"] for r in rows]), 4),
        "mrr": round(mean([r["rr"] for r in rows]), 4),
        "p50_ms": round(percentile([r["ms"] for r in rows], 50), 4),
        "by_kind": by("kind"),
        "by_lang": by("lang"),
    }


# Golden queries against an existing library

RANK_DEPTH = 50  # hits kept per query and method: where a missed memory ranked, down to 50
SUPERSEDED_SLACK = 5  # searched beyond the depth, so that leaving superseded memories out still fills it
# Each query is searched with no threshold: everything the method scores at all (BM25's lowest knob value).
NO_THRESHOLD = {"bm25": -1e6, "dense": 0.0, "fusion": 0.0}


def golden_methods(retriever: Retriever, wanted: Sequence[str] = ()) -> tuple[str, ...]:
    """The methods to compare: the ones asked for (each must be available), else all the retriever has."""
    missing = [m for m in wanted if m not in retriever.methods]
    if missing:
        has = ", ".join(retriever.methods)
        raise InvalidInputError(f"{', '.join(missing)}: not available here (needs an embedder); this has {has}")
    return tuple(wanted) or tuple(m for m in METHODS if m in retriever.methods)


def search_golden(
    retriever: Retriever,
    scope: Scope,
    queries: Sequence[GoldenQuery],
    methods: Sequence[str],
    *,
    depth: int = RANK_DEPTH,
    keep_superseded: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[MethodRun, ...]:
    """Search each query once per method, ``depth`` deep and with no threshold."""
    runs: dict[str, list[QueryRun]] = {method: [] for method in methods}
    for done, query in enumerate(queries, start=1):
        for method in methods:  # query by query, so a query's vector is embedded once for dense and fusion
            found = retriever.search(scope, query.query, limit=depth + SUPERSEDED_SLACK,
                                     min_score=NO_THRESHOLD[method], method=method)  # fmt: skip
            runs[method].append(query_run(query, _hits(found, depth, keep_superseded)))
        if progress is not None:
            progress(done, len(queries))
    return tuple(MethodRun(method, tuple(found)) for method, found in runs.items())


def _hits(found: Sequence[ScoredMemory], depth: int, keep_superseded: bool) -> list[Hit]:
    """What a chat turn would see: superseded memories left out unless the session shows them."""
    kept = [h for h in found if keep_superseded or not h.item.metadata.get("superseded_by")]
    return [Hit(h.item.id, h.item.text, h.score) for h in kept[:depth]]


def run_golden(
    queries: Sequence[GoldenQuery] | str | Path,
    retriever: Retriever,
    scope: Scope,
    tuning: Tuning,
    *,
    methods: Sequence[str] = (),
    k: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> GoldenReport:
    """Golden queries (or a golden file) against one library: each method at top-k and its current threshold."""
    checked = read_golden(queries) if isinstance(queries, str | Path) else tuple(queries)
    top_k = k or tuning.recall_limit
    chosen = golden_methods(retriever, methods)
    runs = search_golden(retriever, scope, checked, chosen, depth=max(RANK_DEPTH, top_k),
                         keep_superseded=tuning.show_superseded, progress=progress)  # fmt: skip
    return golden_report(runs, k=top_k, tuning=tuning)
