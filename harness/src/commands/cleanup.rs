//! `sunder cleanup`: finds runs in the store whose harness is gone (their `harness.pid` is
//! still there, but that pid is no longer a `sunder` process) and removes what they left:
//! node processes (by pid file, and by the namespaces they live in, each checked to be a
//! `sunder node` of that run), Sunder's iptables chains and the run's namespaces. Nothing of
//! a live run, and nothing Sunder did not create, is touched.

use crate::cli::CleanupArgs;
use anyhow::{Context, Result};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use sunder_nemesis::cleanup::{self, DeadRun};

/// Cleans up dead runs; exit code 0, or 3 when something could not be removed.
pub fn run(args: CleanupArgs) -> Result<u8> {
    let mut dead = Vec::new();
    let mut live = BTreeSet::new();
    if args.store.exists() {
        let store =
            args.store.canonicalize().with_context(|| format!("cannot resolve {}", args.store.display()))?;
        for test in read_dirs(&store)? {
            for run in read_dirs(&test)? {
                let pid_file = run.join("harness.pid");
                let Ok(text) = std::fs::read_to_string(&pid_file) else { continue };
                let mut fields = text.split_whitespace();
                let harness: Option<u32> = fields.next().and_then(|p| p.parse().ok());
                let run_id = fields.next().unwrap_or("").to_string();
                if let Some(pid) = harness
                    && cleanup::cmdline(pid).is_some_and(|c| c.first().is_some_and(|a| a.contains("sunder")))
                {
                    println!("{}: still running (harness pid {pid}); left alone", run.display());
                    live.insert(run_id);
                    continue;
                }
                let pid_files = read_dirs(&run.join("nodes"))
                    .unwrap_or_default()
                    .into_iter()
                    .map(|n| n.join("pid"))
                    .collect();
                dead.push((run, DeadRun { run_id, pid_files }));
            }
        }
    }
    let runs: Vec<DeadRun> = dead.iter().map(|(_, d)| d.clone()).filter(|d| !d.run_id.is_empty()).collect();
    let leftovers = cleanup::find_leftovers(&runs)?;
    let report = cleanup::remove(&leftovers);
    for (run, d) in &dead {
        for f in &d.pid_files {
            let _ = std::fs::remove_file(f);
        }
        let _ = std::fs::remove_file(run.join("harness.pid"));
    }
    let known: BTreeSet<&str> =
        dead.iter().map(|(_, d)| d.run_id.as_str()).chain(live.iter().map(|s| s.as_str())).collect();
    for run_id in cleanup::sunder_namespaces().unwrap_or_default().keys() {
        if !known.contains(run_id.as_str()) {
            println!("namespaces of run {run_id} belong to no run in {}; left alone", args.store.display());
        }
    }
    let namespaces: usize = leftovers.namespaces.values().map(Vec::len).sum();
    println!(
        "cleanup: {} dead run(s), {} node process(es) ended, {namespaces} namespace(s) removed",
        dead.len(),
        report.killed.len()
    );
    for p in &report.problems {
        eprintln!("sunder: cleanup: {p}");
    }
    Ok(if report.problems.is_empty() { 0 } else { crate::EXIT_HARNESS_FAILED })
}

fn read_dirs(p: &Path) -> Result<Vec<PathBuf>> {
    let mut out = vec![];
    for e in std::fs::read_dir(p).with_context(|| format!("cannot list {}", p.display()))? {
        let e = e?;
        if e.file_type()?.is_dir() {
            out.push(e.path());
        }
    }
    out.sort();
    Ok(out)
}
