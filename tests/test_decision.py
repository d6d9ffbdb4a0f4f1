"""The four decision modes, the judge seam, strict parsing and a timeout that cuts."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import replace

import pytest
from fakes import ScriptedChatModel, failing

from memory_core import ChatMessage, InvalidInputError, LLMJudge, RecallDecider, parse_verdict
from memory_core.decide.decider import DECIDED_BY, DECISION_MODES, MODES, JudgeError

YES = json.dumps(
    {
        "should_recall": True,
        "query": "usual answer style preference",
        "reason": "style",
        "categories": ["user_preference"],
    }
)
NO = '{"should_recall": false, "query": "", "reason": "general"}'


@pytest.fixture
def judged() -> tuple[RecallDecider, ScriptedChatModel]:
    model = ScriptedChatModel()
    decider = RecallDecider(LLMJudge(model))
    return decider, model


def test_rule_mode_never_asks_the_judge(judged: tuple[RecallDecider, ScriptedChatModel]) -> None:
    decider, model = judged
    decision = decider.decide("介绍一下这个项目？", mode="rule")
    assert (decision.should_recall, decision.reason, decision.decided_by) == (False, "no_marker", "rule")
    assert decision.query == "介绍一下这个项目？"
    assert model.calls == []


def test_hybrid_sends_only_no_marker_to_the_judge(judged: tuple[RecallDecider, ScriptedChatModel]) -> None:
    decider, model = judged
    model.answers = [YES]
    positive = decider.decide("继续上次的话题", mode="hybrid")
    reject = decider.decide("hi", mode="hybrid")
    risky = decider.decide("在146服务器上执行回滚", mode="hybrid")
    ambiguous = decider.decide("can you keep answers the way we set up?", mode="hybrid")
    assert (positive.decided_by, reject.decided_by, risky.decided_by) == ("rule", "rule", "rule")
    assert len(model.calls) == 1
    assert model.calls[0][-1].content == "<message>\ncan you keep answers the way we set up?\n</message>"
    assert ambiguous.decided_by == "llm"
    assert ambiguous.should_recall
    assert ambiguous.rule_reason == "no_marker"
    assert ambiguous.query == "usual answer style preference"  # the rewritten query is what gets searched
    assert ambiguous.categories == ("user_preference",)


def test_llm_mode_judges_everything_but_hard_rejects(judged: tuple[RecallDecider, ScriptedChatModel]) -> None:
    decider, model = judged
    model.answers = [NO, NO]
    positive = decider.decide("继续上次的话题", mode="llm")
    ambiguous = decider.decide("介绍一下这个项目？", mode="llm")
    for text in ("", "你好", "drop table users on prod-db"):
        assert decider.decide(text, mode="llm").decided_by == "rule"
    assert len(model.calls) == 2
    assert (positive.should_recall, positive.decided_by, positive.rule_reason) == (False, "llm", "explicit_recall")
    assert not ambiguous.should_recall


def test_without_a_judge_hybrid_and_llm_fall_back_to_rules(decider: RecallDecider) -> None:
    for mode in ("hybrid", "llm"):
        ambiguous = decider.decide("介绍一下这个项目？", mode=mode)
        assert (ambiguous.decided_by, ambiguous.fallback_reason) == ("fallback_rule", "llm_unavailable")
        positive = decider.decide("继续上次的话题", mode=mode)
        assert positive.should_recall  # never "no recall for everything"


def test_the_string_false_is_false() -> None:
    assert parse_verdict('{"should_recall": "false"}', "x").should_recall is False
    assert parse_verdict('{"should_recall": "true"}', "x").should_recall is True
    with pytest.raises(JudgeError):
        parse_verdict('{"should_recall": "maybe"}', "x")
    with pytest.raises(JudgeError):
        parse_verdict('{"should_recall": 1}', "x")


def test_parsing_defaults_and_fences() -> None:
    verdict = parse_verdict(
        '```json\n{"should_recall": true, "query": "  ", "categories": "goal_progress"}\n```', "原文"
    )
    assert (verdict.query, verdict.reason, verdict.categories) == ("原文", "llm_decision", ("goal_progress",))
    for bad in ("sure, recall it", '{"query": "x"}', "[true]", 'prefix {"should_recall": true}'):
        with pytest.raises(JudgeError):
            parse_verdict(bad, "x")


def test_unparseable_answer_falls_back_with_the_reason(judged: tuple[RecallDecider, ScriptedChatModel]) -> None:
    decider, model = judged
    model.answers = ["I think yes"]
    decision = decider.decide("介绍一下这个项目？", mode="hybrid")
    assert decision.decided_by == "fallback_rule"
    assert decision.fallback_reason.startswith("unparseable")
    assert decision.judge_raw == "I think yes"


def test_judge_error_falls_back(judged: tuple[RecallDecider, ScriptedChatModel]) -> None:
    decider, model = judged
    model.answers = [failing(ConnectionError("refused"))]
    decision = decider.decide("介绍一下这个项目？", mode="hybrid")
    assert decision.decided_by == "fallback_rule"
    assert "ConnectionError" in decision.fallback_reason


def test_timeout_cuts_and_the_late_answer_is_discarded(judged: tuple[RecallDecider, ScriptedChatModel]) -> None:
    decider, model = judged
    release, answered = threading.Event(), threading.Event()

    def held_back(messages: Sequence[ChatMessage]) -> str:
        release.wait(timeout=10)
        answered.set()
        return YES

    model.answers = [held_back]
    decision = decider.decide("介绍一下这个项目？", mode="llm", timeout_ms=100)
    # The decision came back while the judge was still held: the bound cut, nothing waited for the answer.
    # (How close to the bound it returns is a timing figure, not a unit test's business.)
    assert not answered.is_set()
    release.set()
    assert decision.decided_by == "fallback_rule"
    assert decision.fallback_reason == "timeout after 100 ms"
    assert not decision.should_recall


def test_always_recalls_every_message_as_its_own_query(judged: tuple[RecallDecider, ScriptedChatModel]) -> None:
    decider, model = judged
    for text in ("hi", "  介绍一下这个项目？ ", "在146服务器上执行回滚"):  # a greeting, no marker, a hard reject
        decision = decider.decide(text, mode="always")
        assert (decision.should_recall, decision.query, decision.mode) == (True, text, "always")
        assert (decision.reason, decision.decided_by, decision.categories) == ("always", "always", ())
        assert "every user message" in decision.evidence and "Pipecat" in decision.evidence
    assert model.calls == []  # neither rules nor a judge: Pipecat searches every message


def test_the_judged_modes_are_the_ones_compared() -> None:
    assert MODES == ("rule", "hybrid", "llm")
    assert DECISION_MODES == ("rule", "hybrid", "llm", "always")
    assert "always" in DECIDED_BY


def test_unknown_mode_is_an_error(decider: RecallDecider) -> None:
    with pytest.raises(InvalidInputError):
        decider.decide("hi", mode="fuzzy")


def test_decision_serialises(decider: RecallDecider) -> None:
    decision = decider.decide("继续上次的话题", mode="rule")
    data = decision.to_dict()
    assert data == {
        "should_recall": True, "query": decision.query, "reason": "explicit_recall",
        "categories": list(decision.categories), "mode": "rule", "decided_by": "rule",
        "fallback_reason": "", "rule_reason": decision.rule_reason, "evidence": decision.evidence,
        "latency_ms": round(decision.latency_ms, 3),
    }  # fmt: skip
    assert replace(decision, latency_ms=1.23456).to_dict()["latency_ms"] == 1.235
    assert data["reason"] == "explicit_recall"
    assert data["decided_by"] == "rule"
    assert data["categories"] == ["user_preference", "decision_plan", "goal_progress", "entity_relation",
                                  "feedback_correction", "episode_summary"]  # fmt: skip
