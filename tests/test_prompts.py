"""Every prompt the engine sends, rendered and compared with its committed snapshot.

A deliberate prompt change updates the snapshot: run `MEMTUNE_UPDATE_SNAPSHOTS=1 pytest tests/test_prompts.py`
(read at import, before the autouse fixture clears MEMTUNE_* variables) and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from memory_core.prompts import (
    greeting_messages,
    judge_messages,
    offline_greeting,
    offline_reply,
    summary_messages,
    without_own_name,
)

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("MEMTUNE_UPDATE_SNAPSHOTS") == "1"

TURNS = [("我喜欢乌龙茶", "记住了"), ("I run on Sundays", "Nice")]
RENDERED = {
    "judge": lambda: [m.to_dict() for m in judge_messages("按之前那样回答")],
    "summary": lambda: [m.to_dict() for m in summary_messages(TURNS, 3, name="Mia")],
    "summary-unnamed": lambda: [m.to_dict() for m in summary_messages(TURNS, 3)],
    "greeting": lambda: [m.to_dict() for m in greeting_messages("You are Mia.", ["likes oolong", "sister Anna"],
                                                                name="Mia")],
    "offline": lambda: [offline_reply("memory", ["I like oolong", "My sister is Anna"], chinese=False),
                        offline_reply("not_found", [], chinese=True), offline_greeting("Mia", []),
                        offline_greeting("Mia", ["用户喜欢乌龙茶"]), offline_reply("general", [], chinese=False)],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(RENDERED))
def test_prompt_matches_its_snapshot(name: str) -> None:
    rendered = json.dumps(RENDERED[name](), ensure_ascii=False, indent=2) + "\n"
    path = SNAPSHOTS / f"{name}.json"
    if UPDATE:
        path.write_text(rendered, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == rendered


def test_the_judge_prompt_is_bilingual_and_demands_json() -> None:
    system = judge_messages("x")[0].content
    for phrase in ("JSON", "should_recall", "usual style", "按之前那样", "常识性问题", "general-knowledge"):
        assert phrase in system


@pytest.mark.parametrize(
    ("greeting", "expected"),
    [
        ("Mia, I'm glad you're here", "I'm glad you're here"),
        ("Hi Mia! Welcome back", "Hi! Welcome back"),
        ("你好Mia！欢迎回来", "你好! 欢迎回来"),
        ("Hi Anna! Welcome back", "Hi Anna! Welcome back"),  # the user's own name stays
        ("Mia here: welcome back", "Mia here: welcome back"),  # the character naming itself stays
    ],
)
def test_a_greeting_does_not_call_the_user_by_the_characters_name(greeting: str, expected: str) -> None:
    assert without_own_name(greeting, "Mia") == expected
