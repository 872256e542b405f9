//! Vector clocks for the causal checks, stored so that a history with many processes does
//! not cost (operations × processes). A clock is a fixed-depth trie of 16-way nodes over
//! the process numbers, and every node below the roots is hash-consed: two clocks that
//! agree on a block of processes share that block's node. Sunder retires a process after every `info`, so a
//! long run has thousands of processes of which only a few are live at once; the entries
//! of the retired ones settle, become equal across clocks and are shared, and joining or
//! comparing two clocks walks only the blocks where they differ. Setting an entry costs
//! one node per level (log16 of the process count), and the store counts the entries it
//! holds so that the causal checks can refuse a history over their memory budget. With
//! at most [`FLAT_WIDTH`] processes, clocks are plain rows instead.

/// Children (or entries, at the leaves) per trie node.
const FAN: usize = 16;
/// Bits of a process number each level consumes.
const BITS: u32 = 4;

/// A clock: the id of a root node in a [`ClockStore`] (of a row, for plain clocks). Equal
/// ids are equal clocks, and below the root equal blocks share one node; two equal clocks
/// may still have two roots (roots are not hash-consed: see `ClockStore::intern`).
/// [`ClockStore::join`] and [`ClockStore::set`] return their first argument itself when
/// it does not change, in both forms, and [`ClockStore::ZERO`] is the clock of all zeros.
pub type Clock = u32;

/// One level of the trie: its nodes, and the index that hash-conses them.
#[derive(Default)]
struct Level {
    nodes: Vec<[u32; FAN]>,
    index: NodeIndex,
}

/// An open-addressing set of node ids, hashed by the node each names: a node is stored
/// once, in `nodes`, and the index holds only its id with 32 bits of its hash, which
/// settle most probes without reading the node. (A map keyed by the node kept a second
/// copy of every node and spent a fifth of building CO in hashing and growing.)
#[derive(Default)]
struct NodeIndex {
    /// `hash << 32 | id`, or [`NodeIndex::EMPTY`]; the length is a power of two, at most
    /// half full.
    slots: Vec<u64>,
    len: usize,
}

impl NodeIndex {
    const EMPTY: u64 = u64::MAX;

    fn hash(node: &[u32; FAN]) -> u64 {
        let mut h = 0u64;
        for pair in node.chunks_exact(2) {
            let x = (pair[0] as u64) | ((pair[1] as u64) << 32);
            h = (h.rotate_left(23) ^ x).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
        h ^ (h >> 29)
    }

    /// The id of `node` in `nodes`, or the slot where it goes, with its hash tag.
    fn find(&self, nodes: &[[u32; FAN]], node: &[u32; FAN]) -> Result<u32, (usize, u64)> {
        let h = Self::hash(node);
        let tag = h >> 32;
        let mask = self.slots.len() - 1;
        let mut i = h as usize & mask;
        loop {
            let slot = self.slots[i];
            if slot == Self::EMPTY {
                return Err((i, tag));
            }
            if slot >> 32 == tag && nodes[(slot as u32) as usize] == *node {
                return Ok(slot as u32);
            }
            i = (i + 1) & mask;
        }
    }

    /// Makes room for `more` ids beyond those held, keeping the table at most half full.
    fn reserve(&mut self, nodes: &[[u32; FAN]], more: usize) {
        let want = ((self.len + more) * 2).next_power_of_two().max(16);
        if want <= self.slots.len() {
            return;
        }
        let old = std::mem::replace(&mut self.slots, vec![Self::EMPTY; want]);
        for slot in old.into_iter().filter(|&s| s != Self::EMPTY) {
            self.place(Self::hash(&nodes[(slot as u32) as usize]), slot);
        }
    }

    /// Puts `slot` (tag and id) in the first empty place from `hash`'s; `len` is the
    /// caller's to count.
    fn place(&mut self, hash: u64, slot: u64) {
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        while self.slots[i] != Self::EMPTY {
            i = (i + 1) & mask;
        }
        self.slots[i] = slot;
    }
}

/// Every clock of one causal check: interned trie nodes, level 0 the leaves (entries)
/// and the last level the roots.
pub struct ClockStore {
    levels: Vec<Level>,
    entries: u64,
    /// Set for a few processes: plain rows instead of tries.
    flat: Option<Flat>,
}

/// Up to this many processes, clocks are plain rows: when every process is live, blocks
/// rarely repeat, and sharing them would cost more (hashing every new node) than it saves.
pub const FLAT_WIDTH: usize = 64;

/// Plain clocks: row `c` is `rows[c * width..(c + 1) * width]`; row 0 is all zeros.
struct Flat {
    width: usize,
    rows: Vec<u32>,
}

impl Flat {
    fn row(&self, c: Clock) -> &[u32] {
        &self.rows[c as usize * self.width..(c as usize + 1) * self.width]
    }

