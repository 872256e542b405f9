//! One SSH connection to one remote host, through the system's OpenSSH client: a
//! ControlMaster process holds the connection (its socket under the run folder), and every
//! remote command is a short-lived `ssh -S <socket>` client multiplexed over it, so a
//! command costs a channel, not a handshake. OpenSSH rather than a Rust SSH library: it is
//! the tool the hosts' administrators already trust, the user's `~/.ssh/config`, agent and
//! known_hosts work unchanged, and it adds no crate. `BatchMode=yes` makes a missing key or
//! an unknown host key fail at once instead of prompting. Every remote command is written
//! to the run's log before it runs ([`CommandLog`]). Once [`SshHost::open_shell`] has been
//! called, [`SshHost::run`] sends its scripts to one remote `sh` kept open on a channel of
//! its own instead, so a fault costs no process start-up of `ssh` or of an sshd session,
//! only the script's own tools: that is what makes a partition take effect in tens of
//! milliseconds rather than the better part of a second on a loaded machine.
//!
//! The master is started from the thread that connects (the harness's main thread) with
//! `PR_SET_PDEATHSIG`, so a SIGKILLed harness takes its connections down with it, and with
//! them every remote session, whose supervisors then stop their nodes.

use crate::error::{NemesisError, Result};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::IpAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The remote work dir when a hosts file names none.
pub const DEFAULT_WORKDIR: &str = "/tmp/sunder-remote";

/// Seconds `ssh` may take to open the TCP connection (`ConnectTimeout`).
pub const CONNECT_TIMEOUT_S: u64 = 5;

/// Where the run's log receives each remote command, one line each.
pub type CommandLog = Arc<dyn Fn(&str) + Send + Sync>;

/// How to reach one host and what to do there, as a hosts file says.
#[derive(Debug, Clone, PartialEq)]
pub struct HostConfig {
    /// The node this host runs, e.g. `n1`.
    pub node: String,
    /// The host's address: nodes listen on it, clients and peers dial it, partitions name it.
    pub address: IpAddr,
    /// The sshd port.
    pub ssh_port: u16,
    /// The login user.
    pub user: String,
    /// The private key (`ssh -i`), or None for the user's ssh config and agent.
    pub identity: Option<PathBuf>,
    /// A known_hosts file (`UserKnownHostsFile`), or None for the user's.
    pub known_hosts: Option<PathBuf>,
    /// `StrictHostKeyChecking` (`yes`, `accept-new`, `no`), or None for the user's setting.
    pub strict_host_key_checking: Option<String>,
    /// The remote work dir; each run gets `<workdir>/<run id>/`.
    pub workdir: String,
    /// Whether remote commands run under `sudo -n` (for a user who is not root).
    pub sudo: bool,
    /// The `PATH` remote commands run with, or None for the session's own.
    pub path: Option<String>,
    /// The TCP port the node listens on at `address`.
    pub node_port: u16,
}

impl HostConfig {
    /// `n1 (root@10.0.0.11:22)`: how errors and the log name this host.
    pub fn describe(&self) -> String {
        format!("{} ({}@{}:{})", self.node, self.user, self.address, self.ssh_port)
    }
}

/// Quotes `s` for a POSIX shell: single quotes, with each `'` spelled `'\''`.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// An open connection to one host.
pub struct SshHost {
    cfg: HostConfig,
    socket: PathBuf,
    master: Mutex<Option<Child>>,
    shell: Mutex<Option<CommandShell>>,
    log: CommandLog,
}

/// A remote `sh` reading scripts on its stdin: each is run in a subshell with its output
/// (stdout and stderr together) followed by a marker line carrying its exit status.
struct CommandShell {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    sent: u64,
}

impl std::fmt::Debug for SshHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshHost").field("host", &self.cfg.describe()).field("socket", &self.socket).finish()
    }
}

/// A remote command started and not yet awaited.
pub struct Pending {
    what: String,
    host: String,
    child: Child,
}

impl Pending {
    /// Wraps an `ssh` child started elsewhere (with its stderr piped) as a pending command.
    pub fn new(what: &str, host: &str, child: Child) -> Pending {
        Pending { what: what.to_string(), host: host.to_string(), child }
    }

