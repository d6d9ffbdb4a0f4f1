"""Library import/export: JSON and CSV round trips, validation, files, copying between scopes."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from postgres_server import open_store, postgres

from memory_core.errors import ConflictError, InvalidInputError, NotFoundError
from memory_core.models import NewItem, Scope
from memory_core.store.sqlite import SQLiteStore, SQLStore
from memory_core.store.transfer import (
    CSV_COLUMNS,
    escape_cell,
    export_csv,
    export_library,
    import_csv,
    import_library,
    read_library_file,
    unescape_cell,
    write_library_file,
)

__all__ = ["open_store", "postgres"]  # the fixtures, imported for this module

SOURCE = Scope("alice", "luna", "main")
TARGET = Scope("bob", "sol", "copy")

TRICKY = [
    NewItem(text="喜欢喝绿茶，不加糖", type="preference", category="user_preference", confidence="high"),
    NewItem(text='She said "hi, there", then left', type="fact", source="wechat", metadata={"quote": 'a "b", c'}),
    NewItem(text="line one\nline two\r\nline three", type="note", metadata={"nested": {"list": [1, 2.5, None]}}),
    NewItem(text="commas, commas, commas", category="custom_thing", confidence="low", id="fixed-id"),
    NewItem(text="old memory", created_at="2019-03-04T05:06:07Z", updated_at="2020-01-01T00:00:00Z"),
    NewItem(text="emoji 🍵 and tabs\there", metadata={"中文键": "值"}),
]


@pytest.fixture
def store(open_store: Callable[..., SQLStore]) -> Iterator[SQLStore]:
    with open_store() as opened:
        opened.add_items(SOURCE, TRICKY, source="seed", create_library_name="Luna's memories")
        yield opened


def item_dicts(store: SQLStore, scope: Scope) -> list[dict[str, Any]]:
    return [item.to_dict() for item in store.iter_items(scope)]


# JSON


def test_export_document_shape(store: SQLStore) -> None:
    document = export_library(store, SOURCE)
    assert (document["format"], document["version"]) == ("memtune.library", 1)
    assert document["exported_at"].endswith("Z")
    library = document["library"]
    assert (library["id"], library["name"], library["profile_id"], library["character_id"]) == (
        "main",
        "Luna's memories",
        "alice",
        "luna",
    )
    stored = store.get_library(SOURCE)
    assert (library["created_at"], library["updated_at"]) == (stored.created_at, stored.updated_at)
    assert document["items"] == item_dicts(store, SOURCE)
    assert json.loads(json.dumps(document)) == document


def test_json_round_trip_into_another_scope_is_lossless(store: SQLStore) -> None:
    document = json.loads(json.dumps(export_library(store, SOURCE), ensure_ascii=False))
    report = import_library(store, TARGET, document)
    assert (report.imported, report.skipped) == (len(TRICKY), 0)
    assert (report.library.id, report.library.name, report.library.profile_id) == ("copy", "Luna's memories", "bob")
    assert report.library.memory_count == len(TRICKY)
    assert export_library(store, TARGET)["items"] == document["items"]
    copied = store.get_item(TARGET, "fixed-id")
    assert (copied.profile_id, copied.character_id, copied.library_id) == ("bob", "sol", "copy")
    assert store.get_item(SOURCE, "fixed-id").library_id == "main"


def test_import_into_an_existing_library_keeps_its_name(store: SQLStore) -> None:
    store.create_library(TARGET, "Mine")
    report = import_library(store, TARGET, export_library(store, SOURCE))
    assert report.library.name == "Mine"


def test_import_conflict_modes(store: SQLStore) -> None:
    document = export_library(store, SOURCE)
    with pytest.raises(ConflictError):
        import_library(store, SOURCE, document)
    skipped = import_library(store, SOURCE, document, on_conflict="skip")
    assert (skipped.imported, skipped.skipped) == (0, len(TRICKY))
    document["items"][0]["text"] = "changed"
    replaced = import_library(store, SOURCE, document, on_conflict="replace", source="restore")
    assert (replaced.imported, replaced.skipped) == (len(TRICKY), 0)
    assert store.get_item(SOURCE, document["items"][0]["id"]).text == "changed"
    assert store.history(SOURCE, document["items"][0]["id"])[-1].source == "restore"


def test_imported_items_without_source_get_the_import_source(store: SQLStore) -> None:
    document = {"format": "memtune.library", "version": 1, "items": [{"text": "bare"}]}
    report = import_library(store, TARGET, document)
    (item,) = store.iter_items(TARGET)
    assert (item.source, item.type, report.library.name) == ("import", "note", "Default memory")


def _document(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "format": "memtune.library",
        "version": 1,
        "library": {"name": "Copied"},
        "items": [{"text": "fine"}, {"text": "also fine", "type": "fact"}],
    }
    document.update(changes)
    return document


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "a library file must hold a JSON object"),
        (_document(format="other"), "format must be 'memtune.library', got 'other'"),
        (_document(version=2), "version 2 is not supported (expected 1)"),
        (_document(version=True), "version True"),
        (_document(library="Copied"), "library must be an object"),
        (_document(library={"name": 7}), "library name must be a string"),
        (_document(items={"text": "x"}), "items must be a list"),
        (_document(items=[{"text": "ok"}, "text"]), "Row 2: a memory must be an object of fields"),
        (_document(items=[{"text": "ok"}, {"text": " "}]), "Row 2: the text is empty"),
        (_document(items=[{"text": "ok"}, {"text": "x", "colour": "red"}]), "Row 2: unknown fields colour"),
        (_document(items=[{"text": "ok"}, {"text": "x", "type": "opinion"}]), "Row 2: the type 'opinion' is not"),
        (_document(items=[{"text": "ok"}, {"text": "x", "metadata": [1]}]), "Row 2: the metadata must be an object"),
        (_document(items=[{"text": "ok"}, {"text": "x", "id": "a b"}]), "Row 2: the id 'a b' contains whitespace"),
        (_document(items=[{"text": "x", "id": "d"}, {"text": "y", "id": "d"}]), "item 1 id 'd' appears more than once"),
        (
            _document(items=[{"text": "ok"}, {"text": "x", "created_at": "soon"}]),
            "Row 2: the created_at 'soon' is not an ISO-8601 timestamp",
        ),
    ],
)
def test_invalid_documents_write_nothing(store: SQLStore, document: Any, message: str) -> None:
    with pytest.raises(InvalidInputError, match="^" + re.escape(message)):
        import_library(store, TARGET, document)
    with pytest.raises(NotFoundError):
        store.get_library(TARGET)


def test_export_of_missing_library(store: SQLStore) -> None:
    with pytest.raises(NotFoundError):
        export_library(store, TARGET)
    with pytest.raises(NotFoundError):
        export_csv(store, TARGET)


# CSV


def test_csv_export_has_the_documented_header(store: SQLStore) -> None:
    text = export_csv(store, SOURCE)
    assert text.splitlines()[0] == ",".join(CSV_COLUMNS)
    assert CSV_COLUMNS == (
        "id",
        "text",
        "type",
        "category",
        "confidence",
        "source",
        "metadata",
        "created_at",
        "updated_at",
    )


def test_csv_round_trip_is_lossless(store: SQLStore) -> None:
    text = export_csv(store, SOURCE)
    report = import_csv(store, TARGET, text, library_name="From CSV")
    assert (report.imported, report.library.name) == (len(TRICKY), "From CSV")
    assert export_csv(store, TARGET) == text
    assert item_dicts(store, TARGET) == item_dicts(store, SOURCE)


def test_csv_with_only_a_text_column(store: SQLStore) -> None:
    text = '\ufefftext\n喜欢猫\n"a, b and ""c"""\n\n"multi\nline"\n'
    report = import_csv(store, TARGET, text)
    assert (report.imported, report.library.name) == (3, "Default memory")
    assert sorted(item.text for item in store.iter_items(TARGET)) == ['a, b and "c"', "multi\nline", "喜欢猫"]
    assert {item.source for item in store.iter_items(TARGET)} == {"import"}


