//! quorum-kv through the whole pipeline: one leaderless store, a few settings apart, lands on
//! different rungs of the consistency ladder under the same faults. Each test is a real
//! `sunder run` with a fixed seed whose reported models must be the ones the setting
//! guarantees (or is known to break): R + W > N with write-back (ABD) is linearizable and
//! without it shows new-old inversions, R = W = 1 is not but converges after heal, Paxos makes compare-and-set linearizable, the
//! CRDT set keeps every acknowledged add where a last-write-wins set loses some, and
//! last-write-wins by a skewed wall clock loses acknowledged writes where version vectors
//! lose none, recording their concurrent siblings for the checkers to judge.

mod support;

use support::{Finished, run};

fn quorum(tag: &str, args: &[&str]) -> Finished {
    let mut all = vec!["--system", "quorum-kv", "--nemesis-interval", "2"];
    all.extend_from_slice(args);
    run(&format!("quorum-{tag}"), &all)
}

#[test]
fn majority_quorums_with_write_back_are_linearizable_under_partitions_and_kills() {
    let r = quorum("abd", &["--time-limit", "15", "--seed", "1"]);
    assert_eq!(r.code, Some(0), "{}", r.summary());
    assert_eq!(r.results["models"]["linearizable"], true, "{}", r.summary());
    // quorum-kv has no honest cas without Paxos: the workload left it out.
    assert_eq!(r.test["workload_options"]["cas"], "false", "{}", r.summary());
}

#[test]
fn majority_quorums_without_write_back_show_a_new_old_inversion_on_a_slow_write_path() {
    // The delay hook holds every write's messages to the other replicas for 300 ms, so
    // each write sits on its coordinator's replica alone that long: a majority read that
    // includes that replica returns the new value, one that does not returns the old. The
    // write-back read repairs a majority before it answers, so the same delay is harmless
    // to it. No fault, no timing luck: the window is open for every write.
    let args = |writeback: &'static str| {
        vec![
            "-o",
            "debug-store-delay-ms=300",
            "-o",
            "read-repair=false",
            "-o",
            "anti-entropy-ms=0",
            "-o",
            writeback,
            "--nemesis",
            "none",
            "--time-limit",
            "6",
            "--seed",
            "3",
        ]
    };
    let abd = quorum("slow-writes-abd", &args("read-writeback=true"));
    assert_eq!(abd.code, Some(0), "{}", abd.summary());
    assert_eq!(abd.results["models"]["linearizable"], true, "{}", abd.summary());

    let plain = quorum("slow-writes-no-writeback", &args("read-writeback=false"));
    assert_eq!(plain.code, Some(1), "{}", plain.summary());
    assert_eq!(plain.results["models"]["linearizable"], false, "{}", plain.summary());
}

#[test]
fn single_replica_reads_and_writes_are_not_linearizable_but_converge_after_heal() {
    let r = quorum(
        "r1w1",
        &[
            "-o",
            "r=1",
            "-o",
            "w=1",
            "-o",
            "read-writeback=false",
            "--nemesis",
            "partition,kill",
            "--time-limit",
            "15",
            "--seed",
            "1",
        ],
    );
    assert_eq!(r.code, Some(1), "{}", r.summary());
    assert_eq!(r.results["models"]["linearizable"], false, "{}", r.summary());
    assert_eq!(r.results["models"]["convergence"], true, "anti-entropy must converge: {}", r.summary());
}

#[test]
fn paxos_compare_and_set_is_linearizable_under_partitions_and_kills() {
    let r = quorum("paxos", &["-o", "cas=paxos", "-w", "cas=true", "--time-limit", "15", "--seed", "2"]);
    assert_eq!(r.code, Some(0), "{}", r.summary());
    assert_eq!(r.results["models"]["linearizable"], true, "{}", r.summary());
    assert!(
        r.results["stats"]["by_f"]["cas"]["ok"].as_u64().unwrap_or(0) > 0,
        "no cas took effect: {}",
        r.summary()
    );
}

#[test]
fn the_crdt_set_keeps_every_acknowledged_add_under_partitions() {
    let r = quorum(
        "crdt-set",
        &[
            "--workload",
            "set",
            "-w",
            "linearizable=false",
            "--nemesis",
            "partition",
            "--time-limit",
            "15",
            "--seed",
            "3",
        ],
    );
    assert_eq!(r.code, Some(0), "{}", r.summary());
    assert_eq!(r.results["checkers"]["set-full"]["valid"], true, "{}", r.summary());
}

#[test]
fn a_last_write_wins_set_loses_acknowledged_adds_under_partitions() {
    let r = quorum(
        "lww-set",
        &[
            "--workload",
            "set",
            "-w",
            "linearizable=false",
            "-o",
            "crdt=false",
            "-o",
            "r=1",
            "-o",
            "w=1",
            "--nemesis",
            "partition",
            "--time-limit",
            "15",
            "--seed",
            "3",
        ],
    );
    assert_eq!(r.code, Some(1), "{}", r.summary());
    assert!(r.anomaly_kinds().iter().any(|k| k == "lost"), "{}", r.summary());
}

#[test]
fn wall_clock_last_write_wins_loses_acknowledged_writes_under_skew_and_version_vectors_lose_none() {
    let lww = quorum(
        "lww-skew",
        &[
            "-o",
            "resolve=lww",
            "-o",
            "read-writeback=false",
            "--nemesis",
            "clock",
            "--time-limit",
            "15",
            "--seed",
            "4",
        ],
    );
    assert_eq!(lww.code, Some(1), "{}", lww.summary());
    assert!(lww.anomaly_kinds().iter().any(|k| k == "lost-write"), "{}", lww.summary());
    assert_eq!(lww.results["models"]["read-your-writes"], false, "{}", lww.summary());

    // The same skew, with partitions and kills too. The delay hook holds every write's
    // messages to the other replicas for 300 ms, so two writes of a key from different
    // coordinators within that window cannot see each other: concurrent siblings are
    // certain, not hoped for.
    let vclock = quorum(
        "vclock-skew",
        &[
            "-o",
            "resolve=vclock",
            "-o",
            "debug-store-delay-ms=300",
            "--nemesis",
            "clock,partition,kill",
            "--time-limit",
            "15",
            "--seed",
            "4",
        ],
    );
    // Version vectors keep concurrent writes as siblings, so none is lost, and the client
    // records every sibling of a read. Read as "one of its siblings", every read is also
    // linearizable: the ABD query phase gives a write the context of every version a
    // quorum holds, so only overlapping writes stay siblings, and a read's siblings always
    // include a value the register may hold then.
    let most = most_siblings(&vclock);
    assert!(most > 1, "no read returned more than one sibling: {}", vclock.summary());
    assert!(!vclock.anomaly_kinds().iter().any(|k| k == "lost-write"), "{}", vclock.summary());
    assert_eq!(vclock.results["models"]["convergence"], true, "{}", vclock.summary());
    assert_eq!(vclock.code, Some(0), "{}", vclock.summary());
    assert_eq!(vclock.results["models"]["linearizable"], true, "{}", vclock.summary());
}

/// The most siblings any read of the run's history recorded (1 for a history of plain
/// reads).
fn most_siblings(run: &Finished) -> usize {
    let path = run.store.path().join("latest").join("history.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|op| op["f"] == "read" && op["type"] == "ok")
        .map(|op| op["siblings"].as_array().map_or(1, Vec::len))
        .max()
        .unwrap_or(0)
}
