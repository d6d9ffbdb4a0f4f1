"""Plain values that cross module boundaries: scope, libraries, items, their history."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from .errors import InvalidInputError

ITEM_TYPES: tuple[str, ...] = ("fact", "preference", "knowledge", "chat_turn", "summary", "note")
CONFIDENCES: tuple[str, ...] = ("", "high", "medium", "low", "unknown")
# The reference's category vocabulary; other strings are accepted and grouped under "Other memories".
CATEGORIES: tuple[str, ...] = (
    "user_preference",
    "entity_relation",
    "goal_progress",
    "decision_plan",
    "feedback_correction",
    "episode_summary",
    "mem0_candidate",
    "user_identity",  # Memtune's own: who the user is (name, age, work, home)
    "user_health",  # Memtune's own: allergies, conditions, diet
)
# What a recall may look for, and the reasons an LLM judge may give (its answer schema's vocabulary).
RECALL_CATEGORIES: tuple[str, ...] = tuple(c for c in CATEGORIES if c != "mem0_candidate")
JUDGE_REASONS: tuple[str, ...] = (
    "identity", "preference", "health", "people", "goal", "plan", "past_conversation", "feedback",
    "personal_context", "general_knowledge", "greeting", "small_talk", "one_off_command",
)  # fmt: skip
EVENTS: tuple[str, ...] = ("add", "update", "delete")

MAX_ID_LENGTH = 128
MAX_TEXT_LENGTH = 20_000
MAX_SOURCE_LENGTH = 256
MAX_METADATA_DEPTH = 20
MAX_METADATA_BYTES = 65_536
DEFAULT_PROFILE_ID = "default"
DEFAULT_LIBRARY_ID = "default"

_ID_FORBIDDEN = re.compile(r"[\s\x00-\x1f\x7f/\\]")

# The same rules as regular expressions that read alike in Python and in ECMA-262 (JSON Schema), for API
# schemas. Spaces are spelled out: they are exactly what str.strip() removes, and ECMA's \s is not Python's.
_SPACES = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_ID_CHARS = r"[^\x00-\x20\x7f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000/\\]"
# What check_id accepts (up to MAX_ID_LENGTH): one run of id characters, with spaces around it.
ID_PATTERN = rf"^[{_SPACES}]*{_ID_CHARS}+[{_SPACES}]*$"
# An id or only spaces, where a blank value takes a default; and text that is not empty once stripped.
BLANK_OR_ID_PATTERN = rf"^[{_SPACES}]*({_ID_CHARS}+[{_SPACES}]*)?$"
NOT_BLANK_PATTERN = rf"[^{_SPACES}]"


def utc_timestamp(moment: datetime | None = None) -> str:
    """ISO-8601 UTC with microseconds and a trailing Z, the store's only timestamp format."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(value: str, *, what: str = "timestamp") -> str:
    """Normalise an ISO-8601 timestamp to the store's format; naive values are taken as UTC."""
    text = (value or "").strip()
    if not text:
        raise InvalidInputError(f"{what} is empty")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInputError(f"{what} {value!r} is not an ISO-8601 timestamp") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return utc_timestamp(moment)