def test_csv_columns_may_come_in_any_order(store: SQLStore) -> None:
    report = import_csv(store, TARGET, ' type , text ,metadata\nfact,sky is blue,"{""k"": 1}"\n,,\n')
    assert report.imported == 1
    (item,) = store.iter_items(TARGET)
    assert (item.type, item.text, dict(item.metadata)) == ("fact", "sky is blue", {"k": 1})


# CSV: spreadsheet formulas are neutralised, and the escape is undone on import

FORMULAS = [
    NewItem(text='=HYPERLINK("http://x","y")', id="link"),
    NewItem(text="+1+1", category="=cmd|' /C calc'!A0", id="plus"),
    NewItem(text="-2 degrees tonight", source="@SUM(A1)", id="minus"),
    NewItem(text="@mention the team", id="at"),
    NewItem(text="'quoted already", id="quote"),
    NewItem(text="''=twice quoted", id="quote2"),
    NewItem(text="a plain note", category="\tindented", id="tab", metadata={"formula": "=1+1"}),
    NewItem(text="ends = fine", source="\rcarriage", id="cr"),
    NewItem(text="x", id="=id-with-equals"),
    NewItem(text="x", id="-dash-id"),
    NewItem(text="x", id="'quote-id"),
]


@pytest.fixture
def formulas(store: SQLStore) -> SQLStore:
    store.add_items(TARGET, FORMULAS, create_library_name="Formulas")
    return store


