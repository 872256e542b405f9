#!/usr/bin/env bash
# Measures the runner against single-kv at --concurrency 10 (local backend): ops/s it
# sustains, and the cost of recording the history (the same run with the history writer on
# and off). Rounds alternate on/off so drifting machine load hits both sides alike.
# Both figures are the harness's own, for the main phase only (from the line it writes to
# sunder.log): ops/s, and the harness's CPU time per op, which on a shared machine is far
# steadier than throughput. Checking and report rendering after the run are not counted.
# Usage: scripts/bench-runner.sh [seconds per run] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
rounds=${2:-5}
cargo build --release -q -p sunder
store=$(mktemp -d /tmp/sunder-bench-XXXXXX)
trap 'rm -rf "$store"' EXIT
python3 - "$secs" "$rounds" "$store" <<'PY'
import os, re, statistics, subprocess, sys
secs, rounds, store = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def run(seed, record):
    cmd = ["target/release/sunder", "run", "--system", "single-kv", "--net", "local", "--concurrency", "10",
           "--time-limit", str(secs), "--seed", str(seed), "--quiet", "--store", store]
    if not record:
        cmd.append("--no-record")
    subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL)
    log = open(os.path.join(store, "latest", "sunder.log")).read()
    m = re.search(r"main phase: (\d+) client ops in ([\d.]+) s .* harness CPU ([\d.]+) s", log)
    ops, wall, cpu = int(m.group(1)), float(m.group(2)), float(m.group(3))
    return ops / wall, cpu / ops * 1e6
res = {True: [], False: []}
for i in range(rounds):
    for record in (True, False) if i % 2 == 0 else (False, True):
        res[record].append(run(i + 1, record))
for record in (True, False):
    r = res[record]
    print(f"recording {'on ' if record else 'off'}: ops/s " + " ".join(f"{x:.0f}" for x, _ in r)
          + f" (median {statistics.median(x for x, _ in r):.0f}); CPU us/op "
          + " ".join(f"{c:.1f}" for _, c in r) + f" (median {statistics.median(c for _, c in r):.1f})")
on_ops = statistics.median(x for x, _ in res[True]); off_ops = statistics.median(x for x, _ in res[False])
on_cpu = statistics.median(c for _, c in res[True]); off_cpu = statistics.median(c for _, c in res[False])
print(f"cost of recording: throughput on/off = {on_ops/off_ops:.3f}; CPU per op on/off = {on_cpu/off_cpu:.3f} "
      f"(+{100*(on_cpu/off_cpu-1):.1f}%)")
print(f"load average: {os.getloadavg()[0]:.1f}")
PY
