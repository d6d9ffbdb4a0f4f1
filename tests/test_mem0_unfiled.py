"""Libraries as Mem0 run ids, and the memories outside every library ("unfiled"), through the real mem0ai SDK."""

from __future__ import annotations

import importlib.util
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai_server import OpenAIServer

if importlib.util.find_spec("mem0") is None:
    pytest.skip("mem0ai is not installed (requirements-mem0.txt)", allow_module_level=True)

from memory_core import NewItem, NotFoundError, Scope, SQLiteStore, load_settings
from memory_core.cli import main
from memory_core.providers.mem0_backend import LocalMem0
from memory_core.providers.mem0_store import ADOPTED_FROM, MEM0_ID, OUR_ID, Mem0Store
from memory_core.wiring import open_store

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
TEA, WORK = Scope.of("alice", "mia", "tea"), Scope.of("alice", "mia", "work")


def settings_for(server: OpenAIServer, data: Path) -> dict[str, str]:
    return {"OPENTALKING_MEMORY_PROVIDER": "mem0", "MEMTUNE_DATA_DIR": str(data), "MEMTUNE_EMBEDDER": "none",
            "OPENTALKING_MEMORY_MEM0_EMBEDDER_BASE_URL": server.base_url,
            "OPENTALKING_MEMORY_MEM0_EMBEDDER_EMBEDDING_DIMS": "8"}  # fmt: skip


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer(dims=8) as s:
        yield s


@pytest.fixture
def store(server: OpenAIServer, tmp_path: Path) -> Iterator[Mem0Store]:
    opened = open_store(load_settings(settings_for(server, tmp_path / "data")))
    assert isinstance(opened, Mem0Store)
    yield opened
    opened.close()


def memory_of(store: Mem0Store) -> object:
    assert isinstance(store.backend, LocalMem0)
    return store.backend.memory


def bot_writes(store: Mem0Store, text: str) -> str:
    """What Pipecat's Mem0MemoryService does with the ids of the export minus the library: no run_id."""
    rows = memory_of(store).add(  # type: ignore[attr-defined]
        [{"role": "user", "content": text}], user_id="alice", agent_id="mia", metadata={"platform": "pipecat"},
        infer=False,
    )  # fmt: skip
    return str(rows["results"][0]["id"])


def test_each_library_is_a_run_id_mem0_and_pipecat_can_filter_on(store: Mem0Store) -> None:
    store.add_items(TEA, [NewItem("I drink oolong")], create_library_name="Tea")
    store.add_items(WORK, [NewItem("I work night shifts")], create_library_name="Work")
    tea = memory_of(store).get_all(filters={"user_id": "alice", "agent_id": "mia", "run_id": "tea"})  # type: ignore[attr-defined]
    assert [row["memory"] for row in tea["results"]] == ["I drink oolong"]
    assert tea["results"][0]["run_id"] == "tea"


def test_a_bot_write_is_unfiled_until_adopted(store: Mem0Store) -> None:
    store.add_items(TEA, [NewItem("I drink oolong")], create_library_name="Tea")
    original = bot_writes(store, "User's cat is called Miso")
    (found,) = store.unfiled("alice", "mia")
    assert found.text == "User's cat is called Miso" and found.metadata[MEM0_ID] == original
    assert found.library_id == "" and found.metadata["platform"] == "pipecat"
    assert [i.text for i in store.iter_items(TEA)] == ["I drink oolong"]  # in no library yet

    (adopted,) = store.adopt(TEA, [original])
    assert store.unfiled("alice", "mia") == []
    assert adopted.source == "mem0-adopt" and adopted.metadata["platform"] == "pipecat"
    assert {i.text for i in store.iter_items(TEA)} == {"I drink oolong", "User's cat is called Miso"}
    rows = store.backend.list_all(TEA)
    moved = next(r for r in rows if r["memory"] == "User's cat is called Miso")
    assert moved["run_id"] == "tea" and moved["metadata"][ADOPTED_FROM] == original
    assert moved["metadata"][OUR_ID] == adopted.id and str(moved["id"]) == adopted.metadata[MEM0_ID]
    assert memory_of(store).get(original) is None  # type: ignore[attr-defined]


