"""Chat models over any OpenAI-compatible endpoint (OpenAI, DashScope, vLLM, Ollama, llama.cpp server).

`openai` is imported only when a model is built, so `import memory_core` stays light. API keys live in
the client alone: they are not part of a model's name, its errors or any trace.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from ..chat import ChatMessage, Completion, messages_to_dicts
from ..errors import ProviderError
from ..settings import LLMConfig

# Local servers (Ollama, llama.cpp, vLLM) accept any key, but the client insists on having one.
KEYLESS = "not-needed"


class OpenAIChatModel:
    """A chat model on the `openai` client: one request per call, no retries, its own timeout."""

    def __init__(self, config: LLMConfig, *, client: Any = None) -> None:
        self.config = config
        self.name = config.describe()
        self._client = client or _client(config)

    def close(self) -> None:
        self._client.close()

    def complete(self, messages: Sequence[ChatMessage]) -> Completion:
        try:
            response = self._client.chat.completions.create(**self._request(messages))
            # The client accepts JSON of the wrong shape without complaint; reading it is where it fails.
            text = response.choices[0].message.content or ""
            usage = getattr(response, "usage", None)
            completion = Completion(
                text=str(text),
                model=f"{response.model or self.config.model} @ {self.config.endpoint}",
                prompt_tokens=getattr(usage, "prompt_tokens", None),
                completion_tokens=getattr(usage, "completion_tokens", None),
            )
        except Exception as exc:
            raise _provider_error(exc) from None
        return completion

    def stream(self, messages: Sequence[ChatMessage]) -> Iterator[str]:
        """The answer's text pieces as the endpoint sends them."""
        try:
            stream = self._client.chat.completions.create(**self._request(messages), stream=True)
            with stream:
                for chunk in stream:
                    for choice in chunk.choices or ():
                        piece = getattr(choice.delta, "content", None)
                        if piece:
                            yield piece
        except ProviderError:
            raise
        except Exception as exc:
            raise _provider_error(exc) from None

    def _request(self, messages: Sequence[ChatMessage]) -> dict[str, Any]:
        request: dict[str, Any] = {"model": self.config.model, "messages": messages_to_dicts(messages)}
        if self.config.temperature is not None:
            request["temperature"] = self.config.temperature
        if self.config.max_tokens is not None:
            request["max_tokens"] = self.config.max_tokens
        return request


def build_chat_model(config: LLMConfig | None) -> OpenAIChatModel | None:
    """A model for the configured endpoint, or None when no endpoint or key is set."""
    return OpenAIChatModel(config) if config is not None and config.configured else None


def _client(config: LLMConfig) -> Any:
    from openai import OpenAI

    return OpenAI(
        base_url=config.base_url or None,
        api_key=config.api_key or KEYLESS,
        timeout=config.timeout_ms / 1000,
        max_retries=0,  # the caller's deadline is the only bound; retries would blow through it
    )


def _provider_error(exc: Exception) -> ProviderError:
    # openai's messages carry the status and the endpoint's error text, never the request headers.
    return ProviderError(f"{type(exc).__name__}: {exc}")
