"""The bilingual retrieval benchmark: profiles with memories and queries whose relevant memories are known.

File format (as ../shared/data/retrieval-dev.json):
{"profiles": [{"profile_id", "memories": [{"id", "lang", "text"}], "queries": [{"id", "lang", "text",
"relevant": [memory ids], "kind"}]}]}
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError
from ..models import NewItem, Scope
from ..recall.embeddings import Embedder
from ..recall.fusion import METHODS
from ..store.sqlite import SQLiteStore
from .benchmarks import method_rankers
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
        if not query.relevant or set(query.relevant) - known:
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
                for query in profile.queries:
                    started = time.perf_counter()
                    ranked = rank(query.text, K)
                    elapsed = (time.perf_counter() - started) * 1000
                    rows.setdefault(name, []).append(_row(query, ranked, elapsed))
    result: dict[str, Any] = {"benchmark": "retrieval", "method": method, "profiles": len(profiles),
                              **_summary(rows[method])}  # fmt: skip
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
