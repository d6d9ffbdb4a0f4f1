"""Chat messages, the chat-model seam, and bounded calls that record what they did.

The judge, the summariser, greetings and replies all go through `call_model` (or `stream_model`):
each call runs on a worker thread with a deadline that really cuts (a late answer is discarded, and the
model is told to stop: `CallOptions.cancel`, which closes the request), and comes back as an `LLMCall`
record for the trace, never as an exception. Every call has the same record: the model as configured and
as the endpoint reported it, tokens when reported, streamed or not, partial or not.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
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
    """A model's answer: the model the endpoint says answered, the token counts when it reports them, and why
    it stopped (``stop``; ``length`` at the token cap; ``timeout`` when the bound cut it)."""

    text: str
    model: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str = ""
    streamed: bool = False

    @property
    def cut(self) -> bool:
        """The answer stopped before the model finished it (its bound, not its own end or the token cap)."""
        return self.finish_reason == "timeout"


@dataclass(frozen=True)
class CallOptions:
    """How one call is bounded and shaped: the caller's bound (the session's setting, not the environment's),
    a token cap, a JSON schema the answer must follow where the endpoint can enforce one, and the event that
    tells the model to stop (set by `call_model` at the bound)."""

    timeout_ms: int
    max_tokens: int | None = None
    schema: Mapping[str, Any] | None = None
    cancel: threading.Event = field(default_factory=threading.Event, compare=False, repr=False)

    def deadline(self, started: float) -> float:
        return started + max(self.timeout_ms, 1) / 1000


class ChatModel(Protocol):
    """Anything that answers a list of messages (an OpenAI-compatible client, a fake in tests)."""

    def complete(self, messages: Sequence[ChatMessage], options: CallOptions) -> Completion: ...


@runtime_checkable
class StreamingChatModel(Protocol):
    """A chat model that can also yield its answer piece by piece, then the whole `Completion`."""

    def complete(self, messages: Sequence[ChatMessage], options: CallOptions) -> Completion: ...

    def stream(self, messages: Sequence[ChatMessage], options: CallOptions) -> Iterator[str | Completion]: ...


@dataclass(frozen=True)
class LLMCall:
    """One model call as the trace shows it: what was asked, what came back, how long it took."""

    purpose: str  # judge | reply | summary | greeting | reply_without_memory
    model: str  # as configured
    messages: tuple[ChatMessage, ...]
    answer: str = ""
    latency_ms: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    error: str = ""
    parsed: Mapping[str, Any] | None = None
    reported_model: str = ""  # as the endpoint reported it
    streamed: bool = False
    partial: bool = False  # the answer was cut at the bound; `answer` is what had arrived
    finish_reason: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


def messages_to_dicts(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    return [m.to_dict() for m in messages]


def model_name(model: object) -> str:
    """How a model names itself in traces (no credentials ever): its `name`, else its class."""
    return str(getattr(model, "name", "") or type(model).__name__)


_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="llm-call")
_CLOSING_S = 0.25  # how long a cut stream's record is waited for: the model closes its request at once


def call_model(
    model: ChatModel, messages: Sequence[ChatMessage], *, purpose: str, options: CallOptions
) -> tuple[Completion | None, LLMCall]:
    """Ask the model within ``options``' bound; returns the completion (None on failure, or when the bound
    cut the answer) and the call record. At the bound the model is told to stop, not left running."""
    started = time.perf_counter()
    asked = tuple(messages)
    future: Future[Completion] = _POOL.submit(model.complete, asked, options)
    try:
        completion = future.result(timeout=max(options.timeout_ms, 1) / 1000)
    except FutureTimeout:
        options.cancel.set()  # the model closes its request; a late answer is discarded
        future.cancel()
        return None, _failed(model, asked, purpose, started, timeout_message(options.timeout_ms))
    except Exception as exc:  # every provider failure becomes a recorded error, never a lost turn
        return None, _failed(model, asked, purpose, started, f"{type(exc).__name__}: {exc}")
    call = record(model, purpose, asked, completion, started)
    if completion.cut:  # the model's own watch of the same bound stopped it first
        return None, replace(call, error=timeout_message(options.timeout_ms))
    return completion, call


def record(
    model: object, purpose: str, asked: tuple[ChatMessage, ...], completion: Completion, started: float
) -> LLMCall:
    """The call record of an answer, cut or whole."""
    return LLMCall(
        purpose=purpose,
        model=model_name(model),
        messages=asked,
        answer=completion.text,
        latency_ms=_ms(started),
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        error=completion.finish_reason if completion.cut else "",
        reported_model=completion.model,
        streamed=completion.streamed,
        partial=completion.cut,
        finish_reason=completion.finish_reason,
    )


def timeout_message(timeout_ms: int) -> str:
    return f"timeout after {timeout_ms} ms"


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
    options: CallOptions,
    result: StreamResult,
) -> Iterator[str]:
    """Yield the answer's pieces as they arrive, stopping at the deadline (and telling the model to stop);
    `result` ends with the record, ``partial`` when the bound cut the answer."""
    started = time.perf_counter()
    asked = tuple(messages)
    pieces: queue.Queue[tuple[str, object]] = queue.Queue()
    _POOL.submit(_pump, model, asked, options, pieces)
    deadline, error, final = options.deadline(started), "", None
    while True:
        try:
            kind, value = pieces.get(timeout=max(deadline - time.perf_counter(), 0.0))
        except queue.Empty:
            options.cancel.set()
            error = timeout_message(options.timeout_ms)
            final = _closing_record(pieces)
            break
        if kind == "piece":
            result.text += str(value)
            yield str(value)
        elif kind == "error":
            error = str(value)
            break
        else:
            final = value if isinstance(value, Completion) else None
            error = timeout_message(options.timeout_ms) if final is not None and final.cut else ""
            break
    result.call = _streamed_call(model, purpose, asked, result.text, final, error, started)


def _closing_record(pieces: queue.Queue[tuple[str, object]]) -> Completion | None:
    """The model's own record of a stream cut at the bound (its reported model and tokens), if it comes at once."""
    closing = time.perf_counter() + _CLOSING_S
    while (left := closing - time.perf_counter()) > 0:
        try:
            kind, value = pieces.get(timeout=left)
        except queue.Empty:
            return None
        if kind == "done" and isinstance(value, Completion):
            return value
    return None


