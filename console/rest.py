"""The REST API under /memory: the reference engine's endpoints (spec §3), then Memtune's own.

Each handler validates, calls memory_core and shapes the answer with `memory_core.api_shapes`. Unlike the
reference, an unknown library is a 404 and a blank character_id is a 400 on every route, imports included.
Every string a client sends must be valid Unicode (no lone surrogates) and every field has a declared bound,
so a request is refused (4xx) before anything is written rather than failing (500) half-way.
"""

# No `from __future__ import annotations`: FastAPI reads these signatures at run time.

import hmac
import re
import uuid
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from console.api_shapes import event_to_api, example_to_api, hit_to_api, item_to_api, library_to_api
from memory_core import (
    ConfigurationError,
    InvalidInputError,
    ItemFilter,
    MemoryEngine,
    MemoryItem,
    NewItem,
    RecallDecision,
    Retriever,
    Scope,
    ScoredMemory,
    Store,
    TaughtExample,
    audit_library,
    export_csv,
    export_library,
)
from memory_core.models import (
    MAX_TEXT_LENGTH,
)

from .rest_bodies import (
    MAX_LABEL_LENGTH,
    MAX_LIST_LIMIT,
    MAX_OFFSET,
    BulkDelete,
    Category,
    CharacterId,
    CharacterPathId,
    DecideRequest,
    ErrorBody,
    ExampleCreate,
    ExampleId,
    ItemCreate,
    ItemEdit,
    ItemId,
    LibraryCreate,
    LibraryId,
    LibraryRename,
    Mode,
    ProfileId,
    RecallRequest,
    Text,
    TurnImport,
)

NO_PROVIDER = "memory provider is 'none'"
BAD_TOKEN = "missing or invalid bearer token"
CLOSED = "the REST API is closed on a public sandbox; set MEMTUNE_API_TOKEN to open it to its holder"
_ERROR_TEXT = {
    400: "Invalid input, such as a blank character_id or a bad id",
    401: "Missing or invalid bearer token",
    403: "The REST API is closed on a public sandbox without MEMTUNE_API_TOKEN",
    404: "Library, item or taught example not found in this scope",
    409: "An item with this id already exists",
    503: "The memory provider is 'none', the store failed, or (taught examples) there is no embedder",
}
_BEARER = HTTPBearer(auto_error=False, description="The value of MEMTUNE_API_TOKEN.")
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]")


# Wiring


def build_router(engine: MemoryEngine) -> APIRouter:
    """The /memory routes over one engine; every route needs the bearer token when one is configured.

    On a public sandbox (access mode "public") without a token every route is a 403: visitors share the
    server, and only a token's holder may reach the store directly.
    """
    token = engine.settings.api_token
    closed = engine.settings.access == "public" and not token
    guard = _closed_guard if closed else _bearer_guard(token) if token else None
    router = APIRouter(
        prefix="/memory",
        tags=["memory"],
        dependencies=[Depends(guard)] if guard is not None else [],
        responses=_errors(403) if closed else _errors(401) if token else None,
    )
    _add_library_routes(router, engine)
    _add_item_routes(router, engine)
    _add_item_detail_routes(router, engine)
    _add_transfer_routes(router, engine)
    _add_audit_routes(router, engine)
    _add_recall_routes(router, engine)
    _add_teaching_routes(router, engine)
    from .rest_pipecat import add_pipecat_routes  # it uses this module's helpers

    add_pipecat_routes(router, engine)
    return router


def _closed_guard() -> None:
    raise HTTPException(403, CLOSED)


