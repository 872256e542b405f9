//! The counter workload: increments (and, with `-w negative=true`, decrements) of a few
//! counters with reads mixed in, and a final read of every counter on every node. Judged per
//! key by the counter checker: every read must lie within the bounds that the acknowledged
//! adds, and the indeterminate ones that may have happened, allow.

use crate::invocation::{Invocation, Object};
use crate::workload::{Generator, OptionSpec, Workload, WorkloadSpec, key_name, worker_rng};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use sunder_check::counter::CounterSettings;
use sunder_check::plan::{Check, Plan};

/// The catalog entry.
pub const SPEC: WorkloadSpec = WorkloadSpec {
    name: "counter",
    doc: "adds to a few counters, with reads; every read within the bounds the adds allow",
    options: &[
        OptionSpec { key: "keys", default: "2", doc: "counters the adds spread over" },
        OptionSpec { key: "negative", default: "false", doc: "also issue decrements" },
    ],
    build: |o| Ok(Box::new(CounterWorkload { keys: o.count("keys", 1)?, negative: o.flag("negative")? })),
};

/// The counter workload, built.
#[derive(Debug, Clone, Copy)]
pub struct CounterWorkload {
    /// Counters the adds spread over.
    pub keys: usize,
    /// Whether decrements are issued.
    pub negative: bool,
}

impl Workload for CounterWorkload {
    fn generator(&self, seed: u64, worker: u64, _workers: u64) -> Box<dyn Generator> {
        Box::new(CounterGenerator { rng: worker_rng(seed, worker), workload: *self })
    }

    fn final_ops(&self) -> Vec<Invocation> {
        (0..self.keys).map(|k| Invocation::keyed(Object::Counter, "read", key_name(k), Value::Null)).collect()
    }

    fn plan(&self) -> Plan {
        Plan::one(Check::Counter(CounterSettings::default()))
    }
}

/// Seeded generator of adds and reads for one worker.
#[derive(Debug, Clone)]
pub struct CounterGenerator {
    rng: ChaCha8Rng,
    workload: CounterWorkload,
}

impl Generator for CounterGenerator {
    /// 70% adds of 1 to 5 (or -5 to 5 without 0, with decrements), 30% reads.
    fn next_op(&mut self) -> Invocation {
        let key = key_name(self.rng.random_range(0..self.workload.keys));
        if self.rng.random_range(0..10) < 3 {
            return Invocation::keyed(Object::Counter, "read", key, Value::Null);
        }
        let mut delta: i64 = self.rng.random_range(1..=5);
        if self.workload.negative && self.rng.random_range(0..2) == 0 {
            delta = -delta;
        }
        Invocation::keyed(Object::Counter, "add", key, json!(delta))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decrements_only_when_asked() {
        let deltas = |negative| {
            let mut g = CounterWorkload { keys: 2, negative }.generator(4, 0, 1);
            (0..500)
                .map(|_| g.next_op())
                .filter(|o| o.f == "add")
                .map(|o| o.value.as_i64().unwrap())
                .collect::<Vec<_>>()
        };
        assert!(deltas(false).iter().all(|&d| (1..=5).contains(&d)));
        let mixed = deltas(true);
        assert!(mixed.iter().any(|&d| d < 0) && mixed.iter().all(|&d| d != 0 && d.abs() <= 5));
    }
}
