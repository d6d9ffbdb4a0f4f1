"""Golden conversations, A against B: one conversation file through the engine with two tunings side by side.

Each side runs the conversation benchmark (conversation.py) on its own fresh temporary SQLite engine, wired
as `bench conversation` wires it, but with an embedder handed in, so a console reuses the model it already
loaded. A probe's outcome is whether it recalled and whether it was answered (`is_answered`); the probes
whose outcome differs between A and B keep their traces' essentials, as plain data a saved run can hold.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ..decide.decider import LLMJudge, RecallDecider
from ..decide.local_judge import LocalJudge
from ..engine import MemoryEngine
from ..errors import InvalidInputError
from ..providers.embedders import EmbedderChoice
from ..providers.openai_chat import build_chat_model
from ..recall.embeddings import Embedder
from ..session import Session, Trace
from ..settings import Settings
from ..store.sqlite import SQLiteStore
from ..tuning import Tuning
from ..views import decision_title, hit_rows, query_line
from ..wiring import build_retriever
from ..write.durable_judge import DurableJudge
from .conversation import RATIOS, ConversationOutcome, ProbeOutcome, is_answered, run_conversation, score
from .conversation_file import Conversation, load_conversations

METRICS = tuple(name for name, *_ in RATIOS)
MAX_FILE_BYTES = 2 * 1024 * 1024  # the largest conversations file the console runs and keeps beside a run
MAX_CONVERSATIONS = 20  # the console's bounds on one run; the CLI has none
MAX_TURNS = 400  # turns and probes together

Progress = Callable[[int, int, str], None]  # (done, total, what is running)


# -- the input: a file, and the two settings -----------------------------------------------------------------


@dataclass(frozen=True)
class ConversationSet:
    """A conversations file as read: its name, its content's SHA-256 and its checked conversations."""

    name: str
    sha256: str
    content: bytes
    conversations: tuple[Conversation, ...]

    @property
    def turns(self) -> int:
        return sum(len(c.turns) + len(c.probes) for c in self.conversations)


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def read_conversation_set(path: str | Path, *, name: str = "", max_bytes: int | None = None) -> ConversationSet:
    """Read and check a conversations file; larger than `max_bytes` is refused before it is parsed."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            raise InvalidInputError(f"the conversations file is {size / 1e6:.1f} MB; the limit is "
                                    f"{max_bytes / 1e6:.1f} MB")  # fmt: skip
        content = path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"cannot read the conversations file {path.name}: {exc.strerror}") from exc
    return ConversationSet(name or path.name, sha256(content), content, load_conversations(path))


def check_console_bounds(conversations: ConversationSet, text_limit: int) -> None:
    """The console's bounds on one run: conversations, turns and probes, and each text's length."""
    if len(conversations.conversations) > MAX_CONVERSATIONS:
        raise InvalidInputError(f"{conversations.name} has {len(conversations.conversations)} conversations; "
                                f"the console runs at most {MAX_CONVERSATIONS} (the CLI runs any number)")  # fmt: skip
    if conversations.turns > MAX_TURNS:
        raise InvalidInputError(f"{conversations.name} has {conversations.turns} turns and probes; the console "
                                f"runs at most {MAX_TURNS} (the CLI runs any number)")  # fmt: skip
    longest = max(len(text) for c in conversations.conversations for text in _texts(c))
    if longest > text_limit:
        raise InvalidInputError(f"{conversations.name} has a text of {longest} characters; the limit is {text_limit}")


def _texts(conversation: Conversation) -> list[str]:
    return [t.text for t in conversation.turns] + [p.text for p in conversation.probes]


@dataclass(frozen=True)
class Choice:
    """One side's settings: the knobs changed from the base tuning, and the full tuning they give."""

    knobs: dict[str, Any]
    tuning: Tuning

    @classmethod
    def of(cls, base: Tuning, knobs: Mapping[str, Any]) -> Choice:
        """The base with these knobs changed, each validated (an unknown knob or a bad value is an error)."""
        return cls(dict(knobs), base.with_changes(**knobs))


def parse_knobs(pairs: Sequence[str]) -> dict[str, str]:
    """`knob=value` pairs (the CLI's) as a mapping; the values are validated by `Choice.of`."""
    knobs = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InvalidInputError(f"expected knob=value, got {pair!r}")
        knobs[name.strip()] = value.strip()
    return knobs


# -- what a run records ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TraceView:
    """A probe's trace reduced to what the A/B view shows: the decision, the query, the hits, the block."""

    title: str
    decision: dict[str, Any]
    query: str
    hits: tuple[tuple[Any, ...], ...]
    memory_block: str

    @classmethod
    def of(cls, trace: Trace) -> TraceView:
        decision = trace.decision.to_dict() if trace.decision else {"memory": "off", "note": trace.recall_note}
        rows = tuple(tuple(row) for row in hit_rows(trace.hits))
        return cls(decision_title(trace.decision, len(trace.hits)), decision, query_line(trace), rows,
                   trace.memory_block)  # fmt: skip


