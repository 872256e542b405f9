//! The search's memo: every configuration (set of linearized ops, model state) already
//! explored, so none is explored twice. Bitsets live in one flat array of words and states
//! in another, chained by a table keyed by a hash the search maintains incrementally, which
//! keeps an entry at its bitset plus a state plus about 16 bytes.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A hasher for keys that are already well-mixed hashes.
#[derive(Default)]
pub struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

const NONE: u32 = u32::MAX;

/// Explored configurations of one partition's search.
pub struct Memo<S> {
    words: usize,
    bits: Vec<u64>,
    states: Vec<S>,
    chain: Vec<u32>,
    heads: HashMap<u64, u32, BuildHasherDefault<PassThrough>>,
}

impl<S: Eq + Clone> Memo<S> {
    /// An empty memo for bitsets of `words` 64-bit words.
    pub fn new(words: usize) -> Memo<S> {
        Memo { words, bits: Vec::new(), states: Vec::new(), chain: Vec::new(), heads: HashMap::default() }
    }

    /// Records (`bits`, `state`) under `hash`; false when it was already there.
    pub fn insert(&mut self, hash: u64, bits: &[u64], state: &S) -> bool {
        let fresh = self.states.len() as u32;
        let head = *self.heads.entry(hash).or_insert(fresh);
        if head != fresh {
            let mut at = head;
            while at != NONE {
                let i = at as usize;
                if self.states[i] == *state && self.bits[i * self.words..(i + 1) * self.words] == *bits {
                    return false;
                }
                at = self.chain[i];
            }
            self.heads.insert(hash, fresh);
        }
        self.chain.push(if head == fresh { NONE } else { head });
        self.bits.extend_from_slice(bits);
        self.states.push(state.clone());
        true
    }

    /// Number of configurations recorded.
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// Inline bytes one entry costs (bitset, state, chain link, table slot).
    pub fn entry_bytes(&self) -> usize {
        self.words * 8 + std::mem::size_of::<S>() + 4 + 16
    }
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
