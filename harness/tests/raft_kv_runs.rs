//! raft-kv through the whole pipeline: each test is one real `sunder run` (real node
//! processes, real fsync, real network: network namespaces when root, the local proxies
//! otherwise) whose exit code and `results.json` must match what raft-kv is known to
//! guarantee. The default read path must come out linearizable whatever the nemesis does;
//! the stale `local` read path and the planted `unsafe-no-fsync` bug must be caught.
//!
//! The runs are serialized by a lock: each is a 5-node cluster with clients and a checker,
//! and two at once on a small CI machine would only measure the machine.
//! Seeds are fixed, and every setting was chosen so the verdict does not hinge on timing
//! (each was checked over several seeds on a loaded 2-core machine).

mod support;

use support::{Finished, assert_backend};

/// Runs `sunder run --system raft-kv` with `args` in a fresh store (see [`support::run`]).
fn raft_run(tag: &str, args: &[&str]) -> Finished {
    let mut all = vec!["--system", "raft-kv"];
    all.extend_from_slice(args);
    support::run(&format!("raft-{tag}"), &all)
}

#[test]
fn raft_kv_five_nodes_without_faults_is_linearizable() {
    let run =
        raft_run("nofaults", &["--nodes", "5", "--time-limit", "30", "--nemesis", "none", "--seed", "11"]);
    assert_eq!(run.code, Some(0), "{}", run.summary());
    assert_eq!(run.results["models"]["linearizable"], true, "{}", run.summary());
    assert!(run.results["stats"]["total"]["ok"].as_u64().unwrap_or(0) > 1000, "{}", run.summary());
    assert_backend(&run, "netns");
}

// Kills and pauses still cost an election after the heal (raft-kv has PreVote, so a node
// that was cut off no longer deposes a healthy leader); `--recovery 8` gives a loaded CI
// machine room before the final reads, which the runner also retries for up to 15 s.
#[test]
fn raft_kv_default_read_path_stays_linearizable_under_partitions_kills_and_pauses() {
    let run = raft_run(
        "faults",
        &[
            "--nodes",
            "5",
            "--time-limit",
            "25",
            "--nemesis",
            "partition,kill,pause",
            "--nemesis-interval",
            "2",
            "--recovery",
            "8",
            "--seed",
            "12",
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.summary());
    assert_eq!(run.results["models"]["linearizable"], true, "{}", run.summary());
    assert!(run.results["stats"]["nemesis_ops"].as_u64().unwrap_or(0) >= 6, "{}", run.summary());
    assert_backend(&run, "netns");
}

#[test]
fn raft_kv_local_reads_are_caught_stale_under_partitions() {
    let run = raft_run(
        "localreads",
        &[
            "--nodes",
            "5",
            "--time-limit",
            "15",
            "-o",
            "reads=local",
            // Stale reads show only where followers serve: bind each worker to its node.
            "-w",
            "bind=nodes",
            "--nemesis",
            "partition",
            "--nemesis-interval",
            "2",
            "--seed",
            "13",
        ],
    );
    assert_eq!(run.code, Some(1), "{}", run.summary());
    assert_eq!(run.results["models"]["linearizable"], false, "{}", run.summary());
    assert!(run.anomaly_kinds().iter().any(|k| k == "nonlinearizable"), "{}", run.summary());
    assert_backend(&run, "netns");
}

#[test]
fn raft_kv_without_fsync_loses_acknowledged_writes_when_every_node_is_killed() {
    let run = raft_run(
        "nofsync",
        &[
            "--nodes",
            "5",
            "--time-limit",
            "20",
            "-o",
            "unsafe-no-fsync=true",
            // The setting this catch was made certain under: workers on every node.
            "-w",
            "bind=nodes",
            "--nemesis",
            "kill",
            "--nemesis-targets",
            "all",
            "--nemesis-interval",
            "2",
            "--seed",
            "14",
        ],
    );
    assert_eq!(run.code, Some(1), "{}", run.summary());
    let kinds = run.anomaly_kinds();
    assert!(
        kinds.iter().any(|k| k == "lost-write" || k == "nonlinearizable"),
        "expected a lost-write or nonlinearizable anomaly; {}",
        run.summary()
    );
    assert_backend(&run, "netns");
}

// The same partitions, through the harness's own link proxies: no privileges needed. The
// same post-heal disruption applies, hence the same recovery time.
#[test]
fn raft_kv_stays_linearizable_under_partitions_over_the_local_backend() {
    let run = raft_run(
        "localnet",
        &[
            "--net",
            "local",
            "--nodes",
            "5",
            "--time-limit",
            "20",
            "--nemesis",
            "partition",
            "--nemesis-interval",
            "1",
            "--recovery",
            "8",
            "--seed",
            "15",
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.summary());
    assert_eq!(run.results["models"]["linearizable"], true, "{}", run.summary());
    assert!(run.results["stats"]["nemesis_ops"].as_u64().unwrap_or(0) >= 6, "{}", run.summary());
    assert_eq!(run.test["net"], "local", "{}", run.summary());
}
