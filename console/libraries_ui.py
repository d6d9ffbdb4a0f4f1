"""The Libraries & items tab: libraries, their memories, one memory's editor and history, import and export.
Layout and wiring only; `library_handlers.py` does the work.

Each section has its own status line under its buttons, and every click replaces it: with the action's message,
or with the reason it was refused. Refusals are returned as the status, not raised, so they stay next to the
control that caused them and never leave an earlier success on show.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from memory_core import CONFIDENCES, ITEM_TYPES, MemoryCoreError
from memory_core.markup import inert
from memory_core.views import ITEM_COLUMNS

from . import library_handlers as lib
from . import pipecat_ui
from .base import Console, friendly
from .session_state import ConsoleState

Outcome = tuple[Any, ...]
EDITOR_WIDTH = 6  # id, text, type, category, confidence, history
UNTICKED = False  # a confirmation box after any delete, pick or New memory: the next delete asks again


def refused(exc: Exception) -> str:
    """A refusal as a status line shows it."""
    message = exc.message if isinstance(exc, gr.Error) else str(exc)
    return f"⚠️ {inert(str(message))}"


def libraries_tab(console: Console, state: gr.State) -> dict[str, Any]:
    with gr.Row():
        profile = gr.Textbox(label="Profile", elem_id="lib-profile")
        character = gr.Textbox(label="Character", elem_id="lib-character")
        library = gr.Textbox(label="Library id", elem_id="lib-library")
        refresh = gr.Button("Refresh", elem_id="lib-refresh")
    view_status = gr.Markdown(elem_id="view-status")
    tab = _Tab(console, state, [profile, character, library])
    libraries, library_controls = _library_section()
    tab.filters = _filter_row()
    tab.views = [libraries, *_items_view(), view_status]
    refresh_event: dict[str, Any] = {"fn": tab.refresh, "inputs": [state, *tab.where, *tab.filters],
                                     "outputs": [state, *tab.views]}  # fmt: skip
    refresh.click(**refresh_event, api_name="list_items")
    item_type, _, search, page, _ = tab.filters
    for trigger in (search.submit, page.submit, item_type.change):
        trigger(**refresh_event, api_visibility="private")
    tab.wire_library_actions(*library_controls)
    tab.wire_editor(*_editor_section())
    tab.wire_transfer(*_transfer_section())
    pipecat_ui.unfiled_section(console, state, tab.where)
    return {"where": tab.where, "refresh": {**refresh_event, "api_visibility": "private"}}


# Layout


def _library_section() -> tuple[gr.Dataframe, list[Any]]:
    """The libraries table and its actions: name, create, rename, a confirmation, delete, and their status."""
    libraries = gr.Dataframe(headers=lib.LIBRARY_COLUMNS, label="Libraries", interactive=False, elem_id="libraries")
    with gr.Row():
        name = gr.Textbox(label="Library name", elem_id="lib-name")
        create = gr.Button("Create library", elem_id="lib-create")
        rename = gr.Button("Rename library", elem_id="lib-rename")
        confirm = gr.Checkbox(False, label="Yes, delete this library and all its memories", elem_id="lib-confirm")
        delete = gr.Button("Delete library", variant="stop", elem_id="lib-delete")
    status = gr.Markdown(elem_id="library-status")
    return libraries, [name, create, rename, confirm, delete, status]


def _filter_row() -> list[Any]:
    with gr.Row():
        item_type = gr.Dropdown(["", *ITEM_TYPES], value="", label="Type")
        category = gr.Textbox(label="Category")
        search = gr.Textbox(label="Text contains", elem_id="item-search")
        page = gr.Number(1, label="Page", precision=0, minimum=1)
        page_size = gr.Number(20, label="Per page", precision=0, minimum=1, maximum=500)
    return [item_type, category, search, page, page_size]


def _items_view() -> list[Any]:
    items = gr.Dataframe(headers=ITEM_COLUMNS, label="Memories", interactive=False, elem_id="items", wrap=True)
    return [items, gr.Markdown(elem_id="page-info"), gr.Markdown(elem_id="lib-audit")]


def _editor_section() -> tuple[list[Any], list[Any], list[Any]]:
    """The selected memory's form with its buttons and status, then the bulk delete, then the history."""
    with gr.Accordion("Selected memory (pick a row to edit it, or New memory to add one)", open=True):
        with gr.Row():
            item_id = gr.Textbox(label="Id (empty for a new memory)", elem_id="item-id")
            edit_type = gr.Dropdown(list(ITEM_TYPES), value=lib.NEW_ITEM_TYPE, label="Type", elem_id="item-type")
            category = gr.Textbox(label="Category", elem_id="item-category")
            confidence = gr.Dropdown(list(CONFIDENCES), value="", label="Confidence", elem_id="item-confidence")
        text = gr.Textbox(label="Text", lines=2, elem_id="item-text")
        with gr.Row():
            new = gr.Button("New memory", elem_id="item-new")
            save = gr.Button("Save memory", variant="primary", elem_id="item-save")
            confirm = gr.Checkbox(False, label="Yes, delete this memory", elem_id="item-confirm")
            delete = gr.Button("Delete this memory", variant="stop", elem_id="item-delete")
        status = gr.Markdown(elem_id="item-status")
        with gr.Row():
            ids = gr.Textbox(label="Ids to delete, several at once (type or paste them)", elem_id="delete-ids")
            bulk_confirm = gr.Checkbox(False, label="Yes, delete all the listed memories", elem_id="bulk-confirm")
            bulk_delete = gr.Button("Delete listed memories", variant="stop", elem_id="bulk-delete")
        bulk_status = gr.Markdown(elem_id="bulk-status")
        history = gr.Dataframe(headers=lib.HISTORY_COLUMNS, label="History", interactive=False, elem_id="history")
    fields = [item_id, text, edit_type, category, confidence, history]
    return fields, [new, save, confirm, delete, status], [ids, bulk_confirm, bulk_delete, bulk_status]


