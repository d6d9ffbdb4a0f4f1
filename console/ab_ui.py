"""Golden conversations, A against B, in the Compare tab: a file, two columns of knobs, the metrics, the changed
probes and their traces, and the saved runs. Layout and wiring only; `ab_handlers.py` does the work."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gradio as gr

from memory_core import Tuning
from memory_core.decide.decider import DECISION_MODES
from memory_core.eval.ab_run import MAX_CONVERSATIONS, MAX_FILE_BYTES, MAX_TURNS
from memory_core.recall.fusion import METHODS
from memory_core.views import HIT_COLUMNS

from . import ab_handlers as ab
from .base import friendly
from .session_state import ConsoleState

if TYPE_CHECKING:
    from .base import Console

INTRO = (
    "### Golden conversations: A against B\nA conversations file (as for `bench conversation`) runs through fresh "
    "engines with two settings; the knobs start at this session's. Every run is saved (your newest 20), and can be "
    f"re-run on the same file or compared with another. At most {MAX_CONVERSATIONS} conversations, "
    f"{MAX_TURNS} turns and probes, {MAX_FILE_BYTES // (1024 * 1024)} MB."
)


def ab_section(console: Console, state: gr.State) -> dict[str, Any]:
    """The section's components, then their wiring; returns the event listing the visitor's saved runs (run
    when the tab is shown)."""
    gr.Markdown(INTRO)
    tuning = console.engine.settings.tuning()
    shown = gr.State("")  # the id of the run on screen
    with gr.Row():
        upload = gr.File(label="Conversations", file_types=[".json"], elem_id="ab-file")
        with gr.Column():
            knobs_a = _knobs("a", tuning)
        with gr.Column():
            knobs_b = _knobs("b", tuning)
    with gr.Row():
        run = gr.Button("Run A against B", variant="primary", elem_id="ab-run")
        reset = gr.Button("Reset both to my session's knobs", elem_id="ab-reset")
    metrics = gr.Dataframe(headers=ab.METRIC_COLUMNS, label="Metrics", interactive=False, elem_id="ab-metrics")
    changes = gr.Dataframe(headers=ab.CHANGE_COLUMNS, label="Probes whose outcome changed (pick a row: its traces)",
                           interactive=False, wrap=True, elem_id="ab-changes")  # fmt: skip
    probe = gr.Dropdown([], label="Changed probe", allow_custom_value=True, elem_id="ab-probe")
    with gr.Row():
        traces = [*_trace_column("a"), *_trace_column("b")]
    with gr.Row():
        saved = gr.Dropdown([], label="Saved runs", allow_custom_value=True, elem_id="ab-saved")
        other = gr.Dropdown([], label="Compare with", allow_custom_value=True, elem_id="ab-other")
    with gr.Row():
        refresh = gr.Button("Refresh saved runs", elem_id="ab-refresh")
        again = gr.Button("Re-run", elem_id="ab-rerun")
        compare = gr.Button("Compare with", elem_id="ab-compare")
        status = gr.Markdown(elem_id="ab-status")
    between = gr.Dataframe(headers=ab.BETWEEN_COLUMNS, label="Between two runs", interactive=False,
                           elem_id="ab-between")  # fmt: skip
    between_changes = gr.Dataframe(headers=ab.BETWEEN_CHANGE_COLUMNS, label="Probes whose outcome changed between "
                                   "the runs", interactive=False, wrap=True, elem_id="ab-between-changes")  # fmt: skip
    parts = {"upload": upload, "a": knobs_a, "b": knobs_b, "shown": shown, "metrics": metrics, "changes": changes,
             "probe": probe, "traces": traces, "saved": saved, "other": other, "status": status,
             "between": between, "between_changes": between_changes}  # fmt: skip
    return _wire(console, state, parts, {"run": run, "reset": reset, "refresh": refresh, "again": again,
                                         "compare": compare})  # fmt: skip


def _knobs(side: str, tuning: Tuning) -> list[Any]:
    label = side.upper()
    values = dict(zip(ab.KNOBS, ab.knob_values(tuning), strict=True))
    return [
        gr.Radio(list(DECISION_MODES), value=values["decision_mode"], label=f"{label}: decision mode",
                 elem_id=f"ab-{side}-decision-mode"),
        gr.Radio(list(METHODS), value=values["retrieval_method"], label=f"{label}: retrieval method",
                 elem_id=f"ab-{side}-retrieval-method"),
        gr.Number(values["recall_limit"], label=f"{label}: recall limit", precision=0, minimum=1, maximum=100,
                  elem_id=f"ab-{side}-recall-limit"),
        gr.Number(values["recall_min_score"], label=f"{label}: recall min score (BM25)", minimum=0,
                  elem_id=f"ab-{side}-recall-min-score"),
        gr.Number(values["fusion_min_score"], label=f"{label}: fusion min score", minimum=0, maximum=1,
                  elem_id=f"ab-{side}-fusion-min-score"),
        gr.Number(values["fusion_relevance_floor"], label=f"{label}: relevance floor", minimum=0, maximum=1,
                  elem_id=f"ab-{side}-relevance-floor"),
        gr.Radio(["reference", "pipecat"], value=values["injection_style"], label=f"{label}: injection style",
                 elem_id=f"ab-{side}-injection-style"),
    ]  # fmt: skip


def _trace_column(side: str) -> list[Any]:
    with gr.Column():
        gr.Markdown(f"#### {side.upper()}")
        return [
            gr.Markdown(elem_id=f"ab-{side}-trace"),
            gr.JSON(label=f"{side.upper()}: recall decision", elem_id=f"ab-{side}-decision"),
            gr.Dataframe(headers=HIT_COLUMNS, label=f"{side.upper()}: hits and their score parts", interactive=False,
                         elem_id=f"ab-{side}-hits"),
            gr.Textbox(label=f"{side.upper()}: injected memory block", lines=4, interactive=False,
                       elem_id=f"ab-{side}-block"),
        ]  # fmt: skip


def _wire(console: Console, state: gr.State, parts: dict[str, Any], buttons: dict[str, gr.Button]) -> dict[str, Any]:
    engine = console.engine
    listing = [parts[key] for key in ("metrics", "changes", "probe", "saved", "other", "status")]
    shows = [state, parts["shown"], *listing]

    def visitor_runs(current: ConsoleState | None, *, counted: bool = False) -> tuple[ConsoleState, Any]:
        """The visitor's saved runs; a run is counted against a sandbox's turn quota like a chat turn."""
        state0, visitor = console.visitor(current)
        if counted:
            console.allow_turn(visitor)
        return state0, ab.runs_of(engine, visitor)

    def with_runs(fn: Callable[..., tuple[Any, ...]]) -> Callable[..., tuple[Any, ...]]:
        @friendly
        def handler(current: ConsoleState | None, *args: Any) -> tuple[Any, ...]:
            state0, runs = visitor_runs(current)
            return state0, *fn(runs, *args)

        return handler

    @friendly
    def on_run(current: ConsoleState | None, path: str | None, *values: Any,
               progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008  # fmt: skip
        state0, runs = visitor_runs(current, counted=True)
        half = len(ab.KNOBS)
        return state0, *ab.run_new(engine, runs, state0.tuning, path, values[:half], values[half:], progress)

    @friendly
    def on_rerun(current: ConsoleState | None, run_id: str | None, path: str | None,
                 progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008  # fmt: skip
        state0, runs = visitor_runs(current, counted=True)
        return state0, *ab.run_again(engine, runs, run_id, path, progress)

    def on_reset(current: ConsoleState | None) -> tuple[Any, ...]:
        state0, _ = console.visitor(current)
        return state0, *ab.knobs_of(state0.tuning)

    knobs = [*parts["a"], *parts["b"]]
    buttons["run"].click(on_run, [state, parts["upload"], *knobs], shows, api_name="ab_run", concurrency_id="ab_run")
    buttons["again"].click(on_rerun, [state, parts["saved"], parts["upload"]], shows, api_name="ab_rerun",
                           concurrency_id="ab_run")  # fmt: skip
    parts["saved"].input(with_runs(ab.open_saved), [state, parts["saved"]], shows, api_name="ab_open")
    saved_list: dict[str, Any] = {"fn": with_runs(ab.saved_list), "inputs": [state],
                  "outputs": [state, parts["saved"], parts["other"], parts["status"]]}  # fmt: skip
    buttons["refresh"].click(**saved_list, api_name="ab_saved")
    buttons["compare"].click(with_runs(ab.compare_saved), [state, parts["saved"], parts["other"]],
                             [state, parts["between"], parts["between_changes"], parts["status"]],
                             api_name="ab_compare_runs")  # fmt: skip
    parts["changes"].select(ab.picked_probe, [parts["changes"]], [parts["probe"]], api_visibility="private")
    parts["probe"].change(with_runs(ab.probe_traces), [state, parts["shown"], parts["probe"]],
                          [state, *parts["traces"]], api_name="ab_probe")  # fmt: skip
    buttons["reset"].click(on_reset, [state], [state, *knobs], api_name="ab_defaults")
    return {**saved_list, "api_visibility": "private"}
