"""Libraries & items callbacks: list, create, rename, delete, edit, history, import and export."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from memory_core import (
    InvalidInputError,
    ItemFilter,
    MemoryEngine,
    NewItem,
    NotFoundError,
    ProviderError,
    Scope,
    Store,
    audit_library,
    read_library_file,
    write_library_file,
)
from memory_core.markup import inert, inert_code
from memory_core.views import ITEM_COLUMNS, audit_markdown, item_rows

from .downloads import download_path

LIBRARY_COLUMNS = ["id", "name", "memory_count", "created_at", "updated_at"]
HISTORY_COLUMNS = ["seq", "event", "at", "source", "text before", "text after"]
MAX_TURNS_FILE = 5_000
NEW_ITEM_TYPE = "note"  # what the editor starts from: a new memory inherits nothing from the last picked row


def store_of(engine: MemoryEngine) -> Store:
    if engine.store is None:
        raise gr.Error("The memory provider is 'none': there are no libraries to manage.")
    return engine.store


def scope_of(engine: MemoryEngine, profile: str, character: str, library: str | None = None) -> Scope:
    settings = engine.settings
    return Scope.of(profile, character, library, default_profile_id=settings.default_profile_id,
                    default_library_id=settings.default_library_id)  # fmt: skip


def libraries_table(engine: MemoryEngine, profile: str, character: str) -> pd.DataFrame:
    libraries = store_of(engine).list_libraries(scope_of(engine, profile, character))
    rows = [[lib.id, lib.name, lib.memory_count, lib.created_at, lib.updated_at] for lib in libraries]
    return pd.DataFrame(rows, columns=LIBRARY_COLUMNS)


def create_library(engine: MemoryEngine, profile: str, character: str, library: str, name: str) -> str:
    created = store_of(engine).create_library(scope_of(engine, profile, character, library), name or None)
    return f"Created library **{inert(created.name)}** ({inert_code(created.id)})."


def rename_library(engine: MemoryEngine, profile: str, character: str, library: str, name: str) -> str:
    renamed = store_of(engine).rename_library(scope_of(engine, profile, character, library), name)
    return f"Renamed {inert_code(renamed.id)} to **{inert(renamed.name)}**."


def delete_library(engine: MemoryEngine, profile: str, character: str, library: str, confirmed: bool) -> str:
    if not confirmed:
        raise InvalidInputError("Tick the confirmation box first: deleting a library deletes all its memories.")
    deleted = store_of(engine).delete_library(scope_of(engine, profile, character, library), source="ui")
    return f"Deleted library {inert_code(library)} and its {deleted} memories (their history is kept)."


def items_page(
    engine: MemoryEngine,
    profile: str,
    character: str,
    library: str,
    item_type: str,
    category: str,
    text: str,
    page: float,
    page_size: float,
) -> tuple[pd.DataFrame, str]:
    """One page of the library's items with the filters applied, and a line saying where we are.

    A library that does not exist is an error, not an empty page: "0 matching memories" would hide a typo."""
    size = max(1, int(page_size or 20))
    number = max(1, int(page or 1))
    found = ItemFilter(type=item_type or None, category=(category or "").strip() or None,
                       text_contains=(text or "").strip() or None)  # fmt: skip
    scope = existing_library(engine, profile, character, library)
    result = store_of(engine).list_items(scope, found, offset=(number - 1) * size, limit=size)
    pages = max(1, -(-result.total // size))
    table = pd.DataFrame(item_rows(result.items), columns=ITEM_COLUMNS)
    return table, f"Page {number} of {pages} · {result.total} matching memories"


def existing_library(engine: MemoryEngine, profile: str, character: str, library: str) -> Scope:
    """The scope of a library that exists, else a NotFoundError naming it and the character."""
    scope = scope_of(engine, profile, character, library)
    try:
        store_of(engine).get_library(scope)
    except NotFoundError as exc:
        raise NotFoundError(
            f"No library {scope.library_id!r} for character {scope.character_id!r}: check the id, "
            "or create it with Create library."
        ) from exc
    return scope


def empty_items() -> pd.DataFrame:
    return pd.DataFrame([], columns=ITEM_COLUMNS)


def empty_libraries() -> pd.DataFrame:
    return pd.DataFrame([], columns=LIBRARY_COLUMNS)


def library_audit(engine: MemoryEngine, profile: str, character: str, library: str) -> str:
    """The write audit of the whole library (not just the page): questions, repeats, superseded, summaries."""
    scope = scope_of(engine, profile, character, library)
    return audit_markdown(audit_library(store_of(engine).iter_items(scope)), scope.library_id)


def item_details(
    engine: MemoryEngine, profile: str, character: str, library: str, item_id: str
) -> tuple[str, str, str, str, str, pd.DataFrame]:
    """The chosen item in the edit form, with its history."""
    scope = scope_of(engine, profile, character, library)
    store = store_of(engine)
    item = store.get_item(scope, item_id)
    events = store.history(scope, item_id)
    rows = [[e.seq, e.event, e.at, e.source, (e.before or {}).get("text", ""), (e.after or {}).get("text", "")]
            for e in events]  # fmt: skip
    history = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    return item.id, item.text, item.type, item.category, item.confidence, history


def blank_editor() -> tuple[str, str, str, str, str, pd.DataFrame]:
    """The editor for a new memory: no id, no text, the default type, no category, no confidence, no history."""
    return "", "", NEW_ITEM_TYPE, "", "", pd.DataFrame([], columns=HISTORY_COLUMNS)


def save_item(
    engine: MemoryEngine,
    profile: str,
    character: str,
    library: str,
    item_id: str,
    text: str,
    item_type: str,
    category: str,
    confidence: str,
) -> tuple[str, str]:
    """Edit the item in the form, or add it as new when the id field is empty; the message and the item's id."""
    scope = scope_of(engine, profile, character, library)
    store = store_of(engine)
    category, confidence = (category or "").strip(), confidence or ""
    if (item_id or "").strip():
        item = store.edit_item(scope, item_id.strip(), text=text, type=item_type, category=category,
                               confidence=confidence, source="ui")  # fmt: skip
        engine.refresh(scope, [])
        return f"Saved {inert_code(item.id)}.", item.id
    (item,) = store.add_items(scope, [NewItem(text, item_type, category, confidence, "ui")], source="ui")
    engine.refresh(scope, [])
    return f"Added {inert_code(item.id)}: the editor now shows it, so saving again edits it.", item.id


