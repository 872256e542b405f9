//! One small hand-written history per anomaly kind of the ladder, each checked for its
//! verdict, its kind, the ops that prove it and a plain explanation; plus the rules for
//! `info`, `fail` and non-unique writes.

mod ladder_support;

use ladder_support::definitions::causal_by_definition;
use ladder_support::{Builder, v};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use sunder_check::history::{History, OpType};
use sunder_check::ladder::register::RegisterHistory;
use sunder_check::ladder::{LadderBudget, check_register};
use sunder_check::verdict::{CheckerResult, Validity};

fn ladder(h: &History) -> BTreeMap<String, CheckerResult> {
    ladder_within(h, &LadderBudget::default())
}

fn ladder_within(h: &History, budget: &LadderBudget) -> BTreeMap<String, CheckerResult> {
    check_register(h, budget).into_iter().collect()
}

/// Fig. 2d of the paper: causal in every flavour, yet no single order of all ops fits.
fn no_total_order() -> History {
    Builder::new()
        .write(1, "x", v(1))
        .read(1, "y", Value::Null)
        .write(2, "x", v(2))
        .read(2, "y", Value::Null)
        .write(1, "y", v(1))
        .read(1, "x", v(1))
        .write(2, "y", v(2))
        .read(2, "x", v(2))
        .history()
}

/// Two processes each write x and then read the other's value: each replica applied the
/// writes in a different order.
fn replicas_ordering_writes_differently() -> History {
    Builder::new().write(1, "x", v(1)).read(1, "x", v(2)).write(2, "x", v(2)).read(2, "x", v(1)).history()
}

/// Asserts `model` failed with one anomaly of `kind` on exactly `ops`, whose explanation
/// contains `says`.
fn assert_anomaly(
    results: &BTreeMap<String, CheckerResult>,
    model: &str,
    kind: &str,
    ops: &[u64],
    says: &str,
) {
    let r = &results[model];
    assert_eq!(r.valid, Validity::Invalid, "{model}: {r:?}");
    let a =
        r.anomalies.iter().find(|a| a.kind == kind).unwrap_or_else(|| panic!("{model}: no {kind} in {r:?}"));
    assert_eq!(a.ops, ops, "{model}/{kind}: {}", a.explanation);
    assert!(a.explanation.contains(says), "{model}/{kind}: {:?} lacks {says:?}", a.explanation);
}

fn valid(results: &BTreeMap<String, CheckerResult>, models: &[&str]) {
    for m in models {
        assert_eq!(results[*m].valid, Validity::Valid, "{m}: {:?}", results[*m]);
    }
}

#[test]
fn identifies_read_of_a_value_never_written_as_thin_air() {
    let h = Builder::new().write(1, "x", v(1)).read(2, "x", v(7)).history();
    let r = ladder(&h);
    assert_anomaly(&r, "causal", "ThinAirRead", &[3], "process 2 read x=7, a value no operation wrote");
    assert_anomaly(&r, "read-your-writes", "read-your-writes", &[3], "no write that took effect");
}

#[test]
fn identifies_read_of_a_failed_write_as_thin_air() {
    let mut b = Builder::new();
    b.invoke(1, "write", "x", v(5)).complete(1, OpType::Fail, "write", "x", v(5)).read(2, "x", v(5));
    let r = ladder(&b.history());
    assert_anomaly(&r, "causal", "ThinAirRead", &[0, 3], "only a failed write (op 0)");
}

#[test]
fn identifies_read_from_own_future_write_as_cyclic_causality() {
    let h = Builder::new().read(1, "x", v(1)).write(1, "x", v(1)).history();
    let r = ladder(&h);
    assert_anomaly(&r, "causal", "CyclicCO", &[1, 3], "causality runs in a circle");
    assert_eq!(r["sequential"].valid, Validity::Invalid);
}

#[test]
fn identifies_initial_value_read_after_a_causally_earlier_write() {
    // Process 2 sees y=1, written after x=1, then reads x as never written.
    let h = Builder::new()
        .write(1, "x", v(1))
        .write(1, "y", v(1))
        .read(2, "y", v(1))
        .read(2, "x", Value::Null)
        .history();
    let r = ladder(&h);
    assert_anomaly(
        &r,
        "causal",
        "WriteCOInitRead",
        &[1, 7],
        "process 1 wrote x=1 and then, causally after it, process 2 read x=null",
    );
    assert_anomaly(&r, "monotonic-writes", "monotonic-writes", &[1, 3, 5, 7], "the initial value");
    assert_anomaly(
        &r,
        "pram",
        "pram",
        &[1, 3, 5, 7],
        "process 2 read y=1 (written by process 1 after it wrote x=1), and then read x=null, the initial value",
    );
    valid(&r, &["read-your-writes", "monotonic-reads"]);
}

