//! Causal memory (CM): CC plus WriteHBInitRead and CyclicHB. For an operation `o`, HB_o
//! starts as CO restricted to `o`'s causal past and grows by one rule until a fixpoint:
//! when a read `r` of `o`'s process (up to `o`) returns write `w`, every other write of the
//! same key that is HB_o-before `r` is HB_o-before `w` (that process must have applied it
//! first). HB_o only grows along program order, so checking the last operation of each
//! process covers every `o`.
//!
//! HB_o, like CO, is downward closed along program order, so it is kept as one clock per
//! event, starting from CO's clocks. Each derived edge is joined into its target's clock,
//! the growth is carried forward along program order, read-from and derived edges, and the
//! process's reads whose clocks grew are re-examined, until nothing changes. Every read
//! waiting is examined before the growth its edges cause is carried forward: the edges of
//! one process reach much the same later events, and one pass carries them all, where a
//! pass per read joined those events again for every edge. Any order reaches the same
//! fixpoint. Only clocks that grow are copied (`Overlay`), so a process costs what its
//! view adds to CO. A cycle must use a derived edge (CO is acyclic here), and the derived
//! edge `a -> b` lies on a cycle exactly when `b` is already in `a`'s clock at the fixpoint.

use super::clocks::{Clock, ClockStore};
use super::order::{CausalOrder, csr};
use super::{CausalBudget, SeenBeyond, WriterFilter, WritersByKey, anomaly, last_below, strict_limit};
use crate::ladder::register::{RegisterHistory, Source};
use crate::verdict::Anomaly;
use rustc_hash::FxHashMap;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Appends WriteHBInitRead and CyclicHB anomalies (at most one of each per process).
pub(crate) fn check(
    rh: &RegisterHistory,
    order: &mut CausalOrder,
    writers: &WritersByKey,
    seen: &SeenBeyond,
    budget: &CausalBudget,
    found: &mut Vec<Anomaly>,
) {
    let n = rh.events.len();
    // Readers of each write, compressed: readers[reader_start[w]..reader_start[w + 1]].
    let (reader_start, readers) = csr(
        n,
        rh.events.iter().enumerate().filter_map(|(id, ev)| match ev.read {
            Some(Source::Write(w)) => Some((w, id as u32)),
            _ => None,
        }),
    );
    let mut hb = Overlay::new(rh.events.len());
    let mut filter = WriterFilter::new(rh, writers, budget);
    let mut candidates: Vec<u32> = Vec::new();
    let mut work = Growth::new(n);
    // Each process's HB clocks are scratch, dropped before the next process's are made.
    let co_only = order.store.mark();
    for p in 0..rh.process_count() {
        let range = rh.process_events(p);
        if range.is_empty() {
            continue;
        }
        let last = (range.end - 1) as u32;
        let past = order.clock(last);
        let in_past = |store: &ClockStore, e: u32| {
            let ev = &rh.events[e as usize];
            ev.pos < store.get(past, ev.process)
        };
        // Start from CO: HB_o contains CO restricted to the causal past.
        hb.reset();
        order.store.roll_back(&co_only);
        let is_read_of_p = |e: u32| {
            range.contains(&(e as usize))
                && matches!(rh.events[e as usize].read, Some(Source::Write(_) | Source::Init))
        };
        let mut dirty: Vec<u32> = range.clone().map(|e| e as u32).filter(|&e| is_read_of_p(e)).collect();
        dirty.reverse();
        let mut queued = vec![false; range.len()];
        for &r in &dirty {
            queued[r as usize - range.start] = true;
        }
        // Derived edges (earlier write, later write) -> the read that forced them.
        let mut derived: FxHashMap<(u32, u32), u32> = FxHashMap::default();
        let mut derived_out: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
        let mut init_read_reported = false;
        work.clear();
        while let Some(r) = dirty.pop() {
            queued[r as usize - range.start] = false;
            let ev = &rh.events[r as usize];
            let clock = hb.get(order, r);
            match ev.read {
                Some(Source::Init) if !init_read_reported => {
                    // Any write of the key in this read's HB past is the pattern; report
                    // the first (one per process is enough).
                    let first = writers[ev.key as usize].iter().find_map(|(q, writes)| {
                        let limit = strict_limit(rh, &order.store, r, clock, q);
                        last_below(rh, q, writes, limit)
                    });
                    if let Some(before) = first {
                        init_read_reported = true;
                        found.push(anomaly(
                            "WriteHBInitRead",
                            format!(
                                "{} must have happened before, in process {}'s view, {}, the initial value.",
                                rh.describe_write(before),
                                rh.processes[p],
                                rh.describe_read(r)
                            ),
                            rh.indices(&[before, r]),
                        ));
                    }
                }
                Some(Source::Write(w)) => {
                    // A read of a write needs only the writers it has seen beyond that
                    // write's CO past (HB contains CO, so the others derive known edges).
                    // While its view is CO's, the CC pass already found them.
                    candidates.clear();
                    if clock == order.clock(r) {
                        candidates.extend_from_slice(seen.of(r));
                    } else {
                        let picked =
                            filter.beyond(rh, &order.store, writers, ev.key, (r, clock), (w, order.clock(w)));
                        for pick in picked {
                            let kw = &writers[ev.key as usize];
                            let (q, writes) =
                                (kw.process(pick.writer as usize), kw.writes(pick.writer as usize));
                            candidates.extend(last_below(rh, q, writes, pick.limit).filter(|&b| b != w));
                        }
                    }
                    for &before in &candidates {
                        // Clocks are closed under every edge so far: when `before` is
                        // already in `w`'s past, so is all of its own past, and the edge
                        // adds nothing. Only edges that add something are recorded: a
                        // cycle of HB needs one of them (CO is acyclic, and a redundant
                        // edge lies inside the closure of the others), and growth reaches
                        // `w` along the path that made the edge redundant. Most reads
                        // derive only redundant edges, so this keeps the hash maps small.
                        let bev = &rh.events[before as usize];
                        if order.store.get(hb.get(order, w), bev.process) > bev.pos {
                            continue;
                        }
                        derived.insert((before, w), r);
                        derived_out.entry(before).or_default().push(w);
                        if hb.join(order, before, w) {
                            work.push(order, w);
                        }
                    }
                }
                _ => {}
            }
            // Carry every growth forward along program order, read-from and derived edges,
            // once the reads waiting have all added theirs.
            if !dirty.is_empty() {
                continue;
            }
            while let Some(e) = work.pop() {
                if is_read_of_p(e) && !queued[e as usize - range.start] {
                    queued[e as usize - range.start] = true;
                    dirty.push(e);
                }
                let ev = &rh.events[e as usize];
                let next = e + 1;
                if (next as usize) < rh.process_events(ev.process as usize).end
                    && in_past(&order.store, next)
                    && hb.join(order, e, next)
                {
                    work.push(order, next);
                }
                for &reader in
                    &readers[reader_start[e as usize] as usize..reader_start[e as usize + 1] as usize]
                {
                    if in_past(&order.store, reader) && hb.join(order, e, reader) {
                        work.push(order, reader);
                    }
                }
                if let Some(targets) = derived_out.get(&e) {
                    for &t in targets {
                        if hb.join(order, e, t) {
                            work.push(order, t);
                        }
                    }
                }
            }
        }
        let mut edges: Vec<(&(u32, u32), &u32)> = derived.iter().collect();
        edges.sort_unstable();
        for (&(before, after), &r) in edges {
            let aev = &rh.events[after as usize];
            if order.store.get(hb.get(order, before), aev.process) > aev.pos {
                found.push(anomaly(
                    "CyclicHB",
                    format!(
                        "in process {}'s view, {} must come before {} (since {}), and also after it: no order of writes explains what that process read.",
                        rh.processes[p],
                        rh.describe_write(before),
                        rh.describe_write(after),
                        rh.describe_read(r)
                    ),
                    rh.indices(&[before, after, r]),
                ));
                break;
            }
        }
    }
}

