//! Linearizability of one partition decided as its calls arrive, in bounded memory. Where the
//! offline search ([`crate::linearizable::search`]) walks a finished history depth first,
//! this keeps, after every event, the set of *configurations* the history so far can be in:
//! a model state plus which of the calls still open have already taken effect. An
//! invocation opens a call; a return forces it to take effect in every configuration, first
//! letting any other open calls take effect before it, in every order the model allows.
//! Calls are linearized only when a return forces them ("just in time"), so a configuration
//! never guesses ahead. When no configuration survives a return, the history is not
//! linearizable at that return; when one survives the last event, it is.
//!
//! Three dominance rules keep the set small without losing a linearization:
//! - a read-only call (a read, a failed cas) that the current state allows takes effect at
//!   once: it changes no state, so having it done is never worse than having it to do;
//! - a crashed call (`info`, or never completed) that would change nothing is never
//!   applied, and of two configurations that differ only in crashed calls done, the one
//!   with fewer keeps every option of the other (a crashed call may still happen later);
//! - a crashed call done in every configuration leaves the set of open calls.
//!
//! Memory is the open calls and the configurations, so it follows the concurrency, not the
//! history's length. Past [`MAX_OPEN`] open calls or [`MAX_CONFIGURATIONS`] configurations
//! the partition refuses, and the caller falls back to the offline search.

use crate::linearizable::model::Model;
use rustc_hash::{FxHashMap, FxHashSet};

/// Open calls a partition tracks at once (one bit each in a configuration).
pub const MAX_OPEN: usize = 256;
/// Configurations a partition keeps at once.
pub const MAX_CONFIGURATIONS: usize = 10_000;
/// Configurations one return may visit while it forces its call to take effect.
const MAX_VISITS_PER_RETURN: usize = 200_000;

/// Which open calls have taken effect, one bit per slot.
type Done = [u64; MAX_OPEN / 64];

fn bit(slot: usize) -> Done {
    let mut d = [0; MAX_OPEN / 64];
    d[slot / 64] = 1 << (slot % 64);
    d
}

fn has(d: &Done, slot: usize) -> bool {
    d[slot / 64] & (1 << (slot % 64)) != 0
}

fn or(a: &Done, b: &Done) -> Done {
    std::array::from_fn(|i| a[i] | b[i])
}

fn and_not(a: &Done, b: &Done) -> Done {
    std::array::from_fn(|i| a[i] & !b[i])
}

fn and(a: &Done, b: &Done) -> Done {
    std::array::from_fn(|i| a[i] & b[i])
}

fn is_subset(a: &Done, b: &Done) -> bool {
    a.iter().zip(b).all(|(x, y)| x & !y == 0)
}

fn count(d: &Done) -> u32 {
    d.iter().map(|w| w.count_ones()).sum()
}

/// A state the history so far can be in.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Configuration<S> {
    state: S,
    done: Done,
}

/// The configurations one return has expanded, by state and non-crashed calls done, each
/// with the crashed calls done of every one of them that no other dominates.
struct Seen<S> {
    by_rest: FxHashMap<(S, Done), Vec<Done>>,
    visits: usize,
}

impl<S: Clone + Eq + std::hash::Hash> Seen<S> {
    /// True when `c` is neither a configuration seen before nor dominated by one (the same
    /// but for fewer crashed calls done); records it then.
    fn first_visit(&mut self, c: &Configuration<S>, crashed_mask: &Done) -> bool {
        let crashed = and(&c.done, crashed_mask);
        let list = self.by_rest.entry((c.state.clone(), and_not(&c.done, crashed_mask))).or_default();
        if list.iter().any(|m| is_subset(m, &crashed)) {
            return false;
        }
        list.push(crashed);
        self.visits += 1;
        true
    }
}

/// An open call.
struct Open<O> {
    op: O,
    read_only: bool,
    crashed: bool,
}

/// Why a partition stopped deciding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No configuration allows the call that returned: the history is not linearizable.
    NotLinearizable,
    /// More calls open at once than a configuration can track.
    TooManyOpen,
    /// More configurations than the limit.
    TooManyConfigurations,
}

/// One partition's configurations and open calls.
pub struct Partition<M: Model> {
    open: Vec<Option<Open<M::Op>>>,
    free: Vec<usize>,
    /// Slots of open crashed calls, to release those done everywhere.
    crashed: Vec<usize>,
    crashed_mask: Done,
    configurations: Vec<Configuration<M::State>>,
    /// Most configurations held at once.
    pub peak: usize,
}

/// The slot of an open call in its partition.
pub type Slot = usize;

impl<M: Model> Partition<M> {
    /// A partition in `model`'s initial state, with no call open.
    pub fn new(model: &M) -> Partition<M> {
        Partition {
            open: Vec::new(),
            free: Vec::new(),
            crashed: Vec::new(),
            crashed_mask: [0; MAX_OPEN / 64],
            configurations: vec![Configuration { state: model.init(), done: [0; MAX_OPEN / 64] }],
            peak: 1,
        }
    }

