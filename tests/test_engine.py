"""One call per turn: decide, recall, inject, reply, write, summarise, all visible in the trace."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from fakes import ScriptedChatModel, failing, slow

from memory_core import (
    ChatMessage,
    MemoryEngine,
    NewItem,
    ProviderError,
    RecallDecider,
    Scope,
    SQLiteStore,
    Tuning,
    build_engine,
    load_settings,
)
from memory_core.decide.decider import LLMJudge
from memory_core.models import MemoryItem
from memory_core.providers.mem0_store import Mem0Store
from memory_core.recall.lexical import BM25Retriever
from memory_core.stages import NOTHING_TO_SUMMARISE, SUPERSEDED_SLACK, mem0_search

Factory = Callable[..., MemoryEngine]


def seed(store: SQLiteStore, scope: Scope) -> None:
    store.ensure_library(scope)
    store.add_items(
        scope,
        [
            NewItem("我喜欢喝乌龙茶，不加糖", "preference", "user_preference"),
            NewItem("我妹妹叫安娜，住在里斯本", "fact", "entity_relation"),
            NewItem("146服务器是测试环境，密钥在保险箱", "fact"),
        ],
    )


def test_a_recalled_turn_is_fully_traced(engine_factory: Factory, store: SQLiteStore, scope: Scope) -> None:
    seed(store, scope)
    engine = engine_factory()
    session = engine.open_session(scope, persona="你是米娅。", enabled=True)
    trace = engine.run_turn(session, "还记得我喜欢喝什么茶吗")

    assert trace.decision is not None and trace.decision.should_recall
    assert trace.decision.decided_by == "rule"
    assert trace.query == "还记得我喜欢喝什么茶吗"
    assert trace.hits[0].item.text == "我喜欢喝乌龙茶，不加糖"
    top = trace.hits[0]
    assert top.score == top.bm25 + top.entity_boost + top.name_boost + top.category_boost
    assert top.category_boost == 1.0  # a user_preference memory for a preference_context decision
    assert trace.memory_block.startswith("Relevant user memories:\n\nPreferences:\n- 我喜欢喝乌龙茶，不加糖")
    assert trace.messages[0].content == "你是米娅。"
    assert trace.messages[trace.block_index].content.endswith("Current user message:\n还记得我喜欢喝什么茶吗")
    assert trace.reply_by == "offline"
    assert trace.reply_note == "离线回复 · 未配置对话模型" and not trace.reply.startswith("[")
    assert trace.reply.startswith("你喜欢喝乌龙茶，不加糖，对吧？")
    assert trace.write is not None
    assert trace.write.decision.reason == "memory_check_question"  # asking about memory is not written
    assert [t.stage for t in trace.timings] == ["decide", "recall", "inject", "reply", "write", "summary"]
    assert session.history[-2].content == "还记得我喜欢喝什么茶吗"  # history keeps the original text
    assert trace.to_dict()["hits"][0]["item"]["text"] == "我喜欢喝乌龙茶，不加糖"


def test_a_declaration_is_written_and_then_recalled(engine_factory: Factory, scope: Scope) -> None:
    engine = engine_factory()
    session = engine.open_session(scope, enabled=True)
    first = engine.run_turn(session, "我的名字是小张，以后叫我小张就行")
    assert first.write is not None and first.write.write_action == "direct_write"
    (written,) = first.write.written
    assert written.metadata["write_action"] == "direct_write"
    second = engine.run_turn(session, "我叫什么名字？")
    assert second.hits[0].item.id == written.id
    assert second.hits[0].name_boost == 5.0


def test_chat_model_reply_uses_the_injected_messages(engine_factory: Factory, store: SQLiteStore, scope: Scope) -> None:
    seed(store, scope)
    model = ScriptedChatModel("安娜住在里斯本。")
    engine = engine_factory(chat_model=model)
    session = engine.open_session(scope, enabled=True)
    trace = engine.run_turn(session, "我妹妹叫什么，住在哪里来着？")
    assert (trace.reply, trace.reply_by) == ("安娜住在里斯本。", "llm")
    assert model.calls[0] == list(trace.messages)
    assert "我妹妹叫安娜" in model.calls[0][-1].content


def test_a_failing_chat_model_still_answers_and_keeps_the_turn(engine_factory: Factory, scope: Scope) -> None:
    engine = engine_factory(chat_model=ScriptedChatModel(failing(ProviderError("endpoint down"))))
    session = engine.open_session(scope, enabled=True)
    trace = engine.run_turn(session, "I prefer short answers without emoji")
    assert trace.reply_by == "offline"
    assert trace.errors == ("reply failed: ProviderError: endpoint down",)
    assert trace.write is not None and len(trace.write.written) == 1


def test_memory_off_means_no_recall_and_no_write(engine_factory: Factory, store: SQLiteStore, scope: Scope) -> None:
    seed(store, scope)
    engine = engine_factory()
    session = engine.open_session(scope, enabled=False)
    trace = engine.run_turn(session, "I prefer short answers, remember that")
    assert (trace.enabled, trace.decision, trace.hits, trace.write) == (False, None, (), None)
    assert "off" in trace.recall_note
    assert store.get_library(scope).memory_count == 3


def test_provider_none_chats_without_memory(tmp_path: Path, scope: Scope) -> None:
    engine = build_engine(load_settings({"OPENTALKING_MEMORY_PROVIDER": "none"}))
    session = engine.open_session(scope, enabled=True)
    trace = engine.run_turn(session, "继续上次的话题")
    assert trace.enabled is False
    assert "none" in trace.recall_note
    assert trace.reply_by == "offline"
    engine.close()
    assert not (tmp_path / "data").exists()


def test_mem0_backend_without_mem0_recalls_nothing_and_says_so(engine_factory: Factory, scope: Scope) -> None:
    engine = engine_factory()
    session = engine.open_session(scope, enabled=True, tuning=Tuning(recall_backend="mem0", write_mode="mem0"))
    trace = engine.run_turn(session, "继续上次的话题，我喜欢短一点的回答")
    assert trace.hits == ()
    assert "mem0" in trace.recall_note
    assert trace.write is not None and trace.write.written == () and "mem0" in trace.write.note


def test_pipecat_injection_style(engine_factory: Factory, store: SQLiteStore, scope: Scope) -> None:
    seed(store, scope)
    engine = engine_factory()
    session = engine.open_session(scope, persona="persona", enabled=True, tuning=Tuning(injection_style="pipecat"))
    engine.run_turn(session, "我妹妹叫什么来着")
    trace = engine.run_turn(session, "还记得我喜欢喝什么茶吗")
    blocks = [m for m in trace.messages if m.content.startswith("Based on previous conversations")]
    assert len(blocks) == 1 and trace.block_index == 1
    assert trace.messages[1] == ChatMessage("developer", trace.memory_block)
    assert trace.memory_block.endswith("\n\n")
    assert trace.messages[-1].content == "还记得我喜欢喝什么茶吗"


def test_by_default_each_turn_replaces_the_pipecat_block(
    engine_factory: Factory, store: SQLiteStore, scope: Scope
) -> None:
    seed(store, scope)
    engine = engine_factory()
    tuning = Tuning(injection_style="pipecat", decision_mode="always", pipecat_add_as_system_message=False)
    session = engine.open_session(scope, persona="persona", enabled=True, tuning=tuning)
    traces = [engine.run_turn(session, text) for text in ("乌龙茶", "安娜住在哪里", "乌龙茶")]
    for trace in traces:
        blocks = [m for m in trace.messages if m.content.startswith(tuning.pipecat_system_prompt)]
        assert blocks == [ChatMessage("user", trace.memory_block)] and trace.block_index == 1
    assert len(traces[2].messages) == 1 + 5 + 1  # persona, two exchanges, the message; one block
    assert traces[2].memory_block.startswith(tuning.pipecat_system_prompt + "1. 我喜欢喝乌龙茶，不加糖\n\n")
    assert session.pipecat_blocks == [] and session.last_query is None  # replacement keeps nothing


def test_pile_up_keeps_every_block_and_skips_a_repeated_query(
    engine_factory: Factory, store: SQLiteStore, scope: Scope
) -> None:
    seed(store, scope)
    engine = engine_factory()
    tuning = Tuning(injection_style="pipecat", decision_mode="always", pipecat_pile_up=True)
    session = engine.open_session(scope, persona="persona", enabled=True, tuning=tuning)
    first = engine.run_turn(session, "乌龙茶")
    second = engine.run_turn(session, "乌龙茶")
    third = engine.run_turn(session, "安娜住在哪里")
    assert first.block_index == 1 and first.hits
    assert (second.hits, second.memory_block, second.block_index) == ((), "", -1)
    assert second.query == "乌龙茶" and "not searched again" in second.recall_note
    assert second.messages[1] == first.messages[1]  # the earlier block stays where it went
    roles = [m.role for m in third.messages]
    assert roles == ["system", "developer", "developer", "user", "assistant", "user", "assistant", "user"]
    assert third.messages[1].content == third.memory_block and third.messages[2] == first.messages[1]
    assert [b.message for b in session.pipecat_blocks] == [first.messages[1], third.messages[1]]
    assert session.last_query == "安娜住在哪里"


def test_reply_without_memory_leaves_out_piled_up_blocks(
    engine_factory: Factory, store: SQLiteStore, scope: Scope
) -> None:
    seed(store, scope)
    model = ScriptedChatModel("first", "without")
    engine = engine_factory(chat_model=model)
    tuning = Tuning(injection_style="pipecat", decision_mode="always", pipecat_pile_up=True)
    session = engine.open_session(scope, persona="persona", enabled=True, tuning=tuning)
    engine.run_turn(session, "乌龙茶")
    assert engine.reply_without_memory(session, "安娜住在哪里") == "without"
    assert [m.role for m in model.calls[-1]] == ["system", "user", "assistant", "user"]


class RecordingMem0:
    """A Mem0 backend's search, answered from fixed rows; records what it was asked for."""

    def __init__(self, rows: list[dict[str, object]]) -> None:
        self.rows = rows
        self.top_k: list[int] = []

    def search(self, scope: Scope, query: str, *, top_k: int, threshold: float, timeout_ms: int | None = None
               ) -> list[dict[str, object]]:  # fmt: skip
        self.top_k.append(top_k)
        return self.rows[:top_k]

    def close(self) -> None:
        pass


