//! Causal consistency for register/kv histories with unique writes, after Bouajjani, Enea,
//! Guerraoui and Hamza, "On Verifying Causal Consistency" (POPL 2017): a differentiated
//! history is
//! - `causal` (CC) iff it has none of ThinAirRead, CyclicCO, WriteCOInitRead, WriteCORead;
//! - `causal-convergence` (CCv) iff it is CC and has no CyclicCF;
//! - `causal-memory` (CM) iff it is CC and has neither WriteHBInitRead nor CyclicHB.
//!
//! CO is kept as vector clocks ([`order`]); CF as a reduced edge set ([`conflict`]); the
//! per-process happened-before relations of CM as clocks iterated to a fixpoint
//! ([`memory`]). Every step is polynomial; see `docs/consistency-models.md`.

pub mod clocks;
pub mod conflict;
pub mod memory;
pub mod order;

use crate::history::History;
use crate::ladder::register::{RegisterHistory, Source};
use crate::verdict::{Anomaly, CheckerResult};
use clocks::{Clock, ClockStore, Grown};
use order::{CausalOrder, OrderError};
use serde_json::json;

/// At most this many anomalies are listed per model; the details count them all.
pub const MAX_ANOMALIES: usize = 20;

/// The verdicts of the three causal models, each with its own anomalies.
#[derive(Debug, Clone)]
pub struct CausalVerdicts {
    /// CC.
    pub causal: CheckerResult,
    /// CCv.
    pub convergence: CheckerResult,
    /// CM.
    pub memory: CheckerResult,
}

impl CausalVerdicts {
    /// `(model name, result)` pairs, strongest first as `results.json` lists them.
    pub fn into_named(self) -> Vec<(String, CheckerResult)> {
        vec![
            ("causal-convergence".to_string(), self.convergence),
            ("causal-memory".to_string(), self.memory),
            ("causal".to_string(), self.causal),
        ]
    }
}

/// Checks CC, CCv and CM on a history; `unknown` for all three when its writes are not
/// unique per key.
pub fn check(history: &History) -> CausalVerdicts {
    match RegisterHistory::from_history(history) {
        Ok(rh) => check_register(&rh),
        Err(e) => {
            let r = CheckerResult::unknown(e.0);
            CausalVerdicts { causal: r.clone(), convergence: r.clone(), memory: r }
        }
    }
}

/// Limits of the causal checks.
#[derive(Debug, Clone, Copy)]
pub struct CausalBudget {
    /// Causal order is one clock of (processes) entries per operation, stored as shared
    /// trie nodes ([`clocks`]); when the nodes hold more than this many entries (4 bytes
    /// each) the verdicts are `unknown` instead of exhausting memory.
    pub max_clock_entries: u64,
    /// Above this many processes clocks are shared tries, at or below it plain rows
    /// ([`clocks::FLAT_WIDTH`] by default; both give the same verdicts, and the tests
    /// check each form).
    pub shared_clocks_above: usize,
    /// A read's key with at most this many writers is compared writer by writer; above
    /// it, only the writers where the read's clock and its write's differ are looked at
    /// (32 by default; every setting gives the same verdicts, and the tests check each).
    pub scan_writers_up_to: usize,
    /// The writers of keys past `scan_writers_up_to` are found in a (key, process) table
    /// of up to this many entries (4 bytes each), by a binary search above it (16 M by
    /// default; the same verdicts either way).
    pub writer_table_entries: usize,
}

impl Default for CausalBudget {
    fn default() -> CausalBudget {
        CausalBudget {
            max_clock_entries: 256 << 20,
            shared_clocks_above: clocks::FLAT_WIDTH,
            scan_writers_up_to: 32,
            writer_table_entries: 16 << 20,
        }
    }
}

/// Checks CC, CCv and CM on an extracted register history, within the default budget.
pub fn check_register(rh: &RegisterHistory) -> CausalVerdicts {
    check_register_within(rh, &CausalBudget::default())
}

/// Checks CC, CCv and CM on an extracted register history.
pub fn check_register_within(rh: &RegisterHistory, budget: &CausalBudget) -> CausalVerdicts {
    check_register_knowing(rh, budget, None)
}

