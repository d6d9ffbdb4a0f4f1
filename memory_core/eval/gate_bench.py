"""The write gate alone over labelled turns: precision and recall of what it writes, per language.

Reads either a JSONL file of turns ({"text", "should_write", "lang"}) or a conversations file (the
`bench conversation` format), and runs `decide_write` on each user turn with a non-empty reply, with the
write judge where the engine would use it (the local e5 in use).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError
from ..write.gate import WriteScorer, decide_write


def labelled_turns(path: str | Path) -> Iterator[tuple[str, str, bool]]:
    """(lang, text, should_write) for every turn of the file."""
    text = Path(path).read_text(encoding="utf-8")
    if str(path).endswith(".jsonl"):
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        yield from ((row.get("lang", "?"), row["text"], bool(row["should_write"])) for row in rows)
        return
    for conversation in json.loads(text)["conversations"]:
        for turn in (t for session in conversation["sessions"] for t in session):
            yield conversation["lang"], turn["text"], bool(turn["should_write"])


def run_gate(path: str | Path, scorer: WriteScorer | None = None) -> dict[str, Any]:
    """Precision, recall and counts of the gate's writes, overall and per language, and the reasons; "judged"
    counts the writes the scorer made where the rules found nothing lasting."""
    counts: dict[str, list[int]] = {}
    reasons: dict[str, int] = {}
    try:
        turns = list(labelled_turns(path))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInputError(f"cannot read labelled turns from {path}: {exc}") from exc
    judged = 0
    for lang, text, wanted in turns:
        decision = decide_write(text, "ok", scorer=scorer)
        judged += any("write_judge" in item.metadata for item in decision.items)  # kept by the judge, not the rules
        reasons[decision.reason] = reasons.get(decision.reason, 0) + 1
        outcome = _outcome(decision.action == "write", wanted)
        for key in ("all", lang):
            tally = counts.setdefault(key, [0, 0, 0])  # written right, written wrong, missed
            if outcome is not None:
                tally[outcome] += 1
    by_lang = {lang: _scores(tally) for lang, tally in sorted(counts.items()) if lang != "all"}
    return {"benchmark": "gate", "turns": len(turns), "judge": scorer is not None, "judged": judged,
            **_scores(counts.get("all", [0, 0, 0])), "by_lang": by_lang, "reasons": reasons}  # fmt: skip


def _outcome(written: bool, wanted: bool) -> int | None:
    if written:
        return 0 if wanted else 1
    return 2 if wanted else None


def _scores(tally: list[int]) -> dict[str, Any]:
    tp, fp, fn = tally
    precision = round(tp / (tp + fp), 4) if tp + fp else None
    recall = round(tp / (tp + fn), 4) if tp + fn else None
    return {
        "write_precision": precision,
        "write_recall": recall,
        "written_right": tp,
        "written_wrong": fp,
        "missed": fn,
    }
