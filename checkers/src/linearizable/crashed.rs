//! Crashed register writes, settled before the search. A write (or cas) that ended `info`
//! may take effect at any time after its invocation, or never, so the search keeps it
//! pending to the end of the history: every configuration after it carries it, the memo's
//! windows stay open from it, and with many clients the pending set explodes. Two facts
//! shrink that cost without changing any verdict:
//!
//! - a crashed write whose value some read (or successful cas) returned, when no other op
//!   writes that value, must have taken effect before the first of those observers
//!   completed: it gets that completion as its return, a real interval instead of an open
//!   one;
//! - a crashed write whose value nothing observed is left out, as if it never happened.
//!   Had it happened, the register held a value nobody read until the next write, so
//!   deleting it from a linearization breaks no read, no successful cas, and no crashed
//!   cas (one that did nothing there can be moved to the end). Only a failed cas
//!   expecting the value the write overwrote could depend on it; a crashed write is kept
//!   whenever such a cas may follow it, unless a definite write is forced between every
//!   write of that value and the cas.
//!
//! Neither needs values to be unique across the whole partition: the first asks it of
//! the one value, the second looks at values, not at which write a read saw.

use super::models::{CasResult, RegisterOp};
use super::search::Entry;
use rustc_hash::FxHashMap;

/// What settling did to one partition, for the details of a result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settled {
    /// Crashed writes given the completion of their first observer as their return.
    pub bounded: usize,
    /// Crashed writes left out: nothing observed them.
    pub dropped: usize,
    /// Whether the partition's linearization was then built without a search.
    pub constructed: bool,
    /// A proof, found without a search, that the partition is not linearizable.
    pub refuted: Option<super::refute::Refutation>,
}

/// Settles the crashed writes of one register partition (see the module doc); `initial`
/// is the register's initial value.
pub fn settle(initial: u32, entries: &mut Vec<Entry<RegisterOp>>) -> Settled {
    const OPEN: usize = usize::MAX;
    // The ops writing each value.
    let mut writers: FxHashMap<u32, Vec<usize>> = FxHashMap::default();
    for (e, entry) in entries.iter().enumerate() {
        let written = match entry.op {
            RegisterOp::Write(v) => v,
            RegisterOp::Cas { to, result: CasResult::Swapped | CasResult::Unknown, .. } => to,
            _ => continue,
        };
        writers.entry(written).or_default().push(e);
    }
    // A read of a value only one op writes (and the register did not start with) names
    // that op.
    let sole_writer = |v: u32| v != initial && writers.get(&v).is_some_and(|w| w.len() == 1);
    // Earliest completion of a definite observer of each value, and every value any op
    // looks for (a crashed or failed cas counts: it is never left without its writer).
    let mut first_seen: FxHashMap<u32, usize> = FxHashMap::default();
    let mut looked_for: FxHashMap<u32, ()> = FxHashMap::default();
    // A sibling read names no one value (it returned one of several), so it bounds no
    // write; and it may have read any value, so with one no crashed write is dropped.
    let mut sibling_read = false;
    for entry in entries.iter() {
        let (v, definite) = match entry.op {
            RegisterOp::Read(v) => (v, true),
            RegisterOp::ReadOneOf(_) => {
                sibling_read = true;
                continue;
            }
            RegisterOp::Cas { from, result, .. } => (from, result == CasResult::Swapped),
            RegisterOp::Write(_) => continue,
        };
        looked_for.insert(v, ());
        if definite && entry.ret != OPEN {
            let seen = first_seen.entry(v).or_insert(entry.ret);
            *seen = (*seen).min(entry.ret);
        }
    }
    let mut settled = Settled::default();
    for entry in entries.iter_mut() {
        let written = match entry.op {
            RegisterOp::Write(v) | RegisterOp::Cas { to: v, result: CasResult::Unknown, .. } => v,
            _ => continue,
        };
        if entry.ret == OPEN
            && sole_writer(written)
            && let Some(&seen) = first_seen.get(&written)
        {
            entry.ret = seen;
            settled.bounded += 1;
        }
    }
    // Definite state changes (every write now with a return took effect by it), by
    // invocation, with the earliest return among those invoked later.
    let mut definite: Vec<(usize, usize)> = entries
        .iter()
        .filter(|e| e.ret != OPEN)
        .filter(|e| {
            matches!(
                e.op,
                RegisterOp::Write(_)
                    | RegisterOp::Cas { result: CasResult::Swapped | CasResult::Unknown, .. }
            )
        })
        .map(|e| (e.call, e.ret))
        .collect();
    definite.sort_unstable();
    let mut earliest_ret_after = vec![OPEN; definite.len() + 1];
    for i in (0..definite.len()).rev() {
        earliest_ret_after[i] = earliest_ret_after[i + 1].min(definite[i].1);
    }
    // Is some definite write invoked after `after` and completed before `before`?
    let forced_between = |after: Option<usize>, before: usize| {
        let from = after.map_or(0, |a| definite.partition_point(|&(call, _)| call <= a));
        earliest_ret_after[from] < before
    };
    // The latest return of a failed cas that could still see the value a crashed write
    // overwrote.
    let mut guarded_until: Option<usize> = None;
    for entry in entries.iter() {
        let RegisterOp::Cas { from, result: CasResult::Mismatch, .. } = entry.op else { continue };
        // Every op that may have put `from` in the register (and its start, when it
        // began there) must be followed by a definite write before the cas.
        let superseded = (from != initial || forced_between(None, entry.call))
            && writers.get(&from).is_none_or(|us| {
                us.iter().all(|&u| entries[u].ret != OPEN && forced_between(Some(entries[u].ret), entry.call))
            });
        if !superseded {
            guarded_until = guarded_until.max(Some(entry.ret));
        }
    }
    let droppable = |entry: &Entry<RegisterOp>| {
        let written = match entry.op {
            RegisterOp::Write(v) | RegisterOp::Cas { to: v, result: CasResult::Unknown, .. } => v,
            _ => return false,
        };
        entry.ret == OPEN
            && !sibling_read
            && !looked_for.contains_key(&written)
            && guarded_until.is_none_or(|until| until < entry.call)
    };
    let keep: Vec<bool> = entries.iter().map(|e| !droppable(e)).collect();
    settled.dropped = keep.iter().filter(|k| !**k).count();
    if settled.dropped > 0 {
        let mut at = 0;
        entries.retain(|_| {
            at += 1;
            keep[at - 1]
        });
    }
    settled
}
