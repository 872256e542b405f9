//! Generated list-append (and rw-register) histories for tests and benchmarks: a seeded
//! serial executor.
//! Concurrent client processes invoke transactions of a few micro-ops over a rotating pool
//! of keys (Elle's key-count and max-writes-per-key ideas, which keep lists short); each
//! transaction takes effect atomically at its completion, so every generated history is
//! strict serializable unless an anomaly is injected on purpose.

use crate::history::{History, Op, OpType, Strictness};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

/// An anomaly planted once in an otherwise strict-serializable history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injected {
    /// Two concurrent transactions read the same list and both append (lost update).
    LostUpdate,
    /// A transaction reads a list without an append that completed before it began.
    StaleRead,
    /// A transaction that reported `fail` had its append applied, and it is read.
    AbortedRead,
}

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct GenerateOptions {
    /// Seed of every random choice.
    pub seed: u64,
    /// Number of transactions (each an invocation and a completion).
    pub transactions: usize,
    /// Concurrent client processes.
    pub processes: u64,
    /// Keys in use at any moment.
    pub active_keys: usize,
    /// Appends a key takes before it is retired for a fresh one.
    pub max_writes_per_key: usize,
    /// Largest number of micro-ops in a transaction (at least 1).
    pub max_ops: usize,
    /// Chance a transaction ends `fail` (not applied) and `info` (applied or not).
    pub fail_rate: f64,
    /// Chance a transaction ends `info`.
    pub info_rate: f64,
    /// An anomaly to plant, at a seeded random point.
    pub inject: Option<Injected>,
}

impl Default for GenerateOptions {
    fn default() -> GenerateOptions {
        GenerateOptions {
            seed: 0,
            transactions: 1000,
            processes: 10,
            active_keys: 8,
            max_writes_per_key: 16,
            max_ops: 4,
            fail_rate: 0.02,
            info_rate: 0.01,
            inject: None,
        }
    }
}

/// A planned transaction: (is an append, key, value) per micro-op.
type Plan = Vec<(bool, usize, u64)>;

struct Executor {
    rng: ChaCha8Rng,
    ops: Vec<Op>,
    lists: Vec<Vec<u64>>,
    writes: Vec<usize>,
    active: Vec<usize>,
    next_value: u64,
    next_process: u64,
    max_writes: usize,
    /// rw-register instead of list-append: writes overwrite, reads return the last value.
    register: bool,
}

impl Executor {
    /// A write micro-op of this history's shape.
    fn write(&self, k: usize, v: u64) -> Value {
        if self.register { json!(["w", k, v]) } else { json!(["append", k, v]) }
    }

    /// A read micro-op returning `state` (a whole list, or its last element).
    fn read(&self, k: usize, state: &[u64]) -> Value {
        if self.register { json!(["r", k, state.last()]) } else { json!(["r", k, state]) }
    }

    fn emit(&mut self, process: u64, kind: OpType, value: Value) {
        let i = self.ops.len() as u64;
        self.ops.push(Op::client(i, i, process, kind, "txn", value));
    }

    fn fresh_key(&mut self) -> usize {
        self.lists.push(vec![]);
        self.writes.push(0);
        self.lists.len() - 1
    }

    /// A key of the pool, retiring it for a fresh one once it took enough appends.
    fn pick_key(&mut self) -> usize {
        let slot = self.rng.random_range(0..self.active.len());
        let k = self.active[slot];
        if self.writes[k] >= self.max_writes {
            let fresh = self.fresh_key();
            self.active[slot] = fresh;
            return fresh;
        }
        k
    }

    fn plan(&mut self, max_ops: usize) -> Plan {
        let n = self.rng.random_range(1..=max_ops.max(1));
        (0..n)
            .map(|_| {
                let k = self.pick_key();
                if self.rng.random_bool(0.5) {
                    self.writes[k] += 1;
                    self.next_value += 1;
                    (true, k, self.next_value)
                } else {
                    (false, k, 0)
                }
            })
            .collect()
    }

    /// Applies a planned transaction atomically now; returns its completed micro-ops.
    fn apply(&mut self, plan: &[(bool, usize, u64)], effective: bool) -> Value {
        let mut mops = vec![];
        for &(append, k, v) in plan {
            if append {
                if effective {
                    self.lists[k].push(v);
                }
                mops.push(self.write(k, v));
            } else {
                mops.push(self.read(k, &self.lists[k]));
            }
        }
        Value::Array(mops)
    }

