"""The Pipecat style with pile-up against pipecat-ai's own Mem0MemoryService on a real LLMContext.

Each turn runs through our engine (decision "always", Pipecat injection, pile-up), then through Pipecat's
`_enhance_context_with_memories` on a live `LLMContext`, whose Mem0 search returns what our turn recalled.
The messages our turn would send must equal the context's list, turn by turn, byte for byte.
"""

from __future__ import annotations

import asyncio
import importlib.util
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mem0_platform import PlatformServer

from memory_core import MemoryEngine, NewItem, Scope, SQLiteStore, Tuning
from memory_core.prompts import persona_system

pytest.importorskip("pipecat", reason="pipecat-ai is not installed: nothing to compare the Pipecat style with")
if importlib.util.find_spec("mem0") is None:  # looked up, not imported: mem0 reads its telemetry switch at import
    pytest.skip("mem0ai is not installed: Pipecat's Mem0 service imports it", allow_module_level=True)

PERSONA = "你是米娅。"


def pipecat_classes() -> tuple[Any, Any]:
    """Pipecat's LLMContext and Mem0MemoryService (its audio utilities import the deprecated `audioop`)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
        from pipecat.processors.aggregators.llm_context import LLMContext
        from pipecat.services.mem0.memory import Mem0MemoryService
    return LLMContext, Mem0MemoryService


class ServedMemories:
    """Mem0's search as Pipecat's service calls the platform client, answered from each query's memories."""

    def __init__(self) -> None:
        self.memories: dict[str, list[str]] = {}
        self.calls: list[dict[str, Any]] = []

    def search(self, **call: Any) -> dict[str, Any]:
        self.calls.append(call)
        return {"results": [{"id": str(n), "memory": text} for n, text in enumerate(self.memories[call["query"]])]}


@pytest.fixture
def pipecat_service(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Callable[[Tuning], Any]]:
    """Pipecat's service with the tuning's InputParams, built against a local platform (its client pings it)."""
    for name, value in {"MEM0_TELEMETRY": "False", "MEM0_DIR": str(tmp_path / "mem0"), "HF_HUB_OFFLINE": "1"}.items():
        monkeypatch.setenv(name, value)
    _, Mem0MemoryService = pipecat_classes()
    with PlatformServer() as platform:

        def build(tuning: Tuning) -> Any:
            params = Mem0MemoryService.InputParams(
                search_limit=tuning.recall_limit, search_threshold=tuning.mem0_threshold,
                system_prompt=tuning.pipecat_system_prompt, position=tuning.pipecat_position,
                add_as_system_message=tuning.pipecat_add_as_system_message,
            )  # fmt: skip
            service = Mem0MemoryService(api_key=platform.key, host=platform.host, user_id="alice", params=params)
            service.memory_client = ServedMemories()
            return service

        yield build


def seed(store: SQLiteStore, scope: Scope) -> None:
    store.ensure_library(scope)
    store.add_items(scope, [NewItem("我喜欢喝乌龙茶，不加糖", "preference", "user_preference"),
                            NewItem("我妹妹叫安娜，住在里斯本", "fact", "entity_relation"),
                            NewItem("安娜也喜欢喝茶", "fact", "entity_relation")])  # fmt: skip


def latest_user_text(messages: list[Any]) -> str | None:
    """The query Pipecat's `process_frame` picks: the newest user message whose content is a string."""
    for message in reversed(messages):
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            return str(message["content"])
    return None


TURNS = ("乌龙茶", "乌龙茶", "hello there", "安娜住在哪里", "安娜喜欢喝什么茶")


@pytest.mark.parametrize(("position", "as_system"), [(1, True), (0, False), (2, True), (99, False)])
def test_pile_up_equals_pipecats_live_context_turn_by_turn(
    engine_factory: Callable[..., MemoryEngine],
    store: SQLiteStore,
    scope: Scope,
    pipecat_service: Callable[[Tuning], Any],
    position: int,
    as_system: bool,
) -> None:
    LLMContext, _ = pipecat_classes()
    seed(store, scope)
    tuning = Tuning(injection_style="pipecat", decision_mode="always", pipecat_pile_up=True, memory_token_budget=0,
                    pipecat_position=position, pipecat_add_as_system_message=as_system)  # fmt: skip
    engine = engine_factory()
    session = engine.open_session(scope, persona=PERSONA, enabled=True, tuning=tuning)
    service = pipecat_service(tuning)
    context = LLMContext(messages=[{"role": "system", "content": persona_system(PERSONA, "")}])
    inserted = 0
    for text in TURNS:
        trace = engine.run_turn(session, text)
        service.memory_client.memories.setdefault(text, [hit.item.text for hit in trace.hits])
        context.add_message({"role": "user", "content": text})
        query = latest_user_text(context.get_messages())
        assert query == text == trace.query
        asyncio.run(service._enhance_context_with_memories(context, query))
        assert [m.to_dict() for m in trace.messages] == context.get_messages()
        inserted += trace.block_index >= 0
        context.add_message({"role": "assistant", "content": trace.reply})
    searched = [call["query"] for call in service.memory_client.calls]
    assert searched == ["乌龙茶", "hello there", "安娜住在哪里", "安娜喜欢喝什么茶"]  # the repeat is not searched
    assert {call["top_k"] for call in service.memory_client.calls} == {tuning.recall_limit}
    assert 2 <= inserted == len(session.pipecat_blocks) < len(searched)  # nothing found, nothing inserted


def test_a_repeated_query_searches_and_inserts_nothing_as_in_pipecat(
    engine_factory: Callable[..., MemoryEngine], store: SQLiteStore, scope: Scope
) -> None:
    seed(store, scope)
    tuning = Tuning(injection_style="pipecat", decision_mode="always", pipecat_pile_up=True)
    engine = engine_factory()
    session = engine.open_session(scope, enabled=True, tuning=tuning)
    first, again = engine.run_turn(session, "乌龙茶"), engine.run_turn(session, "乌龙茶")
    assert first.timing("recall") > 0 and again.timing("recall") == 0  # no search at all
    assert (again.hits, again.block_index) == ((), -1)
    assert again.messages[:2] == first.messages  # the first block stays after the first message
    session.tuning = Tuning(injection_style="pipecat", decision_mode="always")
    replaced = engine.run_turn(session, "乌龙茶")  # without pile-up every turn searches, and replaces the block
    assert replaced.hits and replaced.block_index == 1
    assert [m.role for m in replaced.messages] == ["user", "developer", "assistant", "user", "assistant", "user"]
