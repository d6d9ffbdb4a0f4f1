"""A scriptable, local OpenAI-compatible HTTP server, so tests drive the real `openai` client over a socket.

    with OpenAIServer() as server:
        server.script("first answer", Reply(status=500))
        client = OpenAI(base_url=server.base_url, api_key="test-key", max_retries=0)
        ...
        assert server.chat_requests[0].header("Authorization") == "Bearer test-key"

Standard library only. Each request is handled on its own thread, so a delayed answer never holds up another one.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import math
import re
import socket
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

Json = dict[str, Any]
Predicate = Callable[[Json], bool]


@dataclass(frozen=True)
class Reply:
    """One scripted chat answer; with a non-200 `status` it is an OpenAI error whose message is `text`."""

    text: str = "ok"
    delay_s: float = 0.0
    chunk_delay_s: float = 0.0
    status: int = 200
    raw_body: str | None = None
    chunks: Sequence[str] | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    respond: Callable[[Json], str] | None = None


@dataclass(frozen=True)
class RecordedRequest:
    """A request as it arrived: its path, its headers (names as the client spelled them) and its JSON body."""

    path: str
    headers: dict[str, str]
    body: Json

    def header(self, name: str) -> str | None:
        """A header's value, whatever the case of the name the client sent."""
        return next((value for key, value in self.headers.items() if key.lower() == name.lower()), None)


def bigram_embedding(text: str, dims: int = 8) -> list[float]:
    """Character bigrams of the lowercased text hashed into `dims` buckets, L2-normalised; stable across runs."""
    vector = [0.0] * dims
    for pair in itertools.pairwise(f" {text.lower()} "):
        digest = hashlib.blake2b("".join(pair).encode(), digest_size=8).digest()
        vector[int.from_bytes(digest, "big") % dims] += 1.0
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm else vector


def split_words(text: str) -> list[str]:
    """The text in word pieces that keep their spaces, so joining them gives the text back."""
    return re.findall(r"\s*\S+\s*", text) or [text]


def count_words(messages: object) -> int:
    """A rough token count of chat messages: the words of their text content."""
    if not isinstance(messages, list):
        return 0
    total = 0
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        parts = content if isinstance(content, list) else [{"text": content}]
        total += sum(len(str(part.get("text") or "").split()) for part in parts if isinstance(part, dict))
    return total


def closed_port() -> int:
    """A local port with nothing listening on it, for connection-refused tests."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OpenAIServer:
    """Chat completions, embeddings and a model list on 127.0.0.1, answering from a script and recording requests."""

    def __init__(self, *, dims: int = 8, embed: Callable[[str], list[float]] | None = None) -> None:
        self.dims = dims
        self.embed: Callable[[str], list[float]] = embed or (lambda text: bigram_embedding(text, self.dims))
        self.default_reply = Reply("ok")
        self.default_model = "test-model"
        self._queue: deque[Reply] = deque()
        self._rules: list[tuple[Predicate, Reply]] = []
        self._requests: list[RecordedRequest] = []
        self._models: list[str] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self.disconnects = 0  # streams the client closed before their end
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> OpenAIServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> None:
        if self._httpd is not None:
            raise RuntimeError("the server is already running")
        self._closing.clear()
        self._httpd = _HTTPServer(self)
        # A short poll interval: shutdown() waits for the serving loop to notice, 0.5 s by default.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="openai-server", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop serving, wake delayed answers, close the socket and join every thread."""
        if self._httpd is None or self._thread is None:
            return
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()  # joins the handler threads
        self._thread.join()
        self._httpd = self._thread = None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the server is not running; use it as a context manager")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *replies: Reply | str) -> None:
        """Queue chat answers, consumed in order; `default_reply` answers once they are used up."""
        with self._lock:
            self._queue.extend(_as_reply(reply) for reply in replies)

    def script_for(self, predicate: Predicate, reply: Reply | str) -> None:
        """Answer every chat request the predicate accepts with this reply, before looking at the queue."""
        with self._lock:
            self._rules.append((predicate, _as_reply(reply)))

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [request for request in self.requests if request.path == "/v1/chat/completions"]

    @property
    def models(self) -> list[str]:
        """The models requests have named so far, or the default model."""
        with self._lock:
            return list(self._models) or [self.default_model]

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)
            model = request.body.get("model")
            if isinstance(model, str) and model not in self._models:
                self._models.append(model)

    def next_reply(self, body: Json) -> Reply:
        with self._lock:
            for predicate, reply in self._rules:
                if predicate(body):
                    return reply
            return self._queue.popleft() if self._queue else self.default_reply

    def next_id(self) -> str:
        with self._lock:
            return f"chatcmpl-{next(self._ids)}"

    def disconnected(self) -> None:
        with self._lock:
            self.disconnects += 1

    def wait(self, seconds: float) -> None:
        """Sleep, cut short when the server closes so that no handler outlives it."""
        if seconds > 0:
            self._closing.wait(seconds)