    /// Waits for the command; a non-zero exit is an error naming the host and carrying
    /// the command's stderr.
    pub fn wait(self) -> Result<String> {
        let out =
            self.child.wait_with_output().map_err(|e| NemesisError::io(format!("ssh {}", self.host), e))?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        Err(NemesisError::Command {
            command: format!("ssh {}: {}", self.host, self.what),
            detail: format!("{}: {}", out.status, if stderr.is_empty() { "(no output)" } else { &stderr }),
        })
    }
}

/// Waits for every pending command; the first error wins, but every one is awaited.
pub fn wait_all(pending: Vec<Pending>) -> Result<Vec<String>> {
    let mut first = None;
    let mut outs = Vec::new();
    for p in pending {
        match p.wait() {
            Ok(o) => outs.push(o),
            Err(e) => {
                first.get_or_insert(e);
            }
        }
    }
    first.map_or(Ok(outs), Err)
}

impl SshHost {
    /// Starts the ControlMaster for `cfg` with its socket in `socket_dir` and returns once
    /// it is connected, or fails naming the host and quoting ssh's own words.
    pub fn connect(cfg: HostConfig, socket_dir: &Path, log: CommandLog) -> Result<SshHost> {
        let host = SshHost::start_master(cfg, socket_dir, log)?;
        host.wait_connected()?;
        Ok(host)
    }

    /// Starts the master without waiting for it (see [`SshHost::wait_connected`]), so
    /// several hosts connect at once.
    pub fn start_master(cfg: HostConfig, socket_dir: &Path, log: CommandLog) -> Result<SshHost> {
        std::fs::create_dir_all(socket_dir)
            .map_err(|e| NemesisError::io(format!("create {}", socket_dir.display()), e))?;
        let socket = socket_dir.join(format!("{}.sock", cfg.node));
        let _ = std::fs::remove_file(&socket);
        let stderr_path = socket_dir.join(format!("{}.err", cfg.node));
        let stderr = std::fs::File::create(&stderr_path)
            .map_err(|e| NemesisError::io(format!("create {}", stderr_path.display()), e))?;
        let host = SshHost { cfg, socket, master: Mutex::new(None), shell: Mutex::new(None), log };
        let mut cmd = host.base();
        cmd.args([
            "-M",
            "-N",
            "-o",
            "ControlPersist=no",
            "-o",
            "ServerAliveInterval=2",
            "-o",
            "ServerAliveCountMax=3",
        ])
        .arg(host.destination())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if nix::libc::prctl(nix::libc::PR_SET_PDEATHSIG, nix::libc::SIGKILL as nix::libc::c_ulong)
                    != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        (host.log)(&format!(
            "ssh {}: connect (ControlMaster at {})",
            host.cfg.describe(),
            host.socket.display()
        ));
        let child = cmd.spawn().map_err(|e| host.unreachable(format!("cannot start ssh: {e}")))?;
        *host.master.lock().unwrap_or_else(|p| p.into_inner()) = Some(child);
        Ok(host)
    }

