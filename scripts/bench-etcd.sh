#!/usr/bin/env bash
# Measures etcd through Sunder's own client against raft-kv on the same machine, back to
# back: both with three nodes in network namespaces, no faults, the register workload over
# 50 keys, at --concurrency 10 and 100. Rounds alternate which system goes first, so drifting
# machine load hits both alike. The figure is the harness's own main-phase line in sunder.log
# (client ops completed per second, fail and info included, though with no faults almost all
# are ok). Then the time to a healthy etcd cluster of 3 and of 5 members: from the network
# being ready to every member answering /health and a leader being known (sunder.log).
# Needs root (etcd runs on netns only) and etcd-server.
# Usage: sudo scripts/bench-etcd.sh [seconds per run] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
rounds=${2:-3}
cargo build --release -q -p sunder
store=$(mktemp -d /tmp/sunder-bench-etcd-XXXXXX)
trap 'rm -rf "$store"' EXIT
python3 - "$secs" "$rounds" "$store" <<'PY'
import os, re, statistics, subprocess, sys
secs, rounds, store = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def log_of(args):
    cmd = ["target/release/sunder", "run", "--net", "netns", "--nemesis", "none", "--quiet", "--store", store] + args
    subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL)
    return open(os.path.join(store, "latest", "sunder.log")).read()
def throughput(system, conc, seed):
    log = log_of(["--system", system, "--nodes", "3", "--keys", "50", "--concurrency", str(conc),
                  "--time-limit", str(secs), "--seed", str(seed)])
    m = re.search(r"main phase: (\d+) client ops in ([\d.]+) s", log)
    return int(m.group(1)) / float(m.group(2))
def healthy(nodes, seed):
    log = log_of(["--system", "etcd", "--nodes", str(nodes), "--time-limit", "0.5", "--seed", str(seed)])
    t = lambda pat: float(re.search(r"\[\s*([\d.]+)\] " + pat, log).group(1))
    return t("cluster healthy") - t("network:")
for conc in (10, 100):
    res = {"etcd": [], "raft-kv": []}
    for i in range(rounds):
        for system in ("etcd", "raft-kv") if i % 2 == 0 else ("raft-kv", "etcd"):
            res[system].append(throughput(system, conc, i + 1))
    for system, r in res.items():
        print(f"concurrency {conc}: {system}: ops/s " + " ".join(f"{x:.0f}" for x in r)
              + f" (median {statistics.median(r):.0f})")
    ratio = statistics.median(res["etcd"]) / statistics.median(res["raft-kv"])
    print(f"concurrency {conc}: etcd / raft-kv = {ratio:.2f}")
for nodes in (3, 5):
    r = [healthy(nodes, i + 1) for i in range(rounds)]
    print(f"etcd {nodes} members healthy after: " + " ".join(f"{x:.2f}" for x in r)
          + f" s (median {statistics.median(r):.2f} s)")
print(f"load average: {os.getloadavg()[0]:.1f}")
PY
