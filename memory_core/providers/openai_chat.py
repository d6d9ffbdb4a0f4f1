"""Chat models over any OpenAI-compatible endpoint (OpenAI, DashScope, vLLM, Ollama, llama.cpp server).

Every request is streamed, even when the caller wants the whole answer at once: closing a stream is how a
client tells a server to stop generating (llama.cpp, vLLM and Ollama free the slot when the connection
closes), so a call abandoned at its bound does not keep a single-slot server busy. Each request carries its
caller's bound as the client timeout, and the model stops reading at that bound or when told to.

Structured output (`response_format` with a JSON schema) is sent when the caller gives a schema; an endpoint
that rejects it, or rejects `stream_options`, is asked again without, and remembered, so the next call does
not pay for the refusal again.

`openai` is imported only when a model is built, so `import memory_core` stays light. API keys live in
the client alone: they are not part of a model's name, its errors or any trace.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..chat import CallOptions, ChatMessage, Completion, messages_to_dicts
from ..errors import ProviderError
from ..settings import LLMConfig

# Local servers (Ollama, llama.cpp, vLLM) accept any key, but the client insists on having one.
KEYLESS = "not-needed"
_REFUSED: dict[str, set[str]] = {}  # endpoint -> request features it rejected ("response_format", "stream_options")
_REFUSED_LOCK = threading.Lock()
_WATCH_S = 0.05  # how often a stream's watcher looks at its bound and its cancel event


class OpenAIChatModel:
    """A chat model on the `openai` client: one streamed request per call, no retries, the caller's bound."""

    def __init__(self, config: LLMConfig, *, client: Any = None) -> None:
        self.config = config
        self.name = config.describe()
        self._client = client or _client(config)

    def close(self) -> None:
        self._client.close()

    def complete(self, messages: Sequence[ChatMessage], options: CallOptions) -> Completion:
        """The whole answer (read from a stream, so that stopping early closes the request)."""
        final = Completion("")
        for event in self.stream(messages, options):
            if isinstance(event, Completion):
                final = event
        return final

    def stream(self, messages: Sequence[ChatMessage], options: CallOptions) -> Iterator[str | Completion]:
        """The answer's text pieces as the endpoint sends them, then the whole answer with its usage."""
        reader = _Reader(options, time.monotonic(), self.config.model)
        try:
            stream = self._open(messages, options)
            with stream, reader.watching(stream):
                yield from reader.read(stream)
        except ProviderError:
            raise
        except Exception as exc:
            if _timed_out(exc):
                reader.stopped = True  # the request's timeout is the caller's bound: it passed
            elif not reader.stopped:
                raise _provider_error(exc) from None
        if reader.chunks == 0 and not reader.stopped:
            raise ProviderError("the endpoint answered with no completion chunks (not an OpenAI-style stream)")
        yield reader.completion()

    def _open(self, messages: Sequence[ChatMessage], options: CallOptions) -> Any:
        """Start the request; drop a feature the endpoint refuses (and remember it) and ask once more."""
        request = self._request(messages, options)
        try:
            return self._client.chat.completions.create(**request)
        except Exception as exc:
            refused = _refused_feature(exc, request)
            if refused is None:
                raise
            _remember_refusal(self.config.endpoint, refused, True)
            try:
                return self._client.chat.completions.create(**self._request(messages, options))
            except Exception:
                _remember_refusal(self.config.endpoint, refused, False)  # it was not the feature after all
                raise

    def _request(self, messages: Sequence[ChatMessage], options: CallOptions) -> dict[str, Any]:
        refused = _refusals(self.config.endpoint)
        request: dict[str, Any] = {"model": self.config.model, "messages": messages_to_dicts(messages),
                                   "stream": True, "timeout": max(options.timeout_ms, 1) / 1000}  # fmt: skip
        if "stream_options" not in refused:
            request["stream_options"] = {"include_usage": True}
        if self.config.temperature is not None:
            request["temperature"] = self.config.temperature
        max_tokens = options.max_tokens if options.max_tokens is not None else self.config.max_tokens
        if max_tokens is not None:
            request["max_tokens"] = max_tokens
        if options.schema is not None and "response_format" not in refused:
            request["response_format"] = _response_format(options.schema)
        return request


