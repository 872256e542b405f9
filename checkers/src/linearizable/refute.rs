//! A register partition proved not linearizable without a search: a read returned a value
//! that real time says had been overwritten. With unique values every read names the write
//! it saw (`w`), and every op that saw `w`'s value (its readers, a cas that swapped from
//! it) comes after `w` in any linearization. So when some op of that cluster completed
//! before another write `u` (one that took effect) was invoked, and `u` completed before one
//! of the cluster's readers was invoked, every linearization has `w`, then `u`, then that
//! reader, which cannot see `w`'s value: no op writes it again. This is the stale read, the
//! commonest anomaly of a real store, and the search cannot always reach it: among many
//! crashed ops (each may take effect anywhere after its invocation) it runs out of budget
//! before it has tried every order of what precedes the read. The check is O(n log n).
//!
//! It is only a proof: finding none says nothing, and the search decides as before.

use super::models::{CasResult, RegisterOp};
use super::search::Entry;
use rustc_hash::FxHashMap;

const OPEN: usize = usize::MAX;

/// The three ops of a proof, as entry numbers of the partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refutation {
    /// The write whose value the read returned; `None` for the initial value.
    pub written_by: Option<usize>,
    /// An op that saw that value (or the write itself) and completed before `overwrite`
    /// was invoked; `None` for the initial value, which precedes every write.
    pub seen_by: Option<usize>,
    /// A write that took effect, of another value, invoked after `seen_by` completed.
    pub overwrite: usize,
    /// The op that read the value although it was invoked after `overwrite` completed.
    pub read: usize,
}

/// The ops that saw one value take effect.
struct Seen {
    /// The earliest completion among them (the write included), and its op.
    first: (usize, usize),
    /// The latest invocation of one that read it (a read, a cas that swapped from it).
    latest_reader: Option<(usize, usize)>,
}

/// A proof that `entries` (one register's, crashed writes settled) are not linearizable,
/// if this rule finds one; `None` when values repeat or a read names more than one value.
pub fn refute(initial: u32, entries: &[Entry<RegisterOp>]) -> Option<Refutation> {
    let mut writer: FxHashMap<u32, usize> = FxHashMap::default();
    // Writes certain to have taken effect, with a bounded interval: (call, ret, entry).
    let mut effective: Vec<(usize, usize, usize)> = Vec::new();
    let mut seen: FxHashMap<u32, Seen> = FxHashMap::default();
    let mut saw = |v: u32, e: usize, entry: &Entry<RegisterOp>, reader: bool| {
        let s = seen.entry(v).or_insert(Seen { first: (OPEN, e), latest_reader: None });
        if entry.ret < s.first.0 {
            s.first = (entry.ret, e);
        }
        if reader && s.latest_reader.is_none_or(|(call, _)| entry.call > call) {
            s.latest_reader = Some((entry.call, e));
        }
    };
    for (e, entry) in entries.iter().enumerate() {
        let bounded = entry.ret != OPEN;
        match entry.op {
            RegisterOp::ReadOneOf(_) => return None,
            RegisterOp::Read(v) => saw(v, e, entry, true),
            RegisterOp::Cas { result: CasResult::Mismatch, .. } => {}
            RegisterOp::Write(v) | RegisterOp::Cas { to: v, .. } => {
                if v == initial || writer.insert(v, e).is_some() {
                    return None;
                }
                // A crashed op still open may never have happened; a bounded one did
                // (the settling gave it the completion of a read that saw it).
                if bounded {
                    effective.push((entry.call, entry.ret, e));
                    saw(v, e, entry, false);
                    if let RegisterOp::Cas { from, .. } = entry.op {
                        saw(from, e, entry, true);
                    }
                }
            }
        }
    }
    // Writes by invocation, and from each one on the two earliest completions (of two
    // different writes, so the value's own writer can be passed over).
    effective.sort_unstable();
    let mut best: Vec<[(usize, usize); 2]> = vec![[(OPEN, OPEN); 2]; effective.len() + 1];
    for i in (0..effective.len()).rev() {
        let (_, ret, e) = effective[i];
        let [a, b] = best[i + 1];
        best[i] = if ret < a.0 {
            [(ret, e), a]
        } else if ret < b.0 {
            [a, (ret, e)]
        } else {
            [a, b]
        };
    }
    let mut found: Option<Refutation> = None;
    for (&v, s) in &seen {
        let (first_ret, first_op) = s.first;
        let Some((read_call, read)) = s.latest_reader else { continue };
        let written_by = if v == initial {
            None
        } else {
            match writer.get(&v) {
                Some(&w) => Some(w),
                // Nobody wrote it: the search explains that read.
                None => continue,
            }
        };
        // The writes invoked after the value was seen complete (any write, for the initial
        // value), and of those the one that completed first, other than its own writer.
        let after = if written_by.is_none() { 0 } else { effective.partition_point(|w| w.0 <= first_ret) };
        let Some(&(ret, overwrite)) = best[after].iter().find(|(_, e)| Some(*e) != written_by && *e != OPEN)
        else {
            continue;
        };
        if ret < read_call && overwrite != read {
            let proof = Refutation { written_by, seen_by: written_by.map(|_| first_op), overwrite, read };
            // The proof whose read comes first, so the anomaly does not depend on hashing.
            if found.is_none_or(|f| entries[read].call < entries[f.read].call) {
                found = Some(proof);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(op: RegisterOp, call: usize, ret: usize) -> Entry<RegisterOp> {
        Entry { op, call, ret }
    }

    #[test]
    fn identifies_a_read_of_a_value_overwritten_before_it_began() {
        // w(1) [0,1], w(2) [2,3], r -> 1 [4,5].
        let entries = [
            entry(RegisterOp::Write(1), 0, 1),
            entry(RegisterOp::Write(2), 2, 3),
            entry(RegisterOp::Read(1), 4, 5),
        ];
        let r = refute(0, &entries).expect("a stale read");
        assert_eq!(r, Refutation { written_by: Some(0), seen_by: Some(0), overwrite: 1, read: 2 });
    }

    #[test]
    fn finds_nothing_when_the_overwrite_may_follow_the_read() {
        // w(2) [2,5] overlaps the read [4,6]: w(1), r, w(2) is a linearization.
        let entries = [
            entry(RegisterOp::Write(1), 0, 1),
            entry(RegisterOp::Write(2), 2, 5),
            entry(RegisterOp::Read(1), 4, 6),
        ];
        assert_eq!(refute(0, &entries), None);
    }

    #[test]
    fn a_crashed_write_still_open_proves_nothing() {
        let entries = [
            entry(RegisterOp::Write(1), 0, 1),
            entry(RegisterOp::Write(2), 2, OPEN),
            entry(RegisterOp::Read(1), 4, 5),
        ];
        assert_eq!(refute(0, &entries), None);
    }

    #[test]
    fn identifies_a_read_of_the_initial_value_after_a_write_completed() {
        let entries = [entry(RegisterOp::Write(1), 0, 1), entry(RegisterOp::Read(0), 2, 3)];
        let r = refute(0, &entries).expect("a stale read of the initial value");
        assert_eq!(r, Refutation { written_by: None, seen_by: None, overwrite: 0, read: 1 });
    }

    #[test]
    fn repeated_values_prove_nothing() {
        let entries = [
            entry(RegisterOp::Write(1), 0, 1),
            entry(RegisterOp::Write(2), 2, 3),
            entry(RegisterOp::Write(1), 4, 5),
            entry(RegisterOp::Read(1), 6, 7),
        ];
        assert_eq!(refute(0, &entries), None);
    }
}
