//! Timings of the consistency-model ladder on large generated histories (a plain `main`
//! that prints numbers; run with `cargo bench -p sunder-check --bench ladder`).
//!
//! Histories come from 20 client processes doing reads (50%), writes (40%) and cas (10%)
//! on 1,000 keys of one atomic store, seeded, so every model holds and every check does
//! its full work instead of stopping at a first violation. "Ops" below are operations
//! (an invocation and its completion are one operation, two history lines). A third
//! history is concurrent with crashed ops (`linearizable::generate`, 8 clients, 5% `info`),
//! timed against linearizability and through `ladder::check_view_given`.

mod support;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use std::hint::black_box;
use std::time::Instant;
use sunder_check::Validity;
use sunder_check::causal;
use sunder_check::history::{History, Op, OpType, Strictness};
use sunder_check::ladder::register::RegisterHistory;
use sunder_check::ladder::{self, Implied, LadderBudget};
use sunder_check::linearizable::generate::{Generation, register_history};
use sunder_check::linearizable::{Budget, FailSemantics, ModelKind, check};
use sunder_check::sequential::{self, SearchBudget};
use sunder_check::session;
use support::cpu_seconds;

/// `info_rate`: the chance a write or cas ends `info` (taking effect or not at random);
/// its process is then retired and its worker continues as a fresh process, as Sunder's
/// runner does, so the history has about `processes + info_rate * calls / 2` processes.
fn generate(seed: u64, processes: u64, keys: usize, calls: usize, info_rate: f64) -> History {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut store: Vec<Value> = vec![Value::Null; keys];
    let mut ops = Vec::with_capacity(calls * 2);
    let mut next = 0i64;
    let mut process: Vec<u64> = (0..processes).collect();
    let mut fresh = processes;
    for i in 0..calls {
        let worker = rng.random_range(0..processes as usize);
        let p = process[worker];
        let k = rng.random_range(0..keys);
        let key = format!("k{k}");
        let roll = rng.random_range(0..10);
        let info = roll >= 5 && rng.random_bool(info_rate);
        let applies = !info || rng.random_bool(0.5);
        let (f, arg, result) = match roll {
            0..=4 => ("read", Value::Null, store[k].clone()),
            5..=8 => {
                next += 1;
                if applies {
                    store[k] = json!(next);
                }
                ("write", json!(next), json!(next))
            }
            _ => {
                next += 1;
                let arg = json!([store[k].clone(), next]);
                if applies {
                    store[k] = json!(next);
                }
                ("cas", arg.clone(), arg)
            }
        };
        let t = i as u64 * 2;
        ops.push(Op::client(t, t, p, OpType::Invoke, f, arg).with_key(key.clone()));
        if info {
            ops.push(Op::client(t + 1, t + 1, p, OpType::Info, f, Value::Null).with_key(key));
            process[worker] = fresh;
            fresh += 1;
        } else {
            ops.push(Op::client(t + 1, t + 1, p, OpType::Ok, f, result).with_key(key));
        }
    }
    History::new(ops, Strictness::Strict).expect("generated history is valid")
}

/// Runs `f` three times and prints the fastest and slowest wall time and the fastest CPU
/// time: the machine is shared, so the fastest run is the best estimate of the work
/// itself, and CPU time does not count time spent waiting for a core.
fn time<T>(label: &str, f: impl Fn() -> T) -> T {
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    let mut out = None;
    for _ in 0..3 {
        let (start, cpu_start) = (Instant::now(), cpu_seconds());
        out = Some(black_box(f()));
        wall.push(start.elapsed().as_secs_f64());
        cpu.push(cpu_seconds() - cpu_start);
    }
    let min = wall.iter().copied().fold(f64::MAX, f64::min);
    let max = wall.iter().copied().fold(0.0, f64::max);
    let cpu = cpu.iter().copied().fold(f64::MAX, f64::min);
    println!("{label:<34} wall min {min:>7.3} s  max {max:>7.3} s   cpu min {cpu:>7.2} s");
    out.expect("ran three times")
}

fn main() {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("ladder benchmarks ({cores} cores visible), single-threaded checks, 3 runs each");

    for (label, info_rate) in [("20 workers", 0.0), ("5 workers, 2% of writes info", 0.02)] {
        let h = generate(1, if info_rate > 0.0 { 5 } else { 20 }, 1_000, 100_000, info_rate);
        let rh = RegisterHistory::from_history(&h).unwrap();
        println!(
            "-- 100,000 ops, {label}: {} processes, 1,000 keys ({} history lines)",
            rh.process_count(),
            h.len()
        );
        let rh = time("extract register view", || RegisterHistory::from_history(&h).unwrap());
        let v = time("causal: CC + CCv + CM", || causal::check_register(&rh));
        for r in [&v.causal, &v.convergence, &v.memory] {
            assert_eq!(r.valid.exit_code(), 0, "{r:?}");
        }
        time("pram + session guarantees", || session::check_register(&rh));
        let s = time("sequential search", || sequential::check_register(&rh, &SearchBudget::default()));
        println!("   sequential verdict: {} ({})", s.valid.as_str(), s.details);
    }

    // A concurrent history with crashed ops, as `sunder run` records them: 8 clients on 4
    // keys, 5% of calls ending `info` (each retiring its process), 100,000 lines.
    let g = Generation { seed: 1, ops: 100_000, keys: 4, clients: 8, info_rate: 0.05, cas: true };
    let h = register_history(&g);
    let rh = RegisterHistory::from_history(&h).unwrap();
    println!(
        "-- 100,000 lines, 8 concurrent clients, 5% info: {} processes, {} ops, 4 keys",
        rh.process_count(),
        rh.events.len()
    );
    let lin = time("linearizability (for comparison)", || {
        check(&h, ModelKind::Kv, FailSemantics::CasMismatch, &Budget::default())
    });
    assert_eq!(lin.valid, Validity::Valid);
    let v = time("causal: CC + CCv + CM", || causal::check_register(&rh));
    for r in [&v.causal, &v.convergence, &v.memory] {
        assert_eq!(r.valid.exit_code(), 0, "{r:?}");
    }
    time("pram + session guarantees", || session::check_register(&rh));
    time("ladder given linearizable", || {
        ladder::check_view_given(&h, &rh, &LadderBudget::default(), &Implied { linearizable: lin.valid })
    });

    let h = generate(2, 20, 1_000, 1_000_000, 0.0);
    println!("-- 1,000,000 ops, 20 processes, 1,000 keys ({} history lines)", h.len());
    let rh = time("extract register view", || RegisterHistory::from_history(&h).unwrap());
    let r = time("pram + session guarantees", || session::check_register(&rh));
    assert!(r.iter().all(|(_, r)| r.valid.exit_code() == 0));
}
