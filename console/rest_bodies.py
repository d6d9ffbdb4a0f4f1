"""The REST API's request shapes: every string checked for lone surrogates, every field bounded.

memory_core enforces ids, item types and non-blank text itself (a 400), so those rules are declared in
the OpenAPI schema without pydantic enforcing them (pydantic would answer 422 instead).
"""

# No `from __future__ import annotations`: FastAPI and pydantic read these annotations at run time.

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from memory_core.demo import DEMO_CHARACTER_ID, DEMO_LIBRARY_ID, DEMO_PROFILE_ID
from memory_core.models import (
    BLANK_OR_ID_PATTERN,
    CONFIDENCES,
    ID_PATTERN,
    ITEM_TYPES,
    MAX_ID_LENGTH,
    MAX_SOURCE_LENGTH,
    MAX_TEXT_LENGTH,
    NOT_BLANK_PATTERN,
    check_text,
)
from memory_core.store.sqlite import MAX_LIBRARY_NAME_LENGTH

MAX_LIST_LIMIT = 10_000
MAX_OFFSET = 10**9
MAX_RECALL_LIMIT = 100
MAX_IMPORT_TURNS = 1_000
MAX_BULK_IDS = 10_000
MAX_LABEL_LENGTH = 32  # item types and confidences are short words


def _unicode(value: str) -> str:
    return check_text(value, what="text")


def _declared(pattern: str | None = None, enum: Sequence[str] = ()) -> dict[str, Any]:
    """Schema keywords that memory_core enforces (with a 400), so pydantic must not (it would answer 422)."""
    keywords: dict[str, Any] = {"pattern": pattern} if pattern else {}
    return keywords | ({"enum": list(enum)} if enum else {})


# Field types: every string is checked for lone surrogates (pydantic answers 422) and has a declared bound.
# Ids must match ID_PATTERN (memory_core's check_id answers 400), which keeps a blank character_id a 400.
# In a path, "." and ".." are not ids: a URL resolves them before any route sees them.
_ID = _declared(ID_PATTERN)
_BLANK_OR_ID = _declared(BLANK_OR_ID_PATTERN)
_PATH_ID = _declared(ID_PATTERN.replace("^", r"^(?!\.\.?$)", 1))
_NOT_BLANK = _declared(NOT_BLANK_PATTERN)
Text = Annotated[str, AfterValidator(_unicode)]
Id = Annotated[Text, Field(min_length=1, max_length=MAX_ID_LENGTH, json_schema_extra=_ID)]
BlankOrId = Annotated[Text, Field(max_length=MAX_ID_LENGTH, json_schema_extra=_BLANK_OR_ID)]
Category = Annotated[Text, Field(max_length=MAX_ID_LENGTH)]
ItemType = Annotated[Text, Field(max_length=MAX_LABEL_LENGTH, json_schema_extra=_declared(enum=ITEM_TYPES))]
Confidence = Annotated[Text, Field(max_length=MAX_LABEL_LENGTH, json_schema_extra=_declared(enum=CONFIDENCES))]
ItemText = Annotated[Text, Field(max_length=MAX_TEXT_LENGTH, json_schema_extra=_NOT_BLANK)]
LibraryName = Annotated[Text, Field(max_length=MAX_LIBRARY_NAME_LENGTH)]
Mode = Literal["rule", "hybrid", "llm", "always"]
ProfileId = Annotated[
    Text,
    Query(
        max_length=MAX_ID_LENGTH,
        json_schema_extra=_BLANK_OR_ID,
        examples=[DEMO_PROFILE_ID],
        description="Whose memory; blank means the configured default profile.",
    ),
]
CharacterId = Annotated[
    Text,
    Query(
        min_length=1,
        max_length=MAX_ID_LENGTH,
        json_schema_extra=_ID,
        examples=[DEMO_CHARACTER_ID],
        description="The character (required; whitespace-only is a 400).",
    ),
]
LibraryId = Annotated[
    Text,
    Path(
        min_length=1,
        max_length=MAX_ID_LENGTH,
        json_schema_extra=_PATH_ID,
        examples=[DEMO_LIBRARY_ID],
        description="The library's id.",
    ),
]
CharacterPathId = Annotated[
    Text,
    Path(
        min_length=1,
        max_length=MAX_ID_LENGTH,
        json_schema_extra=_PATH_ID,
        examples=[DEMO_CHARACTER_ID],
        description="The character's id.",
    ),
]
ExampleId = Annotated[
    Text, Path(min_length=1, max_length=MAX_ID_LENGTH, json_schema_extra=_PATH_ID, description="The example's id.")
]
ItemId = Annotated[
    Text, Path(min_length=1, max_length=MAX_ID_LENGTH, json_schema_extra=_PATH_ID, description="The item's id.")
]


