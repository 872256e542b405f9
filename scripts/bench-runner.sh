#!/usr/bin/env bash
# Measures the runner: ops/s it sustains against single-kv at --concurrency 10, and the
# cost of recording (the same run with the history writer on and off), as a ratio.
# Usage: scripts/bench-runner.sh [seconds per run] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
rounds=${2:-3}
cargo build --release -q -p sunder
bin=target/release/sunder
store=$(mktemp -d /tmp/sunder-bench-XXXXXX)
trap 'rm -rf "$store"' EXIT
rate() { # ops/s of completed client ops in the run just made
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); t=r["stats"]["total"]; print((t["ok"]+t["fail"]+t["info"])/float(sys.argv[2]))' \
    "$store/latest/results.json" "$secs"
}
on=(); off=()
for i in $(seq "$rounds"); do
  # Alternate the order so drift in machine load hits both sides alike.
  "$bin" run --system single-kv --concurrency 10 --time-limit "$secs" --seed "$i" --quiet --store "$store" || true
  on+=("$(rate)")
  "$bin" run --system single-kv --concurrency 10 --time-limit "$secs" --seed "$i" --quiet --store "$store" --no-record || true
  off+=("$(rate)")
done
python3 - "${on[*]}" "${off[*]}" <<'PY'
import statistics, sys
on = [float(x) for x in sys.argv[1].split()]; off = [float(x) for x in sys.argv[2].split()]
mon, moff = statistics.median(on), statistics.median(off)
print(f"recording on : {' '.join(f'{x:.0f}' for x in on)} ops/s (median {mon:.0f})")
print(f"recording off: {' '.join(f'{x:.0f}' for x in off)} ops/s (median {moff:.0f})")
print(f"cost of recording: {100*(1-mon/moff):.1f}% (on/off = {mon/moff:.3f})")
PY