def delete_item(engine: MemoryEngine, profile: str, character: str, library: str, item_id: str,
                confirmed: bool) -> str:  # fmt: skip
    """Delete the memory in the editor, only once the visitor has confirmed it."""
    wanted = (item_id or "").strip()
    if not wanted:
        raise InvalidInputError("Pick a memory in the table first: the editor holds no saved memory.")
    if not confirmed:
        raise InvalidInputError(f"Tick “Yes, delete this memory” first: {wanted} was not deleted.")
    deleted = store_of(engine).delete_items(scope_of(engine, profile, character, library), [wanted], source="ui")
    if not deleted:
        raise NotFoundError(f"Memory {wanted} is not in this library (already deleted?).")
    return f"Deleted {inert_code(wanted)}."


def delete_items(engine: MemoryEngine, profile: str, character: str, library: str, ids: str, confirmed: bool) -> str:
    """Delete the memories whose ids the visitor listed (separated by commas, spaces or new lines), once confirmed."""
    wanted = [i for i in re.split(r"[\s,;]+", ids or "") if i]
    if not wanted:
        raise InvalidInputError("List the ids of the memories to delete first.")
    if not confirmed:
        raise InvalidInputError(f"Tick the confirmation box first: none of the {len(wanted)} memories was deleted.")
    deleted = store_of(engine).delete_items(scope_of(engine, profile, character, library), wanted, source="ui")
    return f"Deleted {deleted} of {len(wanted)} memories."


def import_file(
    engine: MemoryEngine,
    profile: str,
    character: str,
    library: str,
    path: str | None,
    kind: str,
    on_conflict: str,
    progress: Callable[..., Any],
) -> str:
    """Import a library file (JSON/CSV) or a JSON list of chat turns, classified on the way in."""
    if not path:
        raise InvalidInputError("Choose a file to import first.")
    scope = scope_of(engine, profile, character, library)
    store = store_of(engine)
    progress(0.1, desc="Reading the file")
    if kind == "chat turns":
        turns = read_turns(Path(path))
        progress(0.4, desc=f"Classifying {len(turns)} turns")
        store.ensure_library(scope)
        written = engine.import_turns(scope, turns, source="ui_import")
        progress(1.0, desc="Done")
        return f"Kept {len(written)} of {len(turns)} turns as memories (user turns worth remembering)."
    report = read_library_file(store, scope, Path(path), on_conflict=on_conflict)

    def step(done: int, total: int) -> None:
        progress(0.3 + 0.7 * done / max(total, 1), desc=f"Embedding {done} of {total}")

    engine.refresh(scope, [], step)
    progress(1.0, desc="Done")
    taught = f", and {report.examples_imported} taught examples" if report.examples_imported else ""
    where = inert_code(report.library.id)
    return f"Imported {report.imported} memories into {where} ({report.skipped} skipped){taught}."


def read_turns(path: Path) -> list[tuple[str, str]]:
    """A JSON list of {"role": "user"|"assistant", "content": str}; anything else is a clear error."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"{path.name}: not a JSON file of chat turns ({exc})") from exc
    if not isinstance(data, list) or not data or len(data) > MAX_TURNS_FILE:
        raise InvalidInputError(f"{path.name}: expected a list of 1 to {MAX_TURNS_FILE} turns")
    turns = []
    for number, turn in enumerate(data, start=1):
        role, content = (turn.get("role"), turn.get("content")) if isinstance(turn, dict) else (None, None)
        if role not in ("user", "assistant") or not isinstance(content, str) or not content.strip():
            raise InvalidInputError(f"{path.name}: turn {number} needs role user/assistant and non-empty content")
        turns.append((role, content))
    return turns


def export_file(engine: MemoryEngine, profile: str, character: str, library: str, fmt: str) -> tuple[str, str]:
    """Write the library to a temporary file for download; its path and a line saying what it holds."""
    scope = scope_of(engine, profile, character, library)
    path = download_path(f"{scope.library_id}.{'csv' if fmt == 'csv' else 'json'}")
    written = write_library_file(store_of(engine), scope, path)
    return str(path), f"Exported {written} memories of {inert_code(scope.library_id)}: download the file below."


def embed_library(
    engine: MemoryEngine, profile: str, character: str, library: str, progress: Callable[..., Any]
) -> str:
    """Compute the vectors the library's memories lack for the current embedder (after a switch, say)."""
    scope = scope_of(engine, profile, character, library)
    store_of(engine).get_library(scope)
    errors: list[str] = []

    def step(done: int, total: int) -> None:
        progress(done / max(total, 1), desc=f"Embedded {done} of {total}")

    embedded = engine.refresh(scope, errors, step)
    if errors:
        raise ProviderError(errors[0])
    return f"{embedded} memories embedded; the rest already had vectors · {engine.retrieval_note}"
