//! The dependency graph between transactions, in flat vectors: edges are collected as
//! `(from, to, kind, key)` records, then sorted into compressed adjacency (CSR) where the
//! kinds between one pair merge into a bit mask. On top of it: an iterative Tarjan for
//! strongly connected components over any successor relation (so the same code serves the
//! plain graph and the "no two adjacent rw" product graph the snapshot-isolation search
//! uses), and breadth-first search for shortest paths inside one component.

/// Write-write dependency: the target overwrote (appended after) the source's version.
pub(crate) const WW: u8 = 1;
/// Write-read dependency: the target read the source's version.
pub(crate) const WR: u8 = 2;
/// Read-write anti-dependency: the target overwrote the version the source read.
pub(crate) const RW: u8 = 4;
/// Process order: the same client ran the source, then the target.
pub(crate) const PROCESS: u8 = 8;
/// Real-time order: the source completed before the target was invoked.
pub(crate) const REALTIME: u8 = 16;
/// The three data dependencies.
pub(crate) const DATA: u8 = WW | WR | RW;

/// The name of one edge kind bit.
pub(crate) fn kind_name(kind: u8) -> &'static str {
    match kind {
        WW => "ww",
        WR => "wr",
        RW => "rw",
        PROCESS => "process",
        _ => "realtime",
    }
}

/// One dependency, with the key it is about (`u32::MAX` for process and real-time edges).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Edge {
    /// Source transaction.
    pub from: u32,
    /// Target transaction.
    pub to: u32,
    /// One kind bit.
    pub kind: u8,
    /// Interned key.
    pub key: u32,
}

/// Compressed adjacency: the out-edges of `v` are `targets[offsets[v]..offsets[v+1]]`,
/// sorted by target, each with the mask of kinds between the pair.
#[derive(Debug, Default)]
pub(crate) struct Graph {
    offsets: Vec<u32>,
    targets: Vec<u32>,
    masks: Vec<u8>,
    /// The edge records, sorted by (from, to, kind), for naming an edge's key.
    pub edges: Vec<Edge>,
}

impl Graph {
    /// Builds the graph of `n` nodes from `edges` (self-loops dropped, duplicates merged).
    pub(crate) fn build(n: usize, mut edges: Vec<Edge>) -> Graph {
        edges.retain(|e| e.from != e.to);
        edges.sort_unstable();
        edges.dedup_by(|a, b| a.from == b.from && a.to == b.to && a.kind == b.kind);
        let mut offsets = vec![0u32; n + 1];
        let mut targets: Vec<u32> = Vec::with_capacity(edges.len());
        let mut masks: Vec<u8> = Vec::with_capacity(edges.len());
        let mut previous: Option<(u32, u32)> = None;
        for e in &edges {
            if previous == Some((e.from, e.to)) {
                *masks.last_mut().expect("a previous pair was stored") |= e.kind;
                continue;
            }
            previous = Some((e.from, e.to));
            targets.push(e.to);
            masks.push(e.kind);
            offsets[e.from as usize + 1] += 1;
        }
        for v in 1..=n {
            offsets[v] += offsets[v - 1];
        }
        Graph { offsets, targets, masks, edges }
    }

    /// Number of nodes.
    pub(crate) fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Number of distinct (from, to) pairs.
    pub(crate) fn pair_count(&self) -> usize {
        self.targets.len()
    }

    /// Out-edges of `v` as (target, mask).
    pub(crate) fn out(&self, v: u32) -> impl Iterator<Item = (u32, u8)> + '_ {
        let (a, b) = (self.offsets[v as usize] as usize, self.offsets[v as usize + 1] as usize);
        self.targets[a..b].iter().copied().zip(self.masks[a..b].iter().copied())
    }

    /// Number of distinct targets of `v`.
    pub(crate) fn degree(&self, v: u32) -> usize {
        (self.offsets[v as usize + 1] - self.offsets[v as usize]) as usize
    }

    /// The `i`-th out-edge of `v` as (target, mask).
    pub(crate) fn nth(&self, v: u32, i: usize) -> (u32, u8) {
        let j = self.offsets[v as usize] as usize + i;
        (self.targets[j], self.masks[j])
    }

    /// The mask of kinds from `u` to `v` (0 when there is no edge).
    pub(crate) fn mask(&self, u: u32, v: u32) -> u8 {
        let (a, b) = (self.offsets[u as usize] as usize, self.offsets[u as usize + 1] as usize);
        match self.targets[a..b].binary_search(&v) {
            Ok(i) => self.masks[a + i],
            Err(_) => 0,
        }
    }

    /// The key of an edge of `kind` from `u` to `v`, if it has one.
    pub(crate) fn key(&self, u: u32, v: u32, kind: u8) -> Option<u32> {
        let probe = Edge { from: u, to: v, kind, key: 0 };
        let i = self.edges.partition_point(|e| (e.from, e.to, e.kind) < (probe.from, probe.to, probe.kind));
        self.edges
            .get(i)
            .filter(|e| e.from == u && e.to == v && e.kind == kind && e.key != u32::MAX)
            .map(|e| e.key)
    }
}

