//! The set workload: adds of elements unique across the run to a few keys, with reads of the
//! whole set mixed in, and a final read of every key on every node. Judged per key by
//! Jepsen's set-full checker: an acknowledged add no later read holds is lost, one a read
//! began after and missed is stale (a violation unless `-w linearizable=false`), and an
//! element no read ever saw is reported as such.

use crate::invocation::{Invocation, Object};
use crate::workload::{Generator, OptionSpec, Workload, WorkloadSpec, key_name, unique_value, worker_rng};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use sunder_check::plan::{Check, Plan};
use sunder_check::set_full::SetFullSettings;

/// The catalog entry.
pub const SPEC: WorkloadSpec = WorkloadSpec {
    name: "set",
    doc: "adds of unique elements to a few sets, with reads; judged by set-full (lost and stale elements)",
    options: &[
        OptionSpec { key: "keys", default: "3", doc: "sets the adds spread over" },
        OptionSpec { key: "read-share", default: "25", doc: "percent of operations that read a whole set" },
        OptionSpec {
            key: "linearizable",
            default: "true",
            doc: "count stale reads (a read that missed an add acknowledged before it began) as \
                  violations; false for systems that promise only eventual consistency",
        },
    ],
    build: |o| {
        let read_share = o.count("read-share", 0)?;
        if read_share > 100 {
            return Err(crate::workload::WorkloadError::BadValue {
                key: "read-share".into(),
                value: read_share.to_string(),
                problem: "a percentage cannot exceed 100".into(),
            });
        }
        Ok(Box::new(SetWorkload {
            keys: o.count("keys", 1)?,
            read_share: read_share as u32,
            linearizable: o.flag("linearizable")?,
        }))
    },
};

/// The set workload, built.
#[derive(Debug, Clone, Copy)]
pub struct SetWorkload {
    /// Sets the adds spread over.
    pub keys: usize,
    /// Percent of operations that are reads.
    pub read_share: u32,
    /// Whether stale reads are violations.
    pub linearizable: bool,
}

impl Workload for SetWorkload {
    fn generator(&self, seed: u64, worker: u64, workers: u64) -> Box<dyn Generator> {
        Box::new(SetGenerator { rng: worker_rng(seed, worker), workload: *self, worker, workers, next: 0 })
    }

    fn final_ops(&self) -> Vec<Invocation> {
        (0..self.keys).map(|k| Invocation::keyed(Object::Set, "read", key_name(k), Value::Null)).collect()
    }

    fn plan(&self) -> Plan {
        Plan::one(Check::SetFull(SetFullSettings { linearizable: self.linearizable }))
    }
}

/// Seeded generator of adds and reads for one worker.
#[derive(Debug, Clone)]
pub struct SetGenerator {
    rng: ChaCha8Rng,
    workload: SetWorkload,
    worker: u64,
    workers: u64,
    next: u64,
}

impl Generator for SetGenerator {
    fn next_op(&mut self) -> Invocation {
        let key = key_name(self.rng.random_range(0..self.workload.keys));
        if self.rng.random_range(0..100) < self.workload.read_share {
            Invocation::keyed(Object::Set, "read", key, Value::Null)
        } else {
            self.next += 1;
            let element = unique_value(self.next - 1, self.worker, self.workers);
            Invocation::keyed(Object::Set, "add", key, json!(element))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn added_elements_are_unique_across_workers_and_keys() {
        let w = SetWorkload { keys: 3, read_share: 25, linearizable: false };
        let mut seen = HashSet::new();
        let mut reads = 0;
        for worker in 0..4 {
            let mut g = w.generator(9, worker, 4);
            for _ in 0..400 {
                let op = g.next_op();
                match op.f {
                    "add" => assert!(seen.insert(op.value.as_u64().unwrap()), "duplicate {op:?}"),
                    _ => reads += 1,
                }
            }
        }
        assert!(reads > 200 && reads < 600, "about a quarter are reads, got {reads} of 1600");
    }
}
