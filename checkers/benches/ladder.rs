//! Timings of the consistency-model ladder on large generated histories (a plain `main`
//! that prints numbers; run with `cargo bench -p sunder-check --bench ladder`).
//!
//! Histories come from 20 client processes doing reads (50%), writes (40%) and cas (10%)
//! on 1,000 keys of one atomic store, seeded, so every model holds and every check does
//! its full work instead of stopping at a first violation. "Ops" below are operations
//! (an invocation and its completion are one operation, two history lines). A third
//! history is concurrent with crashed ops (`linearizable::generate`, 8 clients, 5% `info`),
//! timed against linearizability and through `ladder::check_view_given`, as it is and
//! with one read made stale (so linearizability fails and the whole ladder runs).
//! Sections: `atomic`, `crashed`, `failing` (the last part of `crashed` alone, to profile),
//! `long` (all by default: `cargo bench -p sunder-check
//! --bench ladder -- crashed`); `SUNDER_BENCH_LONG=1` adds the 1,000,000-line kv history
//! with crashed ops to `crashed`; `SUNDER_BENCH_SPLIT=1` times each part of the ladder in
//! `failing` alone.

mod support;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use std::hint::black_box;
use std::time::{Duration, Instant};
use sunder_check::Validity;
use sunder_check::causal;
use sunder_check::history::{History, Op, OpType, Strictness};
use sunder_check::ladder::register::RegisterHistory;
use sunder_check::ladder::{self, Implied, LadderBudget};
use sunder_check::linearizable::generate::{
    Generation, register_history, with_lagging_reader, with_stale_read,
};
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

/// CPU time this process has used, all its threads together (those that ended too), in
/// seconds to the nanosecond: Linux's process CPU-time clock. The clock ticks of
/// [`cpu_seconds`] (10 ms) are too coarse for checks of a tenth of a second; it is the
/// fallback should the clock be refused.
fn cpu_precise() -> f64 {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    unsafe extern "C" {
        fn clock_gettime(clock: i32, now: *mut Timespec) -> i32;
    }
    const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
    let mut now = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `now` is a valid, writable timespec, the only memory the call touches.
    if unsafe { clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mut now) } != 0 {
        return cpu_seconds();
    }
    now.sec as f64 + now.nsec as f64 / 1e9
}

/// Runs `f` three times and prints the fastest and slowest wall time and the fastest CPU
/// time: the machine is shared, so the fastest run is the best estimate of the work
/// itself, and CPU time does not count time spent waiting for a core.
fn time<T>(label: &str, f: impl Fn() -> T) -> T {
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    let mut out = None;
    for _ in 0..3 {
        let (start, cpu_start) = (Instant::now(), cpu_precise());
        out = Some(black_box(f()));
        wall.push(start.elapsed().as_secs_f64());
        cpu.push(cpu_precise() - cpu_start);
    }
    let min = wall.iter().copied().fold(f64::MAX, f64::min);
    let max = wall.iter().copied().fold(0.0, f64::max);
    let cpu = cpu.iter().copied().fold(f64::MAX, f64::min);
    println!("{label:<34} wall min {min:>7.3} s  max {max:>7.3} s   cpu min {cpu:>7.3} s");
    out.expect("ran three times")
}

