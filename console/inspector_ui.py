"""The Inspector tab: one turn's decision, query, hits, scores, exact prompt, writes and model calls. Layout only."""

from __future__ import annotations

from typing import Any

import gradio as gr

from memory_core.views import HIT_COLUMNS

from . import chat_handlers as chat
from . import teaching_ui


def inspector_tab(state: gr.State) -> dict[str, Any]:
    turn = gr.Dropdown([], label="Turn", elem_id="turn", allow_custom_value=True)
    with gr.Row():
        with gr.Column():
            decision = gr.JSON(label="Recall decision", elem_id="decision")
            teach = teaching_ui.inspector_buttons()
        with gr.Column():
            query = gr.Markdown(chat.INSPECTOR_HINT, elem_id="query")
            timings = gr.Dataframe(headers=["stage", "ms"], label="Time per stage (ms)", interactive=False)
    hits = gr.Dataframe(headers=HIT_COLUMNS, label="Hits and their score parts", interactive=False, elem_id="hits")
    # The bars name themselves ("1. <memory>", "threshold 0.6") and the label says the colours: no legend to cut off.
    bars = gr.BarPlot(x="memory", y="score", color="kind", label="Final scores against the threshold",
                      elem_id="score-chart", colors_in_legend=[], x_label_angle=-30,
                      color_map={"hit": "#6366f1", "threshold": "#f97316"})  # fmt: skip
    prompt = gr.HighlightedText(label="Exact messages sent (memory block highlighted)", elem_id="prompt",
                                color_map={"memory": "green", "system": "gray", "user": "blue",
                                           "assistant": "purple"}, show_legend=True)  # fmt: skip
    with gr.Row():
        write = gr.Markdown(elem_id="write")
        summary = gr.Markdown(elem_id="summary-state")
    calls = gr.JSON(label="Model calls (judge, reply, summary): prompt, raw answer, parsed result, latency, tokens",
                    elem_id="llm-calls")  # fmt: skip
    outputs = [turn, decision, query, hits, bars, prompt, write, summary, timings, calls]
    turn.select(chat.inspect, [state, turn], outputs, api_name="inspect")
    return {"outputs": outputs, "turn": turn, "teach": teach}
