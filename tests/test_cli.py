"""`python -m memory_core`: decide, bench, import/export, recall and chat, with machine-readable output."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import shared_data

from memory_core.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXTRA = Path(__file__).parent / "data" / "decisions-extra.jsonl"


def run(*argv: str) -> tuple[int, list[dict]]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]


def test_decide_prints_rows_in_order_and_a_summary() -> None:
    code, lines = run("decide", "--mode", "rule", "--data", str(EXTRA))
    rows, summary = lines[:-1], lines[-1]
    assert code == 0
    assert [r["id"] for r in rows] == [f"x-{n:03d}" for n in range(1, 161)]
    assert set(rows[0]) >= {"id", "should_recall", "reason", "query", "categories", "decided_by"}
    assert set(summary) >= {"n", "accuracy", "precision", "recall", "f1", "p50_us", "accuracy_by_lang"}
    assert summary["n"] == 160 and set(summary["accuracy_by_lang"]) == {"en", "zh"}


def test_decide_hybrid_without_an_llm_asks_the_local_judge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "rows.jsonl"
    data.write_text('{"text": "介绍一下这个项目？"}\n{"text": "继续上次的话题"}\n', encoding="utf-8")
    code, lines = run("decide", "--mode", "hybrid", "--data", str(data))
    assert code == 0
    assert [(r["id"], r["decided_by"], r["fallback_reason"]) for r in lines] == [
        (1, "local_judge", ""),
        (2, "rule", ""),
    ]  # no labels, so no summary line
    monkeypatch.setenv("MEMTUNE_EMBEDDER", "none")  # no local e5, so no local judge: the rules, and why
    code, lines = run("decide", "--mode", "hybrid", "--data", str(data))
    assert (lines[0]["decided_by"], lines[0]["fallback_reason"]) == ("fallback_rule", "llm_unavailable")


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json\n", "rows.jsonl:1: not JSON"), ('{"txt": "x"}\n', "needs a string 'text'"),
     ('{"text": "x", "should_recall": "yes"}\n', "must be true or false")],
)  # fmt: skip
def test_decide_rejects_bad_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    data = tmp_path / "rows.jsonl"
    data.write_text(content, encoding="utf-8")
    assert main(["decide", "--data", str(data)], out=io.StringIO()) == 2
    assert message in capsys.readouterr().err


@pytest.mark.data
def test_decide_on_the_shared_dev_set() -> None:
    _, lines = run("decide", "--mode", "rule", "--data", str(shared_data("decisions-dev.jsonl")))
    assert lines[-1]["accuracy"] >= 0.85
    assert min(lines[-1]["accuracy_by_lang"].values()) >= 0.80


def _tiny_locomo(path: Path) -> None:
    turns = [
        {"speaker": "Ana", "dia_id": "D1:1", "text": "I adopted a grey cat called Miso last week."},
        {"speaker": "Ben", "dia_id": "D1:2", "text": "Lovely! I started learning the cello."},
        {
            "speaker": "Ana",
            "dia_id": "D1:3",
            "text": "My sister moved to Porto for a new job.",
            "blip_caption": "a city",
        },
    ]
    qa = [
        {"question": "What is the name of Ana's cat?", "answer": "Miso", "evidence": ["D1:1"], "category": 1},
        {"question": "Which instrument is Ben learning?", "answer": "cello", "evidence": ["D1:02"], "category": 1},
        {"question": "Where did Ana's sister move?", "answer": "Porto", "evidence": ["D1:3; D9:9"], "category": 1},
        {"question": "Unanswerable", "answer": "", "evidence": ["D7:1"], "category": 5},
        {"question": "No evidence", "answer": "", "evidence": [], "category": 5},
    ]
    conversation = {"speaker_a": "Ana", "speaker_b": "Ben", "session_1_date_time": "1 May, 2023", "session_1": turns}
    path.write_text(json.dumps([{"sample_id": "tiny", "conversation": conversation, "qa": qa}]), encoding="utf-8")


def test_bench_locomo_on_a_small_file(tmp_path: Path) -> None:
    data = tmp_path / "tiny.json"
    _tiny_locomo(data)
    for scorer in ("index", "rank-bm25"):
        code, lines = run("bench", "locomo", "--data", str(data), "--scorer", scorer)
        result = lines[-1]
        assert code == 0
        assert result["questions"] == 3 and result["questions_without_evidence"] == 1
        assert result["dropped_evidence_ids"] == 2
        assert result["recall@10"] == 1.0 and result["mrr"] == 1.0
        assert set(result) >= {"recall@5", "recall@10", "mrr", "p50_ms", "p95_ms"}


@pytest.mark.data
def test_bench_locomo_dev_recall() -> None:
    _, lines = run("bench", "locomo", "--data", str(shared_data("locomo-dev.json")))
    assert lines[-1]["questions"] == 997
    assert lines[-1]["recall@10"] >= 0.65


def test_bench_scale_reports_latency_and_memory() -> None:
    code, lines = run("bench", "scale", "--items", "300", "--queries", "20")
    result = lines[-1]
    assert (code, result["items"], result["index_docs"], result["queries"]) == (0, 300, 300, 20)
    assert result["index_memory_bytes"] > 0 and result["p95_ms"] >= result["p50_ms"] > 0


def test_import_export_recall_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMTUNE_DATA_DIR", str(tmp_path / "data"))
    source = tmp_path / "lib.json"
    items = [{"text": "我喜欢喝乌龙茶", "type": "preference"}, {"text": "146服务器是测试环境", "type": "fact"}]
    source.write_text(json.dumps({"format": "memtune.library", "version": 1, "library": {"name": "茶"},
                                  "items": items}, ensure_ascii=False), encoding="utf-8")  # fmt: skip
    scope = ["--profile", "alice", "--character", "mia", "--library", "tea"]
    assert run("import", str(source), *scope)[1] == [{"library": "tea", "imported": 2, "skipped": 0}]
    _, lines = run("recall", "还记得我喜欢喝什么茶吗", *scope)
    assert lines[0]["text"] == "我喜欢喝乌龙茶" and lines[-1]["decision"]["should_recall"]
    exported = tmp_path / "out.csv"
    assert run("export", str(exported), *scope)[1] == [{"file": str(exported), "exported": 2}]
    assert "我喜欢喝乌龙茶" in exported.read_text(encoding="utf-8-sig")
    assert main(["import", str(exported), *scope], out=io.StringIO()) == 2  # same ids again: a clear conflict
    assert run("import", str(exported), *scope, "--on-conflict", "skip")[1][0]["skipped"] == 2


def test_module_entry_point_and_chat_repl(tmp_path: Path) -> None:
    env = {"MEMTUNE_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    chat = subprocess.run(
        [sys.executable, "-m", "memory_core", "chat", "--character", "mia"],
        input="I prefer short answers without emoji\nwhat do I prefer? remember?\n\n",
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60, check=True,
    )  # fmt: skip
    assert "You prefer short answers without emoji, right?" in chat.stdout
    assert "write: memory_check_question" in chat.stdout  # asking about memory is not stored
    assert "session summary stored (fallback)" in chat.stdout
    bad = subprocess.run([sys.executable, "-m", "memory_core", "decide", "--data", "missing.jsonl"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)  # fmt: skip
    assert bad.returncode == 2 and bad.stderr.startswith("error:")
