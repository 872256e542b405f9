//! Seeded synthetic run folders, for tests and the benchmark until real runs exist. A
//! register workload over a few keys is simulated with concurrent clients (each call takes
//! effect at its completion, so the history is linearizable unless a stale read is
//! injected), with nemesis fault windows that raise latency and fail or time out calls,
//! heal and final phases, node logs, `test.json` and a `results.json` composed with
//! sunder-check's own types. Options add hostile markup in every untrusted field and a
//! malformed history line.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::io::{BufWriter, Write};
use std::path::Path;
use sunder_check::history::{History, Op, OpType, Strictness};
use sunder_check::verdict::{Anomaly, CheckerResult, Results, Validity};

/// Markup planted by [`SyntheticRun::hostile`]; if the report ever runs it, it marks the
/// page so tests can tell.
pub const HOSTILE: &str =
    "</script><script>document.documentElement.setAttribute('data-pwned','1')</script><b>bold</b>";

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticRun {
    /// Seed of every random choice.
    pub seed: u64,
    /// Approximate number of ops (events) in the history.
    pub ops: usize,
    /// Concurrent client workers.
    pub concurrency: u64,
    /// Register keys.
    pub keys: usize,
    /// Inject a stale read and record it as a linearizability anomaly.
    pub invalid: bool,
    /// Emit nemesis fault windows (partition, kill) and heal/final phases.
    pub nemesis: bool,
    /// Plant [`HOSTILE`] markup in a key, values, errors, `test.json` and a node log.
    pub hostile: bool,
    /// Insert a malformed line in the middle of `history.jsonl`.
    pub malformed_line: bool,
}

impl Default for SyntheticRun {
    fn default() -> Self {
        SyntheticRun {
            seed: 42,
            ops: 2000,
            concurrency: 5,
            keys: 3,
            invalid: false,
            nemesis: true,
            hostile: false,
            malformed_line: false,
        }
    }
}

/// What a generated run holds, for tests to compare against.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// Ops written to `history.jsonl` (the malformed line not counted).
    pub ops: usize,
    /// Fault windows emitted.
    pub fault_windows: usize,
    /// Anomalies written to `results.json`.
    pub anomalies: usize,
    /// The composed verdict.
    pub valid: Validity,
}

#[derive(Clone)]
struct Pending {
    invoke_index: u64,
    invoke_time: u64,
    f: &'static str,
    key: usize,
    value: Value,
    node: usize,
    outcome: OpType,
}

/// An injected stale read: which calls prove it.
struct Stale {
    key: String,
    read: u64,
    prefix: Vec<(u64, Value)>,
    concurrent: Vec<u64>,
    newer_write: u64,
}

const NODES: [&str; 3] = ["n1", "n2", "n3"];

impl SyntheticRun {
    fn key_name(&self, k: usize) -> String {
        if self.hostile && k == 0 { format!("k0{HOSTILE}") } else { format!("k{k}") }
    }

