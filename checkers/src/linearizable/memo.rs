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

    /// Records (`bits`, `state`) under `hash`. Returns the inline bytes the new entry costs
    /// (window, state, hash, bookkeeping and two table slots), or `None` when it was there.
    pub fn insert(&mut self, hash: u64, bits: &[u64], state: &S) -> Option<usize> {
        let low = bits.iter().position(|w| *w != !0).unwrap_or(bits.len());
        let high = bits.iter().rposition(|w| *w != 0).map_or(0, |i| i + 1).max(low);
        let window = &bits[low..high];
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_configuration_seen_before_even_on_a_hash_collision() {
        let mut memo: Memo<u32> = Memo::new();
        assert!(memo.insert(7, &[0b1], &3).is_some());
        assert!(memo.insert(7, &[0b1], &3).is_none());
        assert!(memo.insert(7, &[0b11], &3).is_some());
        assert!(memo.insert(7, &[0b1], &4).is_some());
        assert!(memo.insert(7, &[0b11], &3).is_none());
        assert_eq!(memo.len(), 3);
    }

    #[test]
    fn tells_apart_sets_whose_windows_start_at_different_words() {
        let mut memo: Memo<u32> = Memo::new();
        // Same window words, different leading full words: different sets.
        assert!(memo.insert(1, &[!0, 0b1, 0], &0).is_some());
        assert!(memo.insert(1, &[0b1, 0, 0], &0).is_some());
        assert!(memo.insert(1, &[!0, !0, 0b1], &0).is_some());
        // Empty windows: all ones up to a point, zero after it.
        assert!(memo.insert(1, &[!0, 0, 0], &0).is_some());
        assert!(memo.insert(1, &[!0, !0, 0], &0).is_some());
        assert!(memo.insert(1, &[0, 0, 0], &0).is_some());
        assert!(memo.insert(1, &[!0, !0, !0], &0).is_some());
        // Each again is a repeat.
        for bits in
            [[!0, 0b1, 0], [0b1, 0, 0], [!0, !0, 0b1], [!0, 0, 0], [!0, !0, 0], [0, 0, 0], [!0, !0, !0]]
        {
            assert!(memo.insert(1, &bits, &0).is_none(), "{bits:?}");
        }
        assert_eq!(memo.len(), 7);
    }

    #[test]
    fn an_entry_costs_its_window_not_the_whole_bitset() {
        let mut memo: Memo<u32> = Memo::new();
        let mut bits = vec![!0u64; 1000];
        bits[500] = 0b101;
        bits[501..].fill(0);
        let cost = memo.insert(9, &bits, &0).unwrap();
        assert!(cost < 100, "a one-word window costs {cost} bytes");
    }
}
