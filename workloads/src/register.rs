//! The register workload: reads, writes and compare-and-set over K keys, judged by
//! linearizability (the kv model, per key) and every model of the consistency ladder below
//! it. Write values are unique across the run, which lets a read name the write it saw; a
//! cas expects the last value its worker saw, so that it succeeds often enough to matter.

use crate::invocation::{Completion, Invocation, Object, Outcome};
use crate::workload::{Generator, OptionSpec, Workload, WorkloadSpec, key_name, unique_value, worker_rng};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use sunder_check::linearizable::ModelKind;
use sunder_check::plan::{Check, Plan};

/// The catalog entry.
pub const SPEC: WorkloadSpec = WorkloadSpec {
    name: "register",
    doc: "reads, writes and compare-and-set over K keys; linearizability and the model ladder",
    options: &[
        OptionSpec { key: "keys", default: "5", doc: "keys the operations spread over" },
        OptionSpec {
            key: "cas",
            default: "true",
            doc: "issue compare-and-set (off for systems without an honest cas)",
        },
        OptionSpec {
            key: "bind",
            default: "leader",
            doc: "leader: workers go first to the leader a node named (where the system names one) | nodes: each worker stays on its own node",
        },
    ],
    build: |o| Ok(Box::new(Register { keys: o.count("keys", 1)?, cas: o.flag("cas")? })),
};

/// The register workload, built.
#[derive(Debug, Clone, Copy)]
pub struct Register {
    /// Keys the operations spread over.
    pub keys: usize,
    /// Whether cas is issued.
    pub cas: bool,
}

impl Workload for Register {
    fn generator(&self, seed: u64, worker: u64, workers: u64) -> Box<dyn Generator> {
        Box::new(RegisterGenerator::new(seed, worker, workers, self.keys, self.cas))
    }

    fn final_ops(&self) -> Vec<Invocation> {
        (0..self.keys)
            .map(|k| Invocation::keyed(Object::Register, "read", key_name(k), Value::Null))
            .collect()
    }

    fn plan(&self) -> Plan {
        Plan::one(Check::Linearizable(ModelKind::Kv))
    }
}

/// Seeded generator of reads, writes and compare-and-sets.
#[derive(Debug, Clone)]
pub struct RegisterGenerator {
    rng: ChaCha8Rng,
    keys: usize,
    cas: bool,
    worker: u64,
    workers: u64,
    next: u64,
    /// The last value this worker saw or wrote, per key: a cas expects it.
    last_seen: Vec<Value>,
}

impl RegisterGenerator {
    /// A generator for `worker` (0-based) of `workers`, over `keys` keys.
    pub fn new(seed: u64, worker: u64, workers: u64, keys: usize, cas: bool) -> RegisterGenerator {
        assert!(keys > 0 && workers > 0 && worker < workers);
        RegisterGenerator {
            rng: worker_rng(seed, worker),
            keys,
            cas,
            worker,
            workers,
            next: 0,
            last_seen: vec![Value::Null; keys],
        }
    }

    fn fresh_value(&mut self) -> u64 {
        self.next += 1;
        unique_value(self.next - 1, self.worker, self.workers)
    }
}

impl Generator for RegisterGenerator {
    /// 50% reads, 30% writes, 20% cas (writes instead when cas is off).
    fn next_op(&mut self) -> Invocation {
        let k = self.rng.random_range(0..self.keys);
        let key = key_name(k);
        let roll: u32 = self.rng.random_range(0..10);
        if roll < 5 {
            Invocation::keyed(Object::Register, "read", key, Value::Null)
        } else if roll < 8 || !self.cas {
            let v = self.fresh_value();
            Invocation::keyed(Object::Register, "write", key, json!(v))
        } else {
            let from = self.last_seen[k].clone();
            let to = self.fresh_value();
            Invocation::keyed(Object::Register, "cas", key, json!([from, to]))
        }
    }

    /// An ok read or write, or a successful cas, is the latest value this worker knows.
    fn observe(&mut self, inv: &Invocation, done: &Completion) {
        let Some(k) =
            inv.key.as_deref().and_then(|k| k.strip_prefix('k')).and_then(|i| i.parse::<usize>().ok())
        else {
            return;
        };
        if done.outcome != Outcome::Ok || k >= self.keys {
            return;
        }
        self.last_seen[k] = match inv.f {
            "cas" => done.value[1].clone(),
            _ => done.value.clone(),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn same_seed_gives_the_same_operations() {
        let a: Vec<_> = {
            let mut g = RegisterGenerator::new(7, 1, 4, 5, true);
            (0..100).map(|_| g.next_op()).collect()
        };
        let mut g = RegisterGenerator::new(7, 1, 4, 5, true);
        assert!(a.iter().all(|op| *op == g.next_op()));
        let mut other = RegisterGenerator::new(8, 1, 4, 5, true);
        assert!(a.iter().any(|op| *op != other.next_op()));
    }

    #[test]
    fn written_values_are_unique_across_workers() {
        let mut seen = HashSet::new();
        for w in 0..4 {
            let mut g = RegisterGenerator::new(1, w, 4, 3, true);
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

    #[test]
    fn without_cas_no_cas_is_issued() {
        let mut g = RegisterGenerator::new(3, 0, 1, 2, false);
        let fs: HashSet<&str> = (0..500).map(|_| g.next_op().f).collect();
        assert_eq!(fs, HashSet::from(["read", "write"]));
    }
}