# Request bodies


class LenientBody(BaseModel):
    """Bodies of the reference's own endpoints: unknown fields are ignored, as the reference ignores them,
    so its existing clients keep working against Memtune."""

    model_config = ConfigDict(extra="ignore")


class StrictBody(BaseModel):
    """Bodies of Memtune's own endpoints: a misspelt field is a 422, never an edit silently dropped."""

    model_config = ConfigDict(extra="forbid")


class LibraryCreate(LenientBody):
    id: BlankOrId | None = Field(None, description="Library id; defaults to lib_ + 12 hex characters.")
    name: LibraryName | None = Field(None, description="Display name; blank means the store's default name.")
    profile_id: BlankOrId | None = None
    character_id: Id


class Turn(LenientBody):
    role: Literal["user", "assistant"]
    content: Annotated[Text, Field(min_length=1, max_length=MAX_TEXT_LENGTH)]


class TurnImport(LenientBody):
    profile_id: BlankOrId | None = None
    character_id: Id
    turns: list[Turn] = Field(max_length=MAX_IMPORT_TURNS)
    source: Annotated[Text, Field(max_length=MAX_SOURCE_LENGTH)] = Field(
        "api", description="Recorded as the items' metadata source."
    )


class LibraryRename(StrictBody):
    name: Annotated[LibraryName, Field(json_schema_extra=_NOT_BLANK)]


class ItemCreate(StrictBody):
    text: ItemText
    type: ItemType = "note"
    category: Category = ""
    confidence: Confidence = ""
    metadata: dict[str, Any] = Field(
        default_factory=dict, description="At most 20 levels deep and 64 KB as JSON; its strings must be valid text."
    )
    id: Id | None = Field(None, description="Item id; a random hex id when omitted.")


class ItemEdit(StrictBody):
    text: ItemText | None = None
    type: ItemType | None = None
    category: Category | None = None
    confidence: Confidence | None = None
    metadata: dict[str, Any] | None = None


class BulkDelete(StrictBody):
    ids: list[Annotated[Text, Field(max_length=MAX_ID_LENGTH)]] = Field(max_length=MAX_BULK_IDS)


class Mem0Ids(StrictBody):
    ids: list[Annotated[Text, Field(max_length=MAX_ID_LENGTH)]] = Field(
        min_length=1, max_length=MAX_BULK_IDS, description="Mem0 ids, as the unfiled listing gives them."
    )


class DecideRequest(StrictBody):
    text: Text = Field(description="At most MEMTUNE_MAX_TEXT_CHARS characters (default 20,000); longer is a 400.")
    mode: Mode | None = Field(None, description="Defaults to the configured decision mode.")


class RecallRequest(StrictBody):
    text: Text = Field(description="At most MEMTUNE_MAX_TEXT_CHARS characters (default 20,000); longer is a 400.")
    profile_id: BlankOrId | None = None
    character_id: Id
    library_id: BlankOrId | None = None
    mode: Mode | None = None
    limit: int | None = Field(None, ge=1, le=MAX_RECALL_LIMIT, description="Defaults to the configured limit.")
    min_score: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="Defaults to the configured minimum; never below 0."
    )


class ExampleCreate(StrictBody):
    text: ItemText = Field(description="The message whose recall decision is being corrected.")
    should_recall: bool = Field(description="What the decision should have been.")


class ErrorBody(BaseModel):
    detail: str
