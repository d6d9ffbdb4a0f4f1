"""The REST API over a real store on a temp file: reference-compatible routes, ours, errors and auth."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from console.rest import build_router
from console.rest_errors import install_error_handlers
from memory_core import (
    BM25Retriever,
    ConfigurationError,
    ConflictError,
    InvalidInputError,
    MemoryEngine,
    NotFoundError,
    ProviderError,
    SQLiteStore,
    load_settings,
)

CHARACTER = {"character_id": "demo-avatar"}
SCOPE = {"profile_id": "default", **CHARACTER}
PREFERENCE = "Remember that I prefer concise answers."
ClientFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[ClientFactory]:
    """Build an app over a fresh store (or none); engines and clients are closed afterwards."""
    made: list[tuple[TestClient, MemoryEngine]] = []

    def build(env: dict[str, str] | None = None, *, with_store: bool = True) -> TestClient:
        store = SQLiteStore(tmp_path / f"rest-{len(made)}.sqlite3") if with_store else None
        retriever = BM25Retriever(store) if store is not None else None
        engine = MemoryEngine(store, retriever, settings=load_settings(env or {}))
        app = FastAPI()
        app.include_router(build_router(engine))
        install_error_handlers(app)
        client = TestClient(app)
        made.append((client, engine))
        return client

    yield build
    for client, engine in made:
        client.close()
        if engine.store is not None:
            engine.store.close()


@pytest.fixture
def client(make_client: ClientFactory) -> TestClient:
    return make_client()


def create_library(client: TestClient, library_id: str = "default", **fields: Any) -> dict[str, Any]:
    response = client.post("/memory/libraries", json={"id": library_id, **CHARACTER, **fields})
    assert response.status_code == 200, response.text
    library: dict[str, Any] = response.json()
    return library


def add_item(client: TestClient, text: str, library_id: str = "default", **fields: Any) -> dict[str, Any]:
    params = {**SCOPE, **fields.pop("params", {})}
    response = client.post(f"/memory/libraries/{library_id}/items", params=params, json={"text": text, **fields})
    assert response.status_code == 201, response.text
    item: dict[str, Any] = response.json()
    return item


def list_items(client: TestClient, library_id: str = "default", **params: Any) -> dict[str, Any]:
    response = client.get(f"/memory/libraries/{library_id}/items", params={**SCOPE, **params})
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def import_turns(client: TestClient, turns: list[dict[str, str]], library_id: str = "default", **body: Any) -> Any:
    return client.post(f"/memory/libraries/{library_id}/import", json={**SCOPE, "turns": turns, **body})


# The seed's verification, and the reference-compatible routes


def test_seed_verification_create_import_list(client: TestClient) -> None:
    library = create_library(client, name="Demo")
    assert library["id"] == "default" and library["character_id"] == "demo-avatar"
    assert library["profile_id"] == "default" and library["memory_count"] == 0

    response = import_turns(client, [{"role": "user", "content": PREFERENCE}])
    assert response.status_code == 200
    assert response.json() == {"imported": 1}

    body = list_items(client)
    assert body["total"] == 1
    assert [item["text"] for item in body["items"]] == [PREFERENCE]
    item = body["items"][0]
    assert set(item) >= {"id", "text", "type", "metadata", "created_at"}
    assert item["metadata"]["source"] == "api" and item["metadata"]["source_type"] == "import"


def test_import_counts_only_stored_items(client: TestClient) -> None:
    create_library(client)
    turns = [
        {"role": "user", "content": PREFERENCE},
        {"role": "assistant", "content": "Sure, I will keep my answers short."},
        {"role": "user", "content": "ok"},
    ]
    response = import_turns(client, turns, source="chat-export", extra_field="ignored like the reference")
    assert response.json() == {"imported": 1}
    (item,) = list_items(client)["items"]
    assert item["metadata"]["source"] == "chat-export"


def test_list_libraries_newest_first_with_real_counts(client: TestClient) -> None:
    create_library(client, "alpha")
    create_library(client, "beta")
    add_item(client, "A fact stored in alpha.", "alpha")
    response = client.get("/memory/libraries", params=CHARACTER)
    assert response.status_code == 200
    libraries = response.json()["items"]
    assert [lib["id"] for lib in libraries] == ["alpha", "beta"]
    assert [lib["memory_count"] for lib in libraries] == [1, 0]
    assert set(libraries[0]) == {"id", "name", "profile_id", "character_id", "memory_count", "created_at", "updated_at"}


def test_blank_profile_takes_the_configured_default(make_client: ClientFactory) -> None:
    client = make_client({"OPENTALKING_MEMORY_DEFAULT_PROFILE_ID": "house"})
    library = create_library(client, "lib", profile_id="  ")
    assert library["profile_id"] == "house"
    listed = client.get("/memory/libraries", params={"profile_id": "", **CHARACTER}).json()["items"]
    assert [lib["id"] for lib in listed] == ["lib"]


def test_create_library_defaults_and_idempotence(client: TestClient) -> None:
    made = client.post("/memory/libraries", json={**CHARACTER, "name": "   "}).json()
    assert made["id"].startswith("lib_") and len(made["id"]) == len("lib_") + 12
    int(made["id"][4:], 16)
    assert made["name"] == "Default memory"

    first = create_library(client, "notes", name="Notes")
    add_item(client, "Something worth keeping.", "notes")
    again = create_library(client, "notes", name="Another name")
    assert again["name"] == "Notes" and again["created_at"] == first["created_at"]
    assert again["memory_count"] == 1


def test_delete_item_and_its_404(client: TestClient) -> None:
    create_library(client)
    item = add_item(client, "Delete me later.")
    url = f"/memory/libraries/default/items/{item['id']}"
    assert client.delete(url, params=SCOPE).json() == {"deleted": True}
    again = client.delete(url, params=SCOPE)
    assert again.status_code == 404
    assert again.json() == {"detail": "memory item not found"}


# Shortcomings of the reference that must not survive (spec §10 items 13-14)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/memory/libraries/nope/items", None),
        ("POST", "/memory/libraries/nope/import", {**SCOPE, "turns": [{"role": "user", "content": PREFERENCE}]}),
        ("POST", "/memory/libraries/nope/import", {**SCOPE, "turns": []}),
        ("POST", "/memory/recall", {**SCOPE, "library_id": "nope", "text": "Do you remember what I prefer?"}),
        ("GET", "/memory/libraries/nope/export", None),
        ("GET", "/memory/libraries/nope/export?format=csv", None),
        ("GET", "/memory/libraries/nope/audit", None),
        ("POST", "/memory/libraries/nope/items", {"text": "Nowhere to go."}),
        ("POST", "/memory/libraries/nope/items/bulk-delete", {"ids": ["x"]}),
        ("PATCH", "/memory/libraries/nope", {"name": "New"}),
        ("DELETE", "/memory/libraries/nope", None),
    ],
)
def test_unknown_library_is_404(client: TestClient, method: str, path: str, body: dict[str, Any] | None) -> None:
    response = client.request(method, path, params=SCOPE, json=body)
    assert response.status_code == 404
    assert response.json() == {"detail": "library 'nope' not found"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/memory/libraries", None),
        ("GET", "/memory/libraries/default/items", None),
        ("POST", "/memory/libraries/default/import", {"turns": [{"role": "user", "content": PREFERENCE}]}),
        ("POST", "/memory/libraries", {}),
        ("POST", "/memory/recall", {"text": "Do you remember what I prefer?"}),
    ],
)
def test_whitespace_character_id_is_400(
    client: TestClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    create_library(client)
    blank = {"profile_id": "default", "character_id": "   "}
    response = client.request(method, path, params=blank, json=None if body is None else {**blank, **body})
    assert response.status_code == 400
    assert response.json() == {"detail": "character_id is required"}


@pytest.mark.parametrize(
    "turn",
    [{"role": "system", "content": "hi there"}, {"role": "user", "content": ""}, {"role": "user"}],
)
def test_bad_turns_are_422(client: TestClient, turn: dict[str, str]) -> None:
    create_library(client)
    assert import_turns(client, [turn]).status_code == 422


def test_missing_character_id_is_422(client: TestClient) -> None:
    create_library(client)
    assert client.get("/memory/libraries").status_code == 422
    assert client.get("/memory/libraries/default/items").status_code == 422
    body = {"turns": [{"role": "user", "content": PREFERENCE}]}
    assert client.post("/memory/libraries/default/import", json=body).status_code == 422
    assert client.post("/memory/libraries", json={"id": "x"}).status_code == 422


def test_blank_library_in_the_path_is_400_not_the_default_library(client: TestClient) -> None:
    create_library(client)
    response = client.get("/memory/libraries/%20/items", params=SCOPE)
    assert response.status_code == 400
    assert "library_id" in response.json()["detail"]


# Our routes: items


def test_add_get_edit_item(client: TestClient) -> None:
    create_library(client)
    item = add_item(
        client, "  I live in Lyon.  ", type="fact", category="entity_relation", confidence="high", metadata={"k": 1}
    )
    assert item["text"] == "I live in Lyon." and item["type"] == "fact" and item["library_id"] == "default"
    assert item["metadata"] == {"k": 1, "category": "entity_relation", "confidence": "high", "source": "api"}
    url = f"/memory/libraries/default/items/{item['id']}"
    assert client.get(url, params=SCOPE).json() == item

    edited = client.patch(url, params=SCOPE, json={"text": "I live in Paris.", "confidence": "medium"})
    assert edited.status_code == 200
    assert edited.json()["text"] == "I live in Paris." and edited.json()["type"] == "fact"
    assert edited.json()["confidence"] == "medium"
    assert client.get(url, params=SCOPE).json()["text"] == "I live in Paris."


def test_item_errors(client: TestClient) -> None:
    create_library(client)
    add_item(client, "First version.", id="fixed-id")
    taken = client.post("/memory/libraries/default/items", params=SCOPE, json={"text": "Again.", "id": "fixed-id"})
    assert taken.status_code == 409
    assert "fixed-id" in taken.json()["detail"]

    url = "/memory/libraries/default/items"
    assert client.post(url, params=SCOPE, json={"text": "   "}).status_code == 400
    assert client.post(url, params=SCOPE, json={"text": "Typed.", "type": "poem"}).status_code == 400
    assert client.post(url, params=SCOPE, json={"text": "Typo.", "catgory": "x"}).status_code == 422
    assert client.patch(f"{url}/fixed-id", params=SCOPE, json={"type": "poem"}).status_code == 400
    assert client.patch(f"{url}/fixed-id", params=SCOPE, json={"txt": "typo"}).status_code == 422
    assert client.patch(f"{url}/missing", params=SCOPE, json={"text": "x"}).status_code == 404
    assert client.get(f"{url}/missing", params=SCOPE).json() == {"detail": "memory item not found"}


def test_bulk_delete(client: TestClient) -> None:
    create_library(client)
    ids = [add_item(client, f"Memory number {n}.")["id"] for n in range(3)]
    response = client.post(
        "/memory/libraries/default/items/bulk-delete", params=SCOPE, json={"ids": [ids[0], ids[2], "unknown"]}
    )
    assert response.json() == {"deleted": 2}
    assert [item["id"] for item in list_items(client)["items"]] == [ids[1]]


def test_history_after_add_edit_delete(client: TestClient) -> None:
    create_library(client)
    item = add_item(client, "Original text.")
    url = f"/memory/libraries/default/items/{item['id']}"
    client.patch(url, params=SCOPE, json={"text": "Edited text."})
    client.delete(url, params=SCOPE)

    response = client.get(f"{url}/history", params=SCOPE)
    assert response.status_code == 200
    events = response.json()["items"]
    assert [event["event"] for event in events] == ["add", "update", "delete"]
    assert set(events[0]) == {"seq", "item_id", "event", "at", "source", "before", "after"}
    assert events[0]["before"] is None and events[0]["after"]["text"] == "Original text."
    assert events[1]["before"]["text"] == "Original text." and events[1]["after"]["text"] == "Edited text."
    assert events[2]["after"] is None and all(event["item_id"] == item["id"] for event in events)
    assert client.get("/memory/libraries/default/items/never/history", params=SCOPE).status_code == 404


def test_pagination_past_100_items(client: TestClient) -> None:
    create_library(client)
    for n in range(130):
        add_item(client, f"Memory number {n:03d}.", id=f"m{n:03d}")

    everything = list_items(client)
    assert everything["total"] == 130 and len(everything["items"]) == 130
    page = list_items(client, offset=100, limit=50)
    assert page["total"] == 130 and len(page["items"]) == 30
    assert [item["id"] for item in page["items"]] == [item["id"] for item in everything["items"][100:]]
    tail = list_items(client, offset=120)
    assert tail["total"] == 130 and len(tail["items"]) == 10

    for bad in ({"limit": 0}, {"limit": 10_001}, {"offset": -1}):
        assert client.get("/memory/libraries/default/items", params={**SCOPE, **bad}).status_code == 422


def test_list_filters(client: TestClient) -> None:
    create_library(client)
    add_item(client, "I prefer tea over coffee.", type="preference", category="user_preference")
    add_item(client, "My sister is called Ana.", type="fact", category="entity_relation")
    add_item(client, "Plan: finish the TEA report.", type="note")

    def texts(**params: Any) -> list[str]:
        return sorted(item["text"] for item in list_items(client, **params)["items"])

    assert texts(type="fact") == ["My sister is called Ana."]
    assert texts(category="user_preference") == ["I prefer tea over coffee."]
    assert texts(q="tea") == ["I prefer tea over coffee.", "Plan: finish the TEA report."]
    assert list_items(client, q="tea", type="note")["total"] == 1


def test_scope_isolation_between_profiles(client: TestClient) -> None:
    a = {"profile_id": "alice", **CHARACTER}
    b = {"profile_id": "bob", **CHARACTER}
    create_library(client, "shared", profile_id="alice")
    create_library(client, "shared", profile_id="bob")
    item = add_item(client, "Alice's private note.", "shared", params=a)
    url = f"/memory/libraries/shared/items/{item['id']}"

    assert list_items(client, "shared", **b) == {"items": [], "total": 0}
    assert client.get(url, params=b).status_code == 404
    assert client.get(f"{url}/history", params=b).status_code == 404
    assert client.patch(url, params=b, json={"text": "Hijacked."}).status_code == 404
    assert client.delete(url, params=b).status_code == 404
    bulk = client.post("/memory/libraries/shared/items/bulk-delete", params=b, json={"ids": [item["id"]]})
    assert bulk.json() == {"deleted": 0}
    assert list_items(client, "shared", **a)["items"] == [item]
    only_bob = client.get("/memory/libraries", params={"profile_id": "carol", **CHARACTER}).json()
    assert only_bob == {"items": []}


# Our routes: libraries, export


def test_rename_and_delete_library(client: TestClient) -> None:
    create_library(client, "work", name="Work")
    add_item(client, "Standup is at nine.", "work")
    add_item(client, "The release is on Friday.", "work")

    renamed = client.patch("/memory/libraries/work", params=SCOPE, json={"name": "Job"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Job"
    assert renamed.json()["memory_count"] == 2
    assert client.patch("/memory/libraries/work", params=SCOPE, json={"name": "  "}).status_code == 400
    assert client.patch("/memory/libraries/work", params=SCOPE, json={"nmae": "x"}).status_code == 422

    deleted = client.delete("/memory/libraries/work", params=SCOPE)
    assert deleted.json() == {"deleted": True, "items_deleted": 2}
    assert client.get("/memory/libraries", params=SCOPE).json() == {"items": []}


def test_export_json_and_csv(client: TestClient) -> None:
    create_library(client, "notes", name="Notes")
    add_item(client, 'Line one,\nwith "quotes".', "notes", id="n1")

    document = client.get("/memory/libraries/notes/export", params=SCOPE)
    assert document.status_code == 200 and document.headers["content-type"] == "application/json"
    body = document.json()
    assert body["format"] == "memtune.library" and body["library"]["name"] == "Notes"
    assert [item["id"] for item in body["items"]] == ["n1"]

    table = client.get("/memory/libraries/notes/export", params={**SCOPE, "format": "csv"})
    assert table.status_code == 200
    assert table.headers["content-type"] == "text/csv; charset=utf-8"
    assert table.headers["content-disposition"].startswith('attachment; filename="notes.csv"')
    assert table.text.splitlines()[0] == "id,text,type,category,confidence,source,metadata,created_at,updated_at"
    assert '"Line one,\nwith ""quotes""."' in table.text.replace("\r\n", "\n")
    bad = client.get("/memory/libraries/notes/export", params={**SCOPE, "format": "xml"})
    assert bad.status_code == 422


def test_csv_export_neutralises_spreadsheet_formulas(client: TestClient) -> None:
    create_library(client, "notes")
    add_item(client, '=HYPERLINK("http://x","y")', "notes", id="link")
    table = client.get("/memory/libraries/notes/export", params={**SCOPE, "format": "csv"})
    assert table.status_code == 200
    assert '"\'=HYPERLINK(""http://x"",""y"")"' in table.text
    assert client.get("/memory/libraries/notes/export", params=SCOPE).json()["items"][0]["text"].startswith("=")


# Decide and recall


def test_decide_shape_and_default_mode(make_client: ClientFactory) -> None:
    client = make_client({"OPENTALKING_MEMORY_DECISION_MODE": "hybrid"})
    response = client.post("/memory/decide", json={"text": "Do you remember what I prefer?"})
    assert response.status_code == 200
    decision = response.json()
    assert decision["should_recall"] is True and decision["reason"] == "explicit_recall"
    assert decision["mode"] == "hybrid" and decision["decided_by"] == "rule"
    assert set(decision) >= {"query", "categories", "fallback_reason", "rule_reason", "latency_ms"}

    rule = client.post("/memory/decide", json={"text": "hello", "mode": "rule"}).json()
    assert rule["should_recall"] is False and rule["reason"] == "low_value" and rule["mode"] == "rule"
    assert client.post("/memory/decide", json={"text": "hi", "mode": "magic"}).status_code == 422
    assert client.post("/memory/decide", json={"text": "hi", "extra": 1}).status_code == 422


def test_recall_hits_carry_score_parts(client: TestClient) -> None:
    create_library(client)
    import_turns(client, [{"role": "user", "content": PREFERENCE}])
    add_item(client, "The weather in Lyon was rainy.", category="episode_summary")

    response = client.post("/memory/recall", json={**SCOPE, "text": "Do you remember which answers I prefer?"})
    assert response.status_code == 200
    body = response.json()
    assert body["decision"]["should_recall"] is True
    top = body["hits"][0]
    assert top["rank"] == 1 and top["item"]["text"] == PREFERENCE
    parts = {"score", "bm25", "entity_boost", "name_boost", "category_boost", "matched_terms", "matched_entities"}
    assert parts <= set(top) and top["bm25"] > 0 and "prefer" in top["matched_terms"]

    strict = client.post("/memory/recall", json={**SCOPE, "text": "Do you remember my answers?", "min_score": 1e6})
    assert strict.json()["hits"] == []


def test_recall_returns_as_many_hits_as_the_limit_asks(make_client: ClientFactory) -> None:
    client = make_client({"OPENTALKING_MEMORY_RECALL_LIMIT": "3"})
    create_library(client)
    for drink in ("oolong tea", "green tea", "black tea", "mint tea", "jasmine tea"):
        add_item(client, f"I sometimes drink {drink}.")

    def hits(**body: Any) -> list[dict[str, Any]]:
        response = client.post("/memory/recall", json={**SCOPE, "text": "Do you remember which tea I drink?", **body})
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["hits"]
        return found

    assert len(hits(limit=1)) == 1
    assert len(hits(limit=4)) == 4
    assert len(hits()) == 3  # the configured OPENTALKING_MEMORY_RECALL_LIMIT
    assert [hit["rank"] for hit in hits(limit=5)] == [1, 2, 3, 4, 5]


def test_recall_searches_only_the_named_library_of_the_profile(client: TestClient) -> None:
    create_library(client, "home", name="Home")
    create_library(client, "work", name="Work")
    add_item(client, "At home I drink oolong tea without sugar.", library_id="home")
    add_item(client, "At work I drink green tea from the office kettle.", library_id="work")

    def texts(library_id: str) -> list[str]:
        body = {**SCOPE, "library_id": library_id, "text": "Do you remember which tea I drink?"}
        response = client.post("/memory/recall", json=body)
        assert response.status_code == 200, response.text
        return [hit["item"]["text"] for hit in response.json()["hits"]]

    assert texts("home") == ["At home I drink oolong tea without sugar."]
    assert texts("work") == ["At work I drink green tea from the office kettle."]


def test_recall_without_recall_decision_has_no_hits(client: TestClient) -> None:
    create_library(client)
    add_item(client, "hello there, general greeting memory.")
    body = client.post("/memory/recall", json={**SCOPE, "text": "hello"}).json()
    assert body["decision"]["should_recall"] is False and body["hits"] == []
    for bad in ({"limit": 0}, {"limit": 101}, {"mode": "magic"}, {"typo": 1}):
        assert client.post("/memory/recall", json={**SCOPE, "text": "x", **bad}).status_code == 422


def test_audit_counts_what_the_library_stored(client: TestClient) -> None:
    create_library(client)
    add_item(client, "I like tea.")
    add_item(client, "i like tea!")
    add_item(client, "What's the capital of Peru?")
    add_item(client, "Happy to help!", metadata={"role": "assistant"})
    response = client.get("/memory/libraries/default/audit", params=SCOPE)
    assert response.status_code == 200, response.text
    audit = response.json()
    assert (audit["total"], audit["flagged"], audit["flagged_share"]) == (4, 4, 1.0)
    assert audit["counts"] == {"questions": 1, "repeats_stored": 2, "seen_again": 0, "superseded": 0,
                               "assistant_origin": 1, "summaries": 0}  # fmt: skip
    assert audit["shares"]["repeats_stored"] == 0.5
    assert audit["verdict"].startswith("not clean: repeats stored 50%, questions 25%, assistant-origin 25%")
    other = client.get("/memory/libraries/default/audit", params={"profile_id": "bob", **CHARACTER})
    assert other.status_code == 404  # another profile's library of the same name does not exist


def test_audit_of_an_empty_library_and_blank_character(client: TestClient) -> None:
    create_library(client, "empty")
    empty = client.get("/memory/libraries/empty/audit", params=SCOPE).json()
    assert (empty["total"], empty["verdict"]) == (0, "empty: nothing stored")
    blank = client.get("/memory/libraries/empty/audit", params={"character_id": " "})
    assert blank.status_code == 400


# Auth, provider none, errors, OpenAPI


def test_bearer_token_required_when_set(make_client: ClientFactory) -> None:
    client = make_client({"MEMTUNE_API_TOKEN": "s3cret"})
    missing = client.get("/memory/libraries", params=CHARACTER)
    assert missing.status_code == 401
    assert missing.json() == {"detail": "missing or invalid bearer token"}
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = client.get("/memory/libraries", params=CHARACTER, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    basic = client.get("/memory/libraries", params=CHARACTER, headers={"Authorization": "Basic s3cret"})
    assert basic.status_code == 401
    assert client.post("/memory/decide", json={"text": "hi"}).status_code == 401

    assert client.get("/memory/libraries/default/audit", params=CHARACTER).status_code == 401

    auth = {"Authorization": "Bearer s3cret"}
    assert client.get("/memory/libraries", params=CHARACTER, headers=auth).status_code == 200
    assert client.get("/memory/libraries/nope/audit", params=CHARACTER, headers=auth).status_code == 404
    assert client.post("/memory/decide", json={"text": "hi"}, headers=auth).status_code == 200


def test_no_token_configured_means_open(client: TestClient) -> None:
    assert client.get("/memory/libraries", params=CHARACTER).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/memory/libraries", None),
        ("POST", "/memory/libraries", CHARACTER),
        ("GET", "/memory/libraries/default/items", None),
        ("POST", "/memory/libraries/default/import", {**SCOPE, "turns": []}),
        ("GET", "/memory/libraries/default/export", None),
        ("GET", "/memory/libraries/default/audit", None),
        ("POST", "/memory/recall", {**SCOPE, "text": "Do you remember?"}),
    ],
)
def test_provider_none_is_503(make_client: ClientFactory, method: str, path: str, body: dict[str, Any] | None) -> None:
    client = make_client(with_store=False)
    response = client.request(method, path, params=SCOPE, json=body)
    assert response.status_code == 503
    assert response.json() == {"detail": "memory provider is 'none'"}


def test_provider_none_still_decides(make_client: ClientFactory) -> None:
    client = make_client(with_store=False)
    assert client.post("/memory/decide", json={"text": "Do you remember?"}).status_code == 200


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFoundError("gone"), 404),
        (ConflictError("clash"), 409),
        (InvalidInputError("bad"), 400),
        (ProviderError("down"), 503),
        (ConfigurationError("unset"), 500),
    ],
)
def test_error_mapping(error: Exception, status: int) -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    def boom() -> None:
        raise error

    with TestClient(app) as client:
        response = client.get("/boom")
    assert response.status_code == status
    assert response.json() == {"detail": str(error)}


def test_openapi_lists_the_routes(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    expected = {
        "/memory/libraries": {"get", "post"},
        "/memory/libraries/{library_id}": {"patch", "delete"},
        "/memory/libraries/{library_id}/items": {"get", "post"},
        "/memory/libraries/{library_id}/items/bulk-delete": {"post"},
        "/memory/libraries/{library_id}/items/{item_id}": {"get", "patch", "delete"},
        "/memory/libraries/{library_id}/items/{item_id}/history": {"get"},
        "/memory/libraries/{library_id}/import": {"post"},
        "/memory/libraries/{library_id}/export": {"get"},
        "/memory/libraries/{library_id}/audit": {"get"},
        "/memory/decide": {"post"},
        "/memory/recall": {"post"},
    }
    assert {path: set(paths[path]) for path in expected} == expected
    operations = [op for path in expected for op in paths[path].values()]
    assert all(op["summary"] and op["description"] and op["tags"] == ["memory"] for op in operations)