    fn push(&mut self, row: impl Iterator<Item = u32>) -> Clock {
        let c = (self.rows.len() / self.width.max(1)) as Clock;
        self.rows.extend(row);
        c
    }
}

impl ClockStore {
    /// The clock whose every entry is 0 (node 0 of every level is the all-zero node).
    pub const ZERO: Clock = 0;

    /// A store for clocks over processes `0..width`: plain rows when `width` is at most
    /// `flat_up_to` ([`FLAT_WIDTH`] is the usual choice), shared tries above.
    pub fn new(width: usize, flat_up_to: usize) -> ClockStore {
        let mut depth = 1;
        while (FAN as u64).pow(depth) < width as u64 {
            depth += 1;
        }
        let flat = (width <= flat_up_to).then(|| Flat { width, rows: vec![0; width] });
        let mut store =
            ClockStore { levels: (0..depth).map(|_| Level::default()).collect(), entries: 0, flat };
        for level in 0..depth as usize {
            store.intern(level, [0; FAN]);
        }
        store
    }

    /// How many entries (4 bytes each) the store's nodes hold together.
    pub fn entries(&self) -> u64 {
        match &self.flat {
            Some(f) => f.rows.len() as u64,
            None => self.entries,
        }
    }

    fn top(&self) -> usize {
        self.levels.len() - 1
    }

    fn digit(q: u32, level: usize) -> usize {
        ((q >> (BITS * level as u32)) as usize) & (FAN - 1)
    }

    fn intern(&mut self, level: usize, node: [u32; FAN]) -> u32 {
        let top = self.top();
        let l = &mut self.levels[level];
        if level == top && level > 0 && node != [0; FAN] {
            // Roots are not looked up: a root is a whole clock, and the clocks the causal
            // checks make are of distinct events, each with its own process's entry at its
            // own position, so a root is practically never built twice (none of 62 k on
            // the bench's crashed-op history), while the lookup was a cache miss each.
            // Equal ids still mean equal clocks; equal clocks may have two ids, which
            // only costs a join or a comparison one more node to find them equal.
            let id = l.nodes.len() as u32;
            l.nodes.push(node);
            self.entries += FAN as u64;
            return id;
        }
        if l.index.len * 2 >= l.index.slots.len() {
            l.index.reserve(&l.nodes, l.index.len.max(1));
        }
        match l.index.find(&l.nodes, &node) {
            Ok(id) => id,
            Err((slot, tag)) => {
                let id = l.nodes.len() as u32;
                l.nodes.push(node);
                l.index.slots[slot] = (tag << 32) | id as u64;
                l.index.len += 1;
                self.entries += FAN as u64;
                id
            }
        }
    }

    /// Makes room for about `clocks` more clocks built one from another (a join and a set
    /// each, as CO builds them), so that the store grows a few times instead of many.
    pub fn reserve(&mut self, clocks: usize) {
        if let Some(f) = &mut self.flat {
            f.rows.reserve(clocks * f.width);
            return;
        }
        let top = self.top();
        for (level, l) in self.levels.iter_mut().enumerate() {
            // About two new nodes a level per clock on the histories measured; roots are
            // not indexed (see `intern`).
            l.nodes.reserve(clocks * 2);
            if level < top || level == 0 {
                l.index.reserve(&l.nodes, clocks * 2);
            }
        }
    }

    /// Entry `q` of clock `c`.
    pub fn get(&self, c: Clock, q: u32) -> u32 {
        if let Some(f) = &self.flat {
            return f.row(c)[q as usize];
        }
        let mut id = c;
        for level in (0..self.levels.len()).rev() {
            id = self.levels[level].nodes[id as usize][Self::digit(q, level)];
        }
        id
    }

