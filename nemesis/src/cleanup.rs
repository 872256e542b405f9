//! Recovery after runs that died without tearing down (SIGKILL, power loss): finds what a
//! dead run left (its namespaces, the Sunder chains inside them, and its node processes)
//! and removes exactly that. Which runs are dead is the harness's call (it knows each
//! run's harness pid); this module only acts on the run ids it is given, and a process is
//! killed only if its `/proc/PID/cmdline` shows a `sunder node` command carrying that run
//! id, so a recycled pid or someone else's namespace is never touched. libfaketime's files
//! in `/dev/shm` of the run's node pids (those killed here, and those named by its pid
//! files whose processes are gone) are removed too.

use crate::error::{NemesisError, Result};
use crate::net::names;
use crate::net::namespace::{NETNS_DIR, netns_path};
use crate::net::netns;
use crate::process::proc_state;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A run the harness knows is dead, with the pid files its nodes wrote.
#[derive(Debug, Clone)]
pub struct DeadRun {
    /// The run id (as given to [`crate::net::NetworkConfig::run_id`]).
    pub run_id: String,
    /// Pid files of the run's node processes (one decimal pid each).
    pub pid_files: Vec<PathBuf>,
}

/// A leftover node process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeftoverProcess {
    /// Its pid.
    pub pid: u32,
    /// The run it belongs to.
    pub run_id: String,
    /// How it was found: the pid file path, or the namespace it lives in.
    pub found_by: String,
}

/// What dead runs left behind.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Leftovers {
    /// Namespaces of dead runs, by run id.
    pub namespaces: BTreeMap<String, Vec<String>>,
    /// Node processes of dead runs.
    pub processes: Vec<LeftoverProcess>,
    /// Pids from dead runs' pid files whose processes are gone but whose libfaketime
    /// files are still in `/dev/shm`.
    pub faketime_pids: Vec<u32>,
}

impl Leftovers {
    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.namespaces.is_empty() && self.processes.is_empty() && self.faketime_pids.is_empty()
    }
}

/// What [`remove`] did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CleanupReport {
    /// Pids killed.
    pub killed: Vec<u32>,
    /// Namespaces deleted.
    pub namespaces: Vec<String>,
    /// libfaketime files removed from `/dev/shm`.
    pub faketime_files: Vec<PathBuf>,
    /// What could not be removed, and why.
    pub problems: Vec<String>,
}

/// Every Sunder namespace on the machine, grouped by run id.
pub fn sunder_namespaces() -> Result<BTreeMap<String, Vec<String>>> {
    let mut by_run: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let dir = match std::fs::read_dir(NETNS_DIR) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(by_run),
        Err(e) => return Err(NemesisError::io(format!("list {NETNS_DIR}"), e)),
    };
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(run) = names::run_of_namespace(&name) {
            by_run.entry(run.to_string()).or_default().push(name);
        }
    }
    for v in by_run.values_mut() {
        v.sort();
    }
    Ok(by_run)
}

/// A namespace younger than this is never called orphaned: between creating its namespaces
/// and moving into its control namespace, a starting harness is not inside it yet.
pub const ORPHAN_MIN_AGE: Duration = Duration::from_secs(60);

/// Runs whose namespaces outlived their harness, found without any run folder: the harness
/// moves into its run's control namespace before it opens a socket and stays there, so a
/// run whose control namespace holds no process (and is older than [`ORPHAN_MIN_AGE`]) has
/// no harness left. A run without a control namespace has none either. Each comes back as a
/// [`DeadRun`] with no pid files; [`find_leftovers`] then finds its nodes through their
/// namespaces. This is how `sunder cleanup` removes what a run whose folder is gone left.
pub fn orphaned_runs() -> Result<Vec<DeadRun>> {
    orphaned_runs_older_than(ORPHAN_MIN_AGE)
}

/// [`orphaned_runs`] with another minimum age (tests use zero).
pub fn orphaned_runs_older_than(min_age: Duration) -> Result<Vec<DeadRun>> {
    let mut dead = Vec::new();
    for (run, nss) in sunder_namespaces()? {
        let ctl = names::control_ns(&run);
        let harness_alive = nss.contains(&ctl) && !pids_in_namespace(&ctl).is_empty();
        let young = nss.iter().any(|ns| {
            std::fs::metadata(netns_path(ns))
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age < min_age))
        });
        if !harness_alive && !young {
            dead.push(DeadRun { run_id: run, pid_files: Vec::new() });
        }
    }
    Ok(dead)
}

/// Whether `args` (a `/proc/PID/cmdline` split at NULs) is a Sunder node of `run_id`: an
/// argument naming the `sunder` binary followed by `node`, and some argument containing
/// the run id.
pub fn is_node_command_of(args: &[String], run_id: &str) -> bool {
    let sunder_node = args
        .windows(2)
        .any(|w| Path::new(&w[0]).file_name().is_some_and(|f| f == "sunder") && w[1] == "node");
    sunder_node && args.iter().any(|a| a.contains(run_id))
}

/// The arguments of process `pid`, or None when it is gone or a zombie.
pub fn cmdline(pid: u32) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    if raw.is_empty() {
        return None;
    }
    Some(
        raw.split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect(),
    )
}

