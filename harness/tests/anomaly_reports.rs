//! A real run with a planted bug (raft-kv's stale `local` read path under partitions, the
//! settings `raft_kv_runs` holds to be caught on any machine) through `sunder run`: its
//! results list distinct anomalies only, in ladder order, each tied to fault windows the
//! history has; the report opens with the summary naming the strongest failed model's
//! witness. Only what holds whatever the timing is asserted: which anomalies a run finds is
//! timing, their shape is not.

mod support;

use serde_json::Value;
use std::collections::HashSet;
use support::Finished;

fn local_reads_under_partitions() -> Finished {
    support::run(
        "anomaly-local",
        &[
            "--system",
            "raft-kv",
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
    )
}

#[test]
fn a_planted_stale_read_run_reports_distinct_anomalies_tied_to_its_faults() {
    let run = local_reads_under_partitions();
    assert_eq!(run.code, Some(1), "{}", run.summary());
    let r = &run.results;
    let anomalies = r["anomalies"].as_array().expect("anomalies");
    assert!(!anomalies.is_empty(), "{}", run.summary());

    let mut seen = HashSet::new();
    for a in anomalies {
        let mut ops: Vec<u64> = a["ops"].as_array().unwrap().iter().map(|o| o.as_u64().unwrap()).collect();
        ops.sort_unstable();
        let id = (a["witness"]["checker"].to_string(), a["kind"].to_string(), ops);
        assert!(seen.insert(id.clone()), "listed twice: {id:?}");
        assert!(a["name"].as_str().is_some_and(|n| !n.is_empty()), "no plain name: {a}");
    }
    assert_eq!(anomalies[0]["witness"]["checker"], "linearizable", "linearizability comes first");

    // Fault windows are the history's start-X ops, and anomalies name only those.
    let dir = run.store.path().join("latest");
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    let starts = history
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|op| op["process"] == "nemesis" && op["f"].as_str().is_some_and(|f| f.starts_with("start-")))
        .count();
    let windows: Vec<&str> = r["faults"]
        .as_array()
        .map(|w| w.iter().map(|w| w["id"].as_str().unwrap()).collect())
        .unwrap_or_default();
    assert_eq!(windows.len(), starts, "{}", r["faults"]);
    for a in anomalies {
        for f in a["faults"].as_array().into_iter().flatten() {
            assert!(windows.contains(&f.as_str().unwrap()), "{a}");
        }
        assert!(
            !(a["before_any_fault"] == true && a.get("faults").is_some()),
            "before every fault yet inside one: {a}"
        );
    }
    let counts = &r["anomaly_counts"];
    let labels: Vec<&str> =
        counts["by_fault"].as_array().unwrap().iter().map(|l| l["label"].as_str().unwrap()).collect();
    for w in &windows {
        assert!(labels.contains(w), "{labels:?}");
    }
    if !windows.is_empty() {
        assert!(labels.contains(&"before any fault"), "{labels:?}");
    }
    assert!(counts["found"].as_u64() >= counts["listed"].as_u64());
    assert_eq!(counts["listed"].as_u64(), Some(anomalies.len() as u64));
    assert!(!counts["by_node"].as_array().unwrap().is_empty(), "the HTTP client records nodes");

    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let main = &html[html.find("<main>").unwrap()..];
    let first = &main[main.find("<section").unwrap()..];
    assert!(first.starts_with("<section id=\"summary\">"), "{}", &first[..200.min(first.len())]);
    let first = &first[..first.find("</section>").unwrap()];
    assert!(first.contains("The run is invalid: linearizable failed"), "{first}");
    assert!(first.contains(
        "<a href=\"#anomaly-1\">Anomaly 1</a>, the witness of the strongest failure, not linearizable"
    ));
    let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(summary.contains("The run is invalid: linearizable failed"), "{summary}");
}
