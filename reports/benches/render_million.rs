//! Renders the report of a synthetic 1,000,000-op run and prints the time and sizes:
//! `cargo bench -p sunder-report --bench render_million [-- OPS]`. The targets:
//! under 10 s and under 25 MB of HTML.

use std::time::Instant;
use sunder_report::synthetic::SyntheticRun;

fn main() {
    let ops: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("sunder-bench-render-{}", std::process::id()));
    let spec = SyntheticRun { ops, concurrency: 10, keys: 5, invalid: true, ..SyntheticRun::default() };
    let t = Instant::now();
    let generated = spec.write(&dir).expect("write synthetic run");
    println!("generate: {} ops in {:.2} s", generated.ops, t.elapsed().as_secs_f64());
    let history_bytes = std::fs::metadata(dir.join("history.jsonl")).map(|m| m.len()).unwrap_or(0);
    let mut times = vec![];
    for _ in 0..3 {
        let t = Instant::now();
        let s = sunder_report::render_run(&dir).expect("render");
        times.push(t.elapsed().as_secs_f64());
        assert_eq!(s.ops, generated.ops);
    }
    times.sort_by(f64::total_cmp);
    let size = |f: &str| std::fs::metadata(dir.join(f)).map(|m| m.len()).unwrap_or(0);
    println!("history.jsonl: {:.1} MB", history_bytes as f64 / 1e6);
    println!("render_run: min {:.2} s, median {:.2} s, max {:.2} s (3 runs)", times[0], times[1], times[2]);
    println!("report.html: {:.2} MB", size("report.html") as f64 / 1e6);
    println!("junit.xml: {} bytes, summary.md: {} bytes", size("junit.xml"), size("summary.md"));
    if std::env::var_os("SUNDER_BENCH_KEEP").is_some() {
        println!("kept {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
