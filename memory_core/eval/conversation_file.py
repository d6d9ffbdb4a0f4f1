"""The conversation benchmark's file: multi-session chats and their probes, checked as they are read.

Format (as ../shared/data/conversations-dev.json):
{"conversations": [{"id", "lang": "en"|"zh"|"mix", "profile_id", "character_id",
  "sessions": [[{"id", "text", "should_write": bool, "kind", "fact"}]],
  "probes": [{"id", "text", "expect_recall": bool, "relevant": [turn ids], "keywords": [...],
              "supersedes": [turn ids]}]}]}
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError
from ..models import Scope

LANGS = ("en", "zh", "mix")


@dataclass(frozen=True)
class Turn:
    id: str
    text: str
    should_write: bool
    kind: str = ""


@dataclass(frozen=True)
class Probe:
    id: str
    text: str
    expect_recall: bool
    relevant: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    supersedes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Conversation:
    id: str
    lang: str
    profile_id: str
    character_id: str
    sessions: tuple[tuple[Turn, ...], ...]
    probes: tuple[Probe, ...] = ()

    @property
    def scope(self) -> Scope:
        """Each conversation is its own scope: its profile and character, and a library named after it."""
        return Scope.of(self.profile_id, self.character_id, self.id)

    @property
    def turns(self) -> tuple[Turn, ...]:
        return tuple(turn for session in self.sessions for turn in session)

    def texts(self, turn_ids: Sequence[str]) -> frozenset[str]:
        """The stripped texts of the named turns."""
        by_id = {turn.id: turn.text.strip() for turn in self.turns}
        return frozenset(by_id[i] for i in turn_ids if i in by_id)


def load_conversations(path: str | Path) -> tuple[Conversation, ...]:
    """Read and check a conversation set; a malformed file is an InvalidInputError naming the problem."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"cannot read conversation set {path}: {exc}") from exc
    rows = data.get("conversations") if isinstance(data, Mapping) else None
    if not isinstance(rows, list) or not rows:
        raise InvalidInputError(f"{path}: expected {{'conversations': [...]}} with at least one conversation")
    conversations = tuple(_conversation(row, f"{path}: conversation {n}") for n, row in enumerate(rows, 1))
    _unique([c.id for c in conversations], f"{path}: conversation id")
    return conversations


def _conversation(raw: Any, where: str) -> Conversation:
    row = _object(raw, where)
    where = f"{where} ({_text(row, 'id', where)!r})"
    lang = _text(row, "lang", where)
    if lang not in LANGS:
        raise InvalidInputError(f"{where}: 'lang' must be one of {', '.join(LANGS)}, got {lang!r}")
    sessions = tuple(_session(s, f"{where}, session {n}") for n, s in enumerate(_list(row, "sessions", where), 1))
    if not sessions:
        raise InvalidInputError(f"{where}: 'sessions' is empty")
    probes = tuple(_probe(p, f"{where}, probe {n}") for n, p in enumerate(_list(row, "probes", where), 1))
    conversation = Conversation(_text(row, "id", where), lang, _text(row, "profile_id", where),
                                _text(row, "character_id", where), sessions, probes)  # fmt: skip
    _check_references(conversation, where)
    return conversation


def _session(raw: Any, where: str) -> tuple[Turn, ...]:
    if not isinstance(raw, list) or not raw:
        raise InvalidInputError(f"{where}: a session is a non-empty list of turns")
    return tuple(_turn(t, f"{where}, turn {n}") for n, t in enumerate(raw, 1))


def _turn(raw: Any, where: str) -> Turn:
    row = _object(raw, where)
    return Turn(_text(row, "id", where), _text(row, "text", where), _flag(row, "should_write", where),
                _text(row, "kind", where, required=False))  # fmt: skip


def _probe(raw: Any, where: str) -> Probe:
    row = _object(raw, where)
    return Probe(_text(row, "id", where), _text(row, "text", where), _flag(row, "expect_recall", where),
                 _strings(row, "relevant", where), _strings(row, "keywords", where),
                 _strings(row, "supersedes", where))  # fmt: skip


def _check_references(conversation: Conversation, where: str) -> None:
    try:
        conversation.scope  # noqa: B018 - the ids must make a valid scope
    except InvalidInputError as exc:
        raise InvalidInputError(f"{where}: {exc}") from None
    known = [turn.id for turn in conversation.turns]
    _unique(known, f"{where}: turn id")
    _unique([probe.id for probe in conversation.probes], f"{where}: probe id")
    for probe in conversation.probes:
        unknown = sorted(set(probe.relevant + probe.supersedes) - set(known))
        if unknown:
            raise InvalidInputError(f"{where}, probe {probe.id!r}: unknown turn ids {', '.join(unknown)}")


def _object(raw: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise InvalidInputError(f"{where}: expected an object, got {type(raw).__name__}")
    return raw


def _text(row: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str:
    value = row.get(key, None if required else "")
    if not isinstance(value, str):
        raise InvalidInputError(f"{where}: {key!r} must be a string, got {type(value).__name__}")
    if required and not value.strip():
        raise InvalidInputError(f"{where}: {key!r} is empty")
    return value


def _flag(row: Mapping[str, Any], key: str, where: str) -> bool:
    value = row.get(key)
    if not isinstance(value, bool):
        raise InvalidInputError(f"{where}: {key!r} must be true or false, got {json.dumps(value)}")
    return value


def _list(row: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = row.get(key)
    if not isinstance(value, list):
        raise InvalidInputError(f"{where}: {key!r} must be a list, got {type(value).__name__}")
    return value


def _strings(row: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    values = _list(row, key, where) if key in row else []
    if not all(isinstance(v, str) and v.strip() for v in values):
        raise InvalidInputError(f"{where}: {key!r} must be a list of non-empty strings")
    return tuple(values)


def _unique(ids: Sequence[str], what: str) -> None:
    repeated = sorted(i for i, n in Counter(ids).items() if n > 1)
    if repeated:
        raise InvalidInputError(f"{what}s must be unique, repeated: {', '.join(repeated)}")
