"""The stages of a turn as functions over explicit inputs: recall, inject, write, and guarded calls."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar

from .chat import ChatMessage, ChatModel
from .decide.decider import RecallDecision
from .errors import MemoryCoreError, QuotaError
from .injection import (
    Injection,
    PipecatInsertion,
    inject_pipecat,
    inject_reference,
    insert_pipecat,
    replay_pipecat,
    tuned_block,
)
from .models import MemoryItem, NewItem, Scope
from .prompts import persona_system
from .providers.mem0_store import Mem0Store
from .recall.fusion import FusionRetriever, SearchReport
from .recall.lexical import Retriever, ScoredMemory
from .session import Session, SummaryRecord, WriteRecord
from .store.protocol import Store
from .store.sqlite import DEFAULT_LIBRARY_NAME
from .tuning import Tuning
from .write.dedupe import Duplicate, DuplicateFinder, find_duplicate, text_key
from .write.gate import WriteDecision, WriteScorer, at_threshold, decide_write
from .write.summary import summarise_window
from .write.supersede import canonical_relation, superseded_by

T = TypeVar("T")


def recall(
    retriever: Retriever,
    scope: Scope,
    decision: RecallDecision,
    tuning: Tuning,
    errors: list[str],
    mem0: Mem0Store | None = None,
) -> tuple[tuple[ScoredMemory, ...], str]:
    """Search by the session's backend: Mem0, our index, or Mem0 then our index when Mem0 finds nothing."""
    backend = tuning.recall_backend
    if backend in ("mem0", "hybrid") and mem0 is not None:
        hits = guarded(errors, "mem0 search", lambda: mem0_search(mem0, scope, decision, tuning))
        if hits or backend == "mem0":
            return hits or (), f"mem0 ({mem0.backend.name})" + ("" if hits is not None else ": failed, see errors")
        hits_local, note = local_recall(retriever, scope, decision, tuning, errors)
        why = "failed" if hits is None else "found nothing"
        return hits_local, f"hybrid: Mem0 {why}, so {note} over the same library"
    if backend == "mem0":
        return (), "recall backend 'mem0' needs the Mem0 provider; the embedded store has none, nothing recalled"
    hits_local, note = local_recall(retriever, scope, decision, tuning, errors)
    return hits_local, (f"hybrid without Mem0: {note} over the library" if backend == "hybrid" else note)


SUPERSEDED_SLACK = 5  # extra hits searched for, so that leaving superseded ones out still fills the limit


def local_recall(
    retriever: Retriever, scope: Scope, decision: RecallDecision, tuning: Tuning, errors: list[str]
) -> tuple[tuple[ScoredMemory, ...], str]:
    """Our BM25, dense or fused search of the library; says which method ran and why."""
    method = tuning.retrieval_method if tuning.retrieval_method in retriever.methods else "bm25"
    note = f"{method}" if method == tuning.retrieval_method else f"bm25 ({tuning.retrieval_method} needs an embedder)"
    options: dict[str, Any] = {}
    if isinstance(retriever, FusionRetriever):
        options = {
            "method": method,
            "max_weight": tuning.fusion_max_weight,
            "candidates": tuning.fusion_candidates,
            "relevance_floor": tuning.fusion_relevance_floor,
            # left out before scaling, so a replaced memory neither takes a place nor sets the scale of the rest
            "include_superseded": tuning.show_superseded,
        }
    # Dense and fused scores live on 0..1, where the BM25 threshold means nothing: they have their own.
    threshold = tuning.recall_min_score if method == "bm25" else tuning.fusion_min_score
    run = retriever.search_report if isinstance(retriever, FusionRetriever) else retriever.search
    search = partial(
        run, scope, decision.query, limit=tuning.recall_limit + SUPERSEDED_SLACK, min_score=threshold,
        categories=decision.categories, category_boost=tuning.category_boost, **options,
    )  # fmt: skip
    found = guarded(errors, "recall", search)
    if found is None and method != "bm25":  # the embedder failed: BM25 still answers
        found = guarded(errors, "recall", partial(search, method="bm25", min_score=tuning.recall_min_score))
        note = f"bm25 ({method} failed, see errors)"
    report = found if isinstance(found, SearchReport) else SearchReport(tuple(found or ()))  # type: ignore[arg-type]
    held_back = report.note()
    return current(report.hits, tuning), f"{note} ({held_back})" if held_back else note


