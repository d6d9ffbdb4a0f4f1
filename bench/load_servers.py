"""The consoles a load test runs against: `python app.py` processes on free loopback ports, each with a temporary
data directory, sharing one token (and, with --database-url, one PostgreSQL database); their memory use, and the
texts stored underneath them. Used by load.py."""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
READY_PROBE = "/memory/libraries?character_id=x"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kb(pid: int) -> int:
    """The process's resident set size in kB, from /proc (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def total_rss_kb(servers: list[Server]) -> int:
    return sum(rss_kb(server.process.pid) for server in servers)


# The servers


@dataclass
class Server:
    url: str
    token: str
    process: subprocess.Popen[bytes]
    log: Path
    data: Path


def server_env(data: Path, port: int, token: str, args: argparse.Namespace) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MEMTUNE_", "OPENTALKING_"))}
    env.update(
        GRADIO_SERVER_PORT=str(port),
        GRADIO_SERVER_NAME="127.0.0.1",
        GRADIO_ANALYTICS_ENABLED="False",
        MEMTUNE_DATA_DIR=str(data),
        MEMTUNE_API_TOKEN=token,
        OPENTALKING_ENV_FILE=str(data / "none.env"),
    )
    if args.sandbox:
        env["MEMTUNE_PUBLIC"] = "true"
    if args.database_url:
        env["MEMTUNE_DATABASE_URL"] = args.database_url
    if args.index_budget_mb is not None:
        env["MEMTUNE_INDEX_BUDGET_MB"] = str(args.index_budget_mb)
    if args.session_capacity is not None:
        env["MEMTUNE_SESSION_CAPACITY"] = str(args.session_capacity)
    if args.embedder is not None:
        env["MEMTUNE_EMBEDDER"] = args.embedder
    return env


@contextmanager
def running_servers(args: argparse.Namespace) -> Iterator[list[Server]]:
    """``--servers`` processes of `python app.py`, started together (they share one token), ready; killed on the
    way out."""
    token = secrets.token_urlsafe(24)
    with ExitStack() as stack:
        servers = [stack.enter_context(started_server(args, token)) for _ in range(args.servers)]
        for server in servers:
            wait_ready(server, args.start_timeout)
        yield servers


@contextmanager
def started_server(args: argparse.Namespace, token: str) -> Iterator[Server]:
    """`python app.py` on a free loopback port and a temporary data directory, not yet ready; killed on the way
    out."""
    with tempfile.TemporaryDirectory(prefix="memtune-load-") as tmp:
        data, port = Path(tmp), free_port()
        log = data / "app.log"
        with log.open("wb") as out:
            process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=server_env(data, port, token, args),
                                       stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
            try:
                yield Server(f"http://127.0.0.1:{port}", token, process, log, data)
            finally:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=15)


def wait_ready(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    headers = {"Authorization": f"Bearer {server.token}"}
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(f"app.py exited with {server.process.returncode}:\n{server.log.read_text()[-3000:]}")
        try:
            if httpx.get(server.url + READY_PROBE, headers=headers, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"app.py did not answer {READY_PROBE} within {timeout:.0f}s:\n{server.log.read_text()[-3000:]}")


def stored_texts(database: str | Path) -> Counter[str]:
    """How many times each text is stored, read underneath the servers: a PostgreSQL URL or a SQLite file."""
    if isinstance(database, str):
        import psycopg  # only --database-url needs it

        with psycopg.connect(database) as pg:
            return Counter(text for (text,) in pg.execute("SELECT text FROM items"))
    with closing(sqlite3.connect(database)) as conn:
        return Counter(text for (text,) in conn.execute("SELECT text FROM items"))
