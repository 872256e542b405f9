//! Transactions as the checker sees them: each client call with `f == "txn"` becomes one
//! [`Txn`] with a dense id, its outcome, its interval and the range of its micro-ops in the
//! shared [`MopTable`]. An `ok` transaction's micro-ops come from its completion (reads filled
//! in); any other from its invocation (reads unknown).

use super::micro::{MopTable, ReadShape};
use crate::history::{History, OpType};

/// What became of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Committed; its reads are known.
    Committed,
    /// Aborted: definitely did not commit; its writes must never be seen.
    Aborted,
    /// `info` or never completed: may or may not have committed.
    Indeterminate,
}

/// One transaction.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Txn {
    /// `Op::index` of the op that names it in reports (the completion, else the invocation).
    pub index: u64,
    /// The client process.
    pub process: u64,
    /// What became of it.
    pub outcome: Outcome,
    /// Invocation time.
    pub start: u64,
    /// Completion time; `None` when it never completed or ended `info`.
    pub end: Option<u64>,
    /// Start and length of its micro-ops in the table.
    pub mops: (u32, u32),
}

/// Every transaction of a history, with their micro-ops.
#[derive(Debug, Default)]
pub(crate) struct Transactions {
    /// Transactions in invocation order; the id of a transaction is its position.
    pub txns: Vec<Txn>,
    /// Their micro-ops, keys and values.
    pub table: MopTable,
}

impl Transactions {
    /// Collects the transactions of `history`; non-transactional ops (nemesis, other `f`)
    /// are skipped. Fails with the op index and the problem on a malformed micro-op.
    pub(crate) fn collect(history: &History, shape: ReadShape) -> Result<Transactions, String> {
        let ops = history.ops();
        let mut out = Transactions::default();
        for (inv, done) in history.client_calls() {
            let invoke = &ops[inv];
            if invoke.f != "txn" {
                continue;
            }
            let completion = done.map(|d| &ops[d]);
            let outcome = match completion.map(|c| c.kind) {
                Some(OpType::Ok) => Outcome::Committed,
                Some(OpType::Fail) => Outcome::Aborted,
                _ => Outcome::Indeterminate,
            };
            let source = match (outcome, completion) {
                (Outcome::Committed, Some(c)) => c,
                _ => invoke,
            };
            let mops = out
                .table
                .push_txn(&source.value, outcome == Outcome::Committed, shape)
                .map_err(|e| format!("op {} (a {} txn): {e}", source.index, source.kind))?;
            out.txns.push(Txn {
                index: completion.map_or(invoke.index, |c| c.index),
                process: invoke.process.client().unwrap_or(u64::MAX),
                outcome,
                start: invoke.time,
                end: completion.filter(|c| c.kind == OpType::Ok || c.kind == OpType::Fail).map(|c| c.time),
                mops,
            });
        }
        Ok(out)
    }

    /// The micro-ops of transaction `t`.
    pub(crate) fn mops(&self, t: u32) -> &[super::micro::Mop] {
        let (s, n) = self.txns[t as usize].mops;
        &self.table.mops[s as usize..(s + n) as usize]
    }
}
