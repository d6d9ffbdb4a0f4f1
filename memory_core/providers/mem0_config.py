"""Mem0's configuration, assembled from the reference's variables, and the environment it needs first.

Assembly follows spec §8 (split variables, or the JSON override that replaces them), with these
differences: the Qdrant path and Mem0's own files live under MEMTUNE_DATA_DIR, `embedding_model_dims`
always matches the embedder, and an invalid override is an error rather than a silent `Memory()`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from ..settings import Settings

# Construction needs an LLM key even when nothing will call the LLM (infer=False never does).
PLACEHOLDER_KEY = "offline-placeholder-never-used"
MEM0_ENVIRONMENT = {
    "MEM0_TELEMETRY": "False",  # read once at import: no PostHog, no notice fetch, no second store
    "HF_HUB_OFFLINE": "1",  # no hub downloads (fastembed's BM25 encoder would stall for 39 s offline)
    "ORT_DISABLE_TELEMETRY": "1",
    # chromadb's Settings read it. Measured with chromadb 1.5.9: its client's PostHog capture is a no-op and
    # mem0's Chroma wrapper passes anonymized_telemetry=False anyway; this covers any other chromadb client
    # in the process, and older chromadb releases that did send.
    "ANONYMIZED_TELEMETRY": "False",
}
# `chroma run`'s port when OPENTALKING_MEMORY_MEM0_VECTOR_STORE_PORT is unset.
CHROMA_PORT = 8000
# mem0 2.2.1's configs for these stores have no `embedding_model_dims` and reject unknown fields.
_STORES_WITHOUT_DIMS = frozenset(
    {"chroma", "databricks", "langchain", "neptune", "upstash_vector", "vertex_ai_vector_search"}
)


def mem0_dir(settings: Settings) -> Path:
    return Path(settings.data_dir) / "mem0"


def prepare_environment(settings: Settings) -> None:
    """Set what mem0 reads at import time; must run before `import mem0` (it is idempotent)."""
    for name, value in {**MEM0_ENVIRONMENT, "MEM0_DIR": str(mem0_dir(settings).resolve())}.items():
        os.environ[name] = value
    mem0_dir(settings).mkdir(parents=True, exist_ok=True)


def _block(provider: str, config: dict[str, Any]) -> dict[str, Any] | None:
    config = {k: v for k, v in config.items() if v not in ("", None, 0)}
    if not provider and not config:
        return None
    return {"provider": provider or "openai", "config": config}


def _url_key(provider: str) -> str:
    return "openai_base_url" if (provider or "openai") == "openai" else "base_url"


def split_config(settings: Settings, *, embedder_url: str = "", embedder_dims: int = 0) -> dict[str, Any]:
    """The config from OPENTALKING_MEMORY_MEM0_* (embedder_url: a local embeddings server to use instead)."""
    llm_provider = settings.mem0_llm_provider
    llm = _block(
        llm_provider,
        {
            "model": settings.mem0_llm_model,
            "api_key": settings.mem0_llm_api_key or PLACEHOLDER_KEY,
            _url_key(llm_provider): settings.mem0_llm_base_url,
        },
    )
    emb_provider = settings.mem0_embedder_provider
    dims = embedder_dims or settings.mem0_embedder_dims
    embedder = _block(
        emb_provider,
        {
            "model": settings.mem0_embedder_model if not embedder_url else "e5-query",
            "api_key": settings.mem0_embedder_api_key or PLACEHOLDER_KEY,
            _url_key(emb_provider): embedder_url or settings.mem0_embedder_base_url,
            "embedding_dims": dims,
        },
    )
    config: dict[str, Any] = {"llm": llm, "embedder": embedder, "vector_store": _vector_store(settings, dims)}
    config["history_db_path"] = str(mem0_dir(settings) / "history.db")
    return _normalised({k: v for k, v in config.items() if v is not None})


def _vector_store(settings: Settings, dims: int) -> dict[str, Any] | None:
    provider = settings.mem0_vector_store_provider
    if provider == "chroma":
        return {"provider": "chroma", "config": _chroma_store(settings)}
    if not provider:
        return None
    path = settings.mem0_vector_store_path or str(Path(settings.data_dir) / "mem0_qdrant")
    store = {
        "collection_name": settings.mem0_collection,
        "path": "" if settings.mem0_vector_store_host else path,
        "host": settings.mem0_vector_store_host,
        "port": settings.mem0_vector_store_port,
        "embedding_model_dims": dims,
    }
    return _block(provider, store)


def _chroma_store(settings: Settings) -> dict[str, Any]:
    """A Chroma server at host:port, which any number of processes share; without a host, Chroma on a path."""
    store: dict[str, Any] = {"collection_name": settings.mem0_collection}
    if not settings.mem0_vector_store_host:
        return {**store, "path": settings.mem0_vector_store_path or str(Path(settings.data_dir) / "mem0_chroma")}
    # path stays, as None: left out, mem0 would fill in /tmp/chroma.
    port = settings.mem0_vector_store_port or CHROMA_PORT
    return {**store, "host": settings.mem0_vector_store_host, "port": port, "path": None}


def json_config(raw: str) -> dict[str, Any]:
    """OPENTALKING_MEMORY_MEM0_CONFIG, which replaces the split variables entirely."""
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"OPENTALKING_MEMORY_MEM0_CONFIG is not valid JSON: {exc.msg}") from None
    if not isinstance(config, dict):
        raise ConfigurationError("OPENTALKING_MEMORY_MEM0_CONFIG must be a JSON object")
    return _normalised(config)


def _normalised(config: dict[str, Any]) -> dict[str, Any]:
    """Qdrant on a path gets on_disk; the vector store's dims follow the embedder's (where it has any)."""
    store = config.get("vector_store") or {}
    store_config = store.get("config") or {}
    if store.get("provider", "qdrant") == "qdrant" and store_config.get("path") and "on_disk" not in store_config:
        store_config["on_disk"] = True
    dims = ((config.get("embedder") or {}).get("config") or {}).get("embedding_dims")
    if dims and store_config and store.get("provider", "qdrant") not in _STORES_WITHOUT_DIMS:
        store_config["embedding_model_dims"] = dims
    return config


def build_config(settings: Settings, *, embedder_url: str = "", embedder_dims: int = 0) -> dict[str, Any]:
    if settings.mem0_config.strip():
        config = json_config(settings.mem0_config)
        # Left to itself, Qdrant would settle in /tmp/qdrant: keep it in the data directory.
        store = config.setdefault("vector_store", {"provider": "qdrant", "config": {}})
        store_config = store.setdefault("config", {})
        if store.get("provider", "qdrant") == "qdrant" and not any(
            store_config.get(k) for k in ("path", "host", "url")
        ):
            store_config.update(path=str(Path(settings.data_dir) / "mem0_qdrant"), on_disk=True)
        return config
    return split_config(settings, embedder_url=embedder_url, embedder_dims=embedder_dims)


def describe(config: dict[str, Any]) -> dict[str, Any]:
    """The config with every key and secret hidden, for the console and logs."""

    def scrub(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: scrub(v, k) for k, v in value.items()}
        if "key" in key.lower() or "token" in key.lower() or "password" in key.lower():
            return "set (hidden)" if value else ""
        return value

    return dict(scrub(config))
