"""Hostile input at the edge: each is refused with a 4xx before anything is written, and the library stays readable.

The findings: deep or huge metadata, lone surrogates in any text, offsets past SQLite's integers, NaN in a
422's echo, unbounded recall text, an OpenAPI schema that did not declare its bounds, and a REST API left open
on a public sandbox. Plus the memory_core checks that enforce them without the REST layer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fakes import nested
from fastapi import FastAPI
from fastapi.testclient import TestClient

from console.rest import CLOSED, build_router
from console.rest_bodies import MAX_IMPORT_TURNS, MAX_OFFSET
from console.rest_errors import install_error_handlers
from memory_core import BM25Retriever, InvalidInputError, MemoryEngine, NewItem, SQLiteStore, load_settings
from memory_core.models import (
    BLANK_OR_ID_PATTERN,
    ID_PATTERN,
    MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH,
    MAX_TEXT_LENGTH,
    NOT_BLANK_PATTERN,
    check_id,
    check_metadata,
    check_text,
    validate_new_item,
)

SCOPE = {"profile_id": "default", "character_id": "demo-avatar"}
ITEMS = "/memory/libraries/default/items"
LONE = "\\ud800"  # a lone surrogate as a JSON escape: valid JSON, invalid Unicode
ClientFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[ClientFactory]:
    """An app over a fresh store holding one library with one item; closed afterwards."""
    made: list[tuple[TestClient, SQLiteStore]] = []

    def build(env: dict[str, str] | None = None) -> TestClient:
        store = SQLiteStore(tmp_path / f"edge-{len(made)}.sqlite3")
        engine = MemoryEngine(store, BM25Retriever(store), settings=load_settings(env or {}))
        app = FastAPI()
        app.include_router(build_router(engine))
        install_error_handlers(app)
        client = TestClient(app, raise_server_exceptions=False)
        made.append((client, store))
        return client

    yield build
    for client, store in made:
        client.close()
        store.close()


@pytest.fixture
def client(make_client: ClientFactory) -> TestClient:
    client = make_client()
    assert client.post("/memory/libraries", json={"id": "default", **SCOPE}).status_code == 200
    response = client.post(ITEMS, params=SCOPE, json={"text": "I prefer tea.", "id": "tea"})
    assert response.status_code == 201
    return client


def raw(client: TestClient, method: str, url: str, body: str, params: dict[str, Any] | None = None) -> Any:
    """Send a JSON body as written, so it can hold what json.dumps would never produce."""
    headers = {"content-type": "application/json"}
    return client.request(method, url, params=SCOPE if params is None else params, content=body, headers=headers)


def assert_refused(response: Any, *statuses: int) -> dict[str, Any]:
    """A 4xx (one of statuses) whose body is JSON with a detail."""
    assert response.status_code in (statuses or (400, 422)), response.text
    body: dict[str, Any] = json.loads(response.content)
    assert body["detail"]
    return body


def assert_readable(client: TestClient, total: int = 1) -> None:
    """The library still lists, with exactly the items it had: nothing half-written."""
    response = client.get(ITEMS, params=SCOPE)
    assert response.status_code == 200, response.text
    assert response.json()["total"] == total
    assert client.get("/memory/libraries", params=SCOPE).status_code == 200


# 1. Metadata depth and size


@pytest.mark.parametrize("depth", [MAX_METADATA_DEPTH + 1, 300, 900])
def test_deep_metadata_is_400_and_nothing_is_written(client: TestClient, depth: int) -> None:
    body = assert_refused(client.post(ITEMS, params=SCOPE, json={"text": "deep", "metadata": nested(depth)}), 400)
    assert f"nested deeper than {MAX_METADATA_DEPTH} levels" in body["detail"]
    edit = client.patch(f"{ITEMS}/tea", params=SCOPE, json={"metadata": nested(depth)})
    assert_refused(edit, 400)
    assert client.get(f"{ITEMS}/tea", params=SCOPE).json()["text"] == "I prefer tea."
    assert_readable(client)


def test_metadata_at_the_depth_limit_is_stored(client: TestClient) -> None:
    response = client.post(ITEMS, params=SCOPE, json={"text": "deep enough", "metadata": nested(MAX_METADATA_DEPTH)})
    assert response.status_code == 201, response.text
    assert_readable(client, total=2)


def test_metadata_too_deep_to_parse_is_400(client: TestClient) -> None:
    body = '{"text": "x", "metadata": ' + '{"a": ' * 100_000 + "1" + "}" * 100_001
    assert_refused(raw(client, "POST", ITEMS, body), 400)
    assert_readable(client)


def test_huge_metadata_is_400(client: TestClient) -> None:
    response = client.post(ITEMS, params=SCOPE, json={"text": "big", "metadata": {"blob": "x" * MAX_METADATA_BYTES}})
    assert f"larger than {MAX_METADATA_BYTES} bytes" in assert_refused(response, 400)["detail"]
    assert_readable(client)


# 2. Lone surrogates in any text field


SURROGATE_BODIES = [
    ("POST", ITEMS, f'{{"text": "tea {LONE}"}}'),
    ("POST", ITEMS, f'{{"text": "tea", "category": "{LONE}"}}'),
    ("POST", ITEMS, f'{{"text": "tea", "type": "{LONE}"}}'),
    ("POST", ITEMS, f'{{"text": "tea", "id": "x{LONE}"}}'),
    ("POST", ITEMS, f'{{"text": "tea", "metadata": {{"k": "{LONE}"}}}}'),
    ("POST", ITEMS, f'{{"text": "tea", "metadata": {{"{LONE}": 1}}}}'),
    ("POST", ITEMS, f'{{"text": "tea", "metadata": {{"k": [[{{"deep": "{LONE}"}}]]}}}}'),
    ("PATCH", f"{ITEMS}/tea", f'{{"text": "{LONE}"}}'),
    ("PATCH", f"{ITEMS}/tea", f'{{"metadata": {{"k": "{LONE}"}}}}'),
    ("POST", f"{ITEMS}/bulk-delete", f'{{"ids": ["{LONE}"]}}'),
    ("POST", "/memory/libraries", f'{{"id": "new", "name": "{LONE}", "character_id": "demo-avatar"}}'),
    ("POST", "/memory/libraries", f'{{"id": "{LONE}", "character_id": "demo-avatar"}}'),
    ("POST", "/memory/libraries", f'{{"id": "new", "character_id": "{LONE}"}}'),
    ("POST", "/memory/libraries", f'{{"id": "new", "profile_id": "{LONE}", "character_id": "demo-avatar"}}'),
    ("PATCH", "/memory/libraries/default", f'{{"name": "{LONE}"}}'),
    (
        "POST",
        "/memory/libraries/default/import",
        f'{{"character_id": "demo-avatar", "turns": [{{"role": "user", "content": "I prefer {LONE} green tea"}}]}}',
    ),
    ("POST", "/memory/libraries/default/import", f'{{"character_id": "demo-avatar", "turns": [], "source": "{LONE}"}}'),
    ("POST", "/memory/decide", f'{{"text": "Do you remember {LONE}?"}}'),
    ("POST", "/memory/decide", f'{{"text": "hi", "{LONE}": 1}}'),
    ("POST", "/memory/recall", f'{{"text": "Do you remember {LONE}?", "character_id": "demo-avatar"}}'),
    ("POST", "/memory/recall", f'{{"text": "tea", "character_id": "demo-avatar", "library_id": "{LONE}"}}'),
]


@pytest.mark.parametrize(("method", "url", "body"), SURROGATE_BODIES)
def test_lone_surrogate_is_refused_anywhere(client: TestClient, method: str, url: str, body: str) -> None:
    detail = assert_refused(raw(client, method, url, body), 400, 422)["detail"]
    assert "\ud800" not in json.dumps(detail, ensure_ascii=False)
    assert_readable(client)
    assert client.get(f"{ITEMS}/tea", params=SCOPE).json()["text"] == "I prefer tea."


def test_invalid_utf8_in_a_query_string_is_not_a_500(client: TestClient) -> None:
    # Starlette decodes a query string with replacement characters, so no surrogate gets that far.
    response = client.get(f"{ITEMS}?character_id=demo-avatar&q=%ED%A0%80&category=%ED%A0%80")
    assert response.status_code == 200 and response.json()["total"] == 0
    assert_readable(client)


# 3. Offsets past what SQLite can hold


@pytest.mark.parametrize("offset", [2**63, 2**64, MAX_OFFSET + 1])
def test_huge_offset_is_422(client: TestClient, offset: int) -> None:
    for limit in ({"limit": 5}, {}):
        response = client.get(ITEMS, params={**SCOPE, "offset": offset, **limit})
        assert_refused(response, 422)
    assert_readable(client)


def test_offset_at_the_bound_is_an_empty_page(client: TestClient) -> None:
    response = client.get(ITEMS, params={**SCOPE, "offset": MAX_OFFSET, "limit": 5})
    assert response.status_code == 200 and response.json() == {"items": [], "total": 1}


# 4. Validation errors whose input JSON cannot carry


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_min_score_is_a_serialisable_422(client: TestClient, number: str) -> None:
    body = f'{{"text": "Do you remember?", "character_id": "demo-avatar", "min_score": {number}}}'
    (error,) = assert_refused(raw(client, "POST", "/memory/recall", body, params={}), 422)["detail"]
    assert error["loc"] == ["body", "min_score"] and error["type"] == "finite_number"
    assert set(error) <= {"loc", "msg", "type", "input", "ctx"} and "input" not in error
    assert_readable(client)


def test_validation_errors_keep_fastapis_shape(client: TestClient) -> None:
    response = client.get(ITEMS, params={**SCOPE, "limit": "many"})
    (error,) = assert_refused(response, 422)["detail"]
    assert error["loc"] == ["query", "limit"] and error["input"] == "many" and error["type"] == "int_parsing"
    (nan,) = assert_refused(raw(client, "POST", "/memory/decide", "[NaN]", params={}), 422)["detail"]
    assert nan["loc"] == ["body"] and "input" not in nan


def test_memory_core_errors_never_echo_a_surrogate() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    def boom() -> None:
        raise InvalidInputError("bad name \ud800")

    with TestClient(app) as client:
        response = client.get("/boom")
    assert response.status_code == 400 and response.json() == {"detail": "bad name \\ud800"}


# 5. Text caps


@pytest.mark.parametrize("path", ["/memory/decide", "/memory/recall"])
def test_decide_and_recall_text_is_capped(make_client: ClientFactory, path: str) -> None:
    client = make_client({"MEMTUNE_MAX_TEXT_CHARS": "100"})
    client.post("/memory/libraries", json={"id": "default", **SCOPE})
    scope = SCOPE if path == "/memory/recall" else {}
    too_long = client.post(path, json={"text": "Do you remember? " + "x" * 100, **scope})
    assert assert_refused(too_long, 400)["detail"] == "text is longer than 100 characters (MEMTUNE_MAX_TEXT_CHARS)"
    assert client.post(path, json={"text": "x" * 100, **scope}).status_code == 200
    assert_readable(client, total=0)


def test_default_text_cap_refuses_ten_megabytes_at_once(client: TestClient) -> None:
    response = client.post("/memory/decide", json={"text": "x" * 10_000_000})
    assert "longer than 20000 characters" in assert_refused(response, 400)["detail"]


def test_item_text_and_import_turns_are_capped(client: TestClient) -> None:
    assert_refused(client.post(ITEMS, params=SCOPE, json={"text": "x" * (MAX_TEXT_LENGTH + 1)}), 422)
    url = "/memory/libraries/default/import"
    long_turn = [{"role": "user", "content": "x" * (MAX_TEXT_LENGTH + 1)}]
    assert_refused(client.post(url, json={**SCOPE, "turns": long_turn}), 422)
    many = [{"role": "user", "content": f"I prefer tea number {n}."} for n in range(MAX_IMPORT_TURNS + 1)]
    assert_refused(client.post(url, json={**SCOPE, "turns": many}), 422)
    assert_readable(client)


# 6. What the OpenAPI schema declares


def parameters(schema: dict[str, Any], name: str) -> list[dict[str, Any]]:
    found = []
    for operations in schema["paths"].values():
        for operation in operations.values():
            found += [param["schema"] for param in operation.get("parameters", []) if param["name"] == name]
    return found


def test_openapi_declares_the_bounds(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for name in ("character_id", "library_id", "item_id"):
        declared = parameters(schema, name)
        assert declared and all(s["minLength"] == 1 and s["maxLength"] == 128 for s in declared), name
        assert all(s["pattern"].endswith(ID_PATTERN.removeprefix("^")) for s in declared), name
    assert all(s["pattern"] == BLANK_OR_ID_PATTERN for s in parameters(schema, "profile_id"))
    (offset,) = parameters(schema, "offset")
    assert (offset["minimum"], offset["maximum"]) == (0, MAX_OFFSET)
    (limit,) = parameters(schema, "limit")
    assert limit["anyOf"][0]["minimum"] == 1 and limit["anyOf"][0]["maximum"] == 10_000
    bodies = schema["components"]["schemas"]
    for body in ("LibraryCreate", "TurnImport", "RecallRequest"):
        character = bodies[body]["properties"]["character_id"]
        assert character["minLength"] == 1 and character["pattern"] == ID_PATTERN, body
    assert bodies["ItemCreate"]["properties"]["text"]["maxLength"] == MAX_TEXT_LENGTH
    assert bodies["ItemCreate"]["properties"]["text"]["pattern"] == NOT_BLANK_PATTERN
    assert bodies["TurnImport"]["properties"]["turns"]["maxItems"] == MAX_IMPORT_TURNS


def test_blank_character_id_in_a_body_stays_400(client: TestClient) -> None:
    response = client.post("/memory/recall", json={"text": "hi", "character_id": "   "})
    assert assert_refused(response, 400)["detail"] == "character_id is required"
    assert_refused(client.post("/memory/recall", json={"text": "hi", "character_id": ""}), 422)


# 9. A public sandbox keeps its REST API closed


ROUTES = [
    ("GET", "/memory/libraries", None),
    ("POST", "/memory/libraries", {"id": "x", **SCOPE}),
    ("PATCH", "/memory/libraries/default", {"name": "New"}),
    ("DELETE", "/memory/libraries/default", None),
    ("GET", ITEMS, None),
    ("POST", ITEMS, {"text": "A note."}),
    ("POST", f"{ITEMS}/bulk-delete", {"ids": ["tea"]}),
    ("GET", f"{ITEMS}/tea", None),
    ("PATCH", f"{ITEMS}/tea", {"text": "Edited."}),
    ("DELETE", f"{ITEMS}/tea", None),
    ("GET", f"{ITEMS}/tea/history", None),
    ("POST", "/memory/libraries/default/import", {**SCOPE, "turns": []}),
    ("GET", "/memory/libraries/default/export", None),
    ("POST", "/memory/decide", {"text": "hi"}),
    ("POST", "/memory/recall", {**SCOPE, "text": "Do you remember?"}),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_public_sandbox_without_token_is_403(
    make_client: ClientFactory, method: str, path: str, body: dict[str, Any] | None
) -> None:
    client = make_client({"MEMTUNE_PUBLIC": "true"})
    response = client.request(method, path, params=SCOPE, json=body)
    assert response.status_code == 403
    assert response.json() == {"detail": CLOSED}


def test_public_sandbox_with_token_opens_to_its_holder(make_client: ClientFactory) -> None:
    client = make_client({"MEMTUNE_PUBLIC": "true", "MEMTUNE_API_TOKEN": "s3cret"})
    assert client.get("/memory/libraries", params=SCOPE).status_code == 401
    auth = {"Authorization": "Bearer s3cret"}
    assert client.get("/memory/libraries", params=SCOPE, headers=auth).status_code == 200


def test_openapi_declares_the_403_only_when_closed(make_client: ClientFactory) -> None:
    def statuses(env: dict[str, str]) -> set[str]:
        schema = make_client(env).get("/openapi.json").json()
        return {code for ops in schema["paths"].values() for op in ops.values() for code in op["responses"]}

    assert "403" in statuses({"MEMTUNE_PUBLIC": "true"})
    assert "403" not in statuses({}) and "401" not in statuses({})
    assert "401" in statuses({"MEMTUNE_PUBLIC": "true", "MEMTUNE_API_TOKEN": "s3cret"})


# memory_core on its own: the checks behind the 400s


def test_check_text() -> None:
    assert check_text("ok 🍵", what="name") == "ok 🍵"
    with pytest.raises(InvalidInputError, match=r"^name is not valid Unicode text \(a lone surrogate\)$"):
        check_text("a\ud800b", what="name")
    with pytest.raises(InvalidInputError, match="name is longer than 3 characters"):
        check_text("abcd", what="name", max_length=3)
    with pytest.raises(InvalidInputError, match="name must be a string, got int"):
        check_text(5, what="name")  # type: ignore[arg-type]


def test_check_id_rejects_surrogates() -> None:
    with pytest.raises(InvalidInputError, match="character_id is not valid Unicode"):
        check_id("luna\udfff", what="character_id")


def test_metadata_100k_levels_deep_is_rejected_without_recursion() -> None:
    deep = nested(100_000)
    with pytest.raises(InvalidInputError, match=f"nested deeper than {MAX_METADATA_DEPTH} levels"):
        check_metadata(deep)
    deep_list: list[Any] = []
    level = deep_list
    for _ in range(100_000):
        level.append([])
        level = level[0]
    with pytest.raises(InvalidInputError, match="nested deeper"):
        validate_new_item(NewItem(text="x", metadata={"list": deep_list}))


def test_metadata_limits_are_inclusive() -> None:
    assert check_metadata(nested(MAX_METADATA_DEPTH)) == nested(MAX_METADATA_DEPTH)
    with pytest.raises(InvalidInputError, match="nested deeper"):
        check_metadata(nested(MAX_METADATA_DEPTH + 1))
    fits = {"k": "x" * (MAX_METADATA_BYTES - len('{"k": ""}'))}
    assert check_metadata(fits) == fits
    with pytest.raises(InvalidInputError, match="larger than"):
        check_metadata({"k": "x" * (MAX_METADATA_BYTES - len('{"k": ""}') + 1)})
    with pytest.raises(InvalidInputError, match="larger than"):
        check_metadata({"k": "é" * (MAX_METADATA_BYTES // 2)})  # two bytes each in UTF-8


def test_metadata_that_shares_or_loops_is_bounded() -> None:
    shared: dict[str, Any] = {str(n): "x" * 10 for n in range(100)}
    wide = {str(n): shared for n in range(100)}  # 10,000 strings once serialised
    with pytest.raises(InvalidInputError, match="larger than"):
        check_metadata(wide)
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(InvalidInputError, match="nested deeper"):
        check_metadata(loop)


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"k": "\ud800"}, "item metadata value is not valid Unicode"),
        ({"\udc00": 1}, "item metadata key is not valid Unicode"),
        ({"k": [{"j": ("ok", "\ud800")}]}, "item metadata value is not valid Unicode"),
        ({"k": float("inf")}, "item metadata is not JSON-serialisable"),
        ({"k": object()}, "item metadata is not JSON-serialisable"),
    ],
)
def test_metadata_strings_and_values_are_checked(metadata: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        validate_new_item(NewItem(text="x", metadata=metadata))


@pytest.mark.parametrize(
    ("field", "message"),
    [("text", "item text is not valid"), ("category", "item category is not valid"), ("source", "item source")],
)
def test_item_text_fields_reject_surrogates(field: str, message: str) -> None:
    bad: dict[str, Any] = {field: "bad \ud800"}
    item = replace(NewItem(text="fine"), **bad)
    with pytest.raises(InvalidInputError, match=message):
        validate_new_item(item)


# The declared patterns say exactly what memory_core accepts


def accepts(check: Callable[[], object]) -> bool:
    try:
        check()
    except InvalidInputError:
        return False
    return True


TRICKY_IDS = ["a", " a ", "a b", "a/b", "a\\b", "\x1c", "a\x1f", "\x85a", "\u3000", "\ufeffa", ".", "\t\n", "", "中文"]


@pytest.mark.parametrize("value", [*TRICKY_IDS, *(c + "x" + c for c in map(chr, range(0x2000, 0x2030)))])
def test_id_patterns_agree_with_check_id(value: str) -> None:
    assert bool(re.search(ID_PATTERN, value)) == accepts(lambda: check_id(value, what="id"))
    blank_or_id = not value.strip() or accepts(lambda: check_id(value, what="id"))
    assert bool(re.search(BLANK_OR_ID_PATTERN, value)) == blank_or_id
    assert bool(re.search(NOT_BLANK_PATTERN, value)) == bool(value.strip())
