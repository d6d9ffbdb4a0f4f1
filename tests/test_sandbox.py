"""Sandboxes against a real SQLite store: tokens, seeding, quotas inside transactions, sweeping, LRU trim."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from memory_core import MemoryEngine, NewItem, QuotaError, Scope, SQLiteStore, load_settings
from memory_core.demo import DEMO_MEMORIES, seed_sandbox
from memory_core.recall.lexical import BM25Retriever
from memory_core.sandbox import RateLimiter, Sandboxes, SandboxLimits, SandboxPolicy, is_sandbox


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def make(store: SQLiteStore, clock: Clock, forgotten: list[str] | None = None, **policy: int) -> Sandboxes:
    limits = SandboxPolicy(**{"max_items": 12, "max_text_chars": 50, "turns_per_minute": 2, **policy})  # type: ignore[arg-type]
    store.limits = SandboxLimits(limits)
    gone = forgotten if forgotten is not None else []
    return Sandboxes(store, limits, seed=lambda p: seed_sandbox(store, p), forget=gone.append, clock=clock)


def owned_rows(path: Path, profile: str) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t} WHERE profile_id = ?", (profile,)).fetchone()[0]
                  for t in ("items", "item_events", "item_vectors", "libraries")}  # fmt: skip
        counts["characters"] = conn.execute("SELECT COUNT(*) FROM characters WHERE owner = ?", (profile,)).fetchone()[0]
        counts["meta"] = conn.execute("SELECT COUNT(*) FROM meta WHERE key LIKE ?", (f"%{profile}",)).fetchone()[0]
    return counts


def test_a_new_sandbox_is_unguessable_and_seeded_with_its_own_demo(store: SQLiteStore) -> None:
    boxes = make(store, Clock())
    first, second = boxes.create(), boxes.create()
    assert first != second and is_sandbox(first) and len(first) == 28
    assert [c.id for c in store.list_characters(owner=first)] == ["demo"]
    assert store.count_profile_items(first) == len(DEMO_MEMORIES)
    assert boxes.claim(first) == first  # a known token comes back
    for forged in ("default", "sbx_" + "a" * 24, None, 42, first + "x"):
        assert boxes.claim(forged) not in (forged, first)  # anything else is a fresh sandbox


def test_quotas_are_checked_inside_the_write(store: SQLiteStore) -> None:
    boxes = make(store, Clock())
    box = boxes.create()
    scope = Scope.of(box, "demo", "demo")
    store.add_items(scope, [NewItem(f"fact {n}") for n in range(12 - len(DEMO_MEMORIES))])
    with pytest.raises(QuotaError, match="at most 12"):
        store.add_items(scope, [NewItem("one"), NewItem("two")])
    assert store.count_profile_items(box) == 12  # nothing of the refused batch
    (item,) = store.list_items(scope, limit=1).items
    with pytest.raises(QuotaError, match="50 characters"):
        store.edit_item(scope, item.id, text="x" * 51)
    store.add_items(Scope.of("operator", "demo"), [NewItem("y" * 500)], create_library_name="x")  # not a sandbox


def test_a_full_sandbox_drops_chat_writes_instead_of_retrying_them(store: SQLiteStore) -> None:
    boxes = make(store, Clock(), max_items=len(DEMO_MEMORIES))
    box = boxes.create()
    engine = MemoryEngine(store, BM25Retriever(store), settings=load_settings({}))
    session = engine.open_session(Scope.of(box, "demo", "demo"), enabled=True)
    trace = engine.run_turn(session, "I have a younger brother called Tom and he lives in Oslo.")
    assert any("skipped" in error and "at most" in error for error in trace.errors)
    assert session.pending_writes == [] and store.count_profile_items(box) == len(DEMO_MEMORIES)


def test_sweeping_leaves_nothing_of_an_idle_sandbox(store: SQLiteStore) -> None:
    clock, forgotten = Clock(), []
    boxes = make(store, clock, forgotten, ttl_hours=1)  # type: ignore[arg-type]
    idle, active = boxes.create(), boxes.create()
    scope = Scope.of(idle, "demo", "demo")
    item = store.list_items(scope, limit=1).items[0]
    store.delete_item(scope, item.id)  # history of a deleted item must go too
    store.put_vectors(scope, "m", 2, [(i.id, "h", b"\0" * 8) for i in store.list_items(scope).items])
    clock.now += 1800
    boxes.touch(active)
    clock.now += 1801
    assert boxes.sweep() == 1
    assert set(owned_rows(store.path, idle).values()) == {0}
    assert forgotten == [idle] and boxes.exists(active) and not boxes.exists(idle)
    assert store.count_profile_items(active) == len(DEMO_MEMORIES)


def test_the_least_recently_used_go_when_there_are_too_many(store: SQLiteStore) -> None:
    clock = Clock()
    boxes = make(store, clock, max_sandboxes=2)
    first = boxes.create()
    clock.now += 100
    second = boxes.create()
    clock.now += 100
    boxes.touch(first)
    clock.now += 100
    third = boxes.create()
    assert set(boxes.last_used()) == {first, third} and not boxes.exists(second)


def test_turns_per_minute_and_the_rate_limiter(store: SQLiteStore) -> None:
    clock = Clock()
    boxes = make(store, clock)
    box = boxes.create()
    boxes.allow_turn(box)
    boxes.allow_turn(box)
    with pytest.raises(QuotaError, match="2 messages a minute"):
        boxes.allow_turn(box)
    clock.now += 61
    boxes.allow_turn(box)
    limiter = RateLimiter(1, 10, clock=clock)
    assert limiter.allow("a") and not limiter.allow("a") and limiter.allow("b")
    limiter.forget("a")
    assert limiter.allow("a")


def test_the_rate_limiter_forgets_keys_out_of_their_window() -> None:
    clock = Clock()
    limiter = RateLimiter(2, 60, clock=clock)
    for n in range(20_000):
        limiter.hit(f"address {n}")
        if n == 9_999:
            clock.now += 61  # the first 10,000 are now out of the window
    assert limiter.over("address 19999") is False and len(limiter) <= 10_001
