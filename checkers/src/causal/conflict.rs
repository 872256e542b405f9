//! CyclicCF, the pattern that separates causal convergence (CCv) from CC: write `w1`
//! conflicts before write `w2` of the same key when `w1` causally precedes a read of `w2`
//! (every replica that shows the read must have ordered `w1` first); CCv needs one total
//! arbitration order, so CF together with CO must be acyclic.
//!
//! Only the last write of each process below a read's causal frontier gets a CF edge: the
//! earlier ones reach it by program order, so the closure is the same and the edge count
//! stays at (reads × writers of the key); an edge CO already implies is left out too.

use super::order::{Graph, co_edges};
use super::{SeenBeyond, anomaly};
use crate::ladder::register::{RegisterHistory, Source};
use crate::verdict::Anomaly;
use rustc_hash::FxHashMap;

/// Appends a CyclicCF anomaly when CF ∪ CO has a cycle; `seen` holds, for every read of
/// a write, the writes of its key it has seen that CO does not already order before that
/// write (the only CF edges that can add something).
pub(crate) fn cyclic_cf(rh: &RegisterHistory, seen: &SeenBeyond, found: &mut Vec<Anomaly>) {
    let mut edges = co_edges(rh);
    // Which read justified each CF edge, to explain it.
    let mut because: FxHashMap<(u32, u32), u32> = FxHashMap::default();
    for (id, ev) in rh.events.iter().enumerate() {
        let Some(Source::Write(w)) = ev.read else { continue };
        let id = id as u32;
        for &before in seen.of(id) {
            if because.insert((before, w), id).is_none() {
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
