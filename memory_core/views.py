"""Turning traces and settings into rows and short texts any UI can show (the console, the CLI).

Pure functions over memory_core values: no UI framework here, so every formatting rule is testable.
Functions that return Markdown pass every quoted text (memories, queries, notes) through `inert`, so
markup in it shows as text; titles, labels and rows are plain text for the caller to place.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from .chat import ChatMessage
from .decide.decider import RecallDecision
from .eval.compare import BatchReport, ModeOutcome
from .injection import LeftOut
from .markup import inert, inert_code
from .models import MemoryItem
from .recall.lexical import ScoredMemory
from .session import Trace, WriteRecord
from .tuning import Tuning
from .write.audit import LibraryAudit, seen_count

HIT_COLUMNS = ["rank", "id", "text", "category", "method", "bm25", "entity_boost", "name_boost", "bm25_norm",
               "cosine", "dense_norm", "bm25_weight", "category_boost", "score", "relevance"]  # fmt: skip
ITEM_COLUMNS = ["id", "text", "status", "type", "category", "confidence", "source", "updated_at"]


PLAIN_REASONS = {
    "user_owned": "the message asks about the user's own life",
    "preference_context": "the message touches the user's preferences",
    "comfort_context": "the user may need comfort that knows their situation",
    "goal_context": "the message touches the user's goals",
    "fact_entity": "the message mentions someone or something in the user's life",
    "explicit_recall": "the user refers to something said before",
    "named_entity_question": "a question about someone in the user's life",
    "always": "memory is searched for every message",
    "high_risk_ignored": "a risky request, answered without memory",
    "no_marker": "nothing in the message is about the user",
    "low_value": "a greeting or small talk",
    "empty": "an empty message",
    "general_knowledge": "a general-knowledge question",
    "greeting": "a greeting",
    "small_talk": "small talk",
    "one_off_command": "a one-off request",
    "identity": "about who the user is",
    "preference": "about the user's preferences",
    "health": "about the user's health",
    "people": "about people in the user's life",
    "goal": "about the user's goals",
    "plan": "about the user's plans",
    "past_conversation": "about an earlier conversation",
    "feedback": "about how the user wants to be answered",
    "personal_context": "needs the user's personal context",
    "taught_example": "a taught example says so",
    "local_judge": "the local judge says so",
}


def plain_reason(reason: str) -> str:
    """A decision's reason in words a stakeholder reads; an unknown code with its underscores spaced."""
    return PLAIN_REASONS.get(reason, reason.replace("_", " "))


def decision_title(decision: RecallDecision | None, hits: int) -> str:
    """One plain-text line for the chat: memory off, no recall (and why), searched with nothing found, or how
    many memories were recalled. Who decided, and how, is in `decision_details`."""
    if decision is None:
        return "Memory off: nothing recalled or written"
    if not decision.should_recall:
        return f"No recall: {plain_reason(decision.reason)}"
    if not hits:
        return "Searched memory: nothing relevant found"
    return f"Recalled {hits} {'memory' if hits == 1 else 'memories'}"


def decision_details(trace: Trace) -> str:
    """The collapsible body under the title: why, who decided how, and what was searched and found."""
    decision = trace.decision
    if decision is None:
        note = inert(trace.recall_note) or "Memory is off for this session."
        return f"{note}\n\nNo search ran and nothing is written."
    lines = [f"**Why** {inert(plain_reason(decision.reason))}", decided_line(decision)]
    if not decision.should_recall:
        return "\n\n".join([*lines, "No search ran: the memory library was not consulted."])
    lines.append(f"**Query** {inert(decision.query)}")
    lines += [f"{h.rank}. {inert(h.item.text)}  `score {h.score:.2f} · {h.method}`" for h in trace.hits]
    if not trace.hits:
        lines.append(f"_Nothing scored above the threshold._ {inert(trace.recall_note)}".strip())
    return "\n\n".join(lines)


def trouble_line(trace: Trace) -> str:
    """What failed underneath the turn (the store gone away, an embedder down) and what waits to be saved, in
    plain words; empty when nothing did."""
    if not trace.errors and not trace.writes_waiting:
        return ""
    failed = f"{inert(trace.errors[0])}. " if trace.errors else ""
    waiting = trace.writes_waiting
    writes = "1 write of this session is" if waiting == 1 else f"{waiting} writes of this session are"
    kept = f"{writes} kept and retried at the next turn." if waiting else ""
    return f"⚠️ **Memory trouble:** {failed}{kept}".strip()


