//! CyclicCF, the pattern that separates causal convergence (CCv) from CC: write `w1`
//! conflicts before write `w2` of the same key when `w1` causally precedes a read of `w2`
//! (every replica that shows the read must have ordered `w1` first); CCv needs one total
//! arbitration order, so CF together with CO must be acyclic.
//!
//! Only the last write of each process below a read's causal frontier gets a CF edge: the
//! earlier ones reach it by program order, so the closure is the same and the edge count
//! stays at (reads × writers of the key); an edge CO already implies is left out too.

use super::order::{CausalOrder, Graph, co_edges};
use super::{WriterFilter, WritersByKey, anomaly, last_below, strict_limit};
use crate::ladder::register::{RegisterHistory, Source};
use crate::verdict::Anomaly;
use rustc_hash::FxHashMap;

/// Appends a CyclicCF anomaly when CF ∪ CO has a cycle.
pub fn cyclic_cf(
    rh: &RegisterHistory,
    order: &CausalOrder,
    writers: &WritersByKey,
    found: &mut Vec<Anomaly>,
) {
    let mut edges = co_edges(rh);
    // Which read justified each CF edge, to explain it.
    let mut because: FxHashMap<(u32, u32), u32> = FxHashMap::default();
    let mut filter = WriterFilter::new(writers);
    for (id, ev) in rh.events.iter().enumerate() {
        let Some(Source::Write(w)) = ev.read else { continue };
        let id = id as u32;
        let clock = order.clock(id);
        for &i in filter.beyond(rh, &order.store, writers, ev.key, (id, clock), (w, order.clock(w))) {
            let (q, writes) = &writers[ev.key as usize][i as usize];
            let limit = strict_limit(rh, &order.store, id, clock, *q);
            let Some(before) = last_below(rh, writes, limit) else { continue };
            // An edge between writes CO already orders changes no cycle: the CO path is in
            // the graph. Leaving those out keeps the map to the edges that add something
            // (in a concurrent history most writes a read has seen precede its write).
            let bev = &rh.events[before as usize];
            if before != w
                && order.entry(w, bev.process) <= bev.pos
                && because.insert((before, w), id).is_none()
            {
                edges.push((before, w));
            }
        }
    }
    let Err(cycle) = Graph::from_edges(rh.events.len(), &edges).topological() else { return };
    let mut involved = cycle.clone();
    let mut steps = Vec::new();
    for (i, &a) in cycle.iter().enumerate() {
        let b = cycle[(i + 1) % cycle.len()];
        if let Some(&r) = because.get(&(a, b)) {
            involved.push(r);
            steps.push(format!(
                "{} must be ordered before {} because {} causally after the first",
                rh.describe_write(a),
                rh.describe_write(b),
                rh.describe_read(r)
            ));
        }
    }
    found.push(anomaly(
        "CyclicCF",
        format!(
            "no single order of writes fits every replica: {}; together with causal order these form a cycle.",
            steps.join("; ")
        ),
        rh.indices(&involved),
    ));
}
