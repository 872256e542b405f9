//! Causal order (CO, the transitive closure of program order and read-from) for a
//! [`RegisterHistory`], kept as one vector clock per event: because every process's
//! causal past is a prefix of its program order, entry `q` of `e`'s clock (how many of
//! `q`'s events precede or are `e`) answers "does `a` causally precede `e`" in
//! O(log16 P). The clocks share their nodes ([`super::clocks`]), so they cost what
//! consecutive clocks differ by, not (operations × processes). Also a small directed
//! graph with topological sort and cycle extraction, shared by the CC, CCv and CM checks.

use super::CausalBudget;
use super::clocks::{Clock, ClockStore};
use crate::ladder::register::{RegisterHistory, Source};

/// A directed graph in compressed adjacency form.
pub struct Graph {
    succ_start: Vec<u32>,
    succ: Vec<u32>,
    pred_start: Vec<u32>,
    pred: Vec<u32>,
}

impl Graph {
    /// Builds the graph on nodes `0..n` from its edges.
    pub fn from_edges(n: usize, edges: &[(u32, u32)]) -> Graph {
        let (succ_start, succ) = csr(n, edges.iter().map(|&(a, b)| (a, b)));
        let (pred_start, pred) = csr(n, edges.iter().map(|&(a, b)| (b, a)));
        Graph { succ_start, succ, pred_start, pred }
    }

    fn succs(&self, v: u32) -> &[u32] {
        &self.succ[self.succ_start[v as usize] as usize..self.succ_start[v as usize + 1] as usize]
    }

    fn preds(&self, v: u32) -> &[u32] {
        &self.pred[self.pred_start[v as usize] as usize..self.pred_start[v as usize + 1] as usize]
    }

    /// A topological order, or a cycle (nodes in edge order, first node not repeated).
    pub fn topological(&self) -> Result<Vec<u32>, Vec<u32>> {
        let n = self.succ_start.len() - 1;
        let mut indegree: Vec<u32> = (0..n).map(|v| self.preds(v as u32).len() as u32).collect();
        let mut order: Vec<u32> = (0..n as u32).filter(|&v| indegree[v as usize] == 0).collect();
        let mut head = 0;
        while head < order.len() {
            let v = order[head];
            head += 1;
            for &w in self.succs(v) {
                indegree[w as usize] -= 1;
                if indegree[w as usize] == 0 {
                    order.push(w);
                }
            }
        }
        if order.len() == n {
            return Ok(order);
        }
        // Every node left has a predecessor that is also left: walk back until one repeats.
        let left: Vec<bool> = indegree.iter().map(|&d| d > 0).collect();
        let start = (0..n).find(|&v| left[v]).expect("a node is left") as u32;
        let mut seen_at = vec![u32::MAX; n];
        let mut walk = vec![start];
        seen_at[start as usize] = 0;
        let mut v = start;
        loop {
            v = *self.preds(v).iter().find(|&&p| left[p as usize]).expect("left nodes have left preds");
            if seen_at[v as usize] != u32::MAX {
                let mut cycle = walk[seen_at[v as usize] as usize..].to_vec();
                cycle.reverse();
                return Err(cycle);
            }
            seen_at[v as usize] = walk.len() as u32;
            walk.push(v);
        }
    }
}

/// Edges `(a, b)` grouped by `a` in one array (compressed sparse rows): `a`'s are
/// `out[start[a]..start[a + 1]]`, in the order the edges come; `n` bounds every `a`.
pub(crate) fn csr(n: usize, edges: impl Iterator<Item = (u32, u32)> + Clone) -> (Vec<u32>, Vec<u32>) {
    let mut start = vec![0u32; n + 1];
    for (a, _) in edges.clone() {
        start[a as usize + 1] += 1;
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut out = vec![0u32; start[n] as usize];
    for (a, b) in edges {
        out[fill[a as usize] as usize] = b;
        fill[a as usize] += 1;
    }
    (start, out)
}

/// Program-order and read-from edges of `rh` (reads of nothing or the initial value add
/// no edge).
pub fn co_edges(rh: &RegisterHistory) -> Vec<(u32, u32)> {
    let mut edges = Vec::with_capacity(rh.events.len() * 2);
    for (id, ev) in rh.events.iter().enumerate() {
        if ev.pos > 0 {
            edges.push((id as u32 - 1, id as u32));
        }
        if let Some(Source::Write(w)) = ev.read {
            edges.push((w, id as u32));
        }
    }
    edges
}

/// Why CO could not be built.
pub enum OrderError {
    /// CO is cyclic: these events, each before the next, and the last before the first.
    Cyclic(Vec<u32>),
    /// The clocks took more than the budget's entries (this many when it stopped).
    OverBudget(u64),
}

/// The causal order of a history whose CO is acyclic.
pub struct CausalOrder {
    /// Every clock of the check (CM keeps its own in the same store).
    pub store: ClockStore,
    /// `clocks[e]`: entry `q` is the number of `q`'s events in `e`'s causal past, `e`
    /// included.
    clocks: Vec<Clock>,
    /// `rank[e]`: `e`'s place in the topological order the clocks were filled in.
    rank: Vec<u32>,
}

impl CausalOrder {
    /// Computes CO within the budget's clock entries, or says why it cannot.
    pub fn new(rh: &RegisterHistory, budget: &CausalBudget) -> Result<CausalOrder, OrderError> {
        let graph = Graph::from_edges(rh.events.len(), &co_edges(rh));
        // Clocks are filled in a topological order of CO, so a predecessor's is ready first.
        let topo = graph.topological().map_err(OrderError::Cyclic)?;
        let mut store = ClockStore::new(rh.process_count(), budget.shared_clocks_above);
        store.reserve(rh.events.len());
        let mut clocks = vec![ClockStore::ZERO; rh.events.len()];
        for &e in &topo {
            let ev = &rh.events[e as usize];
            let c = if ev.pos > 0 { clocks[e as usize - 1] } else { ClockStore::ZERO };
            let src = match ev.read {
                Some(Source::Write(w)) => clocks[w as usize],
                _ => ClockStore::ZERO,
            };
            clocks[e as usize] = store.join_set(c, src, ev.process, ev.pos + 1);
            if store.entries() > budget.max_clock_entries {
                return Err(OrderError::OverBudget(store.entries()));
            }
        }
        let mut rank = vec![0u32; rh.events.len()];
        for (i, &e) in topo.iter().enumerate() {
            rank[e as usize] = i as u32;
        }
        Ok(CausalOrder { store, clocks, rank })
    }

    /// The clock of event `e`.
    pub fn clock(&self, e: u32) -> Clock {
        self.clocks[e as usize]
    }

    /// `e`'s place in a topological order of CO: an event ranks after everything in its
    /// causal past.
    pub fn rank(&self, e: u32) -> u32 {
        self.rank[e as usize]
    }

    /// How many of process `q`'s events lie in `e`'s causal past, `e` included.
    pub fn entry(&self, e: u32, q: u32) -> u32 {
        self.store.get(self.clocks[e as usize], q)
    }
}
