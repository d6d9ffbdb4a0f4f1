"""Fakes used across tests: a scripted chat model (a real class with a `calls` list, not a mock)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from memory_core import ChatMessage, Completion


class ScriptedChatModel:
    """A chat model answering from a queue of texts or callables, recording every call."""

    def __init__(self, *answers: str | Callable[[Sequence[ChatMessage]], str]) -> None:
        self.answers = list(answers)
        self.calls: list[list[ChatMessage]] = []
        self.lock = threading.Lock()

    name = "scripted"

    def complete(self, messages: Sequence[ChatMessage]) -> Completion:
        with self.lock:
            self.calls.append(list(messages))
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