    /// Opens a call: `crashed` when it never returns. Returns its slot.
    pub fn invoke(&mut self, model: &M, op: M::Op, crashed: bool) -> Result<Slot, Refusal> {
        let slot = match self.free.pop() {
            Some(s) => s,
            None if self.open.len() < MAX_OPEN => {
                self.open.push(None);
                self.open.len() - 1
            }
            None => return Err(Refusal::TooManyOpen),
        };
        let read_only = model.read_only(&op);
        if read_only {
            // Done at once wherever the state allows it (the first dominance rule).
            for c in &mut self.configurations {
                if model.step(&c.state, &op).is_some() {
                    c.done = or(&c.done, &bit(slot));
                }
            }
        }
        if crashed {
            self.crashed.push(slot);
            self.crashed_mask = or(&self.crashed_mask, &bit(slot));
        }
        self.open[slot] = Some(Open { op, read_only, crashed });
        Ok(slot)
    }

    /// The call in `slot` returned: it takes effect in every configuration (after any open
    /// calls it needs before it), and leaves the open calls.
    pub fn complete(&mut self, model: &M, slot: Slot) -> Result<(), Refusal> {
        let mut next: FxHashSet<Configuration<M::State>> = FxHashSet::default();
        // Breadth first, so a configuration reached with fewer crashed calls done is seen
        // before those it dominates, which are then never expanded.
        let mut seen = Seen { by_rest: FxHashMap::default(), visits: 0 };
        let mut queue = std::collections::VecDeque::new();
        for c in std::mem::take(&mut self.configurations) {
            if has(&c.done, slot) {
                next.insert(c);
            } else if seen.first_visit(&c, &self.crashed_mask) {
                queue.push_back(c);
            }
        }
        while let Some(c) = queue.pop_front() {
            for (t, open) in self.open.iter().enumerate() {
                let Some(open) = open else { continue };
                if has(&c.done, t) || (open.read_only && t != slot) {
                    // Read-only calls the state allows are done already.
                    continue;
                }
                let Some(state) = model.step(&c.state, &open.op) else { continue };
                if open.crashed && state == c.state {
                    continue;
                }
                let mut n = Configuration { state, done: or(&c.done, &bit(t)) };
                self.settle_reads(model, &mut n);
                // The returning call may be a read the new state allowed.
                if has(&n.done, slot) {
                    next.insert(n);
                } else if seen.first_visit(&n, &self.crashed_mask) {
                    if seen.visits >= MAX_VISITS_PER_RETURN {
                        return Err(Refusal::TooManyConfigurations);
                    }
                    queue.push_back(n);
                }
            }
        }
        self.open[slot] = None;
        self.free.push(slot);
        let gone = bit(slot);
        let mut kept: Vec<Configuration<M::State>> =
            next.into_iter().map(|c| Configuration { done: and_not(&c.done, &gone), ..c }).collect();
        if kept.is_empty() {
            return Err(Refusal::NotLinearizable);
        }
        if self.crashed_mask.iter().any(|w| *w != 0) && kept.len() > 1 {
            kept = self.fewest_crashed(kept);
        }
        self.configurations = kept;
        self.release_crashed();
        if self.configurations.len() > MAX_CONFIGURATIONS {
            return Err(Refusal::TooManyConfigurations);
        }
        self.peak = self.peak.max(self.configurations.len());
        Ok(())
    }

    /// Marks done every open read-only call that `c`'s state allows.
    fn settle_reads(&self, model: &M, c: &mut Configuration<M::State>) {
        for (t, open) in self.open.iter().enumerate() {
            if let Some(open) = open
                && open.read_only
                && !has(&c.done, t)
                && model.step(&c.state, &open.op).is_some()
            {
                c.done = or(&c.done, &bit(t));
            }
        }
    }

    /// Of configurations alike but for crashed calls done, keeps those with no superset of
    /// another's crashed calls (the second dominance rule).
    fn fewest_crashed(&self, all: Vec<Configuration<M::State>>) -> Vec<Configuration<M::State>> {
        let mut groups: FxHashMap<(M::State, Done), Vec<Done>> = FxHashMap::default();
        for c in all {
            let crashed = and(&c.done, &self.crashed_mask);
            groups.entry((c.state, and_not(&c.done, &self.crashed_mask))).or_default().push(crashed);
        }
        let mut out = Vec::new();
        for ((state, rest), mut crashed) in groups {
            crashed.sort_by_key(count);
            let mut minimal: Vec<Done> = Vec::new();
            for c in crashed {
                if !minimal.iter().any(|m| is_subset(m, &c)) {
                    minimal.push(c);
                }
            }
            out.extend(
                minimal.into_iter().map(|c| Configuration { state: state.clone(), done: or(&rest, &c) }),
            );
        }
        out
    }

    /// Crashed calls done in every configuration can never take effect again: they leave.
    fn release_crashed(&mut self) {
        let configurations = &mut self.configurations;
        let open = &mut self.open;
        let free = &mut self.free;
        let mask = &mut self.crashed_mask;
        self.crashed.retain(|&s| {
            if !configurations.iter().all(|c| has(&c.done, s)) {
                return true;
            }
            let b = bit(s);
            for c in configurations.iter_mut() {
                c.done = and_not(&c.done, &b);
            }
            *mask = and_not(mask, &b);
            open[s] = None;
            free.push(s);
            false
        });
    }

    /// Every open op and every configuration's state, for renumbering the values they name
    /// (see `RegisterModel::retain`); renumbering must keep distinct values distinct.
    pub fn values_mut(&mut self) -> (Vec<&mut M::Op>, Vec<&mut M::State>) {
        let ops = self.open.iter_mut().flatten().map(|o| &mut o.op).collect();
        let states = self.configurations.iter_mut().map(|c| &mut c.state).collect();
        (ops, states)
    }

    /// Configurations held now.
    pub fn configurations(&self) -> usize {
        self.configurations.len()
    }
}
