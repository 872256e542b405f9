//! The verdict a run gives as it ends (judged while the cluster comes down) is the verdict
//! `sunder check` gives the stored run folder later: the same validity, the same models,
//! the same anomalies, on several systems and seeds, valid and invalid runs alike.

mod support;

use serde_json::Value;
use support::{run, sunder};

/// What must agree: validity, the models, and each anomaly's kind and ops.
fn verdict(results: &Value) -> (Value, Value, Vec<(String, Value)>) {
    let anomalies = results["anomalies"]
        .as_array()
        .map(|a| a.iter().map(|x| (x["kind"].as_str().unwrap_or("").to_string(), x["ops"].clone())).collect())
        .unwrap_or_default();
    (results["valid"].clone(), results["models"].clone(), anomalies)
}

#[test]
fn a_run_and_a_later_check_of_its_folder_give_the_same_verdict() {
    let cases: [(&str, &[&str]); 4] = [
        ("single-kv", &["--system", "single-kv", "--time-limit", "5", "--seed", "3"]),
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
    let mut invalid = 0;
    for (tag, args) in cases {
        let r = run(tag, args);
        assert!(matches!(r.code, Some(0..=2)), "{tag}: {}", r.summary());
        invalid += usize::from(r.code == Some(1));
        let dir = r.store.path().join("latest");
        let out = sunder().arg("check").arg(&dir).arg("--json").output().unwrap();
        assert_eq!(out.status.code(), r.code, "{tag}: {}", String::from_utf8_lossy(&out.stderr));
        let later: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(verdict(&later), verdict(&r.results), "{tag}: the run and the later check disagree");
    }
    assert_eq!(invalid, 1, "the inversion run must be caught, so both kinds of verdict are compared");
}
