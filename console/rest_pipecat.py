"""The REST routes for Pipecat bots: the export a bot is built from, and the memories bots wrote that no
library here lists ("unfiled"), with adopting them into a library. Registered by `rest.build_router`."""

# No `from __future__ import annotations`: FastAPI reads these signatures at run time.

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from console.api_shapes import item_to_api
from memory_core import Mem0Store, MemoryEngine, bot_export
from memory_core.providers.mem0_store import MEM0_ID

from .rest import _errors, _library_scope, _scope, _store
from .rest_bodies import CharacterId, CharacterPathId, LibraryId, Mem0Ids, ProfileId

NOT_MEM0 = "no unfiled memory: they live in Mem0, and this server's provider is not Mem0 (OPENTALKING_MEMORY_PROVIDER)"


def _mem0(engine: MemoryEngine) -> Mem0Store | None:
    """The Mem0 store, or None: the embedded store holds every memory in a library, so none is unfiled."""
    store = _store(engine)
    return store if isinstance(store, Mem0Store) else None


def add_pipecat_routes(router: APIRouter, engine: MemoryEngine) -> None:
    @router.get("/libraries/{library_id}/pipecat-export", summary="Export a library for a Pipecat bot",
                responses=_errors(400, 404, 503))  # fmt: skip
    def pipecat_export(
        library_id: LibraryId,
        character_id: CharacterId,
        profile_id: ProfileId = "default",
        embedder_port: Annotated[int, Query(ge=1, le=65535)] = 8765,
    ) -> dict[str, Any]:
        """What `Mem0MemoryService` needs for this library (as `python -m memory_core pipecat export`), with the
        server's default knobs; secrets appear as the names of their variables."""
        store, scope = _store(engine), _library_scope(engine, profile_id, character_id, library_id)
        store.get_library(scope)
        texts = [item.text for item in store.iter_items(scope)]
        export = bot_export(engine.settings, engine.settings.tuning(), scope, texts=texts, embedder=engine.embedder,
                            embedder_port=embedder_port)  # fmt: skip
        return export.as_dict()

    @router.get("/characters/{character_id}/unfiled", summary="List unfiled memories", responses=_errors(400, 503))
    def list_unfiled(character_id: CharacterPathId, profile_id: ProfileId = "default") -> dict[str, Any]:
        """Mem0's memories of the profile and character that no library lists: a bot's own writes. Each has
        `mem0_id` (to adopt it) and `library_id`, the run id Mem0 holds it under ("" for none). Without the Mem0
        provider the list is empty: the embedded store files every memory in a library."""
        scope, store = _scope(engine, profile_id, character_id), _mem0(engine)
        items = store.unfiled(scope.profile_id, scope.character_id) if store is not None else []
        return {"items": [{**item_to_api(item), "mem0_id": item.metadata.get(MEM0_ID),
                           "library_id": item.library_id} for item in items]}  # fmt: skip

    @router.post("/libraries/{library_id}/adopt", summary="Adopt unfiled memories",
                 responses=_errors(400, 404, 503))  # fmt: skip
    def adopt(
        library_id: LibraryId, body: Mem0Ids, character_id: CharacterId, profile_id: ProfileId = "default"
    ) -> dict[str, Any]:
        """File unfiled memories (by `mem0_id`) into this library; an unknown id is a 404 and nothing moves."""
        scope, store = _library_scope(engine, profile_id, character_id, library_id), _mem0(engine)
        if store is None:
            raise HTTPException(404, NOT_MEM0)
        adopted = store.adopt(scope, body.ids)
        engine.refresh(scope, [])
        return {"items": [item_to_api(item) for item in adopted]}
