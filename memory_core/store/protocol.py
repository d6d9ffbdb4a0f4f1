"""What the engine, the REST layer and the UI need from a store, as protocols; `SQLiteStore` is one store.

Every method validates its arguments: a scope or id that is not one raises InvalidInputError, and a failure
of the database underneath raises ProviderError. The docstrings name the other errors a method raises.
Optional fast paths (the dense index's `MatrixSource`) are detected where they are used, not required here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from ..models import (
    Change,
    Character,
    ItemEvent,
    ItemFilter,
    Library,
    MemoryItem,
    NewItem,
    NewTaughtExample,
    Page,
    Scope,
    TaughtExample,
)
from .rows import ALL_ITEMS


class WriteLimits(Protocol):
    """Quotas per profile, checked inside the write's transaction (a public sandbox's); None is no limit."""

    def max_items(self, profile_id: str) -> int | None: ...

    def max_text(self, profile_id: str) -> int | None: ...


class ChangeFeed(Protocol):
    """A library's change feed, which search indexes follow."""

    def changes_since(self, scope: Scope, seq: int) -> tuple[Change, ...]:
        """The library's events after ``seq``, oldest first."""
        ...

    def snapshot(self, scope: Scope) -> tuple[int, tuple[MemoryItem, ...]]:
        """The change cursor and every current item, read together so no change falls between them."""
        ...


class ItemStore(Protocol):
    """A library's items; every change is recorded in the item's history."""

    def add_items(
        self,
        scope: Scope,
        items: Sequence[NewItem],
        *,
        source: str = "api",
        on_conflict: str = "error",
        create_library_name: str | None = None,
        supersedes: Sequence[str] = (),
    ) -> tuple[MemoryItem, ...]:
        """Store a batch atomically, in batch order; NotFoundError without the library (unless it is to be
        created), ConflictError for existing ids when ``on_conflict`` is "error", QuotaError over a limit."""
        ...

    def get_item(self, scope: Scope, item_id: str) -> MemoryItem:
        """One item of the scope's library; NotFoundError if it is not there."""
        ...

    def edit_item(
        self,
        scope: Scope,
        item_id: str,
        *,
        text: str | None = None,
        type: str | None = None,
        category: str | None = None,
        confidence: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        source: str = "api",
    ) -> MemoryItem:
        """Change the given fields (an edit that changes nothing records nothing); NotFoundError, QuotaError."""
        ...

    def mark_seen(self, scope: Scope, item_id: str, *, source: str = "session") -> MemoryItem:
        """Count a memory said again (`seen`, `last_seen_at`), text untouched; NotFoundError if it is not there."""
        ...

    def supersede(self, scope: Scope, old_ids: Sequence[str], new_id: str, *, source: str = "api") -> None:
        """Mark current items superseded by ``new_id``, ignoring unknown old ids; NotFoundError without ``new_id``."""
        ...

    def delete_item(self, scope: Scope, item_id: str, *, source: str = "api") -> None:
        """Delete one item; NotFoundError if it is not in the scope's library."""
        ...

    def delete_items(self, scope: Scope, item_ids: Iterable[str], *, source: str = "api") -> int:
        """Delete the listed items that exist (unknown ids are ignored); returns how many were deleted."""
        ...

    def list_items(self, scope: Scope, filter: ItemFilter = ALL_ITEMS, *, offset: int = 0, limit: int = 50) -> Page:
        """One page of the library's items, newest first, with the filtered total; InvalidInputError off range."""
        ...

    def iter_items(self, scope: Scope, filter: ItemFilter = ALL_ITEMS) -> Iterator[MemoryItem]:
        """Every matching item in list order, read in batches so memory stays flat."""
        ...

    def items_by_id(self, scope: Scope, ids: Iterable[str]) -> dict[str, MemoryItem]:
        """The listed items that exist, keyed by id."""
        ...

    def history(self, scope: Scope, item_id: str) -> tuple[ItemEvent, ...]:
        """An item's events, oldest first, kept after it is deleted; NotFoundError if it never existed."""
        ...


class VectorStore(Protocol):
    """Item vectors per embedding model, kept in step by the dense index."""

    def vectors(self, scope: Scope, model: str) -> dict[str, tuple[str, bytes]]:
        """The library's stored vectors for one model: item id -> (text hash, float32 bytes)."""
        ...

    def put_vectors(self, scope: Scope, model: str, dims: int, rows: Sequence[tuple[str, str, bytes]]) -> int:
        """Store (item id, text hash, vector bytes) rows, skipping items deleted meanwhile; returns rows written."""
        ...