    fn invocation(&self, plan: &[(bool, usize, u64)]) -> Value {
        Value::Array(
            plan.iter().map(|&(a, k, v)| if a { self.write(k, v) } else { json!(["r", k, null]) }).collect(),
        )
    }

    fn fresh_process(&mut self) -> u64 {
        self.next_process += 1;
        self.next_process - 1
    }

    fn inject(&mut self, kind: Injected) {
        let k = self.pick_key();
        let (a, b, c) = (self.fresh_process(), self.fresh_process(), self.fresh_process());
        let before = self.lists[k].clone();
        self.next_value += 2;
        let (v1, v2) = (self.next_value - 1, self.next_value);
        match kind {
            Injected::LostUpdate => {
                let (w1, w2, r) = (self.write(k, v1), self.write(k, v2), self.read(k, &before));
                self.emit(a, OpType::Invoke, json!([["r", k, null], w1]));
                self.emit(b, OpType::Invoke, json!([["r", k, null], w2]));
                self.emit(a, OpType::Ok, json!([r, w1]));
                self.emit(b, OpType::Ok, json!([r, w2]));
                self.lists[k].extend([v1, v2]);
            }
            Injected::StaleRead => {
                let (w1, r) = (self.write(k, v1), self.read(k, &before));
                self.emit(a, OpType::Invoke, json!([w1]));
                self.emit(a, OpType::Ok, json!([w1]));
                self.emit(b, OpType::Invoke, json!([["r", k, null]]));
                self.emit(b, OpType::Ok, json!([r]));
                self.lists[k].push(v1);
            }
            Injected::AbortedRead => {
                let w1 = self.write(k, v1);
                self.emit(a, OpType::Invoke, json!([w1]));
                self.emit(a, OpType::Fail, json!([w1]));
                self.lists[k].push(v1);
            }
        }
        self.writes[k] += 2;
        self.emit(c, OpType::Invoke, json!([["r", k, null]]));
        let now = self.read(k, &self.lists[k]);
        self.emit(c, OpType::Ok, json!([now]));
    }
}

/// Generates a list-append history.
pub fn list_append(opts: &GenerateOptions) -> History {
    generate(opts, false)
}

/// Generates an rw-register history: the same executor, with writes that overwrite and
/// reads that return one value (`null` before the first write). Values are unique.
pub fn rw_register(opts: &GenerateOptions) -> History {
    generate(opts, true)
}

fn generate(opts: &GenerateOptions, register: bool) -> History {
    let mut ex = Executor {
        register,
        rng: ChaCha8Rng::seed_from_u64(opts.seed),
        ops: Vec::with_capacity(opts.transactions * 2 + 8),
        lists: vec![],
        writes: vec![],
        active: vec![],
        next_value: 0,
        next_process: opts.processes,
        max_writes: opts.max_writes_per_key.max(1),
    };
    for _ in 0..opts.active_keys.max(1) {
        let k = ex.fresh_key();
        ex.active.push(k);
    }
    let mut workers: Vec<(u64, Option<Plan>)> = (0..opts.processes.max(1)).map(|p| (p, None)).collect();
    let inject_at = opts.inject.map(|_| ex.rng.random_range(0..opts.transactions.max(1)));
    let mut invoked = 0;
    let mut completed = 0;
    while completed < opts.transactions {
        if inject_at == Some(completed)
            && let Some(kind) = opts.inject
        {
            ex.inject(kind);
        }
        let w = ex.rng.random_range(0..workers.len());
        match workers[w].1.take() {
            None if invoked < opts.transactions => {
                let plan = ex.plan(opts.max_ops);
                ex.emit(workers[w].0, OpType::Invoke, ex.invocation(&plan));
                workers[w].1 = Some(plan);
                invoked += 1;
            }
            None => {}
            Some(plan) => {
                let p = workers[w].0;
                let roll: f64 = ex.rng.random();
                if roll < opts.fail_rate {
                    ex.emit(p, OpType::Fail, ex.invocation(&plan));
                } else if roll < opts.fail_rate + opts.info_rate {
                    let effective = ex.rng.random_bool(0.5);
                    ex.apply(&plan, effective);
                    ex.emit(p, OpType::Info, ex.invocation(&plan));
                    workers[w].0 = ex.fresh_process();
                } else {
                    let done = ex.apply(&plan, true);
                    ex.emit(p, OpType::Ok, done);
                }
                completed += 1;
            }
        }
    }
    History::new(ex.ops, Strictness::Strict).expect("the executor pairs every completion with its invocation")
}
