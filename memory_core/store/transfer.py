"""Import and export of one library as a JSON document or a CSV table, losslessly.

The JSON document also carries the taught examples of the library's profile for its character (the ones
that profile taught; shared examples, owner '', stay behind). Examples belong to a profile and character, not
to one library, so every library of that pair exports the same ones; importing them again skips repeats. The
CSV table holds items only.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..models import (
    Library,
    MemoryItem,
    NewItem,
    NewTaughtExample,
    Scope,
    TaughtExample,
    utc_timestamp,
    validate_new_item,
)
from .protocol import Store
from .sqlite import DEFAULT_LIBRARY_NAME
from .teaching import checked_example

FORMAT = "memtune.library"
VERSION = 1
CSV_COLUMNS: tuple[str, ...] = (
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
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection); the quote is its escape.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_ESCAPE = "'"
_ESCAPED_STARTS = (*FORMULA_STARTS, _ESCAPE)
EXAMPLE_FIELDS: tuple[str, ...] = ("text", "should_recall", "model", "vector", "created_at")
# Far above any embedder we use (e5-small 384, OpenAI's largest 3072); a bigger vector is a broken file.
MAX_VECTOR_DIMENSION = 4096
_MAX_VECTOR_BASE64 = 4 * -(-MAX_VECTOR_DIMENSION * 4 // 3)  # base64 length of the largest vector


@dataclass(frozen=True)
class ImportReport:
    """What an import did: the library as it now stands, how many items were written and how many skipped,
    and the same for taught examples (a CSV has none; a repeat of one already taught is skipped)."""

    library: Library
    imported: int
    skipped: int
    examples_imported: int = 0
    examples_skipped: int = 0


# JSON


def export_library(store: Store, scope: Scope) -> dict[str, Any]:
    """The library, all its items (in list order) and its profile's taught examples as a JSON-ready document."""
    library, items = _contents(store, scope)
    return _document(library, items, _examples(store, library))


def import_library(
    store: Store,
    scope: Scope,
    data: Mapping[str, Any],
    *,
    on_conflict: str = "error",
    source: str = "import",
) -> ImportReport:
    """Load an exported document into ``scope`` (created if missing); nothing is written unless all of it is valid.

    Taught examples (optional: older files have none) go to ``scope``'s profile and character, whatever the file
    names. They are written in a transaction of their own right after the items' (which opens its own), so only
    a store failure in that second one (a full disk, a lock held past the busy timeout) could leave the items
    without them; importing the file again with ``on_conflict="skip"`` then adds just what is missing.
    """
    name, items = _parse_document(data)
    examples = _parse_examples(data.get("taught_examples"))
    return _import(store, scope, items, name, on_conflict, source, examples)


def _document(library: Library, items: Iterable[MemoryItem], examples: Iterable[TaughtExample]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": utc_timestamp(),
        "library": {
            "id": library.id,
            "name": library.name,
            "profile_id": library.profile_id,
            "character_id": library.character_id,
            "created_at": library.created_at,
            "updated_at": library.updated_at,
        },
        "items": [item.to_dict() for item in items],
        "taught_examples": [_example_dict(example) for example in examples],
    }


def _example_dict(example: TaughtExample) -> dict[str, Any]:
    # The vector is the stored float32 bytes (native order, little-endian on every platform we run), in base64.
    return {
        "text": example.text,
        "should_recall": example.should_recall,
        "model": example.model,
        "vector": base64.b64encode(example.vector).decode("ascii"),
        "created_at": example.created_at,
    }


def _parse_document(data: Mapping[str, Any]) -> tuple[str, list[NewItem]]:
    if not isinstance(data, Mapping):
        raise InvalidInputError("a library file must hold a JSON object")
    if data.get("format") != FORMAT:
        raise InvalidInputError(f"format must be {FORMAT!r}, got {data.get('format')!r}")
    version = data.get("version")
    if isinstance(version, bool) or version != VERSION:
        raise InvalidInputError(f"version {version!r} is not supported (expected {VERSION})")
    library = data.get("library") or {}
    if not isinstance(library, Mapping):
        raise InvalidInputError("library must be an object")
    name = library.get("name") or DEFAULT_LIBRARY_NAME
    if not isinstance(name, str):
        raise InvalidInputError("library name must be a string")
    rows = data.get("items")
    if not isinstance(rows, list):
        raise InvalidInputError("items must be a list")
    return name, [_new_item(row, f"Row {number}") for number, row in enumerate(rows, start=1)]


