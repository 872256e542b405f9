//! Test support shared by the ladder and invariant tests: where the external data lives,
//! and a small builder for hand-written register histories.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::path::PathBuf;
use sunder_check::history::{History, Op, OpType, Process, Strictness};

/// `$SUNDER_DATA`, or `shared/data` two levels above this crate; panics with a clear
/// message when it is missing, so a test never skips silently.
pub fn data_dir() -> PathBuf {
    let dir = match std::env::var_os("SUNDER_DATA") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"),
    };
    assert!(
        dir.join("MANIFEST.tsv").is_file(),
        "external test data not found at {} (set SUNDER_DATA to the shared/data folder)",
        dir.display()
    );
    dir
}

/// Builds histories op by op; times advance by one per op.
#[derive(Default)]
pub struct Builder {
    ops: Vec<Op>,
}

impl Builder {
    pub fn new() -> Builder {
        Builder::default()
    }

    fn push(
        &mut self,
        process: Process,
        kind: OpType,
        f: &str,
        key: Option<&str>,
        value: Value,
    ) -> &mut Self {
        let index = self.ops.len() as u64;
        self.ops.push(Op {
            index,
            time: index * 10,
            process,
            kind,
            f: f.into(),
            key: key.map(Into::into),
            value,
            node: None,
            error: None,
            siblings: None,
        });
        self
    }

    /// An invocation by client `p`.
    pub fn invoke(&mut self, p: u64, f: &str, key: &str, value: Value) -> &mut Self {
        self.push(Process::Client(p), OpType::Invoke, f, Some(key), value)
    }

    /// A completion by client `p`.
    pub fn complete(&mut self, p: u64, kind: OpType, f: &str, key: &str, value: Value) -> &mut Self {
        self.push(Process::Client(p), kind, f, Some(key), value)
    }

    /// A completed write.
    pub fn write(&mut self, p: u64, key: &str, v: Value) -> &mut Self {
        self.invoke(p, "write", key, v.clone()).complete(p, OpType::Ok, "write", key, v)
    }

    /// A completed read returning `v`.
    pub fn read(&mut self, p: u64, key: &str, v: Value) -> &mut Self {
        self.invoke(p, "read", key, Value::Null).complete(p, OpType::Ok, "read", key, v)
    }

    /// A completed final-phase read on `node`.
    pub fn final_read(&mut self, p: u64, node: &str, key: &str, v: Value) -> &mut Self {
        self.invoke(p, "read", key, Value::Null).complete(p, OpType::Ok, "read", key, v);
        self.ops.last_mut().unwrap().node = Some(node.into());
        self
    }

    /// A nemesis op.
    pub fn nemesis(&mut self, f: &str, v: Value) -> &mut Self {
        self.push(Process::Nemesis, OpType::Info, f, None, v)
    }

    pub fn history(&self) -> History {
        History::new(self.ops.clone(), Strictness::Strict).expect("valid test history")
    }
}

/// A history from the causal data's encoding: process name -> program-ordered
/// `["w"|"r", key, value]`; processes run one after another.
pub fn from_program_order(ops: &Value) -> History {
    let mut b = Builder::new();
    for (p, (_, list)) in ops.as_object().expect("process map").iter().enumerate() {
        for op in list.as_array().expect("op list") {
            let [kind, key, value] = op.as_array().expect("op triple").as_slice() else {
                panic!("bad op {op}")
            };
            let key = key.as_str().expect("key");
            match kind.as_str() {
                Some("w") => b.write(p as u64, key, value.clone()),
                Some("r") => b.read(p as u64, key, value.clone()),
                _ => panic!("bad op kind {kind}"),
            };
        }
    }
    b.history()
}

/// `json!` shorthand re-exported for tests.
pub fn v(x: i64) -> Value {
    json!(x)
}

/// Seeded generators of register histories for the implication tests.
pub mod generate {
    use super::Builder;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use serde_json::{Value, json};
    use std::collections::HashMap;
    use sunder_check::history::{History, OpType};

    struct Pending {
        f: &'static str,
        key: String,
        arg: Value,
        applied: bool,
        result: Option<(OpType, Value)>,
    }

