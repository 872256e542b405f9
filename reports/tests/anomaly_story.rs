//! The paragraph a report opens with is generated from the results: checked on a valid
//! run, a run breaking the register ladder and one breaking a bank invariant, each judged by
//! the real checkers from a small fixed history; and the page's first section names the
//! strongest failed model's witness, with each model's anomalies folded after the first few.

mod scratch_dir;

use scratch_dir::ScratchDir;
use serde_json::{Value, json};
use sunder_check::history::{History, Op, OpType, Strictness};
use sunder_check::import::FailSemantics;
use sunder_check::plan::{self, Limits, Plan};
use sunder_check::verdict::Results;
use sunder_report::story;

fn op(index: u64, time: u64, process: u64, kind: OpType, f: &str, value: Value, node: &str) -> Op {
    Op::client(index, time, process, kind, f, value).with_key("k1").with_node(node)
}

fn nemesis(index: u64, time: u64, f: &str) -> Op {
    Op::nemesis(index, time, f, json!({"grudge": {"n3": ["n1", "n2"]}}))
}

/// A write at n1, then n3 serves the initial value to a later read twice before a partition
/// that begins at 1 s: stale reads the read path causes, not the fault.
fn stale_reads() -> Vec<Op> {
    use OpType::*;
    vec![
        op(0, 10, 0, Invoke, "write", json!(1), "n1"),
        op(1, 20, 0, Ok, "write", json!(1), "n1"),
        op(2, 30, 1, Invoke, "read", json!(null), "n3"),
        op(3, 40, 1, Ok, "read", json!(1), "n3"),
        op(4, 50, 1, Invoke, "read", json!(null), "n3"),
        op(5, 60, 1, Ok, "read", json!(null), "n3"),
        op(6, 70, 2, Invoke, "read", json!(null), "n3"),
        op(7, 80, 2, Ok, "read", json!(null), "n3"),
        nemesis(8, 1_000_000_000, "start-partition"),
        op(9, 1_000_000_010, 2, Invoke, "read", json!(null), "n2"),
        op(10, 1_000_000_020, 2, Ok, "read", json!(1), "n2"),
        nemesis(11, 2_000_000_000, "stop-partition"),
    ]
}

fn judge(ops: Vec<Op>, plan: &str) -> (History, Results) {
    let h = History::new(ops, Strictness::Strict).expect("fixture is a valid history");
    let plan: Plan = plan.parse().expect("a plan");
    let r = plan::judge(&h, &plan, FailSemantics::NotApplied, Limits::default());
    (h, r)
}

#[test]
fn a_valid_run_says_so_and_names_the_strongest_model_held() {
    use OpType::*;
    let ops = vec![
        op(0, 10, 0, Invoke, "write", json!(1), "n1"),
        op(1, 20, 0, Ok, "write", json!(1), "n1"),
        op(2, 30, 1, Invoke, "read", json!(null), "n2"),
        op(3, 40, 1, Ok, "read", json!(1), "n2"),
    ];
    let (_, r) = judge(ops, "kv");
    let s = story::tell(&r);
    assert_eq!(s.witness, None);
    assert_eq!(
        s.paragraph(),
        "The run is valid: every checker found the history valid, and the strongest model judged, linearizable, held."
    );
}

#[test]
fn a_ladder_failure_names_the_failed_models_the_witness_and_the_time_before_the_faults() {
    let (_, r) = judge(stale_reads(), "kv");
    let s = story::tell(&r);
    let p = s.paragraph();
    assert!(p.starts_with("The run is invalid: linearizable failed, and so did "), "{p}");
    let lin = &r.anomalies[s.witness.expect("a witness")];
    assert_eq!(lin.checker(), "linearizable");
    assert!(p.contains(&format!("The clearest witness is anomaly 1, not linearizable (nonlinearizable, found by linearizable): {}", lin.explanation)), "{p}");
    let n = r.anomaly_counts.distinct;
    assert!(p.contains(&format!("{n} distinct anomal")), "{p}");
    let before =
        r.anomaly_counts.by_fault.iter().find(|l| l.label == "before any fault").expect("row").anomalies;
    assert!(before > 0, "every stale read precedes the partition");
    assert!(
        p.contains(&format!(
            "{before} of {} began and ended before any fault (the first, F1 partition, began at 1.0 s)",
            r.anomaly_counts.found
        )),
        "{p}"
    );
    assert!(p.contains("n3"), "the node that served the stale reads is named: {p}");
}

