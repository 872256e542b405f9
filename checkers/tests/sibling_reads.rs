//! A read with siblings (a store that kept concurrent versions, quorum-kv under
//! `resolve=vclock`) returned *one of* its siblings, and every register checker reads it
//! so: linearizability and sequential consistency accept it wherever the register held one
//! of them and catch it when every sibling is stale, the session guarantees call it stale
//! only when every sibling is, and convergence counts every sibling as surviving. Each
//! history below is also checked with the siblings removed (the one `value` alone), which
//! must come out the other way, so the siblings are what decides.

use serde_json::{Value, json};
use sunder_check::Validity;
use sunder_check::history::{History, Op, OpType, Strictness};
use sunder_check::ladder::{LadderBudget, check_register};
use sunder_check::linearizable::{Budget, FailSemantics, ModelKind, check};

/// Builds a history op by op, one time unit per op.
#[derive(Default)]
struct Ops(Vec<Op>);

impl Ops {
    fn push(&mut self, op: Op) -> &mut Ops {
        let i = self.0.len() as u64;
        self.0.push(Op { index: i, time: i, ..op });
        self
    }

    fn invoke(&mut self, p: u64, f: &str, value: Value) -> &mut Ops {
        self.push(Op::client(0, 0, p, OpType::Invoke, f, value).with_key("k"))
    }

    /// A whole write by `p`, invoked and acknowledged at once.
    fn write(&mut self, p: u64, v: i64) -> &mut Ops {
        self.invoke(p, "write", json!(v));
        self.push(Op::client(0, 0, p, OpType::Ok, "write", json!(v)).with_key("k"))
    }

    /// A whole read by `p` that returned `siblings` (a plain read when there is one).
    fn read(&mut self, p: u64, siblings: &[i64]) -> &mut Ops {
        self.invoke(p, "read", Value::Null);
        self.push(read_completion(p, siblings))
    }

    /// The history; with `siblings` false, as a client recording only `value` wrote it.
    fn history(&self, siblings: bool) -> History {
        let ops = self.0.iter().cloned().map(|op| if siblings { op } else { Op { siblings: None, ..op } });
        History::new(ops.collect(), Strictness::Strict).expect("a well-formed history")
    }
}

fn read_completion(p: u64, siblings: &[i64]) -> Op {
    let op = Op::client(0, 0, p, OpType::Ok, "read", json!(siblings[0])).with_key("k");
    if siblings.len() > 1 { op.with_siblings(siblings.iter().map(|&v| json!(v)).collect()) } else { op }
}

fn linearizable(h: &History) -> Validity {
    check(h, ModelKind::Kv, FailSemantics::CasMismatch, &Budget::default()).valid
}

fn ladder(h: &History, model: &str) -> Validity {
    let results = check_register(h, &LadderBudget::default());
    results.iter().find(|(m, _)| m == model).unwrap_or_else(|| panic!("no {model} in {results:?}")).1.valid
}

#[test]
fn a_sibling_read_is_linearizable_when_one_sibling_is_current() {
    // Write 1 ends before write 2 begins; the read after both lists 1 and 2. Read as its
    // `value` (1) it is stale; as "one of 1, 2" it read the current 2.
    let mut ops = Ops::default();
    ops.write(0, 1).write(1, 2).read(2, &[1, 2]);
    assert_eq!(linearizable(&ops.history(true)), Validity::Valid);
    assert_eq!(linearizable(&ops.history(false)), Validity::Invalid);
}

#[test]
fn a_sibling_read_of_only_stale_values_is_caught() {
    let mut ops = Ops::default();
    ops.write(0, 1).write(1, 2).write(0, 3).read(2, &[1, 2]);
    let r = check(&ops.history(true), ModelKind::Kv, FailSemantics::CasMismatch, &Budget::default());
    assert_eq!(r.valid, Validity::Invalid);
    let told = serde_json::to_string(&r).unwrap();
    assert!(told.contains("one of the siblings [1, 2]"), "the witness names the siblings: {told}");
}

#[test]
fn a_sibling_read_bounds_no_crashed_write_it_may_not_have_read() {
    // Write 2 crashed (info) and only a sibling read lists it. That read may have returned
    // 1 instead, so write 2 must not be forced before it: a later plain read of 1 stays
    // linearizable (write 2 never happened, or happened after).
    let mut ops = Ops::default();
    ops.write(0, 1);
    ops.invoke(1, "write", json!(2)).push(Op::client(0, 0, 1, OpType::Info, "write", json!(2)).with_key("k"));
    ops.read(2, &[1, 2]).read(3, &[1]);
    assert_eq!(linearizable(&ops.history(true)), Validity::Valid);
}