    /// Executes reads, writes and cas on one atomic store, with invocations and
    /// completions interleaved at random and occasional crashes (`info`), then a final
    /// phase reading every key on three nodes: every such history is linearizable.
    pub fn linearizable(seed: u64, workers: usize, keys: usize, calls: usize) -> History {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut b = Builder::new();
        let mut store: HashMap<String, Value> = HashMap::new();
        let mut process: Vec<u64> = (0..workers as u64).collect();
        let mut next_process = workers as u64;
        let mut pending: Vec<Option<Pending>> = (0..workers).map(|_| None).collect();
        let mut invoked = 0;
        let mut next_value = 1i64;
        while invoked < calls || pending.iter().any(Option::is_some) {
            let w = rng.random_range(0..workers);
            let p = process[w];
            match &mut pending[w] {
                None if invoked < calls => {
                    invoked += 1;
                    let key = format!("k{}", rng.random_range(0..keys));
                    let (f, arg) = match rng.random_range(0..10) {
                        0..=3 => ("read", Value::Null),
                        4..=7 => {
                            next_value += 1;
                            ("write", json!(next_value))
                        }
                        _ => {
                            next_value += 1;
                            let from = if rng.random_bool(0.7) {
                                store.get(&key).cloned().unwrap_or(Value::Null)
                            } else {
                                json!(rng.random_range(1..next_value))
                            };
                            ("cas", json!([from, next_value]))
                        }
                    };
                    b.invoke(p, f, &key, arg.clone());
                    pending[w] = Some(Pending { f, key, arg, applied: false, result: None });
                }
                None => {}
                Some(op) if !op.applied => {
                    if rng.random_bool(0.03) {
                        // Crash before taking effect.
                        let (f, key) = (op.f, op.key.clone());
                        b.complete(p, OpType::Info, f, &key, Value::Null);
                        pending[w] = None;
                        process[w] = next_process;
                        next_process += 1;
                        continue;
                    }
                    op.applied = true;
                    let cur = store.get(&op.key).cloned().unwrap_or(Value::Null);
                    op.result = Some(match op.f {
                        "read" => (OpType::Ok, cur),
                        "write" => {
                            store.insert(op.key.clone(), op.arg.clone());
                            (OpType::Ok, op.arg.clone())
                        }
                        _ => {
                            if cur == op.arg[0] {
                                store.insert(op.key.clone(), op.arg[1].clone());
                                (OpType::Ok, op.arg.clone())
                            } else {
                                (OpType::Fail, op.arg.clone())
                            }
                        }
                    });
                }
                Some(op) => {
                    let (kind, value) = op.result.clone().expect("applied");
                    let (f, key) = (op.f, op.key.clone());
                    if rng.random_bool(0.03) {
                        // Crash after taking effect: the client never learns.
                        b.complete(p, OpType::Info, f, &key, Value::Null);
                        process[w] = next_process;
                        next_process += 1;
                    } else {
                        b.complete(p, kind, f, &key, value);
                    }
                    pending[w] = None;
                }
            }
        }
        b.nemesis("phase", json!("final"));
        for k in 0..keys {
            let key = format!("k{k}");
            for node in ["n1", "n2", "n3"] {
                b.final_read(next_process, node, &key, store.get(&key).cloned().unwrap_or(Value::Null));
            }
        }
        b.history()
    }

    /// Replicas that apply writes locally and ship them to the others in random order;
    /// clients either stick to one replica or pick one per operation. `lww` replicas keep
    /// the write with the highest timestamp (they converge); others keep the last arrival.
    /// After the main phase every message is delivered and every replica read.
    pub fn replicated(
        seed: u64,
        workers: usize,
        replicas: usize,
        keys: usize,
        calls: usize,
        sticky: bool,
        lww: bool,
    ) -> History {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut b = Builder::new();
        let mut state: Vec<HashMap<String, (Value, u64)>> = vec![HashMap::new(); replicas];
        let mut inflight: Vec<(usize, String, Value, u64)> = Vec::new();
        let mut clock = 0u64;
        let mut next_value = 1i64;
        let deliver = |state: &mut Vec<HashMap<String, (Value, u64)>>, m: (usize, String, Value, u64)| {
            let (r, key, v, ts) = m;
            let cur = state[r].get(&key).map_or(0, |x| x.1);
            if !lww || ts > cur {
                state[r].insert(key, (v, ts));
            }
        };
        for _ in 0..calls {
            while !inflight.is_empty() && rng.random_bool(0.5) {
                let i = rng.random_range(0..inflight.len());
                let m = inflight.swap_remove(i);
                deliver(&mut state, m);
            }
            let w = rng.random_range(0..workers);
            let r = if sticky { w % replicas } else { rng.random_range(0..replicas) };
            let key = format!("k{}", rng.random_range(0..keys));
            let cur = state[r].get(&key).map(|x| x.0.clone()).unwrap_or(Value::Null);
            let write = |state: &mut Vec<HashMap<String, (Value, u64)>>,
                         inflight: &mut Vec<_>,
                         clock: &mut u64,
                         v: Value| {
                *clock += 1;
                state[r].insert(key.clone(), (v.clone(), *clock));
                for other in 0..replicas {
                    if other != r {
                        inflight.push((other, key.clone(), v.clone(), *clock));
                    }
                }
            };
            match rng.random_range(0..10) {
                0..=4 => {
                    b.read(w as u64, &key, cur);
                }
                5..=8 => {
                    next_value += 1;
                    write(&mut state, &mut inflight, &mut clock, json!(next_value));
                    b.write(w as u64, &key, json!(next_value));
                }
                _ => {
                    next_value += 1;
                    let arg = json!([cur.clone(), next_value]);
                    b.invoke(w as u64, "cas", &key, arg.clone());
                    write(&mut state, &mut inflight, &mut clock, json!(next_value));
                    b.complete(w as u64, OpType::Ok, "cas", &key, arg);
                }
            }
        }
        for m in std::mem::take(&mut inflight) {
            deliver(&mut state, m);
        }
        b.nemesis("phase", json!("final"));
        let reader = workers as u64;
        for k in 0..keys {
            let key = format!("k{k}");
            for (r, s) in state.iter().enumerate() {
                b.final_read(
                    reader,
                    &format!("n{}", r + 1),
                    &key,
                    s.get(&key).map(|x| x.0.clone()).unwrap_or(Value::Null),
                );
            }
        }
        b.history()
    }
}

