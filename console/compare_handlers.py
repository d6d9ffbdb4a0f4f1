"""Compare-tab callbacks: one message through every mode, and batch evaluation of labelled files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from memory_core import MemoryEngine, Scope
from memory_core.decide.decider import MODES
from memory_core.eval.compare import (
    compare_message,
    confusion_rows,
    evaluate_batch,
    metrics_rows,
    parse_messages,
    report_csv,
)
from memory_core.views import comparison_markdown, disagreement_rows

from .downloads import download_path
from .session_state import ConsoleState


def compare_one(engine: MemoryEngine, state: ConsoleState | None, text: str) -> tuple[str, ...]:
    """Markdown for each mode side by side, then a line naming what differs."""
    if not (text or "").strip():
        raise gr.Error("Type a message to compare.")
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
) -> tuple[ConsoleState, pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, str]:
    """Evaluate every mode on a labelled JSONL/CSV file: metrics, confusion, chart, disagreements, CSV; the
    report stays in the visitor's state, for teaching its wrong rows. Hybrid and llm follow the examples
    taught to the chat's character."""
    if not path:
        raise gr.Error("Choose a JSONL or CSV file of messages.")
    file = Path(path)
    messages = parse_messages(file.read_text(encoding="utf-8-sig"), filename=file.name)
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
    return state, metrics, confusion, chart, _table(disagreement_rows(report)), str(out)


def _table(rows: list[list[object]]) -> pd.DataFrame:
    header, *body = rows
    return pd.DataFrame(body, columns=[str(h) for h in header])
