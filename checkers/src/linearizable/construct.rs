//! A register partition's linearization, built directly instead of searched for. With
//! unique values every read names the write it saw, so the ops group into clusters (a
//! write and the reads of its value; a successful cas also ties its cluster right after
//! the one it read), and a linearizable history orders those clusters by time (after
//! Gibbons and Korach's zones: a cluster whose first completion precedes its last
//! invocation spans that interval, and such intervals cannot overlap). Ordering them so and
//! checking the result against real time and the model decides most linearizable
//! histories in O(n log n), however many clients overlap. A candidate that does not check
//! out proves nothing: the search then decides, so this only ever answers "linearizable",
//! and only with an order it verified.

use super::model::Model;
use super::models::{CasResult, RegisterModel, RegisterOp};
use super::search::Entry;
use rustc_hash::FxHashMap;

const OPEN: usize = usize::MAX;

/// True when a linearization of `entries` was built and verified.
pub fn linearizable(model: &RegisterModel, entries: &[Entry<RegisterOp>]) -> bool {
    let Some(clusters) = Clusters::of(model.init(), entries) else { return false };
    let base = clusters.sequence(entries);
    let Some(sequence) = with_failed_cas(model, entries, &base, &clusters.mismatches) else { return false };
    verified(model, entries, &sequence)
}

/// Puts each failed cas into `base` at the first place its interval allows where the
/// register holds something other than what it expected; `None` when one finds no place.
fn with_failed_cas(
    model: &RegisterModel,
    entries: &[Entry<RegisterOp>],
    base: &[usize],
    mismatches: &[usize],
) -> Option<Vec<usize>> {
    if mismatches.is_empty() {
        return Some(base.to_vec());
    }
    // The instant each op of `base` takes effect, and the register's value after it.
    let (mut at, mut state) = (0usize, model.init());
    let mut times = Vec::with_capacity(base.len());
    let mut states = Vec::with_capacity(base.len());
    for &e in base {
        at = at.max(entries[e].call);
        state = model.step(&state, &entries[e].op).unwrap_or(state);
        times.push(at);
        states.push(state);
    }
    // after[i]: failed cas placed right after base[i - 1] (0: before everything).
    let mut after: Vec<Vec<usize>> = vec![Vec::new(); base.len() + 1];
    for &c in mismatches {
        let RegisterOp::Cas { from, .. } = entries[c].op else { return None };
        let entry = &entries[c];
        // The first slot whose next op takes effect no earlier than the cas is invoked.
        let mut i = times.partition_point(|&t| t < entry.call);
        loop {
            let held = if i == 0 { model.init() } else { states[i - 1] };
            let earliest = if i == 0 { 0 } else { times[i - 1] };
            if earliest.max(entry.call) > entry.ret {
                return None;
            }
            if held != from {
                after[i].push(c);
                break;
            }
            if i == base.len() {
                return None;
            }
            i += 1;
        }
    }
    let mut out = Vec::with_capacity(base.len() + mismatches.len());
    for (i, cas) in after.iter_mut().enumerate() {
        cas.sort_unstable_by_key(|&c| entries[c].ret);
        out.extend(cas.iter());
        if let Some(&e) = base.get(i) {
            out.push(e);
        }
    }
    Some(out)
}

struct Clusters {
    /// Per value: the op writing it (none for the initial value), then its readers.
    writer: FxHashMap<u32, usize>,
    readers: FxHashMap<u32, Vec<usize>>,
    /// The value whose cluster must come right after each value's (a cas read it).
    next: FxHashMap<u32, u32>,
    /// Values whose cluster follows another's by a cas.
    follows: FxHashMap<u32, ()>,
    /// Every value with a cluster, initial first.
    values: Vec<u32>,
    initial: u32,
    /// Crashed ops nothing observed: linearized last, where they change nothing seen.
    last: Vec<usize>,
    /// Failed cas (they read a value other than the one they expected).
    mismatches: Vec<usize>,
}