    /// Waits until the master is connected, or fails with what ssh said.
    pub fn wait_connected(&self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(CONNECT_TIMEOUT_S + 10);
        let stderr_path = self.socket.with_extension("err");
        loop {
            let exited = {
                let mut m = self.master.lock().unwrap_or_else(|p| p.into_inner());
                m.as_mut().and_then(|c| c.try_wait().ok().flatten())
            };
            if let Some(status) = exited {
                let said = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                let said = said.trim();
                return Err(self.unreachable(if said.is_empty() {
                    format!("ssh exited ({status}) without connecting")
                } else {
                    said.to_string()
                }));
            }
            if self.socket.exists() {
                let ok = self
                    .base()
                    .args(["-O", "check"])
                    .arg(self.destination())
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
                if ok {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                self.close();
                return Err(self.unreachable("the connection did not come up in time".into()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn unreachable(&self, why: String) -> NemesisError {
        NemesisError::Unsupported { what: format!("host {}", self.cfg.describe()), why }
    }

    /// What the hosts file says about this host.
    pub fn config(&self) -> &HostConfig {
        &self.cfg
    }

    /// `n1 (root@10.0.0.11:22)`.
    pub fn describe(&self) -> String {
        self.cfg.describe()
    }

    fn destination(&self) -> String {
        format!("{}@{}", self.cfg.user, self.cfg.address)
    }

    /// `ssh` with every option this host needs, the control socket included.
    fn base(&self) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.args(["-o", "BatchMode=yes", "-o", &format!("ConnectTimeout={CONNECT_TIMEOUT_S}")])
            .args(["-o", "LogLevel=ERROR"])
            .arg("-S")
            .arg(&self.socket)
            .args(["-p", &self.cfg.ssh_port.to_string()]);
        if let Some(id) = &self.cfg.identity {
            cmd.arg("-i").arg(id).args(["-o", "IdentitiesOnly=yes"]);
        }
        if let Some(kh) = &self.cfg.known_hosts {
            cmd.arg("-o").arg(format!("UserKnownHostsFile={}", kh.display()));
        }
        if let Some(s) = &self.cfg.strict_host_key_checking {
            cmd.arg("-o").arg(format!("StrictHostKeyChecking={s}"));
        }
        cmd
    }

    /// The remote command line that runs `script` under `sh` (and `sudo -n`, when the host
    /// wants it), with the host's `PATH` when the hosts file sets one.
    pub fn remote_shell(&self, script: &str) -> String {
        let script = match &self.cfg.path {
            Some(p) => format!("PATH={}; export PATH\n{script}", shell_quote(p)),
            None => script.to_string(),
        };
        let sudo = if self.cfg.sudo { "sudo -n " } else { "" };
        format!("{sudo}sh -c {}", shell_quote(&script))
    }

    /// An `ssh` command that runs `script` on the host, logged as `what`; stdio is the
    /// caller's to set.
    pub fn command(&self, what: &str, script: &str) -> Command {
        (self.log)(&format!("ssh {}: {what}: {}", self.describe(), one_line(script)));
        let mut cmd = self.base();
        cmd.args(["-o", "ControlMaster=no"]).arg(self.destination()).arg(self.remote_shell(script));
        cmd
    }

    /// Starts `script` on the host, its output captured, without waiting.
    pub fn start(&self, what: &str, script: &str) -> Result<Pending> {
        let child = self
            .command(what, script)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| NemesisError::io(format!("start ssh {}", self.describe()), e))?;
        Ok(Pending { what: what.to_string(), host: self.describe(), child })
    }

    /// Runs `script` on the host and returns its output: through the command shell when
    /// it is open (stdout and stderr together), else on a channel of its own (stdout).
    pub fn run(&self, what: &str, script: &str) -> Result<String> {
        let mut shell = self.shell.lock().unwrap_or_else(|p| p.into_inner());
        let Some(sh) = shell.as_mut() else {
            drop(shell);
            return self.start(what, script)?.wait();
        };
        (self.log)(&format!("ssh {} (shell): {what}: {}", self.describe(), one_line(script)));
        sh.sent += 1;
        let marker = format!("__sunder_done_{}_{}", std::process::id(), sh.sent);
        let request = format!("( {script}\n) </dev/null 2>&1; printf '\\n{marker} %s\\n' $?\n");
        let failed = |detail: String| NemesisError::Command {
            command: format!("ssh {}: {what}", self.describe()),
            detail,
        };
        if let Err(e) = sh.stdin.write_all(request.as_bytes()).and_then(|()| sh.stdin.flush()) {
            *shell = None;
            return Err(failed(format!("the command shell is gone: {e}")));
        }
        let mut out = String::new();
        loop {
            let mut line = String::new();
            match sh.stdout.read_line(&mut line) {
                Ok(0) | Err(_) => {
                    *shell = None;
                    return Err(failed(format!("the command shell ended; it said: {}", out.trim())));
                }
                Ok(_) => {}
            }
            if let Some(status) = line.strip_prefix(&marker) {
                // The newline printed before the marker is not the script's.
                if out.ends_with('\n') {
                    out.pop();
                }
                let status = status.trim();
                return if status == "0" {
                    Ok(out)
                } else {
                    Err(failed(format!(
                        "exit status {status}: {}",
                        if out.trim().is_empty() { "(no output)" } else { out.trim() }
                    )))
                };
            }
            out.push_str(&line);
        }
    }

    /// Opens the command shell [`SshHost::run`] uses from now on, with `env` added to its
    /// environment (where `/proc/PID/environ` shows it). Returns at once: the first
    /// [`SshHost::run`] waits for the shell.
    pub fn open_shell(&self, env: &[(&str, &str)]) -> Result<()> {
        let mut script = String::from("exec env");
        for (k, v) in env {
            script.push_str(&format!(" {}", shell_quote(&format!("{k}={v}"))));
        }
        script.push_str(" sh");
        let mut child = self
            .command("open the command shell", &script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| NemesisError::io(format!("start ssh {}", self.describe()), e))?;
        let stdin = child.stdin.take().expect("stdin was piped");
        let stdout = BufReader::new(child.stdout.take().expect("stdout was piped"));
        *self.shell.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(CommandShell { child, stdin, stdout, sent: 0 });
        Ok(())
    }

    /// Runs `script` with the local file `input` on its stdin (an upload).
    pub fn run_with_input(&self, what: &str, script: &str, input: &Path) -> Result<String> {
        let file = std::fs::File::open(input)
            .map_err(|e| NemesisError::io(format!("open {}", input.display()), e))?;
        let child = self
            .command(what, script)
            .stdin(file)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| NemesisError::io(format!("start ssh {}", self.describe()), e))?;
        Pending { what: what.to_string(), host: self.describe(), child }.wait()
    }

    /// Runs `script` and unpacks the tar stream it writes on stdout into the local `dir`.
    pub fn download_tar(&self, what: &str, script: &str, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| NemesisError::io(format!("create {}", dir.display()), e))?;
        let mut ssh = self
            .command(what, script)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| NemesisError::io(format!("start ssh {}", self.describe()), e))?;
        let stream = ssh.stdout.take().expect("stdout was piped");
        let tar = Command::new("tar")
            .arg("-C")
            .arg(dir)
            .args(["-xf", "-"])
            .stdin(stream)
            .stderr(Stdio::piped())
            .output();
        let mut stderr = String::new();
        if let Some(mut e) = ssh.stderr.take() {
            let _ = e.read_to_string(&mut stderr);
        }
        let status = ssh.wait().map_err(|e| NemesisError::io(format!("ssh {}", self.describe()), e))?;
        let tar = tar.map_err(|e| NemesisError::io("start tar", e))?;
        if !status.success() || !tar.status.success() {
            return Err(NemesisError::Command {
                command: format!("ssh {}: {what}", self.describe()),
                detail: format!(
                    "ssh {status}: {}; tar {}: {}",
                    stderr.trim(),
                    tar.status,
                    String::from_utf8_lossy(&tar.stderr).trim()
                ),
            });
        }
        Ok(())
    }

    /// Ends the connection (`ssh -O exit`, then the master process). Idempotent.
    pub fn close(&self) {
        if let Some(mut sh) = self.shell.lock().unwrap_or_else(|p| p.into_inner()).take() {
            drop(sh.stdin);
            let _ = sh.child.kill();
            let _ = sh.child.wait();
        }
        let mut master = self.master.lock().unwrap_or_else(|p| p.into_inner());
        let Some(mut child) = master.take() else { return };
        (self.log)(&format!("ssh {}: disconnect", self.describe()));
        let _ = self
            .base()
            .args(["-O", "exit"])
            .arg(self.destination())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
        let _ = std::fs::remove_file(&self.socket);
        // What the master said stays only when it said something.
        let said = self.socket.with_extension("err");
        if std::fs::metadata(&said).is_ok_and(|m| m.len() == 0) {
            let _ = std::fs::remove_file(&said);
        }
    }
}

impl Drop for SshHost {
    fn drop(&mut self) {
        self.close();
    }
}

/// A multi-line script as one log line.
fn one_line(script: &str) -> String {
    script.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quote_survives_single_quotes() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn remote_shell_adds_path_and_sudo_only_when_asked() {
        let cfg = HostConfig {
            node: "n1".into(),
            address: "10.0.0.1".parse().unwrap(),
            ssh_port: 22,
            user: "u".into(),
            identity: None,
            known_hosts: None,
            strict_host_key_checking: None,
            workdir: DEFAULT_WORKDIR.into(),
            sudo: true,
            path: Some("/usr/bin".into()),
            node_port: 7000,
        };
        let host = SshHost {
            cfg,
            socket: PathBuf::from("/nonexistent.sock"),
            master: Mutex::new(None),
            shell: Mutex::new(None),
            log: Arc::new(|_| {}),
        };
        let line = host.remote_shell("echo hi");
        assert!(line.starts_with("sudo -n sh -c '"), "{line}");
        assert!(line.contains("PATH='\\''/usr/bin'\\''; export PATH"), "{line}");
    }
}
