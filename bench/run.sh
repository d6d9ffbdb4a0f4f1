#!/usr/bin/env bash
# Runs every benchmark and appends their machine-readable last lines to bench/results/<UTC date>.jsonl.
# The shared data sets sit at ../shared/data beside the checkout; benchmarks needing them are skipped
# (with a message) when they are absent.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${MEMTUNE_BENCH_DATA:-../shared/data}
out="bench/results/$(date -u +%Y-%m-%dT%H%M%SZ).jsonl"
mkdir -p bench/results

run() {
  echo "+ python -m memory_core $*" >&2
  python -m memory_core "$@" | tail -n 1 | tee -a "$out"
}

if [ -f "$data/decisions-dev.jsonl" ]; then
  run decide --mode rule --data "$data/decisions-dev.jsonl"
else
  echo "skipped: $data/decisions-dev.jsonl is absent" >&2
fi
run decide --mode rule --data tests/data/decisions-extra.jsonl
if [ -f "$data/locomo-dev.json" ]; then
  run bench locomo --data "$data/locomo-dev.json"
  run bench locomo --data "$data/locomo-dev.json" --item-format plain
  run bench locomo --data "$data/locomo-dev.json" --scorer rank-bm25
  run bench locomo --data "$data/locomo-dev.json" --method fusion
else
  echo "skipped: $data/locomo-dev.json is absent" >&2
fi
if [ -f "$data/retrieval-dev.json" ]; then
  run bench retrieval --data "$data/retrieval-dev.json" --method fusion
else
  echo "skipped: $data/retrieval-dev.json is absent" >&2
fi
run bench write --items 100
run bench scale --items 550
run bench scale --items 100000
run bench scale --items 100000 --queries 20 --scorer rank-bm25
echo "+ python bench/load.py --clients 16 --ops 500" >&2
python bench/load.py --clients 16 --ops 500 | tail -n 1 | tee -a "$out"
echo "results: $out" >&2
