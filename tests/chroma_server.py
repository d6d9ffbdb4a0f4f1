"""A real Chroma server (`chroma run`, chromadb's own CLI from PyPI) on 127.0.0.1, for tests that share one
vector store between processes.

    with start_chroma(tmp_path) as chroma:
        env = chroma.settings_env("my_collection")  # the OPENTALKING_MEMORY_MEM0_VECTOR_STORE_* variables

or, one server per test module:

    from chroma_server import ChromaServer, chroma_server_fixture  # noqa: F401  (then ask for `chroma_server`)

Measured 2026-12-02, chromadb 1.5.9 (the Rust server behind the Python `chroma` script), 2-core machine:
- Start to a heartbeat: 1.5 s (most of it the script importing chromadb); SIGTERM stops it in 0.3 s.
- The heartbeat is GET /api/v2/heartbeat ({"nanosecond heartbeat": ...}); /api/v1/* answers "Unimplemented".
- No telemetry: under strace, the server made no connect() at all while starting and serving a client,
  also with OTEL_EXPORTER_OTLP_* set. Its binary holds no PostHog client and no "anonymized_telemetry"
  setting; OpenTelemetry export happens only with an `open_telemetry` section in a config file, which
  we never pass. The environment below drops OTEL_* anyway and sets ANONYMIZED_TELEMETRY=False for the
  Python launcher. It writes nothing under HOME, only the --path folder.
- It logs every request at INFO on stdout: that goes to chroma.log beside the data folder.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

HOST = "127.0.0.1"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
SKIP_REASON = "chromadb is not installed (requirements-mem0.txt): no `chroma run` server"


class ChromaServerError(RuntimeError):
    """The server did not start; the message ends with the tail of its log."""


@dataclass(frozen=True)
class ChromaServer:
    """A running `chroma run`: where it listens, its data folder, its process and its log."""

    host: str
    port: int
    path: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def vector_store(self, collection: str) -> dict[str, Any]:
        """Mem0's vector_store block for this server (path None keeps mem0's /tmp/chroma default out)."""
        config = {"collection_name": collection, "host": self.host, "port": self.port, "path": None}
        return {"provider": "chroma", "config": config}

    def settings_env(self, collection: str) -> dict[str, str]:
        """The variables that point Memtune's Mem0 provider at this server and collection."""
        return {
            "OPENTALKING_MEMORY_MEM0_VECTOR_STORE_PROVIDER": "chroma",
            "OPENTALKING_MEMORY_MEM0_VECTOR_STORE_HOST": self.host,
            "OPENTALKING_MEMORY_MEM0_VECTOR_STORE_PORT": str(self.port),
            "OPENTALKING_MEMORY_MEM0_VECTOR_STORE_COLLECTION_NAME": collection,
        }


def chroma_script() -> Path:
    """The `chroma` console script of this interpreter's environment (CI's fresh venv, not a stray one)."""
    return Path(sys.executable).with_name("chroma")


def require_chroma() -> None:
    """Skip, with the reason, when chromadb (and so its `chroma` script) is not installed here."""
    if importlib.util.find_spec("chromadb") is None or not chroma_script().is_file():
        pytest.skip(SKIP_REASON)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _server_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    return {**env, "ANONYMIZED_TELEMETRY": "False"}


def _log_tail(path: Path, lines: int = 20) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/v2/heartbeat", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _wait_until_up(server: ChromaServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            code = server.process.returncode
            raise ChromaServerError(f"chroma run exited with {code}:\n{_log_tail(server.log_path)}")
        if _answers(server.url):
            return
        time.sleep(0.05)
    raise ChromaServerError(f"chroma run gave no heartbeat in {START_TIMEOUT_S:.0f} s:\n{_log_tail(server.log_path)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)


@contextmanager
def start_chroma(folder: Path) -> Iterator[ChromaServer]:
    """`chroma run` on a free port with its data in folder/data and its log in folder/chroma.log."""
    require_chroma()
    port, data, log_path = _free_port(), folder / "data", folder / "chroma.log"
    command = [str(chroma_script()), "run", "--host", HOST, "--port", str(port), "--path", str(data)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   env=_server_environment(), cwd=folder)  # fmt: skip
    server = ChromaServer(HOST, port, data, process, log_path)
    try:
        _wait_until_up(server)
        yield server
    finally:
        _stop(process)


@pytest.fixture(scope="module", name="chroma_server")
def chroma_server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """One Chroma server for the whole test module that imports this fixture (it is named `chroma_server`)."""
    with start_chroma(tmp_path_factory.mktemp("chroma")) as server:
        yield server