    /// Entry `q` of every clock in `clocks`, in place: each clock is replaced by its
    /// entry. The same as [`ClockStore::get`] on each, but the tries are walked one level
    /// at a time for all of them, so the loads of different clocks, which are independent,
    /// overlap instead of waiting one for another (each level of a trie walk is a cache
    /// miss on a large history, and one lookup after another paid them in series).
    pub fn get_each(&self, clocks: &mut [Clock], q: u32) {
        if let Some(f) = &self.flat {
            for c in clocks.iter_mut() {
                *c = f.row(*c)[q as usize];
            }
            return;
        }
        for level in (0..self.levels.len()).rev() {
            let (nodes, d) = (&self.levels[level].nodes, Self::digit(q, level));
            for c in clocks.iter_mut() {
                *c = nodes[*c as usize][d];
            }
        }
    }

    /// `c` with entry `q` set to `value`.
    pub fn set(&mut self, c: Clock, q: u32, value: u32) -> Clock {
        if let Some(f) = &mut self.flat {
            if f.row(c)[q as usize] == value {
                return c;
            }
            let start = c as usize * f.width;
            let row: Vec<u32> = f.rows[start..start + f.width].to_vec();
            return f.push(row.into_iter().enumerate().map(|(i, x)| if i == q as usize { value } else { x }));
        }
        self.set_at(self.top(), c, q, value)
    }

    /// `join(a, b)` with entry `q` then set to `value`, in one step (one new row for
    /// plain clocks).
    pub fn join_set(&mut self, a: Clock, b: Clock, q: u32, value: u32) -> Clock {
        if let Some(f) = &mut self.flat {
            let (w, rows) = (f.width, &mut f.rows);
            let c = (rows.len() / w.max(1)) as Clock;
            for i in 0..w {
                let x = if i == q as usize {
                    value
                } else {
                    rows[a as usize * w + i].max(rows[b as usize * w + i])
                };
                rows.push(x);
            }
            return c;
        }
        self.join_set_at(self.top(), a, b, q, value)
    }

    /// One walk for a join and a set: the children off `q`'s path are joined, the one on
    /// it is joined and set below, and only the nodes of the result are interned (a join
    /// then a set interned the joined path to `q` too, only to replace it).
    fn join_set_at(&mut self, level: usize, a: u32, b: u32, q: u32, value: u32) -> u32 {
        let (na, nb) = (self.levels[level].nodes[a as usize], self.levels[level].nodes[b as usize]);
        let d = Self::digit(q, level);
        let mut out = na;
        for i in (0..FAN).filter(|&i| i != d && na[i] != nb[i]) {
            out[i] = if level == 0 { na[i].max(nb[i]) } else { self.join_at(level - 1, na[i], nb[i]) };
        }
        out[d] = if level == 0 { value } else { self.join_set_at(level - 1, na[d], nb[d], q, value) };
        self.intern(level, out)
    }

    fn set_at(&mut self, level: usize, id: u32, q: u32, value: u32) -> u32 {
        let mut node = self.levels[level].nodes[id as usize];
        let d = Self::digit(q, level);
        node[d] = if level == 0 { value } else { self.set_at(level - 1, node[d], q, value) };
        self.intern(level, node)
    }

    /// The entrywise maximum of `a` and `b`.
    pub fn join(&mut self, a: Clock, b: Clock) -> Clock {
        if let Some(f) = &mut self.flat {
            if a == b {
                return a;
            }
            let (ra, rb) = (f.row(a), f.row(b));
            let above_a = ra.iter().zip(rb).any(|(x, y)| y > x);
            if !above_a {
                return a;
            }
            if !ra.iter().zip(rb).any(|(x, y)| x > y) {
                return b;
            }
            let w = f.width;
            let joined: Vec<u32> =
                (0..w).map(|i| f.rows[a as usize * w + i].max(f.rows[b as usize * w + i])).collect();
            return f.push(joined.into_iter());
        }
        self.join_at(self.top(), a, b)
    }

    fn join_at(&mut self, level: usize, a: u32, b: u32) -> u32 {
        if a == b || b == Self::ZERO {
            return a;
        }
        if a == Self::ZERO {
            return b;
        }
        let (na, nb) = (self.levels[level].nodes[a as usize], self.levels[level].nodes[b as usize]);
        let mut out = na;
        // Whether the join differs from `a`, and from `b`: an input that already covers
        // the other is returned as it is, without a hash lookup (the common case).
        let (mut above_a, mut above_b) = (false, false);
        for i in 0..FAN {
            let (x, y) = (na[i], nb[i]);
            if x == y {
                continue;
            }
            out[i] = if level == 0 {
                x.max(y)
            } else if y == Self::ZERO {
                x
            } else if x == Self::ZERO {
                y
            } else {
                self.join_at(level - 1, x, y)
            };
            above_a |= out[i] != x;
            above_b |= out[i] != y;
        }
        match (above_a, above_b) {
            (false, _) => a,
            (true, false) => b,
            (true, true) => self.intern(level, out),
        }
    }