impl Clusters {
    fn of(initial: u32, entries: &[Entry<RegisterOp>]) -> Option<Clusters> {
        let mut c = Clusters {
            writer: FxHashMap::default(),
            readers: FxHashMap::default(),
            next: FxHashMap::default(),
            follows: FxHashMap::default(),
            values: vec![initial],
            initial,
            last: Vec::new(),
            mismatches: Vec::new(),
        };
        for (e, entry) in entries.iter().enumerate() {
            match entry.op {
                RegisterOp::Read(v) => c.readers.entry(v).or_default().push(e),
                // A sibling read names no one write: the search decides.
                RegisterOp::ReadOneOf(_) => return None,
                // A failed cas fits anywhere but one cluster: placed once the rest is.
                RegisterOp::Cas { result: CasResult::Mismatch, .. } => c.mismatches.push(e),
                _ if entry.ret == OPEN => c.last.push(e),
                RegisterOp::Write(v) | RegisterOp::Cas { to: v, .. } => {
                    if v == initial || c.writer.insert(v, e).is_some() {
                        return None;
                    }
                    c.values.push(v);
                    if let RegisterOp::Cas { from, .. } = entry.op {
                        if c.next.insert(from, v).is_some() {
                            return None;
                        }
                        c.follows.insert(v, ());
                    }
                }
            }
        }
        // Every value read or cas'd from must have its one write (or be the initial value).
        let known = |v: &u32| *v == initial || c.writer.contains_key(v);
        if !c.readers.keys().all(known) || !c.next.keys().all(known) || c.follows.contains_key(&initial) {
            return None;
        }
        Some(c)
    }

    /// Every op in a candidate order, the initial value's chain first, each cluster's write
    /// then its reads by completion, then the crashed ops nothing observed. A chain of
    /// clusters (tied by cas) is placed as one: its members must all take effect between
    /// its first completion `f` and its last invocation `s`. When `f < s` the chain spans
    /// that zone and zones cannot overlap, so such chains go in the order of `f`; a chain
    /// with `s <= f` can take effect at one instant, the first in `[s, f]` outside every
    /// zone. Ops of clusters on a cycle of cas are left out, so such a candidate fails
    /// verification.
    fn sequence(&self, entries: &[Entry<RegisterOp>]) -> Vec<usize> {
        let members =
            |v: u32| self.writer.get(&v).into_iter().chain(self.readers.get(&v).into_iter().flatten());
        let chain = |head: u32| {
            let mut values = vec![head];
            while let Some(&v) = self.next.get(values.last().expect("a chain has a head")) {
                if values.len() > self.values.len() {
                    break;
                }
                values.push(v);
            }
            values
        };
        let mut chains: Vec<(usize, usize, Vec<u32>)> = self
            .values
            .iter()
            .filter(|v| !self.follows.contains_key(v) && **v != self.initial)
            .map(|&head| {
                let values = chain(head);
                let f =
                    values.iter().flat_map(|&v| members(v)).map(|&e| entries[e].ret).min().unwrap_or(OPEN);
                let s = values.iter().flat_map(|&v| members(v)).map(|&e| entries[e].call).max().unwrap_or(0);
                (f, s, values)
            })
            .collect();
        let mut zones: Vec<(usize, usize)> =
            chains.iter().filter(|c| c.0 < c.1).map(|c| (c.0, c.1)).collect();
        zones.sort_unstable();
        let instant = |f: usize, s: usize| {
            if f < s {
                return f;
            }
            // The zone that starts last at or before `s`; past its end if `s` is inside it.
            let at = zones.partition_point(|z| z.0 <= s);
            match at.checked_sub(1).map(|i| zones[i]) {
                Some((_, end)) if s < end => end,
                _ => s,
            }
        };
        chains.sort_by_cached_key(|(f, s, values)| (instant(*f, *s), values[0]));
        let mut out = Vec::with_capacity(entries.len());
        for values in std::iter::once(chain(self.initial)).chain(chains.into_iter().map(|c| c.2)) {
            for value in values {
                out.extend(self.writer.get(&value));
                let mut readers = self.readers.get(&value).cloned().unwrap_or_default();
                readers.sort_unstable_by_key(|&e| entries[e].ret);
                out.extend(readers);
            }
        }
        out.extend(&self.last);
        out
    }
}

/// Checks that `sequence` holds every entry once and is a linearization: each op can take
/// effect in its interval, later than the op before it, and the model accepts each step.
fn verified(model: &RegisterModel, entries: &[Entry<RegisterOp>], sequence: &[usize]) -> bool {
    // Built from clusters, a sequence may miss ops (a cycle of cas) but never repeats one.
    if sequence.len() != entries.len() {
        return false;
    }
    let mut seen = vec![false; entries.len()];
    let (mut at, mut state) = (0usize, model.init());
    for &e in sequence {
        let entry = &entries[e];
        if std::mem::replace(&mut seen[e], true) {
            return false;
        }
        at = at.max(entry.call);
        if at > entry.ret {
            return false;
        }
        match model.step(&state, &entry.op) {
            Some(next) => state = next,
            None => return false,
        }
    }
    true
}
