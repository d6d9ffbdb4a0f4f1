"""Taught examples: a user's corrections of recall decisions, stored per character with their embedding."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from ..errors import InvalidInputError, NotFoundError
from ..models import (
    MAX_SOURCE_LENGTH,
    MAX_TEXT_LENGTH,
    NewTaughtExample,
    TaughtExample,
    check_id,
    check_text,
    parse_timestamp,
)
from .base import StoreBase
from .connection import Connection

_SELECT_EXAMPLES = "SELECT id, owner, character_id, text, should_recall, model, vector, created_at FROM taught_examples"
_INSERT_EXAMPLE = (
    "INSERT INTO taught_examples (owner, character_id, id, text, should_recall, model, vector, created_at, seq) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM taught_examples))"
)
_FLOAT32 = 4
# What makes two examples of one owner and character the same lesson: an import skips a repeat.
_ExampleKey = tuple[str, bool, str]


class TeachingMixin(StoreBase):
    """Taught examples of one character, shared (owner '') or one profile's own."""

    def teach(
        self, character_id: str, text: str, should_recall: bool, vector: bytes, model: str, *, owner: str = ""
    ) -> TaughtExample:
        """Store a correction: ``text`` should (or should not) have recalled; ``vector`` is its float32 embedding."""
        character_id, owner = check_id(character_id, what="character_id"), _owner(owner)
        example = checked_example(NewTaughtExample(text, should_recall, model, vector))
        with self._writing() as conn:
            taught = _taught(owner, character_id, example, self._clock())
            conn.execute(_INSERT_EXAMPLE, _values(taught))
        return taught

    def add_taught_examples(
        self, character_id: str, examples: Sequence[NewTaughtExample], *, owner: str = ""
    ) -> tuple[TaughtExample, ...]:
        """Store a batch of examples in one transaction; returns those stored, in batch order.

        An example the owner already has for the character (same text, label and model), or one that repeats
        an earlier one of the batch, is skipped, so importing the same file twice adds nothing the second time.
        """
        character_id, owner = check_id(character_id, what="character_id"), _owner(owner)
        batch = [checked_example(example) for example in examples]
        with self._writing() as conn:
            fresh = _unseen(batch, _example_keys(conn, owner, character_id))
            now = self._clock()
            stored = [_taught(owner, character_id, example, now) for example in fresh]
            conn.executemany(_INSERT_EXAMPLE, [_values(taught) for taught in stored])
        return tuple(stored)

    def taught_examples(self, character_id: str, *, owner: str = "") -> tuple[TaughtExample, ...]:
        """The character's taught examples of one owner, oldest first."""
        character_id, owner = check_id(character_id, what="character_id"), _owner(owner)
        query = f"{_SELECT_EXAMPLES} WHERE owner = ? AND character_id = ? ORDER BY created_at, seq"
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


def checked_example(example: NewTaughtExample) -> NewTaughtExample:
    """The example with text, model and timestamp normalised; InvalidInputError names the first bad field."""
    text = _required(example.text, what="text", max_length=MAX_TEXT_LENGTH)
    if not isinstance(example.should_recall, bool):
        raise InvalidInputError(f"should_recall must be a boolean, got {type(example.should_recall).__name__}")
    vector = example.vector
    if not isinstance(vector, bytes) or not vector or len(vector) % _FLOAT32:
        raise InvalidInputError("vector must be non-empty float32 bytes")
    model = _required(example.model, what="model", max_length=MAX_SOURCE_LENGTH)  # model names hold slashes
    created_at = example.created_at
    if created_at is not None:
        created_at = parse_timestamp(check_text(created_at, what="created_at"), what="created_at")
    return replace(example, text=text, model=model, created_at=created_at)


def _example_keys(conn: Connection, owner: str, character_id: str) -> set[_ExampleKey]:
    query = "SELECT text, should_recall, model FROM taught_examples WHERE owner = ? AND character_id = ?"
    rows = conn.execute(query, (owner, character_id)).fetchall()
    return {(str(text), bool(should_recall), str(model)) for text, should_recall, model in rows}


def _unseen(batch: Iterable[NewTaughtExample], seen: set[_ExampleKey]) -> list[NewTaughtExample]:
    fresh = []
    for example in batch:
        key = (example.text, example.should_recall, example.model)
        if key not in seen:
            seen.add(key)
            fresh.append(example)
    return fresh


def _taught(owner: str, character_id: str, new: NewTaughtExample, now: str) -> TaughtExample:
    example_id = f"ex_{uuid.uuid4().hex[:12]}"
    return TaughtExample(example_id, owner, character_id, new.text, new.should_recall, new.model, new.vector,
                         new.created_at or now)  # fmt: skip


def _values(example: TaughtExample) -> tuple[Any, ...]:
    return (example.owner, example.character_id, example.id, example.text, int(example.should_recall),
            example.model, example.vector, example.created_at)  # fmt: skip


def _owner(owner: str) -> str:
    return "" if owner == "" else check_id(owner, what="owner")


def _required(value: str, *, what: str, max_length: int) -> str:
    value = check_text(value, what=what, max_length=max_length).strip()
    if not value:
        raise InvalidInputError(f"{what} is empty")
    return value


def _row(row: tuple[Any, ...]) -> TaughtExample:
    example_id, owner, character_id, text, should_recall, model, vector, created_at = row
    return TaughtExample(str(example_id), str(owner), str(character_id), str(text), bool(should_recall),
                         str(model), bytes(vector), str(created_at))  # fmt: skip
