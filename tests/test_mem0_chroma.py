"""Mem0 on a real Chroma server (`chroma run`): the config our settings build opens it, two Memory objects and
a second process share one collection (what local Qdrant's folder lock forbids), and our own Mem0 store adds,
searches, edits and deletes on it. Embeddings come from a deterministic embedder served on 127.0.0.1; nothing
inside mem0 or chromadb is patched."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

# Only looked up, not imported: mem0 reads its telemetry switch at import, which the provider sets first.
if importlib.util.find_spec("mem0") is None:
    pytest.skip("mem0ai is not installed (requirements-mem0.txt)", allow_module_level=True)
if importlib.util.find_spec("chromadb") is None:
    pytest.skip("chromadb is not installed (requirements-mem0.txt)", allow_module_level=True)

from chroma_server import ChromaServer, chroma_server_fixture  # noqa: F401  (the `chroma_server` fixture)
from fakes import HashingEmbedder

from memory_core import ConfigurationError, NewItem, Scope, load_settings
from memory_core.providers.embedding_server import EmbeddingServer
from memory_core.providers.mem0_backend import close_memory
from memory_core.providers.mem0_config import MEM0_ENVIRONMENT, build_config, prepare_environment
from memory_core.providers.mem0_store import MEM0_ID, Mem0Store
from memory_core.settings import Settings
from memory_core.wiring import open_store

ROOT = Path(__file__).resolve().parents[1]
DIMS = 64
SCOPE = Scope.of("alice", "mia", "tea")
WRITES_EACH = 10

# A bot in its own process: plain mem0 with a config dict, waiting for "go" so that its writes overlap ours.
BOT = """
import json, sys
connects = []
sys.addaudithook(lambda event, args: connects.append(str(args[1])) if event == "socket.connect" else None)
from mem0 import Memory
memory = Memory.from_config(json.loads(sys.argv[1]))
print("ready", flush=True)
sys.stdin.readline()
errors = 0
for n in range(int(sys.argv[2])):
    try:
        memory.add(f"the bot wrote note {n}", user_id="alice", infer=False)
    except Exception:
        errors += 1
