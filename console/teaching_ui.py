"""Where the console teaches recall decisions: a panel of the character's taught examples (in Compare), the
buttons under a compared message and a batch's disagreements, and the Inspector's "should have recalled".
Layout and wiring only; `teaching_handlers.py` does the work."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gradio as gr

from memory_core import MemoryCoreError, MemoryEngine
from memory_core.decide.decider import MODES

from . import teaching_handlers as teaching
from .session_state import ConsoleState

if TYPE_CHECKING:
    from .base import Console

Handler = Callable[..., tuple[Any, ...]]


def _as_visitor(console: Console, fn: Handler, *, counted: bool = True) -> Handler:
    """Run ``fn(state, ...)`` as the visitor: their sandbox checked, one turn of their quota counted, the
    engine's own messages shown; the new state goes back first."""

    @functools.wraps(fn)
    def wrapper(current: ConsoleState | None, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        try:
            state0, visitor = console.visitor(current)
            console.check_session(state0, visitor)
            if counted:
                console.allow_turn(visitor)
            return (state0, *fn(state0, *args, **kwargs))
        except MemoryCoreError as exc:
            raise gr.Error(str(exc)) from exc

    return wrapper


def examples_panel(console: Console, state: gr.State) -> dict[str, Any]:
    """The character's taught examples, a form to teach one, and delete; returns what other parts update."""
    engine = console.engine
    with gr.Accordion("Taught examples of this character (hybrid and llm follow them)", open=True):
        gr.Markdown(
            "Correct a decision by example: a message this close to a taught one is decided by it, in hybrid and "
            "llm modes, from the next decision on. Examples are yours, for the chat's character."
        )
        with gr.Row():
            text = gr.Textbox(label="Message to teach", scale=4, elem_id="teach-text")
            label = gr.Radio(list(teaching.LABELS), value=teaching.SHOULD, label="It", scale=2, elem_id="teach-label")
            teach = gr.Button("Teach", variant="primary", scale=1, elem_id="teach")
        status = gr.Markdown(elem_id="teach-status")
        table = gr.Dataframe(headers=teaching.EXAMPLE_COLUMNS, label="Taught examples", interactive=False, wrap=True,
                             elem_id="taught-examples")  # fmt: skip
        with gr.Row():
            example_id = gr.Textbox(label="Example to delete (pick a row)", scale=4, elem_id="example-id")
            delete = gr.Button("Delete example", variant="stop", scale=1, elem_id="example-delete")
            refresh = gr.Button("Refresh", scale=1, elem_id="examples-refresh")
    shown = [state, table, status]
    teach.click(_as_visitor(console, functools.partial(teaching.teach_text, engine)), [state, text, label], shown,
                api_name="teach")  # fmt: skip
    delete.click(_as_visitor(console, functools.partial(teaching.forget, engine), counted=False), [state, example_id],
                 shown, api_name="forget_example")  # fmt: skip
    listed = _as_visitor(console, lambda current: (teaching.example_table(engine, current),), counted=False)
    refresh.click(listed, [state], [state, table], api_name="taught_examples")
    table.select(teaching.picked_example, [table], [example_id], api_visibility="private")
    refreshed = {"fn": listed, "inputs": [state], "outputs": [state, table], "api_visibility": "private"}
    return {"text": text, "label": label, "shown": shown, "refresh": refreshed}


def compare_buttons(console: Console, state: gr.State, message: gr.Textbox, panel: dict[str, Any]) -> None:
    """Under a compared message: teach it as it should have been decided."""
    with gr.Row():
        yes = gr.Button("It should have recalled", size="sm", elem_id="compare-teach-yes")
        no = gr.Button("It should not have recalled", size="sm", elem_id="compare-teach-no")
    for button, label in ((yes, teaching.SHOULD), (no, teaching.SHOULD_NOT)):
        handler = functools.partial(_teach_label, console.engine, label=label)
        button.click(_as_visitor(console, handler), [state, message], panel["shown"], api_visibility="private")


def _teach_label(engine: MemoryEngine, state: ConsoleState, text: str, *, label: str) -> tuple[Any, ...]:
    return teaching.teach_text(engine, state, text, label)


def batch_row(console: Console, state: gr.State, disagreements: gr.Dataframe, panel: dict[str, Any]) -> dict[str, Any]:
    """Under a batch's disagreements: one click teaches every row the chosen mode got wrong; a click on a row
    puts it in the teaching form. Returns the event that says, after a batch, how many rows a click teaches."""
    engine = console.engine
    with gr.Row():
        mode = gr.Dropdown([*MODES, teaching.ANY_MODE], value="hybrid", label="Rows to teach: the ones this got wrong",
                           scale=2, elem_id="batch-teach-mode")  # fmt: skip
        summary = gr.Markdown(teaching.batch_summary(None, "hybrid"), elem_id="batch-teach-summary")
        teach_all = gr.Button("Teach these rows", variant="primary", scale=1, elem_id="batch-teach")

    def summarise(current: ConsoleState | None, chosen: str) -> str:
        return teaching.batch_summary(current.batch if current else None, chosen)

    def teach_rows(current: ConsoleState, chosen: str, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        return teaching.teach_batch(engine, current, chosen, progress)

    mode.change(summarise, [state, mode], [summary], api_visibility="private")
    teach_all.click(_as_visitor(console, teach_rows, counted=False), [state, mode], panel["shown"],
                    api_name="teach_batch")  # fmt: skip
    disagreements.select(teaching.picked_row, [disagreements], [panel["text"], panel["label"]],
                         api_visibility="private")  # fmt: skip
    return {"fn": summarise, "inputs": [state, mode], "outputs": [summary], "api_visibility": "private"}


def inspector_buttons() -> tuple[gr.Button, gr.Button, gr.Markdown]:
    """The Inspector's correction buttons, laid out under its decision; wired by `wire_inspector`."""
    with gr.Row():
        yes = gr.Button("This turn should have recalled", size="sm", elem_id="inspector-teach-yes")
        no = gr.Button("This turn should not have recalled", size="sm", elem_id="inspector-teach-no")
    return yes, no, gr.Markdown(elem_id="inspector-teach-status")


def wire_inspector(console: Console, state: gr.State, inspector: dict[str, Any], panel: dict[str, Any]) -> None:
    """Teach the inspected turn's message; the panel's table and the Inspector's own line show it."""
    yes, no, line = inspector["teach"]
    outputs = [state, panel["shown"][1], line]
    for button, should, name in ((yes, True, "teach_turn_recall"), (no, False, "teach_turn_no_recall")):
        handler = functools.partial(_teach_turn, console.engine, should=should)
        button.click(_as_visitor(console, handler), [state, inspector["turn"]], outputs, api_name=name)


def _teach_turn(engine: MemoryEngine, state: ConsoleState, turn: str | None, *, should: bool) -> tuple[Any, ...]:
    return teaching.teach_turn(engine, state, turn, should)
