"""Compare-tab callbacks for golden conversations, A against B: run, re-run, open and compare saved runs, and
show a changed probe's two traces. They call memory_core.eval.ab_run / ab_runs and format what comes back."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gradio as gr
import pandas as pd

from memory_core import InvalidInputError, MemoryEngine, Tuning
from memory_core.eval.ab_run import (
    MAX_FILE_BYTES,
    AbRun,
    Choice,
    ConversationSet,
    ProbeResult,
    RunComparison,
    TraceView,
    check_console_bounds,
    metric_rows,
    read_conversation_set,
    rerun,
    run_ab,
)
from memory_core.eval.ab_runs import AbRuns
from memory_core.markup import inert, inert_code
from memory_core.views import HIT_COLUMNS

from .visitor import Visitor

KNOBS = ("decision_mode", "retrieval_method", "recall_limit", "recall_min_score", "fusion_min_score",
         "fusion_relevance_floor", "injection_style")  # fmt: skip
METRIC_COLUMNS = ["metric", "A", "B", "Δ (B − A)"]
CHANGE_COLUMNS = ["probe", "text", "expects recall", "A recalled", "A answered", "A top hit", "B recalled",
                  "B answered", "B top hit"]  # fmt: skip
BETWEEN_COLUMNS = ["metric", "first A", "later A", "Δ A", "first B", "later B", "Δ B"]
BETWEEN_CHANGE_COLUMNS = ["side", "probe", "text", "first recalled", "first answered", "later recalled",
                          "later answered", "later top hit"]  # fmt: skip
EMPTY_TRACE: tuple[Any, ...] = ("", {}, pd.DataFrame(columns=HIT_COLUMNS), "")


def runs_of(engine: MemoryEngine, visitor: Visitor) -> AbRuns:
    """The visitor's own saved runs (a sandbox's, or the operator's shared ones)."""
    return AbRuns(engine.settings.data_dir, visitor.owner)


def knob_values(tuning: Tuning) -> list[Any]:
    """The knobs' values in KNOBS order, for one column."""
    return [getattr(tuning, name) for name in KNOBS]


def changed_knobs(base: Tuning, values: Sequence[Any]) -> dict[str, Any]:
    """The column's knobs that differ from the session's (blank fields keep the session's value)."""
    given = {name: _whole(value) for name, value in zip(KNOBS, values, strict=True) if value not in (None, "")}
    return {name: value for name, value in given.items() if value != getattr(base, name)}


def _whole(value: Any) -> Any:
    """Numbers come from the UI as floats; a whole one is passed as an int (recall_limit must be an integer)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _steps(progress: Callable[..., Any]) -> Callable[[int, int, str], None]:
    return lambda done, total, what: progress(done / max(total, 1), desc=f"{done} of {total} · {what}")


def _read(path: str | None, engine: MemoryEngine, name: str = "") -> ConversationSet:
    if not path:
        raise InvalidInputError('Choose a conversations file (JSON with a "conversations" list).')
    conversations = read_conversation_set(path, name=name, max_bytes=MAX_FILE_BYTES)
    check_console_bounds(conversations, engine.settings.text_limit)
    return conversations


def run_new(engine: MemoryEngine, runs: AbRuns, base: Tuning, path: str | None, values_a: Sequence[Any],
            values_b: Sequence[Any], progress: Callable[..., Any]) -> tuple[Any, ...]:  # fmt: skip
    """Check the knobs and the file, run A then B, save the run, and show it."""
    a, b = Choice.of(base, changed_knobs(base, values_a)), Choice.of(base, changed_knobs(base, values_b))
    conversations = _read(path, engine)
    run = run_ab(conversations, a, b, engine.settings, embedder=engine.embedder, progress=_steps(progress))
    return shown(runs.save(run, conversations.content), runs, "Saved")


def run_again(engine: MemoryEngine, runs: AbRuns, run_id: str | None, path: str | None,
              progress: Callable[..., Any]) -> tuple[Any, ...]:  # fmt: skip
    """The saved run's settings again, on the uploaded file (when one is) or the copy kept with the run."""
    saved = runs.load(_chosen(run_id))
    conversations = _read(path, engine) if path else _read(str(runs.file_path(saved.id)), engine, saved.file_name)
    run = rerun(saved, conversations, engine.settings, embedder=engine.embedder, progress=_steps(progress))
    return shown(runs.save(run, conversations.content), runs, f"Re-ran `{saved.id}` as")


def open_saved(runs: AbRuns, run_id: str | None) -> tuple[Any, ...]:
    return shown(runs.load(_chosen(run_id)), runs, "Opened")


def _chosen(run_id: str | None) -> str:
    if not run_id:
        raise InvalidInputError("Choose a saved run first.")
    return run_id