/// A successor relation Tarjan can walk: node `s` has up to `slots(s)` successors, slot
/// `i` giving one or none.
pub(crate) trait Successors {
    /// Number of nodes.
    fn nodes(&self) -> usize;
    /// Number of successor slots of `s`.
    fn slots(&self, s: u32) -> usize;
    /// The successor in slot `i` of `s`, if that slot holds one.
    fn successor(&self, s: u32, i: usize) -> Option<u32>;
}

/// The graph restricted to edges whose mask meets `allowed`.
pub(crate) struct Restricted<'a> {
    /// The graph.
    pub graph: &'a Graph,
    /// Kinds that may be followed.
    pub allowed: u8,
}

impl Successors for Restricted<'_> {
    fn nodes(&self) -> usize {
        self.graph.len()
    }
    fn slots(&self, s: u32) -> usize {
        (self.graph.offsets[s as usize + 1] - self.graph.offsets[s as usize]) as usize
    }
    fn successor(&self, s: u32, i: usize) -> Option<u32> {
        let j = self.graph.offsets[s as usize] as usize + i;
        (self.graph.masks[j] & self.allowed != 0).then(|| self.graph.targets[j])
    }
}

/// Strongly connected components: `comp[v]` for every node, and each component's size.
#[derive(Debug)]
pub(crate) struct Components {
    /// Component of each node.
    pub comp: Vec<u32>,
    /// Size of each component.
    pub sizes: Vec<u32>,
}

impl Components {
    /// Components with more than one node (the only ones that hold cycles here, as the
    /// graph has no self-loops), as lists of members.
    pub(crate) fn nontrivial(&self) -> Vec<Vec<u32>> {
        let mut index = vec![u32::MAX; self.sizes.len()];
        let mut out: Vec<Vec<u32>> = vec![];
        for (v, &c) in self.comp.iter().enumerate() {
            if self.sizes[c as usize] < 2 {
                continue;
            }
            if index[c as usize] == u32::MAX {
                index[c as usize] = out.len() as u32;
                out.push(Vec::with_capacity(self.sizes[c as usize] as usize));
            }
            out[index[c as usize] as usize].push(v as u32);
        }
        out
    }

    /// Size of the largest component.
    pub(crate) fn largest(&self) -> u32 {
        self.sizes.iter().copied().max().unwrap_or(0)
    }
}

/// Tarjan's algorithm without recursion, so a component of a million nodes cannot overflow
/// the stack. Linear in nodes plus successor slots.
pub(crate) fn tarjan<S: Successors>(g: &S) -> Components {
    const UNSEEN: u32 = u32::MAX;
    let n = g.nodes();
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut comp = vec![UNSEEN; n];
    let mut sizes: Vec<u32> = vec![];
    let mut stack: Vec<u32> = vec![];
    let mut frames: Vec<(u32, usize)> = vec![];
    let mut next = 0u32;
    for root in 0..n as u32 {
        if index[root as usize] != UNSEEN {
            continue;
        }
        frames.push((root, 0));
        index[root as usize] = next;
        low[root as usize] = next;
        next += 1;
        stack.push(root);
        on_stack[root as usize] = true;
        while let Some(&mut (v, ref mut slot)) = frames.last_mut() {
            let slots = g.slots(v);
            let mut descended = false;
            while *slot < slots {
                let i = *slot;
                *slot += 1;
                let Some(w) = g.successor(v, i) else { continue };
                if index[w as usize] == UNSEEN {
                    index[w as usize] = next;
                    low[w as usize] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w as usize] = true;
                    frames.push((w, 0));
                    descended = true;
                    break;
                } else if on_stack[w as usize] {
                    low[v as usize] = low[v as usize].min(index[w as usize]);
                }
            }
            if descended {
                continue;
            }
            frames.pop();
            if let Some(&(parent, _)) = frames.last() {
                low[parent as usize] = low[parent as usize].min(low[v as usize]);
            }
            if low[v as usize] == index[v as usize] {
                let c = sizes.len() as u32;
                let mut size = 0;
                loop {
                    let w = stack.pop().expect("v is on the stack");
                    on_stack[w as usize] = false;
                    comp[w as usize] = c;
                    size += 1;
                    if w == v {
                        break;
                    }
                }
                sizes.push(size);
            }
        }
    }
    Components { comp, sizes }
}

