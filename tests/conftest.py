"""Shared fixtures: a clean environment, a store on a temp file, engines over it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from memory_core import MemoryEngine, RecallDecider, Scope, SQLiteStore, load_settings
from memory_core.retrieval import BM25Retriever

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's OPENTALKING_*/MEMTUNE_* variables or a stray .env file."""
    for name in list(os.environ):
        if name.upper().startswith(("OPENTALKING_", "MEMTUNE_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("OPENTALKING_ENV_FILE", str(tmp_path / "no-such.env"))
    monkeypatch.chdir(tmp_path)  # a developer's ./.env or ./data never leaks into a test


def shared_data(name: str) -> Path:
    """A file of ../shared/data, or a clean skip saying it is absent."""
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"{path} is absent (the shared data sets sit beside the checkout in CI)")
    return path


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore(tmp_path / "memory.sqlite3") as s:
        yield s


@pytest.fixture
def scope() -> Scope:
    return Scope.of("alice", "tutor", "default")


@pytest.fixture
def engine_factory(store: SQLiteStore) -> Iterator[Callable[..., MemoryEngine]]:
    """Build engines over the temp store; closes their deciders afterwards (the store fixture closes itself)."""
    made: list[MemoryEngine] = []

    def build(**kwargs: object) -> MemoryEngine:
        settings = kwargs.pop("settings", None) or load_settings({})
        engine = MemoryEngine(store, BM25Retriever(store), settings=settings, **kwargs)  # type: ignore[arg-type]
        made.append(engine)
        return engine

    yield build
    for engine in made:
        engine.decider.close()


@pytest.fixture
def decider() -> Iterator[RecallDecider]:
    d = RecallDecider()
    yield d
    d.close()
