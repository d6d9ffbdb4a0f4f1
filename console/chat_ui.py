"""The Chat tab: scope and mode, the conversation, the with/without view, the character's persona.
Layout and wiring only; `chat_handlers.py` does the work."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

from memory_core import MemoryCoreError
from memory_core.decide.decider import DECISION_MODES
from memory_core.markup import inert, inert_code

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
        memory_on = gr.Checkbox(True, label="Memory on (recall and write)", elem_id="memory-on")
        mode = gr.Radio(list(DECISION_MODES), value=mode0, label="Decision mode", elem_id="mode")
        backend = gr.Radio(["hybrid", "bm25", "mem0"], value="hybrid", label="Recall backend", elem_id="backend")
        start = gr.Button("Start chat", variant="primary", elem_id="start")
    with gr.Accordion("Character and persona", open=False):
        with gr.Row():
            character_name = gr.Textbox(label="Name", elem_id="character-name")
            save_character = gr.Button("Save character", elem_id="character-save")
        persona = gr.Textbox(label="Persona (the character's system prompt)", lines=3, elem_id="persona")
    chatbot = gr.Chatbot(height=420, label="Conversation", elem_id="chat", buttons=["copy"])
    with gr.Row():
        message = gr.Textbox(placeholder="Message the character…", show_label=False, scale=5, elem_id="msg")
        send = gr.Button("Send", variant="primary", scale=1, elem_id="send")
    with gr.Row():
        both_ways = gr.Checkbox(False, label="Also answer without memory (side by side)", elem_id="both-ways")
        end = gr.Button("End session (store summary)", elem_id="end-session")
        clear = gr.Button("Clear chat", elem_id="clear")
    with gr.Row(visible=True):
        with_memory = gr.Markdown(label="With memory", elem_id="with-memory")
        without_memory = gr.Markdown(label="Without memory", elem_id="without-memory")
    status = gr.Markdown(elem_id="status")

    scope_inputs = [profile, character, library, memory_on, mode, backend]

    def opened(new_state: ConsoleState) -> tuple[ConsoleState, list[dict[str, Any]], str]:
        scope = new_state.session.scope if new_state.session else None
        where = f"profile {inert_code(scope.profile_id)} · library {inert_code(scope.library_id)}" if scope else ""
        recall = inert(f"memory: {engine.provider_note} · recall: {engine.retrieval_note}")
        return new_state, new_state.chat, f"Chatting with **{inert(new_state.character_name)}** · {where} · {recall}"

    @friendly
    def on_start(current: ConsoleState | None, *scope: Any) -> tuple[Any, ...]:
        state0, visitor = console.visitor(current)
        return opened(chat.start_chat(engine, state0, visitor, *scope))

    def on_send(current: ConsoleState | None, text: str, both: bool) -> Iterator[tuple[Any, ...]]:
        if current is None or current.session is None:
            raise gr.Error("Start a chat first.")
        try:
            current, visitor = console.visitor(current)
            console.check_session(current, visitor)
            chat.check_length(engine, text, "Your message")
            console.allow_turn(visitor)
            for new_state, shown, reply, without in chat.send(engine, current, text, both):
                side = (f"**With memory**\n\n{inert(reply)}", f"**Without memory**\n\n{inert(without)}")
                yield new_state, shown, "", *(side if both else ("", ""))
        except MemoryCoreError as exc:
            raise gr.Error(str(exc)) from exc

    @friendly
    def on_end(current: ConsoleState | None) -> tuple[Any, ...]:
        if current is None:
            raise gr.Error("There is no open session to end.")
        new_state = chat.end_session(engine, current)
        return new_state, new_state.chat

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

    start_event = start.click(on_start, [state, *scope_inputs], [state, chatbot, status], api_name="start_chat")
    clear.click(on_start, [state, *scope_inputs], [state, chatbot, status], api_name="clear_chat")
    send_event = gr.on([send.click, message.submit], on_send, [state, message, both_ways],
                       [state, chatbot, message, with_memory, without_memory], api_name="send")  # fmt: skip
    end.click(on_end, [state], [state, chatbot], api_name="end_session")
    gr.on([profile.change, character.change], on_scope, [state, profile, character], [state, library],
          api_visibility="private")  # fmt: skip
    character.change(on_character, [state, character], [state, character_name, persona], api_visibility="private")
    save_character.click(on_save_character, [state, character, character_name, persona], [state, character, status],
                         api_name="save_character")  # fmt: skip

    def after_turn(inspector: dict[str, Any], teaching: dict[str, Any]) -> None:
        for event in (send_event, start_event):
            event.then(lambda current: chat.inspect(current, None), [state], inspector["outputs"],
                       api_visibility="private")  # fmt: skip
        start_event.then(**teaching["refresh"])  # a new chat may be with another character

    fields = [profile, character, library, character_name, persona]
    return {"after_turn": after_turn, "opened": opened, "chatbot": chatbot, "status": status, "fields": fields}
