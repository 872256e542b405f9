#!/usr/bin/env bash
# How long a raft-kv node takes to come back on a data dir left by a run (issue 18):
# copies DATA_DIR, starts one `sunder node raft-kv` on the copy (its peers unreachable, so
# it only restores), and times until `GET /status` answers; prints that, the copy's size
# and the node's status (snapshot index, entries read back). Loopback only.
#   scripts/raft-restart-time.sh STORE/latest/nodes/n1/data [PORT]
set -eu
SRC=$1
PORT=${2:-17311}
SUNDER=${SUNDER:-$(dirname "$0")/../target/release/sunder}
CP=$(mktemp -d /tmp/sunder-restart.XXXXXX)
cp -r "$SRC"/. "$CP"/
START=$(date +%s%N)
"$SUNDER" node raft-kv --id n1 --listen "127.0.0.1:$PORT" --data "$CP" \
    --peer n2=127.0.0.1:9 --peer n3=127.0.0.1:9 >"$CP.log" 2>&1 &
NODE=$!
until curl -sf "http://127.0.0.1:$PORT/status" >/dev/null 2>&1; do
    kill -0 "$NODE" 2>/dev/null || { echo "the node exited:"; cat "$CP.log"; exit 1; }
    sleep 0.005
done
END=$(date +%s%N)
echo "restart to /status: $(( (END - START) / 1000000 )) ms; data $(du -sk "$CP" | cut -f1) KiB"
curl -s "http://127.0.0.1:$PORT/status"; echo
kill "$NODE"; wait "$NODE" 2>/dev/null || true
cat "$CP.log"
rm -rf "$CP" "$CP.log"