def current(hits: Sequence[ScoredMemory], tuning: Tuning) -> tuple[ScoredMemory, ...]:
    """The hits minus superseded memories (unless the session shows them), re-ranked, at most the limit."""
    kept = [h for h in hits if tuning.show_superseded or not h.item.metadata.get("superseded_by")]
    return tuple(replace(h, rank=rank) for rank, h in enumerate(kept[: tuning.recall_limit], 1))


def mem0_search(store: Mem0Store, scope: Scope, decision: RecallDecision, tuning: Tuning) -> tuple[ScoredMemory, ...]:
    """Mem0's search of one library (filters carry it, so up to `limit` hits of that library come back).

    `mem0_threshold` is Mem0's own: it applies to the semantic score, not to the score Mem0 returns.
    """
    rows = store.backend.search(scope, decision.query, top_k=mem0_top_k(tuning), threshold=tuning.mem0_threshold,
                                timeout_ms=tuning.recall_timeout_ms)  # fmt: skip
    items = store.by_mem0_rows(scope, rows)
    hits = [_mem0_hit(item, row, rank) for rank, (item, row) in enumerate(zip(items, rows, strict=True), 1)]
    return current(hits, tuning)


def mem0_top_k(tuning: Tuning) -> int:
    """How many hits Mem0 is asked for: the limit plus slack for superseded ones, or in the Pipecat style
    exactly the limit, as the bot asks for `search_limit`: Mem0 ranks its hybrid scores over a candidate
    count taken from top_k (max(4*top_k, 60)), so another top_k can bring back other memories."""
    return tuning.recall_limit if tuning.injection_style == "pipecat" else tuning.recall_limit + SUPERSEDED_SLACK


def _mem0_hit(item: MemoryItem, row: dict[str, Any], rank: int) -> ScoredMemory:
    details = row.get("score_details") or {}
    score = float(details.get("final_score", row.get("score") or 0.0))
    return ScoredMemory(
        item=item, bm25=float(details.get("bm25_score", 0.0)), entity_boost=float(details.get("entity_boost", 0.0)),
        name_boost=0.0, score=score, matched_terms=(), matched_entities=(), rank=rank, method="mem0",
        dense=float(details.get("semantic_score", row.get("score") or 0.0)), weight=0.0,
    )  # fmt: skip


def conversation(session: Session, user_text: str) -> tuple[list[ChatMessage], list[ChatMessage]]:
    """The persona's system message (if any), and the turns: the history then the user's message."""
    system = persona_system(session.persona, session.character_name)
    return ([ChatMessage("system", system)] if system else []), [*session.history, ChatMessage("user", user_text)]


def inject(session: Session, user_text: str, hits: Sequence[ScoredMemory]) -> Injection:
    """The messages to send: the hits' block, held to the session's token budget, in its injection style."""
    tuning = session.tuning
    persona, turns = conversation(session, user_text)
    block, budget = tuned_block([h.item for h in hits], tuning)
    if tuning.piles_up:
        injection = pile_up(session, persona, turns, block)
    elif tuning.injection_style == "pipecat":
        injection = inject_pipecat(
            [*persona, *turns],
            block,
            system_prompt=tuning.pipecat_system_prompt,
            position=tuning.pipecat_position,
            add_as_system_message=tuning.pipecat_add_as_system_message,
        )
    else:
        injection = inject_reference([*persona, *turns], block)
    return replace(injection, budget=budget)


