"""The memory engine: one call per user turn, returning a trace of every stage.

decide → recall → inject → reply → write gate → write → summary window. A provider failure never
loses the turn: a failed reply falls back to the offline responder, failed writes wait in the session
and are retried, a failed summary writes the offline fallback.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from itertools import islice

from .chat import (
    CallOptions,
    ChatMessage,
    ChatModel,
    LLMCall,
    StreamingChatModel,
    StreamResult,
    call_model,
    stream_model,
)
from .decide import teaching
from .decide.decider import LLMJudge, RecallDecider, RecallDecision
from .injection import Injection
from .models import MemoryItem, Scope, TaughtExample
from .prompts import greeting_messages, without_own_name
from .providers.mem0_store import Mem0Store
from .recall.embeddings import Embedder
from .recall.fusion import FusionRetriever
from .recall.lexical import BM25Retriever, Retriever, ScoredMemory
from .recall.warmup import warm
from .reply.responder import OfflineResponder, Question, Reply, model_reply, streamed_reply
from .session import Session, StageTiming, SummaryRecord, Trace, WriteRecord
from .settings import Settings
from .stages import (
    buffer_for_summary,
    conversation,
    fresh_items,
    guarded,
    inject,
    mark_superseded,
    recall,
    retry_pending,
    similar_memories,
    summarise,
    write,
)
from .store.protocol import Store
from .tuning import Tuning
from .write.dedupe import DuplicateFinder
from .write.gate import WriteScorer, at_threshold, import_items

GREETING_MEMORIES = 20  # Pipecat's get_memories() reads get_all's default top_k
GREETING_SCAN = 200  # newest items read to find them past superseded ones and summaries


@dataclass
class _Turn:
    """What one turn has gathered so far; becomes a Trace when it finishes."""

    session: Session
    user_text: str
    active: bool
    injection: Injection
    decision: RecallDecision | None = None
    hits: tuple[ScoredMemory, ...] = ()
    note: str = ""
    reply: str = ""
    reply_by: str = "none"
    reply_partial: bool = False
    reply_note: str = ""
    errors: list[str] = field(default_factory=list)
    calls: list[LLMCall] = field(default_factory=list)
    timings: list[StageTiming] = field(default_factory=list)

    @property
    def injected(self) -> tuple[ScoredMemory, ...]:
        """The hits the block holds: the recalled ones minus those the token budget left out."""
        left_out = {memory.id for memory in self.injection.budget.left_out}
        return tuple(hit for hit in self.hits if hit.item.id not in left_out)

    @property
    def question(self) -> Question:
        """What the reply answers, for the offline responder: the words, the injected hits, the decision."""
        return Question.of(self.user_text, self.injected, self.decision)

    def take(self, reply: Reply) -> None:
        """The turn's reply, its call and any error."""
        self.reply, self.reply_by, self.reply_partial, self.reply_note = reply.text, reply.by, reply.partial, reply.note
        self.calls += [reply.call] if reply.call is not None else []
        self.errors += [reply.error] if reply.error else []

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
        store: Store | None,
        retriever: Retriever | None,
        *,
        settings: Settings,
        decider: RecallDecider | None = None,
        chat_model: ChatModel | None = None,
        summary_model: ChatModel | None = None,
        write_scorer: WriteScorer | None = None,
    ) -> None:
        self.store = store
        self.retriever = retriever
        self.settings = settings
        self.decider = decider or RecallDecider()
        self.chat_model = chat_model
        self.summary_model = summary_model
        self.write_scorer = write_scorer  # the write gate's second opinion where its rules find nothing lasting
        self.responder = OfflineResponder()
        self.retrieval_note = "BM25" if retriever is not None else "no store"
        self.provider_note = "embedded SQLite" if store is not None else "none"

    @property
    def memory_available(self) -> bool:
        return self.store is not None and self.retriever is not None

    @property
    def embedder(self) -> Embedder | None:
        """The embedder recall uses (None: BM25 only)."""
        return self.retriever.dense.embedder if isinstance(self.retriever, FusionRetriever) else None

    def close(self) -> None:
        parts = (self.chat_model, self.summary_model, _judge_model(self.decider), self.embedder)
        for model in {id(m): m for m in parts if m}.values():
            close = getattr(model, "close", None)
            if close is not None:
                close()
        if self.store is not None:
            self.store.close()

    def open_session(
        self, scope: Scope, *, persona: str = "", enabled: bool | None = None, tuning: Tuning | None = None,
        name: str = "",
    ) -> Session:  # fmt: skip
        """Start a session (``name``: the character's, for summaries); its library is created if missing."""
        if self.store is not None:
            self.store.ensure_library(scope)
        return Session(
            scope=scope,
            tuning=tuning or self.settings.tuning(),
            persona=persona,
            enabled=self.settings.memory_enabled if enabled is None else enabled,
            character_name=name,
        )

    def run_turn(self, session: Session, user_text: str, *, interrupted: bool = False) -> Trace:
        """One user turn, start to end; the reply is in the trace."""
        turn = self._begin(session, user_text)
        with turn.stage("reply"):
            self._reply(turn)
        return self._finish(turn, interrupted)

    def stream_turn(self, session: Session, user_text: str) -> Iterator[str | Trace]:
        """The same turn, with the reply yielded piece by piece as the model sends it, then the Trace (whose
        reply is the one kept: a cut answer ends with its partial mark, a failed one is the offline reply)."""
        turn = self._begin(session, user_text)
        model = self.chat_model
        if not isinstance(model, StreamingChatModel):
            with turn.stage("reply"):
                self._reply(turn)
            yield turn.reply
            yield self._finish(turn, False)
            return
        started, result, tuning = time.perf_counter(), StreamResult(), session.tuning
        options = CallOptions(tuning.reply_timeout_ms)
        yield from stream_model(model, turn.injection.messages, purpose="reply", options=options, result=result)
        turn.timings.append(StageTiming("reply", (time.perf_counter() - started) * 1000))
        turn.take(streamed_reply(result, self.responder, turn.question, tuning))
        if turn.reply != result.text:
            yield turn.reply[len(result.text) :] if turn.reply.startswith(result.text) else turn.reply
        yield self._finish(turn, False)

    def greeting(self, session: Session, *, name: str = "") -> str:
        """Open a chat from what is stored (Pipecat's get_memories() greeting): newest memories first. The
        model's call is recorded in the session's next trace."""
        return self.greet(session, name=name).text

    def greet(self, session: Session, *, name: str = "") -> Reply:
        """The greeting with who wrote it: the model's, else the offline one, whose note says why."""
        name = name or session.character_name
        memories = self._greeting_memories(session)
        if self.chat_model is not None:
            messages = greeting_messages(session.persona, memories, name=name)
            options = CallOptions(session.tuning.reply_timeout_ms)
            completion, call = call_model(self.chat_model, messages, purpose="greeting", options=options)
            session.side_calls.append(call)
            if completion is not None and completion.text.strip():
                return Reply(without_own_name(completion.text, name), "llm", call)
            return self._offline_greeting(session, name, memories, call.error or "empty answer")
        return self._offline_greeting(session, name, memories, "")

    def _offline_greeting(self, session: Session, name: str, memories: list[str], error: str) -> Reply:
        text = self.responder.greeting(name, memories, memory_on=session.enabled and self.memory_available)
        why = "" if not error else "timeout" if error.startswith("timeout") else "error"
        note = self.responder.note(text, why=why, seconds=session.tuning.reply_timeout_ms / 1000, error=error)
        return Reply(text, "offline", note=note)

    def _greeting_memories(self, session: Session) -> list[str]:
        """The newest current memories worth greeting with: not superseded, and no summaries or raw turns
        while the library holds anything else."""
        if not session.enabled or self.store is None:
            return []
        store, scope = self.store, session.scope
        items = guarded([], "greeting", lambda: list(islice(store.iter_items(scope), GREETING_SCAN))) or []
        current = [item for item in items if not item.metadata.get("superseded_by")]
        chosen = [item for item in current if item.type not in ("summary", "chat_turn")] or current
        return [item.text for item in chosen[:GREETING_MEMORIES]]

    def reply_without_memory(self, session: Session, user_text: str) -> str:
        """What the character would answer with no memory at all (for side-by-side demos); stores nothing. The
        model's call is recorded in the session's next trace."""
        return self.answer_without_memory(session, user_text).text

    def answer_without_memory(self, session: Session, user_text: str) -> Reply:
        """The reply with no memory, with who wrote it: the model's, else the offline one, whose note says why."""
        persona, turns = conversation(session, user_text)
        messages = [*persona, *turns]
        if self.chat_model is None:
            text = self.responder.reply_without_memory(user_text)
            return Reply(text, "offline", note=self.responder.note(user_text))
        options = CallOptions(session.tuning.reply_timeout_ms)
        completion, call = call_model(self.chat_model, messages, purpose="reply_without_memory", options=options)
        session.side_calls.append(call)
        if completion is not None and completion.text.strip():
            return Reply(completion.text, "llm", call)
        error = call.error or "empty answer"
        why = "timeout" if error.startswith("timeout") else "error"
        note = self.responder.note(user_text, why=why, seconds=options.timeout_ms / 1000, error=error)
        return Reply(self.responder.reply_without_memory(user_text), "offline", call, note=note)

    def end_session(self, session: Session) -> SummaryRecord | None:
        """Flush what is left: pending writes, and the partial summary window (never dropped)."""
        errors: list[str] = []
        record = None
        if self.store is not None:
            retry_pending(self.store, session, errors)
            if session.summary_window and session.tuning.summary_enabled:
                record = summarise(self.store, self.summary_model, session, "session_end", errors)
        session.ended = True
        return record

    def import_turns(self, scope: Scope, turns: Sequence[tuple[str, str]], *, source: str) -> tuple[MemoryItem, ...]:
        """Classify and store a batch of chat turns (the reference's /import): user turns worth keeping."""
        judge = at_threshold(self.write_scorer, self.settings.tuning().write_judge_threshold)
        items = import_items(turns, source=source or "import", scorer=judge)
        if self.store is None or not items:
            return ()
        items = fresh_items(self.store, scope, items, self._finder(), self.settings.tuning().dedupe_threshold)
        written = self.store.add_items(scope, items, source="import") if items else ()
        mark_superseded(self.store, scope, written)
        self.refresh(scope, [])
        return written

    def _finder(self) -> DuplicateFinder | None:
        retriever = self.retriever
        return None if retriever is None else partial(similar_memories, retriever)

    def warm_up(self, first: Sequence[Scope] = (), *, recent: int = 0) -> threading.Thread | None:
        """Build in a background thread the search indexes of `first`, then of the `recent` most recently
        updated libraries, so their first searches find them built; None when there is nothing to warm."""
        if self.retriever is None or self.store is None:
            return None
        scopes = list(dict.fromkeys([*first, *self.store.recent_libraries(recent)]))
        return warm(self.retriever, scopes) if scopes else None

    def refresh(self, scope: Scope, errors: list[str], progress: Callable[[int, int], None] | None = None) -> int:
        """Embed what a library's new or changed memories need now, not at the next search."""
        retriever = self.retriever
        if not isinstance(retriever, FusionRetriever):
            return 0
        embedded = guarded(errors, "embedding", lambda: retriever.sync(scope, progress))
        return embedded or 0

    def teach(self, scope: Scope, text: str, should_recall: bool) -> TaughtExample:
        """Store the user's correction for the scope's character; the local judge follows it from the next
        decision on."""
        return teaching.teach(self.store, self.retriever, scope, text, should_recall)

    def taught_examples(self, scope: Scope) -> tuple[TaughtExample, ...]:
        """The character's taught examples that apply to the scope's profile: its own, then the shared ones."""
        return teaching.taught_examples(self.store, scope)

    def forget_example(self, scope: Scope, example_id: str) -> None:
        """Delete one of the profile's own taught examples; NotFoundError if it has no such example."""
        teaching.forget(self.store, scope, example_id)

    def forget_profile(self, profile_id: str) -> int:
        """Drop every in-memory search index of a profile (a swept sandbox leaves nothing behind); the store is
        untouched. Returns how many library indexes were held."""
        retriever = self.retriever
        if isinstance(retriever, BM25Retriever | FusionRetriever):
            return retriever.forget_profile(profile_id)
        return 0

    # -- the parts of a turn -----------------------------------------------------------------------

    def _begin(self, session: Session, user_text: str) -> _Turn:
        """Decide, recall and inject: everything before the model is asked."""
        session.turns += 1
        tuning = session.tuning
        retriever = self.retriever
        active = session.enabled and self.store is not None and retriever is not None
        turn = _Turn(session, user_text, active, Injection((), "", -1))
        if not self.memory_available:
            turn.note = "memory provider is 'none': nothing is recalled or written"
        if not session.enabled:
            turn.note = "memory is off for this session: no recall and no write"
        if active and retriever is not None:
            with turn.stage("decide"):
                taught = self._turn_taught(session.scope, tuning.decision_mode, turn.errors)
                turn.decision = self.decider.decide(
                    user_text, mode=tuning.decision_mode, timeout_ms=tuning.decision_timeout_ms, taught=taught
                )
            if turn.decision.llm_call is not None:
                turn.calls.append(turn.decision.llm_call)
            if turn.decision.should_recall and repeats_query(session, turn.decision):
                turn.note = SAME_QUERY_NOTE
            elif turn.decision.should_recall:
                with turn.stage("recall"):
                    mem0 = self.store if isinstance(self.store, Mem0Store) else None
                    turn.hits, turn.note = recall(retriever, session.scope, turn.decision, tuning, turn.errors, mem0)
        with turn.stage("inject"):
            turn.injection = inject(session, user_text, turn.hits)
        return turn

    def _turn_taught(self, scope: Scope, mode: str, errors: list[str]) -> tuple[TaughtExample, ...]:
        """The taught examples for this turn's decision, read once; none when no local judge could use them."""
        if mode in ("rule", "always") or self.decider.local is None:
            return ()
        return guarded(errors, "taught examples", lambda: self.taught_examples(scope)) or ()

    def _reply(self, turn: _Turn) -> None:
        messages, tuning = turn.injection.messages, turn.session.tuning
        turn.take(model_reply(self.chat_model, self.responder, messages, turn.question, tuning))

    def _finish(self, turn: _Turn, interrupted: bool) -> Trace:
        """Record the turn in the history, write, buffer for the summary, and build the trace."""
        session, tuning = turn.session, turn.session.tuning
        session.history += [ChatMessage("user", turn.user_text), ChatMessage("assistant", turn.reply)]
        remember_pipecat(session, turn.decision, turn.injection)
        write_record: WriteRecord | None = None
        summary: SummaryRecord | None = None
        if turn.active and self.store is not None:
            with turn.stage("write"):
                write_record = write(self.store, session, turn.user_text, turn.reply, interrupted, turn.errors,
                                     self._finder(), self.write_scorer)  # fmt: skip
                if write_record.written:
                    self.refresh(session.scope, turn.errors)
            with turn.stage("summary"):
                buffered = not interrupted and write_record.decision.action != "reject"
                summary = buffer_for_summary(self.store, self.summary_model, session, (turn.user_text, turn.reply),
                                             turn.errors, buffered=buffered)  # fmt: skip
                if summary is not None and summary.call is not None:
                    turn.calls.append(summary.call)
        decision = turn.decision
        return Trace(
            session_id=session.id,
            turn=session.turns,
            scope=session.scope,
            enabled=turn.active,
            user_text=turn.user_text,
            decision=decision,
            query=decision.query if decision and decision.should_recall else "",
            backend=tuning.recall_backend,
            hits=turn.hits,
            recall_note=turn.note,
            memory_block=turn.injection.block,
            injection_style=tuning.injection_style,
            block_index=turn.injection.block_index,
            block_budget=turn.injection.budget,
            messages=turn.injection.messages,
            reply=turn.reply,
            reply_by=turn.reply_by,
            reply_partial=turn.reply_partial,
            reply_note=turn.reply_note,
            write=write_record,
            summary=summary,
            summary_pending=len(session.summary_window),
            summary_window_size=tuning.summary_turn_window,
            timings=tuple(turn.timings),
            errors=tuple(turn.errors),
            llm_calls=(*session.take_side_calls(), *turn.calls),
            writes_waiting=len(session.pending_writes),
        )


SAME_QUERY_NOTE = "Pipecat's pile-up: the same query as the last turn's (last_query) is not searched again"


def repeats_query(session: Session, decision: RecallDecision) -> bool:
    """With Pipecat's pile-up, a query equal to the last turn's: Pipecat neither searches nor inserts."""
    return session.tuning.piles_up and decision.query == session.last_query


def remember_pipecat(session: Session, decision: RecallDecision | None, injection: Injection) -> None:
    """With Pipecat's pile-up, keep the turn's query as `last_query` and the block it inserted."""
    if not session.tuning.piles_up:
        return
    if decision is not None:
        session.last_query = decision.query
    if injection.inserted is not None:
        session.pipecat_blocks.append(injection.inserted)


def _judge_model(decider: RecallDecider) -> ChatModel | None:
    judge = decider.judge
    return judge.model if isinstance(judge, LLMJudge) else None
