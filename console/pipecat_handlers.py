"""The Pipecat callbacks: the export for a bot (Settings) and the memories outside every library (Libraries)."""

from __future__ import annotations

import json

import pandas as pd

from memory_core import InvalidInputError, Mem0Store, MemoryEngine, Scope, bot_export, bot_snippet
from memory_core.markup import inert
from memory_core.providers.mem0_store import MEM0_ID

from .library_handlers import store_of
from .retrieval_handlers import golden_scope
from .session_state import ConsoleState
from .visitor import Visitor

UNFILED_COLUMNS = ["mem0 id", "text", "written by", "created_at"]


def export_for_bot(
    engine: MemoryEngine, state: ConsoleState, visitor: Visitor, where: tuple[str, str, str], port: float | None
) -> tuple[str, str, str]:
    """The export's JSON, its Python snippet and a status line, for the library chosen (blank: the chat's)."""
    scope = golden_scope(engine, state, visitor, *where)
    store = store_of(engine)
    store.get_library(scope)
    texts = [item.text for item in store.iter_items(scope)]
    export = bot_export(engine.settings, state.tuning, scope, texts=texts, embedder=engine.embedder,
                        embedder_port=_port(port))  # fmt: skip
    status = f"Export for library **{inert(scope.library_id)}** of {len(texts)} memories."
    if export.warnings:
        status += "\n\n" + "\n".join(f"- {inert(warning)}" for warning in export.warnings)
    return json.dumps(export.as_dict(), ensure_ascii=False, indent=2), bot_snippet(export), status


def unfiled_table(engine: MemoryEngine, scope: Scope) -> pd.DataFrame:
    """The profile and character's Mem0 memories that belong to no library."""
    rows = [[item.metadata.get(MEM0_ID, ""), item.text, item.metadata.get("platform") or item.source,
             item.created_at] for item in _mem0(engine).unfiled(scope.profile_id, scope.character_id)]  # fmt: skip
    return pd.DataFrame(rows, columns=UNFILED_COLUMNS)


def adopt(engine: MemoryEngine, scope: Scope, ids_text: str) -> str:
    """File the listed unfiled memories (Mem0 ids, comma or space separated) into the library."""
    ids = [part for part in ids_text.replace(",", " ").split() if part]
    if not ids:
        raise InvalidInputError("Pick an unfiled memory (or list Mem0 ids) to adopt.")
    adopted = _mem0(engine).adopt(scope, ids)
    engine.refresh(scope, [])
    return f"Adopted {len(adopted)} memories into **{inert(scope.library_id)}**."


def _port(port: float | None) -> int:
    value = int(port or 0)
    if not 1 <= value <= 65535:
        raise InvalidInputError(f"the embedder port must be between 1 and 65535, got {value}")
    return value


def _mem0(engine: MemoryEngine) -> Mem0Store:
    if not isinstance(engine.store, Mem0Store):
        raise InvalidInputError(
            "Unfiled memories live in Mem0: set OPENTALKING_MEMORY_PROVIDER=mem0 to see what bots wrote."
        )
    return engine.store