#[test]
fn identifies_overwritten_value_read_as_write_co_read() {
    let h = Builder::new()
        .write(1, "x", v(1))
        .read(2, "x", v(1))
        .write(2, "x", v(2))
        .read(3, "x", v(2))
        .read(3, "x", v(1))
        .history();
    let r = ladder(&h);
    assert_anomaly(
        &r,
        "causal",
        "WriteCORead",
        &[1, 5, 9],
        "process 1 wrote x=1, then process 2 wrote x=2 causally after it, yet process 3 read x=1",
    );
    valid(&r, &["pram", "monotonic-reads"]);
}

#[test]
fn identifies_replicas_ordering_writes_differently_as_cyclic_cf() {
    let r = ladder(&replicas_ordering_writes_differently());
    assert_anomaly(
        &r,
        "causal-convergence",
        "CyclicCF",
        &[1, 3, 5, 7],
        "no single order of writes fits every replica",
    );
    valid(&r, &["causal", "causal-memory", "pram"]);
}

#[test]
fn identifies_initial_read_a_process_must_have_overwritten_as_write_hb_init_read() {
    let h = Builder::new()
        .write(1, "z", v(1))
        .write(1, "x", v(1))
        .write(1, "y", v(1))
        .write(2, "x", v(2))
        .read(2, "z", Value::Null)
        .read(2, "y", v(1))
        .read(2, "x", v(2))
        .history();
    let r = ladder(&h);
    assert_anomaly(
        &r,
        "causal-memory",
        "WriteHBInitRead",
        &[1, 9],
        "in process 2's view, process 2 read z=null",
    );
    valid(&r, &["causal", "causal-convergence"]);
}

#[test]
fn identifies_cyclic_hb_that_only_a_grown_view_of_an_earlier_read_reveals() {
    // Process 4 reads x=1 while it knows nothing of x=2; later it reads z=2 having seen
    // z=1 (through u=1), so in its view z=1, and x=2 before it, come before z=2, which
    // process 2 wrote before the y=1 that process 4 read before x=1. So x=2 is before
    // that read of x=1 in process 4's view, yet process 3 wrote x=2 after seeing x=1's
    // writer (through v=1): a cycle, found only when the earlier read is re-examined
    // with its grown view (its candidates are then no longer those of CO). Causal
    // holds: process 4 learns of x=2 only after it read x=1.
    let h = Builder::new()
        .write(1, "x", v(1))
        .write(1, "v", v(1))
        .write(2, "z", v(2))
        .write(2, "y", v(1))
        .read(3, "v", v(1))
        .write(3, "x", v(2))
        .write(3, "z", v(1))
        .write(3, "u", v(1))
        .read(4, "y", v(1))
        .read(4, "x", v(1))
        .read(4, "u", v(1))
        .read(4, "z", v(2))
        .history();
    let r = ladder(&h);
    let cm = &r["causal-memory"];
    assert_eq!(cm.valid, Validity::Invalid, "{cm:?}");
    assert_eq!(cm.anomalies[0].kind, "CyclicHB", "{cm:?}");
    assert!(cm.anomalies[0].explanation.contains("in process 4's view"), "{cm:?}");
    valid(&r, &["causal"]);
    let rh = RegisterHistory::from_history(&h).expect("unique writes");
    assert_eq!(causal_by_definition(&rh), (true, true, false), "the definitions agree: causal, not CM");
}

#[test]
fn identifies_cyclic_hb_that_only_growth_along_a_derived_edge_reveals() {
    // Process 4 reads k=1 knowing only process 1's writes (through y=1). Later it reads
    // x=1 having seen x=2 (through v=1), so x=2 comes before x=1 in its view, and then z=2
    // having seen z=1 (through u=1), so z=1, and process 3's k=2 before it, come before
    // z=2, which process 2 wrote before x=2. Hence k=2 comes before x=1, before y=1 and
    // the earlier read of k=1: k=2 is in that read's view, yet process 3 wrote it after
    // reading k=1. The growth reaches the earlier read only from x=2 along the derived
    // edge x=2 -> x=1, after that edge was made. Causal holds.
    let h = Builder::new()
        .write(1, "k", v(1))
        .write(1, "x", v(1))
        .write(1, "y", v(1))
        .write(2, "z", v(2))
        .write(2, "x", v(2))
        .write(2, "v", v(1))
        .read(3, "k", v(1))
        .write(3, "k", v(2))
        .write(3, "z", v(1))
        .write(3, "u", v(1))
        .read(4, "y", v(1))
        .read(4, "k", v(1))
        .read(4, "v", v(1))
        .read(4, "x", v(1))
        .read(4, "u", v(1))
        .read(4, "z", v(2))
        .history();
    let r = ladder(&h);
    let cm = &r["causal-memory"];
    assert_eq!(cm.valid, Validity::Invalid, "{cm:?}");
    assert_eq!(cm.anomalies[0].kind, "CyclicHB", "{cm:?}");
    assert!(cm.anomalies[0].explanation.contains("in process 4's view"), "{cm:?}");
    valid(&r, &["causal"]);
    let rh = RegisterHistory::from_history(&h).expect("unique writes");
    let (cc, _, cm) = causal_by_definition(&rh);
    assert!(cc && !cm, "the definitions agree: causal, not CM");
}

