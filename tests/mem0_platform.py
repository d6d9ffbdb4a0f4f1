"""A small local stand-in for the hosted Mem0 platform's HTTP API (the endpoints MemoryClient uses).

Adds are accepted asynchronously (PENDING, as the platform answers) and processed at once; listings
are paginated with `next` links; every request must carry `Authorization: Token <key>`.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class PlatformServer:
    def __init__(self, key: str = "m0-test-key") -> None:
        self.key = key
        self.memories: dict[str, dict[str, Any]] = {}
        self.history: dict[str, list[dict[str, Any]]] = {}
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"platform": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.host = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self) -> PlatformServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def add(self, body: dict[str, Any]) -> dict[str, Any]:
        texts = [m["content"] for m in body["messages"] if m.get("role") == "user"]
        if body.get("infer", True):
            texts = [f"User said: {t}" for t in texts]
        for text in texts:
            memory_id = uuid.uuid4().hex
            row = {"id": memory_id, "memory": text, "metadata": body.get("metadata") or {},
                   "user_id": body.get("user_id"), "agent_id": body.get("agent_id"), "run_id": body.get("run_id"),
                   "created_at": "2026-11-22T00:00:00Z", "updated_at": "2026-11-22T00:00:00Z"}  # fmt: skip
            self.memories[memory_id] = row
            self.history[memory_id] = [{"memory_id": memory_id, "event": "ADD", "old_memory": None, "new_memory": text}]
        return {"event_id": uuid.uuid4().hex, "status": "PENDING", "message": "Memory processing has been queued"}

    def matching(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        wanted = {k: v for clause in filters.get("AND", [filters]) for k, v in clause.items()}

        def value(row: dict[str, Any], key: str) -> Any:
            return row.get(key) if key in ("user_id", "agent_id", "run_id") else row["metadata"].get(key)

        return [row for row in self.memories.values() if all(value(row, k) == v for k, v in wanted.items())]


class _Handler(BaseHTTPRequestHandler):
    platform: PlatformServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length)) if length else {}

    def _send(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self, method: str) -> None:
        p = self.platform
        url = urlsplit(self.path)
        with p.lock:
            p.requests.append((method, url.path))
            if self.headers.get("Authorization") != f"Token {p.key}":
                self._send(401, {"detail": "Invalid API key"})
                return
            body = self._body() if method in ("POST", "PUT") else {}
            self._dispatch(method, url.path, parse_qs(url.query), body)

    def _dispatch(self, method: str, path: str, query: dict[str, list[str]], body: dict[str, Any]) -> None:
        p = self.platform
        one = re.fullmatch(r"/v1/memories/([^/]+)/(history/)?", path)
        if method == "GET" and path == "/v1/ping/":
            self._send(200, {"org_id": "org", "project_id": "proj", "user_email": "dev@example.com"})
        elif method == "POST" and path == "/v3/memories/add/":
            self._send(200, p.add(body))
        elif method == "POST" and path == "/v3/memories/search/":
            words = set(body["query"].lower().split())
            rows = [{**r, "score": len(words & set(r["memory"].lower().split())) / max(len(words), 1)}
                    for r in p.matching(body.get("filters") or {})]  # fmt: skip
            rows = sorted((r for r in rows if r["score"] >= body.get("threshold", 0.0)), key=lambda r: -r["score"])
            self._send(200, {"results": rows[: body.get("top_k", 10)]})
        elif method == "POST" and path == "/v3/memories/":
            rows = p.matching(body.get("filters") or {})
            page, size = int(query.get("page", ["1"])[0]), int(query.get("page_size", ["100"])[0])
            chunk = rows[(page - 1) * size : page * size]
            more = page * size < len(rows)
            nxt = f"{self.platform.host}/v3/memories/?page={page + 1}&page_size={size}" if more else None
            self._send(200, {"count": len(rows), "next": nxt, "previous": None, "results": chunk})
        elif one and one.group(2) and method == "GET":
            self._send(200, p.history.get(one.group(1), []))
        elif one and one.group(1) in p.memories:
            self._one(method, one.group(1), body)
        else:
            self._send(404, {"detail": "Memory not found"})

    def _one(self, method: str, memory_id: str, body: dict[str, Any]) -> None:
        p = self.platform
        row = p.memories[memory_id]
        if method == "GET":
            self._send(200, row)
        elif method == "PUT":
            old = row["memory"]
            row.update(memory=body.get("text", old), metadata=body.get("metadata", row["metadata"]))
            p.history[memory_id].append({"memory_id": memory_id, "event": "UPDATE", "old_memory": old,
                                         "new_memory": row["memory"]})  # fmt: skip
            self._send(200, {"message": "Memory updated successfully!"})
        else:
            del p.memories[memory_id]
            self._send(200, {"message": "Memory deleted successfully!"})

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_DELETE(self) -> None:
        self._route("DELETE")
