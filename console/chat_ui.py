"""The Chat tab: scope and mode, the conversation, the with/without view, the character's persona.
Layout and wiring only; `chat_handlers.py` does the work.

The memory switch, the mode and the backend beside the chat show the visitor's session values, as the
Settings tab does: a change in either applies to the next message at once (their `.input` events, so a
value set by the other tab does not echo back), and Clear chat keeps them.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import gradio as gr

from memory_core import MemoryCoreError
from memory_core.decide.decider import DECISION_MODES

from . import chat_handlers as chat
from .base import Console, friendly
from .session_state import ConsoleState

Outcome = tuple[Any, ...]


def chat_tab(console: Console, state: gr.State, mode0: str) -> dict[str, Any]:
    parts = _layout(console, mode0)
    tab = _ChatTab(console)
    events = _wire(tab, state, parts)

    def after_turn(inspector: dict[str, Any], teaching: dict[str, Any]) -> None:
        for event in events:
            event.then(lambda current: chat.inspect(current, None), [state], inspector["outputs"],
                       api_visibility="private")  # fmt: skip
        events[0].then(**teaching["refresh"])  # a new chat may be with another character

    def mirror(settings_mode: gr.Radio, settings_backend: gr.Radio) -> None:
        """The chat's mode and backend and the Settings tab's show one value: the session's."""
        for control, twin, name in ((parts.mode, settings_mode, "decision_mode"),
                                    (parts.backend, settings_backend, "recall_backend")):  # fmt: skip
            control.input(tab.knob(name), [state, control], [state, parts.status, twin], api_visibility="private")

    where = [state, parts.profile, parts.character, parts.library]
    fields = [parts.profile, parts.character, parts.library, parts.character_name, parts.persona]
    return {"after_turn": after_turn, "opened": tab.opened, "chatbot": parts.chatbot, "status": parts.status,
            "fields": fields, "mirror": mirror, "mode": parts.mode, "backend": parts.backend,
            "refresh_libraries": {"fn": tab.libraries, "inputs": where, "outputs": [state, parts.library],
                                  "api_visibility": "private"}}  # fmt: skip


# Layout


def _layout(console: Console, mode0: str) -> SimpleNamespace:
    parts = SimpleNamespace()
    _scope_rows(parts, mode0)
    parts.status = gr.Markdown(elem_id="status")
    with gr.Accordion("Character and persona", open=False):
        with gr.Row():
            parts.character_name = gr.Textbox(label="Name", elem_id="character-name")
            parts.save_character = gr.Button("Save character", elem_id="character-save")
        parts.persona = gr.Textbox(label="Persona (the character's system prompt)", lines=3, elem_id="persona")
        parts.character_status = gr.Markdown(elem_id="character-status")
    _conversation(parts, console.engine.settings.text_limit)
    return parts


def _scope_rows(parts: SimpleNamespace, mode0: str) -> None:
    with gr.Row():
        parts.profile = gr.Dropdown([], label="Profile (user)", allow_custom_value=True, elem_id="profile")
        parts.character = gr.Dropdown([], label="Character", allow_custom_value=True, elem_id="character")
        parts.library = gr.Dropdown([], label="Library", allow_custom_value=True, elem_id="library")
    with gr.Row():
        parts.memory_on = gr.Checkbox(True, label="Memory on (recall and write)", elem_id="memory-on",
                                      info="applies to your next message")  # fmt: skip
        parts.mode = gr.Radio(list(DECISION_MODES), value=mode0, label="Decision mode", elem_id="mode")
        parts.backend = gr.Radio(["hybrid", "bm25", "mem0"], value="hybrid", label="Recall backend",
                                 elem_id="backend")  # fmt: skip
        parts.start = gr.Button("Start new chat", variant="primary", elem_id="start")


def _conversation(parts: SimpleNamespace, text_limit: int) -> None:
    parts.chatbot = gr.Chatbot(height=420, label="Conversation", elem_id="chat", buttons=["copy"])
    with gr.Row():
        parts.message = gr.Textbox(placeholder="Message the character…", show_label=False, scale=5, elem_id="msg",
                                   max_length=text_limit)  # fmt: skip
        parts.send = gr.Button("Send", variant="primary", scale=1, elem_id="send")
    with gr.Row():
        parts.both_ways = gr.Checkbox(False, label="Also answer without memory (side by side)", elem_id="both-ways")
        parts.end = gr.Button("End session (store summary)", elem_id="end-session")
        parts.clear = gr.Button("Clear chat", elem_id="clear")
    parts.session_status = gr.Markdown(elem_id="session-status")
    with gr.Row():
        parts.with_memory = gr.Markdown(label="With memory", elem_id="with-memory")
        parts.without_memory = gr.Markdown(label="Without memory", elem_id="without-memory")


# Wiring