/// Reusable breadth-first search state (stamped visits, so no clearing between searches).
pub(crate) struct Bfs {
    stamp: Vec<u32>,
    generation: u32,
    parent: Vec<u32>,
    queue: Vec<u32>,
    /// Nodes visited over all searches, for the work budget.
    pub visited: u64,
}

impl Bfs {
    /// State for graphs of `n` nodes.
    pub(crate) fn new(n: usize) -> Bfs {
        Bfs { stamp: vec![0; n], generation: 0, parent: vec![0; n], queue: vec![], visited: 0 }
    }

    /// The shortest path from `from` to `to` following `g`, visiting only nodes for which
    /// `inside` holds; the nodes of the path, `from` first and `to` last.
    pub(crate) fn path<S: Successors>(
        &mut self,
        g: &S,
        from: u32,
        to: u32,
        inside: impl Fn(u32) -> bool,
    ) -> Option<Vec<u32>> {
        self.generation += 1;
        let generation = self.generation;
        self.queue.clear();
        self.queue.push(from);
        self.stamp[from as usize] = generation;
        let mut head = 0;
        while head < self.queue.len() {
            let v = self.queue[head];
            head += 1;
            self.visited += 1;
            for i in 0..g.slots(v) {
                let Some(w) = g.successor(v, i) else { continue };
                if self.stamp[w as usize] == generation || !inside(w) {
                    continue;
                }
                self.stamp[w as usize] = generation;
                self.parent[w as usize] = v;
                if w == to {
                    let mut path = vec![to];
                    let mut x = to;
                    while x != from {
                        x = self.parent[x as usize];
                        path.push(x);
                    }
                    path.reverse();
                    return Some(path);
                }
                self.queue.push(w);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(from: u32, to: u32, kind: u8) -> Edge {
        Edge { from, to, kind, key: 0 }
    }

    #[test]
    fn merges_kinds_between_one_pair_into_a_mask() {
        let g = Graph::build(3, vec![e(0, 1, WW), e(0, 1, RW), e(1, 2, WR), e(0, 2, WR)]);
        assert_eq!(g.mask(0, 1), WW | RW);
        assert_eq!(g.mask(1, 2), WR);
        assert_eq!(g.mask(2, 0), 0);
        assert_eq!(g.pair_count(), 3);
    }

    #[test]
    fn finds_components_of_a_cycle_and_a_tail() {
        let g = Graph::build(4, vec![e(0, 1, WW), e(1, 2, WW), e(2, 0, WR), e(2, 3, WW)]);
        let c = tarjan(&Restricted { graph: &g, allowed: DATA });
        assert_eq!(c.nontrivial(), vec![vec![0, 1, 2]]);
        let only_ww = tarjan(&Restricted { graph: &g, allowed: WW });
        assert!(only_ww.nontrivial().is_empty());
    }

    #[test]
    fn shortest_path_follows_allowed_kinds_only() {
        let g = Graph::build(4, vec![e(0, 1, WW), e(1, 3, RW), e(0, 2, WW), e(2, 3, WR)]);
        let mut bfs = Bfs::new(4);
        let r = Restricted { graph: &g, allowed: WW | WR };
        assert_eq!(bfs.path(&r, 0, 3, |_| true), Some(vec![0, 2, 3]));
    }

    #[test]
    fn tarjan_survives_a_very_long_chain() {
        let n = 200_000u32;
        let mut edges: Vec<Edge> = (0..n - 1).map(|i| e(i, i + 1, WW)).collect();
        edges.push(e(n - 1, 0, WW));
        let g = Graph::build(n as usize, edges);
        assert_eq!(tarjan(&Restricted { graph: &g, allowed: WW }).largest(), n);
    }
}
