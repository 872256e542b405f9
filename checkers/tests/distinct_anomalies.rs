//! Composed results list distinct anomalies: repeats merged with a count, look-alikes folded
//! under one representative, each tied to the fault windows its ops overlap and the nodes
//! that served them, in ladder order, and bounded however many a checker reports.

use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use sunder_check::distinct::{BEFORE_ANY_FAULT, LISTED_PER_KIND, NO_FAULT_ACTIVE};
use sunder_check::history::{History, Op, OpType, Strictness};
use sunder_check::import::FailSemantics;
use sunder_check::plan::{self, Limits, Plan};
use sunder_check::verdict::{Anomaly, CheckerResult, Results, Validity};

fn call(index: u64, time: u64, process: u64, kind: OpType, f: &str, value: Value, node: &str) -> Op {
    Op::client(index, time, process, kind, f, value).with_key("k1").with_node(node)
}

fn nemesis(index: u64, time: u64, f: &str) -> Op {
    Op::nemesis(index, time, f, json!({"grudge": {"n3": ["n1", "n2"]}}))
}

/// A write of k1 at n1, then stale reads at n3: one before the partition (ops 2-3), one
/// inside it (7-8), one after it healed (12-13); a read at n2 spans the partition's start
/// (4-6). The partition F1 runs from 100 to 200 ns.
fn fixture() -> History {
    use OpType::*;
    let ops = vec![
        call(0, 10, 0, Invoke, "write", json!(1), "n1"),
        call(1, 20, 0, Ok, "write", json!(1), "n1"),
        call(2, 30, 1, Invoke, "read", json!(null), "n3"),
        call(3, 40, 1, Ok, "read", json!(null), "n3"),
        call(4, 90, 3, Invoke, "read", json!(null), "n2"),
        nemesis(5, 100, "start-partition"),
        call(6, 105, 3, Ok, "read", json!(1), "n2"),
        call(7, 110, 1, Invoke, "read", json!(null), "n3"),
        call(8, 120, 1, Ok, "read", json!(null), "n3"),
        nemesis(9, 200, "stop-partition"),
        call(10, 210, 2, Invoke, "read", json!(null), "n2"),
        call(11, 220, 2, Ok, "read", json!(1), "n2"),
        call(12, 230, 1, Invoke, "read", json!(null), "n3"),
        call(13, 240, 1, Ok, "read", json!(null), "n3"),
    ];
    History::new(ops, Strictness::Strict).expect("fixture is a valid history")
}

fn anomaly(kind: &str, ops: &[u64]) -> Anomaly {
    Anomaly {
        kind: kind.into(),
        explanation: format!("ops {ops:?}"),
        ops: ops.to_vec(),
        ..Anomaly::default()
    }
}

fn compose(history: Option<&History>, checkers: Vec<(&str, Vec<Anomaly>)>) -> Results {
    let checkers: BTreeMap<String, CheckerResult> =
        checkers.into_iter().map(|(n, a)| (n.to_string(), CheckerResult::invalid(a))).collect();
    Results::compose_for(history, checkers, vec![], Value::Null)
}

fn of<'a>(r: &'a Results, checker: &str) -> Vec<&'a Anomaly> {
    r.anomalies.iter().filter(|a| a.checker() == checker).collect()
}

#[test]
fn repeats_merge_with_a_count_and_look_alikes_fold_under_one() {
    let h = fixture();
    let r = compose(
        Some(&h),
        vec![(
            "monotonic-reads",
            vec![
                anomaly("monotonic-reads", &[1, 3]),
                anomaly("monotonic-reads", &[3, 1]),
                // Same shape as [1, 3]: process 0 writes k1, process 1 reads it; other values.
                anomaly("monotonic-reads", &[1, 8]),
                // Another shape: process 2 reads, then process 1.
                anomaly("monotonic-reads", &[11, 13]),
            ],
        )],
    );
    let listed = of(&r, "monotonic-reads");
    assert_eq!(listed.len(), 2, "{listed:#?}");
    assert_eq!((listed[0].ops.as_slice(), listed[0].count, listed[0].similar), (&[1, 3][..], 2, 1));
    assert_eq!(listed[0].examples, vec![vec![1, 8]]);
    assert_eq!((listed[1].ops.as_slice(), listed[1].count, listed[1].similar), (&[11, 13][..], 1, 0));
    assert_eq!(listed[0].name, "a client's reads went back in time");
    let c = &r.anomaly_counts;
    assert_eq!((c.found, c.distinct, c.listed), (4, 3, 2));
    assert_eq!((c.by_kind[0].found, c.by_kind[0].distinct, c.by_kind[0].listed), (4, 3, 2));
    // The checker's own list is the distinct one too, so results.json never repeats it.
    assert_eq!(r.checkers["monotonic-reads"].anomalies.len(), 2);
}

