//! The verdict a run gives as it ends is the verdict `sunder check` gives the stored run
//! folder later, on several systems and seeds, valid and invalid runs alike. A register run
//! is judged while its history is written (`sunder_check::live`): its `results.json` must be
//! the offline one to the byte, but for the linearizability checker's account of how it was
//! decided (`details.decided_by = "streaming"` against the search's memo counts).

mod support;

use serde_json::Value;
use support::{run, sunder};

/// What must agree: all of `results.json` but how linearizability was searched for.
fn verdict(results: &Value) -> Value {
    let mut v = results.clone();
    v["checkers"]["linearizable"]["details"] = Value::Null;
    v
}

fn streamed(results: &Value) -> bool {
    results["checkers"]["linearizable"]["details"]["decided_by"] == "streaming"
}

#[test]
fn a_run_judged_while_recording_gives_the_verdict_a_later_check_of_its_folder_gives() {
    let cases: [(&str, &[&str]); 6] = [
        ("single-kv", &["--system", "single-kv", "--time-limit", "5", "--seed", "3"]),
        (
            "single-kv-busy",
            &["--system", "single-kv", "--time-limit", "5", "--concurrency", "30", "--seed", "4"],
        ),
        ("raft-pause", &["--system", "raft-kv", "--time-limit", "8", "--nemesis", "pause", "--seed", "7"]),
        (
            "raft-faults",
            &["--system", "raft-kv", "--time-limit", "8", "--nemesis", "partition,kill", "--seed", "5"],
        ),
        (
            "raft-faults-2",
            &["--system", "raft-kv", "--time-limit", "8", "--nemesis", "partition,kill", "--seed", "6"],
        ),
        // A new-old inversion held open for every write (quorum-kv's slow write path): an
        // invalid run for certain, with anomalies to compare.
        (
            "quorum-inversion",
            &[
                "--system",
                "quorum-kv",
                "-o",
                "debug-store-delay-ms=300",
                "-o",
                "read-repair=false",
                "-o",
                "anti-entropy-ms=0",
                "-o",
                "read-writeback=false",
                "--time-limit",
                "6",
                "--seed",
                "3",
            ],
        ),
    ];
    let (mut invalid, mut streaming) = (0, 0);
    for (tag, args) in cases {
        let r = run(tag, args);
        assert!(matches!(r.code, Some(0..=2)), "{tag}: {}", r.summary());
        invalid += usize::from(r.code == Some(1));
        streaming += usize::from(streamed(&r.results));
        let dir = r.store.path().join("latest");
        let out = sunder().arg("check").arg(&dir).arg("--json").output().unwrap();
        assert_eq!(out.status.code(), r.code, "{tag}: {}", String::from_utf8_lossy(&out.stderr));
        let later: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(verdict(&later), verdict(&r.results), "{tag}: the run and the later check disagree");
    }
    assert_eq!(invalid, 1, "the inversion run must be caught, so both kinds of verdict are compared");
    // The valid register runs are decided as they are recorded (the invalid one is left to
    // the offline check, which explains it).
    assert!(streaming >= 4, "only {streaming} runs were judged while recording");
}
