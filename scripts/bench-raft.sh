#!/usr/bin/env bash
# Measures raft-kv (issue 7): three nodes with fsync on, loopback only.
#  1. Through the harness (`sunder run --net local --nodes 3 --nemesis none`, register
#     workload): acknowledged writes/s and reads/s with p50/p99 latency of ok ops, for each
#     read path at --concurrency 10 and 100 (per-f numbers come from history.jsonl, via
#     scripts/bench_raft_history.py).
#  2. Failover: ms from the SIGKILL of the leader to the first write acknowledged by another
#     node (`--nemesis kill --nemesis-targets leader`).
#  3. Back to back with etcd (Debian etcd-server, three members on 127.0.0.1, temp data
#     dirs): `etcdctl check perf --load=xl`, and the same HTTP/JSON put load with ab
#     (apache2-utils) at 10 and 100 connections against raft-kv's leader and etcd's leader.
# Usage: scripts/bench-raft.sh [seconds per harness row] [skip-etcd]
# Needs python3; part 3 needs etcd, etcdctl and ab (apt-get install -y etcd-server
# etcd-client apache2-utils) and is skipped with a note when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
skip_etcd=${2:-}
cargo build --release -q -p sunder
bin=$PWD/target/release/sunder
stats=$PWD/scripts/bench_raft_history.py
work=$(mktemp -d /tmp/sunder-bench-raft-XXXXXX)
started=() # pids of every node and etcd member this script starts

