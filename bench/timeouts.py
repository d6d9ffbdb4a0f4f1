"""Timeout margins: how far past its bound the LLM judge's decision and a turn's reply come back.

Usage: python bench/timeouts.py [--repeat 20] [--warmup 1] [--delay-ms 3000] [--judge-timeout-ms 300]
                                [--reply-timeout-ms 200]

Starts two tiny OpenAI-compatible servers on 127.0.0.1 (stdlib http.server, /v1/chat/completions only): a
slow one that holds every answer for --delay-ms, and a fast one that answers at once. One engine is built per
server from settings (OPENTALKING_LLM_BASE_URL, MEMTUNE_JUDGE_MODEL, ...; `build_engine`), so the judge and the
reply go through the real `openai` client over a socket. Each repetition times, in this order:

  the judge's decision (mode="llm", --judge-timeout-ms) against the fast server, then the slow one;
  one turn (Tuning(reply_timeout_ms=--reply-timeout-ms), summaries off) against the fast server, then the slow one.

The fast calls are the floor: the same work with nothing cut, measured in the same run and interleaved with the
slow calls so both see the same machine load. Overshoot = elapsed - timeout. After each slow call the slow
server lets go of the answer it held (the engine has already given up on it and discards it), so the next
repetition does not queue behind a held answer in the engine's pool of model-call threads.

Prints p50/p95/max per case and the machine's CPU count, then, as the last line, one JSON object with every
figure; "ok" says whether the p95 came back within "bound_ms" (judge: timeout + 100 ms, the issue's bound;
reply: timeout + 300 ms). The exit status is 1 only when a slow call was not cut at its bound (a broken
timeout), never for timing alone: timing on a loaded machine is a reading, not a failure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/timeouts.py` from a checkout, where memory_core is not installed
    sys.path.insert(0, str(ROOT))

from percentiles import percentile  # noqa: E402

from memory_core import MemoryEngine, Scope, Session, Trace, Tuning, build_engine, load_settings  # noqa: E402

JUDGE_MODEL = "judge-model"
REPLY_MODEL = "reply-model"
JUDGE_TEXT = "介绍一下这个项目？"  # no rule settles it, so mode="llm" asks the judge
TURN_TEXT = "I prefer tea over coffee"
VERDICT = json.dumps({"should_recall": True, "query": "project", "reason": "bench", "categories": []})
JUDGE_MARGIN_MS = 100  # the bound: the judge's decision within its timeout + 100 ms
REPLY_MARGIN_MS = 300


# The server


@dataclass
class Held:
    """What one server shares with its handler threads: how long to hold answers, and who is being held."""

    delay_s: float
    seen: int = 0
    in_flight: int = 0
    release: threading.Event = field(default_factory=threading.Event)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def enter(self) -> None:
        with self.changed:
            self.seen += 1
            self.in_flight += 1
            self.changed.notify_all()

    def leave(self) -> None:
        with self.changed:
            self.in_flight -= 1
            self.changed.notify_all()

    def settle(self, expected: int, timeout_s: float = 10.0) -> bool:
        """Answer held requests at once until `expected` have arrived and none is in flight."""
        self.release.set()
        with self.changed:
            settled = self.changed.wait_for(lambda: self.seen >= expected and not self.in_flight, timeout_s)
        self.release.clear()
        return settled


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a held answer never keeps the process alive
    block_on_close = False

    def __init__(self, held: Held) -> None:
        self.held = held
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client hanging up late is expected
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.0, one request per connection, like tests/openai_server.py: no idle socket outlives an answer."""

    server: _Server
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        held = self.server.held
        held.enter()
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            held.release.wait(held.delay_s)
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})
            else:
                self._send(200, completion(body))
        finally:
            held.leave()

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def completion(body: dict[str, Any]) -> dict[str, Any]:
    """A chat.completion answer: a verdict for the judge, a short reply for the character."""
    model = str(body.get("model") or REPLY_MODEL)
    text = VERDICT if model == JUDGE_MODEL else "Noted: tea, not coffee."
    message = {"role": "assistant", "content": text}
    return {"id": "chatcmpl-bench", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}  # fmt: skip


