"""The Compare tab: one message through every mode, a labelled batch, golden queries. Layout and wiring only."""

from __future__ import annotations

from typing import Any

import gradio as gr

from memory_core.decide.decider import MODES
from memory_core.eval.compare import CONFUSION_COLUMNS, METRIC_COLUMNS

from . import ab_ui, retrieval_ui, teaching_ui
from . import chat_handlers as chat
from . import compare_handlers as compare
from .base import Console, friendly
from .session_state import ConsoleState


def compare_tab(console: Console, state: gr.State) -> dict[str, Any]:
    engine = console.engine
    gr.Markdown("One message through **rule**, **hybrid** and **llm** side by side; differences are flagged 🔶.")
    with gr.Row():
        text = gr.Textbox(label="Message", scale=5, elem_id="compare-text")
        run = gr.Button("Compare", variant="primary", scale=1, elem_id="compare-run")
    with gr.Row():
        columns = [
            gr.Markdown(elem_id=f"compare-{mode}", elem_classes=["compare-col"]) for mode in ("rule", "hybrid", "llm")
        ]
    differences = gr.Markdown(elem_id="compare-differences")
    buttons_at = gr.Column()  # the teaching buttons, placed here once the panel they update exists

    @friendly
    def on_compare(current: ConsoleState | None, message: str) -> tuple[Any, ...]:
        chat.check_length(engine, message, "The message")
        return compare.compare_one(engine, current, message)

    run.click(on_compare, [state, text], [*columns, differences], api_name="compare")
    text.submit(on_compare, [state, text], [*columns, differences], api_visibility="private")

    gr.Markdown("### Batch\nA JSONL or CSV file of messages (`text`, optional `should_recall`, `lang`, `id`).")
    with gr.Row():
        upload = gr.File(label="Messages", file_types=[".jsonl", ".json", ".csv"], elem_id="batch-file")
        with gr.Column():
            batch = gr.Button("Run all modes", elem_id="batch-run")
            batch_status = gr.Markdown(elem_id="batch-status")
    with gr.Row():
        metrics = gr.Dataframe(headers=list(METRIC_COLUMNS), label="Per mode", interactive=False,
                               elem_id="batch-metrics")  # fmt: skip
        confusion = gr.Dataframe(headers=list(CONFUSION_COLUMNS), label="Confusion", interactive=False,
                                 elem_id="batch-confusion")  # fmt: skip
    chart = gr.BarPlot(x="mode", y="accuracy", label="Accuracy per mode", y_lim=[0, 1], height=240, sort=list(MODES))
    disagreements = gr.Dataframe(headers=["id", "text", "expected", "why listed", *MODES],
                                 label="Mistakes (✗: a mode misses the expected label) and disagreements between modes",
                                 interactive=False, wrap=True, elem_id="batch-disagreements")  # fmt: skip
    batch_teach_at = gr.Column()
    download = gr.File(label="Results (CSV)", elem_id="batch-csv")

    panel = teaching_ui.examples_panel(console, state)
    with buttons_at:
        teaching_ui.compare_buttons(console, state, text, panel)

    @friendly
    def on_batch(current: ConsoleState | None, path: str | None, progress: gr.Progress = gr.Progress()) -> Any:  # noqa: B008
        state0, _ = console.visitor(current)
        return compare.run_batch(engine, state0, path, progress)

    batch_outputs = [state, metrics, confusion, chart, disagreements, download, batch_status]
    ran = batch.click(on_batch, [state, upload], batch_outputs, api_name="batch")
    with batch_teach_at:
        ran.then(**teaching_ui.batch_row(console, state, disagreements, panel))
    # golden queries: every retrieval method scored on a file, side by side

    retrieval_ui.golden_section(console, state)
    return {**panel, "saved_runs": ab_ui.ab_section(console, state)}
