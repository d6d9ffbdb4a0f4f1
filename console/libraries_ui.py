"""The Libraries & items tab: libraries, their memories, one memory's editor and history, import and export.
Layout and wiring only; `library_handlers.py` does the work."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from memory_core import CONFIDENCES, ITEM_TYPES
from memory_core.views import ITEM_COLUMNS

from . import library_handlers as lib
from . import pipecat_ui
from .base import Console, friendly
from .session_state import ConsoleState


def libraries_tab(console: Console, state: gr.State) -> dict[str, Any]:
    engine = console.engine
    with gr.Row():
        profile = gr.Textbox(label="Profile", elem_id="lib-profile")
        character = gr.Textbox(label="Character", elem_id="lib-character")
        library = gr.Textbox(label="Library id", elem_id="lib-library")
        refresh = gr.Button("Refresh", elem_id="lib-refresh")
    libraries = gr.Dataframe(headers=lib.LIBRARY_COLUMNS, label="Libraries", interactive=False, elem_id="libraries")
    with gr.Row():
        name = gr.Textbox(label="Library name", elem_id="lib-name")
        create = gr.Button("Create library", elem_id="lib-create")
        rename = gr.Button("Rename library", elem_id="lib-rename")
        confirm_library = gr.Checkbox(False, label="Yes, delete this library and all its memories")
        delete_library = gr.Button("Delete library", variant="stop", elem_id="lib-delete")
    with gr.Row():
        item_type = gr.Dropdown(["", *ITEM_TYPES], value="", label="Type")
        category = gr.Textbox(label="Category")
        search = gr.Textbox(label="Text contains", elem_id="item-search")
        page = gr.Number(1, label="Page", precision=0, minimum=1)
        page_size = gr.Number(20, label="Per page", precision=0, minimum=1, maximum=500)
    items = gr.Dataframe(headers=ITEM_COLUMNS, label="Memories", interactive=False, elem_id="items", wrap=True)
    page_info = gr.Markdown(elem_id="page-info")
    audit = gr.Markdown(elem_id="lib-audit")
    with gr.Accordion("Selected memory (pick a row; leave the id empty to add a new one)", open=True):
        with gr.Row():
            item_id = gr.Textbox(label="Id", elem_id="item-id")
            edit_type = gr.Dropdown(list(ITEM_TYPES), value="note", label="Type", elem_id="item-type")
            edit_category = gr.Textbox(label="Category", elem_id="item-category")
            confidence = gr.Dropdown(list(CONFIDENCES), value="", label="Confidence")
        text = gr.Textbox(label="Text", lines=2, elem_id="item-text")
        with gr.Row():
            save = gr.Button("Save memory", variant="primary", elem_id="item-save")
            confirm_items = gr.Checkbox(False, label="Yes, delete several at once")
            delete_ids = gr.Textbox(label="Ids to delete (bulk)", elem_id="delete-ids")
            delete = gr.Button("Delete", variant="stop", elem_id="item-delete")
        history = gr.Dataframe(headers=lib.HISTORY_COLUMNS, label="History", interactive=False, elem_id="history")
    with gr.Row():
        upload = gr.File(label="Import a file", file_types=[".json", ".csv"], elem_id="import-file")
        with gr.Column():
            kind = gr.Radio(["library file", "chat turns"], value="library file", label="File holds")
            on_conflict = gr.Radio(["error", "skip", "replace"], value="error", label="Existing ids")
            do_import = gr.Button("Import", elem_id="import")
        with gr.Column():
            reembed = gr.Button("Embed missing vectors", elem_id="reembed")
            fmt = gr.Radio(["json", "csv"], value="json", label="Export format")
            do_export = gr.Button("Export library", elem_id="export")
            exported = gr.File(label="Download", elem_id="exported")
    status = gr.Markdown(elem_id="lib-status")

    where = [profile, character, library]
    pipecat_ui.unfiled_section(console, state, where)
    filters = [item_type, category, search, page, page_size]
    refreshed = [state, libraries, items, page_info, audit]

    def listing(profile_id: str, character_id: str, library_id: str, *wanted: Any) -> tuple[Any, ...]:
        return (lib.libraries_table(engine, profile_id, character_id),
                *lib.items_page(engine, profile_id, character_id, library_id, *wanted),
                lib.library_audit(engine, profile_id, character_id, library_id))  # fmt: skip

    @friendly
    def refresh_all(current: ConsoleState | None, profile_id: str, *rest: Any) -> tuple[Any, ...]:
        state0, visitor = console.visitor(current)
        return state0, *listing(visitor.profile(profile_id), *rest)

    @friendly
    def pick(current: ConsoleState | None, profile_id: str, character_id: str, library_id: str,
             evt: gr.SelectData) -> tuple[Any, ...]:  # fmt: skip
        state0, visitor = console.visitor(current)
        row = evt.row_value or []
        if not row:
            raise gr.Error("Pick a row of the table.")
        details = lib.item_details(engine, visitor.profile(profile_id), character_id, library_id, str(row[0]))
        return (state0, *details, details[0])

    def act(handler: Callable[..., str], extra: int) -> Callable[..., tuple[Any, ...]]:
        """A callback running one library action for the visitor, then listing the library again."""

        @friendly
        def run(current: ConsoleState | None, profile_id: str, character_id: str, library_id: str,
                *args: Any, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008  # fmt: skip
            state0, visitor = console.visitor(current)
            mine = visitor.profile(profile_id)
            options, wanted = args[:extra], args[extra:]
            message = handler(engine, mine, character_id, library_id, *options, progress=progress)
            return (state0, message, *listing(mine, character_id, library_id, *wanted))

        return run

    def quietly(handler: Callable[..., str]) -> Callable[..., str]:
        return lambda *args, progress: handler(*args)

    @friendly
    def export(current: ConsoleState | None, profile_id: str, *rest: Any) -> tuple[Any, ...]:
        state0, visitor = console.visitor(current)
        return state0, lib.export_file(engine, visitor.profile(profile_id), *rest)

    acting = [state, status, libraries, items, page_info, audit]
    refresh_event: dict[str, Any] = {"fn": refresh_all, "inputs": [state, *where, *filters], "outputs": refreshed}
    refresh.click(**refresh_event, api_name="list_items")
    for trigger in (search.submit, page.submit, item_type.change):
        trigger(**refresh_event, api_visibility="private")
    create.click(act(quietly(lib.create_library), 1), [state, *where, name, *filters], acting,
                 api_name="create_library")  # fmt: skip
    rename.click(act(quietly(lib.rename_library), 1), [state, *where, name, *filters], acting,
                 api_name="rename_library")  # fmt: skip
    delete_library.click(act(quietly(lib.delete_library), 1), [state, *where, confirm_library, *filters], acting,
                         api_name="delete_library")  # fmt: skip
    items.select(pick, [state, *where], [state, item_id, text, edit_type, edit_category, confidence, history,
                                         delete_ids], api_visibility="private")  # fmt: skip
    save.click(act(quietly(lib.save_item), 5), [state, *where, item_id, text, edit_type, edit_category, confidence,
                                               *filters], acting, api_name="save_item")  # fmt: skip
    delete.click(act(quietly(lib.delete_items), 2), [state, *where, delete_ids, confirm_items, *filters], acting,
                 api_name="delete_items")  # fmt: skip
    do_import.click(act(lib.import_file, 3), [state, *where, upload, kind, on_conflict, *filters], acting,
                    api_name="import_file")  # fmt: skip
    reembed.click(act(lib.embed_library, 0), [state, *where, *filters], acting, api_name="embed_library")
    do_export.click(export, [state, *where, fmt], [state, exported], api_name="export_library")
    return {"where": where, "refresh": {**refresh_event, "api_visibility": "private"}}
