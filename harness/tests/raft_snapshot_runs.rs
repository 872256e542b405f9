//! raft-kv's long-run machinery through real `sunder run`s (real processes, fsync and
//! network namespaces when root): snapshots small enough that every fault window spans
//! several compactions, so a node that was cut off or killed must catch up by
//! InstallSnapshot or restart from its snapshot, and disk faults on killed nodes, which
//! raft-kv must detect. The verdicts asserted are the ones raft-kv guarantees whatever
//! the timing (linearizable, every node back); what happened inside is read from the
//! nodes' logs after the run, never from how fast it went.

mod support;

use serde_json::Value;
use std::path::Path;
use support::{Finished, assert_backend};

fn raft_run(tag: &str, args: &[&str]) -> Finished {
    let mut all = vec!["--system", "raft-kv", "--nodes", "5"];
    all.extend_from_slice(args);
    support::run(&format!("raft-snap-{tag}"), &all)
}

/// The run folder `latest` points at.
fn run_dir(run: &Finished) -> std::path::PathBuf {
    std::fs::canonicalize(run.store.path().join("latest")).expect("latest run")
}

/// Every node's log, concatenated per node.
fn node_logs(run: &Finished) -> Vec<(String, String)> {
    let nodes = run_dir(run).join("nodes");
    let mut logs: Vec<(String, String)> = std::fs::read_dir(&nodes)
        .expect("nodes dir")
        .flatten()
        .map(|e| {
            let id = e.file_name().to_string_lossy().into_owned();
            (id, std::fs::read_to_string(e.path().join("log")).unwrap_or_default())
        })
        .collect();
    logs.sort();
    logs
}

fn nemesis_ops(dir: &Path, f: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("history.jsonl")).expect("history");
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|op| op["process"] == "nemesis" && op["f"] == f)
        .map(|op| op["value"].clone())
        .collect()
}

// Every 20 applied entries a snapshot: a node cut off or down for a fault window of about
// 2 s misses hundreds, so its next entry is surely compacted away on the leader.
#[test]
fn raft_kv_nodes_behind_a_compaction_catch_up_by_snapshot_and_the_run_stays_linearizable() {
    let run = raft_run(
        "catchup",
        &[
            "--time-limit",
            "16",
            "-o",
            "snapshot-every=20",
            "--nemesis",
            "partition,kill",
            "--nemesis-interval",
            "2",
            "--recovery",
            "8",
            "--seed",
            "31",
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.summary());
    assert_eq!(run.results["models"]["linearizable"], true, "{}", run.summary());
    let logs = node_logs(&run);
    let installed: Vec<&String> =
        logs.iter().filter(|(_, l)| l.contains("installed a snapshot")).map(|(id, _)| id).collect();
    assert!(!installed.is_empty(), "some node must have caught up by InstallSnapshot\n{}", run.summary());
    let killed: Vec<Value> = nemesis_ops(&run_dir(&run), "start-kill");
    assert!(!killed.is_empty(), "the schedule kills a node");
    let restored = logs.iter().any(|(_, l)| l.contains("restored the snapshot of index"));
    assert!(restored, "a killed node restarts from its snapshot plus the log tail\n{}", run.summary());
    assert_backend(&run, "netns");
}

/// Lines in which raft-kv reports damage it found in its files at start.
fn detections(log: &str) -> usize {
    log.lines().filter(|l| l.contains("cut a torn") || l.contains("sunder: error:")).count()
}

#[test]
fn raft_kv_detects_every_disk_fault_and_loses_no_acknowledged_write() {
    let run = raft_run(
        "corrupt",
        &[
            "--time-limit",
            "16",
            "-o",
            "snapshot-every=50",
            "--nemesis",
            "corrupt",
            "--nemesis-interval",
            "2",
            "--recovery",
            "6",
            "--seed",
            "32",
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.summary());
    assert_eq!(run.results["models"]["linearizable"], true, "{}", run.summary());
    let dir = run_dir(&run);
    let starts = nemesis_ops(&dir, "start-corrupt");
    let stops = nemesis_ops(&dir, "stop-corrupt");
    assert!(starts.len() >= 2, "{starts:?}");
    for stop in &stops {
        assert_eq!(stop["came-back"], true, "every damaged node is running again: {stop}");
    }
    // A flipped bit always breaks a checksum, and a cut snapshot or hard state always
    // breaks its framing; a log cut exactly between two records is indistinguishable
    // from a crash, and lost writes by design look like one, so those are not counted.
    let logs = node_logs(&run);
    for (id, log) in &logs {
        let must_detect = starts
            .iter()
            .filter(|s| s["node"] == id.as_str() && s.get("skipped").is_none())
            .filter(|s| s["fault"] == "bitflip" || (s["fault"] == "truncate" && s["file"] != "raft-log"))
            .count();
        assert!(
            detections(log) >= must_detect,
            "{id} should have reported {must_detect} damaged file(s):\n{log}\n{starts:?}"
        );
    }
    let flipped = starts.iter().filter(|s| s["fault"] == "bitflip").count();
    assert!(flipped > 0, "this seed draws a bit flip: {starts:?}");
    assert_backend(&run, "netns");
}

#[test]
fn corrupt_is_refused_for_a_system_that_keeps_nothing_on_disk() {
    let out = support::sunder()
        .args(["run", "--quiet", "--system", "single-kv", "--nemesis", "corrupt", "--time-limit", "1"])
        .output()
        .expect("sunder");
    assert_eq!(out.status.code(), Some(3), "a usage error, before anything starts: {out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("corrupt") && err.contains("data files"), "{err}");
}
