//! Process faults: the [`Cluster`] trait through which the nemesis reaches the harness's
//! node processes (it owns the `Child` handles, so it kills, reaps and restarts), the
//! SIGSTOP/SIGCONT pause confirmed through `/proc/PID/stat`, and the [`Target`] selectors
//! (`one`, `minority`, `majority`, `all`, `leader`) that turn a seeded RNG or the
//! cluster's current leader into a set of nodes.

use crate::error::{NemesisError, Result};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use rand::Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// The error a [`Cluster`] implementation returns: any message.
pub type ClusterError = Box<dyn std::error::Error + Send + Sync>;

/// The harness's view of the running nodes, as the nemesis needs it.
pub trait Cluster: Send + Sync {
    /// Every node id, in a stable order.
    fn nodes(&self) -> Vec<String>;

    /// The pid of `node`'s process, when it is running.
    fn pid(&self, node: &str) -> Option<u32>;

    /// SIGKILLs `node` and reaps it; returns once the process is gone.
    fn kill(&self, node: &str) -> impl Future<Output = Result<(), ClusterError>> + Send;

    /// Starts `node` again on the same data directory (after [`Cluster::kill`]).
    fn restart(&self, node: &str) -> impl Future<Output = Result<(), ClusterError>> + Send;

    /// The node that currently leads, from the nodes' `GET /status` (`role`/`leader`
    /// fields; see [`crate::status::leader_from_status`]), or None when none does.
    fn leader(&self) -> impl Future<Output = Option<String>> + Send;

    /// Whether `node`'s data files are on this machine's file system, where the corrupt
    /// fault damages them in place. When they are not, it damages a local copy fetched
    /// with [`Cluster::read_data_file`] and puts it back with [`Cluster::write_data_file`].
    fn data_files_are_local(&self) -> bool {
        true
    }

    /// The non-empty data files of `node` under its data dir `dir` whose paths relative to
    /// it match one of `globs`, with their sizes, sorted. The default reads the local dir.
    fn data_files(
        &self,
        node: &str,
        dir: &Path,
        globs: &[String],
    ) -> Result<Vec<(PathBuf, u64)>, ClusterError> {
        let _ = node;
        Ok(local_data_files(dir, globs))
    }

    /// The bytes of `node`'s data file `path` (one [`Cluster::data_files`] named).
    fn read_data_file(&self, node: &str, path: &Path) -> Result<Vec<u8>, ClusterError> {
        let _ = node;
        std::fs::read(path).map_err(|e| ClusterError::from(format!("{}: {e}", path.display())))
    }

    /// Replaces `node`'s data file `path` with `bytes`.
    fn write_data_file(&self, node: &str, path: &Path, bytes: &[u8]) -> Result<(), ClusterError> {
        let _ = node;
        std::fs::write(path, bytes).map_err(|e| ClusterError::from(format!("{}: {e}", path.display())))
    }

    /// Stops `node` with SIGSTOP and returns once it shows stopped; Ok(false) when it is
    /// not running, so there is nothing to pause. The default pauses the local pid
    /// ([`pause`]); a cluster whose nodes run elsewhere does it where they run.
    fn pause(&self, node: &str) -> impl Future<Output = Result<bool, ClusterError>> + Send {
        async move {
            let Some(pid) = self.pid(node) else { return Ok(false) };
            pause(pid).await.map(|()| true).map_err(ClusterError::from)
        }
    }

    /// Resumes `node` after [`Cluster::pause`] and returns once it is no longer stopped; a
    /// node that died while paused has nothing to resume and is no error.
    fn resume(&self, node: &str) -> impl Future<Output = Result<(), ClusterError>> + Send {
        async move {
            match self.pid(node) {
                Some(pid) if proc_state(pid).is_some() => resume(pid).await.map_err(ClusterError::from),
                _ => Ok(()),
            }
        }
    }
}

/// The non-empty files under the local `dir` matching `globs` ([`crate::disk::matching_files`]),
/// with their sizes: what [`Cluster::data_files`] returns for a node on this machine.
pub fn local_data_files(dir: &Path, globs: &[String]) -> Vec<(PathBuf, u64)> {
    crate::disk::matching_files(dir, globs)
        .into_iter()
        .map(|f| {
            let len = std::fs::metadata(&f).map_or(0, |m| m.len());
            (f, len)
        })
        .collect()
}

/// Which nodes a process fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// One random node.
    One,
    /// A random minority: `(n - 1) / 2` nodes (at least one).
    Minority,
    /// A random majority: `n / 2 + 1` nodes.
    Majority,
    /// Every node.
    All,
    /// The current leader, if any.
    Leader,
}

