//! Session and real-time order between transactions, the edges that separate serializable
//! from strong-session serializable and strict serializable. Real time is kept to a
//! transitive reduction (Elle's frontier method): a transaction gets edges only from the
//! completed transactions not already known to precede another completed predecessor, so
//! the edge count grows with the concurrency, not with the square of the history.

use super::graph::{Edge, PROCESS, REALTIME};
use super::transactions::{Outcome, Transactions};
use rustc_hash::FxHashMap;

/// Process-order edges: each transaction to the next one of the same process. Only a
/// committed transaction can be a source; the target may be indeterminate.
pub(crate) fn process_edges(tx: &Transactions, out: &mut Vec<Edge>) {
    let mut last: FxHashMap<u64, u32> = FxHashMap::default();
    for (t, txn) in tx.txns.iter().enumerate() {
        if txn.outcome == Outcome::Aborted {
            continue;
        }
        if let Some(&p) = last.get(&txn.process)
            && tx.txns[p as usize].outcome == Outcome::Committed
        {
            out.push(Edge { from: p, to: t as u32, kind: PROCESS, key: u32::MAX });
        }
        last.insert(txn.process, t as u32);
    }
}

/// Real-time edges: `a -> b` when `a` committed (its completion time strictly) before `b`
/// was invoked, reduced to the frontier of latest completions.
pub(crate) fn realtime_edges(tx: &Transactions, out: &mut Vec<Edge>) {
    // (time, 0 = invoke / 1 = completion, txn): at equal times invocations go first, so
    // equal times never order two transactions.
    let mut events: Vec<(u64, u8, u32)> = Vec::with_capacity(tx.txns.len() * 2);
    for (t, txn) in tx.txns.iter().enumerate() {
        if txn.outcome == Outcome::Aborted {
            continue;
        }
        events.push((txn.start, 0, t as u32));
        if txn.outcome == Outcome::Committed
            && let Some(end) = txn.end
        {
            events.push((end, 1, t as u32));
        }
    }
    events.sort_unstable();
    let mut frontier: Vec<u32> = vec![];
    // For each transaction, the range of its incoming edges in `out` (its predecessors).
    let mut preds: FxHashMap<u32, (usize, usize)> = FxHashMap::default();
    for &(_, kind, t) in &events {
        if kind == 0 {
            let a = out.len();
            out.extend(frontier.iter().map(|&p| Edge { from: p, to: t, kind: REALTIME, key: u32::MAX }));
            preds.insert(t, (a, out.len()));
        } else {
            if let Some((a, b)) = preds.remove(&t) {
                let before = &out[a..b];
                frontier.retain(|p| !before.iter().any(|e| e.from == *p));
            }
            frontier.push(t);
        }
    }
}
