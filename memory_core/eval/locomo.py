"""Reading a LoCoMo file (Maharana et al., 2024) into items and questions for the retrieval benchmark."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError
from ..models import NewItem

ITEM_FORMATS = ("dated", "plain")
_SESSION = re.compile(r"^session_(\d+)$")
# Published evidence ids include "D8:6; D9:17", "D:11:26" and "D30:05": all normalise to "D<n>:<m>".
_EVIDENCE = re.compile(r"D:?(\d+):0*(\d+)")


@dataclass(frozen=True)
class Question:
    text: str
    evidence: tuple[str, ...]
    category: int


@dataclass(frozen=True)
class Conversation:
    sample_id: str
    items: tuple[NewItem, ...]
    questions: tuple[Question, ...]
    dropped_evidence: int  # evidence ids that name no turn of the conversation
    questions_without_evidence: int  # questions whose evidence all dropped (not asked)


def load_locomo(path: str | Path, *, item_format: str = "dated") -> tuple[Conversation, ...]:
    """Every conversation of a LoCoMo JSON file; raises InvalidInputError on a malformed file."""
    if item_format not in ITEM_FORMATS:
        raise InvalidInputError(f"item format must be one of {', '.join(ITEM_FORMATS)}, got {item_format!r}")
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"cannot read LoCoMo file {path}: {exc}") from exc
    if not isinstance(data, list):
        raise InvalidInputError("a LoCoMo file is a JSON list of conversations")
    return tuple(_conversation(c, n, item_format) for n, c in enumerate(data))


def normalise_evidence(raw: Any) -> list[str]:
    """All "D<session>:<turn>" ids found in one evidence entry."""
    return [f"D{s}:{t}" for s, t in _EVIDENCE.findall(str(raw))]


def _turn_text(turn: Mapping[str, Any], date: str, item_format: str) -> str:
    text = f"{turn['speaker']}: {turn['text']}"
    if turn.get("blip_caption"):
        text += f" ({turn['blip_caption']})"
    return f"[{date}] {text}" if item_format == "dated" and date else text


def _conversation(raw: Any, index: int, item_format: str) -> Conversation:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("conversation"), Mapping):
        raise InvalidInputError(f"conversation {index} has no 'conversation' object")
    conv = raw["conversation"]
    sample_id = str(raw.get("sample_id") or f"conv-{index}")
    items = []
    sessions = sorted((int(m.group(1)), m.group(0)) for k in conv if (m := _SESSION.match(k)))
    for _, key in sessions:
        date = str(conv.get(f"{key}_date_time") or "")
        for turn in conv[key]:
            metadata = {"dia_id": turn["dia_id"], "speaker": turn["speaker"], "session": key, "session_date": date}
            items.append(
                NewItem(_turn_text(turn, date, item_format), "chat_turn", id=turn["dia_id"], metadata=metadata)
            )
    known = {item.id for item in items}
    questions, dropped, unanswerable = [], 0, 0
    for qa in raw.get("qa", []):
        entries = qa.get("evidence") or []
        if not entries:
            continue
        ids = [e for entry in entries for e in normalise_evidence(entry)]
        kept = tuple(dict.fromkeys(e for e in ids if e in known))
        dropped += sum(1 for entry in entries if not normalise_evidence(entry)) + sum(1 for e in ids if e not in known)
        if not kept:
            unanswerable += 1
            continue
        questions.append(Question(str(qa["question"]), kept, int(qa.get("category") or 0)))
    return Conversation(sample_id, tuple(items), tuple(questions), dropped, unanswerable)