def _bearer_guard(token: str) -> Callable[[HTTPAuthorizationCredentials | None], None]:
    expected = token.encode()

    def require_token(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]) -> None:
        given = credentials.credentials.encode() if credentials is not None else b""
        if not hmac.compare_digest(given, expected):
            raise HTTPException(401, BAD_TOKEN, headers={"WWW-Authenticate": "Bearer"})

    return require_token


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer."""
    return {code: {"model": ErrorBody, "description": _ERROR_TEXT[code]} for code in codes}


# Helpers shared by the handlers


def _store(engine: MemoryEngine) -> Store:
    if engine.store is None:
        raise HTTPException(503, NO_PROVIDER)
    return engine.store


def _retriever(engine: MemoryEngine) -> Retriever:
    if engine.retriever is None:
        raise HTTPException(503, NO_PROVIDER)
    return engine.retriever


def _scope(engine: MemoryEngine, profile_id: str | None, character_id: str, library_id: str | None = None) -> Scope:
    settings = engine.settings
    return Scope.of(
        profile_id,
        character_id,
        library_id,
        default_profile_id=settings.default_profile_id,
        default_library_id=settings.default_library_id,
    )


def _library_scope(engine: MemoryEngine, profile_id: str | None, character_id: str, library_id: str) -> Scope:
    """The scope of a library named in the path: a blank name there is a 400, never the default library."""
    return _scope(engine, profile_id, character_id).with_library(library_id)


def _page(
    store: Store, scope: Scope, wanted: ItemFilter, offset: int, limit: int | None
) -> tuple[Sequence[MemoryItem], int]:
    """One page and the filtered total; no limit means every item from offset on, with no hidden cap."""
    if limit is not None:
        page = store.list_items(scope, wanted, offset=offset, limit=limit)
        return page.items, page.total
    items = list(store.iter_items(scope, wanted))
    return items[offset:], len(items)


def _decide(engine: MemoryEngine, text: str, mode: Mode | None, taught: Sequence[TaughtExample] = ()) -> RecallDecision:
    limit = engine.settings.max_text_chars
    if len(text) > limit:
        raise InvalidInputError(f"text is longer than {limit} characters (MEMTUNE_MAX_TEXT_CHARS)")
    tuning = engine.settings.tuning()
    chosen = mode or tuning.decision_mode
    return engine.decider.decide(text, mode=chosen, timeout_ms=tuning.decision_timeout_ms, taught=taught)


def _csv_response(library_id: str, text: str) -> Response:
    # filename is an ASCII fallback; filename* keeps the exact id for clients that read RFC 6266.
    fallback = _UNSAFE_FILENAME.sub("_", library_id)
    disposition = f"attachment; filename=\"{fallback}.csv\"; filename*=UTF-8''{quote(library_id, safe='')}.csv"
    return Response(text, media_type="text/csv", headers={"Content-Disposition": disposition})


# Routes


def _add_library_routes(router: APIRouter, engine: MemoryEngine) -> None:
    @router.get("/libraries", summary="List libraries", responses=_errors(400, 503))
    def list_libraries(character_id: CharacterId, profile_id: ProfileId = "default") -> dict[str, Any]:
        """The profile's libraries for one character, most recently updated first, with their item counts."""
        store, scope = _store(engine), _scope(engine, profile_id, character_id)
        return {"items": [library_to_api(library) for library in store.list_libraries(scope)]}

    @router.post("/libraries", summary="Create a library", responses=_errors(400, 503))
    def create_library(body: LibraryCreate) -> dict[str, Any]:
        """Create a library. Creating an id that already exists returns that library unchanged."""
        store = _store(engine)
        library_id = (body.id or "").strip() or f"lib_{uuid.uuid4().hex[:12]}"
        scope = _scope(engine, body.profile_id, body.character_id, library_id)
        return library_to_api(store.ensure_library(scope, (body.name or "").strip() or None))

    @router.patch("/libraries/{library_id}", summary="Rename a library", responses=_errors(400, 404, 503))
    def rename_library(
        library_id: LibraryId, body: LibraryRename, character_id: CharacterId, profile_id: ProfileId = "default"
    ) -> dict[str, Any]:
        """Give a library a new name; its items are untouched."""
        store, scope = _store(engine), _library_scope(engine, profile_id, character_id, library_id)
        return library_to_api(store.rename_library(scope, body.name))

    @router.delete("/libraries/{library_id}", summary="Delete a library", responses=_errors(400, 404, 503))
    def delete_library(
        library_id: LibraryId, character_id: CharacterId, profile_id: ProfileId = "default"
    ) -> dict[str, Any]:
        """Delete a library and all its items; the items' history is kept."""
        store, scope = _store(engine), _library_scope(engine, profile_id, character_id, library_id)
        return {"deleted": True, "items_deleted": store.delete_library(scope)}