#[test]
fn a_sibling_read_is_sequential_when_one_sibling_can_be_current_in_program_order() {
    // Process 0 writes 1 then 2; process 1 writes 3 then 4. Process 2 reads 2, then 4,
    // then siblings [1, 4]: 1 can never come back after 2, but 4 is still current.
    let mut ops = Ops::default();
    ops.write(0, 1).write(0, 2).write(1, 3).write(1, 4).read(2, &[2]).read(2, &[4]).read(2, &[1, 4]);
    assert_eq!(ladder(&ops.history(true), "sequential"), Validity::Valid);
    assert_eq!(ladder(&ops.history(false), "sequential"), Validity::Invalid);
}

#[test]
fn a_sibling_read_of_only_overwritten_values_is_not_sequential() {
    let mut ops = Ops::default();
    ops.write(0, 1).write(0, 2).write(1, 3).write(1, 4).read(2, &[2]).read(2, &[4]).read(2, &[1, 3]);
    assert_eq!(ladder(&ops.history(true), "sequential"), Validity::Invalid);
}

#[test]
fn a_sibling_read_reads_your_writes_when_one_sibling_is_not_older_than_your_last_write() {
    // Process 0 writes 1 then 2 and reads siblings [1, 3]: 3 (process 1's) is not older
    // than its write of 2, so one of the siblings honours read-your-writes.
    let mut ops = Ops::default();
    ops.write(1, 3).write(0, 1).write(0, 2).read(0, &[1, 3]);
    assert_eq!(ladder(&ops.history(true), "read-your-writes"), Validity::Valid);
    assert_eq!(ladder(&ops.history(false), "read-your-writes"), Validity::Invalid);
}

#[test]
fn a_sibling_read_of_only_your_own_older_writes_breaks_read_your_writes() {
    let mut ops = Ops::default();
    ops.write(0, 1).write(0, 2).write(0, 3).read(0, &[1, 2]);
    assert_eq!(ladder(&ops.history(true), "read-your-writes"), Validity::Invalid);
}

#[test]
fn a_sibling_read_is_monotonic_when_one_sibling_is_not_older_than_earlier_reads() {
    // Process 2 read 2 (process 0's second write), then siblings [1, 3]: 1 is older than
    // 2, but 3 (process 1's only write) is not older than anything it read.
    let mut ops = Ops::default();
    ops.write(0, 1).write(0, 2).write(1, 3).read(2, &[2]).read(2, &[1, 3]);
    assert_eq!(ladder(&ops.history(true), "monotonic-reads"), Validity::Valid);
    assert_eq!(ladder(&ops.history(false), "monotonic-reads"), Validity::Invalid);
}

#[test]
fn a_sibling_read_older_than_earlier_reads_in_every_sibling_breaks_monotonic_reads() {
    let mut ops = Ops::default();
    ops.write(0, 1).write(0, 2).write(1, 3).write(1, 4).read(2, &[2]).read(2, &[4]).read(2, &[1, 3]);
    assert_eq!(ladder(&ops.history(true), "monotonic-reads"), Validity::Invalid);
}

/// Writes 1 and 2 by two processes, then the final phase's reads on two nodes.
fn final_reads(n1: &[i64], n2: &[i64]) -> Ops {
    let mut ops = Ops::default();
    ops.write(0, 1).write(1, 2);
    ops.push(Op::nemesis(0, 0, "phase", json!("final")));
    for (p, node, siblings) in [(10, "n1", n1), (11, "n2", n2)] {
        ops.push(Op::client(0, 0, p, OpType::Invoke, "read", Value::Null).with_key("k").with_node(node));
        ops.push(read_completion(p, siblings).with_node(node));
    }
    ops
}

#[test]
fn nodes_reading_the_same_siblings_in_any_order_have_converged_and_lost_no_write() {
    // Write 2 began after write 1 ended, so a final value of 1 alone would lose it; as a
    // sibling it survives.
    let ops = final_reads(&[1, 2], &[2, 1]);
    assert_eq!(ladder(&ops.history(true), "convergence"), Validity::Valid);
    assert_eq!(ladder(&ops.history(false), "convergence"), Validity::Invalid);
}

#[test]
fn nodes_reading_different_sibling_sets_have_diverged() {
    let ops = final_reads(&[1, 2], &[2]);
    assert_eq!(ladder(&ops.history(true), "convergence"), Validity::Invalid);
}
