"""Structure checks for the write-gate holdout turns (tests/data/write-gate-holdout.jsonl).

The holdout is a second, independent set of hand-written turns kept back as the final check that the write
gate generalises; whoever tunes the gate should not read it. These checks only keep its shape sound (fields,
ids, kinds, languages, balance). Failure messages name row ids, never the texts, so a failing run does not
leak the cases.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

HOLDOUT = Path(__file__).parent / "data" / "write-gate-holdout.jsonl"

FIELDS = {"id", "text", "lang", "should_write", "kind"}
LANGS = {"en", "zh", "mix"}
WRITE_KINDS = {"identity", "family", "pet", "health", "preference", "plan", "work", "correction", "other"}
SKIP_KINDS = {"general_question", "self_question", "command", "smalltalk", "low_value", "other"}
CJK = re.compile(r"[\u3400-\u9fff]")
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def _load_rows() -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(HOLDOUT.read_text(encoding="utf-8").splitlines(), 1):
        assert line.strip(), f"blank line {number}"
        row = json.loads(line)
        assert isinstance(row, dict), f"line {number} is not an object"
        rows.append(row)
    return rows


def _lang_fits(lang: str, text: str) -> bool:
    has_cjk = bool(CJK.search(text))
    if lang == "en":
        return not has_cjk
    if lang == "zh":
        return has_cjk and not LATIN_WORD.search(text)
    return has_cjk and bool(LATIN_WORD.search(text))


ROWS = _load_rows()


def test_holdout_rows_have_the_documented_fields() -> None:
    bad = [
        row.get("id")
        for row in ROWS
        if set(row) != FIELDS
        or not isinstance(row["text"], str)
        or not row["text"]
        or row["text"] != row["text"].strip()
        or not isinstance(row["should_write"], bool)
        or row["lang"] not in LANGS
    ]
    assert bad == []


def test_holdout_kind_is_consistent_with_should_write() -> None:
    bad = [row["id"] for row in ROWS if row["kind"] not in (WRITE_KINDS if row["should_write"] else SKIP_KINDS)]
    assert bad == []


def test_holdout_ids_are_unique_and_sequential() -> None:
    ids = [row["id"] for row in ROWS]
    assert len(ids) == len(set(ids))
    assert ids == [f"h{i:04d}" for i in range(1, len(ids) + 1)]


def test_holdout_texts_are_unique() -> None:
    seen: dict[str, str] = {}
    duplicates = []
    for row in ROWS:
        key = row["text"].casefold()
        if key in seen:
            duplicates.append((seen[key], row["id"]))
        seen.setdefault(key, row["id"])
    assert duplicates == []


def test_holdout_text_matches_its_language() -> None:
    wrong = [row["id"] for row in ROWS if not _lang_fits(row["lang"], row["text"])]
    assert wrong == []


def test_holdout_size_and_balance() -> None:
    n = len(ROWS)
    assert n >= 260
    positive = sum(row["should_write"] for row in ROWS) / n
    assert 0.40 <= positive <= 0.50
    langs = Counter(row["lang"] for row in ROWS)
    assert 0.35 <= langs["en"] / n <= 0.45
    assert 0.35 <= langs["zh"] / n <= 0.45
    assert 0.15 <= langs["mix"] / n <= 0.25
    for lang in LANGS:
        write_kinds = {row["kind"] for row in ROWS if row["lang"] == lang and row["should_write"]}
        skip_kinds = {row["kind"] for row in ROWS if row["lang"] == lang and not row["should_write"]}
        assert WRITE_KINDS - {"other"} <= write_kinds, lang
        assert SKIP_KINDS - {"other"} <= skip_kinds, lang
