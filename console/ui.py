"""The Gradio console: five tabs wired to memory_core through the handler modules. Layout only."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import gradio as gr

from memory_core import CONFIDENCES, ITEM_TYPES, MemoryCoreError, MemoryEngine
from memory_core.decide.decider import DECISION_MODES, MODES
from memory_core.eval.compare import CONFUSION_COLUMNS, METRIC_COLUMNS
from memory_core.markup import inert, inert_code
from memory_core.sandbox import Sandboxes
from memory_core.views import HIT_COLUMNS, ITEM_COLUMNS, env_snippet, pipecat_snippet

from . import chat_handlers as chat
from . import compare_handlers as compare
from . import library_handlers as lib
from . import pipecat_ui, teaching_ui
from .access import access_note
from .session_state import ConsoleState
from .visitor import Visitor, visitor_of

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


def friendly(fn: F) -> F:
    """Show the engine's own error messages (bad input, not found) in the UI instead of a generic error."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except MemoryCoreError as exc:
            raise gr.Error(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


class Console:
    """What every callback shares: the engine and, on a public deployment, the visitors' sandboxes."""

    def __init__(self, engine: MemoryEngine, sandboxes: Sandboxes | None) -> None:
        self.engine, self.sandboxes = engine, sandboxes

    def visitor(self, state: ConsoleState | None, token: object = None) -> tuple[ConsoleState, Visitor]:
        return visitor_of(self.engine, self.sandboxes, state, token)

    def check_session(self, state: ConsoleState, visitor: Visitor) -> None:
        """A chat opened in a sandbox that has since been swept must not write into it again."""
        session = state.session
        if visitor.sandbox is not None and session is not None and session.scope.profile_id != visitor.sandbox:
            raise gr.Error("Your sandbox was cleared after a long idle time: start a new chat.")

    def allow_turn(self, visitor: Visitor) -> None:
        if self.sandboxes is not None and visitor.sandbox is not None:
            self.sandboxes.allow_turn(visitor.sandbox)


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
            with gr.Tab("Chat", id="chat"):
                chat_tab = _chat_tab(console, state, tuning0.decision_mode)
            with gr.Tab("Inspector", id="inspector"):
                inspector = _inspector_tab(state)
            with gr.Tab("Libraries & items", id="libraries"):
                libraries_tab = _libraries_tab(console, state)
            with gr.Tab("Compare", id="compare"):
                teaching = _compare_tab(console, state)
            with gr.Tab("Settings", id="settings"):
                _settings_tab(console, state)
        chat_tab["after_turn"](inspector, teaching)
        teaching_ui.wire_inspector(console, state, inspector, teaching)
        _on_open(console, demo, state, token, chat_tab, libraries_tab, teaching)
    # Gradio keeps each session's copy of the page (about 0.5 MB here): bounded, whatever the traffic.
    demo.state_session_capacity = engine.settings.session_capacity
    blocks: gr.Blocks = demo
    return blocks


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


def _chat_tab(console: Console, state: gr.State, mode0: str) -> dict[str, Any]:
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


def _inspector_tab(state: gr.State) -> dict[str, Any]:
    turn = gr.Dropdown([], label="Turn", elem_id="turn", allow_custom_value=True)
    with gr.Row():
        with gr.Column():
            decision = gr.JSON(label="Recall decision", elem_id="decision")
            teach = teaching_ui.inspector_buttons()
        with gr.Column():
            query = gr.Markdown(elem_id="query")
            timings = gr.Dataframe(headers=["stage", "ms"], label="Time per stage (ms)", interactive=False)
    hits = gr.Dataframe(headers=HIT_COLUMNS, label="Hits and their score parts", interactive=False, elem_id="hits")
    bars = gr.BarPlot(x="memory", y="score", color="kind", label="Final scores against the threshold",
                      elem_id="score-chart", height=260)  # fmt: skip
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


def _libraries_tab(console: Console, state: gr.State) -> dict[str, Any]:
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


def _compare_tab(console: Console, state: gr.State) -> dict[str, Any]:
    engine = console.engine
    gr.Markdown("One message through **rule**, **hybrid** and **llm** side by side; differences are flagged 🔶.")
    with gr.Row():
        text = gr.Textbox(label="Message", scale=5, elem_id="compare-text")
        run = gr.Button("Compare", variant="primary", scale=1, elem_id="compare-run")
    with gr.Row():
        columns = [
            gr.Markdown(elem_id=f"compare-{mode}", elem_classes=["compare-col"]) for mode in ("rule", "hybrid", "llm")
        ]
    differences = gr.Markdown(elem_id="compare-differences")
    buttons_at = gr.Column()  # the teaching buttons, placed here once the panel they update exists

    @friendly
    def on_compare(current: ConsoleState | None, message: str) -> tuple[Any, ...]:
        chat.check_length(engine, message, "The message")
        return compare.compare_one(engine, current, message)

    run.click(on_compare, [state, text], [*columns, differences], api_name="compare")
    text.submit(on_compare, [state, text], [*columns, differences], api_visibility="private")

    gr.Markdown("### Batch\nA JSONL or CSV file of messages (`text`, optional `should_recall`, `lang`, `id`).")
    with gr.Row():
        upload = gr.File(label="Messages", file_types=[".jsonl", ".json", ".csv"], elem_id="batch-file")
        batch = gr.Button("Run all modes", elem_id="batch-run")
    with gr.Row():
        metrics = gr.Dataframe(headers=list(METRIC_COLUMNS), label="Per mode", interactive=False,
                               elem_id="batch-metrics")  # fmt: skip
        confusion = gr.Dataframe(headers=list(CONFUSION_COLUMNS), label="Confusion", interactive=False,
                                 elem_id="batch-confusion")  # fmt: skip
    chart = gr.BarPlot(x="mode", y="accuracy", label="Accuracy per mode", y_lim=[0, 1], height=240)
    disagreements = gr.Dataframe(headers=["id", "text", "expected", *MODES], label="Disagreements",
                                 interactive=False, wrap=True, elem_id="batch-disagreements")  # fmt: skip
    batch_teach_at = gr.Column()
    download = gr.File(label="Results (CSV)", elem_id="batch-csv")

    panel = teaching_ui.examples_panel(console, state)
    with buttons_at:
        teaching_ui.compare_buttons(console, state, text, panel)

    @friendly
    def on_batch(current: ConsoleState | None, path: str | None, progress: gr.Progress = gr.Progress()) -> Any:  # noqa: B008
        state0, _ = console.visitor(current)
        return compare.run_batch(engine, state0, path, progress)

    batch_outputs = [state, metrics, confusion, chart, disagreements, download]
    ran = batch.click(on_batch, [state, upload], batch_outputs, api_name="batch")
    with batch_teach_at:
        ran.then(**teaching_ui.batch_row(console, state, disagreements, panel))
    from . import retrieval_ui  # golden queries: every retrieval method scored on a file, side by side

    retrieval_ui.golden_section(console, state)
    return panel


def _settings_tab(console: Console, state: gr.State) -> None:
    engine = console.engine
    settings = engine.settings
    tuning = settings.tuning()
    gr.Markdown(access_note(settings), elem_id="access-note")
    gr.Markdown("Knobs apply to **this visitor's session** at once, without a restart. Secrets are masked. "
                f"Memory: **{engine.provider_note}**. Recall: **{engine.retrieval_note}**.")  # fmt: skip
    with gr.Row():
        with gr.Column():
            decision_mode = gr.Radio(list(DECISION_MODES), value=tuning.decision_mode, label="Decision mode",
                                     info="always: every message is searched, as a Pipecat bot does")  # fmt: skip
            decision_timeout = gr.Number(tuning.decision_timeout_ms, label="Decision timeout (ms)", precision=0)
            recall_backend = gr.Radio(["hybrid", "bm25", "mem0"], value=tuning.recall_backend, label="Recall backend")
            limit = gr.Slider(1, 20, value=tuning.recall_limit, step=1, label="Recall limit", elem_id="knob-limit")
            min_score = gr.Number(tuning.recall_min_score, label="Min score (strictly above)", elem_id="knob-min",
                                  minimum=0)  # fmt: skip
            recall_timeout = gr.Number(tuning.recall_timeout_ms, label="Recall timeout (ms)", precision=0)
            category_boost = gr.Number(tuning.category_boost, label="Category boost")
            reply_timeout = gr.Number(tuning.reply_timeout_ms, label="Reply timeout (ms)", precision=0)
            method = gr.Radio(["fusion", "dense", "bm25"], value=tuning.retrieval_method, label="Retrieval method",
                              info=engine.retrieval_note)  # fmt: skip
            max_weight = gr.Slider(0, 1, value=tuning.fusion_max_weight, step=0.05, label="Fusion: max BM25 weight")
            fusion_min = gr.Slider(0, 1, value=tuning.fusion_min_score, step=0.05, label="Fusion/dense min score")
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
                                       label="Mem0 search threshold (Pipecat search_threshold)")  # fmt: skip
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

    apply.click(on_apply, [state, *knobs], [state, applied, env, pipecat], api_name="apply_settings")
