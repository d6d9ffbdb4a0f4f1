"""How long a decision takes: the rules alone, and the local judge with and without a shared query vector.

A turn embeds its message once (`QueryCache`), so when dense recall has embedded it, the judge only scores;
when it must embed, the embedding is most of its time. Both are measured in one run, beside the embedding
alone (the floor), on the messages the rules leave open.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from ..decide.decider import RecallDecider
from ..decide.local_judge import LocalJudge
from ..decide.rules import decide_by_rules
from ..recall.embeddings import QueryCache
from .metrics import percentile


def _times_ms(texts: Sequence[str], call: Callable[[str], object]) -> list[float]:
    times = []
    for text in texts:
        started = time.perf_counter()
        call(text)
        times.append((time.perf_counter() - started) * 1000)
    return times


def _figures(times: Sequence[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(times, 50), 3), "p95_ms": round(percentile(times, 95), 3)}


def run_decide_bench(texts: Sequence[str], judge: LocalJudge) -> dict[str, Any]:
    """Rule decisions on every text; judge-decided hybrid decisions on the texts the rules leave open."""
    embedder = judge.embedder
    open_texts = [t for t in texts if decide_by_rules(t).reason == "no_marker"]
    rules = _times_ms(texts, decide_by_rules)
    embed = _times_ms(open_texts, lambda t: embedder.embed([t], kind="query"))
    cold = RecallDecider(local=judge)
    cold_times = _times_ms(open_texts, lambda t: cold.decide(t, mode="hybrid"))
    shared = QueryCache(embedder, size=len(open_texts) + 1)
    warm = RecallDecider(local=LocalJudge(shared, judge.parameters))
    for text in open_texts:  # dense recall's embedding of the same message, done first
        shared.embed([text], kind="query")
    warm_times = _times_ms(open_texts, lambda t: warm.decide(t, mode="hybrid"))
    return {"benchmark": "decide", "messages": len(texts), "left_open": len(open_texts),
            "rule_p50_us": round(percentile(rules, 50) * 1000, 1),
            "rule_p95_us": round(percentile(rules, 95) * 1000, 1),
            "embed_alone": _figures(embed), "judge_must_embed": _figures(cold_times),
            "judge_vector_shared": _figures(warm_times)}  # fmt: skip