    /// Calls `f(q, a's entry, b's entry)`, in increasing `q`, for every process whose
    /// entry in `a` exceeds its entry in `b`; blocks where the two clocks share a node are
    /// skipped whole.
    pub fn for_each_greater(&self, a: Clock, b: Clock, mut f: impl FnMut(u32, u32, u32)) {
        if let Some(flat) = &self.flat {
            if a != b {
                for (q, (&x, &y)) in flat.row(a).iter().zip(flat.row(b)).enumerate() {
                    if x > y {
                        f(q as u32, x, y);
                    }
                }
            }
            return;
        }
        self.greater_at(self.top(), a, b, 0, &mut f);
    }

    fn greater_at(&self, level: usize, a: u32, b: u32, base: u32, f: &mut impl FnMut(u32, u32, u32)) {
        if a == b || a == Self::ZERO {
            return;
        }
        let (na, nb) = (&self.levels[level].nodes[a as usize], &self.levels[level].nodes[b as usize]);
        for i in 0..FAN {
            let (x, y) = (na[i], nb[i]);
            if x == y || (level > 0 && x == Self::ZERO) {
                continue;
            }
            if level == 0 {
                if x > y {
                    f(base + i as u32, x, y);
                }
            } else {
                let child_base = base + ((i as u32) << (BITS * level as u32));
                self.greater_at(level - 1, x, y, child_base, f);
            }
        }
    }
}

/// A clock held as a stored clock and a few entries above it: how causal memory keeps a
/// process's view of an event, which exceeds CO's clock in a handful of entries (three on
/// average on a faulty run of 400 processes), so that growing it costs those entries
/// rather than a walk and a hash-consing of the trie.
#[derive(Debug, Clone, Copy)]
pub struct Grown<'a> {
    /// The stored clock below.
    pub base: Clock,
    /// `(process, entry)` in increasing process order, each entry larger than `base`'s.
    pub above: &'a [(u32, u32)],
}

