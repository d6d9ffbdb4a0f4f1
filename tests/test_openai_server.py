"""The local OpenAI-compatible server, driven by the real `openai` client and by plain httpx."""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from collections.abc import Iterator

import httpx
import numpy as np
import openai
import pytest
from openai import OpenAI
from openai.types.chat import ChatCompletionMessageParam
from openai_server import OpenAIServer, Reply, bigram_embedding, closed_port, split_words

HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Say hello to the tests"}]


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as s:
        yield s


@pytest.fixture
def client(server: OpenAIServer) -> Iterator[OpenAI]:
    c = OpenAI(base_url=server.base_url, api_key="test-key", max_retries=0)
    yield c
    c.close()


def ask(client: OpenAI, model: str = "test-model", **kwargs: object) -> str:
    response = client.chat.completions.create(model=model, messages=HELLO, **kwargs)  # type: ignore[call-overload]
    return str(response.choices[0].message.content)


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (math.hypot(*a) * math.hypot(*b))


def test_a_plain_completion_echoes_the_model_and_counts_tokens(server: OpenAIServer, client: OpenAI) -> None:
    server.script(Reply("Hello there, tests"))
    response = client.chat.completions.create(model="gpt-test", messages=HELLO)
    assert response.choices[0].message.content == "Hello there, tests"
    assert response.choices[0].message.role == "assistant"
    assert response.choices[0].finish_reason == "stop"
    assert response.model == "gpt-test"
    assert response.id.startswith("chatcmpl-")
    assert response.usage is not None
    assert (response.usage.prompt_tokens, response.usage.completion_tokens, response.usage.total_tokens) == (5, 3, 8)


def test_scripted_token_counts_override_the_derived_ones(server: OpenAIServer, client: OpenAI) -> None:
    server.script(Reply("x", prompt_tokens=120, completion_tokens=7))
    usage = client.chat.completions.create(model="m", messages=HELLO).usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (120, 7, 127)


def test_replies_are_consumed_in_order_then_the_default_answers(server: OpenAIServer, client: OpenAI) -> None:
    server.script("first", Reply("second"))
    assert [ask(client) for _ in range(3)] == ["first", "second", "ok"]
    server.default_reply = Reply("fallback")
    assert ask(client) == "fallback"
    assert len(server.chat_requests) == 4


def test_respond_computes_the_text_from_the_request(server: OpenAIServer, client: OpenAI) -> None:
    server.script(Reply(respond=lambda body: body["messages"][-1]["content"].upper()))
    assert ask(client) == "SAY HELLO TO THE TESTS"


def test_script_for_answers_matching_requests_before_the_queue(server: OpenAIServer, client: OpenAI) -> None:
    server.script_for(lambda body: body["model"] == "judge", Reply('{"should_recall": false}'))
    server.script("queued")
    assert ask(client, model="judge") == '{"should_recall": false}'
    assert ask(client, model="chat") == "queued"
    assert ask(client, model="judge") == '{"should_recall": false}'


def test_a_500_raises_internal_server_error_with_the_message(server: OpenAIServer, client: OpenAI) -> None:
    server.script(Reply("the model is overloaded", status=500))
    with pytest.raises(openai.InternalServerError) as caught:
        ask(client)
    assert caught.value.status_code == 500
    assert caught.value.body == {"message": "the model is overloaded", "type": "server_error", "code": None}
    assert ask(client) == "ok"  # the error was consumed, the server still answers


def test_a_body_that_is_not_json_raises_a_bare_json_error(server: OpenAIServer, client: OpenAI) -> None:
    # The client raises json.JSONDecodeError itself, not an openai.APIError: callers must catch more than APIError.
    server.script(Reply(raw_body="<html>bad gateway"))
    with pytest.raises(json.JSONDecodeError):
        ask(client)


