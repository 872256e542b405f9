//! One hand-written history per anomaly kind the transactional checker names, each with the
//! model it must rule out and one it must leave standing.

use serde_json::{Value, json};
use sunder_check::Validity;
use sunder_check::history::{History, Op, OpType, Strictness};
use sunder_check::txn::{TxnModel, TxnOptions, TxnReport, check};

/// Builds a history of transactions run one after another: `(process, outcome, micro-ops
/// with results)`; the invocation carries the same micro-ops with reads set to null.
/// With `concurrent`, every invocation comes before every completion (no real-time order).
fn history(txns: &[(u64, OpType, Value)], concurrent: bool) -> History {
    let invoke = |v: &Value| {
        Value::Array(
            v.as_array()
                .unwrap()
                .iter()
                .map(|m| if m[0] == "r" { json!(["r", m[1], null]) } else { m.clone() })
                .collect(),
        )
    };
    let mut ops = vec![];
    let mut push = |p: u64, kind: OpType, v: Value| {
        let i = ops.len() as u64;
        ops.push(Op::client(i, i, p, kind, "txn", v));
    };
    if concurrent {
        for (p, _, v) in txns {
            push(*p, OpType::Invoke, invoke(v));
        }
        for (p, k, v) in txns {
            push(*p, *k, v.clone());
        }
    } else {
        for (p, k, v) in txns {
            push(*p, OpType::Invoke, invoke(v));
            push(*p, *k, v.clone());
        }
    }
    History::new(ops, Strictness::Lenient).unwrap()
}

fn judge(h: &History, model: TxnModel) -> TxnReport {
    check(h, &TxnOptions { model, garbage_reads: true, ..Default::default() })
}

fn assert_kind(r: &TxnReport, kind: &str, fails: &str, holds: Option<&str>) {
    let kinds: Vec<&str> = r.result.anomalies.iter().map(|a| a.kind.as_str()).collect();
    assert!(kinds.contains(&kind), "expected {kind}, got {kinds:?}");
    assert!(
        r.models.contains(&(fails.to_string(), Validity::Invalid)),
        "{fails} should fail: {:?}",
        r.models
    );
    if let Some(h) = holds {
        assert!(r.models.contains(&(h.to_string(), Validity::Valid)), "{h} should hold: {:?}", r.models);
    }
    let a = r.result.anomalies.iter().find(|a| a.kind == kind).unwrap();
    assert!(!a.ops.is_empty() && a.explanation.ends_with('.'), "{a:?}");
}

use OpType::{Fail, Ok as Done};
const LA: TxnModel = TxnModel::ListAppend;
const RW: TxnModel = TxnModel::RwRegister;

#[test]
fn identifies_g0_write_cycle() {
    let h = history(
        &[
            (0, Done, json!([["append", "x", 1], ["append", "y", 2]])),
            (1, Done, json!([["append", "x", 3], ["append", "y", 4]])),
            (2, Done, json!([["r", "x", [1, 3]], ["r", "y", [4, 2]]])),
        ],
        true,
    );
    assert_kind(&judge(&h, LA), "G0", "read-uncommitted", None);
}

#[test]
fn identifies_g1a_aborted_read() {
    let h = history(&[(0, Fail, json!([["append", "x", 1]])), (1, Done, json!([["r", "x", [1]]]))], false);
    assert_kind(&judge(&h, LA), "G1a", "read-committed", Some("read-uncommitted"));
}

#[test]
fn identifies_g1b_intermediate_read() {
    let h = history(
        &[(0, Done, json!([["append", "x", 1], ["append", "x", 2]])), (1, Done, json!([["r", "x", [1]]]))],
        true,
    );
    assert_kind(&judge(&h, LA), "G1b", "read-committed", Some("read-uncommitted"));
}

#[test]
fn identifies_g1c_circular_information_flow() {
    let h = history(
        &[
            (0, Done, json!([["append", "x", 1], ["r", "y", [1]]])),
            (1, Done, json!([["append", "y", 1], ["r", "x", [1]]])),
        ],
        true,
    );
    assert_kind(&judge(&h, LA), "G1c", "read-committed", Some("read-uncommitted"));
}

#[test]
fn identifies_g_single_read_skew() {
    // T2 sees T1's y but not T1's x.
    let h = history(
        &[
            (0, Done, json!([["append", "x", 1], ["append", "y", 1]])),
            (1, Done, json!([["r", "x", []], ["r", "y", [1]]])),
            (2, Done, json!([["r", "x", [1]]])),
        ],
        true,
    );
    let r = judge(&h, LA);
    assert_kind(&r, "G-single-item", "snapshot-isolation", Some("read-committed"));
    assert_kind(&r, "fractured-read", "monotonic-atomic-view", Some("read-committed"));
}

#[test]
fn identifies_g2_item_write_skew_that_snapshot_isolation_allows() {
    let h = history(
        &[
            (0, Done, json!([["r", "x", []], ["append", "y", 1]])),
            (1, Done, json!([["r", "y", []], ["append", "x", 1]])),
        ],
        true,
    );
    assert_kind(&judge(&h, LA), "G2-item", "repeatable-read", Some("snapshot-isolation"));
}

#[test]
fn identifies_g_nonadjacent_cycle() {
    // T0 -rw-> T1 -wr-> T2 -rw-> T3 -wr-> T0: two rw edges, never adjacent.
    let h = history(
        &[
            (0, Done, json!([["r", "x", []], ["r", "w", [1]]])),
            (1, Done, json!([["append", "x", 1], ["append", "y", 1]])),
            (2, Done, json!([["r", "y", [1]], ["r", "z", []]])),
            (3, Done, json!([["append", "z", 1], ["append", "w", 1]])),
        ],
        true,
    );
    assert_kind(&judge(&h, LA), "G-nonadjacent-item", "snapshot-isolation", Some("read-committed"));
}