#[test]
fn anomalies_carry_the_fault_windows_their_ops_overlap() {
    let h = fixture();
    let r = compose(
        Some(&h),
        vec![(
            "set",
            vec![
                anomaly("lost", &[3]),
                anomaly("lost", &[6]),
                anomaly("stale", &[8]),
                anomaly("unexpected", &[13]),
            ],
        )],
    );
    assert_eq!(r.faults.len(), 1);
    assert_eq!((r.faults[0].id.as_str(), r.faults[0].name.as_str()), ("F1", "partition"));
    let by_ops = |ops: &[u64]| r.anomalies.iter().find(|a| a.ops == ops).expect("listed");
    let before = by_ops(&[3]);
    assert!(before.before_any_fault && before.faults.is_empty());
    assert_eq!(before.nodes, vec!["n3"]);
    // Invoked at 90, completed at 105: it spans the partition's start.
    assert_eq!(by_ops(&[6]).faults, vec!["F1"]);
    assert!(!by_ops(&[6]).before_any_fault);
    assert_eq!(by_ops(&[8]).faults, vec!["F1"]);
    let after = by_ops(&[13]);
    assert!(after.faults.is_empty() && !after.before_any_fault);
    let rows: Vec<(&str, u64)> =
        r.anomaly_counts.by_fault.iter().map(|l| (l.label.as_str(), l.anomalies)).collect();
    assert_eq!(rows, vec![("F1", 2), (BEFORE_ANY_FAULT, 1), (NO_FAULT_ACTIVE, 1)]);
    let nodes: Vec<(&str, u64)> =
        r.anomaly_counts.by_node.iter().map(|l| (l.label.as_str(), l.anomalies)).collect();
    assert_eq!(nodes, vec![("n2", 1), ("n3", 3)]);
}

#[test]
fn anomalies_are_listed_in_ladder_order_with_the_models_sharing_them() {
    let h = fixture();
    let r = compose(
        Some(&h),
        vec![
            ("bank", vec![anomaly("wrong-total", &[11])]),
            ("list-append", vec![anomaly("G1c", &[6])]),
            ("pram", vec![anomaly("pram", &[1, 3])]),
            ("sequential", vec![anomaly("not-sequential", &[1, 3])]),
            ("causal", vec![anomaly("WriteCORead", &[1, 8, 13])]),
            ("causal-memory", vec![anomaly("WriteCORead", &[1, 8, 13])]),
            ("linearizable", vec![anomaly("nonlinearizable", &[1, 3])]),
        ],
    );
    let order: Vec<&str> = r.anomalies.iter().map(Anomaly::checker).collect();
    assert_eq!(
        order,
        vec!["linearizable", "sequential", "causal-memory", "causal", "pram", "list-append", "bank"]
    );
    assert_eq!(of(&r, "causal")[0].also_in, vec!["causal-memory"]);
    assert!(of(&r, "pram")[0].also_in.is_empty(), "another kind on the same ops is another anomaly");
}

#[test]
fn results_stay_bounded_however_many_ops_violate_a_model() {
    // Ten thousand reads, each a violation a checker without its own cap might report.
    let mut ops = vec![];
    for i in 0..10_000u64 {
        let p = i % 5;
        let key = format!("k{}", i % 3);
        ops.push(Op::client(2 * i, 2 * i, p, OpType::Invoke, "read", json!(null)).with_key(key.clone()));
        ops.push(Op::client(2 * i + 1, 2 * i + 1, p, OpType::Ok, "read", json!(i)).with_key(key));
    }
    let h = History::new(ops, Strictness::Strict).expect("valid");
    let many: Vec<Anomaly> = (0..10_000u64).map(|i| anomaly("stale", &[2 * i + 1])).collect();
    for history in [Some(&h), None] {
        let r = compose(history, vec![("set-full", many.clone())]);
        assert_eq!(r.anomaly_counts.found, 10_000);
        assert_eq!(r.anomaly_counts.distinct, 10_000);
        assert!(r.anomalies.len() <= LISTED_PER_KIND, "{} listed", r.anomalies.len());
        assert!(r.anomalies.iter().all(|a| a.examples.len() <= sunder_check::distinct::EXAMPLES_PER_GROUP));
        let bytes = serde_json::to_vec(&r).expect("serializes").len();
        assert!(bytes < 16 * 1024, "results.json of {bytes} bytes");
    }
}

#[test]
fn a_judged_history_with_stale_reads_lists_each_anomaly_once() {
    let h = fixture();
    let plan: Plan = "kv".parse().expect("a model");
    let r = plan::judge(&h, &plan, FailSemantics::NotApplied, Limits::default());
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.anomalies.first().map(Anomaly::checker), Some("linearizable"));
    let mut seen = HashSet::new();
    for a in &r.anomalies {
        let mut ops = a.ops.clone();
        ops.sort_unstable();
        assert!(seen.insert((a.checker().to_string(), a.kind.clone(), ops)), "listed twice: {a:?}");
        assert!(!a.name.is_empty() && a.name != a.kind || a.kind.is_empty(), "no plain name: {a:?}");
    }
    let labels: Vec<&str> = r.anomaly_counts.by_fault.iter().map(|l| l.label.as_str()).collect();
    assert_eq!(&labels[..2], &["F1", BEFORE_ANY_FAULT]);
    let json = serde_json::to_value(&r).expect("serializes");
    let back: Results = serde_json::from_value(json).expect("reads back");
    assert_eq!(back, r);
}
