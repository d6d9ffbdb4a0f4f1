"""`bench gate`: the write gate's precision and recall over labelled turns."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from memory_core.cli import main
from memory_core.errors import InvalidInputError
from memory_core.eval.gate_bench import run_gate

ROWS = [
    {"text": "My name is Ines and I teach chemistry.", "should_write": True, "lang": "en"},
    {"text": "What's the tallest mountain in Africa?", "should_write": False, "lang": "en"},
    {"text": "我对芒果过敏。", "should_write": True, "lang": "zh"},
    {"text": "哈哈", "should_write": True, "lang": "zh"},  # labelled wrongly on purpose: a miss
]


def write_rows(tmp_path: Path) -> Path:
    path = tmp_path / "turns.jsonl"
    path.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in ROWS) + "\n", encoding="utf-8")
    return path


def test_the_gate_is_scored_per_language(tmp_path: Path) -> None:
    result = run_gate(write_rows(tmp_path))
    assert (result["turns"], result["written_right"], result["written_wrong"], result["missed"]) == (4, 2, 0, 1)
    assert (result["write_precision"], result["write_recall"]) == (1.0, round(2 / 3, 4))
    assert result["by_lang"]["zh"]["write_recall"] == 0.5 and result["by_lang"]["en"]["write_recall"] == 1.0
    assert result["reasons"]["question"] == 1 and result["reasons"]["low_value"] == 1


def test_the_cli_prints_json_last(tmp_path: Path) -> None:
    out = io.StringIO()
    assert main(["bench", "gate", "--data", str(write_rows(tmp_path))], out=out) == 0
    assert json.loads(out.getvalue().strip().splitlines()[-1])["benchmark"] == "gate"


def test_a_file_that_is_not_labelled_turns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text('{"text": "no label"}\n', encoding="utf-8")
    with pytest.raises(InvalidInputError, match="cannot read labelled turns"):
        run_gate(path)
