"""Structure checks for the hand-written fresh evaluation cases in tests/data.

The write-gate turns (write-gate-fresh.jsonl) and the multi-session conversations (conversations-fresh.json)
are written independently of the shared dev data; these checks only keep their shape sound, so that a
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

DATA = Path(__file__).parent / "data"
WRITE_GATE = DATA / "write-gate-fresh.jsonl"
CONVERSATIONS = DATA / "conversations-fresh.json"

LANGS = {"en", "zh", "mix"}
WRITE_KINDS = {"identity", "family", "pet", "health", "preference", "plan", "work", "correction", "other"}
SKIP_KINDS = {"general_question", "self_question", "command", "smalltalk", "low_value", "other"}
TURN_ID = re.compile(r"^s([1-9][0-9]*)t([1-9][0-9]*)$")
CJK = re.compile(r"[\u3400-\u9fff]")
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def _kinds(should_write: bool) -> set[str]:
    return WRITE_KINDS if should_write else SKIP_KINDS


def _lang_fits(lang: str, text: str) -> bool:
    has_cjk = bool(CJK.search(text))
    if lang == "en":
        return not has_cjk
    if lang == "zh":
        return has_cjk and not LATIN_WORD.search(text)
    return has_cjk and bool(LATIN_WORD.search(text))


def _load_rows() -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(WRITE_GATE.read_text(encoding="utf-8").splitlines(), 1):
        assert line.strip(), f"blank line {number}"
        row = json.loads(line)
        assert isinstance(row, dict), f"line {number} is not an object"
        rows.append(row)
    return rows


def _load_conversations() -> list[dict[str, Any]]:
    data = json.loads(CONVERSATIONS.read_text(encoding="utf-8"))
    assert set(data) == {"conversations"}
    conversations = data["conversations"]
    assert isinstance(conversations, list)
    return conversations


ROWS = _load_rows()
CONVS = _load_conversations()


# --- write-gate-fresh.jsonl -------------------------------------------------------------------------------


def test_write_gate_rows_have_the_documented_fields() -> None:
    for row in ROWS:
        assert set(row) == {"id", "text", "lang", "should_write", "kind"}, row
        assert isinstance(row["text"], str), row
        assert row["text"] == row["text"].strip(), row
        assert row["text"], row
        assert isinstance(row["should_write"], bool), row
        assert row["lang"] in LANGS, row
        assert row["kind"] in _kinds(row["should_write"]), row


def test_write_gate_ids_are_unique_and_sequential() -> None:
    ids = [row["id"] for row in ROWS]
    assert ids == [f"w{i:04d}" for i in range(1, len(ids) + 1)]


def test_write_gate_texts_are_unique() -> None:
    counts = Counter(row["text"].casefold() for row in ROWS)
    assert [text for text, n in counts.items() if n > 1] == []


def test_write_gate_text_matches_its_language() -> None:
    wrong = [row["id"] for row in ROWS if not _lang_fits(row["lang"], row["text"])]
    assert wrong == []


def test_write_gate_size_and_balance() -> None:
    n = len(ROWS)
    assert n >= 400
    positive = sum(row["should_write"] for row in ROWS) / n
    assert 0.40 <= positive <= 0.50
    langs = Counter(row["lang"] for row in ROWS)
    assert 0.35 <= langs["en"] / n <= 0.45
    assert 0.35 <= langs["zh"] / n <= 0.45
    assert 0.15 <= langs["mix"] / n <= 0.25
    for lang in LANGS:
        kinds = {row["kind"] for row in ROWS if row["lang"] == lang}
        assert WRITE_KINDS - {"other"} <= kinds, lang
        assert SKIP_KINDS - {"other"} <= kinds, lang


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
            assert turn["kind"] in _kinds(turn["should_write"]), turn
            assert isinstance(turn["fact"], str), turn
            assert bool(turn["fact"].strip()) == turn["should_write"], turn
            if conv["lang"] != "mix":
                assert _lang_fits(conv["lang"], turn["text"]), turn
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
