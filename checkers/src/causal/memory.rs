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
//! fixpoint. A view is kept as the few entries where it exceeds CO's clock (`Overlay`):
//! along program order and read-from, and along a derived edge once joined, CO's clock of
//! the source is already in the target's, so only those entries travel, and a process
//! costs what its view adds to CO, with no clock of its own built in CO's store. A cycle
//! must use a derived edge (CO is acyclic here), and the derived edge `a -> b` lies on a
//! cycle exactly when `b` is already in `a`'s clock at the fixpoint.

use super::clocks::{ClockStore, Grown};
use super::order::{CausalOrder, csr};
use super::{CausalBudget, SeenBeyond, WriterFilter, WritersByKey, anomaly, last_below, strict_limit};
use crate::ladder::register::{RegisterHistory, Source};
use crate::verdict::Anomaly;
use rustc_hash::FxHashMap;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Client processes whose causal-memory views are already known to hold no anomaly: the
/// streaming judge decides the view of every process that retired while the run went
/// ([`crate::live::memory_views`]), and the offline check skips them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanViews {
    /// Client process numbers.
    pub clients: rustc_hash::FxHashSet<u64>,
}

impl CleanViews {
    /// True when `client`'s view is known to hold no causal-memory anomaly.
    pub fn contains(&self, client: u64) -> bool {
        self.clients.contains(&client)
    }
}

/// WriteHBInitRead and CyclicHB anomalies (at most one of each per process), by process
/// for each process's view that holds some, in process order, for every process but those
/// `clean` vouches for. Each process's view is its own fixpoint, read
/// from CO and nothing else, so the processes are shared out among the cores (the views
/// are most of a failing check's time), and the anomalies are put back in process order,
/// as one pass would list them.
pub(crate) fn check_processes(
    rh: &RegisterHistory,
    order: &CausalOrder,
    writers: &WritersByKey,
    seen: &SeenBeyond,
    budget: &CausalBudget,
    clean: Option<&CleanViews>,
) -> Vec<(usize, Vec<Anomaly>)> {
    let n = rh.events.len();
    // Readers of each write, compressed: readers[reader_start[w]..reader_start[w + 1]].
    let (reader_start, readers) = csr(
        n,
        rh.events.iter().enumerate().filter_map(|(id, ev)| match ev.read {
            Some(Source::Write(w)) => Some((w, id as u32)),
            _ => None,
        }),
    );
    let shared = Shared { rh, order, writers, seen, reader_start: &reader_start, readers: &readers };
    let next = AtomicUsize::new(0);
    let work = || {
        let mut views = Views {
            hb: Overlay::new(n),
            filter: WriterFilter::new(rh, writers, budget),
            candidates: Vec::new(),
            work: Growth::new(n),
        };
        let mut out: Vec<(usize, Vec<Anomaly>)> = Vec::new();
        loop {
            let p = next.fetch_add(1, Ordering::Relaxed);
            if p >= rh.process_count() {
                return out;
            }
            if clean.is_some_and(|c| c.contains(rh.processes[p])) {
                continue;
            }
            let mut mine = Vec::new();
            check_process(&shared, &mut views, p, &mut mine);
            if !mine.is_empty() {
                out.push((p, mine));
            }
        }
    };
    // A few large processes can hold most events; more threads than cores would only
    // share the same two.
    let threads = std::thread::available_parallelism().map_or(1, |c| c.get()).clamp(1, 4);
    let mut per_process: Vec<(usize, Vec<Anomaly>)> = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let mut all = work();
        for h in helpers {
            all.extend(h.join().expect("a causal memory thread panicked"));
        }
        all
    });
    per_process.sort_unstable_by_key(|(p, _)| *p);
    per_process
}

/// What every process's fixpoint reads.
struct Shared<'a> {
    rh: &'a RegisterHistory<'a>,
    order: &'a CausalOrder,
    writers: &'a WritersByKey,
    seen: &'a SeenBeyond,
    reader_start: &'a [u32],
    readers: &'a [u32],
}

/// One thread's working space, reset for each process.
struct Views {
    hb: Overlay,
    filter: WriterFilter,
    candidates: Vec<u32>,
    work: Growth,
}

