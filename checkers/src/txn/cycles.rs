//! The cycle search, in Elle's order of strength: G0 among ww edges, G1c among ww and wr,
//! G-single-item (one rw edge closed by ww/wr), the snapshot-isolation cycles (no two adjacent
//! rw edges, found as a cycle of the product graph that remembers whether the last edge was
//! rw), G2-item in the full graph, then cycles that need process order and real-time order.
//! Each search is one strongly-connected-components pass (linear) plus a breadth-first
//! search for a shortest witness inside each component, so whether a model holds is
//! decided in linear time and only the witnesses cost more.

use super::anomaly::{Found, Narrator, Step};
use super::budget::{Exhausted, Meter};
use super::graph::{
    Bfs, Components, DATA, Graph, PROCESS, REALTIME, RW, Restricted, Successors, WR, WW, tarjan,
};
use rustc_hash::FxHashSet;

/// Which searches ran to the end (a model is decided only when all its searches did).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Decided {
    /// G0.
    pub g0: bool,
    /// G1c, and the two-transaction fractured reads.
    pub g1c: bool,
    /// Every cycle of data dependencies (serializable, repeatable read).
    pub full: bool,
    /// Cycles without adjacent rw edges (snapshot isolation).
    pub si: bool,
    /// Cycles that need process order.
    pub process: bool,
    /// Cycles that need real-time order.
    pub realtime: bool,
}

/// Everything the search found.
#[derive(Debug, Default)]
pub(crate) struct Search {
    /// Cycle anomalies, at most a few per kind.
    pub found: Vec<Found>,
    /// Which searches finished.
    pub decided: Decided,
    /// Why the search stopped early, if it did.
    pub stopped: Option<String>,
    /// Size of the largest component of the data-dependency graph.
    pub largest_scc: u32,
    /// Number of components of the data-dependency graph with a cycle.
    pub cyclic_sccs: usize,
}

/// At most this many cycles are narrated per component search.
const WITNESSES: usize = 8;
/// rw edges tried per component when looking for a G-single-item.
const SINGLE_TRIES: usize = 16;

/// The data graph with one bit of memory: node `2v + f` is transaction `v` reached by an rw
/// edge (`f = 1`) or not; an rw edge may not leave a node reached by one.
struct NoAdjacentRw<'a> {
    graph: &'a Graph,
}

impl Successors for NoAdjacentRw<'_> {
    fn nodes(&self) -> usize {
        self.graph.len() * 2
    }
    fn slots(&self, s: u32) -> usize {
        self.graph.degree(s >> 1) * 2
    }
    fn successor(&self, s: u32, i: usize) -> Option<u32> {
        let (w, mask) = self.graph.nth(s >> 1, i / 2);
        if i.is_multiple_of(2) {
            (mask & (WW | WR) != 0).then_some(w * 2)
        } else {
            (mask & RW != 0 && s & 1 == 0).then_some(w * 2 + 1)
        }
    }
}

/// Runs every search on `g`, narrating witnesses with `say`.
pub(crate) fn search(g: &Graph, say: &Narrator<'_>, meter: &Meter) -> Search {
    let mut s = Search::default();
    if let Err(Exhausted(why)) = run(g, say, meter, &mut s) {
        s.stopped = Some(why);
    }
    s
}

/// The best single kind of a mask for narration: a cycle is named by its weakest needs.
fn pick(mask: u8) -> u8 {
    [WW, WR, RW, PROCESS, REALTIME].into_iter().find(|k| mask & k != 0).unwrap_or(WW)
}

fn steps_of(g: &Graph, nodes: &[u32], allowed: u8) -> Vec<Step> {
    nodes
        .windows(2)
        .map(|w| Step { from: w[0], to: w[1], kind: pick(g.mask(w[0], w[1]) & allowed) })
        .collect()
}