def test_the_pipecat_style_asks_mem0_for_exactly_the_limit(tmp_path: Path, scope: Scope) -> None:
    rows = [{"id": f"m{n}", "memory": f"memory {n}", "score": 0.9, "metadata": {}} for n in range(12)]
    backend = RecordingMem0(rows)
    with Mem0Store(tmp_path / "catalogue.sqlite3", backend) as store:  # type: ignore[arg-type]
        store.ensure_library(scope)
        decision = RecallDecider().decide("memory", mode="always")
        pipecat = mem0_search(store, scope, decision, Tuning(injection_style="pipecat", recall_limit=3))
        ours = mem0_search(store, scope, decision, Tuning(recall_limit=3))
    assert backend.top_k == [3, 3 + SUPERSEDED_SLACK]
    assert [h.item.text for h in pipecat] == [h.item.text for h in ours] == ["memory 0", "memory 1", "memory 2"]


def test_summary_window_and_session_end_flush(engine_factory: Factory, store: SQLiteStore, scope: Scope) -> None:
    engine = engine_factory()
    session = engine.open_session(scope, enabled=True, tuning=Tuning(summary_turn_window=3, summary_max_items=2))
    lines = ["我喜欢喝乌龙茶", "我在准备雅思考试", "我妹妹叫安娜", "周末想去爬山放松一下", "你好"]
    traces = [engine.run_turn(session, line) for line in lines]
    window = traces[2].summary
    assert window is not None and window.trigger == "window" and window.by == "fallback"
    assert window.text == "我喜欢喝乌龙茶\n我在准备雅思考试"
    assert window.item is not None and window.item.type == "summary"
    assert window.item.metadata["turn_count"] == 3
    assert traces[4].summary_pending == 1  # "你好" is low value and not buffered
    flushed = engine.end_session(session)
    assert flushed is not None and flushed.trigger == "session_end"
    assert flushed.text == "周末想去爬山放松一下"
    summaries = [i for i in store.iter_items(scope) if i.type == "summary"]
    assert len(summaries) == 2
    assert session.summary_window == []


