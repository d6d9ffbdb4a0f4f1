"""Mem0 behind one small interface: the open-source `Memory` in-process, or the hosted platform.

Every call is bounded by a timeout (a late answer is discarded) and runs off the caller's thread;
failures surface as ProviderError. Scope maps onto Mem0's own ids: profile -> `user_id`, character ->
`agent_id`, library -> `run_id`. Those are the only filters Pipecat's Mem0MemoryService can set, so a bot
given the same three ids sees exactly one library. Library, profile and character also ride in the
metadata. `list_owned` lists every memory of a profile and character, in any library or none, which is
how the store finds what bots wrote ("unfiled": see mem0_store).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Protocol, TypeVar

from ..errors import ConfigurationError, ProviderError
from ..models import Scope
from ..settings import Settings
from .mem0_config import MEM0_ENVIRONMENT, build_config, prepare_environment

T = TypeVar("T")
# OSS get_all has no paging: ask for this many at once, and say so if a library ever reaches it.
LIST_ALL = 1_000_000
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="mem0")


class Mem0Backend(Protocol):
    name: str

    def add_raw(self, scope: Scope, text: str, metadata: dict[str, Any]) -> str: ...

    def add_smart(
        self, scope: Scope, messages: Sequence[dict[str, str]], metadata: dict[str, Any]
    ) -> list[dict[str, Any]]: ...

    def update(self, scope: Scope, mem0_id: str, text: str, metadata: dict[str, Any]) -> None: ...

    def delete(self, mem0_id: str) -> None: ...

    def search(
        self, scope: Scope, query: str, *, top_k: int, threshold: float, timeout_ms: int | None = None
    ) -> list[dict[str, Any]]: ...

    def list_all(self, scope: Scope) -> list[dict[str, Any]]: ...

    def list_owned(self, profile_id: str, character_id: str) -> list[dict[str, Any]]: ...

    def history(self, mem0_id: str) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


def scope_filters(scope: Scope) -> dict[str, Any]:
    """Mem0 filters for one library of one profile and character, as a bot would set them."""
    return {**scope_ids(scope), "run_id": scope.library_id}


def scope_ids(scope: Scope) -> dict[str, str]:
    """The ids `add` takes: library as `run_id`, so Mem0 and Pipecat can both filter on it."""
    return {"user_id": scope.profile_id, "agent_id": scope.character_id, "run_id": scope.library_id}


def owner_filters(profile_id: str, character_id: str) -> dict[str, Any]:
    """Every memory of one profile and character, in every library and none."""
    return {"user_id": profile_id, "agent_id": character_id}


def scope_metadata(scope: Scope) -> dict[str, Any]:
    return {"library_id": scope.library_id, "profile_id": scope.profile_id, "character_id": scope.character_id}


def bounded(call: Callable[[], T], timeout_ms: int, what: str) -> T:
    """Run a Mem0 call with a deadline; errors and timeouts become ProviderError."""
    future: Future[T] = _POOL.submit(call)
    try:
        return future.result(timeout=timeout_ms / 1000)
    except FutureTimeout:
        future.cancel()
        raise ProviderError(f"Mem0 {what} timed out after {timeout_ms} ms") from None
    except ProviderError:
        raise
    except Exception as exc:
        raise ProviderError(f"Mem0 {what} failed: {type(exc).__name__}: {exc}") from None


class LocalMem0:
    """The open-source `mem0.Memory`, one per vector-store path per process, calls serialised by a lock."""

    def __init__(self, memory: Any, *, timeout_ms: int, name: str = "mem0 (open source)") -> None:
        self.memory = memory
        self.timeout_ms = timeout_ms
        self.name = name
        self._lock = threading.RLock()

    def _call(self, what: str, call: Callable[[], T], timeout_ms: int | None = None) -> T:
        def locked() -> T:
            with self._lock:
                return call()

        return bounded(locked, timeout_ms or self.timeout_ms, what)

    def add_raw(self, scope: Scope, text: str, metadata: dict[str, Any]) -> str:
        result = self._call(
            "add",
            lambda: self.memory.add(
                [{"role": "user", "content": text}],
                **scope_ids(scope),
                metadata={**metadata, **scope_metadata(scope)},
                infer=False,
            ),
        )
        rows = result.get("results") or []
        if not rows:
            raise ProviderError("Mem0 add (infer=False) stored nothing")
        return str(rows[0]["id"])

    def add_smart(
        self, scope: Scope, messages: Sequence[dict[str, str]], metadata: dict[str, Any]
    ) -> list[dict[str, Any]]:
        result = self._call(
            "smart add",
            lambda: self.memory.add(
                list(messages),
                **scope_ids(scope),
                metadata={**metadata, **scope_metadata(scope)},
                infer=True,
            ),
        )
        return [r for r in result.get("results") or [] if r.get("event") == "ADD"]

    def update(self, scope: Scope, mem0_id: str, text: str, metadata: dict[str, Any]) -> None:
        # Metadata is replaced, not merged: the library, profile and character go along every time.
        full = {**metadata, **scope_metadata(scope)}
        self._call("update", lambda: self.memory.update(mem0_id, text=text, metadata=full))

    def delete(self, mem0_id: str) -> None:
        self._call("delete", lambda: self.memory.delete(mem0_id))

    def search(
        self, scope: Scope, query: str, *, top_k: int, threshold: float, timeout_ms: int | None = None
    ) -> list[dict[str, Any]]:
        result = self._call(
            "search",
            lambda: self.memory.search(
                query, top_k=top_k, filters=scope_filters(scope), threshold=threshold, explain=True
            ),
            timeout_ms,
        )
        return list(result.get("results") or [])

    def list_all(self, scope: Scope) -> list[dict[str, Any]]:
        return self._listed(scope_filters(scope))

    def list_owned(self, profile_id: str, character_id: str) -> list[dict[str, Any]]:
        return self._listed(owner_filters(profile_id, character_id))

    def _listed(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        result = self._call("list", lambda: self.memory.get_all(filters=filters, top_k=LIST_ALL))
        return list(result.get("results") or [])

    def history(self, mem0_id: str) -> list[dict[str, Any]]:
        return list(self._call("history", lambda: self.memory.history(mem0_id)) or [])

    def close(self) -> None:
        close_memory(self.memory)


class HostedMem0:
    """The hosted platform through `mem0.MemoryClient` (asynchronous adds, paginated listing)."""

    def __init__(self, client: Any, *, timeout_ms: int) -> None:
        self.client = client
        self.timeout_ms = timeout_ms
        self.name = "mem0 (hosted platform)"

    def add_raw(self, scope: Scope, text: str, metadata: dict[str, Any]) -> str:
        result = bounded(
            lambda: self.client.add(
                [{"role": "user", "content": text}],
                **scope_ids(scope),
                metadata={**metadata, **scope_metadata(scope)},
                infer=False,
            ),
            self.timeout_ms,
            "add",
        )
        return _platform_id(result)

    def add_smart(
        self, scope: Scope, messages: Sequence[dict[str, str]], metadata: dict[str, Any]
    ) -> list[dict[str, Any]]:
        # The platform processes adds asynchronously: the extracted memories appear later in listings.
        bounded(
            lambda: self.client.add(
                list(messages),
                **scope_ids(scope),
                metadata={**metadata, **scope_metadata(scope)},
                infer=True,
            ),
            self.timeout_ms,
            "smart add",
        )
        return []

    def update(self, scope: Scope, mem0_id: str, text: str, metadata: dict[str, Any]) -> None:
        full = {**metadata, **scope_metadata(scope)}
        bounded(lambda: self.client.update(mem0_id, text=text, metadata=full), self.timeout_ms, "update")

    def delete(self, mem0_id: str) -> None:
        bounded(lambda: self.client.delete(mem0_id), self.timeout_ms, "delete")

    def search(
        self, scope: Scope, query: str, *, top_k: int, threshold: float, timeout_ms: int | None = None
    ) -> list[dict[str, Any]]:
        filters = {"AND": [{k: v} for k, v in scope_filters(scope).items()]}
        result = bounded(
            lambda: self.client.search(query, filters=filters, top_k=top_k, threshold=threshold),
            timeout_ms or self.timeout_ms,
            "search",
        )
        return list(result.get("results") or []) if isinstance(result, dict) else list(result or [])

    def list_all(self, scope: Scope) -> list[dict[str, Any]]:
        return self._listed(scope_filters(scope))

    def list_owned(self, profile_id: str, character_id: str) -> list[dict[str, Any]]:
        return self._listed(owner_filters(profile_id, character_id))

    def _listed(self, ids: dict[str, Any]) -> list[dict[str, Any]]:
        """Every page of the platform's listing, not just the first."""
        filters = {"AND": [{k: v} for k, v in ids.items()]}
        rows: list[dict[str, Any]] = []
        page = 1
        while True:
            result = bounded(
                lambda p=page: self.client.get_all(filters=filters, page=p, page_size=100),  # type: ignore[misc]
                self.timeout_ms,
                "list",
            )
            rows += list(result.get("results") or [])
            if not result.get("next"):
                return rows
            page += 1

    def history(self, mem0_id: str) -> list[dict[str, Any]]:
        return list(bounded(lambda: self.client.history(mem0_id), self.timeout_ms, "history") or [])

    def close(self) -> None:
        close = getattr(self.client, "close", None)
        if close is not None:
            close()


