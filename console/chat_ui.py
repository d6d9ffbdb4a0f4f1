"""The Chat tab: scope and mode, the conversation, the with/without view, the character's persona.
Layout and wiring only; `chat_handlers.py` does the work."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

from memory_core import MemoryCoreError
from memory_core.decide.decider import DECISION_MODES

from . import chat_handlers as chat
from .base import Console, friendly
from .session_state import ConsoleState


def chat_tab(console: Console, state: gr.State, mode0: str) -> dict[str, Any]:
    engine = console.engine
    with gr.Row():
        profile = gr.Dropdown([], label="Profile (user)", allow_custom_value=True, elem_id="profile")
        character = gr.Dropdown([], label="Character", allow_custom_value=True, elem_id="character")
        library = gr.Dropdown([], label="Library", allow_custom_value=True, elem_id="library")
    with gr.Row():
        memory_on = gr.Checkbox(True, label="Memory on (recall and write)", elem_id="memory-on",
                                info="applies to your next message")  # fmt: skip
        mode = gr.Radio(list(DECISION_MODES), value=mode0, label="Decision mode", elem_id="mode")
        backend = gr.Radio(["hybrid", "bm25", "mem0"], value="hybrid", label="Recall backend", elem_id="backend")
        start = gr.Button("Start new chat", variant="primary", elem_id="start")
    status = gr.Markdown(elem_id="status")
    with gr.Accordion("Character and persona", open=False):
        with gr.Row():
            character_name = gr.Textbox(label="Name", elem_id="character-name")
            save_character = gr.Button("Save character", elem_id="character-save")
        persona = gr.Textbox(label="Persona (the character's system prompt)", lines=3, elem_id="persona")
        character_status = gr.Markdown(elem_id="character-status")
    chatbot = gr.Chatbot(height=420, label="Conversation", elem_id="chat", buttons=["copy"])
    with gr.Row():
        message = gr.Textbox(placeholder="Message the character…", show_label=False, scale=5, elem_id="msg",
                             max_length=engine.settings.text_limit)  # fmt: skip
        send = gr.Button("Send", variant="primary", scale=1, elem_id="send")
    with gr.Row():
        both_ways = gr.Checkbox(False, label="Also answer without memory (side by side)", elem_id="both-ways")
        end = gr.Button("End session (store summary)", elem_id="end-session")
        clear = gr.Button("Clear chat", elem_id="clear")
    session_status = gr.Markdown(elem_id="session-status")
    with gr.Row(visible=True):
        with_memory = gr.Markdown(label="With memory", elem_id="with-memory")
        without_memory = gr.Markdown(label="Without memory", elem_id="without-memory")

    scope_inputs = [profile, character, library, memory_on, mode, backend]

    def opened(new_state: ConsoleState) -> tuple[ConsoleState, list[dict[str, Any]], str]:
        return new_state, new_state.chat, chat.status_line(engine, new_state)

    @friendly
    def on_start(current: ConsoleState | None, *scope: Any) -> tuple[Any, ...]:
        state0, visitor = console.visitor(current)
        return *opened(chat.start_chat(engine, state0, visitor, *scope)), ""

    @friendly
    def on_clear(current: ConsoleState | None) -> tuple[Any, ...]:
        state0, visitor = console.visitor(current)
        return *opened(chat.clear_chat(engine, state0, visitor)), ""

    def on_send(current: ConsoleState | None, text: str, both: bool) -> Iterator[tuple[Any, ...]]:
        if current is None or current.session is None:
            raise gr.Error("Start a chat first.")
        try:
            current, visitor = console.visitor(current)
            console.check_session(current, visitor)
            chat.check_length(engine, text, "Your message")
            console.allow_turn(visitor)
            note = ""
            if not current.live:  # ended: this message opens the next session, with its greeting
                current, note = chat.reopen(engine, current, visitor), "A new session started."
            for new_state, shown, reply, without in chat.send(engine, current, text, both):
                side = (f"**With memory**\n\n{reply}", f"**Without memory**\n\n{without}")
                yield (new_state, shown, "", *(side if both else ("", "")), chat.status_line(engine, new_state),
                       note)  # fmt: skip
        except MemoryCoreError as exc:
            raise gr.Error(str(exc)) from exc

    def on_end(current: ConsoleState | None) -> tuple[Any, ...]:
        state0, _ = console.visitor(current)
        new_state, note = chat.end_session(engine, state0)
        return new_state, new_state.chat, chat.status_line(engine, new_state), note

    def on_memory(current: ConsoleState | None, on: bool) -> tuple[Any, ...]:
        state0, _ = console.visitor(current)
        new_state = chat.set_memory(state0, on)
        return new_state, chat.status_line(engine, new_state)

    def on_knob(name: str) -> Any:
        def changed(current: ConsoleState | None, value: str) -> tuple[Any, ...]:
            state0, _ = console.visitor(current)
            new_state = chat.set_knobs(state0, **{name: value})
            return new_state, chat.status_line(engine, new_state), value

        return changed

    def on_scope(current: ConsoleState | None, profile_id: str, character_id: str) -> tuple[Any, ...]:
        state0, visitor = console.visitor(current)
        return state0, gr.Dropdown(choices=chat.library_choices(engine, visitor.profile(profile_id), character_id))

    def on_character(current: ConsoleState | None, character_id: str) -> tuple[Any, ...]:
        state0, visitor = console.visitor(current)
        return state0, *chat.character_details(engine, visitor, character_id)

    @friendly
    def on_save_character(current: ConsoleState | None, character_id: str, name: str, text: str) -> tuple[Any, ...]:
        state0, visitor = console.visitor(current)
        return state0, *chat.save_character(engine, visitor, character_id, name, text)

    def on_chat_tab(current: ConsoleState | None, profile_id: str, character_id: str, library_id: str) -> Any:
        """The library counts as they are now (turns, imports and edits change them)."""
        state0, visitor = console.visitor(current)
        choices = chat.library_choices(engine, visitor.profile(profile_id), character_id)
        return state0, gr.Dropdown(choices=choices, value=library_id)

    chat_outputs = [state, chatbot, status, session_status]
    start_event = start.click(on_start, [state, *scope_inputs], chat_outputs, api_name="start_chat")
    clear_event = clear.click(on_clear, [state], chat_outputs, api_name="clear_chat")
    send_event = gr.on([send.click, message.submit], on_send, [state, message, both_ways],
                       [state, chatbot, message, with_memory, without_memory, status, session_status],
                       api_name="send")  # fmt: skip
    end.click(on_end, [state], chat_outputs, api_name="end_session")
    memory_on.input(on_memory, [state, memory_on], [state, status], api_name="set_memory")
    gr.on([profile.change, character.change], on_scope, [state, profile, character], [state, library],
          api_visibility="private")  # fmt: skip
    character.change(on_character, [state, character], [state, character_name, persona], api_visibility="private")
    save_character.click(on_save_character, [state, character, character_name, persona],
                         [state, character, character_status], api_name="save_character")  # fmt: skip
    send_event.then(on_chat_tab, [state, profile, character, library], [state, library], api_visibility="private")

    def after_turn(inspector: dict[str, Any], teaching: dict[str, Any]) -> None:
        for event in (send_event, start_event, clear_event):
            event.then(lambda current: chat.inspect(current, None), [state], inspector["outputs"],
                       api_visibility="private")  # fmt: skip
        start_event.then(**teaching["refresh"])  # a new chat may be with another character

    def mirror(settings_mode: gr.Radio, settings_backend: gr.Radio) -> None:
        """The chat's mode and backend and the Settings tab's show one value: the session's."""
        for control, twin, name in ((mode, settings_mode, "decision_mode"), (backend, settings_backend,
                                                                              "recall_backend")):  # fmt: skip
            control.input(on_knob(name), [state, control], [state, status, twin], api_visibility="private")

    fields = [profile, character, library, character_name, persona]
    return {"after_turn": after_turn, "opened": opened, "chatbot": chatbot, "status": status, "fields": fields,
            "mirror": mirror, "mode": mode, "backend": backend, "memory_on": memory_on,
            "refresh_libraries": {"fn": on_chat_tab, "inputs": [state, profile, character, library],
                                  "outputs": [state, library], "api_visibility": "private"}}  # fmt: skip
