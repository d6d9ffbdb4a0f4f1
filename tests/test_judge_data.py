"""Structure checks for the local judge's training set (memory_core/decide/data/judge-train.jsonl).

The file is our own: hand-written user messages labelled for "should this turn trigger long-term memory
recall?", with the kinds documented for the shared dev set (../shared/data/README.md), written
independently of it and of tests/data. These checks keep its shape sound (fields, ids, kinds, languages,
balance); their failure messages name row ids, never the texts.

Script rules: English has no Chinese characters or full-width punctuation; Chinese has Chinese characters
and no Latin word of two or more letters, except entity-like tokens (hosts such as web-07, IPs, paths,
file names); mixed has Chinese characters and a Latin word outside such tokens. Rows of kind `empty` have no
letters or digits at all; their language is that of their punctuation: ASCII or emoji only (en), full-width
only (zh), or both (mix).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from labelled_turns import CJK, LANGS, LATIN_WORD, load_rows

PATH = Path(__file__).resolve().parents[1] / "memory_core" / "decide" / "data" / "judge-train.jsonl"
FIELDS = {"id", "text", "lang", "should_recall", "kind"}
RECALL_KINDS = {
    "user_owned", "explicit_recall", "preference_context", "goal_context", "comfort_context",
    "named_entity_question", "fact_entity", "style_reference",
}  # fmt: skip
SKIP_KINDS = {"empty", "low_value", "general_knowledge", "one_off_command", "high_risk_operation", "smalltalk"}
MINIMUM = 850
MAX_WORDS = 40  # English and mixed: whitespace-separated tokens
MAX_ZH_CHARS = 80  # Chinese: characters, about 40 words

CJK_PUNCT = re.compile(r"[\u3000-\u303f\uff00-\uffef]")
ASCII_PUNCT = re.compile(r"[!-/:-@\[-`{-~]")
ENTITY = re.compile(
    r"""(?<![\w./~-])(?:
        ~?/[\w./-]+                                          # paths: /var/log, ~/notes/todo.md
      | \d{1,3}(?:\.\d{1,3}){3}(?::\d+)?                     # IPv4, with an optional port
      | [A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*-\d+[A-Za-z0-9]*  # hosts ending in a number: web-07, ci-runner-3
      | [\w-]+\.(?:txt|md|py|log|conf|json|jsonl|csv|ya?ml|toml|sh|ini|docx|xlsx|pdf)  # file names
    )(?![\w/-])""",
    re.VERBOSE | re.ASCII,
)

ROWS = load_rows(PATH)


def _latin_words(text: str) -> bool:
    return bool(LATIN_WORD.search(ENTITY.sub(" ", text)))


def _lang_fits(row: dict[str, Any]) -> bool:
    lang, text = row["lang"], row["text"]
    if row["kind"] == "empty":
        full, half = bool(CJK_PUNCT.search(text)), bool(ASCII_PUNCT.search(text))
        return {"en": not full, "zh": full and not half, "mix": full and half}[lang]
    has_cjk = bool(CJK.search(text))
    if lang == "en":
        return not has_cjk and not CJK_PUNCT.search(text) and bool(re.search(r"[A-Za-z]", text))
    if lang == "zh":
        return has_cjk and not _latin_words(text)
    return has_cjk and _latin_words(text)


def _well_formed(row: dict[str, Any]) -> bool:
    text = row.get("text")
    return (set(row) == FIELDS and isinstance(row["id"], str) and isinstance(text, str) and bool(text)
            and text == text.strip() and "\n" not in text and isinstance(row["should_recall"], bool)
            and row["lang"] in LANGS)  # fmt: skip


def _ids(rows: list[dict[str, Any]]) -> list[str]:
    return [row["id"] for row in rows]


def _text_key(row: dict[str, Any]) -> str:
    """Case, spacing and outer punctuation do not make a text new (rows of kind empty compare as written)."""
    text: str = row["text"]
    if row["kind"] == "empty":
        return text
    squeezed = re.sub(r"\s+", " ", text.casefold())
    return re.sub(r"^[\W_]+|[\W_]+$", "", squeezed)


def test_rows_have_the_documented_fields() -> None:
    assert [row.get("id") for row in ROWS if not _well_formed(row)] == []


def test_kinds_are_the_documented_ones_on_the_side_of_their_label() -> None:
    wrong = [row["id"] for row in ROWS if row["kind"] not in (RECALL_KINDS if row["should_recall"] else SKIP_KINDS)]
    assert wrong == []


def test_ids_are_unique_and_sequential() -> None:
    expected = [f"t{i:04d}" for i in range(1, len(ROWS) + 1)]
    assert [(got, want) for got, want in zip(_ids(ROWS), expected, strict=True) if got != want] == []


def test_texts_are_unique() -> None:
    counts = Counter(_text_key(row) for row in ROWS)
    assert [row["id"] for row in ROWS if counts[_text_key(row)] > 1] == []


def test_only_empty_rows_lack_letters_and_digits() -> None:
    assert [row["id"] for row in ROWS if (row["kind"] == "empty") == bool(re.search(r"\w", row["text"]))] == []


def test_text_matches_its_language() -> None:
    assert [row["id"] for row in ROWS if not _lang_fits(row)] == []


def test_entity_tokens_are_recognised() -> None:
    """The exemption for Chinese rows covers hosts, IPs, paths and file names, not ordinary words."""
    for token in ("web-07", "ci-runner-3", "10.0.3.12", "192.168.1.40:8080", "/var/log", "~/notes/todo.md",
                  "config.yaml"):  # fmt: skip
        assert not _latin_words(f"看一下{token}上的"), token
    for word in ("ok", "check", "web", "db-prod", "backup"):
        assert _latin_words(f"看一下{word}上的"), word


def test_lengths_stay_within_forty_words() -> None:
    def too_long(row: dict[str, Any]) -> bool:
        if row["lang"] == "zh":
            return len(row["text"]) > MAX_ZH_CHARS
        return len(row["text"].split()) > MAX_WORDS

    assert [row["id"] for row in ROWS if too_long(row)] == []


def test_size_and_balance() -> None:
    n = len(ROWS)
    assert n >= MINIMUM, f"{n} rows, fewer than {MINIMUM}"
    recall = sum(row["should_recall"] for row in ROWS)
    assert 0.45 <= recall / n <= 0.55, f"{recall}/{n} rows should recall"
    langs = Counter(row["lang"] for row in ROWS)
    bands = {"en": (0.35, 0.45), "zh": (0.35, 0.45), "mix": (0.15, 0.25)}
    assert [lang for lang, (low, high) in bands.items() if not low <= langs[lang] / n <= high] == [], langs
    for lang in LANGS:
        rows = [row for row in ROWS if row["lang"] == lang]
        share = sum(row["should_recall"] for row in rows) / len(rows)
        assert 0.40 <= share <= 0.60, f"{lang}: {share:.2f} of its rows should recall"


def test_every_kind_appears_in_every_language() -> None:
    present = {(row["lang"], row["kind"]) for row in ROWS}
    missing = [(lang, kind) for lang in sorted(LANGS) for kind in sorted(RECALL_KINDS | SKIP_KINDS)]
    assert [pair for pair in missing if pair not in present] == []