def _streamed_call(
    model: object, purpose: str, asked: tuple[ChatMessage, ...], text: str, final: Completion | None, error: str,
    started: float,
) -> LLMCall:  # fmt: skip
    if final is not None and not error:
        return record(model, purpose, asked, replace(final, text=text, streamed=True), started)
    timed_out = error.startswith("timeout")
    reported = final if final is not None else Completion("")
    return LLMCall(purpose, model_name(model), asked, text, _ms(started), reported.prompt_tokens,
                   reported.completion_tokens, error=error, reported_model=reported.model, streamed=True,
                   partial=timed_out and bool(text), finish_reason="timeout" if timed_out else "")  # fmt: skip


def _pump(
    model: StreamingChatModel, messages: tuple[ChatMessage, ...], options: CallOptions, out: queue.Queue[Any]
) -> None:
    """Forward the model's pieces until it ends or is told to stop; its closing record goes last either way."""
    final: Completion | None = None
    try:
        for event in model.stream(messages, options):
            if isinstance(event, Completion):
                final = event
            elif not options.cancel.is_set():
                out.put(("piece", event))
    except Exception as exc:
        out.put(("error", f"{type(exc).__name__}: {exc}"))
        return
    out.put(("done", final))


def _failed(model: object, messages: tuple[ChatMessage, ...], purpose: str, started: float, error: str) -> LLMCall:
    return LLMCall(purpose, model_name(model), messages, latency_ms=_ms(started), error=error)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
