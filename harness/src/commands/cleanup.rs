//! `sunder cleanup`: finds runs in the store whose harness is gone (their `harness.pid` is
//! still there, but that pid is no longer a `sunder` process) and removes what they left:
//! node processes (by pid file, and by the namespaces they live in, each checked to be a
//! `sunder node` of that run, or an external system's binary such as etcd whose environment
//! carries the run's `SUNDER_RUN_ID`), Sunder's iptables chains and the run's namespaces.
//! Nothing of a live run, and nothing Sunder did not create, is touched. With `--hosts
//! FILE` it first does the same on each remote host (see [`crate::remote::cleanup`]).

use crate::cli::CleanupArgs;
use crate::store::RunDir;
use anyhow::{Context, Result};
use std::collections::BTreeSet;
use sunder_nemesis::cleanup::{self, DeadRun};

/// Cleans up dead runs; exit code 0, or 3 when something could not be removed.
pub fn run(args: CleanupArgs) -> Result<u8> {
    let mut remote_problems = Vec::new();
    if let Some(file) = &args.hosts {
        let (lines, problems) = crate::remote::cleanup(file)?;
        lines.iter().for_each(|l| println!("{l}"));
        remote_problems = problems;
    }
    let mut dead = Vec::new();
    let mut live = BTreeSet::new();
    if args.store.exists() {
        let store =
            args.store.canonicalize().with_context(|| format!("cannot resolve {}", args.store.display()))?;
        for run in RunDir::all(&store)? {
            let Some((pid, run_id)) = run.running_harness() else { continue };
            if cleanup::cmdline(pid).is_some_and(|c| c.first().is_some_and(|a| a.contains("sunder"))) {
                println!("{}: still running (harness pid {pid}); left alone", run.path.display());
                live.insert(run_id);
                continue;
            }
            let pid_files = run.node_pid_files();
            dead.push((run, DeadRun { run_id, pid_files }));
        }
    }
    let mut runs: Vec<DeadRun> =
        dead.iter().map(|(_, d)| d.clone()).filter(|d| !d.run_id.is_empty()).collect();
    // Runs whose folder is gone: their namespaces are found, and claimed only when nothing
    // lives in their control namespace and they are old enough not to be starting.
    for orphan in cleanup::orphaned_runs().context("cannot list orphaned runs")? {
        if !live.contains(&orphan.run_id) && !runs.iter().any(|r| r.run_id == orphan.run_id) {
            println!(
                "run {}: its folder is gone and nothing runs in it; removing what it left",
                orphan.run_id
            );
            runs.push(orphan);
        }
    }
    let leftovers = cleanup::find_leftovers(&runs)?;
    let report = cleanup::remove(&leftovers);
    for (run, d) in &dead {
        for f in &d.pid_files {
            let _ = std::fs::remove_file(f);
        }
        run.mark_finished();
    }
    let known: BTreeSet<&str> =
        runs.iter().map(|d| d.run_id.as_str()).chain(live.iter().map(|s| s.as_str())).collect();
    for run_id in cleanup::sunder_namespaces().unwrap_or_default().keys() {
        if !known.contains(run_id.as_str()) {
            println!("namespaces of run {run_id} belong to no run in {}; left alone", args.store.display());
        }
    }
    let namespaces: usize = leftovers.namespaces.values().map(Vec::len).sum();
    println!(
        "cleanup: {} dead run(s), {} node process(es) ended, {namespaces} namespace(s) removed",
        runs.len(),
        report.killed.len()
    );
    for p in report.problems.iter().chain(&remote_problems) {
        eprintln!("sunder: cleanup: {p}");
    }
    Ok(if report.problems.is_empty() && remote_problems.is_empty() { 0 } else { crate::EXIT_HARNESS_FAILED })
}
