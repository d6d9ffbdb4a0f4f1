"""bench/timeouts.py runs end to end and reports its figures; how fast is the benchmark's business, not ours."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_timeouts_benchmark_reports_cut_calls_and_their_floor() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "timeouts.py"), "--repeat", "2"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["benchmark"] == "timeouts" and result["repeat"] == 2
    assert {"cpu_count", "judge", "reply", "requests", "unsettled", "ok"} <= result.keys()
    for name, timeout_ms in (("judge", 300), ("reply", 200)):
        case = result[name]
        assert {"bound_ms", "elapsed_ms", "overshoot_ms", "floor_ms", "ok"} <= case.keys()
        assert case["timeout_ms"] == timeout_ms and case["cut"] == 2  # both slow calls fell back at the bound
        assert case["elapsed_ms"]["min"] >= timeout_ms  # a deadline never returns before it is due
    # Every call reached a server (warm-up + 2 rounds, one judge call and one turn each): none was cut by
    # waiting for a free model-call thread behind an answer still held from the round before.
    assert result["requests"] == {"fast": 6, "slow": 6}
