"""Compare: one message across modes (with real retrieval), labelled batches, their tables and CSV."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from fakes import ScriptedChatModel

from memory_core import InvalidInputError, LLMJudge, NewItem, RecallDecider, Scope, SQLiteStore, Tuning
from memory_core.eval.compare import (
    MAX_MESSAGES,
    LabelledMessage,
    compare_message,
    confusion_rows,
    evaluate_batch,
    metrics_rows,
    parse_messages,
    report_csv,
)
from memory_core.recall.lexical import BM25Retriever

DATA = Path(__file__).parent / "data"
TEA = json.dumps(
    {"should_recall": True, "query": "tea preference", "reason": "taste", "categories": ["user_preference"]}
)
SISTER = json.dumps(
    {"should_recall": True, "query": "sister name", "reason": "family", "categories": ["entity_relation"]}
)
NO = json.dumps({"should_recall": False, "reason": "general"})
ALL_FIELDS = ("should_recall", "reason", "query", "decided_by", "categories", "hits")


@pytest.fixture
def judged() -> tuple[RecallDecider, ScriptedChatModel]:
    model = ScriptedChatModel()
    decider = RecallDecider(LLMJudge(model))
    return decider, model


@pytest.fixture
def retriever(store: SQLiteStore, scope: Scope) -> BM25Retriever:
    store.ensure_library(scope)
    store.add_items(
        scope,
        [
            NewItem("User prefers green tea in the evening", "preference", "user_preference", id="tea"),
            NewItem("User's sister is called Mia and lives in Lisbon", "fact", "entity_relation", id="sister"),
            NewItem("User works night shifts as a nurse", "fact", id="job"),
        ],
    )
    return BM25Retriever(store)


# One message, several modes


def test_differences_name_every_field_the_judge_changed(
    judged: tuple[RecallDecider, ScriptedChatModel], retriever: BM25Retriever, scope: Scope
) -> None:
    decider, model = judged
    model.answers = [TEA, TEA]
    text = "any drink suggestions for tonight?"
    comparison = compare_message(decider, text, tuning=Tuning(), retriever=retriever, scope=scope)
    rule, hybrid, llm = comparison.outcomes
    assert [o.mode for o in comparison.outcomes] == ["rule", "hybrid", "llm"]
    assert (rule.decision.should_recall, rule.decision.decided_by, rule.hits) == (False, "rule", ())
    assert (hybrid.decision.query, hybrid.decision.decided_by) == ("tea preference", "llm")
    assert hybrid.hit_ids[0] == "tea" and hybrid.hits[0].category_boost == 1.0
    assert llm.hit_ids == hybrid.hit_ids
    assert comparison.differences == ALL_FIELDS
    assert comparison.text == text
    assert len(model.calls) == 2
    assert all(o.latency_ms > 0 for o in comparison.outcomes)


def test_a_rewritten_query_recalls_other_memories(
    judged: tuple[RecallDecider, ScriptedChatModel], retriever: BM25Retriever, scope: Scope
) -> None:
    decider, model = judged
    model.answers = [SISTER]
    comparison = compare_message(
        decider,
        "do you remember what tea I like?",
        tuning=Tuning(),
        modes=("rule", "llm"),
        retriever=retriever,
        scope=scope,
    )
    rule, llm = comparison.outcomes
    assert rule.hit_ids[0] == "tea"
    assert llm.hit_ids[0] == "sister"
    assert comparison.differences == ("reason", "query", "decided_by", "categories", "hits")


def test_modes_that_agree_have_no_differences(decider: RecallDecider, retriever: BM25Retriever, scope: Scope) -> None:
    comparison = compare_message(
        decider,
        "do you remember what tea I like?",
        tuning=Tuning(recall_limit=1),
        modes=("rule", "hybrid"),
        retriever=retriever,
        scope=scope,
    )
    assert comparison.differences == ()
    assert [o.hit_ids for o in comparison.outcomes] == [("tea",), ("tea",)]


def test_without_a_retriever_there_are_no_hits(judged: tuple[RecallDecider, ScriptedChatModel]) -> None:
    decider, model = judged
    model.answers = [TEA, TEA]
    comparison = compare_message(decider, "any drink suggestions for tonight?", tuning=Tuning())
    assert all(o.hits == () for o in comparison.outcomes)
    assert comparison.outcomes[1].decision.should_recall
    assert "hits" not in comparison.differences
    assert "should_recall" in comparison.differences


def test_fallbacks_show_as_a_decided_by_difference(decider: RecallDecider) -> None:
    comparison = compare_message(decider, "how tall is the Eiffel Tower", tuning=Tuning())
    assert [o.decision.decided_by for o in comparison.outcomes] == ["rule", "fallback_rule", "fallback_rule"]
    assert comparison.differences == ("decided_by",)


def test_compare_rejects_bad_arguments(decider: RecallDecider, retriever: BM25Retriever) -> None:
    with pytest.raises(InvalidInputError, match="retriever and a scope"):
        compare_message(decider, "hi", tuning=Tuning(), retriever=retriever)
    with pytest.raises(InvalidInputError, match="'fast'"):
        compare_message(decider, "hi", tuning=Tuning(), modes=("rule", "fast"))
    with pytest.raises(InvalidInputError, match="at least one"):
        compare_message(decider, "hi", tuning=Tuning(), modes=())
    with pytest.raises(InvalidInputError, match="once"):
        compare_message(decider, "hi", tuning=Tuning(), modes=("rule", "rule"))


# Parsing labelled messages


def test_parse_jsonl() -> None:
    content = "\n".join(
        [
            json.dumps({"id": "x-1", "text": "还记得我妹妹吗？", "should_recall": True, "lang": "zh", "kind": "a"}),
            "",
            json.dumps({"text": "how tall is the Eiffel Tower", "should_recall": False}),
            json.dumps({"id": 7, "text": "hi", "should_recall": None}),
        ]
    )
    assert parse_messages("\ufeff" + content + "\n", filename="/tmp/set.jsonl") == (
        LabelledMessage("x-1", "还记得我妹妹吗？", True, "zh"),
        LabelledMessage("3", "how tall is the Eiffel Tower", False, ""),
        LabelledMessage("7", "hi", None, ""),
    )
    assert parse_messages('{"text": "hi"}', filename="SET.JSON") == (LabelledMessage("1", "hi"),)


@pytest.mark.parametrize("column", ["should_recall", "expected", "label", "Label"])
@pytest.mark.parametrize(
    ("cell", "expected"),
    [("true", True), ("TRUE", True), ("1", True), ("yes", True), (" Yes ", True), ("false", False),
     ("False", False), ("0", False), ("no", False), ("NO", False), ("", None)],
)  # fmt: skip
def test_parse_csv_labels(column: str, cell: str, expected: bool | None) -> None:
    content = f"text,{column}\nremember my tea?,{cell}\n"
    assert parse_messages(content, filename="set.csv") == (LabelledMessage("2", "remember my tea?", expected),)


def test_parse_csv_ids_lang_bom_and_quoted_cells() -> None:
    content = '\ufeffid,text,lang,kind\r\n,"我说：""你好"",\r\n记得吗？",zh,x\r\n\r\nm-9,plain,en,y\r\n'
    assert parse_messages(content, filename="set.csv") == (
        LabelledMessage("2", '我说："你好",\r\n记得吗？', None, "zh"),
        LabelledMessage("m-9", "plain", None, "en"),
    )


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        ("messages.csv", "id,message\n1,hi\n", "messages.csv row 1: the header has no 'text' column"),
        ("messages.csv", "text,should_recall\nhi,true\nhello,maybe\n",
         "messages.csv row 3: should_recall must be true or false"),
        ("messages.csv", "text,expected,label\nhi,1,0\n", "messages.csv row 1: keep one label column"),
        ("messages.csv", "text,text\nhi,hi\n", "messages.csv row 1: the header names a column twice"),
        ("messages.csv", "text,lang\nhi\n", "messages.csv row 2: 1 cells but the header has 2"),
        ("messages.csv", 'text\n"open\n', "messages.csv row 2: not valid CSV"),
        ("messages.csv", "id,text\n1,  \n", "messages.csv row 2: needs a non-empty string 'text'"),
        ("messages.csv", "id,text\na,hi\na,hello\n", "messages.csv row 3: id 'a' is already used on row 2"),
        ("messages.csv", "", "messages.csv is empty"),
        ("messages.csv", "\ufeff \n", "messages.csv is empty"),
        ("messages.csv", "text,label\n", "messages.csv has no messages"),
        ("messages.jsonl", '{"text": "hi"}\n{not json}\n', "messages.jsonl line 2: not JSON"),
        ("messages.jsonl", '{"text": "hi", "should_recall": "yes"}', "messages.jsonl line 1: should_recall must be"),
        ("messages.jsonl", '{"id": "a"}', "messages.jsonl line 1: needs a non-empty string 'text'"),
        ("messages.jsonl", "[1, 2]", "messages.jsonl line 1: each line must be a JSON object"),
        ("messages.jsonl", '{"text": "hi", "id": true}', "messages.jsonl line 1: id must be"),
        ("messages.jsonl", '{"text": "hi", "lang": 3}', "messages.jsonl line 1: lang must be a string"),
        ("messages.jsonl", "\n\n", "messages.jsonl is empty"),
        ("messages.txt", "hi", "'messages.txt' is not a .jsonl, .json or .csv file"),
    ],
)  # fmt: skip
def test_parse_errors_name_the_row(filename: str, content: str, message: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_messages(content, filename=filename)
    assert str(caught.value).startswith(message)


def test_parse_limits_the_number_of_messages() -> None:
    lines = [json.dumps({"text": f"message {n}"}) for n in range(MAX_MESSAGES)]
    assert len(parse_messages("\n".join(lines), filename="big.jsonl")) == MAX_MESSAGES
    with pytest.raises(InvalidInputError, match=f"big.csv has more than {MAX_MESSAGES} messages"):
        parse_messages("text\n" + "\n".join(f"message {n}" for n in range(MAX_MESSAGES + 1)), filename="big.csv")


# Batch evaluation

LABELLED = (
    LabelledMessage("m1", "do you remember what tea I like?", True),  # explicit_recall: TP
    LabelledMessage("m2", "When is my sister's wedding?", True),  # user_owned: TP
    LabelledMessage("m3", "what was the name of my landlord again?", False),  # user_owned: FP
    LabelledMessage("m4", "how tall is the Eiffel Tower", False),  # no_marker: TN
    LabelledMessage("m5", "truncate the sessions table on analytics-db", False),  # high_risk_ignored: TN
    LabelledMessage("m6", "hi", True),  # low_value: FN
    LabelledMessage("m7", "I like green tea", True),  # no_marker: FN
    LabelledMessage("m8", "any drink suggestions for tonight?", None),  # no_marker, unlabelled
)


def test_batch_metrics_match_hand_computed_numbers(decider: RecallDecider) -> None:
    calls: list[tuple[int, int]] = []
    report = evaluate_batch(decider, LABELLED, timeout_ms=500, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(n, 8) for n in range(1, 9)]
    assert report.modes == ("rule", "hybrid", "llm")
    for mode in report.modes:  # without a judge every mode ends with the rules' answer
        scores = report.metrics[mode]
        counts = (scores.true_positive, scores.false_positive, scores.true_negative, scores.false_negative)
        assert counts == (2, 1, 2, 2)
        assert scores.n == 7
        assert scores.accuracy == pytest.approx(4 / 7)
        assert scores.precision == pytest.approx(2 / 3)
        assert scores.recall == pytest.approx(1 / 2)
        assert scores.f1 == pytest.approx(4 / 7)
    assert dict(report.fallbacks) == {"rule": 0, "hybrid": 3, "llm": 6}
    assert [row.message.id for row in report.disagreements] == ["m3", "m6", "m7"]
    assert [row.message.id for row in report.rows] == [m.id for m in LABELLED]
    assert report.rows[0].verdicts[0] == (True, "explicit_recall", "rule")
    assert report.rows[3].verdicts[1] == (False, "no_marker", "fallback_rule")
    assert all(us > 0 for us in report.p50_us.values())


def test_disagreements_between_modes(judged: tuple[RecallDecider, ScriptedChatModel]) -> None:
    decider, model = judged
    model.answers = [NO, TEA, TEA]  # hybrid asks the judge about m4, m7, m8 in turn
    report = evaluate_batch(decider, (LABELLED[3], LABELLED[6], LABELLED[7]), modes=("rule", "hybrid"), timeout_ms=2000)
    assert [row.message.id for row in report.disagreements] == ["m7", "m8"]
    assert [row.agree for row in report.rows] == [True, False, False]
    assert (report.metrics["rule"].accuracy, report.metrics["hybrid"].accuracy) == (0.5, 1.0)
    assert dict(report.fallbacks) == {"rule": 0, "hybrid": 0}
    assert len(model.calls) == 3


def test_unknown_mode_fails_before_any_decision(decider: RecallDecider) -> None:
    calls: list[tuple[int, int]] = []
    with pytest.raises(InvalidInputError, match="'fast'"):
        evaluate_batch(decider, LABELLED, modes=("fast",), timeout_ms=10, progress=lambda d, t: calls.append((d, t)))
    assert calls == []


def test_report_csv_round_trips(decider: RecallDecider) -> None:
    messages = (
        LabelledMessage("a,1", '他说："你好"，\n还记得我妹妹的名字吗？', True, "zh"),
        LabelledMessage('q"2', 'tea, "green"\r\nplease', None, "en"),
    )
    report = evaluate_batch(decider, messages, modes=("rule", "llm"), timeout_ms=10)
    text = report_csv(report)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == [
        "id", "text", "expected", "rule_should_recall", "rule_reason", "rule_decided_by",
        "llm_should_recall", "llm_reason", "llm_decided_by", "agree",
    ]  # fmt: skip
    assert [row[:3] for row in rows[1:]] == [[m.id, m.text, "" if m.expected is None else "true"] for m in messages]
    first = report.rows[0].verdicts
    assert rows[1][3:] == [str(first[0].should_recall).lower(), first[0].reason, "rule",
                           str(first[1].should_recall).lower(), first[1].reason, "fallback_rule", "true"]  # fmt: skip
    assert len(rows) == 3 and all(len(row) == 10 for row in rows)


def test_table_rows(decider: RecallDecider) -> None:
    report = evaluate_batch(decider, LABELLED, modes=("rule", "hybrid"), timeout_ms=10)
    metrics = metrics_rows(report)
    assert metrics[0] == ["mode", "n", "accuracy", "precision", "recall", "f1", "fallbacks", "p50_us"]
    assert metrics[1][:7] == ["rule", 7, 0.5714, 0.6667, 0.5, 0.5714, 0]
    assert metrics[2][0] == "hybrid" and metrics[2][6] == 3
    assert all(isinstance(row[7], float) for row in metrics[1:])
    assert confusion_rows(report) == [["mode", "tp", "fp", "tn", "fn"], ["rule", 2, 1, 2, 2], ["hybrid", 2, 1, 2, 2]]


def test_unlabelled_batch_has_no_metrics(decider: RecallDecider) -> None:
    report = evaluate_batch(decider, (LabelledMessage("1", "hi"),), modes=("rule",), timeout_ms=10)
    assert report.metrics == {}
    assert report.disagreements == ()
    assert metrics_rows(report)[1][:7] == ["rule", 0, None, None, None, None, 0]
    assert confusion_rows(report)[1] == ["rule", 0, 0, 0, 0]


def test_decisions_extra_rule_accuracy(decider: RecallDecider) -> None:
    path = DATA / "decisions-extra.jsonl"
    messages = parse_messages(path.read_text(encoding="utf-8"), filename=path.name)
    assert len(messages) == 160 and messages[0].id == "x-001" and messages[0].lang == "en"
    report = evaluate_batch(decider, messages, timeout_ms=10)
    assert report.metrics["rule"].n == 160
    assert report.metrics["rule"].accuracy >= 0.95
    assert report.fallbacks["rule"] == 0 and report.fallbacks["hybrid"] > 0
