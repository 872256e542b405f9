//! Seeded generated histories for property tests and benchmarks: clients run reads, writes
//! and compare-and-sets against a real in-memory register per key under a random
//! interleaving, so every generated history is linearizable by construction (each op takes
//! effect at one point between its invoke and completion). Some ops end `info`, taking
//! effect or not. Two mutations break a history in ways that must be caught: a read made
//! stale, and a read that misses an acknowledged write.

use crate::history::{History, Op, OpType, Strictness};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    /// Seed of every random choice.
    pub seed: u64,
    /// History length to reach (ops, invocations and completions together).
    pub ops: usize,
    /// Number of keys (`k0`, `k1`, ...).
    pub keys: usize,
    /// Concurrent client workers.
    pub clients: usize,
    /// Share of calls that end `info` (half of those never take effect).
    pub info_rate: f64,
    /// Whether clients issue `cas` as well as reads and writes.
    pub cas: bool,
}

impl Default for Generation {
    fn default() -> Generation {
        Generation { seed: 1, ops: 1_000, keys: 4, clients: 8, info_rate: 0.01, cas: true }
    }
}

#[derive(Debug, Clone)]
enum Phase {
    Idle,
    /// Invoked, not yet in effect: key, function and argument.
    Pending {
        key: usize,
        f: &'static str,
        arg: Value,
    },
    /// Took effect; what to answer.
    Applied {
        key: usize,
        f: &'static str,
        result: Value,
        ok: bool,
    },
}

/// Generates a linearizable register history (Sunder's `read`/`write`/`cas` with keys).
pub fn register_history(g: &Generation) -> History {
    let mut rng = ChaCha8Rng::seed_from_u64(g.seed);
    let mut store: Vec<Value> = vec![Value::Null; g.keys.max(1)];
    let mut next_value: u64 = 1;
    let mut process: Vec<u64> = (0..g.clients.max(1) as u64).collect();
    let mut next_process = process.len() as u64;
    let mut phase: Vec<Phase> = vec![Phase::Idle; process.len()];
    let mut ops: Vec<Op> = Vec::with_capacity(g.ops + 2 * process.len());
    let push = |ops: &mut Vec<Op>, p: u64, kind: OpType, f: &str, key: usize, value: Value| {
        let at = ops.len() as u64;
        ops.push(Op::client(at, at * 1_000, p, kind, f, value).with_key(format!("k{key}")));
    };
    while ops.len() < g.ops {
        let c = rng.random_range(0..process.len());
        let p = process[c];
        phase[c] = match std::mem::replace(&mut phase[c], Phase::Idle) {
            Phase::Idle => {
                let key = rng.random_range(0..store.len());
                let roll = rng.random_range(0..10u32);
                let (f, arg) = if roll < 5 {
                    ("read", Value::Null)
                } else if roll < 8 || !g.cas {
                    next_value += 1;
                    ("write", json!(next_value))
                } else {
                    next_value += 1;
                    // Expect the current value half of the time, so about half the cas succeed.
                    let from = if rng.random_bool(0.5) {
                        store[key].clone()
                    } else {
                        json!(rng.random_range(1..next_value))
                    };
                    ("cas", json!([from, next_value]))
                };
                push(&mut ops, p, OpType::Invoke, f, key, arg.clone());
                Phase::Pending { key, f, arg }
            }
            Phase::Pending { key, f, .. } if rng.random_bool(g.info_rate / 2.0) => {
                // Times out before taking effect, and never does.
                push(&mut ops, p, OpType::Info, f, key, Value::Null);
                retire(&mut process, &mut next_process, c);
                Phase::Idle
            }
            Phase::Pending { key, f, arg } => {
                let (result, ok) = match f {
                    "read" => (store[key].clone(), true),
                    "write" => {
                        store[key] = arg.clone();
                        (arg, true)
                    }
                    _ => {
                        let swapped = store[key] == arg[0];
                        if swapped {
                            store[key] = arg[1].clone();
                        }
                        (arg, swapped)
                    }
                };
                Phase::Applied { key, f, result, ok }
            }
            Phase::Applied { key, f, .. } if rng.random_bool(g.info_rate / 2.0) => {
                push(&mut ops, p, OpType::Info, f, key, Value::Null);
                retire(&mut process, &mut next_process, c);
                Phase::Idle
            }
            Phase::Applied { key, f, result, ok } => {
                push(&mut ops, p, if ok { OpType::Ok } else { OpType::Fail }, f, key, result);
                Phase::Idle
            }
        };
    }
    History::new(ops, Strictness::Strict).expect("the generator pairs every completion with its invocation")
}

/// After an `info`, a worker continues under a fresh process number, as Sunder's runner does.
fn retire(process: &mut [u64], next: &mut u64, c: usize) {
    process[c] = *next;
    *next += 1;
}

/// Ok reads and writes of one key with their history positions.
struct Calls {
    /// (invoke position, completion position, value)
    writes: Vec<(usize, usize, Value)>,
    reads: Vec<(usize, usize)>,
}