/// Whether `pid` is a node of `run_id`: a `sunder node` of that run by its command line, or
/// any process (an external system's own binary) whose environment carries the launcher's
/// `SUNDER_RUN_ID=<run id>`.
pub fn is_node_of(pid: u32, run_id: &str) -> bool {
    if cmdline(pid).is_some_and(|a| is_node_command_of(&a, run_id)) {
        return true;
    }
    let marker = format!("SUNDER_RUN_ID={run_id}");
    std::fs::read(format!("/proc/{pid}/environ"))
        .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == marker.as_bytes()))
}

/// Pids of the processes whose network namespace is the named one.
fn pids_in_namespace(ns: &str) -> Vec<u32> {
    let Ok(target) = std::fs::metadata(netns_path(ns)) else { return Vec::new() };
    let Ok(procs) = std::fs::read_dir("/proc") else { return Vec::new() };
    procs
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::metadata(format!("/proc/{pid}/ns/net"))
                .is_ok_and(|m| m.ino() == target.ino() && m.dev() == target.dev())
        })
        .collect()
}

/// Finds what the dead runs left: their namespaces, and their node processes, both from
/// the pid files and from the processes living in their namespaces.
pub fn find_leftovers(dead: &[DeadRun]) -> Result<Leftovers> {
    let all = sunder_namespaces()?;
    let mut found = Leftovers::default();
    let mut seen = BTreeSet::new();
    for run in dead {
        names::validate_run_id(&run.run_id)?;
        let mut claim = |pid: u32, found_by: String| {
            if is_node_of(pid, &run.run_id) && seen.insert(pid) {
                found.processes.push(LeftoverProcess { pid, run_id: run.run_id.clone(), found_by });
            }
        };
        for file in &run.pid_files {
            let Ok(text) = std::fs::read_to_string(file) else { continue };
            let Ok(pid) = text.trim().parse::<u32>() else { continue };
            if cmdline(pid).is_none() && crate::clock::faketime_files(pid).iter().any(|f| f.exists()) {
                found.faketime_pids.push(pid);
            }
            claim(pid, file.display().to_string());
        }
        if let Some(nss) = all.get(&run.run_id) {
            for ns in nss {
                for pid in pids_in_namespace(ns) {
                    claim(pid, format!("namespace {ns}"));
                }
            }
            found.namespaces.insert(run.run_id.clone(), nss.clone());
        }
    }
    Ok(found)
}

/// Removes the leftovers: SIGKILLs the processes (checking their command line again
/// first), then removes Sunder's chain from each node namespace and deletes the
/// namespaces. Keeps going past failures and lists them.
pub fn remove(leftovers: &Leftovers) -> CleanupReport {
    let mut report = CleanupReport::default();
    for p in &leftovers.processes {
        // The pid may have been recycled since `find_leftovers`: check again.
        if !is_node_of(p.pid, &p.run_id) {
            continue;
        }
        match kill(Pid::from_raw(p.pid as i32), Signal::SIGKILL) {
            Ok(()) => {
                let deadline = Instant::now() + Duration::from_secs(5);
                while !matches!(proc_state(p.pid), None | Some('Z')) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(5));
                }
                report.killed.push(p.pid);
            }
            Err(e) => report.problems.push(format!("kill {}: {e}", p.pid)),
        }
    }
    // Killed nodes are reaped by their parent or by init; a zombie still has its /proc
    // entry, so its files wait for the next cleanup rather than be taken from a live pid.
    let pids = report.killed.iter().chain(&leftovers.faketime_pids).copied().collect::<Vec<_>>();
    report.faketime_files = crate::clock::remove_faketime_leftovers(pids);
    for (run, nss) in &leftovers.namespaces {
        let nodes: Vec<String> = nss
            .iter()
            .filter_map(|ns| ns.strip_prefix(&format!("{}{run}-", names::NS_PREFIX)))
            .filter(|n| *n != "br" && *n != "ctl")
            .map(str::to_string)
            .collect();
        if let Err(e) = netns::remove_chains(run, &nodes) {
            report.problems.push(format!("run {run}: {e}"));
        }
        for ns in nss {
            let others = pids_in_namespace(ns);
            if !others.is_empty() {
                report.problems.push(format!(
                    "{ns}: processes {others:?} are still inside; the namespace lives on until they exit"
                ));
            }
        }
        match netns::delete_namespaces(nss) {
            Ok(()) => report.namespaces.extend(nss.iter().cloned()),
            Err(e) => report.problems.push(format!("run {run}: {e}")),
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn recognizes_only_sunder_node_commands_of_the_run() {
        assert!(is_node_command_of(&args("/x/target/debug/sunder node raft-kv --run-id r42 --id n1"), "r42"));
        assert!(is_node_command_of(&args("sunder node single-kv --data /s/r42/n1"), "r42"));
        assert!(!is_node_command_of(&args("sunder node single-kv --data /s/r43/n1"), "r42"));
        assert!(!is_node_command_of(&args("sunder run --run-id r42"), "r42"));
        assert!(!is_node_command_of(&args("notsunder node r42"), "r42"));
    }
}
