"""A chat session's state and the trace of one turn, as data."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from .chat import ChatMessage, LLMCall
from .decide.decider import RecallDecision
from .injection import BlockBudget, PipecatInsertion
from .models import MemoryItem, NewItem, Scope
from .recall.lexical import ScoredMemory
from .tuning import Tuning
from .write.gate import WriteDecision


@dataclass
class Session:
    """One visitor's conversation: scope, persona, knobs, history and the pending summary window.

    Plain data (deep-copyable) so a UI can keep one per visitor; the engine holds no session state.
    """

    scope: Scope
    tuning: Tuning
    persona: str = ""
    enabled: bool = True
    character_name: str = ""  # how summaries name the character (the user is "the user")
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    history: list[ChatMessage] = field(default_factory=list)
    summary_window: list[tuple[str, str]] = field(default_factory=list)
    summary_turns: list[int] = field(default_factory=list)  # the turn number of each exchange in the window
    pending_writes: list[tuple[NewItem, ...]] = field(default_factory=list)
    turns: int = 0
    ended: bool = False
    side_calls: list[LLMCall] = field(
        default_factory=list
    )  # the greeting's and without-memory calls, for the next trace
    # With Pipecat's pile-up: the blocks inserted so far, in order (replayed into every turn's context), and
    # the last turn's query (Pipecat's `last_query`: the same query again is not searched)
    pipecat_blocks: list[PipecatInsertion] = field(default_factory=list)
    last_query: str | None = None

    def take_side_calls(self) -> tuple[LLMCall, ...]:
        """The model calls made outside a turn since the last one; the next trace shows them."""
        calls, self.side_calls = tuple(self.side_calls), []
        return calls


@dataclass(frozen=True)
class StageTiming:
    stage: str
    ms: float


@dataclass(frozen=True)
class WriteRecord:
    """The write gate's decision and what actually reached the store."""

    decision: WriteDecision
    write_action: str  # direct_write | mem0_infer | none
    written: tuple[MemoryItem, ...] = ()
    note: str = ""
    error: str = ""


@dataclass(frozen=True)
class SummaryRecord:
    """A summary written from the window (or the reason it could not be stored)."""

    trigger: str  # window | session_end
    text: str
    by: str  # llm | fallback
    turn_count: int
    item: MemoryItem | None = None
    error: str = ""
    call: LLMCall | None = None
    note: str = ""  # why nothing was written, when nothing was
    dropped: int = 0  # points past SUMMARY_MAX_ITEMS that were left out


@dataclass(frozen=True)
class Trace:
    """Everything one user turn did, stage by stage: the console's inspector reads only this."""

    session_id: str
    turn: int
    scope: Scope
    enabled: bool
    user_text: str
    decision: RecallDecision | None
    query: str
    backend: str
    hits: tuple[ScoredMemory, ...]
    recall_note: str
    memory_block: str
    injection_style: str
    block_index: int
    messages: tuple[ChatMessage, ...]
    reply: str
    reply_by: str  # llm | offline | none
    write: WriteRecord | None
    summary: SummaryRecord | None
    summary_pending: int
    summary_window_size: int
    timings: tuple[StageTiming, ...]
    errors: tuple[str, ...] = ()
    llm_calls: tuple[LLMCall, ...] = ()
    reply_partial: bool = False  # the bound cut the streamed reply; `reply` ends with its partial mark
    block_budget: BlockBudget = field(default_factory=BlockBudget)  # the block's size, what its budget left out
    reply_note: str = ""  # small print beside the reply: who wrote an offline reply and why, or that it was cut
    writes_waiting: int = 0  # the session's writes the store refused, kept to be retried at the next turn

    def timing(self, stage: str) -> float:
        return sum(t.ms for t in self.timings if t.stage == stage)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the CLI and the REST API."""
        return asdict(self)