/// The events whose HB clock grew and has not been carried forward yet, taken in CO's
/// topological order: an event is then usually taken after every growth that reaches it
/// from its past, and carries its clock forward once instead of once per growth (a stack
/// re-walked long program orders for every edge). Any order reaches the same fixpoint.
struct Growth {
    heap: BinaryHeap<Reverse<(u32, u32)>>,
    pending: Vec<bool>,
}

impl Growth {
    fn new(n: usize) -> Growth {
        Growth { heap: BinaryHeap::new(), pending: vec![false; n] }
    }

    fn clear(&mut self) {
        while let Some(Reverse((_, e))) = self.heap.pop() {
            self.pending[e as usize] = false;
        }
    }

    fn push(&mut self, order: &CausalOrder, e: u32) {
        if !self.pending[e as usize] {
            self.pending[e as usize] = true;
            self.heap.push(Reverse((order.rank(e), e)));
        }
    }

    fn pop(&mut self) -> Option<u32> {
        let Reverse((_, e)) = self.heap.pop()?;
        self.pending[e as usize] = false;
        Some(e)
    }
}

/// HB clocks as changes over CO's: only events whose clock grew get an entry, so checking
/// one process costs what its view changes, not the whole history. The clocks themselves
/// live in CO's store, sharing its nodes.
struct Overlay {
    slot: Vec<Clock>,
    touched: Vec<u32>,
}

/// No HB clock of its own yet: the event's clock is CO's.
const SAME_AS_CO: Clock = Clock::MAX;

impl Overlay {
    fn new(n: usize) -> Overlay {
        Overlay { slot: vec![SAME_AS_CO; n], touched: Vec::new() }
    }

    fn reset(&mut self) {
        for &e in &self.touched {
            self.slot[e as usize] = SAME_AS_CO;
        }
        self.touched.clear();
    }

    fn get(&self, order: &CausalOrder, e: u32) -> Clock {
        match self.slot[e as usize] {
            SAME_AS_CO => order.clock(e),
            c => c,
        }
    }

    /// Joins `from`'s clock into `to`'s; true when `to`'s grew.
    fn join(&mut self, order: &mut CausalOrder, from: u32, to: u32) -> bool {
        let (f, t) = (self.get(order, from), self.get(order, to));
        let joined = order.store.join(t, f);
        if joined == t {
            return false;
        }
        if self.slot[to as usize] == SAME_AS_CO {
            self.touched.push(to);
        }
        self.slot[to as usize] = joined;
        true
    }
}