def csv_cells(text: str) -> dict[str, dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    return {unescape_cell(row["id"]): row for row in rows}


def test_csv_export_neutralises_formulas(formulas: SQLStore) -> None:
    cells = csv_cells(export_csv(formulas, TARGET))
    assert cells["link"]["text"] == '\'=HYPERLINK("http://x","y")'
    assert (cells["plus"]["text"], cells["plus"]["category"]) == ("'+1+1", "'=cmd|' /C calc'!A0")
    assert (cells["minus"]["text"], cells["minus"]["source"]) == ("'-2 degrees tonight", "'@SUM(A1)")
    assert cells["at"]["text"] == "'@mention the team"
    assert (cells["quote"]["text"], cells["quote2"]["text"]) == ("''quoted already", "'''=twice quoted")
    assert (cells["tab"]["category"], cells["cr"]["source"]) == ("'\tindented", "'\rcarriage")
    assert cells["cr"]["text"] == "ends = fine" and cells["tab"]["text"] == "a plain note"
    assert {cells[key]["id"] for key in ("=id-with-equals", "-dash-id", "'quote-id")} == {
        "'=id-with-equals",
        "'-dash-id",
        "''quote-id",
    }
    # Metadata is a JSON object, so it always starts with "{" and is never escaped.
    assert json.loads(cells["tab"]["metadata"]) == {"formula": "=1+1"}


def test_csv_round_trip_of_formulas_is_lossless(formulas: SQLStore) -> None:
    copy = Scope("carol", "sol", "copy")
    import_csv(formulas, copy, export_csv(formulas, TARGET))
    assert item_dicts(formulas, copy) == item_dicts(formulas, TARGET)


@pytest.mark.parametrize(
    ("cell", "imported"),
    [
        ("'=1+1", "=1+1"),
        ("''", "'"),
        ("'''", "''"),
        ("'", "'"),
        ("'hello", "'hello"),
        ("it's", "it's"),
        ("'\t", "\t"),
        ("=1+1", "=1+1"),
    ],
)
def test_csv_import_strips_one_escape_quote(cell: str, imported: str) -> None:
    assert unescape_cell(cell) == imported


@given(st.text())
@settings(max_examples=300, deadline=None)
def test_csv_cell_escape_round_trips(cell: str) -> None:
    escaped = escape_cell(cell)
    assert unescape_cell(escaped) == cell
    assert not escaped.startswith(("=", "+", "-", "@", "\t", "\r"))


@given(st.lists(st.text(st.characters(codec="utf-8"), min_size=1), min_size=1, max_size=5))
@settings(max_examples=25, deadline=None)
def test_csv_round_trip_of_any_category_is_lossless(tmp_path_factory: pytest.TempPathFactory, texts: list[str]) -> None:
    path = tmp_path_factory.mktemp("csv") / "memory.sqlite3"
    items = [NewItem(text=f"item {n}", category=text[:128], source=text[:256]) for n, text in enumerate(texts)]
    with SQLiteStore(path) as fresh:
        fresh.add_items(SOURCE, items, create_library_name="Any")
        import_csv(fresh, TARGET, export_csv(fresh, SOURCE))
        assert item_dicts(fresh, TARGET) == item_dicts(fresh, SOURCE)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Row 1 (the header): there is no 'text' column"),
        ("id,type\nx,fact\n", "Row 1 (the header): there is no 'text' column"),
        ("text,colour,size\nhi,red,2\n", "Row 1 (the header): unknown columns 'colour', 'size'"),
        ("text,text\nhi,ho\n", "Row 1 (the header): a column is named twice"),
        ("text,type\nok,note\nhi\n", "Row 3: 1 cells, but the header has 2 columns"),
        ("text,metadata\nok,{}\nhi,{broken\n", "Row 3: the metadata is not valid JSON"),
        ("text,metadata\nhi,[1]\n", "Row 2: the metadata must be an object"),
        ("text,type\nok,note\n   ,fact\n", "Row 3: the text is empty"),
        ("text,confidence\nhi,sure\n", "Row 2: the confidence 'sure' is not one of"),
        ('text\nok\n"never closed\n', "Row 3 is not valid CSV"),
        ('text\nbad"quote\n"x"y\n', "Row 3 is not valid CSV"),
        ('"te"xt\nhi\n', "Row 1 is not valid CSV"),
    ],
)
def test_invalid_csv_writes_nothing(store: SQLStore, text: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match="^" + re.escape(message)):
        import_csv(store, TARGET, text)
    with pytest.raises(NotFoundError):
        store.get_library(TARGET)