#[test]
fn identifies_cyclic_hb_that_only_growth_along_program_order_reveals() {
    // Process 3 reads x=1 then x=2, so in its view x=1 comes before x=2, and by program
    // order of process 2 before y=2; it then reads y=1 after seeing y=2 (through z=1), so
    // y=2 comes before y=1, which process 1 wrote before x=1: a cycle, but only once the
    // first derived edge's growth is carried from x=2 along process 2 to y=2 and from y=1
    // along process 1 to x=1. Causal holds: no two of these writes are causally ordered.
    let h = Builder::new()
        .write(1, "y", v(1))
        .write(1, "x", v(1))
        .write(2, "x", v(2))
        .write(2, "y", v(2))
        .write(2, "z", v(1))
        .read(3, "x", v(1))
        .read(3, "x", v(2))
        .read(3, "z", v(1))
        .read(3, "y", v(1))
        .history();
    let r = ladder(&h);
    let cm = &r["causal-memory"];
    assert_eq!(cm.valid, Validity::Invalid, "{cm:?}");
    assert_eq!(cm.anomalies[0].kind, "CyclicHB", "{cm:?}");
    assert!(cm.anomalies[0].explanation.contains("in process 3's view"), "{cm:?}");
    valid(&r, &["causal"]);
}

#[test]
fn identifies_contradictory_write_order_in_one_view_as_cyclic_hb() {
    let h = Builder::new()
        .write(1, "x", v(1))
        .write(2, "x", v(2))
        .read(2, "x", v(1))
        .read(2, "x", v(2))
        .history();
    let r = ladder(&h);
    assert_anomaly(&r, "causal-memory", "CyclicHB", &[1, 3, 7], "in process 2's view");
    valid(&r, &["causal"]);
}

#[test]
fn identifies_history_with_no_total_order_as_not_sequential() {
    let r = ladder(&no_total_order());
    let s = &r["sequential"];
    assert_eq!(s.valid, Validity::Invalid, "{s:?}");
    assert_eq!(s.anomalies[0].kind, "not-sequential");
    assert!(s.anomalies[0].witness["prefix"].is_array());
    valid(&r, &["causal", "causal-convergence", "causal-memory", "pram"]);
}

#[test]
fn identifies_own_write_missed_as_read_your_writes_violation() {
    let h = Builder::new().write(3, "x", v(2)).write(3, "x", v(5)).read(3, "x", v(2)).history();
    let r = ladder(&h);
    assert_anomaly(
        &r,
        "read-your-writes",
        "read-your-writes",
        &[1, 3, 5],
        "process 3 wrote x=5, and then read x=2, an older value (process 3 wrote x=2 earlier)",
    );
}

#[test]
fn identifies_going_back_in_time_as_monotonic_reads_violation() {
    let h = Builder::new()
        .write(1, "x", v(1))
        .write(1, "x", v(2))
        .read(2, "x", v(2))
        .read(2, "x", v(1))
        .history();
    let r = ladder(&h);
    assert_anomaly(
        &r,
        "monotonic-reads",
        "monotonic-reads",
        &[1, 3, 5, 7],
        "process 2 read x=2, and then read x=1, an older value",
    );
    valid(&r, &["read-your-writes", "writes-follow-reads"]);
}

#[test]
fn identifies_writes_seen_out_of_order_as_monotonic_writes_violation() {
    let h = Builder::new()
        .write(1, "x", v(1))
        .write(1, "x", v(2))
        .write(1, "y", v(3))
        .read(2, "y", v(3))
        .read(2, "x", v(1))
        .history();
    let r = ladder(&h);
    assert_anomaly(
        &r,
        "monotonic-writes",
        "monotonic-writes",
        &[1, 3, 5, 7, 9],
        "an older value (process 1 wrote x=1 earlier)",
    );
    valid(&r, &["monotonic-reads", "read-your-writes"]);
}

