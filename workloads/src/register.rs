//! The register workload's generator. Each worker owns one generator seeded from the run's
//! seed and its worker number, so the op mix a worker issues is reproducible whatever the
//! scheduling; write values are `n * workers + worker + 1`, unique across the whole run,
//! which lets a read name the write it saw.

use crate::invocation::Invocation;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

/// Seeded generator of reads, writes and compare-and-sets.
#[derive(Debug, Clone)]
pub struct RegisterGenerator {
    rng: ChaCha8Rng,
    keys: usize,
    worker: u64,
    workers: u64,
    next: u64,
    /// The last value this worker saw or wrote, per key: a cas expects it, so that cas
    /// succeeds often enough to matter.
    last_seen: Vec<serde_json::Value>,
}

/// Name of key `i`.
pub fn key_name(i: usize) -> String {
    format!("k{i}")
}

impl RegisterGenerator {
    /// A generator for `worker` (0-based) of `workers`, over `keys` keys.
    pub fn new(seed: u64, worker: u64, workers: u64, keys: usize) -> RegisterGenerator {
        assert!(keys > 0 && workers > 0 && worker < workers);
        // Mix the worker into the stream choice so workers draw independent sequences.
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(worker + 1);
        RegisterGenerator { rng, keys, worker, workers, next: 0, last_seen: vec![Value::Null; keys] }
    }

    fn fresh_value(&mut self) -> u64 {
        let v = self.next * self.workers + self.worker + 1;
        self.next += 1;
        v
    }

    /// The next operation: 50% reads, 30% writes, 20% cas.
    pub fn next_op(&mut self) -> Invocation {
        let k = self.rng.random_range(0..self.keys);
        let key = key_name(k);
        let roll: u32 = self.rng.random_range(0..10);
        if roll < 5 {
            Invocation { f: "read", key, value: Value::Null }
        } else if roll < 8 {
            let v = self.fresh_value();
            Invocation { f: "write", key, value: json!(v) }
        } else {
            let from = self.last_seen[k].clone();
            let to = self.fresh_value();
            Invocation { f: "cas", key, value: json!([from, to]) }
        }
    }

    /// Tells the generator how an op of its own ended: an ok read or write, or a
    /// successful cas, is the latest value this worker knows for that key.
    pub fn observe(&mut self, inv: &Invocation, ok: bool, value: &Value) {
        let Some(k) = inv.key.strip_prefix('k').and_then(|i| i.parse::<usize>().ok()) else { return };
        if !ok || k >= self.keys {
            return;
        }
        self.last_seen[k] = match inv.f {
            "cas" => value[1].clone(),
            _ => value.clone(),
        };
    }

    /// The final phase's reads: one of every key.
    pub fn final_reads(keys: usize) -> Vec<Invocation> {
        (0..keys).map(|k| Invocation { f: "read", key: key_name(k), value: Value::Null }).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn same_seed_gives_the_same_operations() {
        let a: Vec<_> = {
            let mut g = RegisterGenerator::new(7, 1, 4, 5);
            (0..100).map(|_| g.next_op()).collect()
        };
        let mut g = RegisterGenerator::new(7, 1, 4, 5);
        assert!(a.iter().all(|op| *op == g.next_op()));
        let mut other = RegisterGenerator::new(8, 1, 4, 5);
        assert!(a.iter().any(|op| *op != other.next_op()));
    }

    #[test]
    fn written_values_are_unique_across_workers() {
        let mut seen = HashSet::new();
        for w in 0..4 {
            let mut g = RegisterGenerator::new(1, w, 4, 3);
            for _ in 0..500 {
                let op = g.next_op();
                let written = match op.f {
                    "write" => op.value.clone(),
                    "cas" => op.value[1].clone(),
                    _ => continue,
                };
                assert!(seen.insert((op.key.clone(), written.as_u64().unwrap())), "duplicate {op:?}");
            }
        }
        assert!(seen.len() > 1000);
    }
}