@contextmanager
def serving(delay_s: float) -> Iterator[tuple[str, Held]]:
    """A server on a free loopback port: its /v1 base URL and its shared state. Held answers go out on exit."""
    held = Held(delay_s)
    httpd = _Server(held)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", held
    finally:
        held.release.set()  # the engine's threads still waiting get their (discarded) answer now, not in 3 s
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


# The engine


@dataclass
class Rig:
    """An engine pointed at one server, a session on it, and that server's state."""

    engine: MemoryEngine
    session: Session
    held: Held
    calls: int = 0

    def settle(self) -> bool:
        return self.held.settle(self.calls)


@contextmanager
def rig(delay_s: float, reply_timeout_ms: int) -> Iterator[Rig]:
    with tempfile.TemporaryDirectory(prefix="memtune-timeouts-") as data, serving(delay_s) as (url, held):
        settings = load_settings(
            {"OPENTALKING_LLM_BASE_URL": url, "OPENTALKING_LLM_API_KEY": "bench-key",
             "OPENTALKING_LLM_MODEL": REPLY_MODEL, "MEMTUNE_JUDGE_MODEL": JUDGE_MODEL,
             "MEMTUNE_DATA_DIR": data, "MEMTUNE_EMBEDDER": "none"},
            env_file="",
        )  # fmt: skip
        engine = build_engine(settings)
        try:
            tuning = Tuning(reply_timeout_ms=reply_timeout_ms, summary_enabled=False)
            session = engine.open_session(Scope.of("bench", "mia"), enabled=True, tuning=tuning)
            yield Rig(engine, session, held)
        finally:
            engine.close()


# One call each


@dataclass(frozen=True)
class Sample:
    elapsed_ms: float
    cut: bool  # came back at its bound with the fallback (the slow case's expected outcome)
    answered: bool  # the model's answer was used (the fast case's expected outcome)
    call_ms: float = 0.0  # the model call alone, as the trace records it


def judge_once(r: Rig, timeout_ms: int) -> Sample:
    started = time.perf_counter()
    decision = r.engine.decider.decide(JUDGE_TEXT, mode="llm", timeout_ms=timeout_ms)
    elapsed = (time.perf_counter() - started) * 1000
    r.calls += 1
    call_ms = decision.llm_call.latency_ms if decision.llm_call is not None else 0.0
    cut = decision.fallback_reason == f"timeout after {timeout_ms} ms"
    return Sample(elapsed, cut, decision.decided_by == "llm", call_ms)


def turn_once(r: Rig, timeout_ms: int) -> Sample:
    started = time.perf_counter()
    trace = r.engine.run_turn(r.session, TURN_TEXT)
    elapsed = (time.perf_counter() - started) * 1000
    r.calls += 1
    cut = trace.reply_by == "offline" and any(f"timeout after {timeout_ms} ms" in e for e in trace.errors)
    return Sample(elapsed, cut, trace.reply_by == "llm", reply_call_ms(trace))


def reply_call_ms(trace: Trace) -> float:
    return next((c.latency_ms for c in trace.llm_calls if c.purpose == "reply"), 0.0)


# The run


Cases = dict[str, list[Sample]]


def run(fast: Rig, slow: Rig, args: argparse.Namespace) -> tuple[Cases, int]:
    """Warm-up rounds (not recorded), then the repetitions; also how many slow calls did not settle."""
    steps: list[tuple[str, Rig, Callable[[Rig, int], Sample], int]] = [
        ("judge_floor", fast, judge_once, args.judge_timeout_ms),
        ("judge", slow, judge_once, args.judge_timeout_ms),
        ("reply_floor", fast, turn_once, args.reply_timeout_ms),
        ("reply", slow, turn_once, args.reply_timeout_ms),
    ]
    cases: Cases = {name: [] for name, *_ in steps}
    unsettled = 0
    for round_ in range(args.warmup + args.repeat):
        for name, r, once, timeout_ms in steps:
            sample = once(r, timeout_ms)
            unsettled += not r.settle()
            if round_ >= args.warmup:
                cases[name].append(sample)
    return cases, unsettled


def stats(values: list[float]) -> dict[str, float]:
    figures = {"min": min(values, default=0.0), "p50": percentile(values, 50), "p95": percentile(values, 95),
               "max": max(values, default=0.0)}  # fmt: skip
    return {key: round(value, 1) for key, value in figures.items()}


