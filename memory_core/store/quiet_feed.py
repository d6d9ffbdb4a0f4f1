"""How long a replica may trust "nothing changed": the bounded delay between a write in another process and the
next search here that asks the database for it (MEMTUNE_DATABASE_POLL_MS).

Every search asks the store for the library's changes since its index's cursor. On a database server that is a
round trip per index per search; a library found quiet a moment ago is taken as still quiet for the delay, so a
busy console asks once per delay instead. A write made by this process ends every such moment at once: what a
process writes, its next search finds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..models import Scope

MAX_REMEMBERED = 10_000  # libraries remembered as quiet; past it the memory starts again (sandboxes are many)


@dataclass(frozen=True)
class Quiet:
    seq: int  # the cursor the library was quiet at
    writes: int  # this process's write count then
    at: float  # when (monotonic seconds)


class QuietFeed:
    """Libraries recently found without changes, each until the delay passes or this process writes."""

    def __init__(self, delay_ms: int, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.delay_s = max(delay_ms, 0) / 1000
        self._monotonic = monotonic
        self._quiet: dict[Scope, Quiet] = {}
        self._lock = threading.Lock()

    def still_quiet(self, scope: Scope, seq: int, writes: int) -> bool:
        with self._lock:
            quiet = self._quiet.get(scope)
        return (
            quiet is not None
            and (quiet.seq, quiet.writes) == (seq, writes)
            and self._monotonic() - quiet.at < self.delay_s
        )

    def found_quiet(self, scope: Scope, seq: int, writes: int, at: float) -> None:
        if self.delay_s <= 0:
            return
        with self._lock:
            if len(self._quiet) >= MAX_REMEMBERED:
                self._quiet.clear()
            self._quiet[scope] = Quiet(seq, writes, at)

    def now(self) -> float:
        return self._monotonic()
