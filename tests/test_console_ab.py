"""Golden conversations, A against B, through gradio_client against the launched console."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from memory_core import MemoryEngine
from memory_core.eval.ab_runs import AbRuns

DATA = Path(__file__).parent / "data" / "ab-conversations.json"
# decision mode, retrieval method, recall limit, recall min score, fusion min score, relevance floor, injection style
A = ("rule", "bm25", 5, 0.0, 0.6, 0.05, "reference")
B = ("always", "bm25", 5, 1000000, 0.6, 0.05, "reference")


pytestmark = [
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning", "ignore::ResourceWarning"),
    pytest.mark.usefixtures("collect_garbage"),
]


def column(table: dict, name: str) -> list:
    return [row[table["headers"].index(name)] for row in table["data"]]


def test_a_against_b_saved_reopened_rerun_and_compared(client: Client, running: tuple[str, MemoryEngine]) -> None:
    metrics, changes, probes, saved, _, status = client.predict(handle_file(str(DATA)), *A, *B, api_name="/ab_run")
    rows = {row[0]: row[1:] for row in metrics["data"]}
    assert rows["answer_hit_at_k"] == [0.5, 0.0, -0.5] and rows["probe_decision_accuracy"] == [1.0, 0.6667, -0.3333]
    assert column(changes, "probe") == ["ab-en/q1", "ab-en/q2"] == [key for key, _ in probes["choices"]]
    assert column(changes, "A top hit")[0] == "My parrot is called Kiwi and he whistles the radio jingle."
    assert column(changes, "B answered") == [False, False] and column(changes, "B recalled") == [True, True]
    assert "2 probes changed" in status and "decision_mode=always" in status and "ab-conversations.json" in status
    first = saved["value"]
    assert [choice[1] for choice in saved["choices"]] == [first]
    assert AbRuns(running[1].settings.data_dir, "").ids() == [first]

    a_head, a_decision, a_hits, a_block, b_head, b_decision, b_hits, b_block = client.predict(
        "ab-en/q1", api_name="/ab_probe"
    )
    assert a_decision["mode"] == "rule" and b_decision["mode"] == "always"
    assert column(a_hits, "text")[0].startswith("My parrot is called Kiwi") and "Kiwi" in a_block
    assert b_hits["data"] == [] and b_block == "" and "parrot" in a_head and "answered False" in b_head

    listed, _, note = client.predict(api_name="/ab_saved")
    assert [choice[1] for choice in listed["choices"]] == [first] and "1 saved runs" in note
    reopened = client.predict(first, api_name="/ab_open")
    assert reopened[0] == metrics and reopened[1] == changes

    again = client.predict(first, None, api_name="/ab_rerun")
    assert again[0] == metrics and again[1] == changes and f"Re-ran `{first}`" in again[5]
    later = again[3]["value"]
    between, between_changes, note = client.predict(first, later, api_name="/ab_compare_runs")
    assert {row[0]: row[3] for row in between["data"]}["answer_hit_at_k"] == 0.0 and between_changes["data"] == []
    assert "0 probe outcomes changed" in note


def test_bad_input_is_refused_and_nothing_saved(client: Client, running: tuple[str, MemoryEngine],
                                                tmp_path: Path) -> None:  # fmt: skip
    before = AbRuns(running[1].settings.data_dir, "").ids()
    with pytest.raises(AppError, match=r"recall_min_score .* must be between 0.0 and 1000000.0"):
        client.predict(handle_file(str(DATA)), *A, *B[:3], 2e6, *B[4:], api_name="/ab_run")
    bad = tmp_path / "bad.json"
    bad.write_text("not json", encoding="utf-8")
    with pytest.raises(AppError, match="cannot read conversation set"):
        client.predict(handle_file(str(bad)), *A, *B, api_name="/ab_run")
    changed = tmp_path / "changed.json"
    data = json.loads(DATA.read_text(encoding="utf-8"))
    data["conversations"].pop()
    changed.write_text(json.dumps(data), encoding="utf-8")
    run_id = client.predict(handle_file(str(DATA)), *A, *B, api_name="/ab_run")[3]["value"]
    with pytest.raises(AppError, match="content differs"):
        client.predict(run_id, handle_file(str(changed)), api_name="/ab_rerun")
    with pytest.raises(AppError, match="not a run id"):
        client.predict("../../secrets", api_name="/ab_open")
    assert AbRuns(running[1].settings.data_dir, "").ids() == [run_id, *before]
