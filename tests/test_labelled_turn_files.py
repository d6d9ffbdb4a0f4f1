"""Structure checks for the two files of hand-written labelled turns (tests/data/write-gate-*.jsonl).

`write-gate-fresh.jsonl` is our own set of fresh cases; `write-gate-holdout.jsonl` is a second,
independent set kept back as the final check that the write gate generalises, which whoever tunes the
gate does not read. These checks keep their shape sound (fields, ids, kinds, languages, balance), and
their failure messages name row ids, never the texts, so a failing run does not leak the cases.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from labelled_turns import LANGS, SKIP_KINDS, WRITE_KINDS, kinds, lang_fits, load_rows

DATA = Path(__file__).parent / "data"
FILES = {"fresh": (DATA / "write-gate-fresh.jsonl", "w", 400), "holdout": (DATA / "write-gate-holdout.jsonl", "h", 260)}
FIELDS = {"id", "text", "lang", "should_write", "kind"}
ROWS = {name: load_rows(path) for name, (path, _, _) in FILES.items()}
NAMES = sorted(FILES)


def _well_formed(row: dict[str, Any]) -> bool:
    text = row.get("text")
    return (set(row) == FIELDS and isinstance(text, str) and bool(text) and text == text.strip()
            and isinstance(row["should_write"], bool) and row["lang"] in LANGS)  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_rows_have_the_documented_fields_and_kinds(name: str) -> None:
    assert [row.get("id") for row in ROWS[name] if not _well_formed(row)] == []
    assert [row["id"] for row in ROWS[name] if row["kind"] not in kinds(row["should_write"])] == []


@pytest.mark.parametrize("name", NAMES)
def test_ids_are_unique_and_sequential(name: str) -> None:
    prefix = FILES[name][1]
    assert [row["id"] for row in ROWS[name]] == [f"{prefix}{i:04d}" for i in range(1, len(ROWS[name]) + 1)]


@pytest.mark.parametrize("name", NAMES)
def test_texts_are_unique(name: str) -> None:
    counts = Counter(row["text"].casefold() for row in ROWS[name])
    assert [row["id"] for row in ROWS[name] if counts[row["text"].casefold()] > 1] == []


@pytest.mark.parametrize("name", NAMES)
def test_text_matches_its_language(name: str) -> None:
    assert [row["id"] for row in ROWS[name] if not lang_fits(row["lang"], row["text"])] == []


@pytest.mark.parametrize("name", NAMES)
def test_size_and_balance(name: str) -> None:
    rows, minimum = ROWS[name], FILES[name][2]
    n = len(rows)
    assert n >= minimum
    assert 0.40 <= sum(row["should_write"] for row in rows) / n <= 0.50
    langs = Counter(row["lang"] for row in rows)
    assert 0.35 <= langs["en"] / n <= 0.45 and 0.35 <= langs["zh"] / n <= 0.45 and 0.15 <= langs["mix"] / n <= 0.25
    for lang in LANGS:
        written = {row["kind"] for row in rows if row["lang"] == lang and row["should_write"]}
        skipped = {row["kind"] for row in rows if row["lang"] == lang and not row["should_write"]}
        assert WRITE_KINDS - {"other"} <= written, lang
        assert SKIP_KINDS - {"other"} <= skipped, lang