def _transfer_section() -> list[Any]:
    """Import, embed and export, with one status line under them all and the download."""
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
    status = gr.Markdown(elem_id="transfer-status")
    exported = gr.File(label="Download", elem_id="exported")
    return [upload, kind, on_conflict, do_import, reembed, fmt, do_export, status, exported]


# Wiring


class _Tab:
    """The tab's callbacks: listings for the visitor, and actions that report into their section's status."""

    def __init__(self, console: Console, state: gr.State, where: list[gr.Textbox]) -> None:
        self.console, self.engine, self.state, self.where = console, console.engine, state, where
        self.views: list[Any] = []  # libraries, items, page line, audit, view status: what a listing fills
        self.filters: list[Any] = []

    def listing(self, profile_id: str, character_id: str, library_id: str, *wanted: Any) -> Outcome:
        """What `views` shows; an unknown library (or character) is said in the view status, with empty tables."""
        engine = self.engine
        libraries = lib.empty_libraries()
        try:
            libraries = lib.libraries_table(engine, profile_id, character_id)
            items, line = lib.items_page(engine, profile_id, character_id, library_id, *wanted)
            audit = lib.library_audit(engine, profile_id, character_id, library_id)
        except (MemoryCoreError, gr.Error) as exc:
            return libraries, lib.empty_items(), "", "", refused(exc)
        return libraries, items, line, audit, ""

    @friendly
    def refresh(self, current: ConsoleState | None, profile_id: str, *rest: Any) -> Outcome:
        state0, visitor = self.console.visitor(current)
        return state0, *self.listing(visitor.profile(profile_id), *rest)

    def action(self, run: Callable[..., Outcome], after: int, reset: Outcome = ()) -> Callable[..., Outcome]:
        """A callback for one action: the state, its status, a fresh listing and the `after` values `run` returns.

        `run(profile, character, library, *options, progress=…)` gets the inputs between the library and the
        filters, and returns the status and the `after` values. A refusal becomes the status; the listing and
        the `after` values stay as they are, except the last ones, which `reset` gives (a confirmation box)."""

        @friendly
        def callback(current: ConsoleState | None, profile_id: str, character_id: str, library_id: str,
                     *args: Any, progress: gr.Progress = gr.Progress()) -> Outcome:  # noqa: B008  # fmt: skip
            state0, visitor = self.console.visitor(current)
            mine, cut = visitor.profile(profile_id), len(args) - len(self.filters)
            try:
                status, *rest = run(mine, character_id, library_id, *args[:cut], progress=progress)
            except (MemoryCoreError, gr.Error) as exc:
                unchanged = [gr.skip()] * (len(self.views) + after - len(reset))
                return state0, refused(exc), *unchanged, *reset
            return state0, status, *self.listing(mine, character_id, library_id, *args[cut:]), *rest

        return callback

    def wire_library_actions(self, name: Any, create: Any, rename: Any, confirm: Any, delete: Any,
                             status: Any) -> None:  # fmt: skip
        engine, state, where = self.engine, self.state, self.where
        outputs = [state, status, *self.views]

        def named(handler: Callable[..., str]) -> Callable[..., Outcome]:
            return self.action(lambda *args, progress: (handler(engine, *args),), 0)

        def deleted(*args: Any, progress: Any) -> Outcome:
            return lib.delete_library(engine, *args), UNTICKED

        create.click(named(lib.create_library), [state, *where, name, *self.filters], outputs,
                     api_name="create_library")  # fmt: skip
        rename.click(named(lib.rename_library), [state, *where, name, *self.filters], outputs,
                     api_name="rename_library")  # fmt: skip
        delete.click(self.action(deleted, 1, (UNTICKED,)), [state, *where, confirm, *self.filters],
                     [*outputs, confirm], api_name="delete_library")  # fmt: skip

    def wire_editor(self, fields: list[Any], buttons: list[Any], bulk: list[Any]) -> None:
        engine, state, where = self.engine, self.state, self.where
        new, save, confirm, delete, status = buttons
        item_id, text, edit_type, category, confidence, _ = fields

        def saved(profile: str, character: str, library: str, *form: Any, progress: Any) -> Outcome:
            message, saved_id = lib.save_item(engine, profile, character, library, *form)
            return message, *lib.item_details(engine, profile, character, library, saved_id)

        def deleted(*args: Any, progress: Any) -> Outcome:
            return lib.delete_item(engine, *args), *lib.blank_editor(), UNTICKED

        def new_memory() -> Outcome:
            return *lib.blank_editor(), UNTICKED, ""

        shown, listed = [*fields, confirm, status], [state, status, *self.views]
        self.views[1].select(self.pick, [state, *where], [state, *shown], api_visibility="private")
        new.click(new_memory, None, shown, api_name="new_memory")
        save.click(self.action(saved, EDITOR_WIDTH), [state, *where, item_id, text, edit_type, category, confidence,
                   *self.filters], [*listed, *fields], api_name="save_item")  # fmt: skip
        delete.click(self.action(deleted, EDITOR_WIDTH + 1, (UNTICKED,)), [state, *where, item_id, confirm,
                     *self.filters], [*listed, *fields, confirm], api_name="delete_item")  # fmt: skip
        self.wire_bulk_delete(fields, *bulk)

    @friendly
    def pick(self, current: ConsoleState | None, profile_id: str, character_id: str, library_id: str,
             evt: gr.SelectData) -> Outcome:  # fmt: skip
        """A picked row fills the editor only: its delete stays unconfirmed and the bulk ids stay the visitor's."""
        return self.picked(current, profile_id, character_id, library_id, evt.row_value or [])

    def picked(self, current: ConsoleState | None, profile_id: str, character_id: str, library_id: str,
               row: list[Any]) -> Outcome:  # fmt: skip
        """The editor filled from a table row (its first cell is the id), a cleared confirmation and status."""
        state0, visitor = self.console.visitor(current)
        try:
            if not row:
                raise gr.Error("Pick a row of the table.")
            mine = visitor.profile(profile_id)
            details = lib.item_details(self.engine, mine, character_id, library_id, str(row[0]))
        except (MemoryCoreError, gr.Error) as exc:
            return state0, *[gr.skip()] * EDITOR_WIDTH, UNTICKED, refused(exc)
        return state0, *details, UNTICKED, ""

    def wire_bulk_delete(self, fields: list[Any], ids: Any, confirm: Any, delete: Any, status: Any) -> None:
        engine, state = self.engine, self.state

        def deleted(*args: Any, progress: Any) -> Outcome:
            return lib.delete_items(engine, *args), *lib.blank_editor(), "", UNTICKED

        delete.click(self.action(deleted, EDITOR_WIDTH + 2, (UNTICKED,)), [state, *self.where, ids, confirm,
                     *self.filters], [state, status, *self.views, *fields, ids, confirm],
                     api_name="delete_items")  # fmt: skip

    def wire_transfer(self, upload: Any, kind: Any, on_conflict: Any, do_import: Any, reembed: Any, fmt: Any,
                      do_export: Any, status: Any, exported: Any) -> None:  # fmt: skip
        engine, state, where = self.engine, self.state, self.where
        outputs = [state, status, *self.views]

        def imported(profile: str, character: str, library: str, path: str | None, holds: str, conflict: str,
                     progress: Any) -> Outcome:  # fmt: skip
            return (lib.import_file(engine, profile, character, library, path, holds, conflict, progress),)

        def embedded(profile: str, character: str, library: str, progress: Any) -> Outcome:
            return (lib.embed_library(engine, profile, character, library, progress),)

        @friendly
        def export(current: ConsoleState | None, profile_id: str, *rest: Any) -> Outcome:
            state0, visitor = self.console.visitor(current)
            try:
                path, message = lib.export_file(engine, visitor.profile(profile_id), *rest)
            except (MemoryCoreError, gr.Error) as exc:
                return state0, None, refused(exc)
            return state0, path, message

        do_import.click(self.action(imported, 0), [state, *where, upload, kind, on_conflict, *self.filters],
                        outputs, api_name="import_file")  # fmt: skip
        reembed.click(self.action(embedded, 0), [state, *where, *self.filters], outputs, api_name="embed_library")
        do_export.click(export, [state, *where, fmt], [state, exported, status], api_name="export_library")
