"""The conversation benchmark: multi-session chats run through the real engine, then probe questions.

The file and its checks are in `conversation_file.py`.

The run records outcomes (the chat-turn items stored after the sessions, and what each probe decided and
injected); every score is a pure function of those outcomes. A stored item is a turn's when its text is
the turn's text, whitespace stripped; keywords match case-insensitively.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from ..decide.decider import DECISION_MODES
from ..engine import MemoryEngine
from ..errors import ConfigurationError, InvalidInputError
from ..recall.fusion import METHODS
from ..session import Session, Trace
from ..settings import Settings
from ..store.protocol import Store
from ..tuning import Tuning
from ..wiring import build_engine
from .conversation_file import LANGS, Conversation, Probe, load_conversations

# -- what a run records, and its scores ---------------------------------------------------------------


@dataclass(frozen=True)
class ProbeOutcome:
    probe: Probe
    recalled: bool  # the recall decision
    hits: tuple[str, ...] = ()  # the injected hits' texts, best first


@dataclass(frozen=True)
class ConversationOutcome:
    conversation: Conversation
    stored: tuple[str, ...]  # the chat-turn items' texts after the sessions (summaries excluded)
    probes: tuple[ProbeOutcome, ...]
    summaries: int = 0


@dataclass(frozen=True)
class Counts:
    """Numerators and denominators of every metric; they add up across conversations."""

    conversations: int = 0
    turns: int = 0
    should_write: int = 0
    items_stored: int = 0  # chat-turn items only
    items_of_should_write: int = 0
    items_of_other_turns: int = 0
    items_of_no_turn: int = 0
    should_write_stored: int = 0
    summaries: int = 0
    probes: int = 0
    decisions_correct: int = 0
    recall_probes: int = 0
    answered: int = 0
    hits_injected: int = 0  # on recall probes
    hits_with_keyword: int = 0
    no_recall_probes: int = 0
    false_injections: int = 0
    correction_probes: int = 0
    supersession_judged: int = 0  # probes that injected a superseded item
    correction_ranked_above: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


# (metric, numerator, denominator, why the denominator can be 0)
RATIOS: tuple[tuple[str, str, str, str], ...] = (
    ("write_precision", "items_of_should_write", "items_stored", "no chat-turn item was stored"),
    ("write_recall", "should_write_stored", "should_write", "no turn is marked should_write"),
    ("probe_decision_accuracy", "decisions_correct", "probes", "there are no probes"),
    ("answer_hit_at_k", "answered", "recall_probes", "no probe expects recall"),
    ("injection_precision", "hits_with_keyword", "hits_injected", "no hit was injected on a probe expecting recall"),
    ("false_injection_rate", "false_injections", "no_recall_probes", "every probe expects recall"),
    ("supersession_ok", "correction_ranked_above", "supersession_judged", "no probe injected a superseded turn"),
)


def contains_keyword(text: str, keywords: Sequence[str]) -> bool:
    folded = text.casefold()
    return any(keyword.casefold() in folded for keyword in keywords)


def is_answered(outcome: ProbeOutcome, relevant: frozenset[str], k: int) -> bool:
    """One of the top-k injected hits contains a keyword or is a relevant turn; a declined recall is a miss."""
    top = outcome.hits[:k] if outcome.recalled else ()
    return any(contains_keyword(hit, outcome.probe.keywords) or hit.strip() in relevant for hit in top)


def supersession(hits: Sequence[str], corrections: frozenset[str], superseded: frozenset[str]) -> bool | None:
    """True when a correction ranks above every superseded turn injected, False when a superseded turn comes
    first or alone, None when no superseded turn was injected (not judged)."""
    old = [rank for rank, hit in enumerate(hits) if hit.strip() in superseded]
    if not old:
        return None
    new = [rank for rank, hit in enumerate(hits) if hit.strip() in corrections]
    return bool(new) and min(new) < min(old)


def count_writes(conversation: Conversation, stored: Sequence[str], summaries: int = 0) -> Counts:
    """Write precision's and recall's counts: stored chat-turn items matched to turns by their text."""
    worth = [turn.text.strip() for turn in conversation.turns if turn.should_write]
    other = {turn.text.strip() for turn in conversation.turns} - set(worth)
    texts = [text.strip() for text in stored]
    return Counts(conversations=1, turns=len(conversation.turns), should_write=len(worth), items_stored=len(texts),
                  items_of_should_write=sum(t in worth for t in texts),
                  items_of_other_turns=sum(t in other for t in texts),
                  items_of_no_turn=sum(t not in other and t not in worth for t in texts),
                  should_write_stored=sum(t in texts for t in worth), summaries=summaries)  # fmt: skip


def count_probe(conversation: Conversation, outcome: ProbeOutcome, k: int) -> Counts:
    """One probe's counts: its decision, and what it injected."""
    probe, hits = outcome.probe, outcome.hits if outcome.recalled else ()
    verdict = supersession(hits, conversation.texts(probe.relevant), conversation.texts(probe.supersedes))
    common = Counts(probes=1, decisions_correct=int(outcome.recalled == probe.expect_recall),
                    correction_probes=int(bool(probe.supersedes)), supersession_judged=int(verdict is not None),
                    correction_ranked_above=int(verdict is True))  # fmt: skip
    if not probe.expect_recall:
        return common + Counts(no_recall_probes=1, false_injections=int(bool(hits)))
    answered = is_answered(outcome, conversation.texts(probe.relevant), k)
    keyword_hits = sum(contains_keyword(hit, probe.keywords) for hit in hits)
    return common + Counts(recall_probes=1, answered=int(answered), hits_injected=len(hits),
                           hits_with_keyword=keyword_hits)  # fmt: skip