def pile_up(session: Session, persona: list[ChatMessage], turns: list[ChatMessage], block: str) -> Injection:
    """Pipecat's live context: the earlier blocks where they went, this turn's block inserted at `position`
    (the newest at it, the older ones after it), and the insertion for the session to keep."""
    tuning = session.tuning
    live = replay_pipecat(persona, turns, session.pipecat_blocks)
    injection = insert_pipecat(live, block, position=tuning.pipecat_position,
                               add_as_system_message=tuning.pipecat_add_as_system_message)  # fmt: skip
    if injection.block_index < 0:
        return injection
    inserted = PipecatInsertion(injection.messages[injection.block_index], len(turns), tuning.pipecat_position)
    return replace(injection, inserted=inserted)


def write(
    store: Store,
    session: Session,
    user_text: str,
    reply: str,
    interrupted: bool,
    errors: list[str],
    finder: DuplicateFinder | None = None,
    scorer: WriteScorer | None = None,
) -> WriteRecord:
    retry_pending(store, session, errors)
    judge = at_threshold(scorer, session.tuning.write_judge_threshold)
    decision = decide_write(user_text, reply, interrupted=interrupted, scorer=judge)
    if decision.action != "write":
        return WriteRecord(decision, "none")
    tuning = session.tuning
    text = decision.items[0].text
    nearby = nearby_memories(finder, session.scope, text, errors)
    duplicate = find_duplicate(text, nearby, threshold=tuning.dedupe_threshold)
    if duplicate is not None:
        return seen_again(store, session, decision, duplicate, errors)
    decision = with_supersession(decision, [item for item, _ in nearby])
    if isinstance(store, Mem0Store) and tuning.smart_write_enabled and tuning.write_mode in ("mem0", "hybrid"):
        smart = smart_write(store, session, user_text, reply, decision, errors)
        if smart is not None:
            return smart
        items = attributed(decision.items, session, "direct_write")
        written = store_items(store, session, items, errors, "write")
        note = "smart write failed: the turn was written raw instead"
        return WriteRecord(decision, "direct_write", written or (), note=note, error=errors[-1] if errors else "")
    if tuning.write_mode == "mem0":
        note = "write mode 'mem0' needs a provider with smart writes; the embedded store has none, nothing written"
        return WriteRecord(decision, "none", note=note)
    items = attributed(decision.items, session, "direct_write")
    written = store_items(store, session, items, errors, "write")
    if written is None:
        return WriteRecord(decision, "direct_write", error=errors[-1], note="kept in the session, retried later")
    return WriteRecord(decision, "direct_write", written)


def similar_memories(retriever: Retriever, scope: Scope, text: str) -> list[tuple[MemoryItem, float | None]]:
    """Candidates for dedupe: the best lexical matches, and with an embedder the nearest passages."""
    lexical = retriever.search(scope, text, limit=10, min_score=0.0, method="bm25")
    nearest = retriever.dense.nearest_passages(scope, text) if isinstance(retriever, FusionRetriever) else []
    return [*((hit.item, None) for hit in lexical), *nearest]


def nearby_memories(
    finder: DuplicateFinder | None, scope: Scope, text: str, errors: list[str]
) -> Sequence[tuple[MemoryItem, float | None]]:
    """The stored memories a new one may repeat or replace (a failing search is recorded and means none)."""
    if finder is None:
        return ()
    return guarded(errors, "dedupe", lambda: finder(scope, text)) or ()


def with_supersession(decision: WriteDecision, nearby: Sequence[MemoryItem]) -> WriteDecision:
    """The decision's item names the memories it replaces; a relation correction adds the reference's
    canonical fact ("小雨是用户的前女友。"), which replaces them too."""
    item = decision.items[0]
    replaced = superseded_by(item.text, nearby)
    if not replaced:
        return decision
    ids = [old.id for old in replaced]
    items = [NewItem(item.text, item.type, item.category, item.confidence, item.source,
                     {**item.metadata, "supersedes": ids})]  # fmt: skip
    if canonical := canonical_relation(item.text, replaced):
        meta = {**item.metadata, "supersedes": ids, "category": "entity_relation", "confidence": "high",
                "decision_reason": "relation_correction_context"}  # fmt: skip
        items.append(NewItem(canonical, "fact", "entity_relation", "high", item.source, meta))
    return replace(decision, items=tuple(items))


