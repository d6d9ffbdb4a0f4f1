"""The real `openai` client against a real llama.cpp server on SmolLM2-135M (optional: requirements-llama.txt)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import openai
import pytest
from llama_server import MODEL_NAME, LlamaServer, require_llama, running_llama_server, smollm2_gguf
from openai import OpenAI
from openai.types.chat import ChatCompletionMessageParam
from openai.types.shared_params.response_format_json_schema import JSONSchema

DECISION_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {"should_recall": {"type": "boolean"}, "reason": {"type": "string", "maxLength": 60}},
    "required": ["should_recall", "reason"],
    "additionalProperties": False,
}
JUDGE: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "Decide whether to search the user's long-term memory. Answer in JSON."},
    {"role": "user", "content": 'Message: "What did I tell you about my sister last week?"'},
]
HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Say hello in five words."}]
ENDLESS: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Tell me a very long story about dragons."}]
# ignore_eos (a llama.cpp extension) keeps generating until max_tokens: at ~50 tokens/s, half a minute.
KEEP_GOING = {"ignore_eos": True}


@pytest.fixture(scope="module")
def llama() -> Iterator[LlamaServer]:
    """One server per module: starting it (loading the model) is the expensive part."""
    require_llama()
    with running_llama_server() as server:
        yield server


@pytest.fixture
def client(llama: LlamaServer) -> Iterator[OpenAI]:
    c = OpenAI(base_url=llama.base_url, api_key="none", max_retries=0, timeout=60)
    yield c
    c.close()


def quick_reply_seconds(client: OpenAI, model: str) -> float:
    """How long a 5-token answer takes: seconds when the slot is free, the rest of any generation if not."""
    start = time.monotonic()
    client.chat.completions.create(model=model, messages=HELLO, max_tokens=5, temperature=0)
    return time.monotonic() - start


def test_the_gguf_comes_from_the_installed_package() -> None:
    require_llama()
    path = smollm2_gguf()
    assert path is not None and path.name.endswith(".gguf")
    with path.open("rb") as model:
        assert model.read(4) == b"GGUF"


def test_more_threads_than_cores_are_refused() -> None:
    with pytest.raises(ValueError, match="threads"), running_llama_server(threads=3):
        pass


def test_a_chat_completion_returns_text_usage_and_the_alias_as_model(llama: LlamaServer, client: OpenAI) -> None:
    response = client.chat.completions.create(model="anything", messages=HELLO, max_tokens=20, temperature=0)
    assert llama.model == MODEL_NAME
    assert response.model == MODEL_NAME  # the server's alias, whatever the request named
    assert (response.choices[0].message.content or "").strip()
    assert response.usage is not None
    assert response.usage.prompt_tokens > 5 and 0 < response.usage.completion_tokens <= 20
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens


def test_streaming_yields_deltas_and_usage_in_the_last_chunk(llama: LlamaServer, client: OpenAI) -> None:
    stream = client.chat.completions.create(
        model=llama.model, messages=HELLO, max_tokens=12, temperature=0, stream=True,
        stream_options={"include_usage": True},
    )  # fmt: skip
    with stream:
        chunks = list(stream)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text.strip() and sum(1 for chunk in chunks if chunk.choices and chunk.choices[0].delta.content) > 1
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert 0 < chunks[-1].usage.completion_tokens <= 12
    assert all(chunk.usage is None for chunk in chunks[:-1])


def test_streaming_without_include_usage_reports_no_usage(llama: LlamaServer, client: OpenAI) -> None:
    with client.chat.completions.create(model=llama.model, messages=HELLO, max_tokens=5, stream=True) as stream:
        chunks = list(stream)
    assert chunks and all(chunk.usage is None for chunk in chunks)


def test_a_json_schema_response_format_constrains_the_answer(llama: LlamaServer, client: OpenAI) -> None:
    schema: JSONSchema = {"name": "recall_decision", "schema": DECISION_SCHEMA, "strict": True}
    response = client.chat.completions.create(
        model=llama.model, messages=JUDGE, max_tokens=80, temperature=0,
        response_format={"type": "json_schema", "json_schema": schema},
    )  # fmt: skip
    assert response.choices[0].finish_reason == "stop"
    answer = json.loads(response.choices[0].message.content or "")
    assert set(answer) == {"should_recall", "reason"}
    assert isinstance(answer["should_recall"], bool) and isinstance(answer["reason"], str)
    assert len(answer["reason"]) <= 60


def test_json_object_gives_parseable_json(llama: LlamaServer, client: OpenAI) -> None:
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": "Reply with a JSON object."},
        {"role": "user", "content": 'Give the capital of France as {"capital": ...}.'},
    ]
    response = client.chat.completions.create(
        model=llama.model, messages=messages, max_tokens=40, temperature=0, response_format={"type": "json_object"}
    )
    assert response.choices[0].finish_reason == "stop"
    assert isinstance(json.loads(response.choices[0].message.content or ""), dict)


def test_a_constrained_answer_cut_by_max_tokens_is_not_json(llama: LlamaServer, client: OpenAI) -> None:
    """The grammar guarantees valid JSON only if the answer ends: check finish_reason before parsing."""
    response = client.chat.completions.create(
        model=llama.model, messages=JUDGE, max_tokens=3, temperature=0,
        response_format={"type": "json_schema", "json_schema": {"name": "d", "schema": DECISION_SCHEMA}},
    )  # fmt: skip
    assert response.choices[0].finish_reason == "length"
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.choices[0].message.content or "")


BROKEN_SCHEMA = {"type": "json_schema", "json_schema": {"name": "d", "schema": {"type": "nope"}}}


@pytest.mark.parametrize("response_format", [{"type": "xml"}, BROKEN_SCHEMA], ids=["unknown type", "broken schema"])
def test_an_unknown_format_or_a_broken_schema_is_a_400(
    llama: LlamaServer, client: OpenAI, response_format: dict[str, object]
) -> None:
    """A 4xx, so a caller can fall back to a plain prompt; the message names only "text" and "json_object"."""
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(
            model=llama.model, messages=HELLO, max_tokens=5, extra_body={"response_format": response_format}
        )
    assert raised.value.status_code == 400


def test_max_tokens_is_honoured(llama: LlamaServer, client: OpenAI) -> None:
    response = client.chat.completions.create(model=llama.model, messages=ENDLESS, max_tokens=7, temperature=0)
    assert response.choices[0].finish_reason == "length"
    assert response.usage is not None and response.usage.completion_tokens == 7


def test_a_non_streamed_request_abandoned_at_its_timeout_frees_the_slot(llama: LlamaServer, client: OpenAI) -> None:
    """With one slot, the next request would wait out ~1900 tokens (tens of seconds) if the server kept going."""
    impatient = client.with_options(timeout=0.5)
    with pytest.raises(openai.APITimeoutError):
        impatient.chat.completions.create(model=llama.model, messages=ENDLESS, max_tokens=1900, extra_body=KEEP_GOING)
    assert quick_reply_seconds(client, llama.model) < 8
    assert "cancel task" in llama.log()


def test_a_stream_closed_early_frees_the_slot(llama: LlamaServer, client: OpenAI) -> None:
    stream = client.chat.completions.create(
        model=llama.model, messages=ENDLESS, max_tokens=1900, extra_body=KEEP_GOING, stream=True
    )
    with stream:  # leaving the block closes the connection
        received = [chunk for chunk, _ in zip(stream, range(3), strict=False)]
    assert len(received) == 3
    assert quick_reply_seconds(client, llama.model) < 8
    assert llama.busy_slots() == 0