#[test]
fn an_invariant_failure_names_the_check_and_its_anomaly_kind() {
    use OpType::*;
    let read = |i: u64, p: u64, kind: OpType, v: Value| {
        let mut o = Op::client(i, 10 * i, p, kind, "read", v);
        o.node = Some("n1".into());
        o
    };
    let ops = vec![
        read(0, 0, Invoke, json!(null)),
        read(1, 0, Ok, json!({"a": 10, "b": 10})),
        read(2, 1, Invoke, json!(null)),
        read(3, 1, Ok, json!({"a": 10, "b": 5})),
    ];
    let (_, r) = judge(ops, "bank");
    let p = story::tell(&r).paragraph();
    assert!(p.starts_with("The run is invalid: the bank check failed."), "{p}");
    assert!(p.contains("anomaly 1, money was created or destroyed (wrong-total, found by bank)"), "{p}");
    assert!(p.contains("No fault was injected, so all 1 anomaly came from the system on its own."), "{p}");
    assert!(p.contains("Every op the clients recorded a node for was served by n1."), "{p}");
}

fn write_run(dir: &ScratchDir, ops: &[Op], results: &Results) {
    let history: String = ops.iter().map(|o| serde_json::to_string(o).unwrap() + "\n").collect();
    std::fs::write(dir.path().join("history.jsonl"), history).unwrap();
    std::fs::write(dir.path().join("results.json"), serde_json::to_vec_pretty(results).unwrap()).unwrap();
    let test = json!({"name": "stale-reads", "system": "fixture", "workload": "register", "nemesis": ["partition"], "seed": 1});
    std::fs::write(dir.path().join("test.json"), test.to_string()).unwrap();
}

#[test]
fn the_page_opens_with_the_story_and_the_strongest_failed_models_witness() {
    let (h, r) = judge(stale_reads(), "kv");
    let run = ScratchDir::new("anomaly-story");
    write_run(&run, h.ops(), &r);
    let s = sunder_report::render_run(run.path()).unwrap();
    let html = std::fs::read_to_string(&s.report).unwrap();
    let main = &html[html.find("<main>").expect("main")..];
    let first = &main[main.find("<section").expect("a section")..];
    assert!(first.starts_with("<section id=\"summary\">"), "{}", &first[..200]);
    let first = &first[..first.find("</section>").expect("closed")];
    assert!(first.contains("The run is invalid: linearizable failed"));
    assert!(first.contains(
        "<a href=\"#anomaly-1\">Anomaly 1</a>, the witness of the strongest failure, not linearizable"
    ));
    assert!(first.contains("<svg"), "the witness is drawn in the first section");
    // Anomaly 1 is the linearizability one; every model's group is headed and in ladder order.
    let section = &html[html.find("<section id=\"anomalies\">").unwrap()..];
    let a1 = &section[section.find("id=\"anomaly-1\"").unwrap()..];
    assert!(a1[..a1.find("</h4>").unwrap()].contains("not linearizable"));
    let groups: Vec<&str> =
        section.split("<h3 class=\"model-group\">").skip(1).map(|g| g.split(' ').next().unwrap()).collect();
    assert_eq!(groups.first(), Some(&"linearizable"));
    assert!(section.contains("before any fault"));
    assert!(section.contains("served by n1, n3") || section.contains("served by n3"));
    let summary = std::fs::read_to_string(&s.summary).unwrap();
    assert!(summary.contains("The run is invalid: linearizable failed"));
    assert!(summary.contains("### Anomalies by fault window"));
    assert!(summary.contains("| before any fault |"));
}
