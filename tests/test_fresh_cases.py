"""Structure checks for the hand-written fresh conversations in tests/data (conversations-fresh.json).

They are written independently of the shared dev data (the single turns' checks are in
test_labelled_turn_files.py); these checks only keep their shape sound, so that a
malformed edit (a duplicate id, an unknown kind, a keyword missing from its turn, a dangling turn id)
fails CI instead of silently skewing a measurement.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from labelled_turns import kinds, lang_fits

DATA = Path(__file__).parent / "data"
CONVERSATIONS = DATA / "conversations-fresh.json"

TURN_ID = re.compile(r"^s([1-9][0-9]*)t([1-9][0-9]*)$")


def _load_conversations() -> list[dict[str, Any]]:
    data = json.loads(CONVERSATIONS.read_text(encoding="utf-8"))
    assert set(data) == {"conversations"}
    conversations = data["conversations"]
    assert isinstance(conversations, list)
    return conversations


CONVS = _load_conversations()


# --- conversations-fresh.json -----------------------------------------------------------------------------


def _turns(conv: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {turn["id"]: turn for session in conv["sessions"] for turn in session}


def _order(turn_id: str) -> tuple[int, int]:
    match = TURN_ID.match(turn_id)
    assert match, turn_id
    return int(match.group(1)), int(match.group(2))


def test_conversation_ids_and_langs() -> None:
    ids = [conv["id"] for conv in CONVS]
    assert len(ids) == len(set(ids))
    assert Counter(conv["lang"] for conv in CONVS) == {"en": 2, "zh": 2, "mix": 2}
    for conv in CONVS:
        assert set(conv) == {"id", "lang", "profile_id", "character_id", "sessions", "probes"}, conv["id"]
        assert isinstance(conv["profile_id"], str) and conv["profile_id"], conv["id"]
        assert isinstance(conv["character_id"], str) and conv["character_id"], conv["id"]
    profiles = [conv["profile_id"] for conv in CONVS]
    assert len(profiles) == len(set(profiles))


@pytest.mark.parametrize("conv", CONVS, ids=lambda conv: conv["id"])
def test_sessions_and_turns(conv: dict[str, Any]) -> None:
    sessions = conv["sessions"]
    assert 2 <= len(sessions) <= 3
    for s, session in enumerate(sessions, 1):
        assert 10 <= len(session) <= 16, (conv["id"], s)
        for t, turn in enumerate(session, 1):
            assert set(turn) == {"id", "text", "should_write", "kind", "fact"}, turn
            assert turn["id"] == f"s{s}t{t}", turn
            assert isinstance(turn["text"], str) and turn["text"].strip(), turn
            assert isinstance(turn["should_write"], bool), turn
            assert turn["kind"] in kinds(turn["should_write"]), turn
            assert isinstance(turn["fact"], str), turn
            assert bool(turn["fact"].strip()) == turn["should_write"], turn
            if conv["lang"] != "mix":
                assert lang_fits(conv["lang"], turn["text"]), turn
    assert any(turn["should_write"] for turn in _turns(conv).values())
    assert not all(turn["should_write"] for turn in _turns(conv).values())


@pytest.mark.parametrize("conv", CONVS, ids=lambda conv: conv["id"])
def test_probes(conv: dict[str, Any]) -> None:
    turns = _turns(conv)
    probes = conv["probes"]
    assert 8 <= len(probes) <= 10
    assert [probe["id"] for probe in probes] == [f"p{i}" for i in range(1, len(probes) + 1)]
    for probe in probes:
        assert set(probe) == {"id", "text", "expect_recall", "relevant", "keywords", "supersedes"}, probe
        assert isinstance(probe["text"], str) and probe["text"].strip(), probe
        assert isinstance(probe["expect_recall"], bool), probe
        for key in ("relevant", "keywords", "supersedes"):
            assert isinstance(probe[key], list), probe
            assert len(probe[key]) == len(set(probe[key])), probe
        if not probe["expect_recall"]:
            assert probe["relevant"] == probe["keywords"] == probe["supersedes"] == [], probe
            continue
        assert probe["relevant"], probe
        assert probe["keywords"], probe
        relevant_texts = []
        for turn_id in probe["relevant"]:
            assert turn_id in turns, (probe, turn_id)
            assert turns[turn_id]["should_write"], (probe, turn_id)
            relevant_texts.append(turns[turn_id]["text"].casefold())
        for keyword in probe["keywords"]:
            assert isinstance(keyword, str) and keyword.strip(), probe
            assert any(keyword.casefold() in text for text in relevant_texts), (probe, keyword)
        newest = max(_order(turn_id) for turn_id in probe["relevant"])
        for turn_id in probe["supersedes"]:
            assert turn_id in turns, (probe, turn_id)
            assert turn_id not in probe["relevant"], (probe, turn_id)
            assert turns[turn_id]["should_write"], (probe, turn_id)
            assert _order(turn_id) < newest, (probe, turn_id)
            old = turns[turn_id]["text"].casefold()
            for keyword in probe["keywords"]:
                assert keyword.casefold() not in old, (probe, keyword, turn_id)


@pytest.mark.parametrize("conv", CONVS, ids=lambda conv: conv["id"])
def test_each_conversation_probes_a_correction_and_mixes_decisions(conv: dict[str, Any]) -> None:
    turns = _turns(conv)
    corrections = [probe for probe in conv["probes"] if probe["supersedes"]]
    assert corrections
    for probe in corrections:
        assert any(turns[turn_id]["kind"] == "correction" for turn_id in probe["relevant"]), probe
    decisions = {probe["expect_recall"] for probe in conv["probes"]}
    assert decisions == {True, False}
