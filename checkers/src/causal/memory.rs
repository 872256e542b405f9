//! Causal memory (CM): CC plus WriteHBInitRead and CyclicHB. For an operation `o`, HB_o
//! starts as CO restricted to `o`'s causal past and grows by one rule until a fixpoint:
//! when a read `r` of `o`'s process (up to `o`) returns write `w`, every other write of the
//! same key that is HB_o-before `r` is HB_o-before `w` (that process must have applied it
//! first). HB_o only grows along program order, so checking the last operation of each
//! process covers every `o`.
//!
//! HB_o, like CO, is downward closed along program order, so it is kept as one clock per
//! event; derived edges are joined into their targets' clocks and the clocks re-propagated
//! in CO's topological order until nothing changes. A cycle must use a derived edge (CO is
//! acyclic here), and the derived edge `a -> b` lies on a cycle exactly when `b` is already
//! in `a`'s clock at the fixpoint.

use super::order::CausalOrder;
use super::{anomaly, last_below, strict_limit};
use crate::ladder::register::{RegisterHistory, Source};
use crate::verdict::Anomaly;
use rustc_hash::FxHashMap;

/// Appends WriteHBInitRead and CyclicHB anomalies (at most one of each per process).
pub fn check(rh: &RegisterHistory, order: &CausalOrder, found: &mut Vec<Anomaly>) {
    let writers = rh.writers_by_key();
    let width = order.width;
    let mut hb = vec![0u32; rh.events.len() * width];
    for p in 0..rh.process_count() {
        let range = rh.process_events(p);
        if range.is_empty() {
            continue;
        }
        let last = (range.end - 1) as u32;
        let past = order.clock(last).to_vec();
        let in_past = |e: u32| {
            let ev = &rh.events[e as usize];
            ev.pos < past[ev.process as usize]
        };
        for &e in &order.topo {
            if in_past(e) {
                let at = e as usize * width;
                hb[at..at + width].copy_from_slice(order.clock(e));
            }
        }
        let reads: Vec<u32> = range
            .clone()
            .filter(|&e| matches!(rh.events[e].read, Some(Source::Write(_) | Source::Init)))
            .map(|e| e as u32)
            .collect();
        // Derived edges (earlier write, later write) -> the read that forced them.
        let mut derived: FxHashMap<(u32, u32), u32> = FxHashMap::default();
        let mut derived_into: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
        let mut init_read_reported = false;
        loop {
            let mut changed = false;
            for &r in &reads {
                let ev = &rh.events[r as usize];
                let clock = hb[r as usize * width..(r as usize + 1) * width].to_vec();
                for (q, writes) in &writers[ev.key as usize] {
                    let limit = strict_limit(rh, r, &clock, *q);
                    let Some(before) = last_below(rh, writes, limit) else { continue };
                    match ev.read {
                        Some(Source::Init) if !init_read_reported => {
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
                        Some(Source::Write(w)) if before != w && derived.insert((before, w), r).is_none() => {
                            derived_into.entry(w).or_default().push(before);
                            changed = true;
                        }
                        _ => {}
                    }
                }
            }
            for &e in &order.topo {
                if !in_past(e) {
                    continue;
                }
                let ev = &rh.events[e as usize];
                let at = e as usize * width;
                let mut sources: Vec<u32> = Vec::new();
                if ev.pos > 0 {
                    sources.push(e - 1);
                }
                if let Some(Source::Write(w)) = ev.read {
                    sources.push(w);
                }
                if let Some(more) = derived_into.get(&e) {
                    sources.extend_from_slice(more);
                }
                for s in sources {
                    let from = s as usize * width;
                    for q in 0..width {
                        if hb[from + q] > hb[at + q] {
                            hb[at + q] = hb[from + q];
                            changed = true;
                        }
                    }
                }
            }
            if !changed {
                break;
            }
        }
        let mut edges: Vec<(&(u32, u32), &u32)> = derived.iter().collect();
        edges.sort_unstable();
        for (&(before, after), &r) in edges {
            let aev = &rh.events[after as usize];
            if hb[before as usize * width + aev.process as usize] > aev.pos {
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