def test_json_of_the_wrong_shape_comes_back_unvalidated(server: OpenAIServer, client: OpenAI) -> None:
    # Without strict validation the client builds the response anyway; the damage shows only when it is used.
    server.script(Reply(raw_body='{"choices": "nope"}'), Reply(raw_body="{}"))
    assert client.chat.completions.create(model="m", messages=HELLO).choices == "nope"  # type: ignore[comparison-overlap]
    assert client.chat.completions.create(model="m", messages=HELLO).choices is None


def test_a_raw_error_body_keeps_its_status(server: OpenAIServer, client: OpenAI) -> None:
    server.script(Reply(raw_body="upstream exploded", status=502))
    with pytest.raises(openai.InternalServerError) as caught:
        ask(client)
    assert caught.value.status_code == 502
    assert caught.value.body == "upstream exploded"


def test_a_stream_is_assembled_from_its_chunks_with_usage(server: OpenAIServer, client: OpenAI) -> None:
    server.script(Reply(chunks=["Hel", "lo ", "world"]))
    stream = client.chat.completions.create(
        model="m", messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    with stream:
        chunks = list(stream)
    pieces = [chunk.choices[0].delta.content for chunk in chunks if chunk.choices and chunk.choices[0].delta.content]
    assert "".join(pieces) == "Hello world"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [chunk.choices[0].finish_reason for chunk in chunks[:-1]] == [None, None, None, "stop"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (5, 2)
    assert server.chat_requests[0].body["stream"] is True


def test_a_stream_splits_the_text_into_words_by_default(server: OpenAIServer, client: OpenAI) -> None:
    server.script("one two  three")
    with client.chat.completions.create(model="m", messages=HELLO, stream=True) as stream:
        chunks = list(stream)
    assert [chunk.choices[0].delta.content for chunk in chunks] == ["one ", "two  ", "three", None]
    assert all(chunk.usage is None for chunk in chunks)


def test_the_stream_wire_format(server: OpenAIServer) -> None:
    server.script("a b")
    with httpx.stream("POST", f"{server.base_url}/chat/completions", json={"model": "m", "stream": True}) as response:
        assert response.headers["content-type"] == "text/event-stream"
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert [chunk["choices"][0]["delta"] for chunk in chunks] == [
        {"role": "assistant", "content": "a "},
        {"content": "b"},
        {},
    ]
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert len({chunk["id"] for chunk in chunks}) == 1


def test_a_delay_longer_than_the_timeout_raises_api_timeout_error(server: OpenAIServer, client: OpenAI) -> None:
    server.script(Reply("late", delay_s=5))
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        ask(client, timeout=0.2)
    assert time.monotonic() - started < 2
    assert ask(client) == "ok"  # the abandoned request did not break the server


def test_a_delay_does_not_block_other_requests() -> None:
    with OpenAIServer() as server:
        server.script_for(lambda body: body["model"] == "slow", Reply("slow", delay_s=1))
        results: list[str] = []
        slow = threading.Thread(target=lambda: results.append(_post_chat(server, "slow")))
        slow.start()
        started = time.monotonic()
        assert _post_chat(server, "fast") == "ok"
        assert time.monotonic() - started < 0.5
        slow.join(timeout=5)
    assert results == ["slow"]


def test_a_client_leaving_a_slow_stream_does_not_break_the_server(server: OpenAIServer, client: OpenAI) -> None:
    server.script(Reply(chunks=["a", "b", "c", "d"], chunk_delay_s=0.2))
    with client.chat.completions.create(model="m", messages=HELLO, stream=True) as stream:
        assert next(iter(stream)).choices[0].delta.content == "a"
    assert ask(client) == "ok"


def test_the_authorization_header_is_recorded(server: OpenAIServer, client: OpenAI) -> None:
    ask(client)
    [request] = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.header("authorization") == "Bearer test-key"
    assert request.body["messages"] == HELLO


def test_embeddings_have_one_vector_per_input(server: OpenAIServer, client: OpenAI) -> None:
    response = client.embeddings.create(model="embed-test", input=["first text", "second text", "third"])
    assert [item.index for item in response.data] == [0, 1, 2]
    assert {len(item.embedding) for item in response.data} == {8}
    assert response.model == "embed-test"
    assert response.usage.prompt_tokens == 5
    single = client.embeddings.create(model="embed-test", input="first text")
    assert single.data[0].embedding == response.data[0].embedding


def test_embeddings_are_deterministic_and_similar_texts_are_closer(server: OpenAIServer, client: OpenAI) -> None:
    texts = ["I prefer concise answers", "I prefer concise replies", "The weather in Paris is rainy today"]
    first = [item.embedding for item in client.embeddings.create(model="e", input=texts).data]
    again = [item.embedding for item in client.embeddings.create(model="e", input=texts).data]
    assert first == again
    assert cosine(first[0], first[1]) > cosine(first[0], first[2])


def test_embeddings_come_as_floats_or_base64_as_asked(server: OpenAIServer) -> None:
    # The openai client asks for base64 unless told otherwise, then decodes float32s.
    url = f"{server.base_url}/embeddings"
    floats = httpx.post(url, json={"model": "e", "input": "hello", "encoding_format": "float"}).json()
    encoded = httpx.post(url, json={"model": "e", "input": "hello", "encoding_format": "base64"}).json()
    assert floats["data"][0]["embedding"] == bigram_embedding("hello")
    decoded = np.frombuffer(base64.b64decode(encoded["data"][0]["embedding"]), dtype=np.float32)
    assert decoded.tolist() == pytest.approx(bigram_embedding("hello"))


def test_the_embedder_and_its_size_are_pluggable() -> None:
    with OpenAIServer(dims=3) as server:
        c = OpenAI(base_url=server.base_url, api_key="test-key", max_retries=0)
        assert len(c.embeddings.create(model="e", input="hello").data[0].embedding) == 3
        server.embed = lambda text: [float(len(text)), 0.0]
        assert c.embeddings.create(model="e", input="hello", encoding_format="float").data[0].embedding == [5.0, 0.0]
        c.close()


def test_models_lists_the_models_seen(server: OpenAIServer, client: OpenAI) -> None:
    assert [model.id for model in client.models.list()] == ["test-model"]
    ask(client, model="chat-a")
    client.embeddings.create(model="embed-b", input="x")
    assert [model.id for model in client.models.list()] == ["chat-a", "embed-b"]


def test_an_unknown_path_is_a_json_404(server: OpenAIServer) -> None:
    response = httpx.post(f"{server.base_url}/completions", json={"prompt": "hi"})
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert httpx.get(f"{server.base_url}/chat/completions").status_code == 404


def test_a_request_body_that_is_not_json_is_a_400(server: OpenAIServer) -> None:
    response = httpx.post(f"{server.base_url}/chat/completions", content=b"{not json")
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert server.requests[0].body == {}


def test_a_failing_respond_callback_answers_500_with_its_error(server: OpenAIServer, client: OpenAI) -> None:
    server.script(Reply(respond=lambda body: body["no-such-key"]))
    with pytest.raises(openai.InternalServerError, match="no-such-key"):
        ask(client)


def test_a_closed_port_refuses_the_connection() -> None:
    c = OpenAI(base_url=f"http://127.0.0.1:{closed_port()}/v1", api_key="test-key", max_retries=0)
    with pytest.raises(openai.APIConnectionError):
        ask(c)
    c.close()


def test_split_words_keeps_the_spaces() -> None:
    assert split_words(" a  b c ") == [" a  ", "b ", "c "]
    assert split_words("") == [""]


def _post_chat(server: OpenAIServer, model: str) -> str:
    response = httpx.post(f"{server.base_url}/chat/completions", json={"model": model, "messages": []}, timeout=5)
    return str(response.json()["choices"][0]["message"]["content"])
