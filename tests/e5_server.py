"""`python -m memory_core serve embeddings` started as a user starts it, for tests of other processes' Mem0."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def serving(port: int) -> Iterator[subprocess.Popen[str]]:
    command = [sys.executable, "-m", "memory_core", "serve", "embeddings", "--port", str(port), "--threads", "1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline, "the embeddings server did not answer /health within 60 s"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
                    if json.loads(response.read())["status"] == "ok":
                        break
            except OSError:
                assert process.poll() is None, process.communicate()[1]
                time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        process.communicate(timeout=10)  # waits, and closes its pipes
