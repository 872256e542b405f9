//! Times Sunder's linearizability checker per group of histories and prints the numbers
//! `docs/benchmarks.md` records: Porcupine's etcd logs, Porcupine's kv files, Knossos's
//! histories (all from the shared data set), and generated histories (a 1,000,000-op kv
//! history over 1,000 keys, and a 10,000-op single-key cas register with 16 clients).
//! Loading is not timed; each group is checked `RUNS` times and the best and median
//! totals are printed.
//!
//! `cargo bench -p sunder-check --bench linearizable [-- GROUP...]`, GROUP one of `etcd`,
//! `kv`, `knossos`, `generated`, `single-key`,
//! `many-clients`; the data set is `$SUNDER_DATA` or `<repo>/../shared/data`.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use sunder_check::Validity;
use sunder_check::history::History;
use sunder_check::import::{FailSemantics, Format, load};
use sunder_check::linearizable::generate::{Generation, register_history, with_stale_read};
use sunder_check::linearizable::{Budget, ModelKind, check};
use support::cpu_seconds;

const RUNS: usize = 7;

struct Case {
    name: String,
    history: History,
    model: ModelKind,
    semantics: FailSemantics,
}

fn data_dir() -> PathBuf {
    std::env::var_os("SUNDER_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"))
}

fn load_dir(dir: &Path, model: &ModelKind, filter: impl Fn(&str) -> bool) -> Vec<Case> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}; set SUNDER_DATA", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| filter(&p.file_name().unwrap_or_default().to_string_lossy()))
        .collect();
    names.sort();
    names
        .into_iter()
        .filter(|p| std::fs::metadata(p).map(|m| m.len() > 0).unwrap_or(false))
        .map(|p| {
            let imported = load(&p, Format::Auto).unwrap_or_else(|e| panic!("{e}"));
            Case {
                name: p.file_name().unwrap_or_default().to_string_lossy().into_owned(),
                history: imported.history,
                model: model.clone(),
                semantics: imported.fail_semantics,
            }
        })
        .collect()
}

/// Checks every case once; returns the total time and the verdict counts.
fn check_all(cases: &[Case], budget: &Budget) -> (Duration, [usize; 3]) {
    let mut counts = [0; 3];
    let started = Instant::now();
    for case in cases {
        let r = check(&case.history, case.model.clone(), case.semantics, budget);
        counts[match r.valid {
            Validity::Valid => 0,
            Validity::Invalid => 1,
            Validity::Unknown => 2,
        }] += 1;
    }
    (started.elapsed(), counts)
}

fn report(group: &str, cases: &[Case], budget: &Budget) {
    let ops: usize = cases.iter().map(|c| c.history.len()).sum();
    let mut times = Vec::new();
    let mut counts = [0; 3];
    let cpu_before = cpu_seconds();
    for _ in 0..RUNS {
        let (t, c) = check_all(cases, budget);
        times.push(t);
        counts = c;
    }
    let cpu_per_run = (cpu_seconds() - cpu_before) / RUNS as f64;
    times.sort();
    println!(
        "{group:<10} files={:<4} ops={:<8} best={:>9.3} ms  median={:>9.3} ms  cpu/run={:>8.1} ms  valid={} invalid={} unknown={}",
        cases.len(),
        ops,
        times[0].as_secs_f64() * 1e3,
        times[times.len() / 2].as_secs_f64() * 1e3,
        cpu_per_run * 1e3,
        counts[0],
        counts[1],
        counts[2]
    );
    if std::env::var_os("SUNDER_BENCH_PER_FILE").is_some() {
        for case in cases {
            let (t, _) = check_all(std::slice::from_ref(case), budget);
            println!("  {:<40} {:>9.3} ms", case.name, t.as_secs_f64() * 1e3);
        }
    }
}

