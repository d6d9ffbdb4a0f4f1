"""The conversation benchmark: its scores on hand-made outcomes, its loader, and a run through the CLI."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from conftest import shared_data

from memory_core import load_settings
from memory_core.cli import main
from memory_core.errors import InvalidInputError
from memory_core.eval.conversation import (
    ConversationOutcome,
    Counts,
    ProbeOutcome,
    bench_engine,
    bench_tuning,
    count_probe,
    count_writes,
    counts_report,
    is_answered,
    metrics,
    run_conversation,
    score,
    supersession,
)
from memory_core.eval.conversation_file import Conversation, Probe, Turn, load_conversations

SMALL = Path(__file__).parent / "data" / "conversations-small.json"
METRICS = ("write_precision", "write_recall", "probe_decision_accuracy", "answer_hit_at_k", "injection_precision",
           "false_injection_rate", "supersession_ok")  # fmt: skip

OLD = "I live in Lyon."
NEW = "Correction: I moved to Ghent."
TURNS = (
    Turn("t1", OLD, True),
    Turn("t2", "  How are you?  ", False),
    Turn("t3", "My bike is a green Brompton.", True),
    Turn("t4", NEW, True),
)
WHERE = Probe("p1", "Where do I live?", True, relevant=("t4",), keywords=("ghent",), supersedes=("t1",))
BIKE = Probe("p2", "What's my bike?", True, relevant=("t3",), keywords=("Brompton",))
CHAT = Probe("p3", "Tell me a joke", False)


def conversation(lang: str = "en", probes: tuple[Probe, ...] = (WHERE, BIKE, CHAT)) -> Conversation:
    return Conversation("c", lang, "ana", "otto", (TURNS[:2], TURNS[2:]), probes)


# -- writes ---------------------------------------------------------------------------------------------


def test_writes_are_matched_to_turns_by_their_stripped_text() -> None:
    counts = count_writes(conversation(), [OLD, "How are you?", f"  {NEW}\n", "a text of no turn"], summaries=2)
    assert (counts.items_stored, counts.items_of_should_write, counts.items_of_other_turns) == (4, 2, 1)
    assert (counts.items_of_no_turn, counts.should_write, counts.should_write_stored) == (1, 3, 2)
    assert counts.summaries == 2  # counted apart: never in the precision
    assert metrics(counts)["write_precision"] == 0.5
    assert metrics(counts)["write_recall"] == round(2 / 3, 4)


def test_nothing_stored_makes_write_precision_null_and_says_why() -> None:
    counts = count_writes(conversation(), [])
    assert metrics(counts)["write_precision"] is None
    assert metrics(counts)["write_recall"] == 0.0
    assert counts_report(counts)["null_metrics"]["write_precision"].startswith("items_stored is 0")


def test_a_conversation_with_nothing_worth_writing_has_a_null_recall() -> None:
    quiet = Conversation("q", "en", "ana", "otto", ((Turn("t1", "hi", False),),))
    report = counts_report(count_writes(quiet, ["hi"]))
    assert metrics(count_writes(quiet, ["hi"]))["write_precision"] == 0.0
    assert set(report["null_metrics"]) == {"write_recall", *METRICS[2:]}


# -- probes ---------------------------------------------------------------------------------------------


def probe_metrics(*outcomes: ProbeOutcome, k: int = 5) -> dict[str, float | None]:
    conv = conversation(probes=tuple(o.probe for o in outcomes))
    return metrics(sum((count_probe(conv, o, k) for o in outcomes), Counts()))


def test_decision_accuracy_counts_both_kinds_of_probe() -> None:
    scores = probe_metrics(ProbeOutcome(WHERE, True), ProbeOutcome(BIKE, False), ProbeOutcome(CHAT, False))
    assert scores["probe_decision_accuracy"] == round(2 / 3, 4)
    assert probe_metrics(ProbeOutcome(CHAT, True))["probe_decision_accuracy"] == 0.0


def test_an_answer_is_a_keyword_or_a_relevant_turn_in_the_top_k() -> None:
    relevant = frozenset({NEW})
    assert is_answered(ProbeOutcome(WHERE, True, ("x", "We love GHENT.")), relevant, 5)  # keywords ignore case
    assert is_answered(ProbeOutcome(BIKE, True, (" My bike is a green Brompton. ",)), frozenset(), 5)
    assert is_answered(ProbeOutcome(WHERE, True, (f"{NEW} ",)), relevant, 1)  # the relevant turn itself
    assert not is_answered(ProbeOutcome(WHERE, True, ("a", "b", NEW)), relevant, 2)  # below k
    assert not is_answered(ProbeOutcome(WHERE, False, (NEW,)), relevant, 5)  # a declined recall is a miss


def test_answer_hit_at_k_and_injection_precision_over_recall_probes() -> None:
    scores = probe_metrics(ProbeOutcome(WHERE, True, (NEW, OLD, "noise")), ProbeOutcome(BIKE, True, ("noise",)),
                           ProbeOutcome(CHAT, False))  # fmt: skip
    assert scores["answer_hit_at_k"] == 0.5
    assert scores["injection_precision"] == 0.25  # one of four injected hits holds its probe's keyword


def test_false_injections_are_no_recall_probes_that_injected_anything() -> None:
    scores = probe_metrics(ProbeOutcome(CHAT, True, ("noise",)), ProbeOutcome(Probe("p4", "2+2?", False), False))
    assert scores["false_injection_rate"] == 0.5
    assert scores["answer_hit_at_k"] is None and scores["injection_precision"] is None


def test_probes_that_all_expect_recall_leave_the_false_injection_rate_null() -> None:
    conv = conversation(probes=(BIKE,))
    report = counts_report(count_probe(conv, ProbeOutcome(BIKE, False), 5))
    assert metrics(count_probe(conv, ProbeOutcome(BIKE, False), 5))["false_injection_rate"] is None
    assert "every probe expects recall" in report["null_metrics"]["false_injection_rate"]
    assert "injection_precision" in report["null_metrics"]  # declined: nothing injected


@pytest.mark.parametrize(
    ("hits", "verdict"),
    [((NEW, OLD), True), (("noise", OLD, NEW), False), ((OLD,), False), ((NEW, "noise"), None), ((), None)],
    ids=["correction-above", "correction-below", "correction-missing", "no-superseded-turn", "nothing"],
)
def test_supersession_verdicts(hits: tuple[str, ...], verdict: bool | None) -> None:
    assert supersession(hits, frozenset({NEW}), frozenset({OLD})) is verdict


def test_supersession_ok_is_the_share_of_judged_probes_where_the_correction_wins() -> None:
    above, below = ProbeOutcome(WHERE, True, (NEW, OLD)), ProbeOutcome(WHERE, True, (f" {OLD}",))
    unjudged = ProbeOutcome(WHERE, True, (NEW,))
    conv = conversation()
    counts = sum((count_probe(conv, o, 5) for o in (above, below, unjudged)), Counts())
    assert (counts.correction_probes, counts.supersession_judged, counts.correction_ranked_above) == (3, 2, 1)
    assert metrics(counts)["supersession_ok"] == 0.5
    assert probe_metrics(unjudged)["supersession_ok"] is None


def test_score_adds_the_counts_of_every_conversation_and_splits_them_by_language() -> None:
    en = ConversationOutcome(conversation("en"), (OLD, NEW), (ProbeOutcome(BIKE, True, ("Brompton",)),))
    zh = ConversationOutcome(conversation("zh"), ("How are you?",), (ProbeOutcome(BIKE, False),))
    result = score([en, zh], k=5)
    assert result["write_precision"] == round(2 / 3, 4) and result["answer_hit_at_k"] == 0.5
    assert set(result["by_lang"]) == {"en", "zh"}
    assert result["by_lang"]["zh"]["write_precision"] == 0.0
    assert result["by_lang"]["en"]["counts"]["turns"] == 4 and result["counts"]["turns"] == 8
    assert result["counts"]["conversations"] == 2


# -- the loader -----------------------------------------------------------------------------------------


def small_rows() -> dict:
    return json.loads(SMALL.read_text(encoding="utf-8"))


def broken(change: str) -> dict:
    data = small_rows()
    first = data["conversations"][0]
    if change == "lang":
        first["lang"] = "fr"
    elif change == "flag":
        first["sessions"][0][1]["should_write"] = "yes"
    elif change == "relevant":
        first["probes"][0]["relevant"] = ["s9t9"]
    elif change == "repeated-turn":
        first["sessions"][1][0]["id"] = "s1t1"
    elif change == "empty-session":
        first["sessions"].append([])
    elif change == "blank-text":
        first["sessions"][0][0]["text"] = "   "
    elif change == "profile":
        first["profile_id"] = "two words"
    elif change == "no-probes":
        del first["probes"]
    elif change == "keywords":
        first["probes"][0]["keywords"] = ["Santiago", 3]
    elif change == "repeated-conversation":
        data["conversations"][1]["id"] = first["id"]
    return data


@pytest.mark.parametrize(
    ("change", "message"),
    [("lang", "'lang' must be one of en, zh, mix, got 'fr'"), ("flag", "turn 2: 'should_write' must be true or false"),
     ("relevant", "probe 'p1': unknown turn ids s9t9"), ("repeated-turn", "turn ids must be unique, repeated: s1t1"),
     ("empty-session", "session 3: a session is a non-empty list"), ("blank-text", "turn 1: 'text' is empty"),
     ("profile", "profile_id 'two words' contains whitespace"), ("no-probes", "'probes' must be a list"),
     ("keywords", "'keywords' must be a list of non-empty strings"),
     ("repeated-conversation", "conversation ids must be unique, repeated: small-en")],
)  # fmt: skip
def test_the_loader_names_what_is_wrong(tmp_path: Path, change: str, message: str) -> None:
    path = tmp_path / "set.json"
    path.write_text(json.dumps(broken(change)), encoding="utf-8")
    with pytest.raises(InvalidInputError) as caught:
        load_conversations(path)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "cannot read conversation set"), ("[]", "expected {'conversations': [...]}"),
     ('{"conversations": []}', "with at least one conversation"), ('{"conversations": [7]}', "expected an object")],
)  # fmt: skip
def test_the_loader_rejects_files_that_are_not_conversation_sets(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "set.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidInputError) as caught:
        load_conversations(path)
    assert message in str(caught.value)


def test_the_small_set_loads_whole() -> None:
    conversations = load_conversations(SMALL)
    assert [(c.id, c.lang, len(c.turns), len(c.probes)) for c in conversations] == [
        ("small-en", "en", 7, 3),
        ("small-zh", "zh", 6, 3),
    ]
    assert conversations[0].scope.library_id == "small-en"


# -- through the engine and the CLI ---------------------------------------------------------------------


def bench(*argv: str) -> tuple[int, list[dict]]:
    out = io.StringIO()
    code = main(["bench", "conversation", *argv], out=out)
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


def test_the_cli_prints_a_line_per_conversation_then_the_scores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMTUNE_EMBEDDER", "none")
    code, lines = bench("--data", str(SMALL))
    rows, result = lines[:-1], lines[-1]
    assert code == 0
    assert [(r["conversation"], r["lang"]) for r in rows] == [("small-en", "en"), ("small-zh", "zh")]
    assert set(rows[0]) >= {*METRICS, "counts", "not_written", "written_not_wanted", "wrong_decisions", "unanswered"}
    assert set(result) >= {*METRICS, "by_lang", "counts", "k", "mode", "method"}
    assert (result["mode"], result["k"]) == ("rule", 5)
    assert result["method"] == "bm25"  # fusion asked for by default, but there is no embedder
    assert set(result["by_lang"]) == {"en", "zh"} and set(result["by_lang"]["zh"]) >= set(METRICS)
    counts = result["counts"]
    assert (counts["conversations"], counts["turns"], counts["should_write"]) == (2, 13, 7)
    assert (counts["probes"], counts["recall_probes"], counts["no_recall_probes"]) == (6, 4, 2)
    assert counts["correction_probes"] == 2
    assert counts["items_stored"] == counts["items_of_should_write"] + counts["items_of_other_turns"]
    assert counts["items_of_no_turn"] == 0 and counts["summaries"] >= 2  # each session's end summarised
    assert all(result[m] is None or 0.0 <= result[m] <= 1.0 for m in METRICS)


def test_the_cli_passes_mode_and_method_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMTUNE_EMBEDDER", "none")
    code, lines = bench("--data", str(SMALL), "--mode", "hybrid", "--method", "bm25")
    assert code == 0 and (lines[-1]["mode"], lines[-1]["method"]) == ("hybrid", "bm25")


def test_a_malformed_file_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "set.json"
    path.write_text('{"conversations": [{"id": "x"}]}', encoding="utf-8")
    assert main(["bench", "conversation", "--data", str(path)], out=io.StringIO()) == 2
    assert "error:" in capsys.readouterr().err


def test_what_a_probe_writes_is_removed_after_it(tmp_path: Path) -> None:
    settings = load_settings({"MEMTUNE_EMBEDDER": "none"})
    tuning = bench_tuning(settings, None, "bm25")
    conv = load_conversations(SMALL)[0]
    engine = bench_engine(settings, tmp_path, tuning)
    try:
        outcome = run_conversation(engine, conv, tuning)
        assert engine.store is not None
        left = [item.text for item in engine.store.iter_items(conv.scope)]
    finally:
        engine.close()
    assert len(left) == len(outcome.stored) + outcome.summaries
    assert not {p.text for p in conv.probes} & set(left)


def test_bench_tuning_rejects_unknown_choices() -> None:
    settings = load_settings({})
    with pytest.raises(InvalidInputError, match="mode must be one of"):
        bench_tuning(settings, "psychic", None)
    with pytest.raises(InvalidInputError, match="method must be one of"):
        bench_tuning(settings, None, "grep")


@pytest.mark.data
def test_the_counts_of_the_shared_dev_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMTUNE_EMBEDDER", "none")
    code, lines = bench("--data", str(shared_data("conversations-dev.json")), "--method", "bm25")
    counts = lines[-1]["counts"]
    assert code == 0 and len(lines) == 9 and set(lines[-1]["by_lang"]) == {"en", "zh", "mix"}
    assert (counts["turns"], counts["should_write"], counts["probes"]) == (247, 106, 78)
    assert (counts["recall_probes"], counts["correction_probes"]) == (62, 14)