fn calls_by_key(history: &History) -> std::collections::BTreeMap<String, Calls> {
    let ops = history.ops();
    let mut by_key = std::collections::BTreeMap::new();
    for (inv, comp) in history.client_calls() {
        let Some(comp) = comp.filter(|&c| ops[c].kind == OpType::Ok) else { continue };
        let Some(key) = ops[inv].key.as_deref().map(str::to_string) else { continue };
        let calls = by_key.entry(key).or_insert_with(|| Calls { writes: vec![], reads: vec![] });
        match ops[inv].f.as_str() {
            "write" => calls.writes.push((inv, comp, ops[inv].value.clone())),
            "read" => calls.reads.push((inv, comp)),
            _ => {}
        }
    }
    by_key
}

/// The history with one read made stale: it returns the value of a write `w0` although a
/// later write `w1` (invoked after `w0` completed) had completed before the read began.
/// Since write values are unique, no linearization explains it. `None` when the history
/// holds no such triple.
pub fn with_stale_read(history: &History, seed: u64) -> Option<History> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut candidates = Vec::new();
    for calls in calls_by_key(history).values() {
        for &(r_inv, r_comp) in &calls.reads {
            let w1 = calls.writes.iter().filter(|w| w.1 < r_inv).map(|w| w.0).max();
            let Some(w1_inv) = w1 else { continue };
            if let Some(w0) = calls.writes.iter().find(|w| w.1 < w1_inv && history.ops()[r_comp].value != w.2)
            {
                candidates.push((r_comp, w0.2.clone()));
            }
        }
    }
    if candidates.is_empty() {
        return None;
    }
    let (at, value) = candidates.swap_remove(rng.random_range(0..candidates.len()));
    let mut ops = history.ops().to_vec();
    ops[at].value = value;
    History::new(ops, Strictness::Strict).ok()
}

/// The history with one lagging reader: the first call of some process, a read, returns
/// the value of a write `w0` although a later write `w1` (invoked after `w0` completed) had
/// completed before the read began. No linearization explains it, but the read has nothing
/// in its causal past, so the causal models hold, and a sequential order can place it
/// right after `w0`, before the rest of its process: a replica that lags, as sequential
/// consistency allows. `None` when no process begins with such a read.
pub fn with_lagging_reader(history: &History, seed: u64) -> Option<History> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let ops = history.ops();
    let mut first_call = std::collections::BTreeMap::new();
    for (pos, op) in ops.iter().enumerate().filter(|(_, op)| op.kind == OpType::Invoke) {
        first_call.entry(op.process).or_insert(pos);
    }
    let firsts: std::collections::BTreeSet<usize> = first_call.into_values().collect();
    let mut candidates = Vec::new();
    for calls in calls_by_key(history).values() {
        for &(r_inv, r_comp) in calls.reads.iter().filter(|r| firsts.contains(&r.0)) {
            let w1 = calls.writes.iter().filter(|w| w.1 < r_inv).map(|w| w.0).max();
            let Some(w1_inv) = w1 else { continue };
            if let Some(w0) = calls.writes.iter().find(|w| w.1 < w1_inv && ops[r_comp].value != w.2) {
                candidates.push((r_comp, w0.2.clone()));
            }
        }
    }
    if candidates.is_empty() {
        return None;
    }
    let (at, value) = candidates.swap_remove(rng.random_range(0..candidates.len()));
    let mut ops = ops.to_vec();
    ops[at].value = value;
    History::new(ops, Strictness::Strict).ok()
}

/// The history with one acknowledged write lost: a read invoked after the first write of
/// its key completed returns the initial `null`, as if that write had been dropped. `None`
/// when no read follows a completed write.
pub fn with_dropped_write(history: &History, seed: u64) -> Option<History> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut candidates = Vec::new();
    for calls in calls_by_key(history).values() {
        let Some(first) = calls.writes.iter().min_by_key(|w| w.1) else { continue };
        // Prefer the reads that saw the write: dropping it is exactly what they would miss.
        let after: Vec<usize> = calls.reads.iter().filter(|r| r.0 > first.1).map(|r| r.1).collect();
        let saw: Vec<usize> = after.iter().copied().filter(|&c| history.ops()[c].value == first.2).collect();
        candidates.extend(if saw.is_empty() { after } else { saw });
    }
    if candidates.is_empty() {
        return None;
    }
    let at = candidates[rng.random_range(0..candidates.len())];
    let mut ops = history.ops().to_vec();
    ops[at].value = Value::Null;
    History::new(ops, Strictness::Strict).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_generates_the_same_history() {
        let g = Generation { ops: 500, ..Generation::default() };
        assert_eq!(register_history(&g).ops(), register_history(&g).ops());
        let other = register_history(&Generation { seed: 2, ..g });
        assert_ne!(register_history(&Generation { ops: 500, ..Generation::default() }).ops(), other.ops());
    }

    #[test]
    fn generates_info_ops_at_the_requested_rate() {
        let h = register_history(&Generation { ops: 20_000, info_rate: 0.05, ..Generation::default() });
        let infos = h.ops().iter().filter(|o| o.kind == OpType::Info).count();
        assert!((200..800).contains(&infos), "{infos} info ops");
    }
}