/// Times the whole ladder on a concurrent history with crashed ops that linearizability
/// rejects, so every model is really checked (`check_view_given` told `Invalid`), next to
/// linearizability on the same history, and prints each check's part and verdict.
fn crashed_and_not_linearizable(label: &str, g: &Generation) {
    let valid = register_history(g);
    let h = with_stale_read(&valid, g.seed).expect("the history has a read to make stale");
    let rh = RegisterHistory::from_history(&h).unwrap();
    println!(
        "-- {label}, one read made stale: {} processes, {} ops, {} keys ({} lines)",
        rh.process_count(),
        rh.events.len(),
        rh.keys.len(),
        h.len()
    );
    time("linearizability of it unmutated", || {
        check(&valid, ModelKind::Kv, FailSemantics::CasMismatch, &Budget::default())
    });
    // The search may not decide a stale read among many crashed ops (issue 12, point 4):
    // one run within 5 s says which; for the ladder, `Invalid` and `Unknown` are the same.
    let (start, cpu_start) = (Instant::now(), cpu_seconds());
    let budget = Budget { time: Some(Duration::from_secs(5)), ..Budget::default() };
    let lin = check(&h, ModelKind::Kv, FailSemantics::CasMismatch, &budget);
    println!(
        "linearizability of it (5 s budget)  {} in {:.3} s wall, {:.2} s cpu",
        lin.valid.as_str(),
        start.elapsed().as_secs_f64(),
        cpu_seconds() - cpu_start
    );
    assert_ne!(lin.valid, Validity::Valid, "the stale read must break linearizability");
    time("extract register view", || RegisterHistory::from_history(&h).unwrap());
    let v = time("causal: CC + CCv + CM", || causal::check_register(&rh));
    println!(
        "   causal {}, causal-convergence {}, causal-memory {}",
        v.causal.valid.as_str(),
        v.convergence.valid.as_str(),
        v.memory.valid.as_str()
    );
    time("pram + session guarantees", || session::check_register(&rh));
    // The ladder skips the search when a causal model fails; alone, it is bounded by its
    // budget: one run within 5 s.
    let (start, cpu_start) = (Instant::now(), cpu_seconds());
    let budget = SearchBudget { max_time: Duration::from_secs(5), ..SearchBudget::default() };
    let s = sequential::check_register(&rh, &budget);
    println!(
        "sequential search alone (5 s budget)  {} in {:.3} s wall, {:.2} s cpu ({})",
        s.valid.as_str(),
        start.elapsed().as_secs_f64(),
        cpu_seconds() - cpu_start,
        s.details
    );
    let given = Implied { linearizable: lin.valid, clean_views: None };
    let out = time("whole ladder, linearizability failed", || {
        ladder::check_view_given(&h, &rh, &LadderBudget::default(), &given)
    });
    let verdicts: Vec<String> = out.iter().map(|(m, r)| format!("{m} {}", r.valid.as_str())).collect();
    println!("   ladder: {}", verdicts.join(", "));
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let wants = |name: &str| args.is_empty() || args.iter().any(|a| a == name);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("ladder benchmarks ({cores} cores visible), single-threaded checks, 3 runs each");

    if wants("atomic") {
        atomic_store_histories();
    }
    if wants("crashed") {
        crashed_histories();
    }
    if wants("failing") {
        failing_ladder_only();
    }
    if wants("sequential") {
        sequential_growth();
    }
    if wants("long") {
        let h = generate(2, 20, 1_000, 1_000_000, 0.0);
        println!("-- 1,000,000 ops, 20 processes, 1,000 keys ({} history lines)", h.len());
        let rh = time("extract register view", || RegisterHistory::from_history(&h).unwrap());
        let r = time("pram + session guarantees", || session::check_register(&rh));
        assert!(r.iter().all(|(_, r)| r.valid.exit_code() == 0));
    }
}

/// Only the whole ladder on the failing crashed-op history of `crashed`, next to
/// linearizability of its unmutated version, without the searches that spend their
/// budget: the section to profile (`perf record` on `-- failing`).
fn failing_ladder_only() {
    let g = Generation { seed: 1, ops: 100_000, keys: 4, clients: 8, info_rate: 0.05, cas: true };
    let valid = register_history(&g);
    let h = with_stale_read(&valid, g.seed).expect("the history has a read to make stale");
    let rh = RegisterHistory::from_history(&h).unwrap();
    println!(
        "-- failing: 100,000 lines, 8 concurrent clients, 5% info, one read stale: {} processes, {} ops",
        rh.process_count(),
        rh.events.len()
    );
    time("linearizability of it unmutated", || {
        check(&valid, ModelKind::Kv, FailSemantics::CasMismatch, &Budget::default())
    });
    if std::env::var_os("SUNDER_BENCH_VALID").is_some() {
        let rh = RegisterHistory::from_history(&valid).unwrap();
        time("causal of it unmutated", || causal::check_register(&rh));
        return;
    }
    if std::env::var_os("SUNDER_BENCH_SPLIT").is_some() {
        // Each part of the whole ladder alone, to tell where its time goes.
        let causal_budget = causal::CausalBudget::default();
        time("  CO clocks alone", || causal::order::CausalOrder::new(&rh, &causal_budget).is_ok());
        time("  CC + CCv + CM (CO included)", || causal::check_register_within(&rh, &causal_budget));
        time("  pram + session guarantees", || session::check_register(&rh));
        time("  convergence", || sunder_check::convergence::check_register(&h, &rh));
    }
    let given = Implied { linearizable: Validity::Invalid, clean_views: None };
    let rounds = std::env::var("SUNDER_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(1);
    for _ in 0..rounds {
        time("whole ladder, linearizability failed", || {
            ladder::check_view_given(&h, &rh, &LadderBudget::default(), &given)
        });
    }
}

/// The 100,000-op histories of one atomic store (every model holds).
fn atomic_store_histories() {
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
}

/// Concurrent histories with crashed ops, as `sunder run` records them: the 100,000-line
/// one (8 clients on 4 keys, 5% of calls ending `info`, each retiring its process) as it
/// is, given linearizability held, then with one stale read; and the 1,000,000-line kv
/// history of the linearizability bench with one stale read.
fn crashed_histories() {
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
        ladder::check_view_given(
            &h,
            &rh,
            &LadderBudget::default(),
            &Implied { linearizable: lin.valid, clean_views: None },
        )
    });
    // What the ladder costs when linearizability is undecided on a history where every
    // model holds: every check runs, the sequential search included (one run, with the
    // search limited to 5 s).
    let budget = LadderBudget {
        sequential: SearchBudget { max_time: Duration::from_secs(5), ..SearchBudget::default() },
    };
    let (start, cpu_start) = (Instant::now(), cpu_seconds());
    let out = ladder::check_view_given(
        &h,
        &rh,
        &budget,
        &Implied { linearizable: Validity::Unknown, clean_views: None },
    );
    if let Some((_, r)) = out.iter().find(|(m, _)| m == "sequential") {
        println!("   sequential: {}", r.reason.as_deref().unwrap_or(""));
    }
    println!(
        "whole ladder, linearizability unknown (search 5 s)  {:.3} s wall, {:.2} s cpu",
        start.elapsed().as_secs_f64(),
        cpu_seconds() - cpu_start
    );
    let verdicts: Vec<String> = out.iter().map(|(m, r)| format!("{m} {}", r.valid.as_str())).collect();
    println!("   ladder: {}", verdicts.join(", "));
    // A reader that lags (its process's first read returns an overwritten value): not
    // linearizable, yet every model below holds, so the search must find the order.
    let lagging = with_lagging_reader(&h, g.seed).expect("a process begins with a read");
    let rh = RegisterHistory::from_history(&lagging).unwrap();
    let (start, cpu_start) = (Instant::now(), cpu_seconds());
    let out = ladder::check_view_given(
        &lagging,
        &rh,
        &LadderBudget::default(),
        &Implied { linearizable: Validity::Invalid, clean_views: None },
    );
    println!(
        "whole ladder, a lagging reader (linearizability failed)  {:.3} s wall, {:.2} s cpu",
        start.elapsed().as_secs_f64(),
        cpu_seconds() - cpu_start
    );
    let verdicts: Vec<String> = out.iter().map(|(m, r)| format!("{m} {}", r.valid.as_str())).collect();
    println!("   ladder: {}", verdicts.join(", "));
    crashed_and_not_linearizable("100,000 lines, 8 concurrent clients, 5% info", &g);
    if std::env::var_os("SUNDER_BENCH_LONG").is_some() {
        let g = Generation { seed: 1, ops: 1_000_000, keys: 1_000, clients: 32, info_rate: 0.01, cas: true };
        crashed_and_not_linearizable("1,000,000 lines, 1,000 keys, 32 clients, 1% info", &g);
    }
}