def _add_item_routes(router: APIRouter, engine: MemoryEngine) -> None:
    @router.get("/libraries/{library_id}/items", summary="List a library's items", responses=_errors(400, 404, 503))
    def list_items(
        library_id: LibraryId,
        character_id: CharacterId,
        profile_id: ProfileId = "default",
        item_type: Annotated[
            Text | None, Query(alias="type", max_length=MAX_LABEL_LENGTH, description="Only items of this type.")
        ] = None,
        category: Annotated[Category | None, Query(description="Only items of this category.")] = None,
        q: Annotated[
            Text | None,
            Query(max_length=MAX_TEXT_LENGTH, description="Only items whose text contains this (any case)."),
        ] = None,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
        limit: Annotated[int | None, Query(ge=1, le=MAX_LIST_LIMIT, description="Default: every item.")] = None,
    ) -> dict[str, Any]:
        """A library's items, newest first, with the total that match the filters."""
        store, scope = _store(engine), _library_scope(engine, profile_id, character_id, library_id)
        store.get_library(scope)
        wanted = ItemFilter(type=item_type or None, category=category or None, text_contains=q)
        items, total = _page(store, scope, wanted, offset, limit)
        return {"items": [item_to_api(item) for item in items], "total": total}

    @router.post(
        "/libraries/{library_id}/items", status_code=201, summary="Add an item", responses=_errors(400, 404, 409, 503)
    )
    def add_item(
        library_id: LibraryId, body: ItemCreate, character_id: CharacterId, profile_id: ProfileId = "default"
    ) -> dict[str, Any]:
        """Add one item to an existing library; an id that is already taken is a 409."""
        store, scope = _store(engine), _library_scope(engine, profile_id, character_id, library_id)
        new = NewItem(body.text, body.type, body.category, body.confidence, metadata=body.metadata, id=body.id)
        (item,) = store.add_items(scope, [new], source="api")
        engine.refresh(scope, [])  # its vector now, not at the next search
        return item_to_api(item)

    @router.post(
        "/libraries/{library_id}/items/bulk-delete", summary="Delete many items", responses=_errors(400, 404, 503)
    )
    def bulk_delete(
        library_id: LibraryId, body: BulkDelete, character_id: CharacterId, profile_id: ProfileId = "default"
    ) -> dict[str, int]:
        """Delete the listed items; ids that do not exist are ignored. Answers how many were deleted."""
        store, scope = _store(engine), _library_scope(engine, profile_id, character_id, library_id)
        store.get_library(scope)
        return {"deleted": store.delete_items(scope, body.ids)}


def _add_item_detail_routes(router: APIRouter, engine: MemoryEngine) -> None:
    path = "/libraries/{library_id}/items/{item_id}"

    @router.get(path, summary="Get an item", responses=_errors(400, 404, 503))
    def get_item(
        library_id: LibraryId, item_id: ItemId, character_id: CharacterId, profile_id: ProfileId = "default"
    ) -> dict[str, Any]:
        """One item of a library."""
        store, scope = _store(engine), _library_scope(engine, profile_id, character_id, library_id)
        return item_to_api(store.get_item(scope, item_id))

    @router.patch(path, summary="Edit an item", responses=_errors(400, 404, 503))
    def edit_item(
        library_id: LibraryId,
        item_id: ItemId,
        body: ItemEdit,
        character_id: CharacterId,
        profile_id: ProfileId = "default",
    ) -> dict[str, Any]:
        """Change the given fields of an item; an edit that changes nothing is not recorded."""
        store, scope = _store(engine), _library_scope(engine, profile_id, character_id, library_id)
        changes = body.model_dump(exclude_none=True)
        return item_to_api(store.edit_item(scope, item_id, **changes, source="api"))

    @router.delete(path, summary="Delete an item", responses=_errors(400, 404, 503))
    def delete_item(
        library_id: LibraryId, item_id: ItemId, character_id: CharacterId, profile_id: ProfileId = "default"
    ) -> dict[str, bool]:
        """Delete one item; 404 {"detail": "memory item not found"} if it is not in this library."""
        store, scope = _store(engine), _library_scope(engine, profile_id, character_id, library_id)
        store.delete_item(scope, item_id)
        return {"deleted": True}

    @router.get(f"{path}/history", summary="An item's history", responses=_errors(400, 404, 503))
    def item_history(
        library_id: LibraryId, item_id: ItemId, character_id: CharacterId, profile_id: ProfileId = "default"
    ) -> dict[str, Any]:
        """Every add, update and delete of an item, oldest first, with the item before and after; kept after
        the item is deleted."""
        store, scope = _store(engine), _library_scope(engine, profile_id, character_id, library_id)
        return {"items": [event_to_api(event) for event in store.history(scope, item_id)]}