    /// Simulates the history.
    fn simulate(&self, rng: &mut ChaCha8Rng) -> (Vec<Op>, usize, Option<Stale>) {
        let target = self.ops.max(8);
        let mut ops: Vec<Op> = Vec::with_capacity(target + 64);
        let conc = self.concurrency.max(1);
        let keys = self.keys.max(1);
        let mut process: Vec<u64> = (0..conc).collect();
        let mut pending: Vec<Option<Pending>> = vec![None; conc as usize];
        let mut heap: BinaryHeap<Reverse<(u64, u64)>> = (0..conc).map(|w| Reverse((w * 37_000, w))).collect();
        let mut state: Vec<Value> = vec![Value::Null; keys];
        // Per key: the last ok calls in effect order, with the state after each.
        let mut recent: Vec<VecDeque<(u64, Value)>> = vec![VecDeque::new(); keys];
        let mut last_effect: Vec<(u64, u64)> = vec![(0, 0); keys];
        let mut open_calls: BTreeMap<u64, (u64, usize)> = BTreeMap::new();
        let mut next_value: u64 = 1;
        let mut stale: Option<Stale> = None;
        let mut faults = 0usize;
        // The fault plan, by share of the target: (start, end, kind).
        let plan: &[(f64, f64, &str)] = if self.nemesis {
            &[(0.15, 0.24, "partition"), (0.4, 0.48, "kill"), (0.62, 0.7, "partition")]
        } else {
            &[]
        };
        let mut plan_at = 0usize;
        let mut active: Option<&str> = None;
        let (heal_at, final_at) = (0.82, 0.92);
        let mut phase = 0u8;
        let push = |ops: &mut Vec<Op>, mut op: Op| {
            op.index = ops.len() as u64;
            ops.push(op);
        };
        while ops.len() < target {
            let Some(Reverse((now, w))) = heap.pop() else { break };
            let progress = ops.len() as f64 / target as f64;
            if self.nemesis {
                let nem = |f: String, value: Value| Op::nemesis(0, now, &f, value);
                if let Some(kind) = active
                    && plan[plan_at - 1].1 <= progress
                {
                    push(&mut ops, nem(format!("stop-{kind}"), json!({"healed": NODES})));
                    active = None;
                }
                if active.is_none() && plan_at < plan.len() && plan[plan_at].0 <= progress {
                    let kind = plan[plan_at].2;
                    let target_node = NODES[rng.random_range(0..NODES.len())];
                    let value = if kind == "partition" {
                        json!({"grudge": {target_node: NODES.iter().filter(|n| **n != target_node).collect::<Vec<_>>()}})
                    } else {
                        json!({"killed": [target_node]})
                    };
                    let value = if self.hostile { json!({"note": HOSTILE, "what": value}) } else { value };
                    push(&mut ops, nem(format!("start-{kind}"), value));
                    active = Some(kind);
                    plan_at += 1;
                    faults += 1;
                }
                if phase == 0 && progress >= heal_at {
                    push(&mut ops, nem("phase".into(), json!("heal")));
                    phase = 1;
                }
                if phase == 1 && progress >= final_at {
                    push(&mut ops, nem("phase".into(), json!("final")));
                    phase = 2;
                }
            }
            let wi = w as usize;
            match pending[wi].take() {
                None => {
                    // Invoke.
                    let final_phase = phase == 2;
                    let roll: f64 = rng.random();
                    let key = rng.random_range(0..keys);
                    let node = rng.random_range(0..NODES.len());
                    let (f, value) = if final_phase || roll < 0.5 {
                        ("read", Value::Null)
                    } else if roll < 0.85 {
                        next_value += 1;
                        ("write", self.value(next_value))
                    } else {
                        next_value += 1;
                        let from = if rng.random_bool(0.7) {
                            state[key].clone()
                        } else {
                            self.value(next_value / 2)
                        };
                        ("cas", json!([from, self.value(next_value)]))
                    };
                    let faulty = active.is_some();
                    let base_us = 150.0 + 900.0 * rng.random::<f64>().powi(6);
                    let (outcome, lat_us) = if faulty && rng.random_bool(0.25) {
                        (OpType::Info, 3_000.0 + rng.random::<f64>() * 2_000.0)
                    } else if faulty && rng.random_bool(0.2) {
                        (OpType::Fail, 50.0 + rng.random::<f64>() * 100.0)
                    } else if faulty {
                        (OpType::Ok, base_us * 4.0)
                    } else {
                        (OpType::Ok, base_us)
                    };
                    let invoke_index = ops.len() as u64;
                    let mut op = Op::client(0, now, process[wi], OpType::Invoke, f, value.clone())
                        .with_key(self.key_name(key));
                    op.node = Some(NODES[node].into());
                    push(&mut ops, op);
                    open_calls.insert(invoke_index, (now, key));
                    pending[wi] =
                        Some(Pending { invoke_index, invoke_time: now, f, key, value, node, outcome });
                    heap.push(Reverse((now + (lat_us * 1000.0) as u64, w)));
                }
                Some(p) => {
                    // Complete: the call takes effect now.
                    open_calls.remove(&p.invoke_index);
                    let key = p.key;
                    let mut outcome = p.outcome;
                    let mut value = p.value.clone();
                    match p.f {
                        "write"
                            if outcome == OpType::Ok || (outcome == OpType::Info && rng.random_bool(0.5)) =>
                        {
                            state[key] = p.value.clone();
                        }
                        "cas" if outcome == OpType::Ok => {
                            if state[key] == p.value[0] {
                                state[key] = p.value[1].clone();
                            } else {
                                outcome = OpType::Fail;
                            }
                        }
                        "read" if outcome == OpType::Ok => {
                            value = state[key].clone();
                            let older =
                                recent[key].iter().rev().map(|r| &r.1).find(|v| **v != state[key]).cloned();
                            if self.invalid
                                && stale.is_none()
                                && progress > 0.5
                                && last_effect[key].0 < p.invoke_time
                                && let Some(old) = older
                            {
                                value = old;
                                let concurrent = open_calls
                                    .iter()
                                    .filter(|(_, (t, _))| *t < now)
                                    .map(|(i, _)| *i)
                                    .take(6)
                                    .collect();
                                stale = Some(Stale {
                                    key: self.key_name(key),
                                    read: p.invoke_index,
                                    prefix: recent[key].iter().cloned().collect(),
                                    concurrent,
                                    newer_write: last_effect[key].1,
                                });
                            }
                        }
                        _ => {}
                    }
                    if outcome == OpType::Ok {
                        if p.f != "read" {
                            last_effect[key] = (now, p.invoke_index);
                        }
                        recent[key].push_back((p.invoke_index, state[key].clone()));
                        if recent[key].len() > 6 {
                            recent[key].pop_front();
                        }
                    }
                    let mut op =
                        Op::client(0, now, process[wi], outcome, p.f, value).with_key(self.key_name(key));
                    op.node = Some(NODES[p.node].into());
                    if outcome == OpType::Info {
                        op.error = Some(if self.hostile {
                            format!("timeout {HOSTILE}").into()
                        } else {
                            "timeout".into()
                        });
                    } else if outcome == OpType::Fail {
                        op.error = Some(if p.f == "cas" {
                            "precondition failed".into()
                        } else {
                            "no quorum".into()
                        });
                    }
                    push(&mut ops, op);
                    if outcome == OpType::Info {
                        process[wi] += conc;
                    }
                    heap.push(Reverse((now + rng.random_range(5_000..60_000), w)));
                }
            }
        }
        (ops, faults, stale)
    }

