#!/usr/bin/env bash
# Soak run of raft-kv (issue 18): one long `sunder run` with partitions, kills and disk
# corruption, sampling every node's resident memory and data-dir size while it runs, then
# printing the verdict and the samples. Not part of the default test command: it takes
# SOAK_SECS (default 300) plus recovery and checking.
#
#   scripts/soak.sh                                  # 5 minutes, snapshots every 1000
#   SOAK_SECS=600 SOAK_OPTS="-o snapshot-every=0" scripts/soak.sh   # 10 minutes, no snapshots
#
# Env: SUNDER (binary, default target/release/sunder), SOAK_SECS, SOAK_NEMESIS (default
# partition,kill,corrupt), SOAK_OPTS (extra arguments), SOAK_STORE (default a temp dir,
# kept), SOAK_SAMPLE (seconds between samples, default 15). Exit code: sunder's.
set -euo pipefail
cd "$(dirname "$0")/.."
SUNDER=${SUNDER:-target/release/sunder}
SECS=${SOAK_SECS:-300}
NEMESIS=${SOAK_NEMESIS:-partition,kill,corrupt}
STORE=${SOAK_STORE:-$(mktemp -d /tmp/sunder-soak.XXXXXX)}
mkdir -p "$STORE"
SAMPLE=${SOAK_SAMPLE:-15}
[ -x "$SUNDER" ] || { echo "soak: build it first: cargo build -p sunder --release" >&2; exit 3; }
echo "soak: ${SECS}s of raft-kv with --nemesis $NEMESIS ${SOAK_OPTS:-}; store $STORE"
# shellcheck disable=SC2086
"$SUNDER" run --quiet --system raft-kv --nodes 5 --time-limit "$SECS" --nemesis "$NEMESIS" \
    --nemesis-interval 5 --recovery 10 --seed "${SOAK_SEED:-18}" --store "$STORE" ${SOAK_OPTS:-} &
RUN=$!
SAMPLES="$STORE/soak-samples.tsv"
printf 't_s\tnode\trss_kib\tdata_kib\n' >"$SAMPLES"
START=$(date +%s)
while kill -0 "$RUN" 2>/dev/null; do
    sleep "$SAMPLE"
    DIR=$(readlink -f "$STORE/latest" 2>/dev/null || true)
    [ -n "$DIR" ] && [ -d "$DIR/nodes" ] || continue
    T=$(( $(date +%s) - START ))
    for N in "$DIR"/nodes/*; do
        ID=$(basename "$N")
        PID=$(cat "$N/pid" 2>/dev/null || echo 0)
        RSS=$(awk '/^VmRSS/ {print $2}' "/proc/$PID/status" 2>/dev/null || echo 0)
        DATA=$(du -sk "$N/data" 2>/dev/null | cut -f1)
        printf '%s\t%s\t%s\t%s\n' "$T" "$ID" "${RSS:-0}" "${DATA:-0}" >>"$SAMPLES"
    done
done
set +e
wait "$RUN"
CODE=$?
set -e
DIR=$(readlink -f "$STORE/latest")
echo "soak: exit $CODE; run folder $DIR"
python3 - "$DIR/results.json" "$SAMPLES" "$DIR/history.jsonl" <<'PY'
import json, sys, collections
r = json.load(open(sys.argv[1]))
print("valid:", r["valid"], "linearizable:", r.get("models", {}).get("linearizable"))
tot = r["stats"]["total"]
print("ops:", tot)
faults = collections.Counter()
for line in open(sys.argv[3]):
    op = json.loads(line)
    if op.get("process") == "nemesis" and str(op.get("f", "")).startswith("start-"):
        v = op.get("value") or {}
        faults[op["f"] + ("/" + v["fault"] if isinstance(v, dict) and "fault" in v else "")] += 1
print("faults:", dict(faults))
# Samples taken after the nodes stopped read 0: leave them out.
rows = [r for r in (l.rstrip("\n").split("\t") for l in open(sys.argv[2])) if r[2].isdigit() and int(r[2]) > 0]
if rows:
    last_t = max(int(x[0]) for x in rows)
    first_t = min(int(x[0]) for x in rows)
    for label, t in (("first sample", first_t), ("last sample", last_t)):
        at = [x for x in rows if int(x[0]) == t]
        print(f"{label} (t={t}s): max node RSS {max(int(x[2]) for x in at)} KiB, "
              f"max data dir {max(int(x[3]) for x in at)} KiB")
    print("peak over the run: RSS", max(int(x[2]) for x in rows), "KiB, data dir",
          max(int(x[3]) for x in rows), "KiB")
PY
exit "$CODE"