#[test]
fn identifies_write_seen_without_what_its_writer_read_as_writes_follow_reads_violation() {
    let h = Builder::new()
        .write(1, "x", v(1))
        .read(2, "x", v(1))
        .write(2, "y", v(2))
        .read(3, "y", v(2))
        .read(3, "x", Value::Null)
        .history();
    let r = ladder(&h);
    assert_anomaly(
        &r,
        "writes-follow-reads",
        "writes-follow-reads",
        &[1, 3, 5, 7, 9],
        "process 2 read x=1 and then wrote y=2; process 3 saw that write (read y=2) and then read x=null, the initial value",
    );
    valid(&r, &["pram", "monotonic-writes", "read-your-writes", "monotonic-reads"]);
}

#[test]
fn identifies_nodes_disagreeing_after_the_final_phase_as_divergence() {
    let h = Builder::new()
        .write(1, "x", v(1))
        .write(2, "x", v(2))
        .nemesis("phase", json!("final"))
        .final_read(9, "n1", "x", v(1))
        .final_read(9, "n2", "x", v(2))
        .history();
    let r = ladder(&h);
    assert_anomaly(&r, "convergence", "divergence", &[6, 8], "n1 read 1, n2 read 2");
}

#[test]
fn identifies_acknowledged_write_missing_after_the_final_phase_as_lost() {
    let h = Builder::new()
        .write(1, "x", v(1))
        .write(2, "x", v(2))
        .nemesis("phase", json!("final"))
        .final_read(9, "n1", "x", v(1))
        .final_read(9, "n2", "x", v(1))
        .history();
    let r = ladder(&h);
    assert_anomaly(
        &r,
        "convergence",
        "lost-write",
        &[1, 3, 6],
        "process 2 wrote x=2 and it was acknowledged",
    );
}

#[test]
fn convergence_is_unknown_without_a_final_phase() {
    let r = ladder(&Builder::new().write(1, "x", v(1)).read(1, "x", v(1)).history());
    assert_eq!(r["convergence"].valid, Validity::Unknown);
    assert!(r["convergence"].reason.as_deref().unwrap().contains("no final phase"));
}

#[test]
fn an_unobserved_indeterminate_write_may_not_have_happened() {
    // x=2 was indeterminate and nobody read it: dropping it keeps every model.
    let mut b = Builder::new();
    b.write(1, "x", v(1))
        .invoke(2, "write", "x", v(2))
        .complete(2, OpType::Info, "write", "x", Value::Null)
        .read(3, "x", v(1));
    b.nemesis("phase", json!("final")).final_read(9, "n1", "x", v(1));
    let r = ladder(&b.history());
    for (m, res) in &r {
        assert_eq!(res.valid, Validity::Valid, "{m}: {res:?}");
    }
}

#[test]
fn an_observed_indeterminate_write_happened() {
    // x=2 was indeterminate but read; then x=1 again is an older value for process 3.
    let mut b = Builder::new();
    b.write(1, "x", v(1))
        .invoke(2, "write", "x", v(2))
        .complete(2, OpType::Info, "write", "x", Value::Null)
        .read(3, "x", v(1))
        .read(3, "x", v(2))
        .read(1, "x", v(2));
    let r = ladder(&b.history());
    valid(&r, &["sequential", "causal", "pram"]);
    let mut b2 = Builder::new();
    b2.write(1, "x", v(1))
        .invoke(2, "write", "x", v(2))
        .complete(2, OpType::Info, "write", "x", Value::Null)
        .read(1, "x", v(2))
        .read(1, "x", v(1));
    // Process 1 saw x=2 after its own x=1, then x=1 again: its view orders the writes
    // both ways, which causal memory forbids; without the indeterminate write there would
    // be nothing to contradict.
    let r2 = ladder(&b2.history());
    assert_eq!(r2["causal-memory"].valid, Validity::Invalid, "{:?}", r2["causal-memory"]);
    assert_eq!(r2["causal"].valid, Validity::Valid, "{:?}", r2["causal"]);
}

