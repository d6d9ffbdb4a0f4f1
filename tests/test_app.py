"""`python app.py`: UI and REST API from one process, the seed's own verification, and the UI login."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app import create_app
from memory_core import load_settings

# Gradio's mounted app leaves sockets and event loops for the garbage collector; not our resources.
pytestmark = [
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning", "ignore::ResourceWarning"),
    pytest.mark.usefixtures("collect_garbage"),
]


def test_the_seed_verification_against_python_app(app_url: str) -> None:
    """The seed's curl sequence, as written, over real HTTP."""
    created = httpx.post(app_url + "memory/libraries", json={"id": "default", "name": "Default",
                                                             "character_id": "demo-avatar"})  # fmt: skip
    assert created.status_code == 200 and created.json()["id"] == "default"
    turns = [{"role": "user", "content": "Remember that I prefer concise answers."}]
    imported = httpx.post(app_url + "memory/libraries/default/import",
                          json={"profile_id": "default", "character_id": "demo-avatar", "turns": turns})  # fmt: skip
    assert imported.json() == {"imported": 1}
    items = httpx.get(app_url + "memory/libraries/default/items",
                      params={"profile_id": "default", "character_id": "demo-avatar"}).json()["items"]  # fmt: skip
    assert [item["text"] for item in items] == ["Remember that I prefer concise answers."]


def test_one_process_serves_ui_docs_and_api(app_url: str) -> None:
    assert httpx.get(app_url).status_code == 200
    assert httpx.get(app_url + "docs").status_code == 200
    paths = httpx.get(app_url + "openapi.json").json()["paths"]
    assert "/memory/libraries" in paths and "/memory/recall" in paths
    demo = httpx.get(app_url + "memory/libraries", params={"character_id": "demo"}).json()["items"]
    assert [library["id"] for library in demo] == ["demo"]  # the demo library is seeded on first start


def test_ui_login_when_auth_is_set(tmp_path: Path) -> None:
    settings = load_settings({"MEMTUNE_DATA_DIR": str(tmp_path), "MEMTUNE_AUTH": "ana:secret", "MEMTUNE_DEMO": "false"})
    app, engine = create_app(settings)
    with TestClient(app) as client:
        assert client.get("/config").status_code == 401
        assert client.post("/login", data={"username": "ana", "password": "wrong"}).status_code == 400
        assert client.post("/login", data={"username": "ana", "password": "secret"}).status_code == 200
        assert client.get("/config").status_code == 200
    assert engine.store is not None and engine.store.list_characters() == ()  # MEMTUNE_DEMO=false seeds nothing
    engine.close()


def test_open_mode_listens_on_loopback_only_and_says_so(app_url: str, app_data: Path) -> None:
    assert httpx.get(f"{app_url}memory/libraries?character_id=demo", timeout=5).status_code == 200
    log = (app_data / "app.log").read_text()
    assert "Access: open" in log and "http://127.0.0.1:" in log and "0.0.0.0" not in log
