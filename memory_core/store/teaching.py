"""Taught examples: a user's corrections of recall decisions, stored per character with their embedding."""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

from ..errors import InvalidInputError, NotFoundError
from ..models import MAX_SOURCE_LENGTH, MAX_TEXT_LENGTH, TaughtExample, check_id, check_text
from .base import StoreBase

_SELECT_EXAMPLES = "SELECT id, owner, character_id, text, should_recall, model, vector, created_at FROM taught_examples"
_FLOAT32 = 4


class TeachingMixin(StoreBase):
    """Taught examples of one character, shared (owner '') or one profile's own."""

    def teach(
        self, character_id: str, text: str, should_recall: bool, vector: bytes, model: str, *, owner: str = ""
    ) -> TaughtExample:
        """Store a correction: ``text`` should (or should not) have recalled; ``vector`` is its float32 embedding."""
        character_id, owner = check_id(character_id, what="character_id"), _owner(owner)
        text = _required(text, what="text", max_length=MAX_TEXT_LENGTH)
        if not isinstance(should_recall, bool):
            raise InvalidInputError(f"should_recall must be a boolean, got {type(should_recall).__name__}")
        if not isinstance(vector, bytes) or not vector or len(vector) % _FLOAT32:
            raise InvalidInputError("vector must be non-empty float32 bytes")
        model = _required(model, what="model", max_length=MAX_SOURCE_LENGTH)  # model names hold slashes
        example_id = f"ex_{uuid.uuid4().hex[:12]}"
        with self._writing() as conn:
            conn.execute(
                "INSERT INTO taught_examples (owner, character_id, id, text, should_recall, model, vector, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (owner, character_id, example_id, text, int(should_recall), model, vector, self._clock()),
            )
            return _example(conn, owner, character_id, example_id)

    def taught_examples(self, character_id: str, *, owner: str = "") -> tuple[TaughtExample, ...]:
        """The character's taught examples of one owner, oldest first."""
        character_id, owner = check_id(character_id, what="character_id"), _owner(owner)
        query = f"{_SELECT_EXAMPLES} WHERE owner = ? AND character_id = ? ORDER BY created_at, rowid"
        with self._reading() as conn:
            rows = conn.execute(query, (owner, character_id)).fetchall()
        return tuple(_row(row) for row in rows)

    def forget_example(self, example_id: str, *, character_id: str, owner: str = "") -> None:
        """Delete one taught example; NotFoundError if the owner has no such example for the character."""
        character_id, owner = check_id(character_id, what="character_id"), _owner(owner)
        example_id = check_id(example_id, what="example_id")
        with self._writing() as conn:
            gone = conn.execute("DELETE FROM taught_examples WHERE owner = ? AND character_id = ? AND id = ?",
                                (owner, character_id, example_id))  # fmt: skip
            if gone.rowcount == 0:
                raise NotFoundError(f"taught example {example_id!r} not found")


def _owner(owner: str) -> str:
    return "" if owner == "" else check_id(owner, what="owner")


def _required(value: str, *, what: str, max_length: int) -> str:
    value = check_text(value, what=what, max_length=max_length).strip()
    if not value:
        raise InvalidInputError(f"{what} is empty")
    return value


def _example(conn: sqlite3.Connection, owner: str, character_id: str, example_id: str) -> TaughtExample:
    query = f"{_SELECT_EXAMPLES} WHERE owner = ? AND character_id = ? AND id = ?"
    row = conn.execute(query, (owner, character_id, example_id)).fetchone()
    if row is None:
        raise NotFoundError(f"taught example {example_id!r} not found")
    return _row(row)


def _row(row: tuple[Any, ...]) -> TaughtExample:
    example_id, owner, character_id, text, should_recall, model, vector, created_at = row
    return TaughtExample(str(example_id), str(owner), str(character_id), str(text), bool(should_recall),
                         str(model), bytes(vector), str(created_at))  # fmt: skip