#[test]
fn identifies_lost_update() {
    let h = history(
        &[
            (0, Done, json!([["r", "x", []], ["append", "x", 1]])),
            (1, Done, json!([["r", "x", []], ["append", "x", 2]])),
        ],
        true,
    );
    assert_kind(&judge(&h, LA), "lost-update", "repeatable-read", Some("read-committed"));
}

#[test]
fn identifies_duplicate_elements() {
    let h = history(&[(0, Done, json!([["append", "x", 1]])), (1, Done, json!([["r", "x", [1, 1]]]))], false);
    assert_kind(&judge(&h, LA), "duplicate-elements", "read-uncommitted", None);
}

#[test]
fn identifies_incompatible_order() {
    let h = history(
        &[
            (0, Done, json!([["append", "x", 1]])),
            (1, Done, json!([["append", "x", 2]])),
            (2, Done, json!([["r", "x", [1, 2]]])),
            (3, Done, json!([["r", "x", [2, 1]]])),
        ],
        false,
    );
    assert_kind(&judge(&h, LA), "incompatible-order", "read-committed", None);
}

#[test]
fn identifies_internal_inconsistency() {
    let h = history(&[(0, Done, json!([["append", "x", 1], ["r", "x", []]]))], false);
    assert_kind(&judge(&h, LA), "internal", "read-committed", Some("read-uncommitted"));
}

#[test]
fn identifies_dirty_update() {
    let h = history(
        &[
            (0, Fail, json!([["append", "x", 1]])),
            (1, Done, json!([["append", "x", 2]])),
            (2, Done, json!([["r", "x", [1, 2]]])),
        ],
        false,
    );
    assert_kind(&judge(&h, LA), "dirty-update", "read-committed", None);
}

#[test]
fn identifies_garbage_read_only_when_asked() {
    let h = history(&[(0, Done, json!([["r", "x", 7]]))], false);
    assert_kind(&judge(&h, RW), "garbage-read", "read-committed", Some("read-uncommitted"));
    let quiet = check(&h, &TxnOptions { model: RW, ..Default::default() });
    assert_eq!(quiet.result.valid, Validity::Valid);
}

#[test]
fn identifies_cyclic_versions_under_sequential_keys() {
    // One process reads x=2 then x=1, another wrote 1 then 2 in one transaction.
    let h = history(
        &[
            (0, Done, json!([["w", "x", 1], ["w", "x", 2]])),
            (1, Done, json!([["r", "x", 2]])),
            (1, Done, json!([["r", "x", 1]])),
        ],
        false,
    );
    let r = check(&h, &TxnOptions { model: RW, sequential_keys: true, ..Default::default() });
    assert_kind(&r, "cyclic-versions", "read-uncommitted", None);
}

#[test]
fn identifies_a_cycle_closed_by_process_order() {
    // Process 0 writes x, then reads y from before process 1's write; process 1 does the
    // mirror image: serializable, but not in each session's order.
    let h = history(
        &[
            (0, Done, json!([["append", "x", 1]])),
            (0, Done, json!([["r", "y", []]])),
            (1, Done, json!([["append", "y", 1]])),
            (1, Done, json!([["r", "x", []]])),
            (2, Done, json!([["r", "x", [1]], ["r", "y", [1]]])),
        ],
        false,
    );
    let r = judge(&h, LA);
    let kinds: Vec<&str> = r.result.anomalies.iter().map(|a| a.kind.as_str()).collect();
    assert!(kinds.iter().any(|k| k.ends_with("-process") || k.ends_with("-realtime")), "{kinds:?}");
    assert!(r.models.contains(&("serializable".to_string(), Validity::Valid)), "{:?}", r.models);
    assert!(r.models.contains(&("strict-serializable".to_string(), Validity::Invalid)), "{:?}", r.models);
}

#[test]
fn identifies_a_stale_read_by_real_time() {
    let h = history(
        &[
            (0, Done, json!([["append", "x", 1]])),
            (1, Done, json!([["r", "x", []]])),
            (2, Done, json!([["r", "x", [1]]])),
        ],
        false,
    );
    let r = judge(&h, LA);
    assert_kind(&r, "G-single-item-realtime", "strict-serializable", Some("strong-session-serializable"));
}

#[test]
fn malformed_micro_ops_give_unknown_naming_the_op() {
    let h = history(&[(0, Done, json!([["append", "x"]]))], false);
    let r = judge(&h, LA);
    assert_eq!(r.result.valid, Validity::Unknown);
    let reason = r.result.reason.unwrap();
    assert!(reason.contains("op 1") && reason.contains("micro-op 1"), "{reason}");
}

#[test]
fn reports_a_few_witnesses_per_kind_and_counts_them_all() {
    let mut txns = vec![];
    for i in 0..50u64 {
        txns.push((2 * i, Fail, json!([["append", format!("k{i}"), 1]])));
        txns.push((2 * i + 1, Done, json!([["r", format!("k{i}"), [1]]])));
    }
    let r = judge(&history(&txns, false), LA);
    assert_eq!(r.result.anomalies.iter().filter(|a| a.kind == "G1a").count(), 8);
    assert_eq!(r.result.details["anomaly_counts"]["G1a"], 50);
}
