//! The verdict a run gives as it ends is the verdict `sunder check` gives the stored run
//! folder later, on several systems and seeds, valid and invalid runs alike. A register run
//! is judged while its history is written (`sunder_check::live`): its `results.json` must be
//! the offline one to the byte, but for the linearizability checker's account of how it was
//! decided (`details.decided_by = "streaming"` against the search's memo counts). Its report,
//! drawn from the digest gathered while the history was written, is the page `sunder check`
//! draws from the digest of the history read chunk by chunk, the page `sunder check
//! --offline` draws from the history read whole, and the page `sunder report` draws from
//! the stream, holding only the calls the witnesses draw.

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

/// The runner's own account of how the run was judged.
fn judged_while_recording(dir: &std::path::Path) -> bool {
    std::fs::read_to_string(dir.join("sunder.log")).unwrap_or_default().contains("judged while recording")
}

#[test]
fn a_run_judged_while_recording_gives_the_verdict_a_later_check_of_its_folder_gives() {
    let cases: [(&str, &[&str]); 11] = [
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
        // A store of single-replica reads and writes under partitions and kills: not
        // linearizable within its first ops, yet causal, so the offline check grows causal
        // memory's views, all but a few of which were decided while recording.
        (
            "quorum-weak",
            &[
                "--system",
                "quorum-kv",
                "-o",
                "r=1",
                "-o",
                "w=1",
                "-o",
                "read-repair=false",
                "-o",
                "anti-entropy-ms=0",
                "-o",
                "read-writeback=false",
                "--nemesis",
                "partition,kill",
                "--nemesis-interval",
                "0.5",
                "--op-timeout-ms",
                "200",
                "--concurrency",
                "20",
                "--time-limit",
                "6",
                "--seed",
                "23",
            ],
        ),
        // The counter invariant streams too, key by key, on raft-kv under partitions.
        (
            "counter",
            &[
                "--system",
                "raft-kv",
                "--workload",
                "counter",
                "--time-limit",
                "6",
                "--nemesis",
                "partition",
                "--seed",
                "2",
            ],
        ),
        // And set-full, key by key, on raft-kv under partitions.
        (
            "set",
            &[
                "--system",
                "raft-kv",
                "--workload",
                "set",
                "--time-limit",
                "6",
                "--nemesis",
                "partition",
                "--seed",
                "4",
            ],
        ),
        // So does the bank invariant: a valid 2PC bank, and one whose unlocked reads see
        // half a transfer (invalid for certain: the suite's planted bug).
        ("bank", &["--system", "bank-2pc", "--workload", "bank", "--time-limit", "5", "--seed", "3"]),
        (
            "bank-torn-reads",
            &[
                "--system",
                "bank-2pc",
                "-o",
                "unsafe-unlocked-reads=true",
                "--workload",
                "bank",
                "--nemesis",
                "partition,kill",
                "--time-limit",
                "10",
                "--seed",
                "33",
            ],
        ),
    ];
    let (mut invalid, mut streaming, mut bank_streamed, mut told_offline) = (0, 0, 0, 0);
    for (tag, args) in cases {
        let r = run(tag, args);
        assert!(matches!(r.code, Some(0..=2)), "{tag}: {}", r.summary());
        invalid += usize::from(r.code == Some(1));
        streaming += usize::from(streamed(&r.results));
        let dir = r.store.path().join("latest");
        bank_streamed += usize::from(tag.starts_with("bank") && judged_while_recording(&dir));
        if tag == "counter" || tag == "set" {
            assert!(judged_while_recording(&dir), "the {tag} run was not judged while recording");
        }
        // A run whose verdict the stream left offline says so, and why, before the offline
        // check starts; one judged while recording says nothing of the kind.
        let log = std::fs::read_to_string(dir.join("sunder.log")).unwrap();
        if tag == "quorum-weak" {
            assert_eq!(r.code, Some(1), "{tag}: {}", r.summary());
            let decided = log
                .split(" causal-memory views decided while recording")
                .next()
                .and_then(|head| head.rsplit(' ').next())
                .and_then(|n| n.parse::<usize>().ok());
            assert!(
                decided.is_some_and(|n| n > 0),
                "{tag}: no causal-memory view decided while recording:\n{log}"
            );
            let cm = &r.results["checkers"]["causal-memory"]["valid"];
            assert!(cm == true || cm == false, "{tag}: causal memory is not decided: {cm}");
        }
        let (told, judged_offline) = (log.find("judging offline, since "), log.find("judged offline ("));
        match judged_offline {
            Some(verdict) => {
                assert!(
                    told.is_some_and(|t| t < verdict),
                    "{tag}: the wait for the offline check was not told"
                );
                told_offline += 1;
            }
            None => assert!(told.is_none(), "{tag}: told of an offline check that did not run"),
        }
        let drawn = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
        let (page, summary) = (drawn("report.html"), drawn("summary.md"));
        // `sunder check` judges the folder as it reads it, as the run judged it while
        // recording, and with `--offline` reads it whole: all three agree. A folder whose
        // binary mirror is gone is read from its JSONL and gets the mirror back from that
        // read, which every later read takes (the next check, `sunder report` below).
        let mirror = dir.join("history.mirror");
        for how in ["streamed", "offline", "streamed without a mirror", "offline without a mirror"] {
            let mut check = sunder();
            check.arg("check").arg(&dir).arg("--json");
            if how.starts_with("offline") {
                check.arg("--offline");
            }
            if how.ends_with("without a mirror") {
                std::fs::remove_file(&mirror).unwrap();
            }
            let out = check.output().unwrap();
            assert!(mirror.exists(), "{tag}, {how}: the check left no history.mirror");
            assert_eq!(out.status.code(), r.code, "{tag}, {how}: {}", String::from_utf8_lossy(&out.stderr));
            let later: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(verdict(&later), verdict(&r.results), "{tag}: the run and the {how} check disagree");
            if how.starts_with("streamed") {
                assert_eq!(streamed(&later), streamed(&r.results), "{tag}: streamed once, not twice");
            }
            // The run drew its report from the digest gathered as the history was
            // written; the offline check draws it from the history read whole: one page.
            assert!(drawn("report.html") == page, "{tag}: the run's report differs from the {how} check's");
            assert_eq!(
                drawn("summary.md"),
                summary,
                "{tag}: the run's summary differs from the {how} check's"
            );
        }
        // `sunder report` of the folder streams the history, keeping only the calls the
        // witnesses draw (the invalid runs have some): the same page again.
        let out = sunder().arg("report").arg(&dir).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{tag}, report: {}", String::from_utf8_lossy(&out.stderr));
        assert!(drawn("report.html") == page, "{tag}: `sunder report` draws another page than the run");
        assert_eq!(
            drawn("summary.md"),
            summary,
            "{tag}: `sunder report` writes another summary than the run"
        );
    }
    assert_eq!(
        invalid, 3,
        "the inversion, weak-quorum and torn-read runs must be caught, so both kinds of verdict are compared"
    );
    assert_eq!(bank_streamed, 1, "the valid bank run is judged while recording, the torn one offline");
    assert!(told_offline >= 2, "only {told_offline} runs were left to an offline check and said so");
    // The valid register runs are decided as they are recorded (the invalid one is left to
    // the offline check, which explains it).
    assert!(streaming >= 4, "only {streaming} runs were judged while recording");
}
