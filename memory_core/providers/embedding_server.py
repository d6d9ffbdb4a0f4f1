"""A local OpenAI-compatible /v1/embeddings server over any Embedder, on 127.0.0.1 only.

It lets Mem0 use the local multilingual embedder through its documented `openai` embedder config
(`openai_base_url`), without touching Mem0's internals. The model name picks the e5 prefix: a name
containing "passage" embeds passages, anything else queries (symmetric use, as Mem0 asks one model).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..recall.embeddings import Embedder


class EmbeddingServer:
    """Serves `embedder` from a daemon thread; `url` is the base URL to give an OpenAI client."""

    def __init__(self, embedder: Embedder) -> None:
        handler = type("Handler", (_Handler,), {"embedder": embedder, "lock": threading.Lock()})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        self.dims = embedder.dims
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True, name="embedding-server"
        )
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    embedder: Embedder
    lock: threading.Lock

    def log_message(self, format: str, *args: Any) -> None:  # quiet: memory text never reaches logs
        pass

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            self._send(200, {"object": "list", "data": [{"id": self.embedder.name, "object": "model"}]})
        else:
            self._send(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def do_POST(self) -> None:
        if self.path.rstrip("/") != "/v1/embeddings":
            self._send(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
            return
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
            kind = "passage" if "passage" in str(body.get("model", "")) else "query"
            with self.lock:
                vectors = self.embedder.embed([str(t) for t in texts], kind=kind)  # type: ignore[arg-type]
        except (ValueError, KeyError, TypeError) as exc:
            self._send(400, {"error": {"message": str(exc), "type": "invalid_request_error"}})
            return
        data = [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)]
        self._send(
            200,
            {
                "object": "list",
                "data": data,
                "model": self.embedder.name,
                "usage": {"prompt_tokens": 0, "total_tokens": 0},
            },
        )

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
