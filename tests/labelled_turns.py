"""What the hand-written labelled turns share: their kinds, their languages, and how a file is read."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

LANGS = {"en", "zh", "mix"}
WRITE_KINDS = {"identity", "family", "pet", "health", "preference", "plan", "work", "correction", "other"}
SKIP_KINDS = {"general_question", "self_question", "command", "smalltalk", "low_value", "other"}
CJK = re.compile(r"[\u3400-\u9fff]")
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def kinds(should_write: bool) -> set[str]:
    return WRITE_KINDS if should_write else SKIP_KINDS


def lang_fits(lang: str, text: str) -> bool:
    """English has no Chinese; Chinese no Latin words; mixed has both."""
    has_cjk = bool(CJK.search(text))
    if lang == "en":
        return not has_cjk
    if lang == "zh":
        return has_cjk and not LATIN_WORD.search(text)
    return has_cjk and bool(LATIN_WORD.search(text))


def load_rows(path: Path) -> list[dict[str, Any]]:
    """A JSONL file's rows; a blank line or a line that is not an object fails by its number."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        assert line.strip(), f"blank line {number}"
        row = json.loads(line)
        assert isinstance(row, dict), f"line {number} is not an object"
        rows.append(row)
    return rows
