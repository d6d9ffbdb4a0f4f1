"""Calibrated relevance: how likely a memory is to help with a query, on one scale for every language pair.

A multilingual embedder scores a same-language pair higher than a cross-language one whatever the meaning,
and its cosines crowd into a narrow band (e5: 0.7 to 0.9), so a raw cosine says little and a threshold on it
means something different for every pair of languages. Here:

1. The cosine is standardised against unrelated pairs of the same query and memory languages, centred
   half-way between the pair's mean and the memory's own hub (its median cosine to ordinary questions, see
   background.py: a memory near every question gains less from a high cosine): z = (cosine - centre) / std,
   with the means and spread measured on the project's own retrieval set for the embedder that ships
   (`data/relevance.json`, built by `python -m memory_core relevance train`). For any other embedder the
   query's own cosines to the library stand in for the background (median and MAD per memory language: most
   of a library is unrelated to any one query).
2. A logistic regression turns z, how far z falls below the query's best memory, and the lexical evidence
   (BM25 scaled by the query's best, the share of the query's terms the memory holds, an exact shared entity,
   a name question meeting a declared name) into a probability. When nothing is likely to help, nothing
   passes; an exact entity or a declared name weighs more than any semantic gap, so a strong lexical match is
   not cut because another memory is semantically closer.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .embeddings import LANGUAGES, language_of
from .lexical import ScoredMemory
from .logistic import sigmoid

PARAMETERS_FILE = Path(__file__).parent / "data" / "relevance.json"
# Our own: facts as a memory engine keeps them, and libraries as chats leave them (turns, corrections, summaries).
TRAINING_FILES = tuple(Path(__file__).parent / "data" / name for name in ("relevance-train.json",
                                                                          "relevance-train-chat.json"))  # fmt: skip
LEXICAL_FEATURES = ("bm25_norm", "coverage", "entity", "name")
FUSED_FEATURES = ("z", "gap", *LEXICAL_FEATURES)
HUB_WEIGHT = 0.5  # the memory's hub's share of the centre, the pair's mean has the rest (chosen on own data)
MIN_BACKGROUND = 8  # fewer memories of a language than this: the library's cosines pooled stand in
Floats = npt.NDArray[np.float64]
Codes = npt.NDArray[np.int8]


def language_code(text: str) -> int:
    return LANGUAGES.index(language_of(text))


@dataclass(frozen=True)
class Lexical:
    """Lexical evidence per memory, aligned with the library's memories (0 where BM25 did not match)."""

    bm25_norm: Floats
    coverage: Floats
    entity: Floats
    name: Floats

    def matrix(self) -> Floats:
        return np.column_stack([self.bm25_norm, self.coverage, self.entity, self.name])

    def at(self, positions: npt.NDArray[np.intp]) -> Lexical:
        """The evidence of the memories at these positions only."""
        return Lexical(self.bm25_norm[positions], self.coverage[positions], self.entity[positions],
                       self.name[positions])  # fmt: skip


def lexical_evidence(hits: Sequence[ScoredMemory], positions: Sequence[int], size: int, query_terms: int) -> Lexical:
    """The evidence of BM25's hits, placed at `positions` (each hit's index among the library's memories)."""
    arrays = [np.zeros(size) for _ in LEXICAL_FEATURES]
    if hits:
        at = np.asarray(positions, dtype=np.int64)
        bm25 = np.array([hit.bm25 for hit in hits])
        arrays[0][at] = bm25 / bm25.max() if bm25.max() > 0 else 0.0
        arrays[1][at] = [len(hit.matched_terms) / query_terms if query_terms else 0.0 for hit in hits]
        arrays[2][at] = [1.0 if hit.matched_entities else 0.0 for hit in hits]
        arrays[3][at] = [1.0 if hit.name_boost > 0 else 0.0 for hit in hits]
    return Lexical(*arrays)