/// The causal models computed from their definitions, for comparison with the checkers.
pub mod definitions {
    use sunder_check::ladder::register::{RegisterHistory, Source};

    /// The POPL 2017 bad patterns computed from their definitions with boolean matrices:
    /// (CC, CCv, CM) for a small history.
    #[allow(clippy::needless_range_loop)] // matrix code reads best with indices
    pub fn causal_by_definition(rh: &RegisterHistory) -> (bool, bool, bool) {
        let n = rh.events.len();
        let closure = |m: &mut Vec<Vec<bool>>| {
            for k in 0..n {
                for i in 0..n {
                    if m[i][k] {
                        for j in 0..n {
                            if m[k][j] {
                                m[i][j] = true;
                            }
                        }
                    }
                }
            }
        };
        let cyclic = |m: &Vec<Vec<bool>>| (0..n).any(|i| m[i][i]);
        let ev = &rh.events;
        let same_proc_before = |a: usize, b: usize| ev[a].process == ev[b].process && ev[a].pos < ev[b].pos;
        let rf = |w: usize, r: usize| ev[r].read == Some(Source::Write(w as u32));
        let mut co = vec![vec![false; n]; n];
        for a in 0..n {
            for b in 0..n {
                co[a][b] = same_proc_before(a, b) || rf(a, b);
            }
        }
        closure(&mut co);
        let thin_air = ev.iter().any(|e| e.read == Some(Source::Nowhere));
        let writes_of = |k: u32| (0..n).filter(move |&w| ev[w].writes && ev[w].key == k);
        let mut bad_cc = thin_air || cyclic(&co);
        for r in 0..n {
            match ev[r].read {
                Some(Source::Init) => bad_cc |= writes_of(ev[r].key).any(|w| co[w][r]),
                Some(Source::Write(w)) => {
                    bad_cc |=
                        writes_of(ev[r].key).any(|w2| w2 != w as usize && co[w as usize][w2] && co[w2][r])
                }
                _ => {}
            }
        }
        if bad_cc {
            return (false, false, false);
        }
        let mut cf = co.clone();
        for r in 0..n {
            if let Some(Source::Write(w)) = ev[r].read {
                for w1 in writes_of(ev[r].key) {
                    if w1 != w as usize && co[w1][r] {
                        cf[w1][w as usize] = true;
                    }
                }
            }
        }
        closure(&mut cf);
        let ccv = !cyclic(&cf);
        let mut cm = true;
        for o in 0..n {
            let mut hb = vec![vec![false; n]; n];
            for a in 0..n {
                for b in 0..n {
                    hb[a][b] = co[a][b] && (co[b][o] || b == o);
                }
            }
            loop {
                let mut changed = false;
                for r in 0..n {
                    let Some(Source::Write(w)) = ev[r].read else { continue };
                    if !(r == o || same_proc_before(r, o)) {
                        continue;
                    }
                    for w1 in writes_of(ev[r].key) {
                        if w1 != w as usize && hb[w1][r] && !hb[w1][w as usize] {
                            hb[w1][w as usize] = true;
                            changed = true;
                        }
                    }
                }
                if !changed {
                    break;
                }
                closure(&mut hb);
            }
            let init_bad = (0..n).any(|r| {
                ev[r].read == Some(Source::Init)
                    && (r == o || same_proc_before(r, o))
                    && writes_of(ev[r].key).any(|w| hb[w][r])
            });
            if init_bad || cyclic(&hb) {
                cm = false;
            }
        }
        (true, ccv, cm)
    }
}