#[test]
fn an_ok_cas_reads_its_from_value_and_writes_its_to_value() {
    let mut b = Builder::new();
    b.write(1, "x", v(1))
        .invoke(2, "cas", "x", json!([1, 2]))
        .complete(2, OpType::Ok, "cas", "x", json!([1, 2]))
        .invoke(3, "cas", "x", json!([1, 3]))
        .complete(3, OpType::Fail, "cas", "x", json!([1, 3]))
        .read(1, "x", v(2));
    let r = ladder(&b.history());
    valid(&r, &["sequential", "causal", "causal-memory", "causal-convergence", "pram"]);
    // Two successful cas from the same value cannot both be sequential.
    let mut b2 = Builder::new();
    b2.write(1, "x", v(1))
        .invoke(2, "cas", "x", json!([1, 2]))
        .complete(2, OpType::Ok, "cas", "x", json!([1, 2]))
        .invoke(3, "cas", "x", json!([1, 3]))
        .complete(3, OpType::Ok, "cas", "x", json!([1, 3]));
    assert_eq!(ladder(&b2.history())["sequential"].valid, Validity::Invalid);
}

#[test]
fn a_history_with_repeated_writes_is_unknown_for_every_model() {
    let h = Builder::new().write(1, "x", v(1)).write(2, "x", v(1)).read(3, "x", v(1)).history();
    let r = ladder(&h);
    for (m, res) in &r {
        assert_eq!(res.valid, Validity::Unknown, "{m}");
        assert!(res.reason.as_deref().unwrap().contains("unique writes"), "{m}: {:?}", res.reason);
    }
}

#[test]
fn an_over_budget_sequential_search_is_unknown_or_settled_by_a_weaker_failure() {
    use sunder_check::sequential::SearchBudget;
    let tiny = LadderBudget { sequential: SearchBudget { max_states: 0, ..Default::default() } };
    // Fig. 2d again: sequential needs a search; with no budget it cannot decide.
    let r = ladder_within(&no_total_order(), &tiny);
    assert_eq!(r["sequential"].valid, Validity::Unknown, "{:?}", r["sequential"]);
    assert!(r["sequential"].reason.as_deref().unwrap().contains("budget"));
    // A CyclicCF failure settles it: sequential implies causal convergence.
    let r2 = ladder_within(&replicas_ordering_writes_differently(), &tiny);
    assert_eq!(r2["sequential"].valid, Validity::Invalid, "{:?}", r2["sequential"]);
    assert!(
        r2["sequential"]
            .reason
            .as_deref()
            .unwrap()
            .contains("causal-convergence fails, and sequential implies it")
    );
}

#[test]
fn a_history_without_register_ops_is_unknown_for_every_model() {
    let mut b = Builder::new();
    b.invoke(1, "add", "", v(1)).complete(1, OpType::Ok, "add", "", v(1));
    for (m, res) in ladder(&b.history()) {
        assert_eq!(res.valid, Validity::Unknown, "{m}");
        assert!(res.reason.as_deref().unwrap().contains("nothing to judge"), "{m}: {:?}", res.reason);
    }
}

#[test]
fn causal_models_over_the_clock_budget_are_unknown_with_the_reason() {
    use sunder_check::causal::{CausalBudget, check_register_within};
    use sunder_check::ladder::register::RegisterHistory;
    let h = Builder::new().write(1, "x", v(1)).read(2, "x", v(1)).history();
    let rh = RegisterHistory::from_history(&h).unwrap();
    let v = check_register_within(&rh, &CausalBudget { max_clock_entries: 3, ..CausalBudget::default() });
    for r in [&v.causal, &v.convergence, &v.memory] {
        assert_eq!(r.valid, Validity::Unknown);
        assert!(r.reason.as_deref().unwrap().contains("over the budget"), "{r:?}");
    }
    assert_eq!(check_register_within(&rh, &CausalBudget::default()).causal.valid, Validity::Valid);
}

#[test]
fn identifies_write_seen_without_an_older_read_of_its_writer_as_writes_follow_reads_violation() {
    // Process 2 read x=2 (then x=3 from another writer) before writing y=4; process 4 saw
    // y=4 and then x=1, older than the x=2 process 2 had read.
    let h = Builder::new()
        .write(1, "x", v(1))
        .write(1, "x", v(2))
        .write(3, "x", v(3))
        .read(2, "x", v(2))
        .read(2, "x", v(3))
        .write(2, "y", v(4))
        .read(4, "y", v(4))
        .read(4, "x", v(1))
        .history();
    let r = ladder(&h);
    assert_anomaly(
        &r,
        "writes-follow-reads",
        "writes-follow-reads",
        &[1, 3, 7, 11, 13, 15],
        "process 2 read x=2 and then wrote y=4; process 4 saw that write (read y=4) and then read x=1, an older value (process 1 wrote x=1 earlier)",
    );
    valid(&r, &["pram", "monotonic-writes", "monotonic-reads", "read-your-writes"]);
    assert_eq!(r["causal"].valid, Validity::Invalid);
}