def count_conversation(outcome: ConversationOutcome, k: int) -> Counts:
    counts = count_writes(outcome.conversation, outcome.stored, outcome.summaries)
    return sum((count_probe(outcome.conversation, probe, k) for probe in outcome.probes), counts)


def ratio(numerator: int, denominator: int) -> float | None:
    """A rounded share; None (null in JSON) when the denominator is 0."""
    return round(numerator / denominator, 4) if denominator else None


def metrics(counts: Counts) -> dict[str, float | None]:
    return {name: ratio(getattr(counts, num), getattr(counts, den)) for name, num, den, _ in RATIOS}


def counts_report(counts: Counts) -> dict[str, Any]:
    """The counts, with the metrics that are null and why."""
    nulls = {name: f"{den} is 0: {why}" for name, _, den, why in RATIOS if not getattr(counts, den)}
    return {**asdict(counts), "null_metrics": nulls}


def score(outcomes: Sequence[ConversationOutcome], k: int) -> dict[str, Any]:
    """The metrics over every conversation, per language, and the counts behind them."""
    counted = [(outcome.conversation.lang, count_conversation(outcome, k)) for outcome in outcomes]
    total = sum((counts for _, counts in counted), Counts())
    by_lang = {}
    for lang in (lang for lang in LANGS if any(lg == lang for lg, _ in counted)):
        part = sum((counts for lg, counts in counted if lg == lang), Counts())
        by_lang[lang] = {**metrics(part), "counts": counts_report(part)}
    return {**metrics(total), "by_lang": by_lang, "counts": counts_report(total)}


def conversation_row(outcome: ConversationOutcome, k: int) -> dict[str, Any]:
    """One conversation's metrics, counts, and the turn and probe ids behind its misses."""
    conversation, counts = outcome.conversation, count_conversation(outcome, k)
    stored = {text.strip() for text in outcome.stored}
    return {
        "conversation": conversation.id,
        "lang": conversation.lang,
        **metrics(counts),
        "counts": counts_report(counts),
        "not_written": [t.id for t in conversation.turns if t.should_write and t.text.strip() not in stored],
        "written_not_wanted": [t.id for t in conversation.turns if not t.should_write and t.text.strip() in stored],
        "wrong_decisions": [p.probe.id for p in outcome.probes if p.recalled != p.probe.expect_recall],
        "unanswered": [p.probe.id for p in outcome.probes if p.probe.expect_recall
                       and not is_answered(p, conversation.texts(p.probe.relevant), k)],
    }  # fmt: skip


# -- running it ---------------------------------------------------------------------------------------


