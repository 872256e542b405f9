//! The search's memo: every configuration (set of linearized ops, model state) already
//! explored, so none is explored twice. Bitsets live in one flat array of words and states
//! in another; an open-addressing table, probed by the 64-bit hash the search maintains
//! incrementally, finds them. Each slot packs the entry number with the upper half of its
//! hash, so a probe reads entry data (a likely cache miss) only for a configuration that is
//! almost surely the same.
//!
//! A bitset is stored as its window only: the words from the first one that is not all
//! ones (every op before it is linearized) to the last one that is not zero, with the index
//! of the first. The window determines the whole set, so comparisons stay exact, and an
//! entry costs the ops still in flight rather than the whole partition: a long history of
//! one key no longer makes the memo quadratic in its length.

/// Explored configurations of one partition's search.
pub struct Memo<S> {
    /// Window words of every entry, back to back; entry `i` owns `starts[i]..starts[i + 1]`.
    bits: Vec<u64>,
    starts: Vec<usize>,
    /// Index of each entry's first window word.
    lows: Vec<u32>,
    states: Vec<S>,
    hashes: Vec<u64>,
    /// Upper 32 bits of the hash, then entry number + 1 (0: empty slot); the length is a
    /// power of two, at least twice the number of entries.
    slots: Vec<u64>,
}

impl<S: Eq + Clone> Memo<S> {
    /// An empty memo.
    pub fn new() -> Memo<S> {
        Memo {
            bits: Vec::new(),
            starts: vec![0],
            lows: Vec::new(),
            states: Vec::new(),
            hashes: Vec::new(),
            slots: vec![0; 1024],
        }
    }

    /// Records the set whose window is `window`, starting at word `low` (every word before
    /// it all ones, every word after it zero), with `state`, under `hash`. The search keeps
    /// the window as it goes, so an insert costs the window, not the whole bitset. Returns
    /// the inline bytes the new entry costs (window, state, hash, bookkeeping and two table
    /// slots), or `None` when it was there.
    pub fn insert(&mut self, hash: u64, low: usize, window: &[u64], state: &S) -> Option<usize> {
        let mask = self.slots.len() - 1;
        // The low bits are the probe start; hashes are well mixed by construction.
        let mut at = (hash as usize) & mask;
        loop {
            let slot = self.slots[at];
            if slot == 0 {
                break;
            }
            let i = (slot as u32) as usize - 1;
            if slot >> 32 == hash >> 32
                && self.states[i] == *state
                && self.lows[i] as usize == low
                && same_words(&self.bits[self.starts[i]..self.starts[i + 1]], window)
            {
                return None;
            }
            at = (at + 1) & mask;
        }
        self.hashes.push(hash);
        self.bits.extend_from_slice(window);
        self.starts.push(self.bits.len());
        self.lows.push(low as u32);
        self.states.push(state.clone());
        self.slots[at] = slot_of(hash, self.states.len());
        if self.states.len() * 2 > self.slots.len() {
            self.grow();
        }
        Some(window.len() * 8 + std::mem::size_of::<S>() + 8 + 8 + 4 + 16)
    }

    fn grow(&mut self) {
        let mut slots = vec![0u64; self.slots.len() * 2];
        let mask = slots.len() - 1;
        for (i, &hash) in self.hashes.iter().enumerate() {
            let mut at = (hash as usize) & mask;
            while slots[at] != 0 {
                at = (at + 1) & mask;
            }
            slots[at] = slot_of(hash, i + 1);
        }
        self.slots = slots;
    }

    /// Number of configurations recorded.
    pub fn len(&self) -> usize {
        self.states.len()
    }
}

fn slot_of(hash: u64, number: usize) -> u64 {
    (hash & !0xFFFF_FFFF) | number as u64
}

