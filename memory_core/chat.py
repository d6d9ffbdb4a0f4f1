"""Chat messages, the chat-model seam, and bounded calls that record what they did.

The judge, the summariser, greetings and replies all go through `call_model` (or `stream_model`):
each call runs on a worker thread with a deadline that really cuts (a late answer is discarded), and
comes back as an `LLMCall` record for the trace, never as an exception.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str

    def to_dict(self) -> dict[str, str]:
        """The OpenAI-style message dict, the form sent over the wire."""
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class Completion:
    """A model's answer, with the token counts when the endpoint reports them."""

    text: str
    model: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class ChatModel(Protocol):
    """Anything that answers a list of messages (an OpenAI-compatible client, a fake in tests)."""

    def complete(self, messages: Sequence[ChatMessage]) -> Completion: ...


@runtime_checkable
class StreamingChatModel(Protocol):
    """A chat model that can also yield its answer piece by piece."""

    def complete(self, messages: Sequence[ChatMessage]) -> Completion: ...

    def stream(self, messages: Sequence[ChatMessage]) -> Iterator[str]: ...


@dataclass(frozen=True)
class LLMCall:
    """One model call as the trace shows it: what was asked, what came back, how long it took."""

    purpose: str  # judge | reply | summary | greeting
    model: str
    messages: tuple[ChatMessage, ...]
    answer: str = ""
    latency_ms: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    error: str = ""
    parsed: Mapping[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.error


def messages_to_dicts(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    return [m.to_dict() for m in messages]


def model_name(model: object) -> str:
    """How a model names itself in traces (no credentials ever): its `name`, else its class."""
    return str(getattr(model, "name", "") or type(model).__name__)


_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="llm-call")


def call_model(
    model: ChatModel, messages: Sequence[ChatMessage], *, purpose: str, timeout_ms: int
) -> tuple[Completion | None, LLMCall]:
    """Ask the model with a deadline; returns the completion (None on failure) and the call record."""
    started = time.perf_counter()
    asked = tuple(messages)
    future: Future[Completion] = _POOL.submit(model.complete, asked)
    try:
        completion = future.result(timeout=max(timeout_ms, 1) / 1000)
    except FutureTimeout:
        future.cancel()  # a late answer is discarded
        return None, _failed(model, asked, purpose, started, f"timeout after {timeout_ms} ms")
    except Exception as exc:  # every provider failure becomes a recorded error, never a lost turn
        return None, _failed(model, asked, purpose, started, f"{type(exc).__name__}: {exc}")
    call = LLMCall(
        purpose=purpose,
        model=completion.model or model_name(model),
        messages=asked,
        answer=completion.text,
        latency_ms=_ms(started),
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
    )
    return completion, call


@dataclass
class StreamResult:
    """Filled in while `stream_model` runs: the text so far and, at the end, the call record."""

    text: str = ""
    call: LLMCall | None = None


def stream_model(
    model: StreamingChatModel,
    messages: Sequence[ChatMessage],
    *,
    purpose: str,
    timeout_ms: int,
    result: StreamResult,
) -> Iterator[str]:
    """Yield the answer's pieces as they arrive, stopping at the deadline; `result` ends with the record."""
    started = time.perf_counter()
    asked = tuple(messages)
    pieces: queue.Queue[tuple[str, object]] = queue.Queue()
    stop = threading.Event()
    _POOL.submit(_pump, model, asked, pieces, stop)
    deadline = started + max(timeout_ms, 1) / 1000
    error = ""
    while True:
        try:
            kind, value = pieces.get(timeout=max(deadline - time.perf_counter(), 0.0))
        except queue.Empty:
            error = f"timeout after {timeout_ms} ms"
            stop.set()
            break
        if kind == "piece":
            result.text += str(value)
            yield str(value)
        elif kind == "error":
            error = str(value)
            break
        else:
            break
    result.call = LLMCall(purpose, model_name(model), asked, result.text, _ms(started), error=error)


def _pump(
    model: StreamingChatModel, messages: tuple[ChatMessage, ...], out: queue.Queue[Any], stop: threading.Event
) -> None:
    try:
        for piece in model.stream(messages):
            if stop.is_set():
                return
            out.put(("piece", piece))
    except Exception as exc:
        out.put(("error", f"{type(exc).__name__}: {exc}"))
        return
    out.put(("done", None))


def _failed(model: object, messages: tuple[ChatMessage, ...], purpose: str, started: float, error: str) -> LLMCall:
    return LLMCall(purpose, model_name(model), messages, latency_ms=_ms(started), error=error)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
