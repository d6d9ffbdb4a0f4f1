"""Teaching callbacks: the user corrects a recall decision where they see it (a Compare message or batch row,
an Inspector turn), and lists or deletes what the character was taught."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr
import pandas as pd

from memory_core import MemoryEngine, Scope, TaughtExample
from memory_core.eval.compare import BatchReport, BatchRow
from memory_core.markup import inert

from .session_state import ConsoleState

EXAMPLE_COLUMNS = ["id", "text", "should recall", "whose", "taught at"]
SHOULD, SHOULD_NOT = "should recall", "should not recall"
LABELS = (SHOULD, SHOULD_NOT)
ANY_MODE = "any mode"


def scope_of(state: ConsoleState | None) -> Scope:
    """The open chat's scope: examples are taught to its character, as its profile's own."""
    if state is None or state.session is None:
        raise gr.Error("Start a chat first: examples are taught to the character you chat with.")
    return state.session.scope


def example_table(engine: MemoryEngine, state: ConsoleState | None) -> pd.DataFrame:
    """The character's taught examples that apply to this visitor: their own, then the shared ones."""
    if state is None or state.session is None:
        return pd.DataFrame([], columns=EXAMPLE_COLUMNS)
    return pd.DataFrame([_example_row(e) for e in engine.taught_examples(state.session.scope)], columns=EXAMPLE_COLUMNS)


def _example_row(example: TaughtExample) -> list[str]:
    return [example.id, example.text, "yes" if example.should_recall else "no",
            "shared" if example.owner == "" else "yours", example.created_at]  # fmt: skip


def teach_text(engine: MemoryEngine, state: ConsoleState | None, text: str, label: str) -> tuple[pd.DataFrame, str]:
    """Teach one message with the chosen label; the status says what the next decision will follow."""
    if not (text or "").strip():
        raise gr.Error("Type or pick the message to teach.")
    if label not in LABELS:
        raise gr.Error(f"Choose '{SHOULD}' or '{SHOULD_NOT}'.")
    example = engine.teach(scope_of(state), text, label == SHOULD)
    return example_table(engine, state), _taught_line(example)


def teach_turn(
    engine: MemoryEngine, state: ConsoleState | None, turn: str | None, should_recall: bool
) -> tuple[pd.DataFrame, str]:
    """Teach the user's message of an Inspector turn (the latest when none is chosen)."""
    trace = state.trace(turn) if state else None
    if trace is None:
        raise gr.Error("Send a message first: there is no turn to correct.")
    example = engine.teach(scope_of(state), trace.user_text, should_recall)
    return example_table(engine, state), _taught_line(example)


def _taught_line(example: TaughtExample) -> str:
    verdict = "recall" if example.should_recall else "not recall"
    return (f"Taught: “{inert(example.text)}” should **{verdict}** (`{example.id}`). Hybrid and llm modes follow "
            "it from the next decision on, for this message and close paraphrases.")  # fmt: skip


def forget(engine: MemoryEngine, state: ConsoleState | None, example_id: str) -> tuple[pd.DataFrame, str]:
    """Delete one of the visitor's own taught examples by id."""
    example_id = (example_id or "").strip()
    if not example_id:
        raise gr.Error("Pick a taught example (or type its id) to delete.")
    engine.forget_example(scope_of(state), example_id)
    return example_table(engine, state), f"Deleted taught example `{inert(example_id)}`."


def picked_example(table: pd.DataFrame, evt: gr.SelectData) -> str:
    """A click on a taught example's row names it for Delete."""
    row = int(evt.index[0] if isinstance(evt.index, list | tuple) else evt.index)
    return str(table.iloc[row]["id"]) if 0 <= row < len(table) else ""


# A reviewed batch


def wrong_rows(report: BatchReport | None, mode: str) -> list[BatchRow]:
    """The labelled rows that ``mode`` (or any mode) decided against their label."""
    if report is None:
        return []
    chosen = list(range(len(report.modes))) if mode == ANY_MODE else [report.modes.index(mode)]
    return [row for row in report.rows if row.message.expected is not None
            and any(row.verdicts[i].should_recall != row.message.expected for i in chosen)]  # fmt: skip


def batch_summary(report: BatchReport | None, mode: str) -> str:
    """What one click would teach: shown beside the button, after the batch runs or the mode changes."""
    if report is None:
        return "Run a batch file first; its wrong rows can then be taught in one click."
    wrong = wrong_rows(report, mode)
    return f"**{len(wrong)}** labelled rows {'some mode' if mode == ANY_MODE else mode} got wrong would be taught."


def teach_batch(
    engine: MemoryEngine, state: ConsoleState | None, mode: str, progress: Callable[..., Any]
) -> tuple[pd.DataFrame, str]:
    """Teach the expected label of every row of the last batch that the chosen mode got wrong."""
    scope = scope_of(state)
    rows = wrong_rows(state.batch if state else None, mode)
    if not rows:
        raise gr.Error("Nothing to teach: run a batch file first, or the chosen mode got every labelled row right.")
    for done, row in enumerate(rows, start=1):
        engine.teach(scope, row.message.text, bool(row.message.expected))
        progress(done / len(rows), desc=f"{done} of {len(rows)} rows taught")
    return example_table(engine, state), f"Taught {len(rows)} rows. Run the batch again to see the modes follow them."


def picked_row(table: pd.DataFrame, evt: gr.SelectData) -> tuple[str, str]:
    """A click on a Disagreements row puts its message and expected label in the teaching form."""
    row = int(evt.index[0] if isinstance(evt.index, list | tuple) else evt.index)
    if not 0 <= row < len(table):
        return "", SHOULD
    picked = table.iloc[row]
    return str(picked["text"]), SHOULD_NOT if str(picked["expected"]) == "no" else SHOULD