def _as_reply(reply: Reply | str) -> Reply:
    return Reply(reply) if isinstance(reply, str) else reply


class _HTTPServer(ThreadingHTTPServer):
    # Non-daemon handler threads, so that server_close() joins them and nothing runs on into the next test.
    daemon_threads = False
    block_on_close = True

    def __init__(self, fake: OpenAIServer) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up early is normal in tests (timeouts); anything else is a bug worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.0: one request per connection, so a closed connection ends a stream and no idle socket lingers."""

    server: _HTTPServer
    timeout = 10  # a client that never sends its request cannot hold up close()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        fake = self.server.fake
        path = urlsplit(self.path).path.rstrip("/")
        try:
            body = self._read_json()
            fake.record(RecordedRequest(path, dict(self.headers.items()), body if isinstance(body, dict) else {}))
            route = {
                ("POST", "/v1/chat/completions"): self._chat,
                ("POST", "/v1/embeddings"): self._embeddings,
                ("GET", "/v1/models"): self._models,
            }.get((self.command, path))
            if route is None:
                self._send_error(404, f"Unknown route: {self.command} {path}", "invalid_request_error")
            elif not isinstance(body, dict):
                self._send_error(400, "The request body must be a JSON object", "invalid_request_error")
            else:
                route(body)
        except ConnectionError:  # the client hung up (a timeout); nothing to answer
            self.close_connection = True
        except Exception as exc:  # a broken `respond` or `embed` shows up in the test as a 500 with its message
            self._send_error(500, f"openai_server failed: {exc!r}", "server_error")

    def _read_json(self) -> object:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            return None

    def _chat(self, body: Json) -> None:
        fake = self.server.fake
        reply = fake.next_reply(body)
        fake.wait(reply.delay_s)
        if reply.raw_body is not None:
            self._send(reply.status, reply.raw_body.encode(), "application/json")
            return
        if reply.status != 200:
            self._send_error(reply.status, reply.text, "server_error")
            return
        text = reply.respond(body) if reply.respond else reply.text
        pieces = list(reply.chunks) if reply.chunks is not None else split_words(text)
        head = {"id": fake.next_id(), "created": int(time.time()), "model": body.get("model", fake.default_model)}
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            self._stream(head, pieces or [""], _usage(reply, body, "".join(pieces)) if include_usage else None, reply)
            return
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        answer = {**head, "object": "chat.completion", "choices": [choice], "usage": _usage(reply, body, text)}
        self._send_json(200, answer)

    def _stream(self, head: Json, pieces: list[str], usage: Json | None, reply: Reply) -> None:
        try:
            self._send_stream(head, pieces, usage, reply)
        except (BrokenPipeError, ConnectionResetError):
            self.server.fake.disconnected()  # the client closed the stream: a real server stops generating

    def _send_stream(self, head: Json, pieces: list[str], usage: Json | None, reply: Reply) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        head = {**head, "object": "chat.completion.chunk"}
        for i, piece in enumerate(pieces):
            if i:
                self.server.fake.wait(reply.chunk_delay_s)
            delta = {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
            self._event({**head, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
        self._event({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if usage is not None:
            self._event({**head, "choices": [], "usage": usage})
        self._write(b"data: [DONE]\n\n")

    def _embeddings(self, body: Json) -> None:
        fake = self.server.fake
        given = body.get("input")
        texts = [given] if isinstance(given, str) else [str(text) for text in given or []]
        if not texts:
            self._send_error(400, "'input' must be a string or a non-empty list of strings", "invalid_request_error")
            return
        as_base64 = body.get("encoding_format") == "base64"  # the openai client asks for it unless told otherwise
        data = [
            {"object": "embedding", "index": i, "embedding": _encode(fake.embed(text), as_base64)}
            for i, text in enumerate(texts)
        ]
        tokens = sum(len(text.split()) for text in texts)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        self._send_json(200, {"object": "list", "data": data, "model": body.get("model"), "usage": usage})

    def _models(self, body: Json) -> None:
        data = [
            {"id": name, "object": "model", "created": 0, "owned_by": "openai-server"}
            for name in self.server.fake.models
        ]
        self._send_json(200, {"object": "list", "data": data})

    def _send_error(self, status: int, message: str, kind: str) -> None:
        self._send_json(status, {"error": {"message": message, "type": kind, "code": None}})

    def _send_json(self, status: int, payload: Json) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _send(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self._write(data)

    def _event(self, chunk: Json) -> None:
        self._write(f"data: {json.dumps(chunk)}\n\n".encode())

    def _write(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()


def _usage(reply: Reply, body: Json, answer: str) -> Json:
    prompt = reply.prompt_tokens if reply.prompt_tokens is not None else count_words(body.get("messages"))
    completion = reply.completion_tokens if reply.completion_tokens is not None else len(answer.split())
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _encode(vector: list[float], as_base64: bool) -> list[float] | str:
    if not as_base64:
        return vector
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