def check_text(value: str, *, what: str, max_length: int | None = None) -> str:
    """Return ``value`` unchanged if it is a string of valid Unicode no longer than ``max_length``.

    Lone surrogates (which JSON's \\ud800 escapes can produce) cannot be encoded, so SQLite and every
    response would fail on them later: they are rejected here, before anything is written.
    """
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a string, got {type(value).__name__}")
    if max_length is not None and len(value) > max_length:
        raise InvalidInputError(f"{what} is longer than {max_length} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(f"{what} is not valid Unicode text (a lone surrogate)") from None
    return value


def check_metadata(metadata: Mapping[str, Any], *, what: str = "metadata") -> dict[str, Any]:
    """A JSON-ready copy of metadata: at most MAX_METADATA_DEPTH levels deep and MAX_METADATA_BYTES serialised.

    The walk is iterative, so a structure deep enough to overflow the stack is rejected rather than crashing
    json.dumps; the strings in it (keys and values) must be valid Unicode.
    """
    if not isinstance(metadata, Mapping):
        raise InvalidInputError(f"{what} must be an object")
    _walk_metadata(metadata, what)
    try:
        serialised = json.dumps(dict(metadata), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{what} is not JSON-serialisable: {exc}") from exc
    if len(serialised.encode("utf-8")) > MAX_METADATA_BYTES:
        raise InvalidInputError(f"{what} is larger than {MAX_METADATA_BYTES} bytes as JSON")
    loaded: dict[str, Any] = json.loads(serialised)
    return loaded


def _walk_metadata(metadata: Mapping[str, Any], what: str) -> None:
    # Every value serialises to at least one byte, so counting them bounds the walk even for shared sub-objects.
    budget = MAX_METADATA_BYTES
    pending: list[tuple[Any, int]] = [(metadata, 1)]
    while pending:
        value, depth = pending.pop()
        budget -= 1 + (len(value) if isinstance(value, str) else 0)
        if budget < 0:
            raise InvalidInputError(f"{what} is larger than {MAX_METADATA_BYTES} bytes as JSON")
        if isinstance(value, str):
            check_text(value, what=f"{what} value")
        elif isinstance(value, Mapping | list | tuple):
            pending.extend(_children(value, depth, what))


def _children(value: Mapping[Any, Any] | list[Any] | tuple[Any, ...], depth: int, what: str) -> list[tuple[Any, int]]:
    if depth > MAX_METADATA_DEPTH:
        raise InvalidInputError(f"{what} is nested deeper than {MAX_METADATA_DEPTH} levels")
    if not isinstance(value, Mapping):
        return [(child, depth + 1) for child in value]
    for key in value:
        if isinstance(key, str):
            check_text(key, what=f"{what} key")
    return [(child, depth + 1) for child in value.values()]


def check_id(value: str, *, what: str) -> str:
    """Strip an id and reject what would break scoping or file names: blanks, whitespace, slashes."""
    text = check_text(value or "", what=what).strip()
    if not text:
        raise InvalidInputError(f"{what} is required")
    if len(text) > MAX_ID_LENGTH:
        raise InvalidInputError(f"{what} is longer than {MAX_ID_LENGTH} characters")
    if _ID_FORBIDDEN.search(text):
        raise InvalidInputError(f"{what} {text!r} contains whitespace, a slash or a control character")
    return text


@dataclass(frozen=True)
class Scope:
    """Whose memory: a profile (the user), a character, and one of their libraries."""

    profile_id: str
    character_id: str
    library_id: str = DEFAULT_LIBRARY_ID

    @classmethod
    def of(
        cls,
        profile_id: str | None,
        character_id: str | None,
        library_id: str | None = None,
        *,
        default_profile_id: str = DEFAULT_PROFILE_ID,
        default_library_id: str = DEFAULT_LIBRARY_ID,
    ) -> Scope:
        """Normalise as the reference does: blank profile and library take defaults, character is required."""
        profile = (profile_id or "").strip() or default_profile_id or DEFAULT_PROFILE_ID
        library = (library_id or "").strip() or default_library_id or DEFAULT_LIBRARY_ID
        return cls(
            profile_id=check_id(profile, what="profile_id"),
            character_id=check_id(character_id or "", what="character_id"),
            library_id=check_id(library, what="library_id"),
        )

    def with_library(self, library_id: str) -> Scope:
        return replace(self, library_id=check_id(library_id, what="library_id"))


@dataclass(frozen=True)
class Character:
    """A chat character: its id (the memory scope's character_id), display name and persona prompt."""

    id: str
    name: str
    persona: str
    created_at: str
    updated_at: str


MAX_PERSONA_LENGTH = 8000


@dataclass(frozen=True)
class TaughtExample:
    """A user's correction of a recall decision: a message of one character's chat and whether it should
    have recalled, with its query embedding (float32 bytes) and the model that made it."""

    id: str
    owner: str  # the profile that taught it; '' is shared by every profile
    character_id: str
    text: str
    should_recall: bool
    model: str
    vector: bytes = field(repr=False)
    created_at: str


@dataclass(frozen=True)
class NewTaughtExample:
    """A taught example to store (from an imported library file); id and owner come from the store, and the
    store's clock fills ``created_at`` unless it is given."""

    text: str
    should_recall: bool
    model: str
    vector: bytes = field(repr=False)
    created_at: str | None = None


@dataclass(frozen=True)
class Library:
    id: str
    name: str
    profile_id: str
    character_id: str
    memory_count: int
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)  # slots: a library of 100k items holds 100k of these
class MemoryItem:
    id: str
    text: str
    type: str
    category: str
    confidence: str
    source: str
    metadata: Mapping[str, Any]
    profile_id: str
    character_id: str
    library_id: str
    created_at: str
    updated_at: str

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready: the lossless export form."""
        return {
            "id": self.id,
            "text": self.text,
            "type": self.type,
            "category": self.category,
            "confidence": self.confidence,
            "source": self.source,
            "metadata": dict(self.metadata),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class NewItem:
    """What a caller hands the store; id and timestamps are filled in by the store unless given."""

    text: str
    type: str = "note"
    category: str = ""
    confidence: str = ""
    source: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None

    @classmethod
    def from_dict(cls, row: Mapping[str, Any], *, what: str = "Item") -> NewItem:
        """Build from an export row, rejecting unknown keys so typos do not vanish silently.

        ``what`` names the row in messages, which read "Row 3: the text must be a string, got int"."""
        allowed = {"id", "text", "type", "category", "confidence", "source", "metadata", "created_at", "updated_at"}
        unknown = set(row) - allowed
        if unknown:
            raise InvalidInputError(f"{what}: unknown fields {', '.join(sorted(unknown))}")
        metadata = row.get("metadata") or {}
        if not isinstance(metadata, Mapping):
            raise InvalidInputError(f"{what}: the metadata must be an object")
        the = f"{what}: the"
        return cls(
            text=_as_str(row.get("text"), f"{the} text"),
            type=_as_str(row.get("type") or "note", f"{the} type"),
            category=_as_str(row.get("category") or "", f"{the} category"),
            confidence=_as_str(row.get("confidence") or "", f"{the} confidence"),
            source=_as_str(row.get("source") or "", f"{the} source"),
            metadata=dict(metadata),
            id=_as_str(row["id"], f"{the} id") if row.get("id") not in (None, "") else None,
            created_at=_as_str(row["created_at"], f"{the} created_at") if row.get("created_at") else None,
            updated_at=_as_str(row["updated_at"], f"{the} updated_at") if row.get("updated_at") else None,
        )


def _as_str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a string, got {type(value).__name__}")
    return value


def validate_new_item(item: NewItem, *, what: str = "item") -> NewItem:
    """Check and normalise one item before it is written; raises InvalidInputError naming the field."""
    text = item.text.strip() if isinstance(item.text, str) else ""
    if not text:
        raise InvalidInputError(f"{what} text is empty")
    check_text(text, what=f"{what} text", max_length=MAX_TEXT_LENGTH)
    if item.type not in ITEM_TYPES:
        raise InvalidInputError(f"{what} type {item.type!r} is not one of {', '.join(ITEM_TYPES)}")
    if item.confidence not in CONFIDENCES:
        raise InvalidInputError(
            f"{what} confidence {item.confidence!r} is not one of {', '.join(c for c in CONFIDENCES if c)}"
        )
    check_text(item.category, what=f"{what} category", max_length=MAX_ID_LENGTH)
    check_text(item.source, what=f"{what} source", max_length=MAX_SOURCE_LENGTH)
    return replace(
        item,
        text=text,
        metadata=check_metadata(item.metadata, what=f"{what} metadata"),
        id=check_id(item.id, what=f"{what} id") if item.id is not None else None,
        created_at=parse_timestamp(item.created_at, what=f"{what} created_at") if item.created_at else None,
        updated_at=parse_timestamp(item.updated_at, what=f"{what} updated_at") if item.updated_at else None,
    )


@dataclass(frozen=True)
class ItemFilter:
    """List filters; None means "any". text_contains is a case-insensitive substring."""

    type: str | None = None
    category: str | None = None
    text_contains: str | None = None


@dataclass(frozen=True)
class Page:
    items: tuple[MemoryItem, ...]
    total: int
    offset: int
    limit: int


@dataclass(frozen=True)
class ItemEvent:
    """One entry of an item's history: what happened, when, from where, and the item before/after."""

    seq: int
    item_id: str
    library_id: str
    event: str
    at: str
    source: str
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None


@dataclass(frozen=True)
class Change:
    """One row of a library's change feed, used to keep search indexes in step with the store."""

    seq: int
    item_id: str
    event: str
