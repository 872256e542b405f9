//! The causal-memory views grown while a history is written
//! ([`sunder_check::live::memory_views`]) against the offline check's, process by process:
//! on histories whose calls overlap, whose reads return any write already invoked
//! (completed or not, so replication is as slow and out of order as it gets), with crashed
//! calls retiring their processes and failed writes, the processes the streamed views call
//! clean are exactly those whose offline views hold no anomaly. The offline check trusts
//! that set to skip views, so a view called clean that is not would hide an anomaly.

mod ladder_support;

use ladder_support::Builder;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use sunder_check::causal::{self, CausalBudget};
use sunder_check::history::{History, OpType};
use sunder_check::ladder::register::RegisterHistory;
use sunder_check::live::memory_views::{CleanViews, MemoryViews};

/// Shape of one generated history.
struct Shape {
    workers: usize,
    keys: usize,
    calls: usize,
    /// Chance that a call crashes (`info`), retiring its process.
    crash: f64,
    /// Chance that a write nobody has read fails.
    fail: f64,
    /// Reads return one of the last this many writes invoked on their key.
    window: usize,
}

/// A history of overlapping calls: each step opens a call on an idle worker or completes
/// an open one.
fn overlapping(seed: u64, shape: &Shape) -> History {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut b = Builder::new();
    // Per worker: its process, and its open call (f, key, value written).
    let mut process: Vec<u64> = (0..shape.workers as u64).collect();
    let mut open: Vec<Option<(&str, String, i64)>> = vec![None; shape.workers];
    let mut next_process = shape.workers as u64;
    let mut issued: Vec<Vec<i64>> = vec![Vec::new(); shape.keys];
    let mut read_values = BTreeSet::new();
    let mut next_value = 0i64;
    let mut started = 0;
    while started < shape.calls || open.iter().any(Option::is_some) {
        let w = rng.random_range(0..shape.workers);
        let p = process[w];
        match open[w].take() {
            None if started < shape.calls => {
                started += 1;
                let k = rng.random_range(0..shape.keys);
                let key = format!("k{k}");
                if rng.random_bool(0.5) {
                    b.invoke(p, "read", &key, Value::Null);
                    open[w] = Some(("read", key, 0));
                } else {
                    next_value += 1;
                    b.invoke(p, "write", &key, json!(next_value));
                    issued[k].push(next_value);
                    open[w] = Some(("write", key, next_value));
                }
            }
            None => {}
            Some((f, key, value)) => {
                if rng.random_bool(shape.crash) {
                    b.complete(p, OpType::Info, f, &key, Value::Null);
                    process[w] = next_process;
                    next_process += 1;
                } else if f == "read" {
                    let k: usize = key[1..].parse().expect("k<n>");
                    let from = issued[k].len().saturating_sub(shape.window);
                    let v = if issued[k].is_empty() || rng.random_bool(0.1) {
                        Value::Null
                    } else {
                        let v = issued[k][rng.random_range(from..issued[k].len())];
                        read_values.insert(v);
                        json!(v)
                    };
                    b.complete(p, OpType::Ok, f, &key, v);
                } else if !read_values.contains(&value) && rng.random_bool(shape.fail) {
                    b.complete(p, OpType::Fail, f, &key, json!(value));
                    let k: usize = key[1..].parse().expect("k<n>");
                    issued[k].retain(|&x| x != value);
                } else {
                    b.complete(p, OpType::Ok, f, &key, json!(value));
                }
            }
        }
    }
    b.history()
}

