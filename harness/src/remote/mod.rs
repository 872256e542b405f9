//! Runs on real hosts over SSH (`sunder run --hosts FILE`, `sunder cleanup --hosts FILE`):
//! the hosts file ([`hosts_file`]), and the glue between it, the run folder and the
//! nemesis crate's remote backend ([`sunder_nemesis::net::remote`]), which does the remote
//! work itself. docs/remote.md is the user's guide.

pub mod hosts_file;

use crate::runlog::RunLog;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use sunder_nemesis::Network;
use sunder_nemesis::net::remote::{HostCleanup, Remote, cleanup_host};
use sunder_nemesis::ssh::{CommandLog, HostConfig, SshHost};

/// Longest folder a control socket may live in: a Unix socket path holds 107 bytes, and ssh
/// adds a random suffix while it sets the socket up.
const MAX_SOCKET_DIR: usize = 70;

/// Where the run's control sockets go: `ssh/` in the run folder, or a folder in the temp
/// dir when the run folder's path is too long for a socket.
pub fn socket_dir(run_folder: &Path, run_id: &str) -> PathBuf {
    let dir = run_folder.join("ssh");
    if dir.as_os_str().len() <= MAX_SOCKET_DIR {
        dir
    } else {
        std::env::temp_dir().join(format!("sunder-ssh-{run_id}"))
    }
}

/// The run's remote network: connects to every host and checks it, before anything starts.
/// Every remote command is logged in `sunder.log`.
pub fn connect(
    run_id: &str,
    hosts: Vec<HostConfig>,
    hosts_file: &Path,
    run_folder: &Path,
    log: Arc<RunLog>,
) -> Result<Network> {
    let command_log: CommandLog = Arc::new(move |line: &str| log.detail(line));
    let remote = Remote::connect(
        run_id,
        hosts,
        &socket_dir(run_folder, run_id),
        &run_folder.join("nodes"),
        command_log,
    )?;
    Ok(Network::remote(remote, &hosts_file.display().to_string()))
}

/// `sunder cleanup --hosts FILE`: on each host, removes what dead runs left. Returns one
/// line per host for the user, and the problems met.
pub fn cleanup(hosts_file: &Path) -> Result<(Vec<String>, Vec<String>)> {
    let hosts = hosts_file::load(hosts_file)?;
    let sockets = std::env::temp_dir().join(format!("sunder-ssh-cleanup-{}", std::process::id()));
    let quiet: CommandLog = Arc::new(|_: &str| {});
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    for cfg in hosts {
        let name = cfg.describe();
        let done = SshHost::connect(cfg, &sockets, quiet.clone())
            .map_err(anyhow::Error::from)
            .and_then(|host| cleanup_host(&host).with_context(|| format!("host {name}")));
        match done {
            Ok(HostCleanup { live, removed, killed }) => {
                // A run whose socket dir had to go to the temp dir left it there when its
                // harness died; its masters are gone with the harness.
                for run in &removed {
                    let _ = std::fs::remove_dir_all(std::env::temp_dir().join(format!("sunder-ssh-{run}")));
                }
                lines.push(format!(
                "host {name}: {} dead run(s) removed{}, {} node process(es) ended, {} live run(s) left alone",
                removed.len(),
                if removed.is_empty() { String::new() } else { format!(" ({})", removed.join(", ")) },
                killed.len(),
                live.len()
                ))
            }
            Err(e) => problems.push(format!("{e:#}")),
        }
    }
    let _ = std::fs::remove_dir_all(&sockets);
    Ok((lines, problems))
}