/// Peak resident memory of this process so far, from /proc.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn generated(budget: &Budget) {
    let g = Generation { seed: 1, ops: 1_000_000, keys: 1_000, clients: 32, info_rate: 0.01, cas: true };
    let started = Instant::now();
    let h = register_history(&g);
    let generation = started.elapsed();
    let started = Instant::now();
    let r = check(&h, ModelKind::Kv, FailSemantics::CasMismatch, budget);
    println!(
        "generated  kv 1,000,000 ops, 1,000 keys, 32 clients, 1% info: {:?} in {:.3} s (generation {:.3} s), peak RSS {:.0} MiB, memo entries {}",
        r.valid,
        started.elapsed().as_secs_f64(),
        generation.as_secs_f64(),
        peak_rss_mib().unwrap_or(f64::NAN),
        r.details["memo_entries"]
    );
    // What `sunder check` on a run folder does: read the JSONL file back, then check.
    let path = std::env::temp_dir().join(format!("sunder-bench-{}.jsonl", std::process::id()));
    let mut text = String::with_capacity(h.len() * 110);
    for op in h.ops() {
        text.push_str(&serde_json::to_string(op).expect("ops serialize"));
        text.push('\n');
    }
    drop(h);
    std::fs::write(&path, text).expect("temp file is writable");
    let started = Instant::now();
    let read = sunder_check::history::read_jsonl(&path);
    let _ = std::fs::remove_file(&path);
    let h = read.expect("the written history reads back");
    let reading = started.elapsed();
    let r = check(&h, ModelKind::Kv, FailSemantics::CasMismatch, budget);
    println!(
        "generated  same history read from JSONL then checked: {:?} in {:.3} s (reading {:.3} s), peak RSS {:.0} MiB",
        r.valid,
        started.elapsed().as_secs_f64(),
        reading.as_secs_f64(),
        peak_rss_mib().unwrap_or(f64::NAN)
    );
    drop(h);
    for seed in 1..=3 {
        let g = Generation { seed, ops: 10_000, keys: 1, clients: 16, info_rate: 0.01, cas: true };
        let h = register_history(&g);
        let started = Instant::now();
        let r = check(&h, ModelKind::CasRegister { initial: None }, FailSemantics::CasMismatch, budget);
        println!(
            "generated  cas-register 10,000 ops, 1 key, 16 clients, seed {seed}: {:?} in {:.3} s, memo entries {}, peak RSS {:.0} MiB{}",
            r.valid,
            started.elapsed().as_secs_f64(),
            r.details["memo_entries"],
            peak_rss_mib().unwrap_or(f64::NAN),
            r.reason.map(|why| format!(" ({why})")).unwrap_or_default()
        );
    }
}

/// Long histories of one key (the memo's window must follow the search, not be rescanned)
/// and one key under many concurrent clients with crashed ops left open.
fn single_key(budget: &Budget) {
    for ops in [100_000, 1_000_000] {
        let g = Generation { seed: 1, ops, keys: 1, clients: 8, info_rate: 0.01, cas: true };
        let h = register_history(&g);
        let (cpu, started) = (cpu_seconds(), Instant::now());
        let r = check(&h, ModelKind::CasRegister { initial: None }, FailSemantics::CasMismatch, budget);
        println!(
            "single-key cas register {ops} lines, 8 clients, 1% info: {:?} in {:.3} s wall, {:.3} s cpu, memo entries {}{}",
            r.valid,
            started.elapsed().as_secs_f64(),
            cpu_seconds() - cpu,
            r.details["memo_entries"],
            r.reason.map(|why| format!(" ({why})")).unwrap_or_default()
        );
    }
}

