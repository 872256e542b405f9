//! `sunder cleanup`: finds runs in the store whose harness is gone (its `harness.pid` is
//! still there, but that pid is no longer a `sunder` process) and ends their leftover nodes.
//! A node is ended only when its pid file's process is still a `sunder node` whose data dir
//! lies in that run's folder: never by name, never a process Sunder did not start.

use crate::cli::CleanupArgs;
use anyhow::{Context, Result};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::path::Path;

/// Cleans up dead runs; exit code 0.
pub fn run(args: CleanupArgs) -> Result<u8> {
    if !args.store.exists() {
        println!("no store at {}: nothing to clean", args.store.display());
        return Ok(0);
    }
    let store =
        args.store.canonicalize().with_context(|| format!("cannot resolve {}", args.store.display()))?;
    let mut ended = 0;
    let mut runs = 0;
    for test in read_dirs(&store)? {
        for run in read_dirs(&test)? {
            let pid_file = run.join("harness.pid");
            let Ok(text) = std::fs::read_to_string(&pid_file) else { continue };
            let harness: Option<i32> = text.split_whitespace().next().and_then(|p| p.parse().ok());
            if let Some(pid) = harness
                && cmdline(pid).is_some_and(|c| c.first().is_some_and(|a| a.contains("sunder")))
            {
                println!("{}: still running (harness pid {pid}); left alone", run.display());
                continue;
            }
            runs += 1;
            for node in read_dirs(&run.join("nodes")).unwrap_or_default() {
                let Ok(p) = std::fs::read_to_string(node.join("pid")) else { continue };
                let Ok(pid) = p.trim().parse::<i32>() else { continue };
                if is_node_of_run(pid, &run) {
                    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                    println!("ended node {} (pid {pid}) of {}", node.display(), run.display());
                    ended += 1;
                }
                let _ = std::fs::remove_file(node.join("pid"));
            }
            let _ = std::fs::remove_file(&pid_file);
        }
    }
    println!("cleanup: {runs} dead run(s), {ended} node process(es) ended");
    Ok(0)
}

fn read_dirs(p: &Path) -> Result<Vec<std::path::PathBuf>> {
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

/// The argv of a live process.
fn cmdline(pid: i32) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        raw.split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect(),
    )
}

/// True when `pid` is a `sunder node` whose `--data` lies inside `run`.
fn is_node_of_run(pid: i32, run: &Path) -> bool {
    let Some(args) = cmdline(pid) else { return false };
    let is_node = args.get(1).is_some_and(|a| a == "node");
    let data_in_run = args.windows(2).any(|w| w[0] == "--data" && Path::new(&w[1]).starts_with(run));
    is_node && data_in_run
}