def decided_line(decision: RecallDecision) -> str:
    """The engineer's line: reason code, what matched, who decided (and any fallback), mode and latency."""
    evidence = f" (matched “{inert(decision.evidence)}”)" if decision.evidence else ""
    fallback = f" (fallback: {inert(decision.fallback_reason)})" if decision.fallback_reason else ""
    return (
        f"**Decided by** {inert_code(decision.decided_by)}{fallback} · mode {inert_code(decision.mode)} · "
        f"reason {inert_code(decision.reason)}{evidence} · {decision.latency_ms:.1f} ms"
    )


def query_line(trace: Trace) -> str:
    """The inspector's line above the hits: what was searched, by which backend, and the recall note."""
    query = inert(trace.query) if trace.query else "(no search)"
    return f"**Query** {query} · backend {inert_code(trace.backend)} · {inert(trace.recall_note)}"


def block_size(trace: Trace) -> str:
    """The inspector's line on the memory block: its estimated size against the budget, and each memory the
    budget left out. Empty when no memory was offered to the block."""
    fitted = trace.block_budget
    if not trace.memory_block and not fitted.left_out:
        return ""
    size = f"≈ {fitted.tokens} tokens " + (f"of {fitted.budget}" if fitted.budget else "(no budget)")
    parts = [size if trace.memory_block else "", fitted.note]
    texts = {h.item.id: h.item.text for h in trace.hits}
    lines = ["**Memory block** " + " · ".join(inert(part) for part in parts if part)]
    lines += [left_out_line(m, texts.get(m.id, "")) for m in fitted.left_out]
    return "\n".join(lines)


def left_out_line(memory: LeftOut, text: str) -> str:
    """One memory the budget left out: its id, estimated tokens and the start of its text."""
    shown = text if len(text) <= 80 else text[:79] + "…"
    return f"- left out for the budget: {inert_code(memory.id)} ≈ {memory.tokens} tokens · {inert(shown)}"


def hit_rows(hits: Sequence[ScoredMemory]) -> list[list[object]]:
    """One row per hit, in HIT_COLUMNS order, scores rounded for reading."""
    return [
        [h.rank, h.item.id, h.item.text, h.item.category, h.method, round(h.bm25, 3), h.entity_boost, h.name_boost,
         round(h.bm25_norm, 3), round(h.dense, 3), round(h.dense_norm, 3), round(h.weight, 3), h.category_boost,
         round(h.score, 3), round(h.relevance, 3)]
        for h in hits
    ]  # fmt: skip


THRESHOLDS = {  # per retrieval method: the knob a hit's final score must pass, its Settings label, its variable
    "bm25": ("recall_min_score", "BM25 min score", "OPENTALKING_MEMORY_RECALL_MIN_SCORE"),
    "fusion": ("fusion_min_score", "Fusion/dense min score", "MEMTUNE_FUSION_MIN_SCORE"),
    "dense": ("fusion_min_score", "Fusion/dense min score", "MEMTUNE_FUSION_MIN_SCORE"),
    "mem0": ("mem0_threshold", "Mem0 search threshold", "MEMTUNE_MEM0_THRESHOLD"),
}


def threshold_of(hits: Sequence[ScoredMemory], tuning: Tuning) -> float:
    """The threshold the hits were held to: BM25's min score, the fused/dense one, or Mem0's."""
    return float(getattr(tuning, THRESHOLDS[_method(hits, tuning)][0]))


def threshold_label(hits: Sequence[ScoredMemory], tuning: Tuning) -> str:
    """That threshold named as Settings names it, with its variable and value."""
    _, label, variable = THRESHOLDS[_method(hits, tuning)]
    return f"{label} {threshold_of(hits, tuning):g} ({variable})"


def _method(hits: Sequence[ScoredMemory], tuning: Tuning) -> str:
    method = hits[0].method if hits else tuning.retrieval_method
    return method if method in THRESHOLDS else "bm25"