def bench_tuning(settings: Settings, mode: str | None, method: str | None) -> Tuning:
    """The configured knobs, with the decision mode and retrieval method the command asks for."""
    if mode is not None and mode not in DECISION_MODES:
        raise InvalidInputError(f"mode must be one of {', '.join(DECISION_MODES)}, got {mode!r}")
    if method is not None and method not in METHODS:
        raise InvalidInputError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    tuning = settings.tuning()
    return replace(tuning, decision_mode=mode or tuning.decision_mode,
                   retrieval_method=method or tuning.retrieval_method)  # fmt: skip


def bench_engine(settings: Settings, folder: Path, tuning: Tuning) -> MemoryEngine:
    """The engine `build_engine` wires from the settings, on a fresh SQLite file in `folder` (BM25 loads no
    embedder)."""
    embedder = "none" if tuning.retrieval_method == "bm25" else settings.embedder
    fresh = replace(settings, provider="sqlite", data_dir=str(folder), sqlite_path="", memory_enabled=True,
                    embedder=embedder, tuning_defaults=tuning)  # fmt: skip
    return build_engine(fresh)


def run_conversation(engine: MemoryEngine, conversation: Conversation, tuning: Tuning) -> ConversationOutcome:
    """Its sessions in order (each ended, so summaries are written), then the probes in one new session."""
    store, scope = _store(engine), conversation.scope
    for turns in conversation.sessions:
        session = engine.open_session(scope, enabled=True, tuning=tuning)
        for turn in turns:
            engine.run_turn(session, turn.text)
        engine.end_session(session)
    items = list(store.iter_items(scope))
    chat = tuple(item.text for item in items if item.type != "summary")
    probe_session = engine.open_session(scope, enabled=True, tuning=tuning)
    probes = tuple(_ask(engine, store, probe_session, probe) for probe in conversation.probes)
    return ConversationOutcome(conversation, chat, probes, summaries=len(items) - len(chat))


def _ask(engine: MemoryEngine, store: Store, session: Session, probe: Probe) -> ProbeOutcome:
    trace = engine.run_turn(session, probe.text)
    _forget_writes(store, trace)
    recalled = trace.decision is not None and trace.decision.should_recall
    return ProbeOutcome(probe, recalled, tuple(hit.item.text for hit in trace.hits))


def _forget_writes(store: Store, trace: Trace) -> None:
    """Delete what a probe wrote (its turn, a summary it completed), so probes do not feed each other."""
    written = [*trace.write.written] if trace.write is not None else []
    if trace.summary is not None and trace.summary.item is not None:
        written.append(trace.summary.item)
    if written:
        store.delete_items(trace.scope, [item.id for item in written], source="bench")


def _store(engine: MemoryEngine) -> Store:
    if engine.store is None:
        raise ConfigurationError("the conversation benchmark needs a store")
    return engine.store


def run_conversation_bench(
    path: str | Path,
    settings: Settings,
    *,
    mode: str | None = None,
    method: str | None = None,
    on_conversation: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run every conversation through a fresh engine and score it; mode and method default to the settings'."""
    conversations = load_conversations(path)
    tuning = bench_tuning(settings, mode, method)
    started, outcomes = time.perf_counter(), []
    with tempfile.TemporaryDirectory(prefix="memtune-conversation-") as tmp:
        engine = bench_engine(settings, Path(tmp), tuning)
        try:
            for conversation in conversations:
                outcomes.append(run_conversation(engine, conversation, tuning))
                if on_conversation:
                    on_conversation(conversation_row(outcomes[-1], tuning.recall_limit))
        finally:
            engine.close()
    return {"benchmark": "conversation", "mode": tuning.decision_mode, "method": _method_used(engine, tuning),
            "retrieval": engine.retrieval_note, "k": tuning.recall_limit, **score(outcomes, tuning.recall_limit),
            "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip


def _method_used(engine: MemoryEngine, tuning: Tuning) -> str:
    """The method recall ran with: the engine answers with BM25 when the chosen one needs a missing embedder."""
    methods = engine.retriever.methods if engine.retriever is not None else ()
    return tuning.retrieval_method if tuning.retrieval_method in methods else "bm25"