def _wire(tab: _ChatTab, state: gr.State, p: SimpleNamespace) -> list[Any]:
    """Every event of the tab; returns the ones after which the Inspector shows the latest turn."""
    scope = [p.profile, p.character, p.library, p.memory_on, p.mode, p.backend]
    shown = [state, p.chatbot, p.status, p.session_status]
    started = p.start.click(tab.start, [state, *scope], shown, api_name="start_chat")
    cleared = p.clear.click(tab.clear, [state], shown, api_name="clear_chat")
    sent = gr.on([p.send.click, p.message.submit], tab.send, [state, p.message, p.both_ways],
                 [state, p.chatbot, p.message, p.with_memory, p.without_memory, p.status, p.session_status],
                 api_name="send")  # fmt: skip
    p.end.click(tab.end, [state], shown, api_name="end_session")
    p.memory_on.input(tab.memory, [state, p.memory_on], [state, p.status], api_name="set_memory")
    gr.on([p.profile.change, p.character.change], tab.scope, [state, p.profile, p.character], [state, p.library],
          api_visibility="private")  # fmt: skip
    p.character.change(tab.character, [state, p.character], [state, p.character_name, p.persona],
                       api_visibility="private")  # fmt: skip
    p.save_character.click(tab.save_character, [state, p.character, p.character_name, p.persona],
                           [state, p.character, p.character_status], api_name="save_character")  # fmt: skip
    sent.then(tab.libraries, [state, p.profile, p.character, p.library], [state, p.library], api_visibility="private")
    return [started, sent, cleared]


class _ChatTab:
    """The tab's callbacks, each for the visitor whose state it gets; the new state goes back first."""

    def __init__(self, console: Console) -> None:
        self.console, self.engine = console, console.engine

    def opened(self, new_state: ConsoleState) -> tuple[ConsoleState, list[dict[str, Any]], str]:
        return new_state, new_state.chat, chat.status_line(self.engine, new_state)

    @friendly
    def start(self, current: ConsoleState | None, *scope: Any) -> Outcome:
        state0, visitor = self.console.visitor(current)
        return *self.opened(chat.start_chat(self.engine, state0, visitor, *scope)), ""

    @friendly
    def clear(self, current: ConsoleState | None) -> Outcome:
        state0, visitor = self.console.visitor(current)
        return *self.opened(chat.clear_chat(self.engine, state0, visitor)), ""

    def send(self, current: ConsoleState | None, text: str, both: bool) -> Iterator[Outcome]:
        if current is None or current.session is None:
            raise gr.Error("Start a chat first.")
        try:
            yield from self._turn(current, text, both)
        except MemoryCoreError as exc:
            raise gr.Error(str(exc)) from exc

    def _turn(self, current: ConsoleState, text: str, both: bool) -> Iterator[Outcome]:
        engine, console = self.engine, self.console
        current, visitor = console.visitor(current)
        console.check_session(current, visitor)
        chat.check_length(engine, text, "Your message")
        console.allow_turn(visitor)
        note = ""
        if not current.live:  # ended: this message opens the next session, with its greeting
            current, note = chat.reopen(engine, current, visitor), "A new session started."
        for new_state, shown, reply, without in chat.send(engine, current, text, both):
            side = (f"**With memory**\n\n{reply}", f"**Without memory**\n\n{without}") if both else ("", "")
            yield new_state, shown, "", *side, chat.status_line(engine, new_state), note

    def end(self, current: ConsoleState | None) -> Outcome:
        state0, _ = self.console.visitor(current)
        new_state, note = chat.end_session(self.engine, state0)
        return new_state, new_state.chat, chat.status_line(self.engine, new_state), note

    def memory(self, current: ConsoleState | None, on: bool) -> Outcome:
        state0, _ = self.console.visitor(current)
        new_state = chat.set_memory(state0, on)
        return new_state, chat.status_line(self.engine, new_state)

    def knob(self, name: str) -> Any:
        """A callback setting one knob from the control beside the chat; its Settings twin gets the value."""

        def changed(current: ConsoleState | None, value: str) -> Outcome:
            state0, _ = self.console.visitor(current)
            new_state = chat.set_knobs(state0, **{name: value})
            return new_state, chat.status_line(self.engine, new_state), value

        return changed

    def scope(self, current: ConsoleState | None, profile_id: str, character_id: str) -> Outcome:
        state0, visitor = self.console.visitor(current)
        choices = chat.library_choices(self.engine, visitor.profile(profile_id), character_id)
        return state0, gr.Dropdown(choices=choices)

    def character(self, current: ConsoleState | None, character_id: str) -> Outcome:
        state0, visitor = self.console.visitor(current)
        return state0, *chat.character_details(self.engine, visitor, character_id)

    @friendly
    def save_character(self, current: ConsoleState | None, character_id: str, name: str, text: str) -> Outcome:
        state0, visitor = self.console.visitor(current)
        return state0, *chat.save_character(self.engine, visitor, character_id, name, text)

    def libraries(self, current: ConsoleState | None, profile_id: str, character_id: str, library_id: str) -> Outcome:
        """The library counts as they are now (turns, imports and edits change them)."""
        state0, visitor = self.console.visitor(current)
        choices = chat.library_choices(self.engine, visitor.profile(profile_id), character_id)
        return state0, gr.Dropdown(choices=choices, value=library_id)
