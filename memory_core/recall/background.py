"""How close a memory sits to questions in general: the per-memory half of dense calibration.

Some memories are near every query. A long introduction ("Hi, I'm Priya, I work at ... and my dog ..."), a
session summary or a code-switched line scores a high cosine against any personal question, so a high cosine
from it says less than the same cosine from a short, single-fact memory. Each memory's *hub* is its median
cosine to a fixed set of ordinary questions in each query language (`data/background-queries.json`, written
for this project, about no library in particular). Calibration (relevance.py) centres a memory's cosine
half-way between the language pair's background mean and the memory's own hub, so a memory close to
everything no longer outranks one that answers the query.

The questions' vectors ship for the embedder the calibration was fitted with (`data/background-vectors.npz`,
written by `python -m memory_core relevance train`); with any other embedder there is no hub and calibration
reads the cosine alone.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .embeddings import LANGUAGES, Embedder

QUERIES_FILE = Path(__file__).parent / "data" / "background-queries.json"
VECTORS_FILE = Path(__file__).parent / "data" / "background-vectors.npz"
Float32s = npt.NDArray[np.float32]
CHUNK = 4096


def background_queries(path: Path = QUERIES_FILE) -> tuple[tuple[str, ...], npt.NDArray[np.int8]]:
    """The questions, and each one's language code (its language's index in LANGUAGES)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    texts = [(text, code) for code, lang in enumerate(LANGUAGES) for text in data[lang]]
    return tuple(t for t, _ in texts), np.array([c for _, c in texts], dtype=np.int8)


def texts_digest(texts: tuple[str, ...]) -> str:
    return hashlib.sha1("\n".join(texts).encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True, eq=False)
class Background:
    """The questions' vectors (float64, one row each) and their language codes."""

    model: str
    vectors: npt.NDArray[np.float64]
    langs: npt.NDArray[np.int8]

    def hub(self, rows: npt.NDArray[np.floating]) -> Float32s:
        """Each row's median cosine to the questions of each language: shape (rows, languages).

        Computed in float64 and rounded to float32, so a row gets the same hub whether it is placed alone or
        in a batch (float32 products would round differently with the batch's shape).
        """
        rows = np.atleast_2d(rows)
        hub = np.zeros((len(rows), len(LANGUAGES)), dtype=np.float32)
        for start in range(0, len(rows), CHUNK):  # a library's first load: float64 copies of a chunk at a time
            cosine = rows[start : start + CHUNK].astype(np.float64) @ self.vectors.T
            for code in range(len(LANGUAGES)):
                hub[start : start + CHUNK, code] = np.median(cosine[:, self.langs == code], axis=1)
        return hub

    def save(self, path: Path = VECTORS_FILE) -> None:
        texts, _ = background_queries()
        np.savez(path, model=np.array(self.model), digest=np.array(texts_digest(texts)),
                 vectors=self.vectors.astype(np.float32), langs=self.langs)  # fmt: skip


def embed_background(embedder: Embedder) -> Background:
    """The questions embedded as queries by this embedder."""
    texts, langs = background_queries()
    vectors = embedder.embed(list(texts), kind="query").astype(np.float64)
    return Background(embedder.name, vectors, langs)


def shipped_background(model: str, path: Path = VECTORS_FILE) -> Background | None:
    """The shipped vectors when they were embedded by this model from the current questions, else None."""
    if not path.exists():
        return None
    with np.load(path) as data:
        texts, _ = background_queries()
        if str(data["model"]) != model or str(data["digest"]) != texts_digest(texts):
            return None
        return Background(model, data["vectors"].astype(np.float64), data["langs"].astype(np.int8))
