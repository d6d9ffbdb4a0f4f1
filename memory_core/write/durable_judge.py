"""The write gate's second opinion: whether a message says something lasting about the user, from its meaning.

The gate's rules (`durable.py`) know lasting statements by their words: a first-person word or a relative,
and a kind of content. Words they lack ("老伴叫王秀兰", "Our collie sleeps under the shed") leave a lasting
fact unwritten, and the answer it held is then missing from every later recall. Where the rules find no
lasting sentence, this judge reads the message's multilingual e5 query embedding (the vector the recall
decision computed for the same message, so it costs no second embedding) with a logistic regression
trained on the project's own labelled messages (`data/gate-train.jsonl`; the shared dev data is for
validation only). Its parameters ship as `data/gate.npz`, built by `python -m memory_core judge train --kind write`,
and a test rebuilds them to check the shipped file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..decide.local_judge import Parameters, features, fit_parameters, shipped_parameters
from ..recall import logistic
from ..recall.embeddings import Embedder

DATA = Path(__file__).parent / "data"
TRAINING_FILE = DATA / "gate-train.jsonl"
PARAMETERS_FILE = DATA / "gate.npz"
# A message the rules left unwritten is written from this probability on. Above one half on purpose: a
# question or a passing remark written by mistake outranks the answers in later recalls.
THRESHOLD = 0.7
_L2 = 30.0


def training_rows(path: Path = TRAINING_FILE) -> list[tuple[str, bool]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(row["text"], bool(row["should_write"])) for row in rows]


def train(rows: Sequence[tuple[str, bool]], embedder: Embedder) -> Parameters:
    """Newton's method on the L2-regularised log loss (see `recall/logistic.py`), deterministic; the penalty as the
    recall judge's (5-fold cross-validation on the training file: 0.923 accuracy at 30, 0.909 at 3, 0.921 at 300)."""
    return fit_parameters(rows, embedder, _L2)


class DurableJudge:
    """A `WriteScorer`: the probability that a message lasts; the embedder must be the one it was trained on."""

    def __init__(self, embedder: Embedder, parameters: Parameters, threshold: float = THRESHOLD) -> None:
        if parameters.model != embedder.name:
            raise ValueError(f"the write judge was trained on {parameters.model} vectors, not {embedder.name}")
        self.embedder = embedder
        self.parameters = parameters
        self.threshold = threshold

    @classmethod
    def shipped(cls, embedder: Embedder | None, path: Path = PARAMETERS_FILE) -> DurableJudge | None:
        """The shipped judge for this embedder, or None (no embedder, no file, or another model's vectors)."""
        parameters = shipped_parameters(embedder, path)
        return cls(embedder, parameters) if embedder is not None and parameters is not None else None

    def durable_probability(self, text: str) -> float:
        vector = self.embedder.embed([text], kind="query")
        z = float(features(vector, [text])[0] @ self.parameters.weights + self.parameters.bias)
        return round(float(logistic.sigmoid(np.array([z]))[0]), 4)
