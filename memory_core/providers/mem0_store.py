"""The Mem0 provider's store: libraries and a catalogue of items in SQLite, every item also in Mem0.

Writes go to Mem0 first (infer=False, through its public `add`), then to the catalogue, so the API
keeps our stable ids while Mem0's raw id rides along as `_mem0_id` in the item's metadata. Smart
writes (infer=True) come back as new memories and are recorded in the catalogue the same way.
Edits and deletes go through Mem0's `update` / `delete` by `_mem0_id`; an item's history shows
Mem0's history beside ours. Listing reads the catalogue, which has no cap.

Memories Mem0 holds for a profile and character that the catalogue has not filed are "unfiled": a Pipecat
bot's own writes, with no `run_id` (no library) or with its library's `run_id` but unknown here. `unfiled`
lists them; `adopt` files them into a library: catalogued as they are when Mem0 already has them under
that library's `run_id`, else written again with it (Mem0's `update` cannot move a memory) and the
original deleted.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import ConflictError, NotFoundError, ProviderError
from ..models import ItemEvent, MemoryItem, NewItem, Scope, utc_timestamp, validate_new_item
from ..store.sqlite import SQLiteStore
from .mem0_backend import Mem0Backend

MEM0_ID = "_mem0_id"
OUR_ID = "opentalking_memory_id"
ADOPTED_FROM = "adopted_from"  # the Mem0 id an adopted memory had while it was unfiled


def mem0_metadata(item: MemoryItem | NewItem, item_id: str) -> dict[str, Any]:
    """What Mem0 stores with a memory: our fields and id (Mem0 adds library, profile and character)."""
    extra = {k: v for k, v in dict(item.metadata).items() if k != MEM0_ID}
    return {
        **extra,
        OUR_ID: item_id,
        "type": item.type,
        "category": item.category,
        "confidence": item.confidence,
        "source": item.source,
    }


class Mem0Store(SQLiteStore):
    """A SQLiteStore whose items are written through to Mem0."""

    def __init__(
        self,
        path: str | Path,
        backend: Mem0Backend,
        *,
        clock: Callable[[], str] = utc_timestamp,
        on_close: Sequence[Callable[[], None]] = (),
    ) -> None:
        super().__init__(path, clock=clock)
        self.backend = backend
        self._on_close = list(on_close)

    def describe(self) -> str:
        """Mem0 and the backend it stores in, for the console's provider note."""
        return f"Mem0: {self.backend.name}"

    def close(self) -> None:
        """Close the catalogue, Mem0, and what was started for it (a local embeddings server)."""
        super().close()
        self.backend.close()
        for close in self._on_close:
            close()

    # -- writes through Mem0 ------------------------------------------------------------------------

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
        checked = [
            replace(validate_new_item(item, what=f"item {n}"), id=item.id or uuid.uuid4().hex)
            for n, item in enumerate(items)
        ]
        existing = self.items_by_id(scope, [i.id for i in checked if i.id])
        if existing and on_conflict == "error":
            raise ConflictError(f"item ids already exist in the library: {', '.join(sorted(existing))}")
        if on_conflict == "skip":
            checked = [i for i in checked if i.id not in existing]
        if create_library_name is None:
            self.get_library(scope)  # a missing library is NotFoundError before anything reaches Mem0
        written: list[NewItem] = []
        try:
            for item in checked:
                written.append(self._to_mem0(scope, item, existing.get(item.id or "")))
            return super().add_items(scope, written, source=source, on_conflict=on_conflict,
                                     create_library_name=create_library_name, supersedes=supersedes)  # fmt: skip
        except Exception:
            for item in written:
                if item.id not in existing:
                    self._forget_in_mem0(str(item.metadata.get(MEM0_ID, "")))
            raise

    def _to_mem0(self, scope: Scope, item: NewItem, old: MemoryItem | None) -> NewItem:
        item_id = item.id or uuid.uuid4().hex
        old_mem0 = str(old.metadata.get(MEM0_ID, "")) if old else ""
        if old_mem0:
            self.backend.update(scope, old_mem0, item.text, mem0_metadata(item, item_id))
            mem0_id = old_mem0
        else:
            mem0_id = self.backend.add_raw(scope, item.text, mem0_metadata(item, item_id))
        return replace(item, metadata={**dict(item.metadata), MEM0_ID: mem0_id})

    def record_smart(self, scope: Scope, rows: Sequence[dict[str, Any]], base: NewItem) -> tuple[MemoryItem, ...]:
        """Catalogue the memories a smart write created in Mem0 (they are in Mem0 already)."""
        items = [
            replace(
                base,
                text=str(row.get("memory") or ""),
                id=uuid.uuid4().hex,
                metadata={**dict(base.metadata), MEM0_ID: str(row["id"])},
            )
            for row in rows
            if str(row.get("memory") or "").strip()
        ]
        return super().add_items(scope, items, source="session") if items else ()

    def _resolved(self, scope: Scope, item: MemoryItem) -> str:
        """The item's Mem0 id; a platform add still marked pending is looked up by our id in Mem0."""
        mem0_id = str(item.metadata.get(MEM0_ID, ""))
        if not mem0_id.startswith("pending:"):
            return mem0_id
        for row in self.backend.list_all(scope):
            if str((row.get("metadata") or {}).get(OUR_ID)) == item.id:
                real = str(row["id"])
                SQLiteStore.edit_item(
                    self, scope, item.id, metadata={**dict(item.metadata), MEM0_ID: real}, source="mem0-sync"
                )
                return real
        raise ProviderError(f"Mem0 has not processed memory {item.id} yet; try again shortly")

    def edit_item(self, scope: Scope, item_id: str, **changes: Any) -> MemoryItem:
        before = self.get_item(scope, item_id)
        preview = replace(before, **{k: v for k, v in changes.items() if k != "source" and v is not None})
        mem0_id = self._resolved(scope, before)
        if mem0_id:
            self.backend.update(scope, mem0_id, preview.text, mem0_metadata(preview, item_id))
        else:  # an item from before the switch to Mem0: it joins Mem0 now
            metadata = dict(preview.metadata)
            metadata[MEM0_ID] = self.backend.add_raw(scope, preview.text, mem0_metadata(preview, item_id))
            changes["metadata"] = metadata
        return super().edit_item(scope, item_id, **changes)

    def delete_item(self, scope: Scope, item_id: str, *, source: str = "api") -> None:
        item = self.get_item(scope, item_id)
        self._forget_in_mem0(self._resolved(scope, item))
        super().delete_item(scope, item_id, source=source)

    def delete_items(self, scope: Scope, item_ids: Iterable[str], *, source: str = "api") -> int:
        found = self.items_by_id(scope, list(item_ids))
        for item in found.values():
            self._forget_in_mem0(self._resolved(scope, item))
        return super().delete_items(scope, list(found), source=source)

    def delete_library(self, scope: Scope, *, source: str = "api") -> int:
        self.get_library(scope)
        for item in list(self.iter_items(scope)):
            self._forget_in_mem0(self._resolved(scope, item))
        return super().delete_library(scope, source=source)

    def _forget_in_mem0(self, mem0_id: str) -> None:
        if not mem0_id:
            return
        try:
            self.backend.delete(mem0_id)
        except ProviderError as exc:
            if "not found" not in str(exc).lower():  # already gone from Mem0 is fine
                raise

    # -- reads that involve Mem0 ---------------------------------------------------------------------

    def history(self, scope: Scope, item_id: str) -> tuple[ItemEvent, ...]:
        """Our events, then Mem0's own history of the memory (source "mem0")."""
        ours = super().history(scope, item_id)
        try:
            mem0_id = self._resolved(scope, self.get_item(scope, item_id))
        except (NotFoundError, ProviderError):
            return ours
        if not mem0_id:
            return ours
        theirs = [
            ItemEvent(
                0,
                item_id,
                scope.library_id,
                str(h.get("event", "")).lower(),
                str(h.get("updated_at") or h.get("created_at") or ""),
                "mem0",
                {"text": h.get("old_memory")} if h.get("old_memory") else None,
                {"text": h.get("new_memory")} if h.get("new_memory") else None,
            )
            for h in self.backend.history(mem0_id)
        ]
        return (*ours, *theirs)

    def by_mem0_rows(self, scope: Scope, rows: Sequence[dict[str, Any]]) -> list[MemoryItem]:
        """Our items for Mem0 results (by our id, else by _mem0_id); a memory we never saw is shown as is."""
        ours = [str((row.get("metadata") or {}).get(OUR_ID) or "") for row in rows]
        items = self.items_by_id(scope, [i for i in ours if i])
        by_mem0: dict[str, MemoryItem] = {}
        if len(items) < len(rows):  # smart-write memories carry no id of ours: find them by Mem0's id
            by_mem0 = {str(i.metadata.get(MEM0_ID)): i for i in self.iter_items(scope) if i.metadata.get(MEM0_ID)}
        return [
            items.get(our_id) or by_mem0.get(str(row.get("id"))) or _transient(scope, row)
            for our_id, row in zip(ours, rows, strict=True)
        ]

    def push_library(self, scope: Scope, progress: Callable[[int, int], None] | None = None) -> int:
        """Copy the library's items that are not in Mem0 yet into Mem0; returns how many."""
        missing = [item for item in self.iter_items(scope) if not item.metadata.get(MEM0_ID)]
        for n, item in enumerate(missing, start=1):
            mem0_id = self.backend.add_raw(scope, item.text, mem0_metadata(item, item.id))
            SQLiteStore.edit_item(
                self, scope, item.id, metadata={**dict(item.metadata), MEM0_ID: mem0_id}, source="mem0-copy"
            )
            if progress is not None:
                progress(n, len(missing))
        return len(missing)

    def pull_library(self, scope: Scope) -> int:
        """Catalogue the library's Mem0 memories that are not here yet (made elsewhere); returns how many."""
        known = {str(i.metadata.get(MEM0_ID)) for i in self.iter_items(scope)}
        rows = [r for r in self.backend.list_all(scope) if str(r.get("id")) not in known]
        items = [_transient(scope, row) for row in rows]
        new = [NewItem(i.text, i.type, i.category, i.confidence, i.source or "mem0", i.metadata) for i in items]
        return len(SQLiteStore.add_items(self, scope, new, source="mem0-copy", create_library_name=scope.library_id))

    # -- memories outside every library --------------------------------------------------------------

    def unfiled(self, profile_id: str, character_id: str) -> list[MemoryItem]:
        """Mem0's memories of this profile and character that no library here lists (library id: Mem0's run_id)."""
        return [_transient(Scope(profile_id, character_id, str(row.get("run_id") or "")), row)
                for row in self._unfiled_rows(profile_id, character_id).values()]  # fmt: skip

    def _unfiled_rows(self, profile_id: str, character_id: str) -> dict[str, dict[str, Any]]:
        # Filed: catalogued in the library whose run_id Mem0 holds it under. A memory catalogued before
        # libraries were run ids has none in Mem0, so it shows here and adopting it files it in Mem0 too.
        owner = Scope(profile_id, character_id)
        filed = {(str(item.metadata.get(MEM0_ID)), library.id) for library in self.list_libraries(owner)
                 for item in self.iter_items(replace(owner, library_id=library.id))}  # fmt: skip
        rows = self.backend.list_owned(profile_id, character_id)
        return {str(row.get("id")): row for row in rows if (str(row.get("id")), row.get("run_id") or "") not in filed}

    def adopt(self, scope: Scope, mem0_ids: Sequence[str]) -> tuple[MemoryItem, ...]:
        """File unfiled memories (by Mem0 id) into the library; an unknown id is NotFoundError, nothing moved."""
        self.get_library(scope)
        rows = self._unfiled_rows(scope.profile_id, scope.character_id)
        wanted = list(dict.fromkeys(mem0_ids))
        missing = [mem0_id for mem0_id in wanted if mem0_id not in rows]
        if missing:
            raise NotFoundError(f"no unfiled memory with id {', '.join(missing)}")
        return tuple(self._adopt_one(scope, rows[mem0_id]) for mem0_id in wanted)

    def _adopt_one(self, scope: Scope, row: dict[str, Any]) -> MemoryItem:
        found = _transient(scope, row)
        known = self.items_by_id(scope, [found.id]).get(found.id)  # catalogued before libraries were run ids
        base = known or replace(found, id=uuid.uuid4().hex, source="mem0-adopt")
        original = str(row.get("id"))
        if row.get("run_id") == scope.library_id:  # in Mem0's copy of the library already: catalogue it
            return self._catalogue_adopted(scope, base, known, {**dict(base.metadata), MEM0_ID: original})
        metadata = {**mem0_metadata(base, base.id), ADOPTED_FROM: original}
        mem0_id = self.backend.add_raw(scope, base.text, metadata)
        try:
            filed = self._catalogue_adopted(scope, base, known, {**dict(base.metadata), MEM0_ID: mem0_id})
        except Exception:
            self._forget_in_mem0(mem0_id)
            raise
        self._forget_in_mem0(original)
        return filed

    def _catalogue_adopted(
        self, scope: Scope, base: MemoryItem, known: MemoryItem | None, metadata: dict[str, Any]
    ) -> MemoryItem:
        if known is not None:
            return SQLiteStore.edit_item(self, scope, known.id, metadata=metadata, source="mem0-adopt")
        new = NewItem(base.text, base.type, base.category, base.confidence, "mem0-adopt", metadata, id=base.id)
        (item,) = SQLiteStore.add_items(self, scope, [new], source="mem0-adopt")
        return item


def _transient(scope: Scope, row: dict[str, Any]) -> MemoryItem:
    """A Mem0 memory as an item, for memories created outside this catalogue."""
    metadata = dict(row.get("metadata") or {})
    now = str(row.get("updated_at") or row.get("created_at") or utc_timestamp())
    kind = str(metadata.get("type") or "note")
    return MemoryItem(
        id=str(metadata.get(OUR_ID) or row.get("id")),
        text=str(row.get("memory") or ""),
        type=kind if kind in ("fact", "preference", "knowledge", "chat_turn", "summary", "note") else "note",
        category=str(metadata.get("category") or "mem0_candidate"),
        confidence=str(metadata.get("confidence") or ""),
        source=str(metadata.get("source") or "mem0"),
        metadata={**{k: v for k, v in metadata.items() if k != OUR_ID}, MEM0_ID: str(row.get("id"))},
        profile_id=scope.profile_id,
        character_id=scope.character_id,
        library_id=scope.library_id,
        created_at=str(row.get("created_at") or now),
        updated_at=now,
    )
