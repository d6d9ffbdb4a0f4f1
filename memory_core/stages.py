"""The stages of a turn as functions over explicit inputs: recall, inject, write, and guarded calls."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar

from .chat import ChatMessage
from .decision import RecallDecision
from .errors import MemoryCoreError
from .fusion import FusionRetriever
from .injection import Injection, inject_pipecat, inject_reference, memory_block, pipecat_block
from .models import MemoryItem, NewItem, Scope
from .retrieval import Retriever, ScoredMemory
from .session import Session, WriteRecord
from .settings import Tuning
from .store import DEFAULT_LIBRARY_NAME, SQLiteStore
from .write_gate import decide_write

T = TypeVar("T")


def recall(
    retriever: Retriever, scope: Scope, decision: RecallDecision, tuning: Tuning, errors: list[str]
) -> tuple[tuple[ScoredMemory, ...], str]:
    """Search the library for the decision's query by the session's method; say which method ran and why."""
    if tuning.recall_backend == "mem0":
        return (), "recall backend 'mem0' needs the Mem0 provider; the embedded store has none, nothing recalled"
    method = tuning.retrieval_method if tuning.retrieval_method in retriever.methods else "bm25"
    note = f"{method}" if method == tuning.retrieval_method else f"bm25 ({tuning.retrieval_method} needs an embedder)"
    options: dict[str, Any] = {}
    if isinstance(retriever, FusionRetriever):
        options = {"method": method, "max_weight": tuning.fusion_max_weight, "candidates": tuning.fusion_candidates}
    # Dense and fused scores live on 0..1, where the BM25 threshold means nothing: they have their own.
    threshold = tuning.recall_min_score if method == "bm25" else tuning.fusion_min_score
    search = partial(
        retriever.search, scope, decision.query, limit=tuning.recall_limit, min_score=threshold,
        categories=decision.categories, category_boost=tuning.category_boost, **options,
    )  # fmt: skip
    hits = guarded(errors, "recall", search)
    if hits is None and method != "bm25":  # the embedder failed: BM25 still answers
        hits = guarded(errors, "recall", partial(search, method="bm25", min_score=tuning.recall_min_score))
        note = f"bm25 ({method} failed, see errors)"
    if tuning.recall_backend == "hybrid":
        note = f"hybrid without Mem0: {note} over the library"
    return hits or (), note


def inject(session: Session, user_text: str, hits: Sequence[ScoredMemory]) -> Injection:
    tuning = session.tuning
    base = [ChatMessage("system", session.persona)] if session.persona.strip() else []
    messages = [*base, *session.history, ChatMessage("user", user_text)]
    items = [h.item for h in hits]
    if tuning.injection_style == "pipecat":
        return inject_pipecat(
            messages,
            pipecat_block(items, tuning.pipecat_system_prompt),
            system_prompt=tuning.pipecat_system_prompt,
            position=tuning.pipecat_position,
            add_as_system_message=tuning.pipecat_add_as_system_message,
        )
    return inject_reference(messages, memory_block(items))


def write(
    store: SQLiteStore, session: Session, user_text: str, reply: str, interrupted: bool, errors: list[str]
) -> WriteRecord:
    retry_pending(store, session, errors)
    decision = decide_write(user_text, reply, interrupted=interrupted)
    if decision.action != "write":
        return WriteRecord(decision, "none")
    if session.tuning.write_mode == "mem0":
        note = "write mode 'mem0' needs a provider with smart writes; the embedded store has none, nothing written"
        return WriteRecord(decision, "none", note=note)
    items = tuple(_with_write_action(i, "direct_write") for i in decision.items)
    written = store_items(store, session, items, errors, "write")
    if written is None:
        return WriteRecord(decision, "direct_write", error=errors[-1], note="kept in the session, retried later")
    return WriteRecord(decision, "direct_write", written)


def store_items(
    store: SQLiteStore, session: Session, items: tuple[NewItem, ...], errors: list[str], stage: str
) -> tuple[MemoryItem, ...] | None:
    """Write for a session; on failure the items wait in the session instead of being lost."""
    add = partial(store.add_items, session.scope, items, source="session", create_library_name=DEFAULT_LIBRARY_NAME)
    written = guarded(errors, stage, add)
    if written is None:
        session.pending_writes.append(items)
    return written


def retry_pending(store: SQLiteStore, session: Session, errors: list[str]) -> None:
    while session.pending_writes:
        items = session.pending_writes.pop(0)
        if store_items(store, session, items, errors, "retry write") is None:
            session.pending_writes.insert(0, session.pending_writes.pop())  # keep the original order
            return


def _with_write_action(item: NewItem, action: str) -> NewItem:
    return NewItem(
        item.text, item.type, item.category, item.confidence, item.source, {**item.metadata, "write_action": action}
    )


def guarded(errors: list[str], stage: str, call: Callable[[], T]) -> T | None:
    """Run one provider call; a failure is recorded in the trace instead of ending the turn."""
    try:
        return call()
    except (MemoryCoreError, OSError) as exc:
        errors.append(f"{stage} failed: {type(exc).__name__}: {exc}")
        return None
