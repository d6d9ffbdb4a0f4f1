"""Public sandboxes: on a public deployment every visitor works in a profile of their own.

A sandbox is a profile whose id is an unguessable token created here (``sbx_`` + 144 random bits); the
console keeps it in the visitor's browser and on the server, and never takes a profile from what a
client sends. Each sandbox is seeded with a copy of the demo, bounded by quotas (items, text length,
turns per minute, upload size) and deleted, everything it owned included, once idle past its lifetime.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass

from .demo import seed_sandbox
from .errors import QuotaError
from .settings import Settings
from .store.protocol import Store

SANDBOX_PREFIX = "sbx_"
_TOKEN = re.compile(r"^sbx_[A-Za-z0-9_-]{24}$")
_META = "sandbox:"
_BROWSER_SECRET = "browser_state_secret"
_TOUCH_EVERY_S = 60.0
_PRUNE_AT = 10_000


def is_sandbox(profile_id: str) -> bool:
    """Whether a profile id has the shape of a sandbox token (not whether that sandbox exists)."""
    return isinstance(profile_id, str) and bool(_TOKEN.match(profile_id))


@dataclass(frozen=True)
class SandboxPolicy:
    """The quotas and lifetime of every sandbox (MEMTUNE_SANDBOX_* settings)."""

    max_items: int = 500
    max_text_chars: int = 2_000
    turns_per_minute: int = 30
    max_upload_bytes: int = 1024 * 1024
    ttl_hours: float = 24.0
    max_sandboxes: int = 2_000

    @classmethod
    def from_settings(cls, settings: Settings) -> SandboxPolicy:
        return cls(
            max_items=settings.sandbox_max_items,
            max_text_chars=settings.text_limit,
            turns_per_minute=settings.sandbox_turns_per_minute,
            max_upload_bytes=settings.upload_limit_bytes,
            ttl_hours=settings.sandbox_ttl_hours,
            max_sandboxes=settings.sandbox_max_count,
        )


class SandboxLimits:
    """The store's write limits: sandboxes are held to the policy, every other profile is not."""

    def __init__(self, policy: SandboxPolicy) -> None:
        self._policy = policy

    def max_items(self, profile_id: str) -> int | None:
        return self._policy.max_items if is_sandbox(profile_id) else None

    def max_text(self, profile_id: str) -> int | None:
        return self._policy.max_text_chars if is_sandbox(profile_id) else None