def seen_again(
    store: Store, session: Session, decision: WriteDecision, duplicate: Duplicate, errors: list[str]
) -> WriteRecord:
    """A repeat touches the stored memory (NOOP, `seen` + 1) instead of adding a copy."""
    seen = guarded(errors, "dedupe", lambda: store.mark_seen(session.scope, duplicate.item.id, source="session"))
    if seen is None:
        return WriteRecord(decision, "none", error=errors[-1], note="a repeat, but the stored memory was not touched")
    note = f"already stored ({duplicate.how}, similarity {duplicate.similarity:g}): seen {seen.metadata['seen']} times"
    return WriteRecord(decision, "seen", (seen,), note=note)


def fresh_items(
    store: Store, scope: Scope, items: Sequence[NewItem], finder: DuplicateFinder | None, threshold: float
) -> tuple[NewItem, ...]:
    """An import's items minus repeats: of each other, and of stored memories (which are seen again instead)."""
    fresh: dict[str, NewItem] = {}
    for item in items:
        key = text_key(item.text)
        nearby = nearby_memories(finder, scope, item.text, []) if key not in fresh else ()
        duplicate = find_duplicate(item.text, nearby, threshold=threshold)
        if duplicate is not None:
            store.mark_seen(scope, duplicate.item.id, source="import")
        elif key not in fresh:
            replaced = [old.id for old in superseded_by(item.text, [found for found, _ in nearby])]
            fresh[key] = replace(item, metadata={**item.metadata, "supersedes": replaced}) if replaced else item
    return tuple(fresh.values())


def mark_superseded(store: Store, scope: Scope, written: Sequence[MemoryItem]) -> None:
    """After an import: each written item that replaces older memories marks them superseded."""
    for item in written:
        if replaced := item.metadata.get("supersedes"):
            store.supersede(scope, replaced, item.id, source="import")


def smart_messages(session: Session, user_text: str, reply: str, context: str) -> list[dict[str, str]]:
    """What a smart write sends (spec §5): recent turns only for a correction or a confirmation, the user's
    message, and the reply too when the user confirms it."""
    window = 2 * session.tuning.summary_turn_window
    earlier = [m.to_dict() for m in session.history[:-2][-window:]] if context else []
    current = [{"role": "user", "content": user_text}]
    if context == "confirmation":
        current.append({"role": "assistant", "content": reply})
    return [*earlier, *current]


def smart_write(
    store: Mem0Store, session: Session, user_text: str, reply: str, decision: WriteDecision, errors: list[str]
) -> WriteRecord | None:
    """Mem0 extracts what to keep (infer=True); None when it failed, so the caller writes the turn raw."""
    metadata = {"source": "session", "source_type": "conversation_turn", "category": "mem0_candidate",
                "confidence": "unknown", "decision_reason": decision.reason, "write_action": "mem0_infer",
                "type": "chat_turn", **turn_origin(session)}  # fmt: skip
    messages = smart_messages(session, user_text, reply, decision.context)
    rows = guarded(errors, "smart write", lambda: store.backend.add_smart(session.scope, messages, metadata))
    if rows is None:
        return None
    base = NewItem(user_text, "fact", "mem0_candidate", "unknown", "session", metadata)
    written = guarded(errors, "catalogue", lambda: store.record_smart(session.scope, rows, base))
    note = f"Mem0 kept {len(rows)} memories from this turn" if rows else "Mem0 found nothing worth keeping"
    return WriteRecord(decision, "mem0_infer", written or (), note=note)


