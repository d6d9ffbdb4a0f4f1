"""The Settings tab: every knob of the visitor's session, the .env and Pipecat snippets, the bot export. Layout only."""

from __future__ import annotations

from typing import Any

import gradio as gr

from memory_core.decide.decider import DECISION_MODES
from memory_core.views import env_snippet, pipecat_snippet

from . import chat_handlers as chat
from . import pipecat_ui
from .access import access_note
from .base import Console
from .session_state import ConsoleState


def settings_tab(console: Console, state: gr.State, chat_controls: tuple[gr.Radio, gr.Radio]) -> tuple[Any, ...]:
    engine = console.engine
    settings = engine.settings
    tuning = settings.tuning()
    gr.Markdown(access_note(settings), elem_id="access-note")
    gr.Markdown("Knobs apply to **this visitor's session** at once, without a restart. Secrets are masked. "
                f"Memory: **{engine.provider_note}**. Recall: **{engine.retrieval_note}**.")  # fmt: skip
    with gr.Row():
        with gr.Column():
            decision_mode = gr.Radio(list(DECISION_MODES), value=tuning.decision_mode, label="Decision mode",
                                     elem_id="knob-mode",
                                     info="always: every message is searched, as a Pipecat bot does")  # fmt: skip
            decision_timeout = gr.Number(tuning.decision_timeout_ms, label="Decision timeout (ms)", precision=0)
            recall_backend = gr.Radio(["hybrid", "bm25", "mem0"], value=tuning.recall_backend, label="Recall backend")
            limit = gr.Slider(1, 20, value=tuning.recall_limit, step=1, label="Recall limit", elem_id="knob-limit")
            min_score = gr.Number(tuning.recall_min_score, label="BM25 min score (strictly above)",
                                  elem_id="knob-min", minimum=0,
                                  info="OPENTALKING_MEMORY_RECALL_MIN_SCORE: recall by BM25 alone")  # fmt: skip
            recall_timeout = gr.Number(tuning.recall_timeout_ms, label="Recall timeout (ms)", precision=0)
            category_boost = gr.Number(tuning.category_boost, label="Category boost")
            reply_timeout = gr.Number(tuning.reply_timeout_ms, label="Reply timeout (ms)", precision=0)
            method = gr.Radio(["fusion", "dense", "bm25"], value=tuning.retrieval_method, label="Retrieval method",
                              info=engine.retrieval_note)  # fmt: skip
            max_weight = gr.Slider(0, 1, value=tuning.fusion_max_weight, step=0.05, label="Fusion: max BM25 weight")
            fusion_min = gr.Slider(0, 1, value=tuning.fusion_min_score, step=0.05, label="Fusion/dense min score",
                                   info="MEMTUNE_FUSION_MIN_SCORE: recall by fusion or dense")  # fmt: skip
            relevance_floor = gr.Slider(0, 1, value=tuning.fusion_relevance_floor, step=0.01,
                                        label="Relevance floor (0: off)")  # fmt: skip
            candidates = gr.Number(tuning.fusion_candidates, label="Fusion: BM25 candidates", precision=0)
            summary_timeout = gr.Number(tuning.summary_timeout_ms, label="Summary timeout (ms)", precision=0)
        with gr.Column():
            style = gr.Radio(["reference", "pipecat"], value=tuning.injection_style, label="Injection style")
            system_prompt = gr.Textbox(tuning.pipecat_system_prompt, label="Pipecat system_prompt", lines=2)
            position = gr.Number(tuning.pipecat_position, label="Pipecat position", precision=0)
            as_system = gr.Checkbox(tuning.pipecat_add_as_system_message, label="Pipecat add_as_system_message")
            pile_up = gr.Checkbox(tuning.pipecat_pile_up, label="Pipecat pile-up (blocks accumulate, as in a bot)")
            mem0_threshold = gr.Slider(0, 1, value=tuning.mem0_threshold, step=0.01,
                                       label="Mem0 search threshold (Pipecat search_threshold)",
                                       info="MEMTUNE_MEM0_THRESHOLD: recall by Mem0")  # fmt: skip
            token_budget = gr.Number(tuning.memory_token_budget, label="Memory block token budget (0: none)",
                                     precision=0, minimum=0)  # fmt: skip
            write_mode = gr.Radio(["hybrid", "raw", "mem0"], value=tuning.write_mode, label="Write mode")
            write_judge = gr.Slider(0, 1, value=tuning.write_judge_threshold, step=0.05,
                                    label="Write judge threshold (1: the rules alone)")  # fmt: skip
            summary_enabled = gr.Checkbox(tuning.summary_enabled, label="Summaries on")
            window = gr.Slider(1, 30, value=tuning.summary_turn_window, step=1, label="Summary turn window")
            max_items = gr.Slider(1, 10, value=tuning.summary_max_items, step=1, label="Summary max items")
    apply = gr.Button("Apply to this session", variant="primary", elem_id="apply-settings")
    applied = gr.Markdown(elem_id="settings-status")
    with gr.Row():
        env = gr.Code(env_snippet(tuning), language="shell", label=".env (reference variable names)")
        pipecat = gr.Code(pipecat_snippet(tuning), language="python", label="Pipecat Mem0MemoryService.InputParams")
    pipecat_ui.export_section(console, state)
    gr.Dataframe(value=[list(row) for row in settings.describe()], headers=["variable", "effective value"],
                 label="Effective configuration", interactive=False)  # fmt: skip
    names = ["decision_mode", "decision_timeout_ms", "recall_backend", "recall_limit", "recall_min_score",
             "recall_timeout_ms", "category_boost", "injection_style", "pipecat_system_prompt", "pipecat_position",
             "pipecat_add_as_system_message", "write_mode", "summary_enabled", "summary_turn_window",
             "summary_max_items", "reply_timeout_ms", "summary_timeout_ms", "retrieval_method", "fusion_max_weight",
             "fusion_min_score", "fusion_candidates", "memory_token_budget", "fusion_relevance_floor",
             "write_judge_threshold", "pipecat_pile_up", "mem0_threshold"]  # fmt: skip
    knobs = [decision_mode, decision_timeout, recall_backend, limit, min_score, recall_timeout, category_boost,
             style, system_prompt, position, as_system, write_mode, summary_enabled, window, max_items,
             reply_timeout, summary_timeout, method, max_weight, fusion_min, candidates, token_budget,
             relevance_floor, write_judge, pile_up, mem0_threshold]  # fmt: skip

    def on_apply(current: ConsoleState | None, *values: Any) -> tuple[Any, ...]:
        return chat.apply_tuning(current, engine, **dict(zip(names, values, strict=True)))

    apply.click(on_apply, [state, *knobs], [state, applied, env, pipecat, *chat_controls], api_name="apply_settings")
    return decision_mode, recall_backend