def test_a_window_with_nothing_lasting_writes_no_summary_and_says_so(
    engine_factory: Factory, store: SQLiteStore, scope: Scope
) -> None:
    engine = engine_factory()
    session = engine.open_session(scope, enabled=True)
    session.summary_window.extend([("What's the capital of Peru?", "Lima"), ("thanks!", "any time")])
    record = engine.end_session(session)
    assert record is not None and (record.item, record.note) == (None, NOTHING_TO_SUMMARISE)
    assert [i for i in store.iter_items(scope) if i.type == "summary"] == []
    assert session.summary_window == []


class FlakyStore(SQLiteStore):
    """A real store whose writes can be made to fail, as a full disk would."""

    broken = False

    def add_items(self, scope: Scope, items: Sequence[NewItem], **kwargs: object) -> tuple[MemoryItem, ...]:
        if self.broken:
            raise ProviderError("disk I/O error")
        return super().add_items(scope, items, **kwargs)  # type: ignore[arg-type]


def test_store_failure_keeps_the_turn_and_retries(tmp_path: Path, scope: Scope) -> None:
    with FlakyStore(tmp_path / "flaky.sqlite3") as store:
        engine = MemoryEngine(store, BM25Retriever(store), settings=load_settings({}))
        session = engine.open_session(scope, enabled=True)
        store.broken = True
        trace = engine.run_turn(session, "我的目标是今年跑完一次全马")
        assert trace.write is not None and trace.write.error.startswith("write failed: ProviderError")
        # the user still got an answer
        assert (trace.reply, trace.reply_by) == (
            "我想你还没跟我说过这件事——能告诉我吗？",
            "offline",
        )
        assert len(session.pending_writes) == 1
        store.broken = False
        engine.run_turn(session, "我喜欢在早上跑步")
        texts = {i.text for i in store.iter_items(scope)}
        assert {"我的目标是今年跑完一次全马", "我喜欢在早上跑步"} <= texts
        assert session.pending_writes == []


