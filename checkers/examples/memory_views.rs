//! Measures the causal-memory views grown while a history is written
//! (`sunder_check::live::memory_views`) on a stored history: how long feeding every op
//! takes, how many processes it decides clean, whether that agrees with the offline check
//! process by process, and what the offline causal check costs with and without them.
//!
//! `cargo run --release -p sunder-check --example memory_views -- RUN/history.jsonl [--streamed-only]`

use std::time::Instant;
use sunder_check::causal::{self, CausalBudget};
use sunder_check::import::{Format, load};
use sunder_check::ladder::register::RegisterHistory;
use sunder_check::live::memory_views::MemoryViews;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: memory_views HISTORY");
        std::process::exit(2);
    };
    let history = load(std::path::Path::new(&path), Format::Auto).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    let ops = history.history.ops();
    let started = Instant::now();
    let mut views = MemoryViews::new();
    for op in ops {
        views.feed(op);
    }
    let clean = views.finish();
    let streamed = started.elapsed().as_secs_f64();
    let Some(clean) = clean else {
        println!("streamed views gave up after {streamed:.3} s");
        return;
    };
    println!("streamed {} ops in {streamed:.3} s: {} processes clean", ops.len(), clean.clients.len());
    if std::env::args().nth(2).as_deref() == Some("--streamed-only") {
        return;
    }
    let rh = RegisterHistory::from_history(&history.history).expect("a register history");
    let budget = CausalBudget::default();
    let started = Instant::now();
    let whole = causal::check_register_within(&rh, &budget);
    let whole_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let skipping = causal::check_register_knowing(&rh, &budget, Some(&clean));
    let skipping_s = started.elapsed().as_secs_f64();
    let same = format!("{:?}", whole.into_named()) == format!("{:?}", skipping.into_named());
    println!(
        "offline causal check: {whole_s:.3} s growing every view, {skipping_s:.3} s skipping the clean ones; same verdicts: {same}"
    );
    if let Some((flagged, offline_clean)) = causal::memory_views_by_process(&rh) {
        let wrong = flagged.iter().filter(|p| clean.contains(**p)).count();
        let missed = offline_clean.iter().filter(|p| !clean.contains(**p)).count();
        println!(
            "{} processes: {} clean offline, {} flagged; streamed clean but flagged: {wrong}; clean but not streamed so: {missed}",
            rh.process_count(),
            offline_clean.len(),
            flagged.len()
        );
    }
}
