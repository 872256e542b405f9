//! The transactional workloads, list-append and rw-register (Elle's): seeded transactions
//! of a few micro-ops over a rotating set of keys, judged by the transactional checker for
//! every isolation model from read-uncommitted to strict-serializable. Each worker draws keys
//! from `active-keys` slots; a slot's key is retired for a fresh one after about
//! `max-writes-per-key` writes, so every key's version order stays short enough to infer, and
//! appended or written values are unique across the run, so every read names the writes it
//! saw.

use crate::invocation::{Invocation, Object};
use crate::workload::{Generator, OptionSpec, Workload, WorkloadSpec, unique_value, worker_rng};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use sunder_check::plan::{Check, Plan};
use sunder_check::txn::{TxnModel, TxnOptions};

const OPTIONS: &[OptionSpec] = &[
    OptionSpec { key: "active-keys", default: "8", doc: "keys in use at any moment" },
    OptionSpec {
        key: "max-writes-per-key",
        default: "32",
        doc: "writes a key takes before a fresh one replaces it",
    },
    OptionSpec { key: "max-ops", default: "4", doc: "most micro-ops in one transaction" },
];

/// The list-append catalog entry.
pub const LIST_APPEND: WorkloadSpec = WorkloadSpec {
    name: "list-append",
    doc: "transactions appending to and reading lists; isolation levels from dependency cycles (Elle)",
    options: OPTIONS,
    build: |o| Ok(Box::new(Transactions::from_options(o, TxnModel::ListAppend)?)),
};

/// The rw-register catalog entry.
pub const RW_REGISTER: WorkloadSpec = WorkloadSpec {
    name: "rw-register",
    doc: "transactions writing and reading registers; isolation levels from dependency cycles (Elle)",
    options: OPTIONS,
    build: |o| Ok(Box::new(Transactions::from_options(o, TxnModel::RwRegister)?)),
};

/// A transactional workload, built.
#[derive(Debug, Clone, Copy)]
pub struct Transactions {
    /// Appends to lists, or writes to registers.
    pub model: TxnModel,
    /// Key slots in use at once.
    pub active_keys: usize,
    /// Writes a key takes before it is retired.
    pub max_writes_per_key: usize,
    /// Most micro-ops a transaction has.
    pub max_ops: usize,
}

impl Transactions {
    fn from_options(
        o: &crate::workload::WorkloadOptions,
        model: TxnModel,
    ) -> Result<Transactions, crate::workload::WorkloadError> {
        Ok(Transactions {
            model,
            active_keys: o.count("active-keys", 1)?,
            max_writes_per_key: o.count("max-writes-per-key", 1)?,
            max_ops: o.count("max-ops", 1)?,
        })
    }
}

impl Workload for Transactions {
    fn generator(&self, seed: u64, worker: u64, workers: u64) -> Box<dyn Generator> {
        // Workers progress at about the same pace, so counting epochs by each worker's own
        // transactions retires a slot's key at about the same time everywhere.
        let writes_per_txn = (self.max_ops as u64).div_ceil(2).max(1);
        let epoch_len = (self.max_writes_per_key as u64 / (workers * writes_per_txn).max(1)).max(1);
        Box::new(TxnGenerator {
            rng: worker_rng(seed, worker),
            workload: *self,
            worker,
            workers,
            written: 0,
            transactions: 0,
            epoch_len,
        })
    }

    fn final_ops(&self) -> Vec<Invocation> {
        vec![]
    }

    fn plan(&self) -> Plan {
        Plan::one(Check::Transactions(TxnOptions { model: self.model, ..TxnOptions::default() }))
    }
}

/// Seeded generator of transactions for one worker.
#[derive(Debug, Clone)]
pub struct TxnGenerator {
    rng: ChaCha8Rng,
    workload: Transactions,
    worker: u64,
    workers: u64,
    written: u64,
    transactions: u64,
    epoch_len: u64,
}

impl Generator for TxnGenerator {
    fn next_op(&mut self) -> Invocation {
        let epoch = self.transactions / self.epoch_len;
        self.transactions += 1;
        let n = self.rng.random_range(1..=self.workload.max_ops);
        let write = match self.workload.model {
            TxnModel::ListAppend => "append",
            TxnModel::RwRegister => "w",
        };
        let ops: Vec<Value> = (0..n)
            .map(|_| {
                let slot = self.rng.random_range(0..self.workload.active_keys) as u64;
                let key = slot + epoch * self.workload.active_keys as u64;
                if self.rng.random_range(0..2) == 0 {
                    json!(["r", key, null])
                } else {
                    self.written += 1;
                    json!([write, key, unique_value(self.written - 1, self.worker, self.workers)])
                }
            })
            .collect();
        Invocation { object: Object::Txn, f: "txn", key: None, value: Value::Array(ops) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_rotate_and_written_values_never_repeat() {
        let w =
            Transactions { model: TxnModel::ListAppend, active_keys: 4, max_writes_per_key: 8, max_ops: 4 };
        let mut values = std::collections::HashSet::new();
        let mut keys = std::collections::BTreeSet::new();
        for worker in 0..2 {
            let mut g = w.generator(1, worker, 2);
            for _ in 0..200 {
                for m in g.next_op().value.as_array().unwrap() {
                    keys.insert(m[1].as_u64().unwrap());
                    if m[0] == "append" {
                        assert!(values.insert(m[2].as_u64().unwrap()), "value {} twice", m[2]);
                    }
                }
            }
        }
        assert!(keys.len() > 20, "keys should rotate, saw {}", keys.len());
    }
}
