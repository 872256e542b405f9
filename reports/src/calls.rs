//! Pairs a history's client invocations with their completions into calls (one per
//! operation), tolerantly, so salvaged histories can be drawn too. Plots, availability,
//! witnesses and the timeline all work on calls rather than raw events.

use rustc_hash::FxHashMap;
use sunder_check::history::{Op, OpType, Process};

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// It happened.
    Ok,
    /// It definitely did not happen.
    Fail,
    /// Unknown: `info`, or never completed.
    Info,
}

impl Outcome {
    /// `ok`, `fail` or `info`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Info => "info",
        }
    }
}

/// One client operation: its invocation and, when there was one, its completion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Call {
    /// Position of the invocation in the ops.
    pub invoke: usize,
    /// Position of the completion, if any.
    pub complete: Option<usize>,
    /// The client process.
    pub process: u64,
    /// How it ended.
    pub outcome: Outcome,
}

/// The calls of a history, with a map from every op position to its call.
#[derive(Debug, Clone, Default)]
pub struct Calls {
    /// Calls in invocation order.
    pub calls: Vec<Call>,
    /// For each op position, the call it belongs to (`None` for nemesis and orphan ops).
    pub call_of_op: Vec<Option<u32>>,
}

impl Calls {
    /// Pairs `ops`. An orphan completion is skipped; an invocation that replaces an open one
    /// leaves the older one uncompleted (counted as info).
    pub fn pair(ops: &[Op]) -> Calls {
        let mut calls = Vec::with_capacity(ops.len() / 2 + 1);
        let mut call_of_op = vec![None; ops.len()];
        let mut open: FxHashMap<u64, usize> = FxHashMap::default();
        for (i, op) in ops.iter().enumerate() {
            let Process::Client(p) = op.process else { continue };
            match op.kind {
                OpType::Invoke => {
                    open.insert(p, calls.len());
                    call_of_op[i] = Some(calls.len() as u32);
                    calls.push(Call { invoke: i, complete: None, process: p, outcome: Outcome::Info });
                }
                kind => {
                    if let Some(c) = open.remove(&p) {
                        let call: &mut Call = &mut calls[c];
                        call.complete = Some(i);
                        call.outcome = match kind {
                            OpType::Ok => Outcome::Ok,
                            OpType::Fail => Outcome::Fail,
                            _ => Outcome::Info,
                        };
                        call_of_op[i] = Some(c as u32);
                    }
                }
            }
        }
        Calls { calls, call_of_op }
    }

    /// Latency of a completed call in nanoseconds.
    pub fn latency_ns(&self, ops: &[Op], call: &Call) -> Option<u64> {
        call.complete.map(|c| ops[c].time.saturating_sub(ops[call.invoke].time))
    }
}

/// Maps `Op::index` values to positions; positions usually equal indices, so the map is
/// only built when they differ.
#[derive(Debug, Clone)]
pub struct IndexMap {
    dense: bool,
    map: FxHashMap<u64, usize>,
    len: usize,
}

impl IndexMap {
    /// Builds the map for `ops`.
    pub fn new(ops: &[Op]) -> IndexMap {
        let dense = ops.iter().enumerate().all(|(i, op)| op.index == i as u64);
        let map = if dense {
            FxHashMap::default()
        } else {
            ops.iter().enumerate().map(|(i, op)| (op.index, i)).collect()
        };
        IndexMap { dense, map, len: ops.len() }
    }

    /// The position of the op with history index `index`.
    pub fn position(&self, index: u64) -> Option<usize> {
        if self.dense {
            (index < self.len as u64).then_some(index as usize)
        } else {
            self.map.get(&index).copied()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pairs_tolerantly_and_counts_open_invocations_as_info() {
        let ops = vec![
            Op::client(0, 0, 1, OpType::Invoke, "write", json!(1)),
            Op::client(1, 5, 2, OpType::Ok, "read", json!(1)),
            Op::client(2, 9, 1, OpType::Fail, "write", json!(1)),
            Op::client(3, 10, 3, OpType::Invoke, "read", json!(null)),
        ];
        let c = Calls::pair(&ops);
        assert_eq!(c.calls.len(), 2);
        assert_eq!(c.calls[0].outcome, Outcome::Fail);
        assert_eq!(c.latency_ns(&ops, &c.calls[0]), Some(9));
        assert_eq!(c.calls[1].outcome, Outcome::Info);
        assert_eq!(c.call_of_op, vec![Some(0), None, Some(0), Some(1)]);
    }
}