def store_items(
    store: Store, session: Session, items: tuple[NewItem, ...], errors: list[str], stage: str
) -> tuple[MemoryItem, ...] | None:
    """Write for a session; on failure the items wait in the session instead of being lost."""
    supersedes = items[0].metadata.get("supersedes", ()) if items else ()
    add = partial(store.add_items, session.scope, items, source="session", create_library_name=DEFAULT_LIBRARY_NAME,
                  supersedes=supersedes)  # fmt: skip

    def add_within_quota() -> tuple[MemoryItem, ...]:
        try:
            return add()
        except QuotaError as exc:  # a full sandbox: a retry could never succeed, so the write is dropped, said so
            errors.append(f"{stage} skipped: {exc}")
            return ()

    written = guarded(errors, stage, add_within_quota)
    if written is None:
        session.pending_writes.append(items)
    return written


def retry_pending(store: Store, session: Session, errors: list[str]) -> None:
    while session.pending_writes:
        items = session.pending_writes.pop(0)
        if store_items(store, session, items, errors, "retry write") is None:
            session.pending_writes.insert(0, session.pending_writes.pop())  # keep the original order
            return


def turn_origin(session: Session) -> dict[str, Any]:
    """What produced a chat turn's memory: the session, the turn's index in it, and who said it."""
    return {"session_id": session.id, "turn": session.turns, "role": "user"}


def attributed(items: Sequence[NewItem], session: Session, action: str) -> tuple[NewItem, ...]:
    """The turn's items with their origin and the write action that stores them."""
    origin = {**turn_origin(session), "write_action": action}
    return tuple(replace(item, metadata={**item.metadata, **origin}) for item in items)


def guarded(errors: list[str], stage: str, call: Callable[[], T]) -> T | None:
    """Run one provider call; a failure is recorded in the trace instead of ending the turn."""
    try:
        return call()
    except (MemoryCoreError, OSError) as exc:
        errors.append(f"{stage} failed: {type(exc).__name__}: {exc}")
        return None


NOTHING_TO_SUMMARISE = "nothing lasting in the window: no summary written"


def buffer_for_summary(
    store: Store,
    model: ChatModel | None,
    session: Session,
    exchange: tuple[str, str],
    errors: list[str],
    *,
    buffered: bool,
) -> SummaryRecord | None:
    """Buffer a turn the gate kept (``buffered``); a full window becomes one summary item."""
    user_text, reply = exchange
    tuning = session.tuning
    if not tuning.summary_enabled or not buffered or not reply.strip():
        return None
    session.summary_window.append((user_text.strip(), reply.strip()))
    session.summary_turns.append(session.turns)
    if len(session.summary_window) < tuning.summary_turn_window:
        return None
    return summarise(store, model, session, "window", errors)


def summarise(
    store: Store, model: ChatModel | None, session: Session, trigger: str, errors: list[str]
) -> SummaryRecord:
    """Summarise the session's window into one stored item (the offline summary when the model fails)."""
    turns = list(session.summary_window)
    tuning = session.tuning
    summary = summarise_window(model, turns, tuning.summary_max_items, timeout_ms=tuning.summary_timeout_ms,
                               name=session.character_name)  # fmt: skip
    metadata = {
        "source": "session",
        "source_type": "session_summary",
        "layer": "episodic",
        "category": "episode_summary",
        "turn_count": len(turns),
        "summarised_by": summary.by,
        **window_origin(session),
    }
    session.summary_window.clear()
    session.summary_turns.clear()
    if not summary.text:
        return SummaryRecord(trigger, "", summary.by, len(turns), None, summary.error, summary.call,
                             NOTHING_TO_SUMMARISE, summary.dropped)  # fmt: skip
    item = NewItem(summary.text, "summary", "episode_summary", "", "session", metadata)
    written = store_items(store, session, (item,), errors, "summary write")
    item0 = written[0] if written else None
    return SummaryRecord(trigger, summary.text, summary.by, len(turns), item0, summary.error, summary.call,
                         dropped=summary.dropped)  # fmt: skip


def window_origin(session: Session) -> dict[str, Any]:
    """What a summary covers: its session and the first and last turn of the window."""
    turns = session.summary_turns or [session.turns]  # a window filled by hand has no turn numbers
    return {"session_id": session.id, "turn_from": min(turns), "turn_to": max(turns)}