class _Reader:
    """Reads one stream: its pieces, model, usage and finish reason; at the bound or on cancel it closes the
    stream from a watcher thread, so even a server still reading the prompt is told to stop at once."""

    def __init__(self, options: CallOptions, started: float, configured: str) -> None:
        self.options, self.deadline, self.configured = options, options.deadline(started), configured
        self.pieces: list[str] = []
        self.model, self.usage, self.finish = "", None, ""
        self.stopped = False
        self.chunks = 0

    def read(self, stream: Any) -> Iterator[str]:
        for chunk in stream:
            self.chunks += 1
            self.model = getattr(chunk, "model", "") or self.model
            self.usage = getattr(chunk, "usage", None) or self.usage
            for choice in getattr(chunk, "choices", None) or ():
                self.finish = getattr(choice, "finish_reason", None) or self.finish
                piece = getattr(choice.delta, "content", None)
                if piece:
                    self.pieces.append(piece)
                    yield piece
            if self._past_bound():
                self.stopped = True  # leaving the `with` closes the connection: the server stops generating
                return

    @contextlib.contextmanager
    def watching(self, stream: Any) -> Iterator[None]:
        finished = threading.Event()
        watcher = threading.Thread(target=self._watch, args=(stream, finished), daemon=True)
        watcher.start()
        try:
            yield
        finally:
            finished.set()

    def _watch(self, stream: Any, finished: threading.Event) -> None:
        while not finished.wait(_WATCH_S):
            if self._past_bound():
                self.stopped = True
                with contextlib.suppress(Exception):
                    stream.close()
                return

    def _past_bound(self) -> bool:
        return self.options.cancel.is_set() or time.monotonic() > self.deadline

    def completion(self) -> Completion:
        return Completion("".join(self.pieces), model=str(self.model or self.configured),
                          prompt_tokens=_tokens(self.usage, "prompt_tokens"),
                          completion_tokens=_tokens(self.usage, "completion_tokens"),
                          finish_reason="timeout" if self.stopped else str(self.finish), streamed=True)  # fmt: skip


def _timed_out(exc: BaseException) -> bool:
    """The client's own timeout (openai's APITimeoutError, httpx's timeouts), which is set to the bound."""
    return "timeout" in type(exc).__name__.lower()


def _tokens(usage: Any, name: str) -> int | None:
    value = getattr(usage, name, None)
    return value if isinstance(value, int) else None


def _response_format(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "verdict", "strict": True, "schema": dict(schema)}}


def _refused_feature(exc: Exception, request: Mapping[str, Any]) -> str | None:
    """The optional feature a 4xx answer names (or, when it names none, the one the request carried)."""
    status = getattr(exc, "status_code", None)
    if not isinstance(status, int) or not 400 <= status < 500 or status in (401, 403, 404, 429):
        return None
    message = str(exc).lower()
    carried = [name for name in ("response_format", "stream_options") if name in request]
    named = [name for name in carried if name in message or name.split("_")[0] in message]
    chosen = named or carried
    return chosen[0] if chosen else None


def _remember_refusal(endpoint: str, feature: str, refused: bool) -> None:
    with _REFUSED_LOCK:
        features = _REFUSED.setdefault(endpoint, set())
        if refused:
            features.add(feature)
        else:
            features.discard(feature)


def _refusals(endpoint: str) -> frozenset[str]:
    with _REFUSED_LOCK:
        return frozenset(_REFUSED.get(endpoint, ()))


def build_chat_model(config: LLMConfig | None) -> OpenAIChatModel | None:
    """A model for the configured endpoint, or None when no endpoint or key is set."""
    return OpenAIChatModel(config) if config is not None and config.configured else None


def _client(config: LLMConfig) -> Any:
    from openai import OpenAI

    return OpenAI(
        base_url=config.base_url or None,
        api_key=config.api_key or KEYLESS,
        timeout=config.timeout_ms / 1000,  # each request passes its caller's own bound instead
        max_retries=0,  # the caller's deadline is the only bound; retries would blow through it
    )


def _provider_error(exc: Exception) -> ProviderError:
    # openai's messages carry the status and the endpoint's error text, never the request headers.
    return ProviderError(f"{type(exc).__name__}: {exc}")