stop_started() {
  local p
  for p in "${started[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 50); do
    local alive=0
    for p in "${started[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  for p in "${started[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${started[@]}"; do wait "$p" 2>/dev/null || true; done
  started=()
}
trap 'stop_started; rm -rf "$work"' EXIT

load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "# raft-kv benchmark, $(date -u +%FT%TZ), $(nproc) cores, load average $(load)"

# harness_row NET PATH CONCURRENCY: one `sunder run` and its table row.
harness_row() {
  local net=$1 path=$2 c=$3 code=0
  "$bin" run --system raft-kv --net "$net" --nodes 3 --nemesis none --concurrency "$c" --keys 50 \
    -o "reads=$path" --time-limit "$secs" --seed 1 --quiet --store "$work/store" \
    --name "bench-$net-$path-c$c" 2>>"$work/runs.err" || code=$?
  python3 - "$(python3 "$stats" rates "$work/store/latest/history.jsonl")" "$net" "$path" "$c" "$code" "$(load)" <<'PY'
import json, sys
r = json.loads(sys.argv[1]); net, path, c, code, load = sys.argv[2:]
w, rd, cas = r.get("write", {}), r.get("read", {}), r.get("cas", {})
verdict = {"0": "valid", "1": "invalid", "2": "unknown"}.get(code, f"exit {code}")
print(f"| {net} | {path} | {c} | {w.get('ok_per_s', 0):,.0f} | {w.get('p50_ms')} | {w.get('p99_ms')} "
      f"| {rd.get('ok_per_s', 0):,.0f} | {rd.get('p50_ms')} | {rd.get('p99_ms')} | {cas.get('ok_per_s', 0):,.0f} | {verdict} | {load} |")
PY
}

echo
echo "## Through the harness: 3 nodes, --nemesis none, --keys 50, ${secs} s per row"
echo "| net | read path | concurrency | writes/s | write p50 ms | write p99 ms | reads/s | read p50 ms | read p99 ms | cas ok/s | verdict | load |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for c in 10 100; do
  for path in log read-index lease local; do
    harness_row local "$path" "$c"
  done
done
# The same default read path without the link proxies (nodes in namespaces, root only),
# to show what the local backend's proxies cost.
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null && command -v iptables >/dev/null; then
  for c in 10 100; do harness_row netns read-index "$c"; done
fi

echo
echo "## Failover: SIGKILL of the leader to the first write acknowledged by another node"
code=0
"$bin" run --system raft-kv --net local --nodes 3 --nemesis kill --nemesis-targets leader \
  --nemesis-interval 3 --time-limit 30 --seed 2 --quiet --store "$work/store" --name failover \
  2>>"$work/runs.err" || code=$?
echo "verdict exit code $code; $(python3 "$stats" failover "$work/store/latest/history.jsonl"); load $(load)"

if [ -n "$skip_etcd" ]; then exit 0; fi
for tool in etcd etcdctl ab curl; do
  if ! command -v "$tool" >/dev/null; then
    echo "($tool is missing: no etcd comparison; apt-get install -y etcd-server etcd-client apache2-utils)"
    exit 0
  fi
done

# Ports for the direct runs: free ones, drawn by the kernel.
read -r -a ports <<<"$(python3 -c '
import socket
socks = [socket.socket() for _ in range(9)]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')"

# ab_run LABEL URL METHOD BODY CONCURRENCY: one ab row of acknowledged puts.
ab_run() {
  local label=$1 url=$2 method=$3 body=$4 c=$5 n
  n=$((c * 1000))
  local out
  if [ "$method" = PUT ]; then
    out=$(ab -q -k -c "$c" -n "$n" -u "$body" -T application/json "$url" 2>&1)
  else
    out=$(ab -q -k -c "$c" -n "$n" -p "$body" -T application/json "$url" 2>&1)
  fi
  python3 - "$out" "$label" "$c" "$n" "$(load)" <<'PY'
import re, sys
out, label, c, n, load = sys.argv[1:]
def grab(pattern, default="?"):
    m = re.search(pattern, out, re.M)
    return m.group(1) if m else default
secs = float(grab(r"Time taken for tests:\s+([\d.]+)", "nan"))
# ab counts a body whose length differs from the first one's as failed; etcd's bodies
# carry a growing revision, so only connect, receive, exception and non-2xx count here.
failed = re.search(r"\(Connect: (\d+), Receive: (\d+), Length: \d+, Exceptions: (\d+)\)", out)
bad = int(grab(r"Non-2xx responses:\s+(\d+)", "0")) + (sum(map(int, failed.groups())) if failed else 0)
ok = int(grab(r"Complete requests:\s+(\d+)", "0")) - bad
p50, p99 = grab(r"^\s+50%\s+(\d+)"), grab(r"^\s+99%\s+(\d+)")
print(f"| {label} | {c} | {ok / secs:,.0f} | {p50} | {p99} | {bad} | {load} |")
PY
}

echo
echo "## raft-kv nodes started directly, ab PUT /kv/k1 at the leader"
mkdir -p "$work/raft"
for i in 1 2 3; do
  own=()
  for j in 1 2 3; do [ "$j" != "$i" ] && own+=("--peer" "n$j=127.0.0.1:${ports[$((j - 1))]}"); done
  "$bin" node raft-kv --id "n$i" --listen "127.0.0.1:${ports[$((i - 1))]}" --data "$work/raft/n$i" \
    "${own[@]}" >"$work/raft/n$i.log" 2>&1 &
  started+=($!)
done
leader=""
for _ in $(seq 100); do
  leader=$(curl -s --noproxy '*' -m 1 "http://127.0.0.1:${ports[0]}/status" |
    python3 -c 'import json,sys; print(json.load(sys.stdin).get("leader") or "")' 2>/dev/null || true)
  [ -n "$leader" ] && break
  sleep 0.1
done
[ -n "$leader" ] || { echo "raft-kv elected no leader"; exit 3; }
leader_port=${ports[$((${leader#n} - 1))]}
echo '{"value": 1}' >"$work/raft-put.json"
echo "| target | connections | acknowledged puts/s | p50 ms | p99 ms | errors | load |"
echo "|---|---|---|---|---|---|---|"
for c in 10 100; do
  ab_run "raft-kv ($leader)" "http://127.0.0.1:$leader_port/kv/k1" PUT "$work/raft-put.json" "$c"
done
stop_started

echo
echo "## etcd $(etcd --version | head -1 | awk '{print $3}'): 3 members on 127.0.0.1, heartbeat 50 ms, election 500 ms"
cluster="e1=http://127.0.0.1:${ports[3]},e2=http://127.0.0.1:${ports[4]},e3=http://127.0.0.1:${ports[5]}"
endpoints=""
for i in 1 2 3; do
  peer=${ports[$((i + 2))]}
  client=${ports[$((i + 5))]}
  endpoints+="${endpoints:+,}http://127.0.0.1:$client"
  etcd --name "e$i" --data-dir "$work/etcd/e$i" \
    --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token sunder-bench \
    --heartbeat-interval 50 --election-timeout 500 >"$work/etcd-e$i.log" 2>&1 &
  started+=($!)
done
for _ in $(seq 100); do
  etcdctl --endpoints "$endpoints" endpoint health >/dev/null 2>&1 && break
  sleep 0.2
done
etcd_leader=$(etcdctl --endpoints "$endpoints" endpoint status -w json | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    if e["Status"]["leader"] == e["Status"]["header"]["member_id"]:
        print(e["Endpoint"])')
echo "{\"key\": \"$(printf k1 | base64)\", \"value\": \"$(printf 1 | base64)\"}" >"$work/etcd-put.json"
echo "| target | connections | acknowledged puts/s | p50 ms | p99 ms | errors | load |"
echo "|---|---|---|---|---|---|---|"
for c in 10 100; do
  ab_run "etcd JSON gateway (leader)" "$etcd_leader/v3/kv/put" POST "$work/etcd-put.json" "$c"
done
echo
echo "etcdctl check perf --load=xl (load $(load) before):"
etcdctl --endpoints "$endpoints" check perf --load=xl 2>&1 | grep -vE '^\s*[0-9]+ / [0-9]+|^$|Bar' | tail -5
