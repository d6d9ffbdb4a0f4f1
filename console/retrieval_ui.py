"""Golden queries in the Compare tab: a file, a library, and every retrieval method's scores, misses and
threshold curves side by side. Layout and wiring only; `retrieval_handlers.py` does the work."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gradio as gr

from memory_core import MemoryCoreError
from memory_core.recall.fusion import METHODS

from . import retrieval_handlers as golden
from .session_state import ConsoleState

if TYPE_CHECKING:
    from .base import Console

INTRO = (
    '### Golden queries\nA JSONL file (or JSON `{"queries": [...]}`) of `query` with `expected_ids` and/or '
    "`expected_texts`, or `unanswerable: true`; optional `id`, `lang`, `kind`. Each runs against the library "
    "with every retrieval method, at this session's recall limit and thresholds (Settings). Blank fields: the "
    "chat's library."
)


def golden_section(console: Console, state: gr.State) -> None:
    """The upload, the library picker, the button, and the tables and plots it fills."""
    gr.Markdown(INTRO)
    with gr.Row():
        upload = gr.File(label="Golden queries", file_types=[".jsonl", ".json"], elem_id="golden-file")
        with gr.Column():
            where = [gr.Dropdown([], label=key.title(), allow_custom_value=True, elem_id=f"golden-{key}")
                     for key in ("profile", "character", "library")]  # fmt: skip
            run = gr.Button("Run golden queries", variant="primary", elem_id="golden-run")
    status = gr.Markdown(elem_id="golden-status")
    scores = gr.Dataframe(headers=golden.SCORE_COLUMNS, label="Per method", interactive=False, elem_id="golden-scores")
    with gr.Row():
        plots = [gr.LinePlot(x="threshold", y="value", color="series", color_map=golden.PLOT_COLORS, y_lim=[0, 1],
                             y_title="share", label=f"{method}: recall and precision against the threshold",
                             elem_id=f"golden-plot-{method}") for method in METHODS]  # fmt: skip
    misses = gr.Dataframe(headers=golden.MISS_COLUMNS, label="Misses and false injections", interactive=False,
                          wrap=True, elem_id="golden-misses")  # fmt: skip
    _wire(console, state, upload, where, run, [state, scores, misses, *plots, status])


def _wire(console: Console, state: gr.State, upload: gr.File, where: list[gr.Dropdown], run: gr.Button,
          outputs: list[Any]) -> None:  # fmt: skip
    engine = console.engine

    def on_run(current: ConsoleState | None, path: str | None, *chosen: str,
               progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008  # fmt: skip
        try:
            state0, visitor = console.visitor(current)
            scope = golden.golden_scope(engine, state0, visitor, *chosen)
            table, missed, plots, status = golden.run_golden_file(engine, state0, scope, path, progress)
        except MemoryCoreError as exc:
            raise gr.Error(str(exc)) from exc
        return state0, table, missed, *plots, status

    def choices(key: str) -> Callable[..., tuple[Any, ...]]:
        def on_pick(current: ConsoleState | None, profile: str, character: str) -> tuple[Any, ...]:
            state0, visitor = console.visitor(current)
            return state0, golden.picker_choices(engine, visitor, profile, character)[key]

        return on_pick

    run.click(on_run, [state, upload, *where], outputs, api_name="retrieval_eval")
    profile, character, library = where
    for key, box in zip(("profile", "character", "library"), where, strict=True):
        box.focus(choices(key), [state, profile, character], [state, box], api_visibility="private")
    gr.on([profile.change, character.change], choices("library"), [state, profile, character], [state, library],
          api_visibility="private")  # fmt: skip
