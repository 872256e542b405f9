//! The set and counter workloads through the whole pipeline, on single-kv and raft-kv: real
//! node processes, real faults (network namespaces when root, the local proxies
//! otherwise), judged by the checkers each workload names. A correct system must come out
//! valid; raft-kv's stale `local` read path and its planted `unsafe-no-fsync` bug must be
//! caught by set-full. Also what the seams promise a user: a stored run is re-judged by its
//! own workload, a system with no leader waits for none, and options a workload does not
//! know are refused.

mod support;

use support::{Finished, assert_backend, run, sunder};

fn checker_names(run: &Finished) -> Vec<String> {
    run.results["checkers"].as_object().map(|c| c.keys().cloned().collect()).unwrap_or_default()
}

#[test]
fn set_and_counter_runs_on_single_kv_are_valid_and_judged_by_their_own_checkers() {
    for (workload, checker) in [("set", "set-full"), ("counter", "counter")] {
        let r = run(
            &format!("single-{workload}"),
            &["--system", "single-kv", "--workload", workload, "--time-limit", "3", "--seed", "21"],
        );
        assert_eq!(r.code, Some(0), "{workload}: {}", r.summary());
        assert_eq!(r.results["checkers"][checker]["valid"], true, "{workload}: {}", r.summary());
        assert!(!checker_names(&r).contains(&"linearizable".to_string()), "{}", r.summary());
        assert_eq!(r.test["workload"], workload);
    }
}

#[test]
fn set_run_on_raft_kv_stays_valid_under_partitions_and_kills() {
    let r = run(
        "raft-set-faults",
        &[
            "--system",
            "raft-kv",
            "--workload",
            "set",
            "--time-limit",
            "15",
            "--nemesis",
            "partition,kill",
            "--nemesis-interval",
            "2",
            "--recovery",
            "5",
            "--seed",
            "22",
        ],
    );
    assert_eq!(r.code, Some(0), "{}", r.summary());
    assert_eq!(r.results["checkers"]["set-full"]["valid"], true, "{}", r.summary());
    assert!(r.results["stats"]["nemesis_ops"].as_u64().unwrap_or(0) >= 4, "{}", r.summary());
    assert_backend(&r, "netns");

    // Re-judged later from the run folder alone: the same checker, the same verdict.
    let dir = r.store.path().join("latest");
    let out = sunder().arg("check").arg(&dir).arg("--json").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let again: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(again["checkers"]["set-full"]["valid"], true);
    assert!(again["checkers"].get("linearizable").is_none(), "a set run is not a register run: {again}");
}

#[test]
fn counter_run_on_raft_kv_with_decrements_stays_valid_under_partitions_and_kills() {
    let r = run(
        "raft-counter-faults",
        &[
            "--system",
            "raft-kv",
            "--workload",
            "counter",
            "-w",
            "negative=true",
            "--time-limit",
            "15",
            "--nemesis",
            "partition,kill",
            "--nemesis-interval",
            "2",
            "--recovery",
            "5",
            "--seed",
            "23",
        ],
    );
    assert_eq!(r.code, Some(0), "{}", r.summary());
    assert_eq!(r.results["checkers"]["counter"]["valid"], true, "{}", r.summary());
    assert_eq!(r.test["workload_options"]["negative"], "true");
    assert_backend(&r, "netns");
}

#[test]
fn raft_kv_local_reads_are_caught_by_set_full_as_stale_under_partitions() {
    let r = run(
        "raft-set-localreads",
        &[
            "--system",
            "raft-kv",
            "--workload",
            "set",
            "-o",
            "reads=local",
            "--time-limit",
            "12",
            "--nemesis",
            "partition",
            "--nemesis-interval",
            "2",
            "--seed",
            "24",
        ],
    );
    assert_eq!(r.code, Some(1), "{}", r.summary());
    assert!(r.anomaly_kinds().iter().any(|k| k == "stale"), "{}", r.summary());
}

#[test]
fn raft_kv_without_fsync_loses_acknowledged_adds_when_every_node_is_killed() {
    let r = run(
        "raft-set-nofsync",
        &[
            "--system",
            "raft-kv",
            "--workload",
            "set",
            "-o",
            "unsafe-no-fsync=true",
            "--time-limit",
            "15",
            "--nemesis",
            "kill",
            "--nemesis-targets",
            "all",
            "--nemesis-interval",
            "2",
            "--seed",
            "25",
        ],
    );
    assert_eq!(r.code, Some(1), "{}", r.summary());
    assert!(r.anomaly_kinds().iter().any(|k| k == "lost"), "{}", r.summary());
}

#[test]
fn seams_refuse_what_cannot_mean_anything_with_exit_3() {
    let cases: [(&[&str], &str); 3] = [
        (&["--workload", "set", "-w", "colour=blue"], "no option \"colour\""),
        (&["--system", "quorum-kv", "--nemesis", "kill", "--nemesis-targets", "leader"], "has no leader"),
        (&["--workload", "register", "-w", "keys=0"], "-w keys=0"),
    ];
    for (args, needle) in cases {
        let tmp = support::TempDir::new("seams-refuse");
        let out = sunder().arg("run").args(args).arg("--store").arg(tmp.path()).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: want {needle:?} in {stderr}");
    }
}

#[test]
fn a_leaderless_system_runs_without_waiting_for_a_leader() {
    // quorum-kv's nodes are all replicas and coordinators; /status names no leader, so a
    // run that waited for one would lose its whole leader timeout, twice.
    let r = run(
        "quorum-no-leader",
        &[
            "--system",
            "quorum-kv",
            "--workload",
            "set",
            "-w",
            "linearizable=false",
            "--time-limit",
            "4",
            "--nemesis",
            "none",
            "--seed",
            "26",
        ],
    );
    assert_eq!(r.code, Some(0), "{}", r.summary());
    assert!(!r.context.contains("no leader after"), "the run waited for a leader: {}", r.summary());
    assert!(!r.context.contains("leader: "), "a leaderless system named a leader: {}", r.summary());
    assert_eq!(r.results["checkers"]["set-full"]["valid"], true, "{}", r.summary());
}