def score_bars(hits: Sequence[ScoredMemory], min_score: float) -> list[dict[str, object]]:
    """Bar-chart rows: each hit's final score, and the threshold as its own bar to compare against."""
    rows: list[dict[str, object]] = [
        {"memory": f"{h.rank}. {h.item.text[:16]}", "score": round(h.score, 3), "kind": "hit"} for h in hits
    ]
    rows.append({"memory": f"threshold {min_score:g}", "score": min_score, "kind": "threshold"})
    return rows


def message_spans(messages: Sequence[ChatMessage], block: str, block_index: int) -> list[tuple[str, str | None]]:
    """The exact messages as (text, label) spans, with the memory block labelled "memory"."""
    spans: list[tuple[str, str | None]] = []
    for index, message in enumerate(messages):
        spans.append((f"[{message.role}]\n", message.role))
        content = message.content
        if index == block_index and block and block in content:
            before, after = content.split(block, 1)
            spans += [(before, None), (block, "memory"), (after, None)]
        else:
            spans.append((content, None))
        spans.append(("\n\n", None))
    return spans


def llm_calls(trace: Trace) -> list[dict[str, object]]:
    """Every model call of the turn (judge, reply, summary), as the inspector shows them."""
    return [
        {
            "purpose": call.purpose,
            "model": call.model,
            "latency_ms": round(call.latency_ms, 1),
            "tokens": {"prompt": call.prompt_tokens, "completion": call.completion_tokens},
            "error": call.error,
            "parsed": dict(call.parsed) if call.parsed is not None else None,
            "answer": call.answer,
            "messages": [m.to_dict() for m in call.messages],
        }
        for call in trace.llm_calls
    ]


def timing_rows(trace: Trace) -> list[list[object]]:
    return [[t.stage, round(t.ms, 3)] for t in trace.timings]


def write_summary(write: WriteRecord | None) -> str:
    """What the write gate decided and what reached the store: written, or seen again; what it supersedes."""
    if write is None:
        return "No write: memory is off for this session."
    decision = write.decision
    reason = inert_code(decision.reason)
    if decision.action == "reject":
        return f"**Not written** · {reason}"
    category = inert_code(decision.category or "-")
    seen = write.write_action == "seen"
    heading = "**Seen again**, not stored twice" if seen else f"**Written** ({inert(write.write_action)})"
    lines = [f"{heading} · {reason} · category {category}"]
    lines += [written_line(item) for item in write.written]
    if write.note:
        lines.append(f"_{inert(write.note)}_")
    if write.error:
        lines.append(f"**Error:** {inert(write.error)}")
    return "\n".join(lines)


def written_line(item: MemoryItem) -> str:
    """One stored item of a write: its text and id, and the older memories it supersedes."""
    line = f"- {inert(item.text)} ({inert_code(item.id)})"
    supersedes = item.metadata.get("supersedes")
    if isinstance(supersedes, list | tuple) and supersedes:
        line += " · supersedes " + ", ".join(inert_code(str(old)) for old in supersedes)
    return line


def item_status(item: MemoryItem) -> str:
    """superseded (by the newer item), seen ×N for a repeat, else current."""
    newer = item.metadata.get("superseded_by")
    if newer:
        return f"superseded by {newer}"
    seen = seen_count(item)
    return f"seen ×{seen}" if seen > 1 else "current"


def item_rows(items: Sequence[MemoryItem]) -> list[list[object]]:
    """One row per item, in ITEM_COLUMNS order."""
    return [[i.id, i.text, item_status(i), i.type, i.category, i.confidence, i.source, i.updated_at] for i in items]


def audit_markdown(audit: LibraryAudit, library_id: str) -> str:
    """The write audit of a library: its verdict, then each count with its share."""
    if not audit.total:
        return f"**Write audit** of {inert_code(library_id)}: {inert(audit.verdict)}."
    parts = [f"{name.replace('_', ' ')} {count} ({audit.share(count):.0%})" for name, count in audit.counts.items()]
    return (
        f"**Write audit** of {inert_code(library_id)}: **{inert(audit.verdict)}**\n\n"
        f"{audit.total} {'memory' if audit.total == 1 else 'memories'} · {inert(' · '.join(parts))}"
    )


