"""Compare-tab callbacks: one message through every mode, and batch evaluation of labelled files."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from memory_core import InvalidInputError, MemoryCoreError, MemoryEngine, Scope
from memory_core.decide.decider import MODES
from memory_core.eval.compare import (
    compare_message,
    confusion_rows,
    evaluate_batch,
    metrics_rows,
    parse_messages,
    report_csv,
)
from memory_core.markup import inert
from memory_core.views import comparison_markdown, disagreement_rows

from .downloads import download_path
from .session_state import ConsoleState


def compare_one(engine: MemoryEngine, state: ConsoleState | None, text: str) -> tuple[str, ...]:
    """Markdown for each mode side by side, then a line naming what differs. Without a message the columns
    clear, so no earlier result stays on screen as if it were this one's."""
    if not (text or "").strip():
        return ("", "", "", "⚠️ Type a message to compare.")
    tuning = state.tuning if state else engine.settings.tuning()
    scope: Scope | None = state.session.scope if state and state.session else None
    taught = engine.taught_examples(scope) if scope else ()
    comparison = compare_message(
        engine.decider, text, tuning=tuning, retriever=engine.retriever if scope else None, scope=scope, taught=taught
    )
    columns = [comparison_markdown(outcome, comparison.differences) for outcome in comparison.outcomes]
    differs = ", ".join(comparison.differences) or "nothing: all modes agree"
    return (*columns, f"**Differences:** {differs}")


def run_batch(
    engine: MemoryEngine, state: ConsoleState, path: str | None, progress: Callable[..., Any]
) -> tuple[Any, ...]:
    """Evaluate every mode on a labelled JSONL/CSV file: metrics, confusion, chart, mistakes, CSV and a status
    line; the report stays in the visitor's state, for teaching its wrong rows. Hybrid and llm follow the
    examples taught to the chat's character. A missing or bad file clears the previous results and says why."""
    try:
        messages = _messages(path)
    except MemoryCoreError as exc:
        state.batch = None
        return (state, *EMPTY_BATCH, f"⚠️ {inert(str(exc))}")
    tuning = state.tuning
    taught = engine.taught_examples(state.session.scope) if state.session else ()

    def step(done: int, total: int) -> None:
        progress(done / max(total, 1), desc=f"{done} of {total} messages")

    report = evaluate_batch(engine.decider, messages, modes=MODES, timeout_ms=tuning.decision_timeout_ms,
                            progress=step, taught=taught)  # fmt: skip
    metrics = _table(metrics_rows(report))
    confusion = _table(confusion_rows(report))
    chart = pd.DataFrame({"mode": metrics["mode"], "accuracy": pd.to_numeric(metrics["accuracy"], errors="coerce")})
    out = download_path("comparison.csv")
    out.write_text(report_csv(report), encoding="utf-8-sig")
    state.batch = report
    wrong = len(report.disagreements)
    done = f"Ran {len(messages)} messages through {', '.join(MODES)}: {wrong} listed below."
    return state, metrics, confusion, chart, _table(disagreement_rows(report)), str(out), done


def _messages(path: str | None) -> Sequence[Any]:
    if not path:
        raise InvalidInputError("Choose a JSONL or CSV file of messages first.")
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{file.name} is not UTF-8 text.") from exc
    return parse_messages(text, filename=file.name)


EMPTY_BATCH = (pd.DataFrame(), pd.DataFrame(), pd.DataFrame({"mode": [], "accuracy": []}), pd.DataFrame(), None)


def _table(rows: list[list[object]]) -> pd.DataFrame:
    header, *body = rows
    return pd.DataFrame(body, columns=[str(h) for h in header])