/// Like [`check_register_within`], not growing again the causal-memory views of the
/// processes `clean` vouches for (decided while the history was written): the verdicts
/// are the same when it is right.
pub fn check_register_knowing(
    rh: &RegisterHistory,
    budget: &CausalBudget,
    clean: Option<&memory::CleanViews>,
) -> CausalVerdicts {
    let mut found = Vec::new();
    thin_air_reads(rh, &mut found);
    let order = match CausalOrder::new(rh, budget) {
        Ok(order) => Some(order),
        Err(OrderError::Cyclic(cycle)) => {
            found.push(cyclic_co(rh, &cycle));
            None
        }
        Err(OrderError::OverBudget(entries)) => {
            let r = CheckerResult::unknown(format!(
                "{} operations by {} processes: causal clocks reached {} MB, over the budget of {} MB",
                rh.events.len(),
                rh.process_count(),
                (entries * 4) >> 20,
                (budget.max_clock_entries * 4) >> 20
            ));
            return CausalVerdicts { causal: r.clone(), convergence: r.clone(), memory: r };
        }
    };
    // Every pattern below reads each key's writers; list them once.
    let writers = writers_by_key(rh);
    let mut seen = None;
    if let Some(order) = &order {
        write_co_init_reads(rh, order, &writers, &mut found);
        seen = Some(write_co_reads(rh, order, &writers, budget, &mut found));
    }
    if !found.is_empty() {
        let causal = finish(found, "causal");
        let because = |model: &str| {
            let mut r = causal.clone();
            r.reason = Some(format!("not causal, hence not {model}"));
            r
        };
        return CausalVerdicts {
            convergence: because("causal-convergent"),
            memory: because("causal memory"),
            causal,
        };
    }
    let order = order.as_ref().expect("CO is acyclic when no CC pattern was found");
    let seen = seen.expect("found with CO");
    let mut cf = Vec::new();
    conflict::cyclic_cf(rh, &seen, &mut cf);
    let mut cm = Vec::new();
    let per_process = memory::check_processes(rh, order, &writers, &seen, budget, clean);
    cm.extend(per_process.into_iter().flat_map(|(_, a)| a));
    CausalVerdicts {
        causal: finish(vec![], "causal"),
        convergence: finish(cf, "causal-convergence"),
        memory: finish(cm, "causal-memory"),
    }
}

/// Each process's causal-memory view grown on its own, as the CM check grows it: the
/// client process numbers whose views hold an anomaly, and those whose views hold none,
/// each in process order. `None` when the history has a CC anomaly or CO cannot be built
/// (the CM check then grows no view). For testing what [`crate::live::memory_views`]
/// decides against the offline check.
pub fn memory_views_by_process(rh: &RegisterHistory) -> Option<(Vec<u64>, Vec<u64>)> {
    let budget = CausalBudget::default();
    let mut found = Vec::new();
    thin_air_reads(rh, &mut found);
    let order = CausalOrder::new(rh, &budget).ok()?;
    let writers = writers_by_key(rh);
    write_co_init_reads(rh, &order, &writers, &mut found);
    let seen = write_co_reads(rh, &order, &writers, &budget, &mut found);
    if !found.is_empty() {
        return None;
    }
    let anomalous = memory::check_processes(rh, &order, &writers, &seen, &budget, None);
    let flagged: Vec<u64> = anomalous.iter().map(|(p, _)| rh.processes[*p]).collect();
    let clean = (0..rh.process_count())
        .filter(|p| anomalous.binary_search_by_key(p, |(q, _)| *q).is_err())
        .map(|p| rh.processes[p])
        .collect();
    Some((flagged, clean))
}

/// Builds a result from the anomalies found, listing at most [`MAX_ANOMALIES`].
pub(crate) fn finish(mut found: Vec<Anomaly>, model: &str) -> CheckerResult {
    if found.is_empty() {
        return CheckerResult::valid().with_details(json!({ "model": model }));
    }
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for a in &found {
        *counts.entry(a.kind.clone()).or_default() += 1;
    }
    found.truncate(MAX_ANOMALIES);
    CheckerResult::invalid(found).with_details(json!({ "model": model, "anomaly-counts": counts }))
}

pub(crate) fn anomaly(kind: &str, explanation: String, ops: Vec<u64>) -> Anomaly {
    Anomaly {
        kind: kind.to_string(),
        explanation,
        ops,
        witness: serde_json::Value::Null,
        ..Anomaly::default()
    }
}

fn thin_air_reads(rh: &RegisterHistory, found: &mut Vec<Anomaly>) {
    for (id, ev) in rh.events.iter().enumerate() {
        if ev.read != Some(Source::Nowhere) {
            continue;
        }
        let id = id as u32;
        let (why, mut ops) = match rh.failed_write(ev.key, rh.read_value(ev)) {
            Some(f) => (format!("a value only a failed write (op {f}) tried to write"), vec![f]),
            None => ("a value no operation wrote".to_string(), vec![]),
        };
        ops.extend(rh.indices(&[id]));
        ops.sort_unstable();
        found.push(anomaly("ThinAirRead", format!("{}, {why}.", rh.describe_read(id)), ops));
    }
}