/// Grows process `p`'s view to its fixpoint and appends its anomalies.
fn check_process(shared: &Shared, views: &mut Views, p: usize, found: &mut Vec<Anomaly>) {
    let Shared { rh, order, writers, seen, reader_start, readers } = *shared;
    let Views { hb, filter, candidates, work } = views;
    let range = rh.process_events(p);
    if range.is_empty() {
        return;
    }
    let last = (range.end - 1) as u32;
    let past = order.clock(last);
    let in_past = |store: &ClockStore, e: u32| {
        let ev = &rh.events[e as usize];
        ev.pos < store.get(past, ev.process)
    };
    // Start from CO: HB_o contains CO restricted to the causal past.
    hb.reset();
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
        match ev.read {
            Some(Source::Init) if !init_read_reported => {
                // Any write of the key in this read's HB past is the pattern; report
                // the first (one per process is enough).
                let clock = hb.get(order, r);
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
                if hb.above(r).is_empty() {
                    candidates.extend_from_slice(seen.of(r));
                } else {
                    let clock = hb.get(order, r);
                    let picked =
                        filter.beyond(rh, &order.store, writers, ev.key, (r, clock), (w, order.clock(w)));
                    for pick in picked {
                        let kw = &writers[ev.key as usize];
                        let (q, writes) = (kw.process(pick.writer as usize), kw.writes(pick.writer as usize));
                        candidates.extend(last_below(rh, q, writes, pick.limit).filter(|&b| b != w));
                    }
                }
                for &before in candidates.iter() {
                    // Clocks are closed under every edge so far: when `before` is
                    // already in `w`'s past, so is all of its own past, and the edge
                    // adds nothing. Only edges that add something are recorded: a
                    // cycle of HB needs one of them (CO is acyclic, and a redundant
                    // edge lies inside the closure of the others), and growth reaches
                    // `w` along the path that made the edge redundant. Most reads
                    // derive only redundant edges, so this keeps the hash maps small.
                    let bev = &rh.events[before as usize];
                    if hb.get(order, w).get(&order.store, bev.process) > bev.pos {
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
                && hb.carry(order, e, next)
            {
                work.push(order, next);
            }
            for &reader in &readers[reader_start[e as usize] as usize..reader_start[e as usize + 1] as usize]
            {
                if in_past(&order.store, reader) && hb.carry(order, e, reader) {
                    work.push(order, reader);
                }
            }
            if let Some(targets) = derived_out.get(&e) {
                for &t in targets {
                    if hb.carry(order, e, t) {
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
        if hb.get(order, before).get(&order.store, aev.process) > aev.pos {
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

/// HB clocks as entries above CO's: an event's view exceeds its CO clock in a few entries
/// if at all, so each event keeps only those (a run of `(process, entry)` in `runs`), and
/// growing a view costs the entries it carries, not a walk of CO's trie. Runs are
/// replaced, never edited, and the dead ones are dropped once they outweigh the live.
struct Overlay {
    /// `(start, len)` of each event's run in `runs`; `len` 0: the view is CO's.
    slot: Vec<(u32, u32)>,
    runs: Vec<(u32, u32)>,
    /// Entries of `runs` some slot still names.
    live: usize,
    touched: Vec<u32>,
    /// Entries a join brings, in process order.
    brought: Vec<(u32, u32)>,
}

/// Dead entries tolerated before `runs` is compacted, beyond three times the live ones.
const DEAD_FLOOR: usize = 1 << 20;

impl Overlay {
    fn new(n: usize) -> Overlay {
        Overlay { slot: vec![(0, 0); n], runs: Vec::new(), live: 0, touched: Vec::new(), brought: Vec::new() }
    }

    fn reset(&mut self) {
        for &e in &self.touched {
            self.slot[e as usize] = (0, 0);
        }
        self.touched.clear();
        self.runs.clear();
        self.live = 0;
    }

    /// The entries of `e`'s view above its CO clock.
    fn above(&self, e: u32) -> &[(u32, u32)] {
        let (start, len) = self.slot[e as usize];
        &self.runs[start as usize..(start + len) as usize]
    }

    /// `e`'s view.
    fn get<'a>(&'a self, order: &CausalOrder, e: u32) -> Grown<'a> {
        Grown { base: order.clock(e), above: self.above(e) }
    }

    /// Joins `from`'s view into `to`'s, for an edge whose source's CO clock `to`'s may not
    /// cover (a derived edge, the first time); true when `to`'s grew.
    fn join(&mut self, order: &CausalOrder, from: u32, to: u32) -> bool {
        let mut brought = std::mem::take(&mut self.brought);
        brought.clear();
        self.get(order, from).for_each_greater(&order.store, order.clock(to), |q, x, _| brought.push((q, x)));
        let grew = self.raise(order, to, &brought, false);
        self.brought = brought;
        grew
    }

    /// Joins `from`'s view into `to`'s along an edge whose source's CO clock `to`'s
    /// covers (program order, read-from, or a derived edge already joined once), so only
    /// the entries of `from` above CO can add anything; true when `to`'s grew.
    fn carry(&mut self, order: &CausalOrder, from: u32, to: u32) -> bool {
        if self.slot[from as usize].1 == 0 {
            return false;
        }
        let mut brought = std::mem::take(&mut self.brought);
        brought.clear();
        brought.extend_from_slice(self.above(from));
        let grew = self.raise(order, to, &brought, true);
        self.brought = brought;
        grew
    }

    /// Raises `to`'s view to at least `brought` (in process order; when `check_co`, an
    /// entry may be at or below `to`'s CO clock, and is then ignored).
    fn raise(&mut self, order: &CausalOrder, to: u32, brought: &[(u32, u32)], check_co: bool) -> bool {
        let (start, len) = self.slot[to as usize];
        let new_start = self.runs.len();
        let base = order.clock(to);
        let above_co = |q: u32, x: u32| !check_co || x > order.store.get(base, q);
        if !merge_entries(&mut self.runs, (start, len), brought, above_co) {
            return false;
        }
        if len == 0 {
            self.touched.push(to);
        }
        let new_len = self.runs.len() - new_start;
        self.live = self.live + new_len - len as usize;
        self.slot[to as usize] = (new_start as u32, new_len as u32);
        if self.runs.len() > 4 * self.live + DEAD_FLOOR {
            self.compact();
        }
        true
    }

    /// Drops the runs no slot names.
    fn compact(&mut self) {
        let mut kept = Vec::with_capacity(2 * self.live);
        for &e in &self.touched {
            let (start, len) = self.slot[e as usize];
            let new_start = kept.len() as u32;
            kept.extend_from_slice(&self.runs[start as usize..(start + len) as usize]);
            self.slot[e as usize] = (new_start, len);
        }
        self.runs = kept;
    }
}

/// Appends to `runs` the merge of the run `held` (`(start, len)` in `runs`) with `brought`
/// (both `(process, entry)` in process order), keeping the larger entry of a process in
/// both, and of a process only brought, the entries `above_co` accepts (those that exceed
/// the target's CO clock, when that is not known already). True when the merge exceeds
/// `held` somewhere; otherwise nothing is appended. A view's growth in both the offline
/// check ([`Overlay`]) and the streamed views ([`crate::live::memory_views`]).
pub(crate) fn merge_entries(
    runs: &mut Vec<(u32, u32)>,
    (start, len): (u32, u32),
    brought: &[(u32, u32)],
    above_co: impl Fn(u32, u32) -> bool,
) -> bool {
    let (old, end) = (start as usize, (start + len) as usize);
    let new_start = runs.len();
    let mut grew = false;
    let (mut i, mut j) = (0, old);
    while i < brought.len() || j < end {
        let next_brought = brought.get(i).map_or(u32::MAX, |b| b.0);
        let next_held = if j < end { runs[j].0 } else { u32::MAX };
        if next_held < next_brought {
            let held = runs[j];
            runs.push(held);
            j += 1;
        } else if next_brought < next_held {
            let (q, x) = brought[i];
            i += 1;
            if above_co(q, x) {
                runs.push((q, x));
                grew = true;
            }
        } else {
            let (q, x, held) = (brought[i].0, brought[i].1, runs[j].1);
            i += 1;
            j += 1;
            grew |= x > held;
            runs.push((q, x.max(held)));
        }
    }
    if !grew {
        runs.truncate(new_start);
    }
    grew
}
