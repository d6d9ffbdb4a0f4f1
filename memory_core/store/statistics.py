"""When PostgreSQL's planner statistics are refreshed: after this process has added as many memories as the
tables held when they were last analysed (and at least `FIRST_AFTER`).

A table PostgreSQL has never analysed is planned as if each library held one row, so a lookup of a few ids in a
library of 60,000 read all of them (8 ms instead of 0.1) until autovacuum came by, up to a minute later. A bulk
load or a `store copy` therefore analyses as it grows: a handful of times from empty to 100,000 items.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

FIRST_AFTER = 1_000  # items added before the first ANALYZE of a process


class GrowthTrigger:
    """Counts items added; says when they reach the size last analysed at, then starts counting again."""

    def __init__(self, analyse: Callable[[], int]) -> None:
        self._analyse = analyse  # runs ANALYZE, returns how many items the tables hold
        self._lock = threading.Lock()
        self._added = 0
        self._known = 0

    def added(self, count: int) -> None:
        with self._lock:
            self._added += count
            due = self._added >= max(FIRST_AFTER, self._known)
            if due:
                self._added = 0
        if due:
            self._known = self._analyse()
