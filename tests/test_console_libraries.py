"""The Libraries & items tab through gradio_client against a launched app: views, the editor, deletes, imports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from gradio_client import Client, handle_file

from console.chat_handlers import default_scope
from console.ui import build_ui
from console.visitor import Visitor
from memory_core import MemoryEngine, Scope
from memory_core.demo import demo_scope

FILTERS = ("", "", "", 1, 50)
BLANK_EDITOR = ["", "", "note", "", ""]  # id, text, type, category, confidence (then the history)

pytestmark = [
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning", "ignore::ResourceWarning"),
    pytest.mark.usefixtures("collect_garbage"),
]


def where(library: str) -> tuple[str, str, str]:
    return ("default", "demo", library)


def texts(engine: MemoryEngine, library: str) -> list[str]:
    assert engine.store is not None
    return [item.text for item in engine.store.iter_items(Scope.of(*where(library)))]


def add_memory(client: Client, library: str, text: str) -> str:
    """Save a new memory through the editor; the editor shows its new id afterwards."""
    status, *_, shown_id, shown_text, _, _, _, _ = client.predict(*where(library), "", text, "fact", "", "high",
                                                                   *FILTERS, api_name="/save_item")  # fmt: skip
    assert status.startswith("Added `") and shown_id in status and shown_text == text
    return str(shown_id)


def a_library(client: Client, library: str) -> None:
    status, *_ = client.predict(*where(library), library.title(), *FILTERS, api_name="/create_library")
    assert status.startswith("Created library")


def library_file(path: Path, texts: list[str]) -> Path:
    document = {"format": "memtune.library", "version": 1, "library": {"name": "Imported"},
                "items": [{"text": text} for text in texts]}  # fmt: skip
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def test_the_tables_are_filled_for_the_chat_scope(client: Client, running: tuple[str, MemoryEngine]) -> None:
    # The page's load event runs this same listing with the scope the chat opens on.
    scope = default_scope(running[1], Visitor())
    libraries, items, line, audit, view = client.predict(*scope, *FILTERS, api_name="/list_items")
    assert [row[0] for row in libraries["data"]] == ["demo"]
    assert any(row[1] == "我喜欢喝乌龙茶，不加糖" for row in items["data"])
    assert line.endswith(f"{len(items['data'])} matching memories") and audit.startswith("**Write audit**")
    assert view == ""


def test_an_unknown_library_is_an_error_not_an_empty_page(client: Client) -> None:
    libraries, items, line, audit, view = client.predict(*where("nope"), *FILTERS, api_name="/list_items")
    assert view == "⚠️ No library 'nope' for character 'demo': check the id, or create it with Create library."
    assert items["data"] == [] and line == "" and audit == ""
    assert [row[0] for row in libraries["data"]] == ["demo"]  # the character's libraries, to pick from


def test_picking_a_row_fills_the_editor_and_arms_nothing(running: tuple[str, MemoryEngine]) -> None:
    engine = running[1]
    demo = build_ui(engine)
    assert engine.store is not None
    item = next(i for i in engine.store.iter_items(demo_scope()) if i.text.startswith("My dog"))
    (picking,) = [fn for fn in demo.fns.values() if any(t[1] == "select" and demo.blocks[t[0]].elem_id == "items"
                                                        for t in fn.targets if t[0] is not None)]  # fmt: skip
    assert [block.elem_id for block in picking.outputs][1:] == [
        "item-id", "item-text", "item-type", "item-category", "item-confidence", "history", "item-confirm",
        "item-status"]  # fmt: skip
    row = gr.SelectData(None, {"index": [0, 1], "value": item.text, "row_value": [item.id, item.text]})
    _, *shown, confirm, status = picking.fn(None, "default", "demo", "demo", row)
    assert shown[:5] == [item.id, item.text, item.type, item.category, item.confidence]
    assert list(shown[5]["event"]) == ["add"]  # its history
    assert confirm is False and status == ""


def test_delete_needs_confirmation_and_then_clears_the_form(client: Client, running: tuple[str, MemoryEngine]) -> None:
    a_library(client, "scratch")
    memory = add_memory(client, "scratch", "I keep my bike in the hallway")
    refused = client.predict(*where("scratch"), memory, False, *FILTERS, api_name="/delete_item")
    assert refused[0] == f"⚠️ Tick “Yes, delete this memory” first: {memory} was not deleted."
    assert refused[-1] is False and texts(running[1], "scratch") == ["I keep my bike in the hallway"]
    status, _, items, *form, history, confirm = client.predict(*where("scratch"), memory, True, *FILTERS,
                                                               api_name="/delete_item")  # fmt: skip
    assert status == f"Deleted `{memory}`." and items["data"] == [] and texts(running[1], "scratch") == []
    assert form[-5:] == BLANK_EDITOR and history["data"] == [] and confirm is False


def test_bulk_delete_confirms_too(client: Client, running: tuple[str, MemoryEngine]) -> None:
    a_library(client, "bulk")
    ids = [add_memory(client, "bulk", text) for text in ("tea at four", "coffee at nine")]
    refused = client.predict(*where("bulk"), " ".join(ids), False, *FILTERS, api_name="/delete_items")
    assert refused[0] == "⚠️ Tick the confirmation box first: none of the 2 memories was deleted."
    assert sorted(texts(running[1], "bulk")) == ["coffee at nine", "tea at four"]
    status, *_, ids_box, confirm = client.predict(*where("bulk"), ", ".join(ids), True, *FILTERS,
                                                  api_name="/delete_items")  # fmt: skip
    assert status == "Deleted 2 of 2 memories." and ids_box == "" and confirm is False
    assert texts(running[1], "bulk") == []


def test_new_memory_resets_the_editor_to_its_defaults(client: Client) -> None:
    *form, history, confirm, status = client.predict(api_name="/new_memory")
    assert form == BLANK_EDITOR and history["data"] == [] and confirm is False and status == ""


def test_the_library_delete_box_is_unticked_after_every_use(client: Client) -> None:
    a_library(client, "doomed")
    refused = client.predict(*where("doomed"), False, *FILTERS, api_name="/delete_library")
    assert refused[0].startswith("⚠️ Tick the confirmation box first") and refused[-1] is False
    status, libraries, *_, view, confirm = client.predict(*where("doomed"), True, *FILTERS,
                                                          api_name="/delete_library")  # fmt: skip
    assert status.startswith("Deleted library `doomed`") and confirm is False
    assert "doomed" not in [row[0] for row in libraries["data"]] and view.startswith("⚠️ No library 'doomed'")


def test_a_failed_import_replaces_the_success_before_it(client: Client, tmp_path: Path) -> None:
    a_library(client, "imports")
    good = library_file(tmp_path / "good.json", ["one", "two", "three"])
    status, *_ = client.predict(*where("imports"), handle_file(str(good)), "library file", "error", *FILTERS,
                                api_name="/import_file")  # fmt: skip
    assert status == "Imported 3 memories into `imports` (0 skipped)."
    bad = library_file(tmp_path / "bad.json", [" ", "fine"])
    status, *_ = client.predict(*where("imports"), handle_file(str(bad)), "library file", "error", *FILTERS,
                                api_name="/import_file")  # fmt: skip
    assert status == "⚠️ Row 1: the text is empty"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("rows.json", {"format": "memtune.library", "version": 1, "items": [{"text": "ok"}, {"text": 7}]},
         "⚠️ Row 2: the text must be a string, got int"),
        ("rows.json", {"format": "memtune.library", "version": 1, "items": [{"text": "ok", "colour": "red"}]},
         "⚠️ Row 1: unknown fields colour"),
        ("rows.csv", "text,type\nok,fact\n  ,fact\n", "⚠️ Row 3: the text is empty"),
        ("rows.csv", "text,confidence\nhi,sure\n",
         "⚠️ Row 2: the confidence 'sure' is not one of high, medium, low, unknown"),
    ],
)  # fmt: skip
def test_import_errors_name_the_row_in_plain_words(client: Client, tmp_path: Path, name: str, content: Any,
                                                   message: str) -> None:  # fmt: skip
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    status, *_ = client.predict(*where("demo"), handle_file(str(path)), "library file", "skip", *FILTERS,
                                api_name="/import_file")  # fmt: skip
    assert status == message


def test_an_import_without_a_file_says_so_at_the_button(client: Client) -> None:
    status, *_ = client.predict(*where("demo"), None, "library file", "skip", *FILTERS, api_name="/import_file")
    assert status == "⚠️ Choose a file to import first."
