"""Real chat models: the `openai` client over HTTP against a local OpenAI-compatible server.

Nothing is patched: the server is scripted per test to answer, answer slowly, fail, send malformed
content or stream, and the engine's judge, replies and summaries go through the real client.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai_server import OpenAIServer, Reply, closed_port

from memory_core import (
    LLMConfig,
    MemoryEngine,
    NewItem,
    OpenAIChatModel,
    RecallDecider,
    Scope,
    Tuning,
    build_decider,
    build_engine,
    load_settings,
)
from memory_core.cli import main
from memory_core.decide.decider import LLMJudge

KEY = "sk-test-SECRET-0123456789"


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as s:
        yield s


def model_for(server: OpenAIServer, *, timeout_ms: int = 5000, model: str = "judge-model") -> OpenAIChatModel:
    return OpenAIChatModel(LLMConfig(server.base_url, KEY, model, timeout_ms, 0.0, 256))


@pytest.fixture
def judged(server: OpenAIServer) -> Iterator[RecallDecider]:
    model = model_for(server)
    yield RecallDecider(LLMJudge(model))
    model.close()


def verdict(should_recall: object, query: str = "") -> str:
    return json.dumps({"should_recall": should_recall, "query": query, "reason": "scripted", "categories": []})


def test_hybrid_sends_only_no_marker_inputs_to_the_judge(server: OpenAIServer, judged: RecallDecider) -> None:
    server.script(verdict(True, "project background"))
    for text in ("继续上次的话题", "hi", "在146服务器上执行回滚", "I'm so stressed again"):
        assert judged.decide(text, mode="hybrid").decided_by == "rule"
    ambiguous = judged.decide("介绍一下这个项目？", mode="hybrid")
    assert len(server.chat_requests) == 1
    sent = server.chat_requests[0].body
    assert sent["messages"][-1] == {"role": "user", "content": "<message>\n介绍一下这个项目？\n</message>"}
    assert (sent["model"], sent["temperature"], sent["max_tokens"]) == ("judge-model", 0.0, 256)
    assert sent["stream"] is True and sent["response_format"]["type"] == "json_schema"
    assert (ambiguous.decided_by, ambiguous.should_recall, ambiguous.query) == ("llm", True, "project background")
    call = ambiguous.llm_call
    parsed = {"should_recall": True, "query": "project background", "reason": "scripted", "categories": [], "notes": []}
    assert call is not None and call.purpose == "judge" and call.parsed == parsed
    assert call.prompt_tokens is not None and call.latency_ms > 0


def test_llm_mode_judges_everything_but_hard_rejects(server: OpenAIServer, judged: RecallDecider) -> None:
    server.script(verdict(False), verdict(True))
    positive = judged.decide("继续上次的话题", mode="llm")
    ambiguous = judged.decide("介绍一下这个项目？", mode="llm")
    for text in ("", "你好", "drop table users on prod-db"):
        assert judged.decide(text, mode="llm").decided_by == "rule"
    assert len(server.chat_requests) == 2
    assert (positive.decided_by, positive.should_recall) == ("llm", False)
    assert (ambiguous.decided_by, ambiguous.should_recall) == ("llm", True)


@pytest.mark.parametrize(("answer", "expected"), [("false", False), ("true", True)])
def test_booleans_sent_as_strings_mean_what_they_say(
    server: OpenAIServer, judged: RecallDecider, answer: str, expected: bool
) -> None:
    server.script(verdict(answer))
    assert judged.decide("介绍一下这个项目？", mode="llm").should_recall is expected


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply("I think you should recall"), "unparseable"),
        (Reply(verdict("maybe")), "unparseable"),
        (Reply(raw_body="{not json"), "ProviderError"),
        (Reply('{"choices": "nope"}', raw_body='{"choices": "nope"}'), "ProviderError"),
        (Reply("server exploded", status=500), "InternalServerError"),
    ],
)
def test_bad_answers_fall_back_to_rules(server: OpenAIServer, judged: RecallDecider, reply: Reply, reason: str) -> None:
    server.script(reply)
    decision = judged.decide("继续上次的话题", mode="llm")
    assert decision.decided_by == "fallback_rule"
    assert reason in decision.fallback_reason
    assert decision.should_recall  # the rule result stands: explicit_recall
    assert decision.llm_call is not None and decision.llm_call.error


def test_connection_refused_falls_back() -> None:
    model = OpenAIChatModel(LLMConfig(f"http://127.0.0.1:{closed_port()}/v1", KEY, "m", 2000))
    decision = RecallDecider(LLMJudge(model)).decide("介绍一下这个项目？", mode="hybrid")
    model.close()
    assert decision.decided_by == "fallback_rule" and "APIConnectionError" in decision.fallback_reason


def test_the_timeout_cuts_at_the_bound(server: OpenAIServer, judged: RecallDecider) -> None:
    server.script(Reply(verdict(True), delay_s=3.0))
    decision = judged.decide("介绍一下这个项目？", mode="llm", timeout_ms=300)
    assert decision.fallback_reason == "timeout after 300 ms"
    assert decision.llm_call is not None and decision.llm_call.error == "timeout after 300 ms"
    assert not decision.should_recall  # the late "true" is discarded


@pytest.fixture
def engine(server: OpenAIServer, tmp_path: Path) -> Iterator[MemoryEngine]:
    settings = load_settings({"OPENTALKING_LLM_BASE_URL": server.base_url, "OPENTALKING_LLM_API_KEY": KEY,
                              "OPENTALKING_LLM_MODEL": "reply-model", "MEMTUNE_JUDGE_MODEL": "judge-model",
                              "MEMTUNE_SUMMARY_MODEL": "summary-model", "MEMTUNE_DATA_DIR": str(tmp_path)})  # fmt: skip
    built = build_engine(settings)
    yield built
    built.close()


def by_model(name: str) -> object:
    return lambda body: body.get("model") == name


def test_the_judges_rewritten_query_is_the_one_searched(server: OpenAIServer, engine: MemoryEngine) -> None:
    scope = Scope.of("alice", "mia")
    assert engine.store is not None
    engine.store.ensure_library(scope)
    engine.store.add_items(scope, [NewItem("Answer in short bullet points, no emoji", "preference", "user_preference")])
    server.script_for(by_model("judge-model"), verdict(True, "bullet points emoji answer style"))
    server.script_for(by_model("reply-model"), "- Sure.")
    session = engine.open_session(scope, enabled=True, tuning=Tuning(decision_mode="hybrid"))
    trace = engine.run_turn(session, "can you keep it the way we set up?")
    assert trace.decision is not None and trace.decision.decided_by == "llm"
    assert trace.query == "bullet points emoji answer style"
    assert trace.hits[0].item.text == "Answer in short bullet points, no emoji"
    assert (trace.reply, trace.reply_by) == ("- Sure.", "llm")
    assert [c.purpose for c in trace.llm_calls] == ["judge", "reply"]
    reply_request = next(r for r in server.chat_requests if r.body["model"] == "reply-model")
    assert "Answer in short bullet points" in reply_request.body["messages"][-1]["content"]


def test_a_failing_reply_still_answers_and_writes_the_turn(server: OpenAIServer, engine: MemoryEngine) -> None:
    server.script_for(by_model("reply-model"), Reply("down", status=500))
    session = engine.open_session(Scope.of("alice", "mia"), enabled=True)
    trace = engine.run_turn(session, "I prefer tea over coffee")
    assert trace.reply_by == "offline" and trace.errors[0].startswith("reply failed: ProviderError")
    assert trace.write is not None and trace.write.written[0].text == "I prefer tea over coffee"
    # The note under the reply says the configured model failed, with its error; the reply carries no label.
    assert trace.reply_note.startswith("offline responder · the chat model failed: ProviderError")
    assert "down" in trace.reply_note and "offline responder" not in trace.reply


def test_a_slow_reply_is_cut_at_its_own_bound(server: OpenAIServer, engine: MemoryEngine) -> None:
    server.script_for(by_model("reply-model"), Reply("late", delay_s=3.0))
    session = engine.open_session(Scope.of("alice", "mia"), enabled=True, tuning=Tuning(reply_timeout_ms=200))
    trace = engine.run_turn(session, "I prefer tea over coffee")
    assert trace.reply_by == "offline" and "timeout after 200 ms" in trace.errors[0]
    assert trace.reply_note == "offline responder · the chat model timed out after 0.2 s"


def test_summary_failure_writes_the_fallback_summary(server: OpenAIServer, engine: MemoryEngine) -> None:
    server.script_for(by_model("summary-model"), Reply("nope", status=500))
    scope = Scope.of("alice", "mia")
    session = engine.open_session(scope, enabled=True, tuning=Tuning(summary_turn_window=2))
    engine.run_turn(session, "I prefer tea over coffee")
    trace = engine.run_turn(session, "My sister Anna lives in Lisbon")
    summary = trace.summary
    assert summary is not None and summary.by == "fallback" and "InternalServerError" in summary.error
    assert summary.item is not None and summary.item.text == "I prefer tea over coffee\nMy sister Anna lives in Lisbon"
    assert [c.purpose for c in trace.llm_calls][-1] == "summary"


def test_summary_written_by_the_model(server: OpenAIServer, engine: MemoryEngine) -> None:
    server.script_for(by_model("summary-model"), "- prefers tea\n- sister Anna in Lisbon\n- extra\n- more")
    session = engine.open_session(Scope.of("alice", "mia"), enabled=True, tuning=Tuning(summary_turn_window=2))
    engine.run_turn(session, "I prefer tea over coffee")
    summary = engine.run_turn(session, "My sister Anna lives in Lisbon").summary
    assert summary is not None and summary.by == "llm"
    assert summary.text == "- prefers tea\n- sister Anna in Lisbon\n- extra"


def test_streaming_reply_assembles_the_full_text(server: OpenAIServer, engine: MemoryEngine) -> None:
    text = "Oolong, no sugar, as you like it."
    server.script_for(by_model("reply-model"), Reply(text, chunks=["Oolong,", " no sugar,", " as you", " like it."]))
    session = engine.open_session(Scope.of("alice", "mia"), enabled=True)
    events = list(engine.stream_turn(session, "what tea do I like?"))
    pieces, trace = events[:-1], events[-1]
    assert pieces == ["Oolong,", " no sugar,", " as you", " like it."]
    assert not isinstance(trace, str) and (trace.reply, trace.reply_by) == (text, "llm")
    assert server.chat_requests[-1].body["stream"] is True
    assert session.history[-1].content == text


def test_keys_never_reach_traces_settings_or_logs(
    server: OpenAIServer, engine: MemoryEngine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.script_for(by_model("judge-model"), verdict(True, "tea"))
    session = engine.open_session(Scope.of("alice", "mia"), enabled=True,
                                  tuning=Tuning(decision_mode="llm", summary_turn_window=1))  # fmt: skip
    trace = engine.run_turn(session, "I prefer oolong tea without sugar")
    assert {c.purpose for c in trace.llm_calls} == {"judge", "reply", "summary"}
    assert server.chat_requests[0].header("Authorization") == f"Bearer {KEY}"  # the key was really used
    assert KEY not in json.dumps(trace.to_dict(), ensure_ascii=False, default=str)
    assert KEY not in caplog.text
    assert KEY not in repr(engine.settings) and KEY not in str(engine.settings.describe())
    assert KEY not in repr(engine.settings.reply_llm)


def test_the_reply_key_is_not_sent_to_another_judge_endpoint(server: OpenAIServer) -> None:
    settings = load_settings({"OPENTALKING_LLM_BASE_URL": "http://127.0.0.1:9/v1", "OPENTALKING_LLM_API_KEY": KEY,
                              "MEMTUNE_JUDGE_BASE_URL": server.base_url})  # fmt: skip
    assert settings.judge_llm.api_key == "" and settings.summary_llm.api_key == KEY
    decider = build_decider(settings)
    decider.decide("介绍一下这个项目？", mode="llm")
    assert server.chat_requests[0].header("Authorization") != f"Bearer {KEY}"


def test_cli_decide_against_an_endpoint(server: OpenAIServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    server.script_for(lambda body: "介绍" in body["messages"][-1]["content"], verdict(True, "project"))
    server.default_reply = Reply(verdict(False))
    monkeypatch.setenv("OPENTALKING_LLM_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENTALKING_LLM_API_KEY", KEY)
    data = tmp_path / "rows.jsonl"
    data.write_text('{"text": "介绍一下这个项目？"}\n{"text": "继续上次的话题"}\n', encoding="utf-8")
    for mode, decided in (("hybrid", ["llm", "rule"]), ("llm", ["llm", "llm"])):
        out = io.StringIO()
        assert main(["decide", "--mode", mode, "--data", str(data)], out=out) == 0
        rows = [json.loads(line) for line in out.getvalue().splitlines()]
        assert [r["decided_by"] for r in rows] == decided
        assert rows[0]["query"] == "project"
