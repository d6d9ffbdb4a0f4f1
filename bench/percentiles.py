"""The percentile every benchmark script quotes: nearest rank, so a p95 is a latency that was measured."""

from __future__ import annotations

import math


def percentile(values: list[float], q: float) -> float:
    """The smallest value with at least q% of them at or below it (0 for none): p95 of 20 is the 19th."""
    if not values:
        return 0.0
    ranked = sorted(values)
    return ranked[max(0, math.ceil(q * len(ranked) / 100) - 1)]
