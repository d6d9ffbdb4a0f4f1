"""Reading LoCoMo files: evidence normalisation and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memory_core import InvalidInputError
from memory_core.eval.locomo import load_locomo, normalise_evidence


@pytest.mark.parametrize(
    ("raw", "ids"),
    [("D1:3", ["D1:3"]), ("D8:6; D9:17", ["D8:6", "D9:17"]), ("D:11:26", ["D11:26"]), ("D30:05", ["D30:5"]),
     ("nonsense", [])],
)  # fmt: skip
def test_evidence_ids_are_normalised(raw: str, ids: list[str]) -> None:
    assert normalise_evidence(raw) == ids


def test_items_keep_dia_ids_dates_and_captions(tmp_path: Path) -> None:
    conversation = {
        "session_2_date_time": "2 May, 2023",
        "session_2": [{"speaker": "Ana", "dia_id": "D2:1", "text": "Back home!", "blip_caption": "a red door"}],
        "session_1_date_time": "1 May, 2023",
        "session_1": [{"speaker": "Ben", "dia_id": "D1:1", "text": "Hi Ana"}],
    }
    path = tmp_path / "c.json"
    path.write_text(json.dumps([{"sample_id": "s", "conversation": conversation, "qa": []}]), encoding="utf-8")
    (dated,) = load_locomo(path)
    assert [i.id for i in dated.items] == ["D1:1", "D2:1"]  # sessions in numeric order
    assert dated.items[1].text == "[2 May, 2023] Ana: Back home! (a red door)"
    assert dated.items[1].metadata["dia_id"] == "D2:1"
    (plain,) = load_locomo(path, item_format="plain")
    assert plain.items[0].text == "Ben: Hi Ana"


@pytest.mark.parametrize("content", ["{not json", '{"a": 1}', '[{"qa": []}]'])
def test_malformed_files_are_clear_errors(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidInputError):
        load_locomo(path)
