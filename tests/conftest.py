"""Shared fixtures: a clean environment, a store on a temp file, engines over it."""

from __future__ import annotations

import gc
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from memory_core import MemoryEngine, RecallDecider, Scope, SQLiteStore, load_settings
from memory_core.recall.lexical import BM25Retriever

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's OPENTALKING_*/MEMTUNE_* variables or a stray .env file."""
    for name in list(os.environ):
        if name.upper().startswith(("OPENTALKING_", "MEMTUNE_", "SPACE_", "GRADIO_SERVER_")):
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
def engine_factory(store: SQLiteStore) -> Callable[..., MemoryEngine]:
    """Build engines over the temp store (the store fixture closes it)."""

    def build(**kwargs: object) -> MemoryEngine:
        settings = kwargs.pop("settings", None) or load_settings({})
        return MemoryEngine(store, BM25Retriever(store), settings=settings, **kwargs)  # type: ignore[arg-type]

    return build


@pytest.fixture
def decider() -> RecallDecider:
    return RecallDecider()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_app(data: Path, **env: str) -> Iterator[str]:
    """`python app.py` as a user starts it, on a free port, with ``data`` as its data directory."""
    port = free_port()
    full = {**os.environ, "GRADIO_SERVER_PORT": str(port), "MEMTUNE_DATA_DIR": str(data),
            "OPENTALKING_ENV_FILE": str(data / "none.env"), **env}  # fmt: skip
    log = (data / "app.log").open("w")
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=full, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.head(url + "favicon.ico", timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail(f"app.py did not start: {(data / 'app.log').read_text()}")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
        gc.collect()


@contextmanager
def serving_console(data: Path) -> Iterator[tuple[str, MemoryEngine]]:
    """The console's app in this process (uvicorn on a thread, a free port, ``data`` as its data directory),
    for gradio_client tests that also look at the engine behind it."""
    import threading

    import uvicorn

    from app import create_app

    settings = load_settings({"MEMTUNE_DATA_DIR": str(data), "OPENTALKING_ENV_FILE": str(data / "none.env")})
    app, engine = create_app(settings)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "gradio_api/info", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    try:
        yield url, engine
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        engine.close()
        gc.collect()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, MemoryEngine]]:
    """The module's console, served in this process on an empty data directory (see `serving_console`)."""
    with serving_console(tmp_path_factory.mktemp("console")) as served:
        yield served


@pytest.fixture
def client(running: tuple[str, MemoryEngine]) -> Iterator[Any]:
    """A gradio_client Client of the module's console, closed after the test."""
    from gradio_client import Client

    c = Client(running[0], verbose=False)
    yield c
    c.close()


@pytest.fixture(scope="module")
def app_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data directory of the module's `python app.py` (its log is app.log there)."""
    return tmp_path_factory.mktemp("app")


@pytest.fixture(scope="module")
def app_url(app_data: Path) -> Iterator[str]:
    """`python app.py` on the embedded defaults and an empty data directory."""
    with running_app(app_data) as url:
        yield url


@pytest.fixture
def collect_garbage() -> Iterator[None]:
    """Collect what Gradio, uvicorn and gradio_client leave behind while the test's warning filters apply.

    Their event loops and sockets are closed by the garbage collector; collected later, the
    ResourceWarnings would be blamed on whichever unrelated test happened to be running.
    """
    yield
    gc.collect()
