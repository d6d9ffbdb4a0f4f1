"""Formatting for the console and the CLI: titles, tables, highlighted prompts, snippets."""

from __future__ import annotations

from collections.abc import Callable

from memory_core import MemoryEngine, NewItem, Scope, SQLiteStore, Tuning, load_settings
from memory_core.views import (
    decision_details,
    decision_title,
    env_snippet,
    hit_rows,
    message_spans,
    pipecat_snippet,
    score_bars,
    summary_state,
    threshold_of,
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

    assert decision_title(trace.decision, len(trace.hits)) == "Recalled 1 memory · preference_context · rule"
    assert "我喜欢喝乌龙茶" in decision_details(trace)
    assert hit_rows(trace.hits)[0][:5] == [1, trace.hits[0].item.id, "我喜欢喝乌龙茶", "user_preference", "bm25"]
    bars = score_bars(trace.hits, 0.5)
    assert bars[-1] == {"memory": "threshold (min_score 0.5)", "score": 0.5, "kind": "threshold"}
    spans = message_spans(trace.messages, trace.memory_block, trace.block_index)
    assert (trace.memory_block, "memory") in spans
    assert "".join(text for text, _ in spans).count("还记得我喜欢喝什么茶吗") == 1
    assert write_summary(trace.write) == "**Not written** · `memory_check_question`"
    assert summary_state(trace).startswith("0 of 8 turns")
    assert turn_label(trace) == "Turn 1: 还记得我喜欢喝什么茶吗"


def test_no_recall_and_memory_off_titles(engine_factory: Factory, scope: Scope) -> None:
    engine = engine_factory()
    off = engine.run_turn(engine.open_session(scope, enabled=False), "hello there, how are you today")
    assert decision_title(off.decision, 0) == "Memory off: no recall, no write"
    assert write_summary(off.write).startswith("No write")
    on = engine.run_turn(engine.open_session(scope, enabled=True, tuning=Tuning(decision_mode="hybrid")), "介绍一下")
    assert decision_title(on.decision, 0) == "No recall · no_marker · fallback_rule (llm_unavailable)"


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