def _new_item(row: Any, what: str) -> NewItem:
    """One imported memory; ``what`` names its row, as in "Row 1: the text is empty"."""
    if not isinstance(row, Mapping):
        raise InvalidInputError(f"{what}: a memory must be an object of fields (text, type, category, …)")
    item = NewItem.from_dict(row, what=what)
    try:
        # "the" makes the checks' messages ("the text is empty") read after the row's name.
        return validate_new_item(item, what="the")
    except InvalidInputError as exc:
        raise InvalidInputError(f"{what}: {exc}") from exc


def _parse_examples(rows: Any) -> list[NewTaughtExample]:
    if rows is None:
        return []
    if not isinstance(rows, list):
        raise InvalidInputError("taught_examples must be a list")
    return [_new_example(row, f"Taught example {number}") for number, row in enumerate(rows, start=1)]


def _new_example(row: Any, what: str) -> NewTaughtExample:
    if not isinstance(row, Mapping):
        raise InvalidInputError(f"{what} must be an object")
    unknown = set(row) - set(EXAMPLE_FIELDS)
    if unknown:
        raise InvalidInputError(f"{what} has unknown fields: {', '.join(sorted(map(str, unknown)))}")
    fields: dict[str, Any] = {name: row.get(name) for name in EXAMPLE_FIELDS}
    example = NewTaughtExample(**{**fields, "vector": _vector(fields["vector"], what)})
    try:
        return checked_example(example)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{what}: {exc}") from exc