impl Grown<'_> {
    /// A stored clock as it is.
    pub fn of(base: Clock) -> Grown<'static> {
        Grown { base, above: &[] }
    }

    /// Entry `q`.
    pub fn get(&self, store: &ClockStore, q: u32) -> u32 {
        match self.above.binary_search_by_key(&q, |&(p, _)| p) {
            Ok(i) => self.above[i].1,
            Err(_) => store.get(self.base, q),
        }
    }

    /// [`ClockStore::for_each_greater`] of this clock over the stored clock `b`.
    pub fn for_each_greater(&self, store: &ClockStore, b: Clock, mut f: impl FnMut(u32, u32, u32)) {
        if self.above.is_empty() {
            return store.for_each_greater(self.base, b, f);
        }
        let mut rest = self.above.iter().copied().peekable();
        // Entries above `base` come in process order too: merge the two.
        let above_only = |q: u32, x: u32, f: &mut dyn FnMut(u32, u32, u32)| {
            let y = store.get(b, q);
            if x > y {
                f(q, x, y);
            }
        };
        store.for_each_greater(self.base, b, |q, x, y| {
            while let Some((p, x)) = rest.next_if(|&(p, _)| p < q) {
                above_only(p, x, &mut f);
            }
            let x = rest.next_if(|&(p, _)| p == q).map_or(x, |(_, above)| above);
            f(q, x, y);
        });
        for (p, x) in rest {
            above_only(p, x, &mut f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Builds `n` clocks from `base` by random sets and joins; each with its plain vector.
    fn grow(
        store: &mut ClockStore,
        rng: &mut ChaCha8Rng,
        base: &[(Clock, Vec<u32>)],
        n: usize,
    ) -> Vec<(Clock, Vec<u32>)> {
        let width = base[0].1.len();
        let mut clocks = base.to_vec();
        for _ in 0..n {
            let (c, mut plain) = clocks[rng.random_range(0..clocks.len())].clone();
            let (d, other) = clocks[rng.random_range(0..clocks.len())].clone();
            let (q, v) = (rng.random_range(0..width), rng.random_range(0..50u32));
            for (x, y) in plain.iter_mut().zip(&other) {
                *x = (*x).max(*y);
            }
            plain[q] = v;
            let made = store.join_set(c, d, q as u32, v);
            clocks.push((made, plain));
        }
        clocks.split_off(base.len())
    }

    #[test]
    fn a_grown_clock_reads_and_compares_as_its_plain_vector() {
        // Plain rows and one to three trie levels; a stored clock raised in a few random
        // entries (the first and last process among them now and then).
        for (seed, width) in [(1u64, 5usize), (2, 65), (3, 300), (4, 5000)] {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut store = ClockStore::new(width, FLAT_WIDTH);
            let zero = [(ClockStore::ZERO, vec![0; width])];
            let clocks = grow(&mut store, &mut rng, &zero, 300);
            for _ in 0..500 {
                let (base, mut plain) = clocks[rng.random_range(0..clocks.len())].clone();
                let (b, other) = &clocks[rng.random_range(0..clocks.len())];
                let mut above = Vec::new();
                for _ in 0..rng.random_range(0..6) {
                    let q = match rng.random_range(0..4) {
                        0 => 0,
                        1 => width - 1,
                        _ => rng.random_range(0..width),
                    };
                    plain[q] = plain[q].max(store.get(base, q as u32)) + rng.random_range(1..30u32);
                }
                for (q, &v) in plain.iter().enumerate() {
                    if v > store.get(base, q as u32) {
                        above.push((q as u32, v));
                    }
                }
                let grown = Grown { base, above: &above };
                for (q, &v) in plain.iter().enumerate() {
                    assert_eq!(grown.get(&store, q as u32), v, "width {width}: entry {q}");
                }
                let mut got = Vec::new();
                grown.for_each_greater(&store, *b, |q, x, y| got.push((q, x, y)));
                let want: Vec<(u32, u32, u32)> = plain
                    .iter()
                    .zip(other)
                    .enumerate()
                    .filter(|(_, (x, y))| x > y)
                    .map(|(q, (&x, &y))| (q as u32, x, y))
                    .collect();
                assert_eq!(got, want, "width {width}: the entries above another clock");
            }
        }
    }

    #[test]
    fn shared_clocks_behave_as_plain_vectors() {
        // Widths of one, two and three levels; clocks built by random sets and joins must
        // read, join and compare exactly as plain vectors do.
        for (seed, width) in [(1u64, 5usize), (2, 16), (3, 17), (6, 64), (7, 65), (4, 300), (5, 5000)] {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut store = ClockStore::new(width, FLAT_WIDTH);
            let mut clocks: Vec<(Clock, Vec<u32>)> = vec![(ClockStore::ZERO, vec![0; width])];
            for _ in 0..400 {
                let i = rng.random_range(0..clocks.len());
                let (c, mut plain) = clocks[i].clone();
                let j = rng.random_range(0..clocks.len());
                let (q, v) = (rng.random_range(0..width), rng.random_range(0..6u32));
                let made = match rng.random_range(0..3) {
                    0 => {
                        plain[q] = v;
                        store.set(c, q as u32, v)
                    }
                    roll => {
                        let (d, other) = &clocks[j];
                        for (x, y) in plain.iter_mut().zip(other) {
                            *x = (*x).max(*y);
                        }
                        if roll == 1 {
                            store.join(c, *d)
                        } else {
                            plain[q] = v;
                            store.join_set(c, *d, q as u32, v)
                        }
                    }
                };
                clocks.push((made, plain));
            }
            for (c, plain) in &clocks {
                for (q, &v) in plain.iter().enumerate() {
                    assert_eq!(store.get(*c, q as u32), v);
                }
            }
            for q in (0..width as u32).step_by(width.div_ceil(40)) {
                let mut each: Vec<Clock> = clocks.iter().map(|(c, _)| *c).collect();
                store.get_each(&mut each, q);
                let want: Vec<u32> = clocks.iter().map(|(_, plain)| plain[q as usize]).collect();
                assert_eq!(each, want, "get_each must read what get reads");
            }
            for _ in 0..200 {
                let (a, pa) = &clocks[rng.random_range(0..clocks.len())];
                let (b, pb) = &clocks[rng.random_range(0..clocks.len())];
                let mut got = Vec::new();
                store.for_each_greater(*a, *b, |q, x, y| got.push((q, x, y)));
                let want: Vec<(u32, u32, u32)> = (0..width as u32)
                    .filter(|&q| pa[q as usize] > pb[q as usize])
                    .map(|q| (q, pa[q as usize], pb[q as usize]))
                    .collect();
                assert_eq!(got, want);
                if a == b {
                    assert_eq!(pa, pb, "one id must be one clock");
                }
            }
        }
    }
}
