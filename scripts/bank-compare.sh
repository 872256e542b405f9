#!/usr/bin/env bash
# Transfers/s and p50/p99 latency of the bank workload on each system that serves
# /transfer, back to back, through `sunder run` (3 nodes where the system has several,
# concurrency 10, no faults). Usage: scripts/bank-compare.sh [SECONDS] [STORE]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
store="${2:-$(mktemp -d /tmp/sunder-bank-compare.XXXXXX)}"
sunder=target/release/sunder
[ -x "$sunder" ] || cargo build --release -p sunder
for sys in "bank-2pc" "bank-2pc -o protocol=3pc" "raft-kv" "single-kv"; do
    name="$(echo "$sys" | tr ' =' '__')"
    # shellcheck disable=SC2086 # the system's -o words are meant to split
    "$sunder" run --system $sys --workload bank --nemesis none --time-limit "$secs" \
        --concurrency 10 --seed 7 --store "$store" --name "$name" --quiet || true
    run="$(ls -d "$store/$name"/2*/ | tail -1)"
    python3 - "$run" "$sys" <<'PY'
import json, sys
run, system = sys.argv[1], sys.argv[2]
started, lat, first, last = {}, [], None, None
for line in open(run + "history.jsonl"):
    o = json.loads(line)
    if o.get("f") != "transfer":
        continue
    p = o["process"]
    if o["type"] == "invoke":
        started[p] = o["time"]
    elif p in started:
        t = started.pop(p)
        if o["type"] == "ok":
            lat.append((o["time"] - t) / 1e6)
            first = o["time"] if first is None else first
            last = o["time"]
lat.sort()
n = len(lat)
print(f"{system:28} {n:7d} ok  {n / ((last - first) / 1e9):7.0f}/s  p50 {lat[n // 2]:6.1f} ms  p99 {lat[int(n * 0.99)]:6.1f} ms")
PY
done