def _platform_id(result: Any) -> str:
    rows = result.get("results") if isinstance(result, dict) else result
    if isinstance(rows, list) and rows and rows[0].get("id"):
        return str(rows[0]["id"])
    event = result.get("event_id") if isinstance(result, dict) else None
    if event:
        return f"pending:{event}"
    raise ProviderError("the Mem0 platform returned no memory id")


def _mem0_module() -> Any:
    os.environ.update(MEM0_ENVIRONMENT)  # before the first import, whoever imports first
    try:
        import mem0
    except ImportError as exc:
        raise ConfigurationError("the Mem0 provider needs mem0ai: pip install -r requirements-mem0.txt") from exc
    return mem0


# -- one Memory per vector-store location per process -------------------------------------------

_MEMORIES: dict[str, Any] = {}
_MEMORIES_LOCK = threading.Lock()


def _location(config: dict[str, Any]) -> str:
    store = (config.get("vector_store") or {}).get("config") or {}
    return str(store.get("path") or f"{store.get('host')}:{store.get('port')}/{store.get('collection_name')}")


def open_memory(settings: Settings, config: dict[str, Any]) -> Any:
    """The process's Memory for this store location (a Qdrant path takes an exclusive lock)."""
    prepare_environment(settings)
    key = _location(config)
    with _MEMORIES_LOCK:
        if key not in _MEMORIES:
            Memory = _mem0_module().Memory
            try:
                _MEMORIES[key] = Memory.from_config(config)
            except Exception as exc:
                if "already accessed by another instance of Qdrant client" in str(exc):
                    raise ConfigurationError(
                        f"the local Qdrant folder {key} is open in another process (a running console or bot?), "
                        "and local Qdrant allows only one process at a time. To share one vector store, run a "
                        "Chroma server (chroma run --host 127.0.0.1 --port 8000 --path ./data/chroma) and set "
                        "OPENTALKING_MEMORY_MEM0_VECTOR_STORE_PROVIDER=chroma, "
                        "OPENTALKING_MEMORY_MEM0_VECTOR_STORE_HOST=127.0.0.1 and "
                        "OPENTALKING_MEMORY_MEM0_VECTOR_STORE_PORT=8000"
                    ) from exc
                raise ConfigurationError(f"Mem0 did not start: {type(exc).__name__}: {exc}") from exc
        return _MEMORIES[key]