fn cyclic_co(rh: &RegisterHistory, cycle: &[u32]) -> Anomaly {
    let steps: Vec<String> = cycle
        .iter()
        .map(|&e| {
            let ev = &rh.events[e as usize];
            if ev.writes { rh.describe_write(e) } else { rh.describe_read(e) }
        })
        .collect();
    anomaly(
        "CyclicCO",
        format!(
            "causality runs in a circle: {}, each before the next by program order or by a read of its write, and back to the first.",
            steps.join("; ")
        ),
        rh.indices(cycle),
    )
}

/// For every key, for every process writing it, that process's writes to it in program
/// order.
pub(crate) type WritersByKey = Vec<KeyWriters>;

/// The writes of one key by writer: writer `i` is process `process[i]` (in increasing
/// process order), its writes `writes[start[i]..start[i + 1]]` in program order. One
/// contiguous list per key, so reaching a writer's writes is no pointer chase (a list per
/// writer cost a cache miss for each writer a read looked at).
#[derive(Default)]
pub(crate) struct KeyWriters {
    process: Vec<u32>,
    start: Vec<u32>,
    writes: Vec<u32>,
}

impl KeyWriters {
    /// How many processes write the key.
    pub(crate) fn len(&self) -> usize {
        self.process.len()
    }

    /// The process of writer `i`.
    pub(crate) fn process(&self, i: usize) -> u32 {
        self.process[i]
    }

    /// Writer `i`'s writes of the key, in program order.
    pub(crate) fn writes(&self, i: usize) -> &[u32] {
        &self.writes[self.start[i] as usize..self.start[i + 1] as usize]
    }

    /// `(process, writes)` of every writer, in process order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &[u32])> {
        (0..self.len()).map(|i| (self.process(i), self.writes(i)))
    }
}

/// Every key's writers, from the events (grouped by process, so each key's writes come
/// in process order, then program order).
pub(crate) fn writers_by_key(rh: &RegisterHistory) -> WritersByKey {
    let mut out: WritersByKey = (0..rh.keys.len()).map(|_| KeyWriters::default()).collect();
    for (id, ev) in rh.events.iter().enumerate().filter(|(_, ev)| ev.writes) {
        let kw = &mut out[ev.key as usize];
        if kw.process.last() != Some(&ev.process) {
            kw.process.push(ev.process);
            kw.start.push(kw.writes.len() as u32);
        }
        kw.writes.push(id as u32);
    }
    for kw in &mut out {
        kw.start.push(kw.writes.len() as u32);
    }
    out
}

/// Finds, for a read `a` of write `b`, the writers of the read's key worth looking at: only
/// a process of which `a` has seen more than `b`'s causal past holds can have a latest
/// write in `a`'s past that `b` does not already follow (a write in `b`'s past gives no
/// anomaly and no edge that CO does not imply). Comparing two clocks walks only the blocks
/// of processes where they differ, much cheaper than a binary search per writer, and in a
/// concurrent history with many processes few writers pass it. Each pick carries both
/// clocks' entries for its writer, which the walk read anyway, so its callers need no
/// further clock lookup to place the writer's latest write against `a` and `b`.
pub(crate) struct WriterFilter {
    /// Keys with at most this many writers are scanned whole: the filter would cost more.
    few: usize,
    /// Where each process sits in `writers[key]`, for keys with many writers.
    slots: WriterSlots,
    picked: Vec<Pick>,
}

/// Which entry of `writers[key]` a process is, for the keys with more writers than
/// [`CausalBudget::scan_writers_up_to`].
enum WriterSlots {
    /// `at[row[key] * processes + q]`, [`NOT_A_WRITER`] where `q` does not write `key`: one
    /// load per pick, while the table fits [`CausalBudget::writer_table_entries`].
    Dense { row: Vec<u32>, processes: usize, at: Vec<u32> },
    /// `of[key]`: the processes of `writers[key]`, in the same order, for a binary search.
    Sorted { of: Vec<Vec<u32>> },
}

const NOT_A_WRITER: u32 = u32::MAX;

/// One writer [`WriterFilter::beyond`] found, with the two clocks' entries for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pick {
    /// Index into `writers[key]`.
    pub(crate) writer: u32,
    /// How many of the writer's events lie in `a`'s strict past.
    pub(crate) limit: u32,
    /// How many of the writer's events lie in `b`'s past, `b` included.
    pub(crate) b_past: u32,
}