def _vector(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise InvalidInputError(f"{what}: vector must be a base64 string, got {type(value).__name__}")
    if len(value) > _MAX_VECTOR_BASE64:
        raise InvalidInputError(f"{what}: vector has more than {MAX_VECTOR_DIMENSION} dimensions")
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError as exc:  # binascii.Error, or a non-ASCII character
        raise InvalidInputError(f"{what}: vector is not base64") from exc
    if not raw or len(raw) % 4:
        raise InvalidInputError(f"{what}: vector is {len(raw)} bytes, not a positive multiple of 4 (float32)")
    if not np.isfinite(np.frombuffer(raw, dtype=np.float32)).all():
        raise InvalidInputError(f"{what}: vector holds a value that is not finite")
    return raw


# CSV


def export_csv(store: Store, scope: Scope) -> str:
    """The library's items as CSV text with a header row; metadata is a JSON string. Items only: taught
    examples travel in the JSON document.

    A cell that starts with ``= + - @``, a tab or a carriage return gets a leading ``'`` so a spreadsheet
    shows it as text instead of running it as a formula; so does a cell that already starts with ``'``,
    which keeps the round trip through `import_csv` lossless.
    """
    _, items = _contents(store, scope)
    return _csv_text(items)


def import_csv(
    store: Store,
    scope: Scope,
    text: str,
    *,
    library_name: str | None = None,
    on_conflict: str = "error",
    source: str = "import",
) -> ImportReport:
    """Load CSV rows (items only) into ``scope`` (created as ``library_name`` if missing); a bad row rejects the
    whole file.

    Undoes `export_csv`'s formula escape: one leading ``'`` is removed from a cell when the next character is
    one of ``= + - @ '``, a tab or a carriage return. Any other leading ``'`` is kept.
    """
    items = _parse_csv(text)
    return _import(store, scope, items, library_name or DEFAULT_LIBRARY_NAME, on_conflict, source)


def _csv_text(items: Iterable[MemoryItem]) -> str:
    buffer = io.StringIO(newline="")
    # The default CRLF terminator makes the writer quote any field holding \r or \n, which keeps them intact.
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(_csv_row(item) for item in items)
    return buffer.getvalue()


def _csv_row(item: MemoryItem) -> list[str]:
    row = item.to_dict()
    row["metadata"] = json.dumps(row["metadata"], ensure_ascii=False)
    return [escape_cell(row[column]) for column in CSV_COLUMNS]


def escape_cell(cell: str) -> str:
    """The cell as a spreadsheet must see it: formula-like cells (and ones starting with ``'``) get a ``'``."""
    return _ESCAPE + cell if cell.startswith(_ESCAPED_STARTS) else cell


def unescape_cell(cell: str) -> str:
    """Undo `escape_cell`: drop one leading ``'`` when the next character is one it escapes."""
    return cell[1:] if cell.startswith(_ESCAPE) and cell[1:].startswith(_ESCAPED_STARTS) else cell


def _parse_csv(text: str) -> list[NewItem]:
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    number = 0  # the last row read; an error belongs to the next one
    try:
        header = _csv_header(next(reader, []))
        items = []
        # Rows are numbered as a spreadsheet shows them: the header is row 1.
        for number, row in enumerate(reader, start=2):
            if any(cell.strip() for cell in row):
                items.append(_csv_item(header, row, f"Row {number}"))
    except csv.Error as exc:
        raise InvalidInputError(f"Row {number + 1} is not valid CSV: {exc}") from exc
    return items


def _csv_header(cells: Sequence[str]) -> list[str]:
    header = [cell.strip() for cell in cells]
    unknown = [name for name in header if name not in CSV_COLUMNS]
    if unknown:
        raise InvalidInputError(f"Row 1 (the header): unknown columns {', '.join(map(repr, unknown))}")
    if len(set(header)) != len(header):
        raise InvalidInputError("Row 1 (the header): a column is named twice")
    if "text" not in header:
        raise InvalidInputError("Row 1 (the header): there is no 'text' column")
    return header


def _csv_item(header: list[str], row: list[str], what: str) -> NewItem:
    if len(row) != len(header):
        raise InvalidInputError(f"{what}: {len(row)} cells, but the header has {len(header)} columns")
    cells = (unescape_cell(cell) for cell in row)
    values: dict[str, Any] = {name: cell for name, cell in zip(header, cells, strict=True) if cell != ""}
    if "metadata" in values:
        values["metadata"] = _metadata(values["metadata"], what)
    return _new_item(values, what)


def _metadata(cell: str, what: str) -> Any:
    try:
        return json.loads(cell)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{what}: the metadata is not valid JSON ({exc})") from exc


# Files


def read_library_file(store: Store, scope: Scope, path: str | Path, *, on_conflict: str = "error") -> ImportReport:
    """Import a .json or .csv file (UTF-8, BOM allowed); a CSV creates its library named after the file."""
    path = Path(path)
    kind = _kind(path)
    text = _read_text(path)
    if kind == ".json":
        return import_library(store, scope, _parse_json(text), on_conflict=on_conflict)
    return import_csv(store, scope, text, library_name=path.stem, on_conflict=on_conflict)


def write_library_file(store: Store, scope: Scope, path: str | Path) -> int:
    """Export the library to a .json or .csv file; returns how many items were written.

    A .json file carries the profile's taught examples too (see `export_library`); a .csv file holds items only.
    """
    path = Path(path)
    kind = _kind(path)
    library, items = _contents(store, scope)
    if kind == ".json":
        document = _document(library, items, _examples(store, library))
        data = (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    else:
        # The BOM lets spreadsheet programs recognise UTF-8, so Chinese text opens correctly.
        data = _csv_text(items).encode("utf-8-sig")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as exc:
        raise InvalidInputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return len(items)


def _kind(path: Path) -> str:
    kind = path.suffix.lower()
    if kind not in (".json", ".csv"):
        raise InvalidInputError(f"{path.name!r} is neither a .json nor a .csv file")
    return kind


def _read_text(path: Path) -> str:
    try:
        # Bytes, not read_text(): newline translation would alter line breaks inside quoted CSV fields.
        return path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{path.name} is not UTF-8 text: {exc}") from exc


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"invalid JSON: {exc}") from exc


# Shared


def _contents(store: Store, scope: Scope) -> tuple[Library, tuple[MemoryItem, ...]]:
    library = store.get_library(scope)
    _, items = store.snapshot(scope)
    return library, items


def _examples(store: Store, library: Library) -> tuple[TaughtExample, ...]:
    return store.taught_examples(library.character_id, owner=library.profile_id)


def _import(
    store: Store,
    scope: Scope,
    items: list[NewItem],
    name: str,
    on_conflict: str,
    source: str,
    examples: Sequence[NewTaughtExample] = (),
) -> ImportReport:
    # Items first: their conflicts and quotas are what can fail on a valid file, and then nothing is written.
    stored = store.add_items(scope, items, source=source, on_conflict=on_conflict, create_library_name=name)
    taught = store.add_taught_examples(scope.character_id, examples, owner=scope.profile_id) if examples else ()
    return ImportReport(
        library=store.get_library(scope),
        imported=len(stored),
        skipped=len(items) - len(stored),
        examples_imported=len(taught),
        examples_skipped=len(examples) - len(taught),
    )
