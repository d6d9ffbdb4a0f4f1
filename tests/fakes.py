"""Fakes used across tests: a scripted chat model (a real class with a `calls` list, not a mock)."""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from memory_core import ChatMessage, Completion
from memory_core.chat import CallOptions


class ScriptedChatModel:
    """A chat model answering from a queue of texts or callables, recording every call."""

    def __init__(self, *answers: str | Callable[[Sequence[ChatMessage]], str]) -> None:
        self.answers = list(answers)
        self.calls: list[list[ChatMessage]] = []
        self.options: list[CallOptions | None] = []
        self.lock = threading.Lock()

    name = "scripted"

    def complete(self, messages: Sequence[ChatMessage], options: CallOptions | None = None) -> Completion:
        with self.lock:
            self.calls.append(list(messages))
            self.options.append(options)
            answer = self.answers.pop(0) if self.answers else "ok"
        return Completion(answer(messages) if callable(answer) else answer)


def slow(seconds: float, answer: str) -> Callable[[Sequence[ChatMessage]], str]:
    def respond(messages: Sequence[ChatMessage]) -> str:
        time.sleep(seconds)
        return answer

    return respond


def failing(exc: Exception) -> Callable[[Sequence[ChatMessage]], str]:
    def respond(messages: Sequence[ChatMessage]) -> str:
        raise exc

    return respond


class HashingEmbedder:
    """A deterministic embedder (character bigrams hashed into buckets) that counts what it embeds."""

    def __init__(self, name: str = "hashing-16", dims: int = 16) -> None:
        self.name = name
        self.dims = dims
        self.embedded: list[str] = []

    def embed(self, texts: Sequence[str], *, kind: str) -> np.ndarray:
        if kind == "passage":
            self.embedded += list(texts)
        rows = np.zeros((len(texts), self.dims), dtype=np.float32)
        for row, text in zip(rows, texts, strict=True):
            lowered = text.lower()
            for a, b in itertools.pairwise(lowered):
                digest = hashlib.blake2b((a + b).encode(), digest_size=4).digest()
                row[int.from_bytes(digest, "little") % self.dims] += 1.0
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)


def nested(depth: int) -> dict[str, Any]:
    """A dict ``depth`` levels deep, built without recursion (so any depth can be made)."""
    top: dict[str, Any] = {}
    level = top
    for _ in range(depth - 1):
        level["a"] = {}
        level = level["a"]
    return top