impl WriterFilter {
    pub(crate) fn new(rh: &RegisterHistory, writers: &WritersByKey, budget: &CausalBudget) -> WriterFilter {
        let few = budget.scan_writers_up_to;
        let processes = rh.process_count();
        let many = writers.iter().filter(|list| list.len() > few).count();
        let slots = if many.saturating_mul(processes) <= budget.writer_table_entries {
            let mut row = vec![NOT_A_WRITER; writers.len()];
            let mut at = vec![NOT_A_WRITER; many * processes];
            let big = writers.iter().enumerate().filter(|(_, list)| list.len() > few);
            for (r, (key, list)) in big.enumerate() {
                row[key] = r as u32;
                for (i, (q, _)) in list.iter().enumerate() {
                    at[r * processes + q as usize] = i as u32;
                }
            }
            WriterSlots::Dense { row, processes, at }
        } else {
            let of = writers
                .iter()
                .map(|list| if list.len() > few { list.iter().map(|(q, _)| q).collect() } else { Vec::new() })
                .collect();
            WriterSlots::Sorted { of }
        };
        WriterFilter { few, slots, picked: Vec::new() }
    }

    /// The writers of `key`, in process order, that `a` (an event with clock `clock_a`,
    /// CO's or a larger one) may have seen beyond `b`'s CO past; every other writer is
    /// certain to give nothing.
    pub(crate) fn beyond(
        &mut self,
        rh: &RegisterHistory,
        store: &ClockStore,
        writers: &WritersByKey,
        key: u32,
        (a, clock_a): (u32, Grown<'_>),
        (b, clock_b): (u32, Clock),
    ) -> &[Pick] {
        self.picked.clear();
        let list = &writers[key as usize];
        if list.len() <= self.few {
            for (i, (q, _)) in list.iter().enumerate() {
                let limit = strict_limit(rh, store, a, clock_a, q);
                self.picked.push(Pick { writer: i as u32, limit, b_past: store.get(clock_b, q) });
            }
            return &self.picked;
        }
        // A clock's entry for its own process counts the event itself; compare those two
        // processes by their exact limits instead. The others come from the blocks where
        // the two clocks differ, in process order.
        let (pa, pa_pos) = (rh.events[a as usize].process, rh.events[a as usize].pos);
        let pb = rh.events[b as usize].process;
        let (first, second) = (pa.min(pb), pa.max(pb));
        let picked = &mut self.picked;
        // Picks come in increasing process order, and so does `list`: with no table, each
        // is found by a binary search in what is left of it.
        let mut cursor = 0usize;
        // The key's row of the table, or its sorted writers, found once per call.
        let (row, sorted): (&[u32], &[u32]) = match &self.slots {
            WriterSlots::Dense { row, processes, at } => {
                let start = row[key as usize] as usize * processes;
                (&at[start..start + processes], &[])
            }
            WriterSlots::Sorted { of } => (&[], &of[key as usize]),
        };
        let mut pick = |q: u32, a_entry: u32, b_past: u32| {
            let i = if !row.is_empty() {
                row[q as usize]
            } else {
                cursor += sorted[cursor..].partition_point(|&p| p < q);
                if sorted.get(cursor) == Some(&q) { cursor as u32 } else { NOT_A_WRITER }
            };
            if i != NOT_A_WRITER {
                let limit = if q == pa { pa_pos } else { a_entry };
                picked.push(Pick { writer: i, limit, b_past });
            }
        };
        let mut next_own = [first, second].into_iter().peekable();
        clock_a.for_each_greater(store, clock_b, |q, x, y| {
            while let Some(&own) = next_own.peek().filter(|&&own| own <= q) {
                next_own.next();
                if own != q {
                    pick(own, clock_a.get(store, own), store.get(clock_b, own));
                }
            }
            pick(q, x, y);
        });
        for own in next_own {
            pick(own, clock_a.get(store, own), store.get(clock_b, own));
        }
        picked.dedup();
        &self.picked
    }
}

/// The last write in `writes` (process `q`'s writes to one key, program order) whose
/// position is below `limit`. Events are grouped by process, so a position compares as
/// an event id, without reading the events.
pub(crate) fn last_below(rh: &RegisterHistory, q: u32, writes: &[u32], limit: u32) -> Option<u32> {
    let bound = rh.starts[q as usize] + limit;
    let n = writes.partition_point(|&w| w < bound);
    n.checked_sub(1).map(|i| writes[i])
}

/// How many of process `q`'s events lie in `e`'s strict causal past, given `e`'s clock.
pub(crate) fn strict_limit(
    rh: &RegisterHistory,
    store: &ClockStore,
    e: u32,
    clock: Grown<'_>,
    q: u32,
) -> u32 {
    let ev = &rh.events[e as usize];
    if ev.process == q { ev.pos } else { clock.get(store, q) }
}

fn write_co_init_reads(
    rh: &RegisterHistory,
    order: &CausalOrder,
    writers: &WritersByKey,
    found: &mut Vec<Anomaly>,
) {
    for (id, ev) in rh.events.iter().enumerate() {
        if ev.read != Some(Source::Init) {
            continue;
        }
        let id = id as u32;
        let clock = order.clock(id);
        for (q, writes) in writers[ev.key as usize].iter() {
            let limit = strict_limit(rh, &order.store, id, Grown::of(clock), q);
            if let Some(&w) = writes.first()
                && w < rh.starts[q as usize] + limit
            {
                found.push(anomaly(
                    "WriteCOInitRead",
                    format!(
                        "{} and then, causally after it, {}, the initial value.",
                        rh.describe_write(w),
                        rh.describe_read(id)
                    ),
                    rh.indices(&[w, id]),
                ));
                break;
            }
        }
    }
}

/// For every read of a write `w`: the latest write of each writer of its key in the
/// read's causal past that neither is `w` nor lies in `w`'s past, which CF and CM turn
/// into edges to `w` (a write in `w`'s past gives only an edge CO implies). One pass over
/// the reads finds them and WriteCORead together, so CCv and CM do not compare clocks
/// again for reads whose view is CO's.
pub(crate) struct SeenBeyond {
    /// `before[start[e]..start[e + 1]]` belong to event `e`.
    start: Vec<u32>,
    before: Vec<u32>,
}

impl SeenBeyond {
    /// The writes found for read `e` (empty for any other event).
    pub(crate) fn of(&self, e: u32) -> &[u32] {
        &self.before[self.start[e as usize] as usize..self.start[e as usize + 1] as usize]
    }
}

fn write_co_reads(
    rh: &RegisterHistory,
    order: &CausalOrder,
    writers: &WritersByKey,
    budget: &CausalBudget,
    found: &mut Vec<Anomaly>,
) -> SeenBeyond {
    let mut filter = WriterFilter::new(rh, writers, budget);
    let mut seen = SeenBeyond { start: Vec::with_capacity(rh.events.len() + 1), before: Vec::new() };
    // A read's candidate writes, whether each lies outside its write's past, and each
    // one's entry for the write's process: read for all of them at once
    // (`ClockStore::get_each`), since one lookup after another waited on a cache miss
    // per trie level.
    let mut newer_writes: Vec<(u32, bool)> = Vec::new();
    let mut entries: Vec<Clock> = Vec::new();
    for (id, ev) in rh.events.iter().enumerate() {
        seen.start.push(seen.before.len() as u32);
        let Some(Source::Write(w)) = ev.read else { continue };
        let id = id as u32;
        let clock = order.clock(id);
        let wev = &rh.events[w as usize];
        newer_writes.clear();
        entries.clear();
        for pick in
            filter.beyond(rh, &order.store, writers, ev.key, (id, Grown::of(clock)), (w, order.clock(w)))
        {
            let kw = &writers[ev.key as usize];
            let q = kw.process(pick.writer as usize);
            let Some(newer) = last_below(rh, q, kw.writes(pick.writer as usize), pick.limit) else {
                continue;
            };
            if newer == w {
                continue;
            }
            // `newer` lies outside `w`'s past exactly when its position is at least
            // `w`'s entry for its process.
            newer_writes.push((newer, newer - rh.starts[q as usize] >= pick.b_past));
            entries.push(order.clock(newer));
        }
        order.store.get_each(&mut entries, wev.process);
        for (&(newer, outside), &entry) in newer_writes.iter().zip(&entries) {
            if entry > wev.pos {
                found.push(anomaly(
                    "WriteCORead",
                    format!(
                        "{}, then {} causally after it, yet {} causally after both: an older value.",
                        rh.describe_write(w),
                        rh.describe_write(newer),
                        rh.describe_read(id)
                    ),
                    rh.indices(&[w, newer, id]),
                ));
                break;
            }
            if outside {
                seen.before.push(newer);
            }
        }
    }
    seen.start.push(seen.before.len() as u32);
    seen
}