/// A history of overlapping calls on `replicas` replicas that apply each other's writes
/// in causal order (causal broadcast) and in any order among concurrent ones: each worker
/// keeps to one replica, so the history is causal, but a call goes to another replica with
/// chance `stray`, which can break causal memory (or causality). Writes apply at their
/// invocation, reads return their replica's value at completion.
fn causal_replicas(seed: u64, shape: &Shape, replicas: usize, stray: f64) -> History {
    struct Message {
        origin: usize,
        deps: Vec<u64>,
        key: usize,
        value: i64,
        to: usize,
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut b = Builder::new();
    let mut clocks = vec![vec![0u64; replicas]; replicas];
    let mut state: Vec<Vec<Option<i64>>> = vec![vec![None; shape.keys]; replicas];
    let mut inflight: Vec<Message> = Vec::new();
    let mut process: Vec<u64> = (0..shape.workers as u64).collect();
    // Per worker: its open call (read, key, value written, fails).
    let mut open: Vec<Option<(bool, usize, i64, bool)>> = vec![None; shape.workers];
    let mut next_process = shape.workers as u64;
    let mut next_value = 0i64;
    let mut started = 0;
    while started < shape.calls || open.iter().any(Option::is_some) {
        if !inflight.is_empty() && rng.random_bool(0.4) {
            let i = rng.random_range(0..inflight.len());
            let m = &inflight[i];
            let c = &clocks[m.to];
            let ready = c[m.origin] + 1 == m.deps[m.origin]
                && (0..replicas).all(|j| j == m.origin || c[j] >= m.deps[j]);
            if ready {
                let m = inflight.swap_remove(i);
                clocks[m.to][m.origin] += 1;
                state[m.to][m.key] = Some(m.value);
            }
            continue;
        }
        let w = rng.random_range(0..shape.workers);
        let p = process[w];
        let r = if rng.random_bool(stray) { rng.random_range(0..replicas) } else { w % replicas };
        match open[w].take() {
            None if started < shape.calls => {
                started += 1;
                let k = rng.random_range(0..shape.keys);
                let key = format!("k{k}");
                if rng.random_bool(0.5) {
                    b.invoke(p, "read", &key, Value::Null);
                    open[w] = Some((true, k, 0, false));
                } else {
                    next_value += 1;
                    b.invoke(p, "write", &key, json!(next_value));
                    let fails = rng.random_bool(shape.fail);
                    if !fails {
                        clocks[r][r] += 1;
                        state[r][k] = Some(next_value);
                        for to in (0..replicas).filter(|&to| to != r) {
                            let deps = clocks[r].clone();
                            inflight.push(Message { origin: r, deps, key: k, value: next_value, to });
                        }
                    }
                    open[w] = Some((false, k, next_value, fails));
                }
            }
            None => {}
            Some((read, k, value, fails)) => {
                let key = format!("k{k}");
                let f = if read { "read" } else { "write" };
                if fails {
                    b.complete(p, OpType::Fail, f, &key, json!(value));
                } else if rng.random_bool(shape.crash) {
                    b.complete(p, OpType::Info, f, &key, Value::Null);
                    process[w] = next_process;
                    next_process += 1;
                } else if read {
                    b.complete(p, OpType::Ok, f, &key, state[r][k].map_or(Value::Null, |v| json!(v)));
                } else {
                    b.complete(p, OpType::Ok, f, &key, json!(value));
                }
            }
        }
    }
    b.history()
}

/// What the streamed views call clean, or `None` when they gave up.
fn streamed(h: &History) -> Option<BTreeSet<u64>> {
    let mut views = MemoryViews::new();
    for op in h.ops() {
        views.feed(op);
    }
    views.finish().map(|c| c.clients.into_iter().collect())
}

/// Outcomes over many histories: (agreed, offline had flagged views, streamed gave up,
/// offline judged no view).
#[derive(Debug, Default)]
struct Tally {
    agreed: usize,
    with_flagged: usize,
    gave_up: usize,
    not_judged: usize,
}

fn compare(h: &History, what: &str, tally: &mut Tally) {
    let rh = RegisterHistory::from_history(h).expect("unique writes");
    let Some((flagged, clean)) = causal::memory_views_by_process(&rh) else {
        tally.not_judged += 1;
        return;
    };
    let Some(streamed) = streamed(h) else {
        tally.gave_up += 1;
        return;
    };
    for p in &flagged {
        assert!(!streamed.contains(p), "{what}: process {p}'s view holds an anomaly, yet streamed as clean");
    }
    // A process whose only event is a crashed write nobody read is no process of the
    // offline view; the streamed views call it clean, which skips nothing.
    let clean: BTreeSet<u64> = clean.into_iter().collect();
    let streamed: BTreeSet<u64> = streamed.into_iter().filter(|p| clean.contains(p)).collect();
    assert_eq!(streamed, clean, "{what}: streamed clean views differ from the offline check's");
    // And the offline check that skips them gives the verdicts it gives growing them all.
    let known = CleanViews { clients: streamed.iter().copied().collect() };
    let budget = CausalBudget::default();
    let skipping = causal::check_register_knowing(&rh, &budget, Some(&known));
    let whole = causal::check_register_within(&rh, &budget);
    assert_eq!(format!("{:?}", skipping.into_named()), format!("{:?}", whole.into_named()), "{what}");
    tally.agreed += 1;
    if !flagged.is_empty() {
        tally.with_flagged += 1;
    }
}

#[test]
fn streamed_views_are_clean_exactly_where_the_offline_views_are() {
    let mut tally = Tally::default();
    for seed in 0..20_000u64 {
        let shape = Shape {
            workers: 2 + (seed as usize % 4),
            keys: 1 + (seed as usize % 3),
            calls: 6 + (seed as usize % 30),
            crash: [0.0, 0.1, 0.3][seed as usize % 3],
            fail: [0.0, 0.2][(seed / 3) as usize % 2],
            window: 1 + (seed as usize % 5),
        };
        compare(&overlapping(seed, &shape), &format!("seed {seed}"), &mut tally);
    }
    // The comparison must see views with anomalies and views without, or it says little.
    assert!(tally.agreed > 10_000, "{tally:?}");
    assert!(tally.with_flagged > 300, "{tally:?}");
}

#[test]
fn streamed_views_agree_on_long_histories_with_many_processes() {
    let mut tally = Tally::default();
    for seed in 0..150u64 {
        let shape = Shape {
            workers: 8 + (seed as usize % 8),
            keys: 1 + (seed as usize % 4),
            calls: 3_000,
            crash: 0.02,
            fail: 0.01,
            window: 2 + (seed as usize % 6),
        };
        let stray = [0.0, 0.0003, 0.001][seed as usize % 3];
        let h = causal_replicas(1_000 + seed, &shape, 3, stray);
        compare(&h, &format!("long seed {seed}"), &mut tally);
    }
    assert!(tally.agreed >= 75, "{tally:?}");
    assert!(tally.with_flagged >= 1, "{tally:?}");
}

#[test]
fn streamed_views_give_up_on_what_they_do_not_follow() {
    let mut b = Builder::new();
    b.write(0, "k", json!(1));
    b.invoke(1, "cas", "k", json!([1, 2]));
    b.complete(1, OpType::Ok, "cas", "k", json!([1, 2]));
    assert_eq!(streamed(&b.history()), None, "cas");
    let mut b = Builder::new();
    b.write(0, "k", json!(1));
    b.write(1, "k", json!(1));
    assert_eq!(streamed(&b.history()), None, "a value written twice");
    let mut b = Builder::new();
    b.read(0, "k", json!(7));
    assert_eq!(streamed(&b.history()), None, "a read of a value never written");
    let mut b = Builder::new();
    b.invoke(0, "write", "k", json!(1));
    b.read(1, "k", json!(1));
    b.complete(0, OpType::Fail, "write", "k", json!(1));
    assert_eq!(streamed(&b.history()), None, "a read of a write that failed");
    let mut b = Builder::new();
    b.invoke(0, "write", "k", json!(1));
    b.complete(0, OpType::Fail, "write", "k", json!(1));
    b.write(0, "k", json!(2));
    b.read(0, "k", json!(2));
    assert_eq!(streamed(&b.history()), Some(BTreeSet::from([0])), "a failed write nobody read is taken back");
}

/// `results.json` of a judgement, but for the linearizability search's account of itself
/// (its time and memo counts).
fn verdict_json(results: &sunder_check::Results) -> serde_json::Value {
    let mut v = serde_json::to_value(results).expect("results serialize");
    v["checkers"]["linearizable"]["details"] = Value::Null;
    v
}

#[test]
fn an_offline_check_told_the_streamed_views_gives_the_verdicts_of_one_growing_them_all() {
    use sunder_check::import::FailSemantics;
    use sunder_check::linearizable::ModelKind;
    use sunder_check::live::{LiveJudge, Outcome};
    use sunder_check::plan::{self, Check, Limits, Plan};
    let plan = Plan::one(Check::Linearizable(ModelKind::Kv));
    let (mut told, mut decided) = (0, 0);
    for seed in 0..24u64 {
        let shape = Shape { workers: 10, keys: 2, calls: 2_000, crash: 0.02, fail: 0.01, window: 1 };
        let h = causal_replicas(5_000 + seed, &shape, 3, [0.0, 0.0005][seed as usize % 2]);
        let mut live =
            LiveJudge::new(&plan, FailSemantics::CasMismatch).expect("a register plan").with_memory_views();
        // Batches as the runner hands them over.
        for batch in h.ops().chunks(64) {
            live.feed(batch);
        }
        let (outcome, prejudged) = live.finish_knowing();
        assert!(matches!(outcome, Outcome::Offline(_)), "seed {seed}: replicas are not linearizable");
        let limits = Limits::default();
        let knowing = plan::judge_knowing(&h, &plan, FailSemantics::CasMismatch, limits, &prejudged);
        let whole = plan::judge(&h, &plan, FailSemantics::CasMismatch, limits);
        assert_eq!(verdict_json(&knowing), verdict_json(&whole), "seed {seed}");
        if let Some(clean) = &prejudged.clean_views {
            told += 1;
            decided += clean.clients.len();
        }
    }
    assert!(told >= 20 && decided > 200, "views told {told} times, {decided} clean in all");
}
