//! The search's memo: every configuration (set of linearized ops, model state) already
//! explored, so none is explored twice. Bitsets live in one flat array of words and states
//! in another; an open-addressing table, probed by the 64-bit hash the search maintains
//! incrementally, finds them. Each slot packs the entry number with the upper half of its
//! hash, so a probe reads entry data (a likely cache miss) only for a configuration that is
//! almost surely the same. An entry costs its bitset, its state, its hash and two slots.

/// Explored configurations of one partition's search.
pub struct Memo<S> {
    words: usize,
    bits: Vec<u64>,
    states: Vec<S>,
    hashes: Vec<u64>,
    /// Upper 32 bits of the hash, then entry number + 1 (0: empty slot); the length is a
    /// power of two, at least twice the number of entries.
    slots: Vec<u64>,
}

impl<S: Eq + Clone> Memo<S> {
    /// An empty memo for bitsets of `words` 64-bit words.
    pub fn new(words: usize) -> Memo<S> {
        Memo { words, bits: Vec::new(), states: Vec::new(), hashes: Vec::new(), slots: vec![0; 1024] }
    }

    /// Records (`bits`, `state`) under `hash`; false when it was already there.
    pub fn insert(&mut self, hash: u64, bits: &[u64], state: &S) -> bool {
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
                && same_words(&self.bits[i * self.words..(i + 1) * self.words], bits)
            {
                return false;
            }
            at = (at + 1) & mask;
        }
        self.hashes.push(hash);
        self.bits.extend_from_slice(bits);
        self.states.push(state.clone());
        self.slots[at] = slot_of(hash, self.states.len());
        if self.states.len() * 2 > self.slots.len() {
            self.grow();
        }
        true
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

    /// Inline bytes one entry costs (bitset, state, hash, two 8-byte table slots).
    pub fn entry_bytes(&self) -> usize {
        self.words * 8 + std::mem::size_of::<S>() + 8 + 16
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
        let mut memo: Memo<u32> = Memo::new(1);
        assert!(memo.insert(7, &[0b1], &3));
        assert!(!memo.insert(7, &[0b1], &3));
        assert!(memo.insert(7, &[0b11], &3));
        assert!(memo.insert(7, &[0b1], &4));
        assert!(!memo.insert(7, &[0b11], &3));
        assert_eq!(memo.len(), 3);
    }
}
