"""Formatting for the console and the CLI: titles, tables, highlighted prompts, snippets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from console.chat_handlers import chat_messages
from memory_core import (
    MemoryEngine,
    MemoryItem,
    NewItem,
    ProviderError,
    Scope,
    SQLiteStore,
    Trace,
    Tuning,
    load_settings,
)
from memory_core.eval.compare import compare_message
from memory_core.recall.lexical import BM25Retriever
from memory_core.views import (
    comparison_markdown,
    decision_details,
    decision_title,
    env_snippet,
    hit_rows,
    message_spans,
    pipecat_snippet,
    query_line,
    score_bars,
    summary_state,
    threshold_label,
    threshold_of,
    trouble_line,
    turn_label,
    write_summary,
)

Factory = Callable[..., MemoryEngine]


def test_trace_views(engine_factory: Factory, store: SQLiteStore, scope: Scope) -> None:
    store.ensure_library(scope)
    store.add_items(scope, [NewItem("我喜欢喝乌龙茶", "preference", "user_preference")])
    engine = engine_factory()
    session = engine.open_session(scope, persona="You are Mia.", enabled=True)
    trace = engine.run_turn(session, "还记得我喜欢喝什么茶吗")

    assert decision_title(trace.decision, len(trace.hits)) == "Recalled 1 memory"
    assert "我喜欢喝乌龙茶" in decision_details(trace) and "reason `preference_context`" in decision_details(trace)
    assert hit_rows(trace.hits)[0][:5] == [1, trace.hits[0].item.id, "我喜欢喝乌龙茶", "user_preference", "bm25"]
    bars = score_bars(trace.hits, 0.5)
    assert bars[-1] == {"memory": "threshold 0.5", "score": 0.5, "kind": "threshold"}
    spans = message_spans(trace.messages, trace.memory_block, trace.block_index)
    assert (trace.memory_block, "memory") in spans
    assert "".join(text for text, _ in spans).count("还记得我喜欢喝什么茶吗") == 1
    assert write_summary(trace.write) == "**Not written** · `memory_check_question`"
    assert summary_state(trace).startswith("0 of 8 turns")
    assert turn_label(trace) == "Turn 1: 还记得我喜欢喝什么茶吗"


def test_no_recall_and_memory_off_titles(engine_factory: Factory, scope: Scope) -> None:
    engine = engine_factory()
    off = engine.run_turn(engine.open_session(scope, enabled=False), "hello there, how are you today")
    assert decision_title(off.decision, 0) == "Memory off: nothing recalled or written"
    assert write_summary(off.write).startswith("No write")
    on = engine.run_turn(engine.open_session(scope, enabled=True, tuning=Tuning(decision_mode="hybrid")), "介绍一下")
    assert decision_title(on.decision, 0) == "No recall: nothing in the message is about the user"
    assert "`fallback_rule` (fallback: llm_unavailable)" in decision_details(on)
    assert "No search ran" in decision_details(on) and "No search ran" in decision_details(off)


def test_snippets_round_trip_to_settings() -> None:
    tuning = Tuning(recall_limit=7, injection_style="pipecat", pipecat_position=2, mem0_threshold=0.3)
    env = env_snippet(tuning)
    assert "OPENTALKING_MEMORY_RECALL_LIMIT=7" in env.splitlines()
    parsed = {}
    for line in env.splitlines():
        key, value = line.split("=", 1)
        parsed[key] = value.strip('"').replace("\\n", "\n")
    assert load_settings(parsed).tuning() == tuning
    assert pipecat_snippet(tuning) == (
        "Mem0MemoryService.InputParams(\n"
        "    search_limit=7,\n"
        "    search_threshold=0.3,\n"
        '    system_prompt="Based on previous conversations, I recall: \\n\\n",\n'
        "    add_as_system_message=True,\n"
        "    position=2,\n"
        ")"
    )


def test_threshold_follows_the_method_that_ran() -> None:
    tuning = Tuning(recall_min_score=1.5, fusion_min_score=0.6, mem0_threshold=0.2)
    assert threshold_of((), tuning) == 0.6  # fusion by default
    assert threshold_of((), Tuning(retrieval_method="bm25", recall_min_score=1.5)) == 1.5
    # One threshold per method, named as Settings names it, with its variable: never "min_score" for all.
    assert threshold_label((), tuning) == "Fusion/dense min score 0.6 (MEMTUNE_FUSION_MIN_SCORE)"
    bm25 = Tuning(retrieval_method="bm25", recall_min_score=1.5)
    assert threshold_label((), bm25) == "BM25 min score 1.5 (OPENTALKING_MEMORY_RECALL_MIN_SCORE)"


MARKUP_MEMORIES = [NewItem("<img src=x> I love oolong tea", "preference", "user_preference"),
                   NewItem("![](x) my cat is **Mochi**", "fact", "entity_relation")]  # fmt: skip
MARKUP_QUESTION = "What tea do I like? Do you remember my [cat](x)?"


def test_markup_in_text_is_escaped_for_markdown(engine_factory: Factory, store: SQLiteStore, scope: Scope) -> None:
    store.ensure_library(scope)
    store.add_items(scope, MARKUP_MEMORIES)
    engine = engine_factory()
    session = engine.open_session(scope, persona="You are Mia.", enabled=True, tuning=Tuning(summary_turn_window=1))
    recalled = engine.run_turn(session, MARKUP_QUESTION)
    written = engine.run_turn(session, "I really like <b>green</b> tea with *honey* in the morning")
    comparison = compare_message(engine.decider, MARKUP_QUESTION, tuning=Tuning(), retriever=engine.retriever,
                                 scope=scope)  # fmt: skip

    details = decision_details(recalled)
    assert "&lt;img src=x&gt; I love oolong tea" in details and "!\\[\\](x) my cat is \\*\\*Mochi\\*\\*" in details
    asked = "**Query** What tea do I like? Do you remember my \\[cat\\](x)?"
    assert asked in details and query_line(recalled).startswith(asked + " · backend `hybrid` ·")
    wrote = "I really like &lt;b&gt;green&lt;/b&gt; tea with \\*honey\\* in the morning"
    assert f"- {wrote} (`" in write_summary(written.write)
    assert summary_state(written).endswith(f"(fallback, window): {wrote}")
    columns = [comparison_markdown(outcome, comparison.differences) for outcome in comparison.outcomes]
    assert any("&lt;img src=x&gt; I love oolong tea" in column for column in columns)
    shown = [details, query_line(recalled), write_summary(written.write), summary_state(written), *columns]
    assert not [text for text in shown if "<" in text or "![](x)" in text or "[cat](x)" in text]


def test_chat_messages_show_text_not_markup(engine_factory: Factory, store: SQLiteStore, scope: Scope) -> None:
    store.ensure_library(scope)
    store.add_items(scope, MARKUP_MEMORIES)
    engine = engine_factory()
    trace = engine.run_turn(engine.open_session(scope, enabled=True), MARKUP_QUESTION)
    assert "<img src=x>" in trace.reply  # the Trace keeps the raw text; only its display is escaped
    user, note, reply = chat_messages(trace)
    assert user["content"] == "What tea do I like? Do you remember my \\[cat\\](x)?"
    assert "&lt;img src=x&gt; I love oolong tea" in note["content"] and "&lt;img src=x&gt;" in reply["content"]
    assert note["metadata"]["title"] == "🧠 Recalled 2 memories"
    small_print = "\n\n<sub>offline responder · no chat model configured</sub>"  # the console's own markup
    assert reply["content"].endswith(small_print)
    shown = [user["content"], note["content"], reply["content"].removesuffix(small_print)]
    assert not [text for text in shown if "<" in text or "![](x)" in text]


def test_the_summary_state_says_what_was_left_out_and_a_partial_reply() -> None:
    from dataclasses import replace

    from memory_core.session import SummaryRecord

    base = Trace(session_id="s", turn=1, scope=Scope.of("a", "c"), enabled=True, user_text="hi", decision=None,
                 query="", backend="hybrid", hits=(), recall_note="", memory_block="", injection_style="reference",
                 block_index=0, messages=(), reply="x … [cut off]", reply_by="llm", write=None,
                 summary=SummaryRecord("window", "- a\n- b", "llm", 4, dropped=2), summary_pending=0,
                 summary_window_size=4, timings=(), reply_partial=True)  # fmt: skip
    text = summary_state(base)
    assert "2 more points were left out at the cap" in text and "marked as partial" in text
    assert "left out" not in summary_state(replace(base, summary=None, reply_partial=False))


class FailingWrites(SQLiteStore):
    """A real store whose writes fail, as a database server that went away does."""

    def add_items(self, *args: object, **kwargs: object) -> tuple[MemoryItem, ...]:
        raise ProviderError("PostgreSQL store unreachable at db:5432/memtune: connection refused")


def test_the_chat_says_plainly_that_the_store_failed_and_what_waits(tmp_path: Path, scope: Scope) -> None:
    with FailingWrites(tmp_path / "m.sqlite3") as store:
        engine = MemoryEngine(store, BM25Retriever(store), settings=load_settings({}))
        session = engine.open_session(scope, enabled=True)
        trace = engine.run_turn(session, "我的目标是今年跑完一次全马")
    assert trace.writes_waiting == 1
    reply = chat_messages(trace)[-1]["content"]
    assert reply.endswith(
        "⚠️ **Memory trouble:** write failed: ProviderError: PostgreSQL store unreachable at db:5432/memtune: "
        "connection refused. 1 write of this session is kept and retried at the next turn."
    )


def test_a_turn_without_trouble_says_nothing_of_it(engine_factory: Factory, scope: Scope) -> None:
    trace = engine_factory().run_turn(engine_factory().open_session(scope, enabled=True), "你好")
    assert trouble_line(trace) == "" and "Memory trouble" not in chat_messages(trace)[-1]["content"]
