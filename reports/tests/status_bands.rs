//! The report's blocking bands: a run folder whose nodes' sampled `/status`
//! (`nodes/<node>/status.jsonl`) shows a participant in doubt, holding locks, and a node
//! that did not answer renders one band of each, with the counts in its tooltip, beside
//! the fault windows; a transaction in doubt for over a second is drawn as blocked; values from the nodes appear escaped; and a run without samples
//! renders no bands at all.

mod scratch_dir;

use scratch_dir::ScratchDir;
use sunder_report::synthetic::{HOSTILE, SyntheticRun};

fn sample(ms: u64, in_doubt: &[&str], locks: usize) -> String {
    let doubt: Vec<serde_json::Value> = in_doubt
        .iter()
        .enumerate()
        .map(|(i, c)| serde_json::json!({"txn": format!("{c}.1.{i}"), "coordinator": c, "since_ms": 0, "precommitted": false}))
        .collect();
    let locks: Vec<serde_json::Value> = (0..locks)
        .map(|i| serde_json::json!({"key": format!("a{i}"), "txn": "n1.1.0", "mode": "exclusive"}))
        .collect();
    let line = serde_json::json!({"time": ms * 1_000_000, "node": "n2", "ok": true,
        "status": {"in_doubt": doubt, "locks": locks}});
    format!("{line}\n")
}

fn silent(ms: u64) -> String {
    format!(
        "{}\n",
        serde_json::json!({"time": ms * 1_000_000, "node": "n1", "ok": false, "error": "connection refused"})
    )
}

fn run_with_samples() -> (ScratchDir, String) {
    let run = ScratchDir::new("status-bands");
    SyntheticRun { ops: 400, ..Default::default() }.write(run.path()).unwrap();
    let n2 = run.path().join("nodes/n2");
    std::fs::create_dir_all(&n2).unwrap();
    let n2_samples =
        [sample(0, &[], 0), sample(200, &["n1"], 2), sample(400, &[HOSTILE, "n1"], 3), sample(600, &[], 0)]
            .concat();
    std::fs::write(n2.join("status.jsonl"), n2_samples).unwrap();
    let n1 = run.path().join("nodes/n1");
    std::fs::create_dir_all(&n1).unwrap();
    std::fs::write(n1.join("status.jsonl"), [silent(200), silent(400)].concat()).unwrap();
    let summary = sunder_report::render_run(run.path()).unwrap();
    let html = std::fs::read_to_string(summary.report).unwrap();
    (run, html)
}

#[test]
fn in_doubt_locks_and_silence_become_bands_with_counts_beside_the_faults() {
    let (_run, html) = run_with_samples();
    let bands = html.split("<svg class=\"status-bands\"").nth(1).expect("the status bands are drawn");
    let bands = bands.split("</svg>").next().unwrap();
    assert_eq!(bands.matches("class=\"band-doubt\"").count(), 1, "one in-doubt band on n2");
    assert_eq!(bands.matches("class=\"band-locks\"").count(), 1, "one lock band on n2");
    assert_eq!(bands.matches("class=\"band-silent\"").count(), 1, "one silent band on n1");
    assert!(bands.matches("class=\"band-fault\"").count() >= 1, "the synthetic run's faults are drawn too");
    assert!(bands.contains("n2: up to 2 transaction(s) in doubt (waiting for "), "{bands}");
    assert!(bands.contains("0.200–0.600 s, 2 sample(s)"), "{bands}");
    assert!(bands.contains("n2: up to 3 lock(s) held"), "{bands}");
    assert!(bands.contains("n1 did not answer /status, 0.200–0.600 s, 2 sample(s)"), "{bands}");
    assert_eq!(bands.matches("class=\"band-stuck\"").count(), 0, "nothing stayed in doubt for a second");
}

#[test]
fn a_transaction_in_doubt_for_over_a_second_is_drawn_as_blocked_with_its_age() {
    let run = ScratchDir::new("stuck-band");
    SyntheticRun { ops: 400, ..Default::default() }.write(run.path()).unwrap();
    let n3 = run.path().join("nodes/n3");
    std::fs::create_dir_all(&n3).unwrap();
    let samples: String = (0..10).map(|i| sample(i * 200, &["n1"], 2)).collect();
    std::fs::write(n3.join("status.jsonl"), samples).unwrap();
    let summary = sunder_report::render_run(run.path()).unwrap();
    let html = std::fs::read_to_string(summary.report).unwrap();
    assert_eq!(html.matches("class=\"band-stuck\"").count(), 1, "one blocked band");
    assert!(
        html.contains(
            "n3: up to 1 transaction(s) in doubt for over 1.000 s (blocked); longest n1.1.0, 1.800 s"
        ),
        "{html}"
    );
}

#[test]
fn values_from_the_nodes_are_escaped_in_the_bands() {
    let (_run, html) = run_with_samples();
    assert!(!html.contains(HOSTILE), "raw markup from a node's status reached the report");
    let bands = html.split("<svg class=\"status-bands\"").nth(1).unwrap().split("</svg>").next().unwrap();
    assert!(bands.contains("&lt;/script&gt;"), "the hostile coordinator shows escaped: {bands}");
}

#[test]
fn a_run_without_status_samples_draws_no_bands() {
    let run = ScratchDir::new("no-status-bands");
    SyntheticRun { ops: 400, ..Default::default() }.write(run.path()).unwrap();
    let summary = sunder_report::render_run(run.path()).unwrap();
    let html = std::fs::read_to_string(summary.report).unwrap();
    assert!(!html.contains("status-bands"));
}

#[test]
fn a_malformed_sample_line_is_named_with_its_file_and_line() {
    let run = ScratchDir::new("bad-status-line");
    SyntheticRun { ops: 400, ..Default::default() }.write(run.path()).unwrap();
    let n3 = run.path().join("nodes/n3");
    std::fs::create_dir_all(&n3).unwrap();
    std::fs::write(n3.join("status.jsonl"), format!("{}{{broken\n", sample(0, &["n1"], 1))).unwrap();
    let summary = sunder_report::render_run(run.path()).unwrap();
    let html = std::fs::read_to_string(summary.report).unwrap();
    assert!(html.contains("nodes/n3/status.jsonl:2: malformed JSON"), "the problem names file and line");
    assert!(html.contains("class=\"band-doubt\""), "the readable sample is still drawn");
}