impl Target {
    /// Every target, in a stable order.
    pub const ALL: [Target; 5] =
        [Target::One, Target::Minority, Target::Majority, Target::All, Target::Leader];

    /// The name used on the command line and in nemesis ops.
    pub fn name(self) -> &'static str {
        match self {
            Target::One => "one",
            Target::Minority => "minority",
            Target::Majority => "majority",
            Target::All => "all",
            Target::Leader => "leader",
        }
    }

    /// Picks the random nodes of this target from `nodes`; None for [`Target::Leader`],
    /// which only the running cluster can tell.
    pub fn pick(self, nodes: &[String], rng: &mut (impl Rng + ?Sized)) -> Option<Vec<String>> {
        let n = nodes.len();
        let count = match self {
            Target::One => 1,
            Target::Minority => ((n.saturating_sub(1)) / 2).max(1),
            Target::Majority => n / 2 + 1,
            Target::All => n,
            Target::Leader => return None,
        };
        let mut order = nodes.to_vec();
        order.shuffle(rng);
        order.truncate(count.min(n));
        order.sort();
        Some(order)
    }
}

impl FromStr for Target {
    type Err = NemesisError;
    fn from_str(s: &str) -> Result<Target> {
        Target::ALL.into_iter().find(|t| t.name() == s).ok_or_else(|| {
            NemesisError::Invalid(format!(
                "unknown target {s:?}; expected one, minority, majority, all or leader"
            ))
        })
    }
}

/// A process's scheduler state letter from `/proc/PID/stat` (`R`, `S`, `T`, `Z`, ...), or
/// None when the process does not exist.
pub fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat_state(&stat)
}

/// The state letter of a `/proc/PID/stat` line; the command name may hold spaces and
/// parentheses, so the state is read after the last `)`.
pub fn parse_stat_state(stat: &str) -> Option<char> {
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().next()?.chars().next()
}

/// How long a signal may take to show in `/proc`.
const SIGNAL_DEADLINE: Duration = Duration::from_secs(5);

async fn wait_state(pid: u32, want: impl Fn(Option<char>) -> bool, what: &str) -> Result<()> {
    let start = tokio::time::Instant::now();
    loop {
        let state = proc_state(pid);
        if want(state) {
            return Ok(());
        }
        if start.elapsed() > SIGNAL_DEADLINE {
            return Err(NemesisError::Process {
                pid,
                problem: format!("still in state {state:?} {SIGNAL_DEADLINE:?} after {what}"),
            });
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn signal(pid: u32, sig: Signal) -> Result<()> {
    let raw = i32::try_from(pid).map_err(|_| NemesisError::Invalid(format!("pid {pid} out of range")))?;
    kill(Pid::from_raw(raw), sig).map_err(|e| NemesisError::Process { pid, problem: format!("{sig}: {e}") })
}

/// Sends SIGSTOP to `pid` and returns once `/proc/PID/stat` shows it stopped (`T`).
pub async fn pause(pid: u32) -> Result<()> {
    signal(pid, Signal::SIGSTOP)?;
    wait_state(pid, |s| s == Some('T'), "SIGSTOP").await
}

/// Sends SIGCONT to `pid` and returns once it is no longer stopped.
pub async fn resume(pid: u32) -> Result<()> {
    signal(pid, Signal::SIGCONT)?;
    wait_state(pid, |s| s != Some('T') && s != Some('t'), "SIGCONT").await
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn stat_state_survives_parentheses_in_the_command_name() {
        assert_eq!(parse_stat_state("42 (a) b (c)) T 1 2 3"), Some('T'));
        assert_eq!(parse_stat_state("7 (sleep) S 1"), Some('S'));
        assert_eq!(parse_stat_state("garbage"), None);
    }

    #[test]
    fn targets_pick_the_sizes_they_name() {
        let nodes: Vec<String> = (1..=5).map(|i| format!("n{i}")).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(Target::One.pick(&nodes, &mut rng).unwrap().len(), 1);
        assert_eq!(Target::Minority.pick(&nodes, &mut rng).unwrap().len(), 2);
        assert_eq!(Target::Majority.pick(&nodes, &mut rng).unwrap().len(), 3);
        assert_eq!(Target::All.pick(&nodes, &mut rng).unwrap(), nodes);
        assert_eq!(Target::Leader.pick(&nodes, &mut rng), None);
    }
}