def case_result(slow: list[Sample], floor: list[Sample], timeout_ms: int, margin_ms: int) -> dict[str, Any]:
    overshoot = stats([s.elapsed_ms - timeout_ms for s in slow])
    return {
        "timeout_ms": timeout_ms,
        "bound_ms": timeout_ms + margin_ms,
        "elapsed_ms": stats([s.elapsed_ms for s in slow]),
        "overshoot_ms": overshoot,
        "call_overshoot_ms": stats([s.call_ms - timeout_ms for s in slow]),
        "floor_ms": stats([s.elapsed_ms for s in floor]),
        "cut": sum(s.cut for s in slow),
        "floor_answered": sum(s.answered for s in floor),
        "ok": overshoot["p95"] < margin_ms,
    }


def summarise(cases: Cases, unsettled: int, requests: dict[str, int], args: argparse.Namespace) -> dict[str, Any]:
    judge = case_result(cases["judge"], cases["judge_floor"], args.judge_timeout_ms, JUDGE_MARGIN_MS)
    reply = case_result(cases["reply"], cases["reply_floor"], args.reply_timeout_ms, REPLY_MARGIN_MS)
    return {
        "benchmark": "timeouts",
        "repeat": args.repeat,
        "warmup": args.warmup,
        "server_delay_ms": args.delay_ms,
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "judge": judge,
        "reply": reply,
        "requests": requests,
        "unsettled": unsettled,
        "ok": judge["ok"] and reply["ok"],
    }


def line(label: str, figures: dict[str, float]) -> str:
    return f"{label} p50 {figures['p50']:.1f}  p95 {figures['p95']:.1f}  max {figures['max']:.1f} ms"


def report(result: dict[str, Any]) -> None:
    print(f"cpus: {result['cpu_count']} ({result['cpus_usable']} usable), load average {result['load_avg_1m']}; "
          f"{result['repeat']} repetitions after {result['warmup']} warm-up, slow server holds "
          f"{result['server_delay_ms']} ms")  # fmt: skip
    for name, what in (("judge", "judge decision (mode=llm)"), ("reply", "turn (reply)")):
        case = result[name]
        print(f"{what}, timeout {case['timeout_ms']} ms, bound {case['bound_ms']} ms: "
              f"cut {case['cut']}/{result['repeat']}, ok {case['ok']}")  # fmt: skip
        print("  " + line("elapsed          ", case["elapsed_ms"]))
        print("  " + line("overshoot        ", case["overshoot_ms"]))
        print("  " + line("call overshoot   ", case["call_overshoot_ms"]))
        print("  " + line("floor (no delay) ", case["floor_ms"]) + f"  answered {case['floor_answered']}")
    print(json.dumps(result, ensure_ascii=False))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20, help="timed repetitions of each case")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first (the first call builds clients)")
    parser.add_argument("--delay-ms", type=int, default=3000, help="how long the slow server holds an answer")
    parser.add_argument("--judge-timeout-ms", type=int, default=300)
    parser.add_argument("--reply-timeout-ms", type=int, default=200)
    args = parser.parse_args()
    if not 1 <= args.repeat <= 10_000 or not 0 <= args.warmup <= 100:
        parser.error("--repeat must be 1..10000 and --warmup 0..100")
    if min(args.judge_timeout_ms, args.reply_timeout_ms) < 1 or args.delay_ms <= max(
        args.judge_timeout_ms, args.reply_timeout_ms
    ):
        parser.error("the timeouts must be at least 1 ms and --delay-ms longer than both")
    return args


def main() -> None:
    args = parse_args()
    with ExitStack() as stack:
        fast = stack.enter_context(rig(0.0, args.reply_timeout_ms))
        slow = stack.enter_context(rig(args.delay_ms / 1000, args.reply_timeout_ms))
        cases, unsettled = run(fast, slow, args)
        requests = {"fast": fast.held.seen, "slow": slow.held.seen}
    result = summarise(cases, unsettled, requests, args)
    report(result)
    broken = result["judge"]["cut"] < args.repeat or result["reply"]["cut"] < args.repeat
    sys.exit(1 if broken else 0)


if __name__ == "__main__":
    main()