/// The sequential search on crashed-op histories of growing length (the shape of
/// `crashed`: 8 clients, 4 keys, 5% info), as they are (linearizable, so sequential) and
/// with one stale read (sequential still), each within 60 s: how many states it needs and
/// what one state costs, against linearizability of the same history.
fn sequential_growth() {
    let lines: Vec<usize> = std::env::var("SUNDER_BENCH_LINES")
        .ok()
        .map(|l| l.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 20_000, 50_000, 100_000]);
    for ops in lines {
        let g = Generation { seed: 1, ops, keys: 4, clients: 8, info_rate: 0.05, cas: true };
        let valid = register_history(&g);
        let cases = [
            ("as it is", Some(valid.clone())),
            ("one read stale", with_stale_read(&valid, g.seed)),
            ("a lagging reader", with_lagging_reader(&valid, g.seed)),
        ];
        for (label, h) in cases {
            let Some(h) = h else { continue };
            let rh = RegisterHistory::from_history(&h).unwrap();
            let cpu_start = cpu_precise();
            let lin = check(&h, ModelKind::Kv, FailSemantics::CasMismatch, &Budget::default());
            let lin_cpu = cpu_precise() - cpu_start;
            let (start, cpu_start) = (Instant::now(), cpu_precise());
            let s = sequential::check_register(&rh, &SearchBudget::default());
            println!(
                "-- {ops} lines, {label}: {} processes, {} ops; linearizability {} in {lin_cpu:.3} s cpu; sequential {} in {:.3} s wall, {:.2} s cpu ({})",
                rh.process_count(),
                rh.events.len(),
                lin.valid.as_str(),
                s.valid.as_str(),
                start.elapsed().as_secs_f64(),
                cpu_precise() - cpu_start,
                s.details
            );
            if label == "a lagging reader" {
                // Every model below linearizability holds here, so the whole ladder runs,
                // the search included.
                let (start, cpu_start) = (Instant::now(), cpu_precise());
                let out = ladder::check_view_given(
                    &h,
                    &rh,
                    &LadderBudget::default(),
                    &Implied { linearizable: lin.valid, clean_views: None },
                );
                let verdicts: Vec<String> =
                    out.iter().map(|(m, r)| format!("{m} {}", r.valid.as_str())).collect();
                println!(
                    "   whole ladder, linearizability {}: {:.3} s wall, {:.2} s cpu; {}",
                    lin.valid.as_str(),
                    start.elapsed().as_secs_f64(),
                    cpu_precise() - cpu_start,
                    verdicts.join(", ")
                );
            }
        }
    }
}