    fn value(&self, n: u64) -> Value {
        if self.hostile && n % 50 == 7 { json!(format!("{n}{HOSTILE}")) } else { json!(n) }
    }

    /// Writes the run folder into `dir` (created if needed).
    pub fn write(&self, dir: &Path) -> std::io::Result<Generated> {
        std::fs::create_dir_all(dir)?;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let (ops, fault_windows, stale) = self.simulate(&mut rng);
        let name = if self.hostile { format!("register{HOSTILE}") } else { "register".to_string() };
        let test = json!({
            "name": name, "run_id": format!("synthetic-s{}", self.seed), "system": "single-kv",
            "nodes": NODES, "workload": "register", "keys": self.keys, "concurrency": self.concurrency,
            "rate": null, "time_limit_s": 10, "seed": self.seed, "net": "local",
            "nemesis": if self.nemesis { json!(["partition", "kill"]) } else { json!([]) },
            "nemesis_interval_s": 5, "options": {"synthetic": true}, "sunder_version": env!("CARGO_PKG_VERSION"),
            "started_at": "2026-11-26T03:00:00Z"
        });
        std::fs::write(dir.join("test.json"), serde_json::to_vec_pretty(&test)?)?;
        {
            let mut out =
                BufWriter::with_capacity(1 << 16, std::fs::File::create(dir.join("history.jsonl"))?);
            for (i, op) in ops.iter().enumerate() {
                if self.malformed_line && i == ops.len() / 2 {
                    out.write_all(b"{\"index\": this is not json\n")?;
                }
                serde_json::to_writer(&mut out, op)?;
                out.write_all(b"\n")?;
            }
            out.flush()?;
            out.get_ref().sync_all()?;
        }
        let op_count = ops.len();
        let history =
            History::new(ops, Strictness::Strict).map_err(|v| std::io::Error::other(v.to_string()))?;
        // The checkers and models a real `sunder run` of the register workload writes, by the
        // names the harness gives them (reports/tests/fixture_shape.rs compares the two):
        // `linearizable` with `nonlinearizable` anomalies, then one checker per ladder model.
        // The ladder is written, not checked (a million-op history must render fast), and
        // obeys the implication table: a stale read breaks linearizability, and a single
        // one leaves sequential consistency and everything it implies standing.
        let mut checkers = BTreeMap::new();
        checkers.insert("stats".to_string(), sunder_check::stats::check(&history));
        let mut anomalies = 0;
        let linearizable = match &stale {
            Some(s) => {
                let prefix: Vec<u64> = s.prefix.iter().map(|p| p.0).collect();
                let states: Vec<Value> = s.prefix.iter().map(|p| p.1.clone()).collect();
                let lin = Anomaly {
                    kind: "nonlinearizable".into(),
                    explanation: format!(
                        "Read op {} returned a value that write op {} had already overwritten before the read began; no order of the ops fits the register.",
                        s.read, s.newer_write
                    ),
                    ops: vec![s.read, s.newer_write],
                    // The linearizability checker's witness fields, descriptions included.
                    witness: json!({
                        "key": s.key, "prefix": prefix, "states": states, "failed": s.read,
                        "concurrent": s.concurrent, "initial_state": null,
                        "ops": prefix.iter().chain([&s.read]).chain(&s.concurrent).map(|i| json!({
                            "index": i, "completion": null, "process": null,
                            "description": format!("op {i} of key {}", s.key),
                        })).collect::<Vec<_>>(),
                    }),
                    ..Anomaly::default()
                };
                anomalies = 1;
                CheckerResult::invalid(vec![lin])
            }
            None => CheckerResult::valid(),
        };
        let lin = linearizable.valid;
        checkers.insert("linearizable".to_string(), linearizable);
        let mut models = vec![("linearizable".to_string(), lin)];
        for model in sunder_check::ladder::MODELS {
            checkers.insert(model.to_string(), CheckerResult::valid());
            models.push((model.to_string(), Validity::Valid));
        }
        let stats = checkers["stats"].details.clone();
        let results = Results::compose_for(Some(&history), checkers, models, stats);
        std::fs::write(dir.join("results.json"), serde_json::to_vec_pretty(&results)?)?;
        for (i, node) in NODES.iter().enumerate() {
            let nd = dir.join("nodes").join(node);
            std::fs::create_dir_all(&nd)?;
            let mut log = String::new();
            for line in 0..30 {
                log.push_str(&format!(
                    "2026-11-26T03:00:{line:02}Z INFO {node} applied index {}\n",
                    line * 7 + i
                ));
            }
            if self.hostile {
                log.push_str(&format!("2026-11-26T03:00:31Z WARN {node} odd request {HOSTILE}\n"));
            }
            std::fs::write(nd.join("log"), log)?;
        }
        Ok(Generated { ops: op_count, fault_windows, anomalies, valid: results.valid })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run folder for one test, removed when the test ends, also when it fails.
    struct Scratch(std::path::PathBuf);

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn tmp(name: &str) -> Scratch {
        Scratch(std::env::temp_dir().join(format!("sunder-synth-{name}-{}", std::process::id())))
    }

    #[test]
    fn writes_a_ladder_the_implication_table_allows() {
        let scratch = tmp("ladder");
        SyntheticRun { invalid: true, ..SyntheticRun::default() }.write(&scratch.0).unwrap();
        let results: Results =
            serde_json::from_slice(&std::fs::read(scratch.0.join("results.json")).unwrap()).unwrap();
        for (strong, weaker) in sunder_check::ladder::IMPLIES {
            for weak in weaker {
                let (s, w) = (results.models[strong], results.models[*weak]);
                assert!(
                    !(s == Validity::Valid && w != Validity::Valid),
                    "{strong} is {s:?} but {weak}, which it implies, is {w:?}"
                );
            }
        }
        assert_eq!(results.models["linearizable"], Validity::Invalid);
        assert_eq!(results.strongest_held.as_deref(), Some("sequential"));
    }

    #[test]
    fn same_seed_writes_the_same_history() {
        let (a, b) = (tmp("a"), tmp("b"));
        let spec = SyntheticRun { invalid: true, ..SyntheticRun::default() };
        spec.write(&a.0).unwrap();
        spec.write(&b.0).unwrap();
        let read = |d: &Path| std::fs::read(d.join("history.jsonl")).unwrap();
        assert_eq!(read(&a.0), read(&b.0));
    }

    #[test]
    fn invalid_run_has_a_stale_read_and_valid_run_reads_validly() {
        let scratch = tmp("inv");
        let d = &scratch.0;
        let g = SyntheticRun { invalid: true, ..SyntheticRun::default() }.write(d).unwrap();
        assert_eq!((g.valid, g.anomalies), (Validity::Invalid, 1));
        assert_eq!(g.fault_windows, 3);
        let h = sunder_check::history::read_jsonl(&d.join("history.jsonl")).unwrap();
        assert_eq!(h.len(), g.ops);
        let g = SyntheticRun::default().write(d).unwrap();
        assert_eq!(g.valid, Validity::Valid);
    }
}