# Files


@pytest.mark.parametrize("suffix", [".json", ".csv", ".JSON"])
def test_file_round_trip(store: SQLStore, tmp_path: Path, suffix: str) -> None:
    path = tmp_path / "exports" / f"luna{suffix}"
    assert write_library_file(store, SOURCE, path) == len(TRICKY)
    report = read_library_file(store, TARGET, path)
    assert report.imported == len(TRICKY)
    assert item_dicts(store, TARGET) == item_dicts(store, SOURCE)


def test_csv_file_is_utf8_with_bom_and_names_the_library_after_the_file(store: SQLStore, tmp_path: Path) -> None:
    path = tmp_path / "猫的记忆.csv"
    write_library_file(store, SOURCE, path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert "喜欢喝绿茶".encode() in raw
    assert read_library_file(store, TARGET, path).library.name == "猫的记忆"


def test_json_file_with_bom_is_accepted(store: SQLStore, tmp_path: Path) -> None:
    path = tmp_path / "in.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(_document(), ensure_ascii=False).encode())
    report = read_library_file(store, TARGET, path)
    assert (report.imported, report.library.name) == (2, "Copied")


def test_file_errors(store: SQLStore, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": ', encoding="utf-8")
    with pytest.raises(InvalidInputError, match="invalid JSON: Expecting value"):
        read_library_file(store, TARGET, broken)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("text\ncafé\n".encode("latin-1"))
    with pytest.raises(InvalidInputError, match="not UTF-8"):
        read_library_file(store, TARGET, latin)
    with pytest.raises(InvalidInputError, match="cannot read"):
        read_library_file(store, TARGET, tmp_path / "missing.json")
    with pytest.raises(InvalidInputError, match=r"neither a \.json nor a \.csv"):
        read_library_file(store, TARGET, tmp_path / "memories.txt")
    with pytest.raises(InvalidInputError, match=r"neither a \.json nor a \.csv"):
        write_library_file(store, SOURCE, tmp_path / "memories.xlsx")
    with pytest.raises(NotFoundError):
        store.get_library(TARGET)


def test_empty_csv_cells_take_the_defaults(store: SQLStore) -> None:
    import_csv(store, TARGET, "text,type,confidence,metadata\nhi,,,\n")
    (item,) = store.iter_items(TARGET)
    default = NewItem(text="hi")
    assert (item.text, item.type, item.confidence, dict(item.metadata)) == ("hi", default.type, default.confidence, {})


def test_csv_metadata_keeps_non_ascii_text_readable(store: SQLStore) -> None:
    assert '{""中文键"": ""值""}' in export_csv(store, SOURCE)


def test_a_json_file_is_indented_and_keeps_chinese_readable(store: SQLStore, tmp_path: Path) -> None:
    path = tmp_path / "luna.json"
    write_library_file(store, SOURCE, path)
    text = path.read_bytes().decode("utf-8")
    assert text.startswith('{\n  "format": "memtune.library"') and text.endswith("}\n")
    assert "喜欢喝绿茶" in text


def test_a_file_is_written_into_folders_it_creates(store: SQLStore, tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "c" / "luna.csv"
    assert write_library_file(store, SOURCE, path) == len(TRICKY) and path.exists()


def test_a_file_that_cannot_be_written_says_why(store: SQLStore, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder", encoding="utf-8")
    with pytest.raises(InvalidInputError, match=f"^cannot write {re.escape(str(blocker))}/out.json: .*[a-z]"):
        write_library_file(store, SOURCE, blocker / "out.json")
    with pytest.raises(InvalidInputError, match=r"^cannot read .*missing\.json: No such file or directory$"):
        read_library_file(store, TARGET, tmp_path / "missing.json")


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_a_file_import_passes_its_conflict_mode_on(store: SQLStore, tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"luna{suffix}"
    write_library_file(store, SOURCE, path)
    read_library_file(store, TARGET, path)
    with pytest.raises(ConflictError):
        read_library_file(store, TARGET, path)
    report = read_library_file(store, TARGET, path, on_conflict="skip")
    assert (report.imported, report.skipped) == (0, len(TRICKY))
