//! The stats checker: counts of client ops by function and outcome, and availability (the
//! share of completed ops that were `ok`). It never fails a run; it gives every report and
//! summary its numbers.

use crate::history::{History, Op, OpNumbering, OpType};
use crate::verdict::CheckerResult;
use serde::Serialize;
use std::collections::BTreeMap;

/// Outcome counts for one function (or for all).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Counts {
    /// Invocations.
    pub invoke: u64,
    /// `ok` completions.
    pub ok: u64,
    /// `fail` completions.
    pub fail: u64,
    /// `info` completions, plus invocations never completed.
    pub info: u64,
}

impl Counts {
    /// Share of invocations that ended `ok`; 0 when there were none.
    pub fn availability(&self) -> f64 {
        if self.invoke == 0 { 0.0 } else { self.ok as f64 / self.invoke as f64 }
    }
}

/// Counts per function and overall, plus nemesis op count.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    /// All client ops.
    pub total: Counts,
    /// By function name.
    pub by_f: BTreeMap<String, Counts>,
    /// Nemesis ops recorded.
    pub nemesis_ops: u64,
    /// Availability over all client ops.
    pub availability: f64,
    /// What the op numbers of every anomaly and witness are (`index` or `position`).
    pub op_numbers: OpNumbering,
}

impl Stats {
    /// Counts one op of the history, in order.
    pub fn count(&mut self, op: &Op) {
        if op.is_nemesis() {
            self.nemesis_ops += 1;
            return;
        }
        let by = match self.by_f.get_mut(op.f.as_str()) {
            Some(c) => c,
            None => self.by_f.entry(op.f.to_string()).or_default(),
        };
        for c in [&mut self.total, by] {
            match op.kind {
                OpType::Invoke => c.invoke += 1,
                OpType::Ok => c.ok += 1,
                OpType::Fail => c.fail += 1,
                OpType::Info => c.info += 1,
            }
        }
    }

    /// Counts an invocation of `f` never completed as `info`.
    pub fn count_never_completed(&mut self, f: &str) {
        self.total.info += 1;
        self.by_f.entry(f.to_string()).or_default().info += 1;
    }

    /// Sets what is derived from the counts: availability, and what op numbers mean.
    pub fn conclude(&mut self, op_numbers: OpNumbering) {
        self.availability = self.total.availability();
        self.op_numbers = op_numbers;
    }
}

/// Counts a history's ops.
pub fn stats(history: &History) -> Stats {
    let mut s = Stats::default();
    for (i, op) in history.ops().iter().enumerate() {
        s.count(op);
        if op.kind == OpType::Invoke && !op.is_nemesis() && history.partner(i).is_none() {
            s.count_never_completed(&op.f);
        }
    }
    s.conclude(history.op_numbering());
    s
}

/// The stats checker's result, with the counts as details: valid (it judges nothing),
/// except for a history with no client op at all, where it does not apply (and says so).
pub fn check(history: &History) -> CheckerResult {
    result(stats(history))
}

/// The stats checker's result for counts already taken (the streaming judge counts as ops
/// arrive).
pub fn result(s: Stats) -> CheckerResult {
    let r = if s.total.invoke == 0 {
        CheckerResult::not_applicable("the history holds no client operation")
    } else {
        CheckerResult::valid()
    };
    r.with_details(serde_json::to_value(&s).expect("stats serialize"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Op, Strictness};
    use serde_json::json;

    #[test]
    fn counts_outcomes_by_function_and_open_invokes_as_info() {
        let ops = vec![
            Op::client(0, 0, 0, OpType::Invoke, "read", json!(null)),
            Op::client(1, 1, 0, OpType::Ok, "read", json!(1)),
            Op::client(2, 2, 1, OpType::Invoke, "write", json!(2)),
            Op::client(3, 3, 1, OpType::Fail, "write", json!(2)),
            Op::client(4, 4, 2, OpType::Invoke, "write", json!(3)),
        ];
        let s = stats(&History::new(ops, Strictness::Strict).unwrap());
        assert_eq!(s.total, Counts { invoke: 3, ok: 1, fail: 1, info: 1 });
        assert_eq!(s.by_f["write"], Counts { invoke: 2, ok: 0, fail: 1, info: 1 });
        assert!((s.availability - 1.0 / 3.0).abs() < 1e-9);
    }
}