def close_memory(memory: Any) -> None:
    with _MEMORIES_LOCK:
        for key, held in list(_MEMORIES.items()):
            if held is memory:
                del _MEMORIES[key]
    # Memory.close() closes only its SQLite history: the vector stores' clients (local Qdrant, a Chroma
    # server's HTTP session) and the embedder's and LLM's openai clients are left to the garbage collector,
    # which complains at exit.
    for part in (memory, *_clients_of(memory)):
        close = getattr(part, "close", None)
        if close is not None:
            close()


def _clients_of(memory: Any) -> list[Any]:
    stores = [getattr(memory, "vector_store", None), getattr(memory, "_entity_store", None)]
    models = [getattr(memory, "embedding_model", None), getattr(memory, "llm", None)]
    clients = [client for owner in (*stores, *models) if (client := getattr(owner, "client", None)) is not None]
    # chromadb 1.5's Client.close() stops its Systems but leaves the HTTP sessions of their server APIs open:
    # the client's own and its admin client's (a System of its own).
    owners = [*clients, *(getattr(client, "__dict__", {}).get("_admin_client") for client in clients)]
    sessions = [getattr(getattr(owner, "_server", None), "_session", None) for owner in owners]
    return [*clients, *(session for session in sessions if session is not None)]


def build_backend(settings: Settings, *, embedder_url: str = "", embedder_dims: int = 0) -> Mem0Backend:
    """The hosted platform when MEM0_API_KEY is set, else the open-source Memory from the config."""
    if settings.mem0_api_key:
        prepare_environment(settings)
        MemoryClient = _mem0_module().MemoryClient
        try:
            client = MemoryClient(api_key=settings.mem0_api_key, host=settings.mem0_host or None)
        except Exception as exc:
            raise ConfigurationError(f"the Mem0 platform did not answer: {type(exc).__name__}: {exc}") from exc
        return HostedMem0(client, timeout_ms=settings.mem0_timeout_ms)
    config = build_config(settings, embedder_url=embedder_url, embedder_dims=embedder_dims)
    return LocalMem0(open_memory(settings, config), timeout_ms=settings.mem0_timeout_ms)