def test_adopting_an_unknown_id_moves_nothing(store: Mem0Store) -> None:
    store.add_items(TEA, [NewItem("I drink oolong")], create_library_name="Tea")
    kept = bot_writes(store, "User likes jazz")
    with pytest.raises(NotFoundError, match="no-such-id"):
        store.adopt(TEA, [kept, "no-such-id"])
    assert [i.metadata[MEM0_ID] for i in store.unfiled("alice", "mia")] == [kept]
    with pytest.raises(NotFoundError):
        store.adopt(Scope.of("alice", "mia", "missing-library"), [kept])


def test_a_memory_catalogued_before_libraries_were_run_ids_is_refiled_in_mem0(store: Mem0Store) -> None:
    store.ensure_library(TEA)
    old = str(memory_of(store).add(  # type: ignore[attr-defined]
        [{"role": "user", "content": "I drink oolong"}], user_id="alice", agent_id="mia", infer=False,
        metadata={OUR_ID: "old1", "library_id": "tea"},
    )["results"][0]["id"])  # fmt: skip
    SQLiteStore.add_items(store, TEA, [NewItem("I drink oolong", id="old1", metadata={MEM0_ID: old})])
    assert store.backend.list_all(TEA) == []  # Mem0's filters miss it: it has no run_id
    assert [i.id for i in store.unfiled("alice", "mia")] == ["old1"]
    (adopted,) = store.adopt(TEA, [old])
    assert adopted.id == "old1" and len(list(store.iter_items(TEA))) == 1  # the same item, not a copy
    assert [r["memory"] for r in store.backend.list_all(TEA)] == ["I drink oolong"]
    assert store.unfiled("alice", "mia") == []


def test_a_bot_write_into_a_library_is_catalogued_where_it_is(store: Mem0Store) -> None:
    store.ensure_library(TEA)
    row = memory_of(store).add(  # type: ignore[attr-defined]
        [{"role": "user", "content": "User's cat is called Miso"}], user_id="alice", agent_id="mia", run_id="tea",
        metadata={"platform": "pipecat"}, infer=False,
    )["results"][0]  # fmt: skip
    (found,) = store.unfiled("alice", "mia")
    assert found.library_id == "tea"  # written into the library's run_id, but not catalogued yet
    (adopted,) = store.adopt(TEA, [str(row["id"])])
    assert adopted.metadata[MEM0_ID] == str(row["id"])  # nothing rewritten in Mem0
    assert [r["id"] for r in store.backend.list_all(TEA)] == [row["id"]]


def test_the_cli_lists_and_adopts_unfiled_memories(
    server: OpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = settings_for(server, tmp_path / "data")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    store = open_store(load_settings(env))
    assert isinstance(store, Mem0Store)
    store.ensure_library(TEA)
    bot_writes(store, "User's cat is called Miso")
    store.close()
    scope = ["--profile", "alice", "--character", "mia"]
    listed = io.StringIO()
    assert main(["mem0", "unfiled", *scope], out=listed) == 0
    (row,) = [json.loads(line) for line in listed.getvalue().splitlines()]
    assert row["text"] == "User's cat is called Miso"
    assert main(["mem0", "adopt", *scope, "--library", "tea"], out=io.StringIO()) == 2  # neither --ids nor --all
    adopted = io.StringIO()
    assert main(["mem0", "adopt", *scope, "--library", "tea", "--all"], out=adopted) == 0
    assert len(json.loads(adopted.getvalue())["adopted"]) == 1
    again = io.StringIO()
    assert main(["mem0", "unfiled", *scope], out=again) == 0 and again.getvalue() == ""