@dataclass(frozen=True)
class ProbeResult:
    """One probe's outcome on one side: recalled or not, answered or not, and its top injected hit."""

    conversation: str
    probe: str
    text: str
    expect_recall: bool
    recalled: bool
    answered: bool
    top_hit: str = ""

    @property
    def key(self) -> str:
        return f"{self.conversation}/{self.probe}"

    @property
    def outcome(self) -> tuple[bool, bool]:
        return self.recalled, self.answered


@dataclass(frozen=True)
class Side:
    """One side's run: its settings, its metrics, every probe's outcome and the traces kept (changed probes')."""

    choice: Choice
    metrics: dict[str, Any]
    probes: tuple[ProbeResult, ...]
    traces: dict[str, TraceView] = field(default_factory=dict)

    def probe(self, key: str) -> ProbeResult | None:
        return next((p for p in self.probes if p.key == key), None)


@dataclass(frozen=True)
class AbRun:
    """A run of A against B: the file (name and hash), when, both sides; its id comes when it is saved."""

    file_name: str
    file_sha256: str
    created: str
    a: Side
    b: Side
    seconds: float = 0.0
    id: str = ""

    @property
    def changed(self) -> tuple[tuple[ProbeResult, ProbeResult], ...]:
        return changed_probes(self.a, self.b)

    @property
    def differing_knobs(self) -> dict[str, tuple[Any, Any]]:
        """The knobs whose values differ between A's tuning and B's."""
        a, b = self.a.choice.tuning, self.b.choice.tuning
        names = [f.name for f in fields(a) if getattr(a, f.name) != getattr(b, f.name)]
        return {name: (getattr(a, name), getattr(b, name)) for name in names}


def changed_probes(first: Side, second: Side) -> tuple[tuple[ProbeResult, ProbeResult], ...]:
    """The probes (matched by conversation and probe id) whose outcome differs between the two sides."""
    pairs = [(p, second.probe(p.key)) for p in first.probes]
    return tuple((p, q) for p, q in pairs if q is not None and p.outcome != q.outcome)


def delta(first: float | None, second: float | None) -> float | None:
    return round(second - first, 4) if first is not None and second is not None else None


def metric_rows(first: Mapping[str, Any], second: Mapping[str, Any]) -> list[tuple[str, Any, Any, float | None]]:
    """(metric, first, second, second − first) for every conversation metric."""
    return [(name, first.get(name), second.get(name), delta(first.get(name), second.get(name))) for name in METRICS]


# -- running it ------------------------------------------------------------------------------------------------