/// Word-by-word equality; bitsets are short, and a call to memcmp costs more than the loop.
fn same_words(a: &[u64], b: &[u64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// The set of linearized entries of a search, with its window kept up to date as entries
/// come and go: the first word not all ones only moves forward past words that just
/// filled, and the last nonzero word only back past words that just emptied, so keeping it
/// costs about one word per change instead of a scan of the whole set per insert.
#[derive(Debug, Clone)]
pub struct LinearizedSet {
    words: Vec<u64>,
    /// First word that is not all ones (`words.len()` when every entry is in).
    low: usize,
    /// One past the last nonzero word, never below `low`.
    high: usize,
}

impl LinearizedSet {
    /// An empty set of `n` entries.
    pub fn new(n: usize) -> LinearizedSet {
        LinearizedSet { words: vec![0; n.div_ceil(64).max(1)], low: 0, high: 0 }
    }

    /// Adds entry `e` (not in the set).
    pub fn insert(&mut self, e: usize) {
        let w = e / 64;
        self.words[w] |= 1 << (e % 64);
        self.high = self.high.max(w + 1);
        while self.low < self.words.len() && self.words[self.low] == !0 {
            self.low += 1;
        }
        self.high = self.high.max(self.low);
    }

    /// Removes entry `e` (in the set).
    /// Whether entry `e` is in the set.
    pub fn contains(&self, e: usize) -> bool {
        self.words[e / 64] & (1 << (e % 64)) != 0
    }

    /// Takes entry `e` out of the set.
    pub fn remove(&mut self, e: usize) {
        let w = e / 64;
        self.words[w] &= !(1 << (e % 64));
        self.low = self.low.min(w);
        while self.high > self.low && self.words[self.high - 1] == 0 {
            self.high -= 1;
        }
    }

    /// The index of the window's first word, and the window.
    pub fn window(&self) -> (usize, &[u64]) {
        (self.low, &self.words[self.low..self.high])
    }

    /// The whole bitset.
    #[cfg(test)]
    pub fn words(&self) -> &[u64] {
        &self.words
    }
}

#[cfg(test)]
/// The window of a whole bitset: the words from the first that is not all ones to the last
/// that is not zero, and the index of the first (what the search maintains incrementally).
pub fn window_of(bits: &[u64]) -> (usize, &[u64]) {
    let low = bits.iter().position(|w| *w != !0).unwrap_or(bits.len());
    let high = bits.iter().rposition(|w| *w != 0).map_or(0, |i| i + 1).max(low);
    (low, &bits[low..high])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert(memo: &mut Memo<u32>, hash: u64, bits: &[u64], state: u32) -> Option<usize> {
        let (low, window) = window_of(bits);
        memo.insert(hash, low, window, &state)
    }

    #[test]
    fn refuses_a_configuration_seen_before_even_on_a_hash_collision() {
        let mut memo: Memo<u32> = Memo::new();
        assert!(insert(&mut memo, 7, &[0b1], 3).is_some());
        assert!(insert(&mut memo, 7, &[0b1], 3).is_none());
        assert!(insert(&mut memo, 7, &[0b11], 3).is_some());
        assert!(insert(&mut memo, 7, &[0b1], 4).is_some());
        assert!(insert(&mut memo, 7, &[0b11], 3).is_none());
        assert_eq!(memo.len(), 3);
    }

    #[test]
    fn tells_apart_sets_whose_windows_start_at_different_words() {
        let mut memo: Memo<u32> = Memo::new();
        // Same window words, different leading full words: different sets.
        assert!(insert(&mut memo, 1, &[!0, 0b1, 0], 0).is_some());
        assert!(insert(&mut memo, 1, &[0b1, 0, 0], 0).is_some());
        assert!(insert(&mut memo, 1, &[!0, !0, 0b1], 0).is_some());
        // Empty windows: all ones up to a point, zero after it.
        assert!(insert(&mut memo, 1, &[!0, 0, 0], 0).is_some());
        assert!(insert(&mut memo, 1, &[!0, !0, 0], 0).is_some());
        assert!(insert(&mut memo, 1, &[0, 0, 0], 0).is_some());
        assert!(insert(&mut memo, 1, &[!0, !0, !0], 0).is_some());
        // Each again is a repeat.
        for bits in
            [[!0, 0b1, 0], [0b1, 0, 0], [!0, !0, 0b1], [!0, 0, 0], [!0, !0, 0], [0, 0, 0], [!0, !0, !0]]
        {
            assert!(insert(&mut memo, 1, &bits, 0).is_none(), "{bits:?}");
        }
        assert_eq!(memo.len(), 7);
    }

    #[test]
    fn an_entry_costs_its_window_not_the_whole_bitset() {
        let mut memo: Memo<u32> = Memo::new();
        let mut bits = vec![!0u64; 1000];
        bits[500] = 0b101;
        bits[501..].fill(0);
        let cost = insert(&mut memo, 9, &bits, 0).unwrap();
        assert!(cost < 100, "a one-word window costs {cost} bytes");
    }

    #[test]
    fn the_kept_window_equals_the_window_of_the_whole_set_after_every_change() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let n = 700;
        let mut set = LinearizedSet::new(n);
        let mut inside = vec![false; n];
        for step in 0..200_000 {
            // Mostly grow from the front, as a search does, with random removals.
            let e = if rng.random_bool(0.7) {
                inside.iter().position(|x| !x).unwrap_or(0).saturating_add(rng.random_range(0..80)).min(n - 1)
            } else {
                rng.random_range(0..n)
            };
            if inside[e] {
                set.remove(e);
            } else {
                set.insert(e);
            }
            inside[e] = !inside[e];
            assert_eq!(set.window(), window_of(set.words()), "after step {step}");
        }
    }
}
