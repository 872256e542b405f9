#!/usr/bin/env python3
"""Per-operation throughput and latency of one `sunder run`, read from its history.jsonl.

Used by scripts/bench-raft.sh. The register workload mixes reads, writes and cas, so the
run's overall ops/s says little about any one of them. This pairs each completion with its
invocation (a process has one op in flight at a time), keeps the main phase only (up to
the nemesis "phase heal" marker), and reports, for each f, acknowledged (ok) ops per
second and the p50/p99 latency of the ok ones.

Usage:
  bench_raft_history.py rates HISTORY          one JSON object per f
  bench_raft_history.py failover HISTORY       ms from each start-kill to the next ok write
"""

import json
import sys


def load(path):
    ops = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                ops.append(json.loads(line))
            except json.JSONDecodeError as e:
                sys.exit(f"{path}:{number}: not a JSON op: {e}")
    return ops


def percentile(sorted_values, p):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]


def main_phase(ops):
    """Client ops before the heal marker, and the length of that window in seconds."""
    end = next((o["time"] for o in ops if o["process"] == "nemesis" and o["f"] == "phase"), None)
    clients = [o for o in ops if o["process"] != "nemesis" and (end is None or o["time"] <= end)]
    if not clients:
        sys.exit("no client ops in the main phase")
    start = clients[0]["time"]
    return clients, ((end if end is not None else clients[-1]["time"]) - start) / 1e9


def completions(clients):
    """(f, type, invoke time, completion time) for each completed op."""
    pending = {}
    for o in clients:
        if o["type"] == "invoke":
            pending[o["process"]] = o
        else:
            inv = pending.pop(o["process"], None)
            if inv is None:
                sys.exit(f"op {o['index']}: a completion without an invocation by process {o['process']}")
            yield o["f"], o["type"], inv["time"], o["time"]


def rates(ops):
    clients, seconds = main_phase(ops)
    by_f = {}
    for f, kind, t0, t1 in completions(clients):
        entry = by_f.setdefault(f, {"ok": [], "fail": 0, "info": 0})
        if kind == "ok":
            entry["ok"].append((t1 - t0) / 1e6)
        else:
            entry[kind] += 1
    out = {"seconds": round(seconds, 3)}
    for f, e in sorted(by_f.items()):
        lat = sorted(e["ok"])
        out[f] = {
            "ok_per_s": round(len(lat) / seconds, 1),
            "p50_ms": round(percentile(lat, 50), 2),
            "p99_ms": round(percentile(lat, 99), 2),
            "ok": len(lat),
            "fail": e["fail"],
            "info": e["info"],
        }
    print(json.dumps(out))


def failover(ops):
    """For each start-kill: ms until the first write acknowledged after it. The killed
    leader cannot answer any more, so that write was committed by its successor."""
    kills = [o for o in ops if o["process"] == "nemesis" and o["f"] == "start-kill"]
    acked = [o for o in ops if o["process"] != "nemesis" and o["f"] == "write" and o["type"] == "ok"]
    gaps = []
    for k in kills:
        # A reply the dead node sent just before it died may be recorded just after.
        dead = set(k["value"].get("nodes", []))
        after = next((o["time"] for o in acked if o["time"] > k["time"] and o.get("node") not in dead), None)
        if after is not None:
            gaps.append(round((after - k["time"]) / 1e6, 1))
    print(json.dumps({"kills": len(kills), "ms_to_first_ok_write": gaps}))


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("rates", "failover"):
        sys.exit(__doc__)
    history = load(sys.argv[2])
    {"rates": rates, "failover": failover}[sys.argv[1]](history)
