"""Golden queries in the Compare tab, through gradio_client against a served console (the real HTTP/SSE path)."""

from __future__ import annotations

import gc
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import gradio as gr
import httpx
import pytest
import uvicorn
from conftest import free_port
from fakes import HashingEmbedder
from fastapi import FastAPI
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from app import create_app
from console import retrieval_handlers as golden
from console.session_state import ConsoleState
from console.ui import build_ui
from console.visitor import Visitor
from memory_core import MemoryEngine, NewItem, Scope, Settings, SQLiteStore, Tuning, load_settings
from memory_core.recall.dense import DenseRetriever
from memory_core.recall.fusion import FusionRetriever
from memory_core.recall.lexical import BM25Retriever
from memory_core.sandbox import Sandboxes, build_sandboxes

EXAMPLE = Path(__file__).parent / "data" / "golden-example.jsonl"
MEMORIES = [("m-peanut", "I am allergic to peanuts"), ("m-anna", "My sister Anna lives in Lisbon"),
            ("m-server", "146服务器是测试环境"), ("m-tea", "我最喜欢喝乌龙茶"), ("m-car", "I drive a red Toyota"),
            ("m-gym", "I go to the gym on Mondays")]  # fmt: skip
WHERE = ("alice", "mia", "facts")

pytestmark = [
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning", "ignore::ResourceWarning"),
    pytest.mark.usefixtures("collect_garbage"),
]


def engine_over(store: SQLiteStore, settings: Settings) -> MemoryEngine:
    """An engine over ``store`` with one small library, recall fused with the fake embedder."""
    store.add_items(Scope.of(*WHERE), [NewItem(text, id=key) for key, text in MEMORIES], create_library_name="Facts")
    retriever = FusionRetriever(BM25Retriever(store), DenseRetriever(store, HashingEmbedder()))
    return MemoryEngine(store, retriever, settings=settings)


@contextmanager
def served(settings: Settings, *, public: bool = False) -> Iterator[str]:
    """The console over `engine_over`'s library, on a free port."""
    store = SQLiteStore(settings.database_path)
    engine = engine_over(store, settings)
    sandboxes: Sandboxes | None = build_sandboxes(store, settings, forget=engine.forget_profile) if public else None
    app = gr.mount_gradio_app(FastAPI(), build_ui(engine, sandboxes), path="/")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning",
                                          timeout_graceful_shutdown=1))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.config.port}/"
    wait_for(url)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        if sandboxes is not None:
            sandboxes.close()
        engine.close()
        gc.collect()