def shown(run: AbRun, runs: AbRuns, verb: str) -> tuple[Any, ...]:
    """The run's id (kept in state), its tables, the changed probes to pick, the saved runs, and a status."""
    keys = [p.key for p, _ in run.changed]
    choices = saved_choices(runs)
    return (run.id, metric_table(run), change_table(run.changed), gr.Dropdown(choices=keys, value=None),
            gr.Dropdown(choices=choices, value=run.id), gr.Dropdown(choices=choices, value=None),
            status_line(run, verb))  # fmt: skip


def saved_list(runs: AbRuns) -> tuple[Any, ...]:
    choices = saved_choices(runs)
    note = f"{len(choices)} saved runs (the newest {runs.keep} are kept)." if choices else "No saved runs yet."
    return gr.Dropdown(choices=choices), gr.Dropdown(choices=choices), note


def saved_choices(runs: AbRuns) -> list[tuple[str, str]]:
    return [(run_label(runs.load(run_id)), run_id) for run_id in runs.ids()]


def run_label(run: AbRun) -> str:
    return f"{run.created} · {run.file_name} · A {knob_text(run.a.choice.knobs)} · B {knob_text(run.b.choice.knobs)}"


def knob_text(knobs: dict[str, Any]) -> str:
    return ", ".join(f"{name}={value}" for name, value in knobs.items()) or "(session's knobs)"


def status_line(run: AbRun, verb: str) -> str:
    methods = f"methods {inert_code(run.a.metrics['method'])} / {inert_code(run.b.metrics['method'])}"
    return (f"{verb} run {inert_code(run.id)} · {inert(run.file_name)} (SHA-256 {inert_code(run.file_sha256[:12])}…)"
            f" · {run.created} · A {inert(knob_text(run.a.choice.knobs))} · B {inert(knob_text(run.b.choice.knobs))}"
            f" · {methods} · {len(run.changed)} probes changed · {run.seconds} s")  # fmt: skip


def metric_table(run: AbRun) -> pd.DataFrame:
    return pd.DataFrame(metric_rows(run.a.metrics, run.b.metrics), columns=METRIC_COLUMNS)


def change_table(changed: Sequence[tuple[ProbeResult, ProbeResult]]) -> pd.DataFrame:
    rows = [[a.key, a.text, a.expect_recall, a.recalled, a.answered, a.top_hit, b.recalled, b.answered, b.top_hit]
            for a, b in changed]  # fmt: skip
    return pd.DataFrame(rows, columns=CHANGE_COLUMNS)


def compare_saved(runs: AbRuns, first_id: str | None, later_id: str | None) -> tuple[Any, ...]:
    """Two saved runs, the older first: every metric on both sides, and the probes whose outcome changed."""
    if _chosen(first_id) == _chosen(later_id):
        raise InvalidInputError("Pick two different saved runs to compare.")
    first, later = sorted((str(first_id), str(later_id)))  # ids sort by time
    comparison = RunComparison(runs.load(first), runs.load(later))
    rows = [[side, p.key, p.text, p.recalled, p.answered, q.recalled, q.answered, q.top_hit]
            for side, p, q in comparison.changed()]  # fmt: skip
    note = (f"{inert_code(first)} ({comparison.first.created}) against {inert_code(later)} "
            f"({comparison.later.created}) · {len(rows)} probe outcomes changed")  # fmt: skip
    if comparison.first.file_sha256 != comparison.later.file_sha256:
        note += " · ⚠️ the runs used different files (their SHA-256 differ)"
    return (pd.DataFrame(comparison.metric_rows(), columns=BETWEEN_COLUMNS),
            pd.DataFrame(rows, columns=BETWEEN_CHANGE_COLUMNS), note)  # fmt: skip


def probe_traces(runs: AbRuns, run_id: str | None, key: str | None) -> tuple[Any, ...]:
    """Both sides' trace essentials for one changed probe of the run shown."""
    if not run_id or not key:
        return (*EMPTY_TRACE, *EMPTY_TRACE)
    run = runs.load(run_id)
    if key not in run.a.traces:
        raise InvalidInputError(f"probe {key!r} did not change in run {run_id}: only changed probes keep traces")
    return (*trace_parts(run.a.traces[key], run.a.probe(key)), *trace_parts(run.b.traces[key], run.b.probe(key)))


def trace_parts(view: TraceView, result: ProbeResult | None) -> tuple[Any, ...]:
    """Title and query, the decision, the hits with their score parts, and the injected block."""
    outcome = f"recalled {result.recalled} · answered {result.answered}" if result else ""
    head = f"**{inert(view.title)}**\n\n{view.query}\n\n{outcome}"
    return head, view.decision, pd.DataFrame([list(row) for row in view.hits], columns=HIT_COLUMNS), view.memory_block


def picked_probe(table: pd.DataFrame, evt: gr.SelectData) -> str:
    """A click on a changed probe's row picks it (its traces then show)."""
    row = int(evt.index[0] if isinstance(evt.index, list | tuple) else evt.index)
    return str(table.iloc[row]["probe"]) if 0 <= row < len(table) else ""


def knobs_of(tuning: Tuning) -> tuple[Any, ...]:
    """Both columns set to the session's knobs."""
    return (*knob_values(tuning), *knob_values(tuning))
