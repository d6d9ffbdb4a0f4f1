"""The memory engine: one call per user turn, returning a trace of every stage.

decide → recall → inject → reply → write gate → write → summary window. A store failure never
loses the turn: the items wait in the session and are retried on the next turn or at session end.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import TypeVar

from .chat import ChatMessage, ChatModel
from .classify import import_items
from .decision import RecallDecider, RecallDecision
from .errors import ConfigurationError, MemoryCoreError
from .injection import Injection, inject_pipecat, inject_reference, memory_block, pipecat_block
from .models import MemoryItem, NewItem, Scope
from .prompts import greeting_messages
from .responder import OfflineResponder
from .retrieval import BM25Retriever, Retriever, ScoredMemory
from .session import Session, StageTiming, SummaryRecord, Trace, WriteRecord
from .settings import Settings, Tuning
from .store import DEFAULT_LIBRARY_NAME, SQLiteStore
from .summary import Summariser, summarise_window
from .write_gate import WriteDecision, decide_write

T = TypeVar("T")
GREETING_MEMORIES = 20  # Pipecat's get_memories() reads get_all's default top_k


class _Clock:
    """Collects stage timings for one turn."""

    def __init__(self) -> None:
        self.timings: list[StageTiming] = []

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings.append(StageTiming(name, (time.perf_counter() - started) * 1000))


class MemoryEngine:
    """Runs turns for sessions; holds the shared parts (store, retriever, decider, models), no session state."""

    def __init__(
        self,
        store: SQLiteStore | None,
        retriever: Retriever | None,
        *,
        settings: Settings,
        decider: RecallDecider | None = None,
        chat_model: ChatModel | None = None,
        summariser: Summariser | None = None,
    ) -> None:
        self.store = store
        self.retriever = retriever
        self.settings = settings
        self.decider = decider or RecallDecider()
        self.chat_model = chat_model
        self.summariser = summariser
        self.responder = OfflineResponder()

    @property
    def memory_available(self) -> bool:
        return self.store is not None and self.retriever is not None

    def close(self) -> None:
        self.decider.close()
        if self.store is not None:
            self.store.close()

    def open_session(
        self,
        scope: Scope,
        *,
        persona: str = "",
        enabled: bool | None = None,
        tuning: Tuning | None = None,
    ) -> Session:
        """Start a session; its library is created if it does not exist yet."""
        if self.store is not None:
            self.store.ensure_library(scope)
        return Session(
            scope=scope,
            tuning=tuning or self.settings.tuning(),
            persona=persona,
            enabled=self.settings.memory_enabled if enabled is None else enabled,
        )

    def run_turn(self, session: Session, user_text: str, *, interrupted: bool = False) -> Trace:
        """One user turn, start to end; the reply is in the trace."""
        clock = _Clock()
        errors: list[str] = []
        session.turns += 1
        tuning = session.tuning
        store, retriever = self.store, self.retriever
        active = session.enabled and store is not None and retriever is not None

        decision: RecallDecision | None = None
        hits: tuple[ScoredMemory, ...] = ()
        note = "" if self.memory_available else "memory provider is 'none': nothing is recalled or written"
        if not session.enabled:
            note = "memory is off for this session: no recall and no write"
        if active and retriever is not None:
            with clock.stage("decide"):
                decision = self.decider.decide(
                    user_text, mode=tuning.decision_mode, timeout_ms=tuning.decision_timeout_ms
                )
            if decision.should_recall:
                with clock.stage("recall"):
                    hits, note = _recall(retriever, session.scope, decision, tuning, errors)

        with clock.stage("inject"):
            injection = _inject(session, user_text, hits)
        with clock.stage("reply"):
            reply, reply_by = self._reply(injection.messages, user_text, hits, errors)

        session.history += [ChatMessage("user", user_text), ChatMessage("assistant", reply)]
        write = summary = None
        if active and store is not None:
            with clock.stage("write"):
                write = _write(store, session, user_text, reply, interrupted, errors)
            with clock.stage("summary"):
                summary = self._buffer_and_summarise(
                    store, session, user_text, reply, write.decision, interrupted, errors
                )

        return Trace(
            session_id=session.id,
            turn=session.turns,
            scope=session.scope,
            enabled=active,
            user_text=user_text,
            decision=decision,
            query=decision.query if decision and decision.should_recall else "",
            backend=tuning.recall_backend,
            hits=hits,
            recall_note=note,
            memory_block=injection.block,
            injection_style=tuning.injection_style,
            block_index=injection.block_index,
            messages=injection.messages,
            reply=reply,
            reply_by=reply_by,
            write=write,
            summary=summary,
            summary_pending=len(session.summary_window),
            summary_window_size=tuning.summary_turn_window,
            timings=tuple(clock.timings),
            errors=tuple(errors),
        )

    def greeting(self, session: Session, *, name: str = "") -> str:
        """Open a chat from what is stored (Pipecat's get_memories() greeting): newest memories first."""
        memories: list[str] = []
        if session.enabled and self.store is not None:
            store, scope = self.store, session.scope
            page = _guarded([], "greeting", lambda: store.list_items(scope, limit=GREETING_MEMORIES))
            memories = [item.text for item in page.items] if page else []
        if self.chat_model is not None:
            model = self.chat_model
            reply = _guarded([], "greeting", lambda: model.complete(greeting_messages(session.persona, memories)))
            if reply:
                return reply
        return self.responder.greeting(name, memories)

    def reply_without_memory(self, session: Session, user_text: str) -> str:
        """What the character would answer with no memory at all (for side-by-side demos); stores nothing."""
        messages = _inject(session, user_text, ())
        if self.chat_model is not None:
            model = self.chat_model
            reply = _guarded([], "reply", lambda: model.complete(messages.messages))
            if reply:
                return reply
        return self.responder.reply_without_memory(user_text)

    def end_session(self, session: Session) -> SummaryRecord | None:
        """Flush what is left: pending writes, and the partial summary window (never dropped)."""
        errors: list[str] = []
        record = None
        if self.store is not None:
            _retry_pending(self.store, session, errors)
            if session.summary_window and session.tuning.summary_enabled:
                record = self._summarise(self.store, session, "session_end", errors)
        session.ended = True
        return record

    def import_turns(self, scope: Scope, turns: Sequence[tuple[str, str]], *, source: str) -> tuple[MemoryItem, ...]:
        """Classify and store a batch of chat turns (the reference's /import): user turns worth keeping."""
        items = import_items(turns, source=source or "import")
        if self.store is None or not items:
            return ()
        return self.store.add_items(scope, items, source="import")

    def _reply(
        self, messages: Sequence[ChatMessage], user_text: str, hits: Sequence[ScoredMemory], errors: list[str]
    ) -> tuple[str, str]:
        if self.chat_model is not None:
            model = self.chat_model
            reply = _guarded(errors, "reply", lambda: model.complete(messages))
            if reply:
                return reply, "llm"
        return self.responder.reply(user_text, hits), "offline"

    def _buffer_and_summarise(
        self,
        store: SQLiteStore,
        session: Session,
        user_text: str,
        reply: str,
        decision: WriteDecision,
        interrupted: bool,
        errors: list[str],
    ) -> SummaryRecord | None:
        """Buffer turns the gate did not reject; a full window becomes one summary item."""
        tuning = session.tuning
        if not tuning.summary_enabled or interrupted or not reply.strip() or decision.action == "reject":
            return None
        session.summary_window.append((user_text.strip(), reply.strip()))
        if len(session.summary_window) < tuning.summary_turn_window:
            return None
        return self._summarise(store, session, "window", errors)

    def _summarise(self, store: SQLiteStore, session: Session, trigger: str, errors: list[str]) -> SummaryRecord:
        turns = list(session.summary_window)
        summary = summarise_window(self.summariser, turns, session.tuning.summary_max_items)
        metadata = {
            "source": "session",
            "source_type": "session_summary",
            "layer": "episodic",
            "category": "episode_summary",
            "turn_count": len(turns),
            "summarised_by": summary.by,
        }
        item = NewItem(summary.text, "summary", "episode_summary", "", "session", metadata)
        written = _store_items(store, session, (item,), errors, "summary write")
        session.summary_window.clear()
        return SummaryRecord(
            trigger, summary.text, summary.by, len(turns), written[0] if written else None, summary.error
        )


def _recall(
    retriever: Retriever, scope: Scope, decision: RecallDecision, tuning: Tuning, errors: list[str]
) -> tuple[tuple[ScoredMemory, ...], str]:
    if tuning.recall_backend == "mem0":
        return (), "recall backend 'mem0' needs the Mem0 provider; the embedded store has none, nothing recalled"
    search = partial(
        retriever.search, scope, decision.query, limit=tuning.recall_limit, min_score=tuning.recall_min_score,
        categories=decision.categories, category_boost=tuning.category_boost,
    )  # fmt: skip
    hits = _guarded(errors, "recall", search)
    note = "bm25" if tuning.recall_backend == "bm25" else "hybrid: no Mem0 provider, BM25 over the library"
    return hits or (), note


def _inject(session: Session, user_text: str, hits: Sequence[ScoredMemory]) -> Injection:
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


def _write(
    store: SQLiteStore, session: Session, user_text: str, reply: str, interrupted: bool, errors: list[str]
) -> WriteRecord:
    _retry_pending(store, session, errors)
    decision = decide_write(user_text, reply, interrupted=interrupted)
    if decision.action != "write":
        return WriteRecord(decision, "none")
    if session.tuning.write_mode == "mem0":
        note = "write mode 'mem0' needs a provider with smart writes; the embedded store has none, nothing written"
        return WriteRecord(decision, "none", note=note)
    items = tuple(_with_write_action(i, "direct_write") for i in decision.items)
    written = _store_items(store, session, items, errors, "write")
    if written is None:
        return WriteRecord(decision, "direct_write", error=errors[-1], note="kept in the session, retried later")
    return WriteRecord(decision, "direct_write", written)


def _store_items(
    store: SQLiteStore, session: Session, items: tuple[NewItem, ...], errors: list[str], stage: str
) -> tuple[MemoryItem, ...] | None:
    """Write for a session; on failure the items wait in the session instead of being lost."""
    add = partial(store.add_items, session.scope, items, source="session", create_library_name=DEFAULT_LIBRARY_NAME)
    written = _guarded(errors, stage, add)
    if written is None:
        session.pending_writes.append(items)
    return written


def _retry_pending(store: SQLiteStore, session: Session, errors: list[str]) -> None:
    while session.pending_writes:
        items = session.pending_writes.pop(0)
        if _store_items(store, session, items, errors, "retry write") is None:
            session.pending_writes.insert(0, session.pending_writes.pop())  # keep the original order
            return


def _with_write_action(item: NewItem, action: str) -> NewItem:
    return NewItem(
        item.text, item.type, item.category, item.confidence, item.source, {**item.metadata, "write_action": action}
    )


def _guarded(errors: list[str], stage: str, call: Callable[[], T]) -> T | None:
    """Run one provider call; a failure is recorded in the trace instead of ending the turn."""
    try:
        return call()
    except (MemoryCoreError, OSError) as exc:
        errors.append(f"{stage} failed: {type(exc).__name__}: {exc}")
        return None


def open_store(settings: Settings) -> SQLiteStore | None:
    """The store the settings ask for: a SQLite file, an in-memory SQLite database, or none."""
    provider = settings.effective_provider
    if provider == "mem0":
        raise ConfigurationError(
            "OPENTALKING_MEMORY_PROVIDER=mem0: the Mem0 provider is not part of this build yet; "
            "use sqlite (the embedded engine), memory or none"
        )
    if provider == "none":
        return None
    return SQLiteStore(":memory:" if provider == "memory" else settings.database_path)


def build_engine(settings: Settings, *, chat_model: ChatModel | None = None) -> MemoryEngine:
    """Wire the embedded engine from settings: the store, BM25 over it, the rule decider."""
    store = open_store(settings)
    retriever = BM25Retriever(store, k1=settings.bm25_k1, b=settings.bm25_b) if store is not None else None
    return MemoryEngine(store, retriever, settings=settings, chat_model=chat_model)