def wait_for(url: str) -> None:
    """Until the server answers at all (a private one answers 401 to anyone not logged in)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "gradio_api/info", timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.1)


def settings_in(data: Path, **env: str) -> Settings:
    return load_settings({"MEMTUNE_DATA_DIR": str(data), "OPENTALKING_ENV_FILE": str(data / "none.env"), **env})


@pytest.fixture(scope="module")
def console_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("golden-console")
    with served(settings_in(data, MEMTUNE_DEMO="false")) as url:
        yield url


@pytest.fixture
def client(console_url: str) -> Iterator[Client]:
    c = Client(console_url, verbose=False)
    yield c
    c.close()


def test_golden_queries_score_every_method(client: Client) -> None:
    scores, misses, bm25, dense, fusion, status = client.predict(handle_file(str(EXAMPLE)), *WHERE,
                                                                 api_name="/retrieval_eval")  # fmt: skip
    assert scores["headers"][:6] == ["method", "recall@k", "expected found", "precision", "false injection rate", "n"]
    rows = {row[0]: row for row in scores["data"]}
    assert set(rows) == {"bm25", "dense", "fusion"} and all(row[5] == 6 for row in rows.values())
    assert rows["bm25"][1] == 0.8 and rows["bm25"][6] == 0.0 and rows["fusion"][6] == 0.6
    assert "Ran 6 golden queries" in status and "facts" in status and "top-5" in status
    missed = [row for row in misses["data"] if row[0] == "bm25"]
    assert [row[1] for row in missed] == ["car"] and missed[0][3] == "m-car"
    for plot, method, current in ((bm25, "bm25", 0.0), (dense, "dense", 0.6), (fusion, "fusion", 0.6)):
        points = plot_points(plot)
        assert {p["series"] for p in points} == {"recall", "precision", "current threshold"}, method
        assert [p["threshold"] for p in points if p["series"] == "current threshold"] == [current, current]


def plot_points(plot: object) -> list[dict[str, object]]:
    """A native plot's data as records, whichever of Gradio's payload shapes it arrives in."""
    value = plot.get("value", plot) if isinstance(plot, dict) else json.loads(str(plot))
    if isinstance(value, str):
        value = json.loads(value)
    columns = value.get("columns") or value.get("headers")
    return [dict(zip(columns, row, strict=True)) for row in value["data"]]


def test_the_sessions_top_k_and_thresholds_are_used(store: SQLiteStore) -> None:
    engine = engine_over(store, load_settings({}))
    state = ConsoleState(tuning=Tuning(recall_limit=3, recall_min_score=1.5, fusion_min_score=0.3))
    scope = golden.golden_scope(engine, state, Visitor(), *WHERE)
    scores, _, plots, status = golden.run_golden_file(engine, state, scope, str(EXAMPLE), lambda *a, **k: None)
    assert dict(zip(scores["method"], scores["threshold"], strict=True)) == {"bm25": 1.5, "dense": 0.3, "fusion": 0.3}
    marker = plots[0][plots[0]["series"] == "current threshold"]
    assert "top-3" in status and list(marker["threshold"]) == [1.5, 1.5]


def test_blank_fields_mean_the_chats_library(store: SQLiteStore) -> None:
    engine = engine_over(store, load_settings({}))
    state = ConsoleState(tuning=Tuning(), session=engine.open_session(Scope.of(*WHERE), enabled=True))
    assert golden.golden_scope(engine, state, Visitor(), "", "", "") == Scope.of(*WHERE)
    assert golden.golden_scope(engine, state, Visitor("sandbox-1"), "alice", "", "other").profile_id == "sandbox-1"


def test_the_picker_offers_what_the_visitor_may_search(store: SQLiteStore) -> None:
    engine = engine_over(store, load_settings({}))
    operator = golden.picker_choices(engine, Visitor(), "alice", "mia")
    assert ("alice", "alice") in operator["profile"].choices and operator["profile"].interactive
    assert [value for _, value in operator["library"].choices] == ["facts"]
    sandboxed = golden.picker_choices(engine, Visitor("sandbox-1"), "alice", "mia")
    assert [value for _, value in sandboxed["profile"].choices] == ["sandbox-1"]
    assert not sandboxed["profile"].interactive and sandboxed["library"].choices == []


def test_a_bad_file_is_a_readable_message(client: Client, tmp_path: Path) -> None:
    bad = tmp_path / "golden.jsonl"
    bad.write_text('{"query": "a", "expected_ids": ["m-car"]}\n{"query": "b"}\n', encoding="utf-8")
    with pytest.raises(AppError, match=r"golden\.jsonl: line 2: give 'expected_ids' or 'expected_texts'"):
        client.predict(handle_file(str(bad)), *WHERE, api_name="/retrieval_eval")
    with pytest.raises(AppError, match="Choose a golden file"):
        client.predict(None, *WHERE, api_name="/retrieval_eval")
    with pytest.raises(AppError, match="Choose a character"):
        client.predict(handle_file(str(EXAMPLE)), "", "", "", api_name="/retrieval_eval")
    with pytest.raises(AppError, match="library 'nothing-here' not found"):
        client.predict(handle_file(str(EXAMPLE)), "alice", "mia", "nothing-here", api_name="/retrieval_eval")


def test_a_sandbox_visitor_searches_only_their_own_libraries(tmp_path: Path) -> None:
    with served(settings_in(tmp_path, MEMTUNE_PUBLIC="true"), public=True) as url:
        visitor = Client(url, verbose=False)
        try:
            with pytest.raises(AppError, match="library 'facts' not found"):
                visitor.predict(handle_file(str(EXAMPLE)), *WHERE, api_name="/retrieval_eval")  # alice's, not theirs
        finally:
            visitor.close()


def test_behind_the_same_credentials_as_every_route(tmp_path: Path) -> None:
    token = "golden-token-for-tests"
    settings = settings_in(tmp_path, MEMTUNE_API_TOKEN=token, MEMTUNE_EMBEDDER="none")
    app, engine = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning",
                                          timeout_graceful_shutdown=1))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.config.port}/"
    try:
        wait_for(url)
        anonymous = httpx.post(f"{url}gradio_api/call/retrieval_eval", json={"data": [None, "default", "demo", "demo"]})
        assert anonymous.status_code == 401
        operator = Client(url, auth=("anyone", token), verbose=False)
        try:
            scores, *_, status = operator.predict(handle_file(str(EXAMPLE)), "default", "demo", "demo",
                                                  api_name="/retrieval_eval")  # fmt: skip
        finally:
            operator.close()
        assert [row[0] for row in scores["data"]] == ["bm25"] and "dense, fusion need an embedder" in status
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        engine.close()
        gc.collect()