def summary_state(trace: Trace) -> str:
    """The summary window: how many turns wait, and any summary this turn wrote."""
    text = f"{trace.summary_pending} of {trace.summary_window_size} turns in the summary window."
    summary = trace.summary
    if summary is not None and summary.note:
        text += f"\n\n**No summary** ({inert(summary.trigger)}): {inert(summary.note)}"
    elif summary is not None:
        text += f"\n\n**Summary written** ({inert(summary.by)}, {inert(summary.trigger)}): {inert(summary.text)}"
    if summary is not None and summary.dropped:
        text += f"\n\n{summary.dropped} more points were left out at the cap (OPENTALKING_MEMORY_SUMMARY_MAX_ITEMS)."
    if trace.reply_partial:
        text += "\n\nThis turn's reply was cut at its bound: the window keeps it marked as partial."
    return text


def turn_label(trace: Trace) -> str:
    text = trace.user_text if len(trace.user_text) <= 40 else trace.user_text[:39] + "…"
    return f"Turn {trace.turn}: {text}"


def env_snippet(tuning: Tuning) -> str:
    """The tuned knobs as a `.env` block in the reference's variable names."""
    lines = []
    for variable, value in tuning.as_env().items():
        shown = json.dumps(value) if any(c in value for c in " \n\t#\"'") else value
        lines.append(f"{variable}={shown}")
    return "\n".join(lines)


def pipecat_snippet(tuning: Tuning) -> str:
    """The tuned knobs as Pipecat's `Mem0MemoryService.InputParams(...)`.

    `search_threshold` is Mem0's semantic threshold (0..1), the MEMTUNE_MEM0_THRESHOLD knob.
    """
    threshold = tuning.mem0_threshold
    return (
        "Mem0MemoryService.InputParams(\n"
        f"    search_limit={tuning.recall_limit},\n"
        f"    search_threshold={threshold},\n"
        f"    system_prompt={json.dumps(tuning.pipecat_system_prompt, ensure_ascii=False)},\n"
        f"    add_as_system_message={tuning.pipecat_add_as_system_message},\n"
        f"    position={tuning.pipecat_position},\n"
        ")"
    )


def comparison_markdown(outcome: ModeOutcome, differences: Sequence[str]) -> str:
    """One mode's column in the side-by-side comparison; fields that differ between modes get 🔶."""

    def mark(field: str) -> str:
        return "🔶 " if field in differences else ""

    decision = outcome.decision
    fallback = f" ({inert(decision.fallback_reason)})" if decision.fallback_reason else ""
    lines = [
        f"### {inert(outcome.mode)}",
        f"{mark('should_recall')}**Recall:** {'yes' if decision.should_recall else 'no'}",
        f"{mark('reason')}**Reason:** {inert_code(decision.reason)}",
        f"{mark('decided_by')}**Decided by:** {inert(decision.decided_by)}{fallback}",
        f"{mark('query')}**Query:** {inert(decision.query) or '-'}",
        f"{mark('categories')}**Categories:** {inert(', '.join(decision.categories)) or '-'}",
        f"**Latency:** {outcome.latency_ms:.2f} ms",
        f"{mark('hits')}**Hits:**",
    ]
    lines += [f"{h.rank}. {inert(h.item.text)} `{h.score:.2f}`" for h in outcome.hits] or ["(none)"]
    return "\n\n".join(lines)


def disagreement_rows(report: BatchReport) -> list[list[object]]:
    """Header plus one row per message a mode got wrong (a mistake: it misses the label) or the modes decide
    differently (unlabelled rows); a wrong verdict is marked ✗."""
    header: list[object] = ["id", "text", "expected", "why listed", *(f"{m}" for m in report.modes)]
    rows = [header]
    for row in report.disagreements:
        expected = row.message.expected
        verdicts = [_verdict_cell(v.should_recall, v.reason, expected) for v in row.verdicts]
        why = "mistake" if not row.matches_label else "modes disagree"
        rows.append([row.message.id, row.message.text, _yes_no(expected), why, *verdicts])
    return rows


def _verdict_cell(recall: bool, reason: str, expected: bool | None) -> str:
    mark = "✗ " if expected is not None and recall != expected else ""
    return f"{mark}{_yes_no(recall)} ({reason})"


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")
