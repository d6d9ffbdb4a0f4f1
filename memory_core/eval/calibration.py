"""Fitting and judging relevance calibration on a retrieval set (the project's own: `recall/data/relevance-train.json`).

Every (query, memory) pair of every profile is a row: the query's cosine to the memory (the embedder's query
and passage vectors, as dense recall computes them) and BM25's evidence from the real lexical retriever over a
store holding the profile's memories, so training sees exactly what recall sees. A query with no relevant
memory (`"relevant": []`) is unanswerable: nothing should pass the floor for it.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ..models import NewItem, Scope
from ..recall.background import Background
from ..recall.embeddings import LANGUAGES, Embedder
from ..recall.lexical import MAX_LIMIT, BM25Retriever
from ..recall.logistic import fit
from ..recall.relevance import (
    FUSED_FEATURES,
    Calibration,
    Lexical,
    centre,
    fused_features,
    language_code,
    lexical_evidence,
)
from ..store.protocol import Store
from ..store.sqlite import SQLiteStore

# Penalties chosen by cross-validation over the training file's profiles (see `cross_validate`).
DENSE_L2 = 1.0
FUSED_L2 = 1.0
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class QueryRows:
    """One query against its profile's library: the pairs' raw evidence and which memories are relevant."""

    text: str
    kind: str
    lang: int
    cosine: Floats
    memory_langs: npt.NDArray[np.int8]
    lexical: Lexical
    relevant: npt.NDArray[np.bool_]
    overlap: float = 0.0  # the idf-weighted share of the query's terms the library holds at all
    hub: Floats | None = None  # each memory's hub for the query's language (see recall/background.py)


def read_profiles(path: Path) -> list[dict[str, object]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return list(data["profiles"])


def query_rows(
    profiles: Sequence[dict[str, object]], embedder: Embedder, background: Background | None = None
) -> list[QueryRows]:
    """Every query of every profile, with its evidence against that profile's memories (and each memory's hub
    against `background`'s questions, when given)."""
    rows: list[QueryRows] = []
    with tempfile.TemporaryDirectory(prefix="memtune-calibration-") as tmp, SQLiteStore(Path(tmp) / "c.db") as store:
        for n, profile in enumerate(profiles):
            scope = Scope.of("calibration", "fit", f"p{n}")
            rows += _profile_rows(store, scope, profile, embedder, background)
    return rows


def _profile_rows(
    store: Store, scope: Scope, profile: dict[str, object], embedder: Embedder, background: Background | None
) -> list[QueryRows]:
    memories: list[dict[str, str]] = profile["memories"]  # type: ignore[assignment]
    items = [NewItem(m["text"], "note", id=m["id"]) for m in memories]
    store.add_items(scope, items, source="calibration", create_library_name="fit")
    lexical = BM25Retriever(store)
    vectors = embedder.embed([m["text"] for m in memories], kind="passage")
    langs = np.array([language_code(m["text"]) for m in memories], dtype=np.int8)
    hubs = background.hub(vectors).astype(np.float64) if background is not None else None
    position = {m["id"]: n for n, m in enumerate(memories)}
    out = []
    for query in profile["queries"]:  # type: ignore[attr-defined]
        hits, overlap = lexical.lexical(scope, query["text"], limit=MAX_LIMIT)
        terms = len(set(lexical.tokenizer(query["text"])))
        evidence = lexical_evidence(hits, [position[h.item.id] for h in hits], len(memories), terms)
        cosine = (vectors @ embedder.embed([query["text"]], kind="query")[0]).astype(np.float64)
        relevant = np.isin([m["id"] for m in memories], query["relevant"])
        lang = language_code(query["text"])
        out.append(QueryRows(query["text"], query.get("kind", ""), lang, cosine, langs, evidence, relevant, overlap,
                             hubs[:, lang] if hubs is not None else None))  # fmt: skip
    return out


def background(rows: Sequence[QueryRows]) -> tuple[tuple[float, float], ...]:
    """Per query language and memory language: the mean cosine of unrelated pairs, and the spread of their
    cosines around the centre calibration uses (that mean moved half-way to each memory's hub)."""
    pairs = []
    for query_lang in range(len(LANGUAGES)):
        for memory_lang in range(len(LANGUAGES)):
            unrelated = [(r, (r.memory_langs == memory_lang) & ~r.relevant) for r in rows if r.lang == query_lang]
            cosines = np.concatenate([r.cosine[m] for r, m in unrelated] or [np.zeros(0)])
            if len(cosines) < 2:
                pairs.append((0.0, 1.0))
                continue
            mean = float(cosines.mean())
            spread = np.concatenate([r.cosine[m] - centre(np.full(int(m.sum()), mean), _at(r.hub, m))
                                     for r, m in unrelated])  # fmt: skip
            pairs.append((round(mean, 5), round(float(np.sqrt(np.mean(spread**2))), 5)))
    return tuple(pairs)


def _at(hub: Floats | None, mask: npt.NDArray[np.bool_]) -> Floats | None:
    return hub[mask] if hub is not None else None


def train(rows: Sequence[QueryRows], model: str) -> Calibration:
    """The background, then both regressions over z (and the lexical evidence) of every pair."""
    unfitted = Calibration(model, background(rows), (1.0, 0.0), (0.0,) * (len(FUSED_FEATURES) + 1))
    zs = [unfitted.z(r.cosine, r.memory_langs, r.lang, r.hub) for r in rows]
    labels = np.concatenate([r.relevant for r in rows])
    dense_w, dense_b = fit(np.concatenate(zs)[:, None], labels, DENSE_L2)
    fused = np.vstack([fused_features(z, r.lexical) for z, r in zip(zs, rows, strict=True)])
    fused_w, fused_b = fit(fused, labels, FUSED_L2)
    dense = _rounded([*dense_w, dense_b])
    return Calibration(model, unfitted.background, (dense[0], dense[1]), _rounded([*fused_w, fused_b]))


def _rounded(values: Sequence[float]) -> tuple[float, ...]:
    return tuple(round(float(v), 5) for v in values)


@dataclass(frozen=True)
class FloorScores:
    """What a floor at `threshold` would inject, top `k`: recall of answerable queries, precision, false injections."""

    threshold: float
    recall: float
    precision: float
    false_injection_rate: float
    cross_lingual_recall: float


def judge(rows: Sequence[QueryRows], calibration: Calibration, threshold: float, *, k: int = 5,
          dense_only: bool = False) -> FloorScores:  # fmt: skip
    found = injected = right = false = answerable = cross = cross_found = 0
    for r in rows:
        scores = _scores(r, calibration, dense_only)
        top = [n for n in np.argsort(-scores, kind="stable")[:k] if scores[n] > threshold]
        hit = bool(r.relevant[top].any()) if top else False
        injected += len(top)
        right += int(r.relevant[top].sum()) if top else 0
        if r.relevant.any():
            answerable += 1
            found += hit
            cross += r.kind == "cross_lingual"
            cross_found += hit and r.kind == "cross_lingual"
        else:
            false += bool(top)
    unanswerable = len(rows) - answerable
    return FloorScores(threshold, found / max(answerable, 1), right / injected if injected else 1.0,
                       false / max(unanswerable, 1), cross_found / max(cross, 1))  # fmt: skip


def _scores(r: QueryRows, calibration: Calibration, dense_only: bool) -> Floats:
    z = calibration.z(r.cosine, r.memory_langs, r.lang, r.hub)
    return calibration.dense_relevance(z) if dense_only else calibration.fused_relevance(z, r.lexical)