/// One key under 40 to 50 concurrent clients, with crashed (`info`) ops left open: reads
/// and writes, then with cas too (under a 20 s budget, as the search may be needed).
fn many_clients() {
    let budget = Budget { time: Some(Duration::from_secs(20)), memory_bytes: Some(1 << 30) };
    for (clients, ops, info_rate, cas) in [
        (40, 5_000, 0.012, false),
        (50, 5_000, 0.012, false),
        (50, 20_000, 0.01, false),
        (50, 5_000, 0.012, true),
    ] {
        for seed in 1..=3 {
            let g = Generation { seed, ops, keys: 1, clients, info_rate, cas };
            let h = register_history(&g);
            let crashed = h.ops().iter().filter(|o| o.kind == sunder_check::history::OpType::Info).count();
            let (cpu, started) = (cpu_seconds(), Instant::now());
            let r = check(&h, ModelKind::CasRegister { initial: None }, FailSemantics::CasMismatch, &budget);
            println!(
                "single-key {} {ops} lines, {clients} clients, {crashed} crashed, seed {seed}: {:?} in {:.3} s wall, {:.3} s cpu, built {}, memo entries {}{}",
                if cas { "cas register" } else { "register" },
                r.valid,
                started.elapsed().as_secs_f64(),
                cpu_seconds() - cpu,
                r.details["constructed"],
                r.details["memo_entries"],
                r.reason.map(|why| format!(" ({why})")).unwrap_or_default()
            );
        }
    }
}

/// A stale read among crashed ops (issue 12's "Why": it went `unknown` from 10,000 to
/// 30,000 lines at 1% crashed), under a 10 s budget: 8 clients, 1 or 4 keys.
fn stale_among_crashed() {
    let budget = Budget { time: Some(Duration::from_secs(10)), memory_bytes: Some(1 << 30) };
    for (ops, keys, info_rate) in
        [(10_000, 1, 0.01), (30_000, 1, 0.01), (30_000, 4, 0.01), (100_000, 4, 0.01), (100_000, 4, 0.05)]
    {
        for seed in 1..=2 {
            let g = Generation { seed, ops, keys, clients: 8, info_rate, cas: true };
            let h = with_stale_read(&register_history(&g), seed).expect("a read can be made stale");
            let (cpu, started) = (cpu_seconds(), Instant::now());
            let r = check(&h, ModelKind::Kv, FailSemantics::CasMismatch, &budget);
            println!(
                "stale read, {ops} lines, {keys} keys, {}% info, seed {seed}: {:?} in {:.3} s wall, {:.3} s cpu{}",
                info_rate * 100.0,
                r.valid,
                started.elapsed().as_secs_f64(),
                cpu_seconds() - cpu,
                r.details.get("decided_by").map(|d| format!(" ({d})")).unwrap_or_default()
            );
        }
    }
}

fn main() {
    let groups: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let wants = |g: &str| groups.is_empty() || groups.iter().any(|x| x == g);
    let dir = data_dir();
    let budget = Budget { time: Some(Duration::from_secs(60)), memory_bytes: Some(1 << 30) };
    println!("threads available: {}", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    if wants("etcd") {
        let cases = load_dir(&dir.join("porcupine/etcd"), &ModelKind::CasRegister { initial: None }, |n| {
            n.ends_with(".log")
        });
        report("etcd", &cases, &budget);
    }
    if wants("kv") {
        let cases = load_dir(&dir.join("porcupine/kv"), &ModelKind::Kv, |n| n.ends_with(".txt"));
        report("kv", &cases, &budget);
    }
    if wants("knossos") {
        let mut cases = Vec::new();
        for (sub, model) in [
            ("knossos/cas-register/good", "cas-register 0"),
            ("knossos/cas-register/bad", "cas-register 0"),
            ("knossos/multi-register/good", "multi-register {:x 0 :y 0}"),
            ("knossos/mutex/bad", "mutex"),
        ] {
            cases.extend(load_dir(&dir.join(sub), &model.parse().expect("model name"), |n| {
                n.ends_with(".edn")
            }));
        }
        report("knossos", &cases, &budget);
    }
    if wants("generated") {
        generated(&budget);
    }
    if wants("single-key") {
        single_key(&budget);
    }
    if wants("many-clients") {
        many_clients();
    }
    if wants("stale-crashed") {
        stale_among_crashed();
    }
}
