"""Pipecat in the console: the export a bot is built from (Settings) and the memories bots wrote outside every
library (Libraries & items). Layout and wiring only; `pipecat_handlers.py` does the work."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gradio as gr

from memory_core import MemoryCoreError
from memory_core.providers.pipecat_export import DEFAULT_EMBEDDER_PORT

from . import pipecat_handlers as pipecat
from .library_handlers import scope_of
from .session_state import ConsoleState

if TYPE_CHECKING:
    from .base import Console

EXPORT_INTRO = (
    "### Use this memory in a Pipecat bot\nThe `Mem0MemoryService` for one library, with this session's knobs: "
    "the same JSON as `python -m memory_core pipecat export`, and the Python that builds the service from it. "
    "Secrets appear as the names of their variables. Blank fields: the chat's library."
)
UNFILED_INTRO = (
    "Memories Mem0 holds for this profile and character that no library here lists: a Pipecat bot's own writes "
    "(under a library's `run_id`, or none). Adopt them to file them into the library above."
)


def export_section(console: Console, state: gr.State) -> None:
    """The library picker, the embedder port, the button, and the JSON and Python it fills."""
    gr.Markdown(EXPORT_INTRO)
    with gr.Row():
        where = [gr.Textbox(label=key.title(), elem_id=f"bot-{key}") for key in ("profile", "character", "library")]
        port = gr.Number(DEFAULT_EMBEDDER_PORT, label="serve embeddings port", precision=0, elem_id="bot-port")
        run = gr.Button("Export for a bot", elem_id="bot-export")
    status = gr.Markdown(elem_id="bot-status")
    with gr.Row():
        exported = gr.Code(language="json", label="pipecat export (JSON)", elem_id="bot-json")
        snippet = gr.Code(language="python", label="Mem0MemoryService for the bot", elem_id="bot-python")

    def on_export(current: ConsoleState | None, profile: str, character: str, library: str,
                  port_value: float | None) -> tuple[Any, ...]:  # fmt: skip
        try:
            state0, visitor = console.visitor(current)
            text, python, note = pipecat.export_for_bot(
                console.engine, state0, visitor, (profile, character, library), port_value
            )
        except MemoryCoreError as exc:
            raise gr.Error(str(exc)) from exc
        return state0, text, python, note

    run.click(on_export, [state, *where, port], [state, exported, snippet, status], api_name="bot_export")


def unfiled_section(console: Console, state: gr.State, where: list[gr.Textbox]) -> None:
    """The unfiled memories of the Libraries tab's profile and character, and adopting some into its library."""
    with gr.Accordion("Unfiled memories (written by bots, in no library)", open=False):
        gr.Markdown(UNFILED_INTRO)
        table = gr.Dataframe(headers=pipecat.UNFILED_COLUMNS, label="Unfiled", interactive=False, wrap=True,
                             elem_id="unfiled")  # fmt: skip
        with gr.Row():
            listing = gr.Button("List unfiled", elem_id="unfiled-list")
            ids = gr.Textbox(label="Mem0 ids to adopt (pick rows)", elem_id="unfiled-ids")
            adopt = gr.Button("Adopt into this library", elem_id="unfiled-adopt")
        status = gr.Markdown(elem_id="unfiled-status")
    _wire(console, state, where, (table, ids, status), listing, adopt)


def _wire(console: Console, state: gr.State, where: list[gr.Textbox], shown: tuple[Any, Any, Any],
          listing: gr.Button, adopt: gr.Button) -> None:  # fmt: skip
    engine = console.engine
    table, ids, status = shown

    def scope(current: ConsoleState | None, profile: str, character: str, library: str) -> Any:
        state0, visitor = console.visitor(current)
        return state0, scope_of(engine, visitor.profile(profile), character, library or None)

    def on_list(current: ConsoleState | None, *chosen: str) -> tuple[Any, ...]:
        try:
            state0, chosen_scope = scope(current, *chosen)
            return state0, pipecat.unfiled_table(engine, chosen_scope), ""
        except MemoryCoreError as exc:
            raise gr.Error(str(exc)) from exc

    def on_adopt(current: ConsoleState | None, picked: str, *chosen: str) -> tuple[Any, ...]:
        try:
            state0, chosen_scope = scope(current, *chosen)
            note = pipecat.adopt(engine, chosen_scope, picked)
            return state0, pipecat.unfiled_table(engine, chosen_scope), "", note
        except MemoryCoreError as exc:
            raise gr.Error(str(exc)) from exc

    def on_pick(picked: str, evt: gr.SelectData) -> str:
        row = evt.row_value or []
        chosen = [part for part in picked.split() if part]
        return " ".join(dict.fromkeys([*chosen, str(row[0])])) if row else picked

    listing.click(on_list, [state, *where], [state, table, status], api_name="unfiled_list")
    adopt.click(on_adopt, [state, ids, *where], [state, table, ids, status], api_name="unfiled_adopt")
    table.select(on_pick, [ids], [ids], api_visibility="private")