class LibraryStore(Protocol):
    """A profile's and character's named libraries."""

    def ensure_library(self, scope: Scope, name: str | None = None) -> Library:
        """The scope's library, created first if missing (an existing one is left unchanged)."""
        ...

    def create_library(self, scope: Scope, name: str | None = None) -> Library:
        """Create the scope's library; ConflictError if it already exists."""
        ...

    def get_library(self, scope: Scope) -> Library:
        """The scope's library with its item count; NotFoundError if it does not exist."""
        ...

    def list_libraries(self, scope: Scope) -> tuple[Library, ...]:
        """Every library of the scope's profile and character, most recently updated first."""
        ...

    def rename_library(self, scope: Scope, name: str) -> Library:
        """Give the scope's library a new name; NotFoundError if it does not exist."""
        ...

    def delete_library(self, scope: Scope, *, source: str = "api") -> int:
        """Delete the library and its items (their history is kept); returns how many items went with it."""
        ...

    def recent_libraries(self, limit: int) -> tuple[Scope, ...]:
        """The ``limit`` most recently updated libraries of every profile (what a start-up warms)."""
        ...

    def list_profiles(self) -> tuple[str, ...]:
        """Every profile that owns at least one library."""
        ...


class CharacterStore(Protocol):
    """The character catalogue: shared characters (owner '') and a profile's own."""

    def save_character(self, character_id: str, name: str, persona: str, *, owner: str = "") -> Character:
        """Create or update a character, its memories untouched; InvalidInputError for a persona too long."""
        ...

    def get_character(self, character_id: str, *, owner: str = "") -> Character:
        """One character of the owner; NotFoundError if the owner has none by that id."""
        ...

    def list_characters(self, *, owner: str = "") -> tuple[Character, ...]:
        """The characters of one owner ('' is the shared catalogue)."""
        ...


class TeachingStore(Protocol):
    """Taught examples: corrections of recall decisions, per character, with their embedding."""

    def teach(
        self, character_id: str, text: str, should_recall: bool, vector: bytes, model: str, *, owner: str = ""
    ) -> TaughtExample:
        """Store one correction (``vector``: its float32 embedding); InvalidInputError names a bad field."""
        ...

    def add_taught_examples(
        self, character_id: str, examples: Sequence[NewTaughtExample], *, owner: str = ""
    ) -> tuple[TaughtExample, ...]:
        """Store a batch in one transaction, skipping examples the owner already has; returns those stored."""
        ...

    def taught_examples(self, character_id: str, *, owner: str = "") -> tuple[TaughtExample, ...]:
        """The character's taught examples of one owner, oldest first."""
        ...

    def forget_example(self, example_id: str, *, character_id: str, owner: str = "") -> None:
        """Delete one taught example; NotFoundError if the owner has no such example for the character."""
        ...


class ProfileStore(Protocol):
    """A profile as a whole, and the small facts of the meta table (what the sandboxes and the demo keep)."""

    limits: WriteLimits | None  # checked by every write, inside its transaction

    def purge_profile(self, profile_id: str) -> int:
        """Delete everything the profile owns in one transaction; returns the number of items deleted."""
        ...

    def get_meta(self, key: str) -> str | None:
        """The meta value under ``key``, None if unset."""
        ...

    def set_meta(self, key: str, value: str) -> None:
        """Set (or overwrite) the meta value under ``key``."""
        ...

    def delete_meta(self, key: str) -> None:
        """Remove the meta value under ``key`` (nothing happens if it is unset)."""
        ...

    def meta_with_prefix(self, prefix: str) -> dict[str, str]:
        """Every meta entry whose key starts with ``prefix`` (matched literally)."""
        ...


class Store(ChangeFeed, ItemStore, VectorStore, LibraryStore, CharacterStore, TeachingStore, ProfileStore, Protocol):
    """Everything the engine, the REST layer and the UI use of a store."""

    def describe(self) -> str:
        """What kind of store this is, for the console's provider note (never a secret such as a password)."""
        ...

    def close(self) -> None:
        """Release the store's connections; it cannot be used afterwards."""
        ...
