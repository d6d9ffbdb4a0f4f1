"""The Gradio console: five tabs wired to memory_core through the handler modules. Layout only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import gradio as gr

from memory_core import MemoryEngine
from memory_core.sandbox import Sandboxes

from . import chat_handlers as chat
from . import chat_ui, compare_ui, inspector_ui, libraries_ui, settings_ui, teaching_ui
from .base import Console, friendly
from .session_state import ConsoleState

F = TypeVar("F", bound=Callable[..., Any])
THEME = gr.themes.Soft(primary_hue="indigo")
CSS = """
#memory-note { font-size: 0.9em; }
.compare-col { min-height: 12em; }
"""
INTRO = (
    "# Memtune\nSee and tune how a character's long-term memory works: whether a message recalls, what is "
    "found, the exact prompt, what gets written. Runs offline on the embedded engine; the demo character "
    "**Mia (demo)** and her sample library are there to try, and can be deleted in *Libraries & items*."
)


def build_ui(engine: MemoryEngine, sandboxes: Sandboxes | None = None, *, browser_secret: str = "") -> gr.Blocks:
    """The whole console; per-visitor state lives in gr.State, the engine is shared.

    No component is built with data in it (profile, character or library ids): the page layout and
    Gradio's API description are the same for everyone, and each visitor's own values arrive on load.
    """
    console = Console(engine, sandboxes)
    tuning0 = engine.settings.tuning()
    # Gradio's cache (uploads, files it serves) is swept hourly of what is older than an hour: bounded disk.
    with gr.Blocks(title="Memtune", fill_width=True, analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        state = gr.State(None)
        token = gr.BrowserState(None, storage_key="memtune-sandbox", secret=browser_secret or None)
        gr.Markdown(INTRO)
        with gr.Tabs():
            with gr.Tab("Chat", id="chat") as chat_page:
                chat_tab = chat_ui.chat_tab(console, state, tuning0.decision_mode)
            with gr.Tab("Inspector", id="inspector"):
                inspector = inspector_ui.inspector_tab(state)
            with gr.Tab("Libraries & items", id="libraries") as libraries_page:
                libraries_tab = libraries_ui.libraries_tab(console, state)
            with gr.Tab("Compare", id="compare") as compare_page:
                teaching = compare_ui.compare_tab(console, state)
            with gr.Tab("Settings", id="settings"):
                twins = settings_ui.settings_tab(console, state, (chat_tab["mode"], chat_tab["backend"]))
        chat_tab["after_turn"](inspector, teaching)
        chat_tab["mirror"](*twins)
        # Views refresh when shown (turns change what they list), once the page has loaded the visitor's state.
        chat_page.select(**once_loaded(chat_tab["refresh_libraries"]))
        libraries_page.select(**once_loaded(libraries_tab["refresh"]))
        compare_page.select(**once_loaded(teaching["saved_runs"]))
        teaching_ui.wire_inspector(console, state, inspector, teaching)
        _on_open(console, demo, state, token, chat_tab, libraries_tab, teaching)
    # Gradio keeps each session's copy of the page (about 0.5 MB here): bounded, whatever the traffic.
    demo.state_session_capacity = engine.settings.session_capacity
    blocks: gr.Blocks = demo
    return blocks


def once_loaded(event: dict[str, Any]) -> dict[str, Any]:
    """An event that does nothing before the page's load has given the visitor their state: a tab clicked
    while the page loads must not claim a sandbox of its own (the load restores the browser's)."""
    fn, width = event["fn"], len(event["outputs"])

    def guarded(current: ConsoleState | None, *args: Any) -> Any:
        return tuple(gr.skip() for _ in range(width)) if current is None else fn(current, *args)

    return {**event, "fn": guarded}


def _on_open(
    console: Console, demo: gr.Blocks, state: gr.State, token: gr.BrowserState, chat_tab: dict[str, Any],
    libraries_tab: dict[str, Any], teaching: dict[str, Any],
) -> None:  # fmt: skip
    """On page load: the visitor's sandbox (from their browser, else a new one), their choices, a chat."""
    engine = console.engine
    chat_fields, lib_fields = chat_tab["fields"], libraries_tab["where"]

    @friendly
    def opened(saved: object, current: ConsoleState | None) -> tuple[Any, ...]:
        state0, visitor = console.visitor(current, saved)
        profile, character, library = chat.default_scope(engine, visitor)
        name, persona = chat.character_details(engine, visitor, character)
        may_choose = visitor.sandbox is None  # an operator picks any profile; a sandbox visitor has one
        new_state = chat.start_chat(engine, state0, visitor, profile, character, library, True,
                                    state0.tuning.decision_mode, state0.tuning.recall_backend)  # fmt: skip
        return (
            new_state.sandbox,
            *chat_tab["opened"](new_state),
            gr.Dropdown(choices=chat.profile_choices(engine, visitor), value=profile, interactive=may_choose),
            gr.Dropdown(choices=chat.character_choices(engine, visitor), value=character),
            gr.Dropdown(choices=chat.library_choices(engine, profile, character), value=library),
            name,
            persona,
            gr.Textbox(value=profile, interactive=may_choose),
            character,
            library,
        )

    outputs = [token, state, chat_tab["chatbot"], chat_tab["status"], *chat_fields, *lib_fields]
    loaded = demo.load(opened, [token, state], outputs, api_visibility="private")
    loaded.then(**libraries_tab["refresh"]).then(**teaching["refresh"])