def _add_transfer_routes(router: APIRouter, engine: MemoryEngine) -> None:
    @router.post("/libraries/{library_id}/import", summary="Import chat turns", responses=_errors(400, 404, 503))
    def import_turns(library_id: LibraryId, body: TurnImport) -> dict[str, int]:
        """Classify chat turns and store the user turns worth keeping; answers how many items were stored."""
        store = _store(engine)
        scope = _library_scope(engine, body.profile_id, body.character_id, library_id)
        store.get_library(scope)
        turns = [(turn.role, turn.content) for turn in body.turns]
        return {"imported": len(engine.import_turns(scope, turns, source=body.source))}

    @router.get(
        "/libraries/{library_id}/export",
        summary="Export a library",
        response_model=None,
        responses={**_errors(400, 404, 503), 200: {"content": {"text/csv": {}}}},
    )
    def export(
        library_id: LibraryId,
        character_id: CharacterId,
        profile_id: ProfileId = "default",
        file_format: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
    ) -> dict[str, Any] | Response:
        """The library and every item: a memtune.library JSON document, or a CSV file to download."""
        store, scope = _store(engine), _library_scope(engine, profile_id, character_id, library_id)
        if file_format == "csv":
            return _csv_response(scope.library_id, export_csv(store, scope))
        return export_library(store, scope)


def _add_audit_routes(router: APIRouter, engine: MemoryEngine) -> None:
    @router.get("/libraries/{library_id}/audit", summary="Audit a library", responses=_errors(400, 404, 503))
    def audit(library_id: LibraryId, character_id: CharacterId, profile_id: ProfileId = "default") -> dict[str, Any]:
        """Counts and shares of the library's questions, stored repeats, memories seen again, superseded ones,
        the assistant's words and summaries, with a one-line verdict ("clean" under 5% questions, repeats
        and assistant-origin together)."""
        store, scope = _store(engine), _library_scope(engine, profile_id, character_id, library_id)
        store.get_library(scope)
        return audit_library(store.iter_items(scope)).to_dict()


def _add_recall_routes(router: APIRouter, engine: MemoryEngine) -> None:
    @router.post("/decide", summary="Decide whether to recall", responses=_errors(400))
    def decide(body: DecideRequest) -> dict[str, Any]:
        """The recall decision for a message, with its reason, query, categories and who decided."""
        return _decide(engine, body.text, body.mode).to_dict()

    @router.post("/recall", summary="Decide and recall", responses=_errors(400, 404, 503))
    def recall(body: RecallRequest) -> dict[str, Any]:
        """Decide for a message and, if it should recall, search the library; every hit carries its score parts."""
        store, retriever = _store(engine), _retriever(engine)
        scope = _scope(engine, body.profile_id, body.character_id, body.library_id)
        store.get_library(scope)
        tuning = engine.settings.tuning()
        decision = _decide(engine, body.text, body.mode, engine.taught_examples(scope))
        hits: tuple[ScoredMemory, ...] = ()
        if decision.should_recall:
            hits = retriever.search(
                scope,
                decision.query,
                limit=body.limit or tuning.recall_limit,
                min_score=tuning.recall_min_score if body.min_score is None else body.min_score,
                categories=decision.categories,
                category_boost=tuning.category_boost,
            )
        return {"decision": decision.to_dict(), "hits": [hit_to_api(hit) for hit in hits]}


def _add_teaching_routes(router: APIRouter, engine: MemoryEngine) -> None:
    path = "/characters/{character_id}/examples"

    @router.post(path, status_code=201, summary="Teach a recall decision", responses=_errors(400, 503))
    def teach(character_id: CharacterPathId, body: ExampleCreate, profile_id: ProfileId = "default") -> dict[str, Any]:
        """Correct a decision: this message should (or should not) have recalled. Embedded once and kept for the
        profile's chats with the character; from the next decision on, in hybrid and llm modes, a message this
        close (cosine >= 0.9) is decided by it."""
        _store(engine)
        scope = _scope(engine, profile_id, character_id)
        try:
            example = engine.teach(scope, body.text, body.should_recall)
        except ConfigurationError as exc:  # no embedder on this server: a service it cannot offer, not a bug
            raise HTTPException(503, str(exc)) from None
        return example_to_api(example)

    @router.get(path, summary="List taught examples", responses=_errors(400, 503))
    def list_examples(character_id: CharacterPathId, profile_id: ProfileId = "default") -> dict[str, Any]:
        """The profile's taught examples for the character, oldest first."""
        store, scope = _store(engine), _scope(engine, profile_id, character_id)
        examples = store.taught_examples(scope.character_id, owner=scope.profile_id)
        return {"items": [example_to_api(example) for example in examples]}

    @router.delete(f"{path}/{{example_id}}", summary="Forget a taught example", responses=_errors(400, 404, 503))
    def forget_example(
        character_id: CharacterPathId, example_id: ExampleId, profile_id: ProfileId = "default"
    ) -> dict[str, bool]:
        """Delete one taught example; decisions go back to what they were without it."""
        _store(engine)
        engine.forget_example(_scope(engine, profile_id, character_id), example_id)
        return {"deleted": True}