print("written", flush=True)
sys.stdin.readline()
seen = sorted(r["memory"] for r in memory.get_all(filters={"user_id": "alice"}, top_k=1000)["results"])
print(json.dumps({"errors": errors, "seen": seen, "connects": sorted(set(connects))}), flush=True)
"""

# Another process holding local Qdrant's folder, as a running console or bot does.
QDRANT_HOLDER = """
import sys
from qdrant_client import QdrantClient
client = QdrantClient(path=sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
client.close()
"""


@pytest.fixture(scope="module")
def embeddings() -> Iterator[EmbeddingServer]:
    """A deterministic embedder on 127.0.0.1, served as Memtune serves the local one to Mem0."""
    server = EmbeddingServer(HashingEmbedder(dims=DIMS))
    yield server
    server.close()


def chroma_settings(chroma: ChromaServer, data: Path, collection: str) -> Settings:
    return Settings(data_dir=str(data), mem0_vector_store_provider="chroma", mem0_vector_store_host=chroma.host,
                    mem0_vector_store_port=chroma.port, mem0_collection=collection)  # fmt: skip


def mem0_config(chroma: ChromaServer, embeddings: EmbeddingServer, data: Path, collection: str) -> dict[str, Any]:
    return build_config(chroma_settings(chroma, data, collection), embedder_url=embeddings.url, embedder_dims=DIMS)


def new_memory(settings: Settings, config: dict[str, Any]) -> Any:
    """A Memory of its own (not the process's shared one), environment set before mem0 is imported."""
    prepare_environment(settings)
    from mem0 import Memory

    return Memory.from_config(config)


def collection_config(chroma: ChromaServer, name: str) -> dict[str, Any]:
    import chromadb

    client = chromadb.HttpClient(host=chroma.host, port=chroma.port)
    try:
        return dict(client.get_collection(name, embedding_function=None).configuration_json)
    finally:
        client.close()  # chromadb 1.5's close() leaves the HTTP sessions of its two Systems open
        for owner in (client, client.__dict__.get("_admin_client")):
            owner._server._session.close()


def test_the_settings_build_a_chroma_server_config_that_opens_a_memory(
    chroma_server: ChromaServer, embeddings: EmbeddingServer, tmp_path: Path
) -> None:
    settings = chroma_settings(chroma_server, tmp_path, "config_check")
    config = build_config(settings, embedder_url=embeddings.url, embedder_dims=DIMS)
    assert config["vector_store"] == chroma_server.vector_store("config_check")  # no dims, no on_disk, no path
    memory = new_memory(settings, config)
    try:
        memory.add("I prefer oolong tea", user_id="alice", infer=False)
        (hit,) = memory.search("oolong tea", filters={"user_id": "alice"}, threshold=0.0)["results"]
        assert hit["memory"] == "I prefer oolong tea"
    finally:
        close_memory(memory)
    hnsw = collection_config(chroma_server, "config_check")
    # mem0 creates the collection in Chroma's default space, with no embedding function of Chroma's own.
    assert hnsw["hnsw"]["space"] == "l2" and hnsw["embedding_function"] is None


def test_scores_are_one_over_one_plus_the_squared_distance(
    chroma_server: ChromaServer, embeddings: EmbeddingServer, tmp_path: Path
) -> None:
    """On unit vectors that is 1 / (3 - 2 cos): not Qdrant's cosine, so a threshold means something else."""
    settings = chroma_settings(chroma_server, tmp_path, "scores")
    memory = new_memory(settings, build_config(settings, embedder_url=embeddings.url, embedder_dims=DIMS))
    texts = ["I prefer oolong tea", "My dog is a beagle", "My sister lives in Lisbon"]
    try:
        for text in texts:
            memory.add(text, user_id="alice", infer=False)
        rows = memory.search("which tea do I like", filters={"user_id": "alice"}, threshold=0.0, explain=True)
    finally:
        close_memory(memory)
    vectors = HashingEmbedder(dims=DIMS).embed([*texts, "which tea do I like"], kind="query")
    cosines = dict(zip(texts, (vectors[:-1] @ vectors[-1]).tolist(), strict=True))
    for row in rows["results"]:
        expected = 1 / (3 - 2 * cosines[row["memory"]])
        assert row["score_details"]["semantic_score"] == pytest.approx(expected, abs=1e-5)
        assert row["score"] == pytest.approx(expected, abs=1e-5)  # Chroma has no BM25 in mem0: semantic only


def start_bot(config: dict[str, Any], home: Path) -> subprocess.Popen[str]:
    Path(config["history_db_path"]).parent.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEM0_", "OPENTALKING_", "MEMTUNE_"))}
    env.update(MEM0_ENVIRONMENT, MEM0_DIR=str(home.parent / "bot_mem0"), HOME=str(home))
    return subprocess.Popen([sys.executable, "-c", BOT, json.dumps(config), str(WRITES_EACH)], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=home.parent)  # fmt: skip


def send(bot: subprocess.Popen[str]) -> None:
    assert bot.stdin is not None
    bot.stdin.write("\n")
    bot.stdin.flush()


def read(bot: subprocess.Popen[str]) -> str:
    assert bot.stdout is not None
    return bot.stdout.readline().strip()


def write_notes(memory: Any, who: str) -> int:
    errors = 0
    for n in range(WRITES_EACH):
        try:
            memory.add(f"{who} wrote note {n}", user_id="alice", infer=False)
        except Exception:
            errors += 1
    return errors


def test_two_memories_and_another_process_share_one_collection(
    chroma_server: ChromaServer, embeddings: EmbeddingServer, tmp_path: Path
) -> None:
    """What local Qdrant cannot do: several writers at once on one store, each seeing the others' memories."""
    home = tmp_path / "home"
    home.mkdir()
    bot = start_bot(mem0_config(chroma_server, embeddings, tmp_path / "bot", "shared"), home)
    memories = {who: new_memory(chroma_settings(chroma_server, tmp_path / who, "shared"),
                                mem0_config(chroma_server, embeddings, tmp_path / who, "shared"))
                for who in ("console", "tuner")}  # fmt: skip
    try:
        assert read(bot) == "ready"
        send(bot)  # go: the bot writes while the console and the tuner do
        with ThreadPoolExecutor(2) as pool:
            errors = sum(pool.map(lambda who: write_notes(memories[who], who), memories))
        assert errors == 0 and read(bot) == "written"
        send(bot)
        report = json.loads(read(bot))
        writers = ("console", "tuner", "the bot")
        expected = sorted(f"{who} wrote note {n}" for who in writers for n in range(WRITES_EACH))
        assert report["errors"] == 0 and report["seen"] == expected
        for memory in memories.values():
            listed = memory.get_all(filters={"user_id": "alice"}, top_k=1000)["results"]
            assert sorted(r["memory"] for r in listed) == expected
        hits = memories["console"].search("the bot wrote note 7", filters={"user_id": "alice"}, top_k=1)
        assert hits["results"][0]["memory"] == "the bot wrote note 7"
    finally:
        bot.communicate(timeout=30)
        for memory in memories.values():
            close_memory(memory)
    # The bot spoke only to 127.0.0.1 (Chroma and the embedder): no telemetry, no model download for
    # Chroma's default embedding function, and nothing written under its HOME.
    assert {c.split(",")[0] for c in report["connects"]} == {"('127.0.0.1'"}, report["connects"]
    assert bot.returncode == 0 and list(home.iterdir()) == []


def test_our_mem0_store_on_a_chroma_server(chroma_server: ChromaServer, tmp_path: Path) -> None:
    """The wiring's Mem0 store, configured by the split variables only, on the shared server."""
    env = {"OPENTALKING_MEMORY_PROVIDER": "mem0", "MEMTUNE_DATA_DIR": str(tmp_path), "MEMTUNE_EMBEDDER": "none",
           **chroma_server.settings_env("our_store")}  # fmt: skip
    store = open_store(load_settings(env), HashingEmbedder(dims=DIMS))
    assert isinstance(store, Mem0Store)
    try:
        store.ensure_library(SCOPE)
        tea, dog = store.add_items(SCOPE, [NewItem("I prefer green tea"), NewItem("My dog is a beagle")])
        rows = store.backend.search(SCOPE, "green tea", top_k=5, threshold=0.0)
        assert rows[0]["memory"] == "I prefer green tea"
        store.edit_item(SCOPE, tea.id, text="I prefer oolong tea")
        listed = {r["id"]: r["memory"] for r in store.backend.list_all(SCOPE)}
        assert listed == {tea.metadata[MEM0_ID]: "I prefer oolong tea", dog.metadata[MEM0_ID]: "My dog is a beagle"}
        store.delete_item(SCOPE, dog.id)
        assert [r["memory"] for r in store.backend.list_all(SCOPE)] == ["I prefer oolong tea"]
    finally:
        store.close()


# qdrant_client opens the folder's .lock before it finds it taken, and leaves that file to the collector.
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_locked_local_qdrant_folder_says_how_to_share(tmp_path: Path, collect_garbage: None) -> None:
    folder = tmp_path / "mem0_qdrant"
    holder = subprocess.Popen([sys.executable, "-c", QDRANT_HOLDER, str(folder)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        settings = load_settings({"OPENTALKING_MEMORY_PROVIDER": "mem0", "MEMTUNE_DATA_DIR": str(tmp_path)})
        with pytest.raises(ConfigurationError) as raised:
            open_store(settings, HashingEmbedder(dims=DIMS))
    finally:
        holder.communicate("\n", timeout=30)
    message = str(raised.value)
    assert f"the local Qdrant folder {folder} is open in another process" in message
    assert "chroma run --host 127.0.0.1 --port 8000" in message
    assert "OPENTALKING_MEMORY_MEM0_VECTOR_STORE_PROVIDER=chroma" in message