/// A cycle through the edge `u -> v` (of `first` kind) closed by a shortest path inside
/// the component.
fn close(
    g: &Graph,
    bfs: &mut Bfs,
    comps: &Components,
    u: u32,
    v: u32,
    first: u8,
    allowed: u8,
) -> Option<Vec<Step>> {
    let c = comps.comp[u as usize];
    let path = bfs.path(&Restricted { graph: g, allowed }, v, u, |w| comps.comp[w as usize] == c)?;
    let mut steps = vec![Step { from: u, to: v, kind: first }];
    steps.extend(steps_of(g, &path, allowed));
    Some(steps)
}

fn run(g: &Graph, say: &Narrator<'_>, meter: &Meter, s: &mut Search) -> Result<(), Exhausted> {
    let n = g.len();
    meter.memory((n as u64) * 64 + g.pair_count() as u64 * 16, "the cycle search")?;
    let mut bfs = Bfs::new(n * 2);
    let key_of = |st: &Step| g.key(st.from, st.to, st.kind);

    // G0: ww alone.
    let ww = tarjan(&Restricted { graph: g, allowed: WW });
    for members in ww.nontrivial().into_iter().take(WITNESSES) {
        let u = members[0];
        if let Some(v) =
            g.out(u).find(|&(w, m)| m & WW != 0 && ww.comp[w as usize] == ww.comp[u as usize]).map(|x| x.0)
            && let Some(c) = close(g, &mut bfs, &ww, u, v, WW, WW)
        {
            s.found.push(say.cycle(&c, key_of));
        }
        meter.time("narrating G0 cycles")?;
    }
    s.decided.g0 = true;
    meter.time("searching G0")?;

    // G1c: ww and wr, through a wr edge.
    let wwr = tarjan(&Restricted { graph: g, allowed: WW | WR });
    let mut reported = 0;
    for members in wwr.nontrivial() {
        if reported >= WITNESSES {
            break;
        }
        let c = wwr.comp[members[0] as usize];
        let wr_edge = members.iter().find_map(|&u| {
            g.out(u).find(|&(w, m)| m & WR != 0 && wwr.comp[w as usize] == c).map(|(w, _)| (u, w))
        });
        if let Some((u, v)) = wr_edge
            && let Some(cy) = close(g, &mut bfs, &wwr, u, v, WR, WW | WR)
        {
            s.found.push(say.cycle(&cy, key_of));
            reported += 1;
        }
        meter.time("narrating G1c cycles")?;
    }
    // Fractured reads: T2 -wr-> T3 and T3 -rw-> T2, a transaction that saw part of another.
    let mut fractured = 0;
    for u in 0..n as u32 {
        for (v, m) in g.out(u) {
            if m & RW != 0 && g.mask(v, u) & WR != 0 && fractured < WITNESSES {
                fractured += 1;
                let steps = [Step { from: v, to: u, kind: WR }, Step { from: u, to: v, kind: RW }];
                let mut f = say.cycle(&steps, key_of);
                f.kind = "fractured-read".into();
                f.explanation = format!(
                    "{} saw some of {}'s writes but not others: {}",
                    say.name(u),
                    say.name(v),
                    f.explanation
                );
                s.found.push(f);
            }
        }
    }
    s.decided.g1c = true;
    meter.time("searching G1c")?;

    // G-single-item, then G2-item, per component of the full data graph.
    let full = tarjan(&Restricted { graph: g, allowed: DATA });
    s.largest_scc = full.largest();
    let cyclic = full.nontrivial();
    s.cyclic_sccs = cyclic.len();
    let mut single_comps: FxHashSet<u32> = FxHashSet::default();
    let (mut singles, mut items) = (0, 0);
    for members in &cyclic {
        let c = full.comp[members[0] as usize];
        let rws: Vec<(u32, u32)> = members
            .iter()
            .flat_map(|&u| {
                g.out(u).filter(|&(w, m)| m & RW != 0 && full.comp[w as usize] == c).map(move |(w, _)| (u, w))
            })
            .take(SINGLE_TRIES)
            .collect();
        if rws.is_empty() {
            continue;
        }
        if singles < WITNESSES {
            for &(u, v) in &rws {
                if let Some(cy) = close(g, &mut bfs, &full, u, v, RW, WW | WR) {
                    s.found.push(say.cycle(&cy, key_of));
                    single_comps.insert(c);
                    singles += 1;
                    break;
                }
            }
        }
        if !single_comps.contains(&c) && items < WITNESSES {
            let (u, v) = rws[0];
            if let Some(cy) = close(g, &mut bfs, &full, u, v, RW, DATA) {
                s.found.push(say.cycle(&cy, key_of));
                items += 1;
            }
        }
        meter.time("searching G-single-item and G2-item cycles")?;
    }
    s.decided.full = true;

    // Snapshot isolation: a cycle of the product graph through an rw step.
    let product = NoAdjacentRw { graph: g };
    meter.time("building the snapshot-isolation graph")?;
    let pc = tarjan(&product);
    let mut nonadjacent = 0;
    for members in pc.nontrivial() {
        if nonadjacent >= WITNESSES {
            break;
        }
        let c = pc.comp[members[0] as usize];
        let step = members.iter().find_map(|&st| {
            (0..product.slots(st))
                .filter_map(|i| product.successor(st, i))
                .find(|&w| w & 1 == 1 && pc.comp[w as usize] == c)
                .map(|w| (st, w))
        });
        let Some((a, b)) = step else { continue };
        if single_comps.contains(&full.comp[(a >> 1) as usize]) {
            continue;
        }
        let Some(path) = bfs.path(&product, b, a, |w| pc.comp[w as usize] == c) else { continue };
        let mut steps = vec![Step { from: a >> 1, to: b >> 1, kind: RW }];
        for w in path.windows(2) {
            let kind = if w[1] & 1 == 1 { RW } else { pick(g.mask(w[0] >> 1, w[1] >> 1) & (WW | WR)) };
            steps.push(Step { from: w[0] >> 1, to: w[1] >> 1, kind });
        }
        s.found.push(say.cycle(&steps, key_of));
        single_comps.insert(full.comp[(a >> 1) as usize]);
        nonadjacent += 1;
        meter.time("narrating snapshot-isolation cycles")?;
    }
    s.decided.si = true;

    // Cycles that need process order, then real time: an order edge between two different
    // components of the weaker graph that lies in one component of the stronger.
    let with_process = tarjan(&Restricted { graph: g, allowed: DATA | PROCESS });
    s.decided.process =
        order_cycles(g, say, meter, &mut bfs, &full, &with_process, PROCESS, DATA | PROCESS, &mut s.found)?;
    let with_time = tarjan(&Restricted { graph: g, allowed: DATA | PROCESS | REALTIME });
    s.decided.realtime = order_cycles(
        g,
        say,
        meter,
        &mut bfs,
        &with_process,
        &with_time,
        REALTIME,
        DATA | PROCESS | REALTIME,
        &mut s.found,
    )?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn order_cycles(
    g: &Graph,
    say: &Narrator<'_>,
    meter: &Meter,
    bfs: &mut Bfs,
    weaker: &Components,
    stronger: &Components,
    kind: u8,
    allowed: u8,
    found: &mut Vec<Found>,
) -> Result<bool, Exhausted> {
    let key_of = |st: &Step| g.key(st.from, st.to, st.kind);
    let mut done: FxHashSet<u32> = FxHashSet::default();
    for u in 0..g.len() as u32 {
        let c = stronger.comp[u as usize];
        if stronger.sizes[c as usize] < 2 || done.contains(&c) {
            continue;
        }
        let edge = g.out(u).find(|&(w, m)| {
            m & kind != 0
                && stronger.comp[w as usize] == c
                && weaker.comp[w as usize] != weaker.comp[u as usize]
        });
        if let Some((v, _)) = edge {
            done.insert(c);
            if done.len() <= WITNESSES
                && let Some(cy) = close(g, bfs, stronger, u, v, kind, allowed)
            {
                found.push(say.cycle(&cy, key_of));
            }
        }
        if u % 65_536 == 0 {
            meter.time("searching cycles through process and real-time order")?;
        }
    }
    Ok(true)
}