def test_import_turns_classifies_and_stores(engine_factory: Factory, store: SQLiteStore, scope: Scope) -> None:
    store.ensure_library(scope)
    engine = engine_factory()
    written = engine.import_turns(
        scope, [("user", "我喜欢简洁一点的回答"), ("assistant", "好"), ("user", "嗯")], source="api"
    )
    assert [(i.text, i.category, i.type) for i in written] == [
        ("我喜欢简洁一点的回答", "user_preference", "preference")
    ]


@pytest.mark.parametrize("provider", ["memory", "sqlite"])
def test_build_engine_providers(provider: str, tmp_path: Path, scope: Scope) -> None:
    engine = build_engine(load_settings({"OPENTALKING_MEMORY_PROVIDER": provider, "MEMTUNE_DATA_DIR": str(tmp_path)}))
    session = engine.open_session(scope, enabled=True)
    engine.run_turn(session, "I prefer tea over coffee")
    assert engine.store is not None and engine.store.get_library(scope).memory_count == 1
    engine.close()
    assert (tmp_path / "opentalking_memory.sqlite3").exists() == (provider == "sqlite")


def test_decision_categories_steer_the_ranking(store: SQLiteStore, scope: Scope) -> None:
    store.ensure_library(scope)
    store.add_items(
        scope,
        [NewItem("周末 爬山 计划", "note", "decision_plan"), NewItem("周末 爬山 计划", "note", "user_preference")],
    )
    retriever = BM25Retriever(store)
    plain = retriever.search(scope, "周末爬山", limit=2, min_score=0.0)
    assert plain[0].bm25 == plain[1].bm25 and plain[0].category_boost == 0.0
    steered = retriever.search(scope, "周末爬山", limit=1, min_score=0.0, categories=("user_preference",))
    assert steered[0].item.category == "user_preference"
    assert steered[0].score == steered[0].bm25 + 1.0
    off = retriever.search(scope, "周末爬山", limit=2, min_score=0.0, categories=("user_preference",), category_boost=0)
    assert [h.category_boost for h in off] == [0.0, 0.0]


JUDGE_YES = '{"should_recall": true, "query": "tea", "reason": "scripted", "categories": []}'


def test_the_judge_is_cut_at_the_sessions_decision_timeout(engine_factory: Factory, scope: Scope) -> None:
    judge = ScriptedChatModel(slow(0.3, JUDGE_YES))
    engine = engine_factory(decider=RecallDecider(LLMJudge(judge)))  # the settings' timeout is 2000 ms
    session = engine.open_session(scope, enabled=True, tuning=Tuning(decision_mode="llm", decision_timeout_ms=50))
    trace = engine.run_turn(session, "介绍一下这个项目？")
    assert trace.decision is not None and len(judge.calls) == 1
    assert (trace.decision.decided_by, trace.decision.fallback_reason) == ("fallback_rule", "timeout after 50 ms")


def test_a_generous_session_timeout_waits_for_the_judge(engine_factory: Factory, scope: Scope) -> None:
    judge = ScriptedChatModel(slow(0.2, JUDGE_YES))
    settings = load_settings({"OPENTALKING_MEMORY_DECISION_TIMEOUT_MS": "50"})
    engine = engine_factory(decider=RecallDecider(LLMJudge(judge)), settings=settings)
    session = engine.open_session(scope, enabled=True, tuning=Tuning(decision_mode="llm", decision_timeout_ms=5000))
    trace = engine.run_turn(session, "介绍一下这个项目？")
    assert trace.decision is not None
    assert (trace.decision.decided_by, trace.decision.should_recall, trace.query) == ("llm", True, "tea")
