"""Golden retrieval queries: the file format, the scores of what would be injected, the sweep, and the CLI."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from fakes import HashingEmbedder

from memory_core import InvalidInputError, NewItem, Scope, SQLiteStore, Tuning
from memory_core.cli import main
from memory_core.eval.golden import (
    K_VALUES,
    MAX_QUERIES,
    GoldenQuery,
    Hit,
    MethodRun,
    golden_report,
    misses,
    parse_golden,
    query_run,
    read_golden,
    score_method,
    sweep,
    text_matches,
    thresholds_for,
)
from memory_core.eval.retrieval_bench import run_golden, search_golden
from memory_core.recall.dense import DenseRetriever
from memory_core.recall.fusion import FusionRetriever
from memory_core.recall.lexical import BM25Retriever, ScoredMemory

EXAMPLE = Path(__file__).parent / "data" / "golden-example.jsonl"
MEMORIES = [
    ("m-peanut", "I am allergic to peanuts"),
    ("m-anna", "My sister Anna lives in Lisbon"),
    ("m-server", "146服务器是测试环境"),
    ("m-tea", "我最喜欢喝乌龙茶"),
    ("m-car", "I drive a red Toyota"),
    ("m-gym", "I go to the gym on Mondays"),
]


def jsonl(*rows: object) -> str:
    return "\n".join(json.dumps(row, ensure_ascii=False) for row in rows) + "\n"


# The file format


def test_jsonl_and_json_forms_read_alike() -> None:
    rows = [{"query": "What am I allergic to?", "expected_ids": ["m1"], "lang": "en", "kind": "keyword"},
            {"id": 7, "query": "Where does Anna live?", "expected_texts": ["Anna lives in Lisbon"]},
            {"query": "Weather on Mars?", "unanswerable": True}]  # fmt: skip
    from_lines = parse_golden(jsonl(*rows))
    assert from_lines == parse_golden(json.dumps({"queries": rows}))
    first, second, third = from_lines
    assert (first.id, first.expected, first.lang, first.kind) == ("q1", ("m1",), "en", "keyword")
    assert (second.id, second.expected_texts) == ("7", ("Anna lives in Lisbon",))
    assert third.unanswerable and third.expected == ()


def test_the_example_file_is_valid() -> None:
    queries = read_golden(EXAMPLE)
    assert len(queries) == 6 and sum(q.unanswerable for q in queries) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (jsonl({"query": "a", "expected_ids": ["x"]}, {"expected_ids": ["x"]}), "line 2: 'query' is missing"),
        (jsonl({"query": "  ", "expected_ids": ["x"]}), "line 1: 'query' is missing or empty"),
        (jsonl({"query": "a"}), "line 1: give 'expected_ids' or 'expected_texts'"),
        (jsonl({"query": "a", "expected_ids": [], "expected_texts": []}), "line 1: give 'expected_ids'"),
        (jsonl({"query": "a", "expected_ids": "m1"}), "line 1: 'expected_ids' must be a list of non-empty strings"),
        (jsonl({"query": "a", "expected_texts": [3]}), "'expected_texts' must be a list"),
        (jsonl({"query": "a", "unanswerable": "yes"}), "'unanswerable' must be true or false"),
        (jsonl({"query": "a", "unanswerable": True, "expected_ids": ["x"]}), "cannot also expect memories"),
        (jsonl({"query": "a", "expected_ids": ["x"], "lang": 1}), "'lang' must be a string"),
        (jsonl({"query": "a", "expected_ids": ["x"], "id": ["q"]}), "'id' must be a string or a number"),
        (jsonl({"id": "q", "query": "a", "unanswerable": True}, {"id": "q", "query": "b", "unanswerable": True}),
         "line 2: id 'q' is used twice"),
        ('{"query": "a", "expected_ids": ["x"]}\n\n{"query": oops}\n', "line 3: not JSON"),
        (jsonl(["a list"]), "line 1: each query must be a JSON object"),
        (json.dumps({"queries": [{"query": "a", "unanswerable": True}, {"query": 5}]}), "query 2: 'query' is missing"),
        (json.dumps({"rows": []}), "expected {\"queries\": [...]}"),
        ("\n\n", "no queries"),
    ],
)  # fmt: skip
def test_bad_rows_are_named_before_anything_runs(text: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=r"^golden\.jsonl: ") as raised:
        parse_golden(text, filename="golden.jsonl")
    assert message in str(raised.value)


def test_files_are_capped() -> None:
    rows = [{"query": f"q {n}", "unanswerable": True} for n in range(MAX_QUERIES + 1)]
    assert len(parse_golden(jsonl(*rows[:MAX_QUERIES]))) == MAX_QUERIES
    with pytest.raises(InvalidInputError, match="at most 2,000"):
        parse_golden(jsonl(*rows))


def test_an_unreadable_file_is_invalid_input(tmp_path: Path) -> None:
    path = tmp_path / "golden.jsonl"
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(InvalidInputError, match="cannot read golden file"):
        read_golden(path)


def test_expected_texts_match_equal_or_contained() -> None:
    assert text_matches("  anna lives in LISBON ", "My sister Anna lives in Lisbon")
    assert text_matches("乌龙茶", "我最喜欢喝乌龙茶")
    assert not text_matches("Anna lives in Porto", "My sister Anna lives in Lisbon")
    assert not text_matches("   ", "anything")


# Scores from hand-made hits


def run_of(method: str, *rows: tuple[GoldenQuery, Sequence[tuple[str, str, float]]]) -> MethodRun:
    return MethodRun(method, tuple(query_run(q, [Hit(*hit) for hit in hits]) for q, hits in rows))


ALLERGY = GoldenQuery("allergy", "What am I allergic to?", expected_ids=("m1",))
SISTER = GoldenQuery("sister", "Where does Anna live?", expected_ids=("m2",), expected_texts=("my dog rex",))
MARS = GoldenQuery("mars", "Weather on Mars?", unanswerable=True)
HAND_MADE = run_of(
    "fusion",
    (ALLERGY, [("m1", "I am allergic to peanuts", 0.9), ("m3", "I like tea", 0.4)]),
    (SISTER, [("m4", "I work in Lisbon", 0.8), ("m5", "My dog Rex is old", 0.7), ("m2", "Anna lives in Lisbon", 0.5)]),
    (MARS, [("m3", "I like tea", 0.65)]),
)  # fmt: skip


def test_scores_at_a_k_and_threshold() -> None:
    top1 = score_method(HAND_MADE, 1, 0.6)
    assert (top1.answerable, top1.unanswerable, top1.queries) == (2, 1, 3)
    assert top1.recall == 0.5 and top1.found == 0.5  # allergy found; sister's top hit is neither expected memory
    assert top1.injected == 3 and top1.precision == pytest.approx(1 / 3)  # m1 right; m4 and mars' m3 wrong
    assert top1.false_injection_rate == 1.0
    top3 = score_method(HAND_MADE, 3, 0.45)
    assert top3.recall == 1.0 and top3.found == 1.0  # sister: m2 (by id) and "my dog rex" (by text) both in
    assert top3.injected == 5 and top3.precision == pytest.approx(3 / 5)
    strict = score_method(HAND_MADE, 3, 0.95)
    assert (strict.recall, strict.precision, strict.false_injection_rate, strict.injected) == (0.0, None, 0.0, 0)


def test_shares_without_a_denominator_are_none() -> None:
    only_unanswerable = run_of("bm25", (MARS, []))
    scores = score_method(only_unanswerable, 5, 0.0)
    assert (scores.recall, scores.found, scores.precision, scores.false_injection_rate) == (None, None, None, 0.0)


def test_misses_say_where_the_expected_memory_ranked() -> None:
    found = {(m.query_id, m.expected): m for m in misses(HAND_MADE, 1, 0.6)}
    assert set(found) == {("sister", "m2"), ("sister", "my dog rex"), ("mars", "")}
    by_rank = found["sister", "m2"]
    assert (by_rank.rank, by_rank.score, by_rank.top_score) == (3, 0.5, 0.8) and "below the top 1" in by_rank.why
    below = found["sister", "my dog rex"]
    assert (below.rank, below.score) == (2, 0.7) and below.text == "My dog Rex is old"
    assert below.why == "ranked 2, below the top 1"  # 0.7 is above the threshold: only the rank cut it
    false = found["mars", ""]
    assert (false.rank, false.score, false.text) == (1, 0.65, "I like tea") and "unanswerable" in false.why
    threshold_miss = {m.expected: m for m in misses(HAND_MADE, 3, 0.75)}["m2"]
    assert "score 0.5 is not above the threshold 0.75" in threshold_miss.why
    never = misses(run_of("bm25", (ALLERGY, [("m9", "unrelated", 1.0)])), 5, 0.0)
    assert never[0].rank is None and never[0].score is None and "not among the 1 hits" in never[0].why


def test_thresholds_per_method_include_the_current_one() -> None:
    dense = thresholds_for(run_of("dense", (ALLERGY, [])), 0.33)
    assert dense[0] == 0.0 and dense[-1] == 1.0 and 0.33 in dense and 0.5 in dense
    bm25 = run_of("bm25", (ALLERGY, [("m1", "a", 12.0), ("m2", "b", 3.0), ("m3", "c", 0.0)]))
    grid = thresholds_for(bm25, 1.5)
    assert grid[0] == 0.0 and grid[-1] == 12.0 and 3.0 in grid and 1.5 in grid


def test_the_report_marks_each_methods_current_threshold() -> None:
    tuning = Tuning(recall_min_score=2.0, fusion_min_score=0.6, recall_limit=2)
    report = golden_report([HAND_MADE, MethodRun("bm25", HAND_MADE.runs)], k=2, tuning=tuning)
    assert [(s.method, s.k, s.threshold) for s in report.scores] == [("fusion", 2, 0.6), ("bm25", 2, 2.0)]
    assert {p.k for p in report.sweep} == set(K_VALUES) | {2}
    assert {p.threshold for p in report.sweep if p.method == "bm25"} >= {2.0}


# Against a small library


@pytest.fixture
def library(store: SQLiteStore) -> tuple[FusionRetriever, Scope]:
    scope = Scope.of("alice", "mia", "facts")
    store.add_items(scope, [NewItem(text, id=key) for key, text in MEMORIES], create_library_name="Facts")
    return FusionRetriever(BM25Retriever(store), DenseRetriever(store, HashingEmbedder())), scope


class CountingRetriever:
    """The real retriever, counting its searches."""

    def __init__(self, inner: FusionRetriever) -> None:
        self.inner, self.methods, self.calls = inner, inner.methods, 0

    def search(self, scope: Scope, query: str, **options: Any) -> tuple[ScoredMemory, ...]:
        self.calls += 1
        return self.inner.search(scope, query, **options)


def test_every_point_comes_from_one_search_per_query_and_method(library: tuple[FusionRetriever, Scope]) -> None:
    retriever, scope = library
    counting = CountingRetriever(retriever)
    report = run_golden(EXAMPLE, counting, scope, Tuning())
    assert counting.calls == 6 * 3
    assert [s.method for s in report.scores] == ["bm25", "dense", "fusion"]
    assert all(s.queries == 6 and s.answerable == 5 and s.unanswerable == 1 for s in report.scores)
    assert len(report.sweep) > 2 * len(K_VALUES) * 20


def test_on_a_small_library(library: tuple[FusionRetriever, Scope]) -> None:
    retriever, scope = library
    report = run_golden(EXAMPLE, retriever, scope, Tuning(recall_limit=3), methods=("bm25",))
    (bm25,) = report.scores
    assert (bm25.k, bm25.threshold, bm25.recall, bm25.precision, bm25.false_injection_rate) == (3, 0.0, 0.8, 1.0, 0.0)
    (car,) = report.misses  # "What colour is my car?" shares no word with "I drive a red Toyota"
    assert (car.query_id, car.expected) == ("car", "m-car")


def test_recall_never_rises_with_the_threshold(library: tuple[FusionRetriever, Scope]) -> None:
    retriever, scope = library
    runs = search_golden(retriever, scope, read_golden(EXAMPLE), ("bm25", "dense", "fusion"))
    for method_run in runs:
        points = sweep(method_run, thresholds_for(method_run, 0.6))
        for k in K_VALUES:
            recalls = [p.recall for p in points if p.k == k]
            assert recalls == sorted(recalls, reverse=True), (method_run.method, k)
        at = {(p.k, p.threshold): p.recall for p in points}
        assert all(at[1, t] <= at[10, t] for (k, t) in at if k == 1)  # nor falls with a larger k


def test_superseded_memories_are_left_out_unless_shown(store: SQLiteStore) -> None:
    scope = Scope.of("alice", "mia", "facts")
    store.add_items(scope, [NewItem("I live in Porto", id="old")], create_library_name="Facts")
    store.add_items(scope, [NewItem("I live in Lisbon now", id="new")], supersedes=["old"])
    query = GoldenQuery("home", "Where do I live?", expected_ids=("old",))
    hidden, shown = (run_golden([query], BM25Retriever(store), scope, Tuning(show_superseded=s)) for s in (False, True))
    assert hidden.scores[0].recall == 0.0 and shown.scores[0].recall == 1.0


# The CLI


def bench(*args: str) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    code = main(["bench", "retrieval", *args], out=out)
    lines = out.getvalue().splitlines()
    return code, json.loads(lines[-1]) if lines else {}


def test_cli_runs_a_golden_file_against_a_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMTUNE_EMBEDDER", "none")
    database = tmp_path / "memories.sqlite3"
    with SQLiteStore(database) as store:
        store.add_items(Scope.of("alice", "mia", "facts"), [NewItem(text, id=key) for key, text in MEMORIES],
                        create_library_name="Facts")  # fmt: skip
    code, result = bench("--golden", str(EXAMPLE), "--store", str(database), "--profile", "alice", "--character",
                         "mia", "--library", "facts", "--k", "3")  # fmt: skip
    assert code == 0 and (result["benchmark"], result["library"], result["memories"], result["k"]) == (
        "golden", "facts", 6, 3)  # fmt: skip
    scores = result["by_method"]["bm25"]
    assert list(result["by_method"]) == ["bm25"] and (scores["recall"], scores["false_injection_rate"]) == (0.8, 0.0)
    assert [m["query_id"] for m in result["misses"]] == ["car"]
    assert {p["k"] for p in result["sweep"]} == set(K_VALUES)


def test_cli_golden_errors_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MEMTUNE_EMBEDDER", "none")
    database = tmp_path / "memories.sqlite3"
    with SQLiteStore(database) as store:
        store.create_library(Scope.of("alice", "mia", "facts"))
    base = ["--store", str(database), "--profile", "alice", "--library", "facts"]
    assert bench("--golden", str(EXAMPLE), *base)[0] == 2
    assert "needs --character" in capsys.readouterr().err
    assert bench("--golden", str(EXAMPLE), *base, "--character", "mia", "--method", "dense")[0] == 2
    assert "dense: not available here" in capsys.readouterr().err
    assert bench("--golden", str(EXAMPLE), *base, "--character", "nobody")[0] == 2
    assert "error:" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text(jsonl({"query": "a", "expected_ids": ["x"]}, {"query": "b"}), encoding="utf-8")
    assert bench("--golden", str(bad), *base, "--character", "mia")[0] == 2
    assert "bad.jsonl: line 2:" in capsys.readouterr().err
    assert bench("--golden", str(EXAMPLE), "--store", str(tmp_path / "none.sqlite3"), "--character", "mia")[0] == 2
    assert "no such SQLite file" in capsys.readouterr().err
