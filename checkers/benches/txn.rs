//! Timings and peak memory of the transactional checker (a plain `main` that prints
//! numbers; run with `cargo bench -p sunder-check --bench txn`): Elle's `huge-scc.edn`,
//! which makes Elle give up on its cycle search, and generated list-append histories of
//! 100,000 and 1,000,000 transactions (10 processes, 8 active keys of at most 16 appends,
//! up to 4 micro-ops a transaction, 2% fail, 1% info), and an rw-register history of
//! 100,000 from the same executor checked under all three key assumptions. Peak RSS is the process's high-water
//! mark (VmHWM), so it includes the history held in memory, not only the checker.

mod support;

use std::path::Path;
use std::time::Instant;
use sunder_check::import::{Format, load};
use sunder_check::txn::generate::{GenerateOptions, list_append, rw_register};
use sunder_check::txn::{TxnModel, TxnOptions, check};
use support::cpu_seconds;

/// The process's peak resident set in MiB, from `/proc/self/status`.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn report(name: &str, history: &sunder_check::History, loaded_s: f64, opts: &TxnOptions) {
    let before = peak_rss_mib();
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    let r = check(history, opts);
    let wall = t0.elapsed().as_secs_f64();
    println!(
        "{name}: {} txns, {} edges, verdict {}, check {wall:.2} s wall / {:.2} s cpu (load/generate {loaded_s:.2} s), peak RSS {:.0} MiB ({before:.0} MiB before the check), anomalies {}, phases {}",
        r.result.details["transactions"],
        r.result.details["edges"],
        r.result.valid.as_str(),
        cpu_seconds() - cpu0,
        peak_rss_mib(),
        r.result.details["anomaly_counts"],
        r.result.details["seconds"],
    );
}

fn main() {
    let only: Option<String> = std::env::args().nth(1).filter(|a| !a.starts_with('-'));
    let want = |n: &str| only.as_deref().is_none_or(|o| o == n);
    if want("huge-scc") {
        let t = Instant::now();
        // `$SUNDER_DATA`, or shared/data two levels above this crate, as the tests find it.
        let dir = std::env::var_os("SUNDER_DATA")
            .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"), Into::into);
        let h = load(&dir.join("elle/huge-scc.edn"), Format::Auto)
            .expect("huge-scc.edn loads (set SUNDER_DATA to the shared/data folder)")
            .history;
        report("huge-scc.edn", &h, t.elapsed().as_secs_f64(), &TxnOptions::default());
    }
    for (name, n) in [("100k", 100_000), ("1M", 1_000_000)] {
        if !want(name) {
            continue;
        }
        let t = Instant::now();
        let h = list_append(&GenerateOptions { seed: 1, transactions: n, ..Default::default() });
        report(&format!("generated {name}"), &h, t.elapsed().as_secs_f64(), &TxnOptions::default());
    }
    if want("rw-100k") {
        let t = Instant::now();
        let h = rw_register(&GenerateOptions { seed: 1, transactions: 100_000, ..Default::default() });
        let opts = TxnOptions {
            model: TxnModel::RwRegister,
            linearizable_keys: true,
            sequential_keys: true,
            wfr_keys: true,
            ..Default::default()
        };
        report("generated rw-register 100k (all key assumptions)", &h, t.elapsed().as_secs_f64(), &opts);
    }
}