class TracingEngine(MemoryEngine):
    """The bench engine, keeping each turn's trace; it closes the models it built, never the shared embedder."""

    def __init__(self, *args: Any, owned: Sequence[object] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.traces: list[Trace] = []
        self.owned = tuple(owned)

    def run_turn(self, session: Session, user_text: str, *, interrupted: bool = False) -> Trace:
        trace = super().run_turn(session, user_text, interrupted=interrupted)
        self.traces.append(trace)
        return trace

    def close(self) -> None:
        for model in self.owned:
            close = getattr(model, "close", None)
            if close is not None:
                close()
        if self.store is not None:
            self.store.close()


def ab_engine(settings: Settings, folder: Path, tuning: Tuning, embedder: Embedder | None) -> TracingEngine:
    """`bench conversation`'s engine on a fresh SQLite file in `folder`, with the embedder given (BM25: none)."""
    used = None if tuning.retrieval_method == "bm25" else embedder
    fresh = replace(settings, provider="sqlite", data_dir=str(folder), sqlite_path="", memory_enabled=True,
                    embedder=settings.embedder if used else "none", tuning_defaults=tuning)  # fmt: skip
    store = SQLiteStore(fresh.database_path)
    choice = EmbedderChoice(used, "the embedder in use") if used else EmbedderChoice(None, "BM25 only")
    retriever, note = build_retriever(fresh, store, choice)
    models = (build_chat_model(fresh.judge_llm), build_chat_model(fresh.reply_llm), build_chat_model(fresh.summary_llm))
    decider = RecallDecider(LLMJudge(models[0]) if models[0] is not None else None, LocalJudge.shipped(used))
    engine = TracingEngine(store, retriever, settings=fresh, decider=decider, chat_model=models[1],
                           summary_model=models[2], write_scorer=DurableJudge.shipped(used),
                           owned=[m for m in models if m is not None])  # fmt: skip
    engine.retrieval_note = note
    return engine


def run_side(
    conversations: ConversationSet, choice: Choice, settings: Settings, embedder: Embedder | None, step: Progress
) -> tuple[Side, dict[str, Trace]]:
    """One side over every conversation: its metrics and probe outcomes, and every probe's trace by key."""
    tuning = choice.tuning
    outcomes: list[ConversationOutcome] = []
    traces: dict[str, Trace] = {}
    with tempfile.TemporaryDirectory(prefix="memtune-ab-") as tmp:
        engine = ab_engine(settings, Path(tmp), tuning, embedder)
        try:
            for conversation in conversations.conversations:
                step(len(outcomes), len(conversations.conversations), conversation.id)
                outcomes.append(run_conversation(engine, conversation, tuning))
                traces |= _probe_traces(conversation, engine.traces)
                engine.traces.clear()
            methods = engine.retriever.methods if engine.retriever is not None else ()
        finally:
            engine.close()
    method = tuning.retrieval_method if tuning.retrieval_method in methods else "bm25"
    metrics = {"mode": tuning.decision_mode, "method": method, "k": tuning.recall_limit,
               **score(outcomes, tuning.recall_limit)}  # fmt: skip
    probes = tuple(r for outcome in outcomes for r in probe_results(outcome, tuning.recall_limit))
    return Side(choice, metrics, probes), traces


def _probe_traces(conversation: Conversation, traces: Sequence[Trace]) -> dict[str, Trace]:
    """The probes' traces: the last ones of the conversation, one per probe, in order."""
    asked = traces[len(traces) - len(conversation.probes) :] if conversation.probes else []
    return {f"{conversation.id}/{p.id}": trace for p, trace in zip(conversation.probes, asked, strict=True)}


def probe_results(outcome: ConversationOutcome, k: int) -> tuple[ProbeResult, ...]:
    conversation = outcome.conversation
    return tuple(_result(conversation, p, k) for p in outcome.probes)


def _result(conversation: Conversation, outcome: ProbeOutcome, k: int) -> ProbeResult:
    probe, top = outcome.probe, outcome.hits[0] if outcome.recalled and outcome.hits else ""
    answered = is_answered(outcome, conversation.texts(probe.relevant), k)
    return ProbeResult(conversation.id, probe.id, probe.text, probe.expect_recall, outcome.recalled, answered, top)


def run_ab(
    conversations: ConversationSet,
    a: Choice,
    b: Choice,
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
) -> AbRun:
    """A, then B, over every conversation; the changed probes keep both traces' essentials."""
    started, total = time.perf_counter(), 2 * len(conversations.conversations)

    def on_step(offset: int, label: str) -> Progress:
        return lambda done, _, what: progress(offset + done, total, f"{label}: {what}") if progress else None

    side_a, traces_a = run_side(conversations, a, settings, embedder, on_step(0, "A"))
    side_b, traces_b = run_side(conversations, b, settings, embedder, on_step(total // 2, "B"))
    keys = [p.key for p, _ in changed_probes(side_a, side_b)]
    side_a = replace(side_a, traces={key: TraceView.of(traces_a[key]) for key in keys})
    side_b = replace(side_b, traces={key: TraceView.of(traces_b[key]) for key in keys})
    return AbRun(conversations.name, conversations.sha256, time.strftime("%Y-%m-%d %H:%M:%S"), side_a, side_b,
                 round(time.perf_counter() - started, 1))  # fmt: skip


def rerun(saved: AbRun, conversations: ConversationSet, settings: Settings, *, embedder: Embedder | None = None,
          progress: Progress | None = None) -> AbRun:  # fmt: skip
    """The saved run's two settings again, on the same file content (a different hash is an error)."""
    if conversations.sha256 != saved.file_sha256:
        raise InvalidInputError(f"the file's content differs from run {saved.id}'s: its SHA-256 is "
                                f"{conversations.sha256[:12]}…, the run's was {saved.file_sha256[:12]}…; "
                                "run it afresh instead")  # fmt: skip
    named = replace(conversations, name=saved.file_name)
    return run_ab(named, saved.a.choice, saved.b.choice, settings, embedder=embedder, progress=progress)


# -- two runs against each other -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunComparison:
    """Two saved runs: each metric on each side, first and later, and the probes whose outcome changed."""

    first: AbRun
    later: AbRun

    def metric_rows(self) -> list[tuple[Any, ...]]:
        """(metric, first A, later A, Δ A, first B, later B, Δ B)."""
        a = metric_rows(self.first.a.metrics, self.later.a.metrics)
        b = metric_rows(self.first.b.metrics, self.later.b.metrics)
        return [(name, *ra[1:], *rb[1:]) for ra, rb in zip(a, b, strict=True) for name in [ra[0]]]

    def changed(self) -> list[tuple[str, ProbeResult, ProbeResult]]:
        """(side, first, later) for each probe whose outcome changed on that side between the runs."""
        return [(label, p, q) for label, first, later in (("A", self.first.a, self.later.a),
                                                          ("B", self.first.b, self.later.b))
                for p, q in changed_probes(first, later)]  # fmt: skip