class RateLimiter:
    """At most ``limit`` events per key in any sliding ``window_s``; thread-safe."""

    def __init__(self, limit: int, window_s: float = 60.0, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit, self._window, self._clock = limit, window_s, clock
        self._events: defaultdict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Count one event for ``key``; False (and nothing counted) when the key is over its limit."""
        with self._lock:
            if self._over(key):
                return False
            self._events[key].append(self._clock())
            self._prune()
            return True

    def over(self, key: str) -> bool:
        """Whether ``key`` has used up its events in the current window."""
        with self._lock:
            return self._over(key)

    def hit(self, key: str) -> None:
        """Count one event for ``key`` whatever its count."""
        with self._lock:
            self._events[key].append(self._clock())
            self._prune()

    def _prune(self) -> None:
        # Keys that never come back would stay for ever: past a size, drop every key out of its window.
        if len(self._events) > _PRUNE_AT:
            for key in list(self._events):
                self._over(key)

    def _over(self, key: str) -> bool:
        events = self._events.get(key)
        if events is None:
            return False
        horizon = self._clock() - self._window
        while events and events[0] <= horizon:
            events.popleft()
        if not events:
            del self._events[key]  # keys with nothing in the window cost nothing, however many come and go
        return len(events) >= self._limit

    def forget(self, key: str) -> None:
        with self._lock:
            self._events.pop(key, None)

    def __len__(self) -> int:
        """How many keys are being tracked."""
        with self._lock:
            return len(self._events)


class Sandboxes:
    """Creates, validates, touches and sweeps sandboxes; their registry lives in the store's meta table."""

    def __init__(
        self,
        store: Store,
        policy: SandboxPolicy,
        *,
        seed: Callable[[str], None],
        forget: Callable[[str], object],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store, self.policy, self._seed, self._forget, self._clock = store, policy, seed, forget, clock
        self._turns = RateLimiter(policy.turns_per_minute, 60.0, clock=clock)
        self._touched: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def claim(self, token: object) -> str:
        """The visitor's sandbox: the one their token names when it exists, else a new one."""
        if isinstance(token, str) and self.exists(token):
            self.touch(token)
            return token
        return self.create()

    def exists(self, token: str) -> bool:
        return is_sandbox(token) and self._store.get_meta(_META + token) is not None

    def create(self) -> str:
        """A new sandbox seeded with the demo; the least recently used ones go when there are too many."""
        token = SANDBOX_PREFIX + secrets.token_urlsafe(18)
        with self._lock:
            self._store.set_meta(_META + token, repr(self._clock()))
            self._touched[token] = self._clock()
        self._seed(token)
        self._trim()
        return token

    def touch(self, token: str) -> None:
        """Mark the sandbox as used now (written at most once a minute per sandbox)."""
        now = self._clock()
        with self._lock:
            if now - self._touched.get(token, 0.0) < _TOUCH_EVERY_S:
                return
            self._touched[token] = now
        self._store.set_meta(_META + token, repr(now))

    def allow_turn(self, token: str) -> None:
        """Count one chat turn; QuotaError when the sandbox is over its turns per minute."""
        if not self._turns.allow(token):
            raise QuotaError(
                f"slow down: a sandbox may send {self.policy.turns_per_minute} messages a minute; try again shortly"
            )

    def last_used(self) -> dict[str, float]:
        """Every sandbox with the time it was last used (seconds since the epoch)."""
        rows = self._store.meta_with_prefix(_META)
        return {key[len(_META) :]: _seconds(value) for key, value in rows.items()}

    def sweep(self) -> int:
        """Delete every sandbox idle for longer than its lifetime; returns how many went."""
        horizon = self._clock() - self.policy.ttl_hours * 3600
        idle = [token for token, used in self.last_used().items() if used < horizon]
        for token in idle:
            self.purge(token)
        return len(idle)

    def purge(self, token: str) -> None:
        """Delete the sandbox and all it owned: items, history, vectors, characters, indexes."""
        self._store.purge_profile(token)
        self._store.delete_meta(_META + token)
        with self._lock:
            self._touched.pop(token, None)
        self._turns.forget(token)
        self._forget(token)

    def start_sweeper(self, every_s: float = 600.0) -> threading.Thread:
        """Sweep in a daemon thread every ``every_s`` seconds until `close()`."""
        thread = threading.Thread(target=self._sweep_until_closed, args=(every_s,), daemon=True, name="sandbox-sweep")
        thread.start()
        return thread

    def close(self) -> None:
        self._stop.set()

    def _sweep_until_closed(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            self.sweep()

    def _trim(self) -> None:
        used = self.last_used()
        for token in sorted(used, key=used.__getitem__)[: max(0, len(used) - self.policy.max_sandboxes)]:
            self.purge(token)


def _seconds(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return 0.0  # an unreadable entry counts as long idle, so the next sweep clears it


def build_sandboxes(store: Store, settings: Settings, *, forget: Callable[[str], object]) -> Sandboxes:
    """Public mode's sandboxes over the store: quotas installed in it, idle ones swept now and every 10 min."""
    policy = SandboxPolicy.from_settings(settings)
    store.limits = SandboxLimits(policy)
    sandboxes = Sandboxes(store, policy, seed=lambda profile: seed_sandbox(store, profile), forget=forget)
    sandboxes.sweep()
    sandboxes.start_sweeper()
    return sandboxes


def browser_secret(store: Store | None) -> str:
    """The key a visitor's browser keeps its sandbox token under, the same across restarts of the store."""
    if store is None:
        return secrets.token_urlsafe(16)
    secret = store.get_meta(_BROWSER_SECRET)
    if secret is None:
        secret = secrets.token_urlsafe(16)
        store.set_meta(_BROWSER_SECRET, secret)
    return secret