def fused_features(z: Floats, lexical: Lexical, top: float | None = None) -> Floats:
    """One row per memory: z, its gap below the query's best z (`top`, else the best of `z`: 0 for the best),
    then the lexical evidence."""
    gap = z - (z.max() if top is None else top) if len(z) else z
    return np.column_stack([z, gap, lexical.matrix()])


def library_z(cosine: Floats, memory_langs: Codes) -> Floats:
    """z against the query's own cosines to the library, per memory language (robust: median and MAD)."""
    out = np.zeros(len(cosine))
    for code in range(len(LANGUAGES)):
        members = memory_langs == code
        pool = cosine[members] if members.sum() >= MIN_BACKGROUND else cosine
        if members.any():
            out[members] = _robust_z(cosine[members], pool)
    return out


def centre(pair_mean: Floats, hub: npt.ArrayLike | None) -> Floats:
    """What an unrelated pair's cosine is expected to be: the pair's mean, moved half-way to the memory's hub."""
    return pair_mean if hub is None else (1 - HUB_WEIGHT) * pair_mean + HUB_WEIGHT * np.asarray(hub, np.float64)


def _robust_z(values: Floats, pool: Floats) -> Floats:
    centre = float(np.median(pool))
    spread = 1.4826 * float(np.median(np.abs(pool - centre)))
    return (values - centre) / spread if spread > 1e-6 else np.zeros(len(values))


@dataclass(frozen=True)
class Calibration:
    """The fitted parameters: the background per language pair, and the two regressions over z."""

    model: str  # the embedder the background was measured with; "" for the library's own background
    background: tuple[tuple[float, float], ...]  # (mean, std) of unrelated pairs, index query * 2 + memory
    dense: tuple[float, float]  # weight of z and bias: relevance from meaning alone
    fused: tuple[float, ...]  # weights of FUSED_FEATURES, then the bias

    @property
    def fitted(self) -> bool:
        """Whether the background was measured for the embedder in use (else relevance is an estimate)."""
        return bool(self.background)

    def z(self, cosine: Floats, memory_langs: Codes, query_lang: int, hub: npt.ArrayLike | None = None) -> Floats:
        """The cosines standardised against unrelated pairs of the same languages; `hub` is each memory's hub
        for the query's language (None: the pair's mean alone is the centre)."""
        cosine = np.asarray(cosine, dtype=np.float64)
        if not self.background:
            return library_z(cosine if hub is None else cosine - HUB_WEIGHT * np.asarray(hub, np.float64), memory_langs)
        stats = np.array(self.background).reshape(len(LANGUAGES), len(LANGUAGES), 2)[query_lang]
        z: Floats = (cosine - centre(stats[memory_langs, 0], hub)) / stats[memory_langs, 1]
        return z

    def dense_relevance(self, z: Floats) -> Floats:
        weight, bias = self.dense
        return sigmoid(weight * z + bias)

    def fused_relevance(self, z: Floats, lexical: Lexical, top: float | None = None) -> Floats:
        """`top` is the query's best z over the whole library when `z` holds only some of its memories."""
        return sigmoid(fused_features(z, lexical, top) @ np.array(self.fused[:-1]) + self.fused[-1])

    def for_embedder(self, name: str) -> Calibration:
        """These parameters when they were fitted for this embedder; else the same regressions over the
        library's own background."""
        return self if name == self.model else Calibration("", (), self.dense, self.fused)

    def save(self, path: Path) -> None:
        data = {"model": self.model, "background": self.background, "dense": self.dense, "fused": self.fused,
                "features": FUSED_FEATURES}  # fmt: skip
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path = PARAMETERS_FILE) -> Calibration:
        data = json.loads(path.read_text(encoding="utf-8"))
        background = tuple((float(m), float(s)) for m, s in data["background"])
        return cls(str(data["model"]), background, _floats(data["dense"]), _floats(data["fused"]))  # type: ignore[arg-type]


def _floats(values: Sequence[float]) -> tuple[float, ...]:
    return tuple(float(v) for v in values)
