//! The remote backend: each node runs on a real host of its own, reached over SSH
//! ([`crate::ssh`]). Nodes listen on their host's address and clients dial it, so nothing is
//! proxied. Before anything starts, every host is checked (it connects, has
//! `iptables-restore`, can write its work dir). The host's command shell (the remote `sh`
//! that runs fault and stop scripts, [`SshHost::open_shell`]) carries the run's id in its
//! environment, writes its pid to `<workdir>/<run id>/lease` and ends with the connection:
//! that lease is how `sunder cleanup --hosts` tells a live run from a dead one.
//!
//! A node runs under a supervisor: the remote command of its SSH session starts the node
//! in the background with `SUNDER_RUN_ID` in its environment, writes its pid file, and
//! stops it (the stop signal, a grace, then SIGKILL) as soon as the session's stdin reaches
//! EOF, which is what happens when the harness, its connection or the session dies.
//! Kill, stop, pause and resume go by that pid file, and only after `/proc/PID/environ`
//! shows the run's `SUNDER_RUN_ID`; pause and resume wait for the host's `/proc/PID/stat`
//! to show the process stopped (`T`) or running again. Partitions and loss are rules in Sunder's own chain on each host,
//! `SUNDER-<run id>`, jumped to from INPUT, whose whole content is rewritten atomically
//! (`iptables-restore --noflush`) and always starts by letting the SSH port through, so a
//! partition can never cut the harness off. Teardown copies each node's log and data dir
//! back into the run folder, removes the chains and the remote run dir, and disconnects.

use crate::error::{NemesisError, Result};
use crate::grudge::Grudge;
use crate::net::CutStyle;
use crate::net::names;
use crate::ssh::{CommandLog, HostConfig, SshHost, shell_quote, wait_all};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The libfaketime control file's name in a node's remote dir.
const CLOCK_FILE: &str = "faketime";

/// The uploaded `sunder` binary's name in the remote run dir.
const REMOTE_BINARY: &str = "sunder";

/// What the chains should hold.
#[derive(Debug, Default, Clone)]
struct Faults {
    partition: Grudge,
    style: CutStyle,
    loss: BTreeMap<String, f64>,
}

/// Chain contents known to be in force, per node; None before the first update and after
/// one failed half-way, when the next must rewrite every host.
type Applied = Option<BTreeMap<String, Vec<String>>>;

/// A run's hosts, their connections and chains.
pub struct Remote {
    run_id: String,
    chain: String,
    nodes: Vec<String>,
    hosts: BTreeMap<String, SshHost>,
    local_nodes_dir: PathBuf,
    socket_dir: PathBuf,
    uploaded_from: Mutex<Option<PathBuf>>,
    /// Whether a node may be running: set when a node session is made, cleared once every
    /// node was stopped, so repeated stops cost no round trip.
    may_run: AtomicBool,
    state: Mutex<(Faults, Applied)>,
    torn_down: Mutex<bool>,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote").field("run_id", &self.run_id).field("hosts", &self.hosts).finish()
    }
}

/// The remote run dir of `run_id` under `workdir`.
pub fn remote_run_dir(workdir: &str, run_id: &str) -> String {
    format!("{}/{run_id}", workdir.trim_end_matches('/'))
}

/// Shell test that pid `$1`'s environment carries `SUNDER_RUN_ID=$2`.
const IS_OURS: &str = r#"is_ours() { [ -n "$1" ] && tr '\0' '\n' < "/proc/$1/environ" 2>/dev/null | grep -qx "SUNDER_RUN_ID=$2"; }"#;

impl Remote {
    /// Connects to every host of `hosts` (one per node, in node order), checks each, takes
    /// the run's lease on it and installs Sunder's chain. Fails naming the first host that
    /// cannot take part and why, leaving nothing behind on any host. Control sockets go in
    /// `socket_dir`; teardown copies node dirs into `local_nodes_dir/<node>/`.
    pub fn connect(
        run_id: &str,
        hosts: Vec<HostConfig>,
        socket_dir: &Path,
        local_nodes_dir: &Path,
        log: CommandLog,
    ) -> Result<Remote> {
        names::validate_run_id(run_id)?;
        let nodes: Vec<String> = hosts.iter().map(|h| h.node.clone()).collect();
        names::validate_nodes(&nodes)?;
        let mut seen = BTreeSet::new();
        for h in &hosts {
            if !seen.insert(h.address) {
                return Err(NemesisError::Invalid(format!(
                    "host {}: address {} is given to two nodes; partitions cut by address, so each node needs a host of its own",
                    h.describe(),
                    h.address
                )));
            }
            if !h.workdir.starts_with('/') || h.workdir.trim_end_matches('/').is_empty() {
                return Err(NemesisError::Invalid(format!(
                    "host {}: workdir {:?} must be an absolute path other than /",
                    h.describe(),
                    h.workdir
                )));
            }
        }
        let mut started = Vec::new();
        let mut first_err = None;
        for h in hosts {
            match SshHost::start_master(h, socket_dir, log.clone()) {
                Ok(s) => started.push(s),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        for s in &started {
            if let Err(e) = s.wait_connected() {
                first_err.get_or_insert(e);
            }
        }
        if let Some(e) = first_err {
            // The error carries what ssh said; the run's sockets dir has nothing else.
            drop(started);
            let _ = std::fs::remove_dir_all(socket_dir);
            return Err(e);
        }
        let remote = Remote {
            run_id: run_id.to_string(),
            chain: names::chain(run_id),
            hosts: started.into_iter().map(|s| (s.config().node.clone(), s)).collect(),
            nodes,
            local_nodes_dir: local_nodes_dir.to_path_buf(),
            socket_dir: socket_dir.to_path_buf(),
            uploaded_from: Mutex::new(None),
            may_run: AtomicBool::new(false),
            state: Mutex::new((Faults::default(), None)),
            torn_down: Mutex::new(false),
        };
        // On failure from here, dropping `remote` removes what was made.
        for host in remote.hosts.values() {
            host.open_shell(&[("SUNDER_RUN_ID", run_id)])?;
        }
        remote.check_hosts()?;
        remote.update(|_| {})?;
        Ok(remote)
    }

    /// The node ids, in hosts-file order.
    pub fn nodes(&self) -> &[String] {
        &self.nodes
    }

    /// Sunder's chain name on the hosts.
    pub fn chain(&self) -> &str {
        &self.chain
    }

    fn host(&self, node: &str) -> Result<&SshHost> {
        self.hosts.get(node).ok_or_else(|| NemesisError::UnknownNode(node.to_string()))
    }

    /// The address `node` listens on and everyone dials: its host's address and node port.
    pub fn addr(&self, node: &str) -> Result<SocketAddr> {
        let cfg = self.host(node)?.config();
        Ok(SocketAddr::new(cfg.address, cfg.node_port))
    }

    /// Every other node's address, as `node` dials it.
    pub fn peer_addrs(&self, node: &str) -> Result<BTreeMap<String, SocketAddr>> {
        self.host(node)?;
        self.nodes.iter().filter(|p| *p != node).map(|p| Ok((p.clone(), self.addr(p)?))).collect()
    }

    fn run_dir(&self, node: &str) -> Result<String> {
        Ok(remote_run_dir(&self.host(node)?.config().workdir, &self.run_id))
    }

    fn node_dir(&self, node: &str) -> Result<String> {
        Ok(format!("{}/{node}", self.run_dir(node)?))
    }

    /// Runs one script per host at once (each made by `script` from the node and its
    /// host), and waits for all.
    fn on_each(&self, what: &str, script: impl Fn(&str, &SshHost) -> Result<String>) -> Result<Vec<String>> {
        self.on_some(what, |node, host| script(node, host).map(Some))
    }

    /// Like [`Remote::on_each`], skipping the hosts whose script comes back None.
    fn on_some(
        &self,
        what: &str,
        script: impl Fn(&str, &SshHost) -> Result<Option<String>>,
    ) -> Result<Vec<String>> {
        let mut scripts = Vec::new();
        for (node, host) in &self.hosts {
            if let Some(s) = script(node, host)? {
                scripts.push((host, s));
            }
        }
        // One thread per host: each host's command shell answers in turn, the hosts at once.
        let results: Vec<Result<String>> = std::thread::scope(|scope| {
            let running: Vec<_> =
                scripts.iter().map(|(host, s)| scope.spawn(move || host.run(what, s))).collect();
            running
                .into_iter()
                .map(|t| {
                    t.join().unwrap_or_else(|_| {
                        Err(NemesisError::Invalid("a remote command thread panicked".into()))
                    })
                })
                .collect()
        });
        let mut outs = Vec::new();
        let mut first = None;
        for r in results {
            match r {
                Ok(o) => outs.push(o),
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        first.map_or(Ok(outs), Err)
    }

    /// Checks what a host must have before anything starts there, naming the host and
    /// the problem.
    /// The check ends by taking the run's lease on the host: the command shell (whose
    /// environment carries the run id, and which ends with the connection) writes its pid
    /// to `<run dir>/lease`.
    fn check_hosts(&self) -> Result<()> {
        let mut scripts = Vec::new();
        for (node, host) in &self.hosts {
            let dir = shell_quote(&self.run_dir(node)?);
            let script = format!(
                "exec 1>&2\n\
                 for tool in iptables iptables-restore; do\n\
                 command -v $tool >/dev/null 2>&1 || {{ echo \"$tool is not on the PATH ($PATH): install iptables, or set path in the hosts file\"; exit 3; }}\n\
                 done\n\
                 if [ -e {dir} ]; then echo \"{dir} already exists: a run with this id is alive, or left debris (run sunder cleanup --hosts)\"; exit 3; fi\n\
                 mkdir -p {dir} 2>&1 && touch {dir}/.probe 2>&1 && rm -f {dir}/.probe || {{ echo \"cannot write {dir}\"; exit 3; }}\n\
                 echo $$ > {dir}/lease\n"
            );
            scripts.push((host, script));
        }
        let checked: Vec<Result<()>> = std::thread::scope(|scope| {
            let running: Vec<_> = scripts
                .iter()
                .map(|(host, script)| {
                    scope.spawn(move || {
                        host.run("check the host and take the run's lease", script).map(|_| ()).map_err(|e| {
                            match e {
                                NemesisError::Command { detail, .. } => NemesisError::Unsupported {
                                    what: format!("host {}", host.describe()),
                                    // The script's own words, without the exit status before them.
                                    why: detail
                                        .strip_prefix("exit status 3: ")
                                        .unwrap_or(&detail)
                                        .to_string(),
                                },
                                other => other,
                            }
                        })
                    })
                })
                .collect();
            running
                .into_iter()
                .map(|t| {
                    t.join().unwrap_or_else(|_| Err(NemesisError::Invalid("a check thread panicked".into())))
                })
                .collect()
        });
        checked.into_iter().collect()
    }

    /// Uploads the local `sunder` executable to every host's run dir (for a built-in
    /// system, whose nodes are `sunder node ...`); node commands naming `exe` then run the
    /// uploaded copy.
    pub fn upload_binary(&self, exe: &Path) -> Result<()> {
        let mut pending = Vec::new();
        for (node, host) in &self.hosts {
            let target = format!("{}/{REMOTE_BINARY}", self.run_dir(node)?);
            let part = shell_quote(&format!("{target}.part"));
            let script = format!("cat > {part} && chmod 755 {part} && mv {part} {}", shell_quote(&target));
            let file = std::fs::File::open(exe)
                .map_err(|e| NemesisError::io(format!("open {}", exe.display()), e))?;
            let child = host
                .command(&format!("upload {}", exe.display()), &script)
                .stdin(file)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| NemesisError::io(format!("start ssh {}", host.describe()), e))?;
            pending.push(crate::ssh::Pending::new("upload the sunder binary", &host.describe(), child));
        }
        wait_all(pending)?;
        *self.uploaded_from.lock().unwrap_or_else(|p| p.into_inner()) = Some(exe.to_path_buf());
        Ok(())
    }

    /// Turns the local command of `node` (as the launcher built it, with its data dir under
    /// `local_dir`) into the SSH session that runs it under a supervisor on its host: paths
    /// under `local_dir` become the remote node dir, the uploaded binary replaces the local
    /// one, and the command's own environment rides along. The session's stdin is a pipe the
    /// launcher holds; its end stops the node. ssh's own complaints go to `local_dir/ssh.log`.
    pub fn node_command(&self, node: &str, local_dir: &Path, cmd: &Command) -> Result<Command> {
        let host = self.host(node)?;
        let remote_dir = self.node_dir(node)?;
        let local = local_dir.display().to_string();
        let translate = |s: &str| s.replace(&local, &remote_dir);
        let program = cmd.get_program().to_string_lossy().into_owned();
        let uploaded = self.uploaded_from.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let program = match uploaded {
            Some(exe) if Path::new(&program) == exe => format!("{}/{REMOTE_BINARY}", self.run_dir(node)?),
            _ => translate(&program),
        };
        let mut line = vec!["env".to_string(), format!("SUNDER_RUN_ID={}", self.run_id)];
        for (k, v) in cmd.get_envs() {
            if k == "FAKETIME_TIMESTAMP_FILE" {
                // The node reads the control file on its own host, which the clock mirror writes.
                line.push(shell_quote(&format!("FAKETIME_TIMESTAMP_FILE={remote_dir}/{CLOCK_FILE}")));
                continue;
            }
            if let Some(v) = v
                && k != "SUNDER_RUN_ID"
            {
                line.push(shell_quote(&format!(
                    "{}={}",
                    k.to_string_lossy(),
                    translate(&v.to_string_lossy())
                )));
            }
        }
        line.push(shell_quote(&program));
        line.extend(cmd.get_args().map(|a| shell_quote(&translate(&a.to_string_lossy()))));
        let d = shell_quote(&remote_dir);
        let script = format!(
            "exec 3<&0\n\
             mkdir -p {d}/data && cd {d} || exit 1\n\
             {} </dev/null >>{d}/log 2>&1 3<&- &\n\
             pid=$!\n\
             echo $pid > {d}/pid\n\
             ( while read -r _; do :; done; kill -CONT $pid; kill -TERM $pid; i=0\n\
               while kill -0 $pid 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done\n\
               kill -KILL $pid ) <&3 >/dev/null 2>&1 &\n\
             watcher=$!\n\
             wait $pid; status=$?\n\
             kill $watcher 2>/dev/null\n\
             rm -f {d}/pid\n\
             exit $status",
            line.join(" ")
        );
        std::fs::create_dir_all(local_dir)
            .map_err(|e| NemesisError::io(format!("create {}", local_dir.display()), e))?;
        let ssh_log =
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(local_dir.join("ssh.log"))
                .map_err(|e| NemesisError::io(format!("open {}", local_dir.join("ssh.log").display()), e))?;
        self.may_run.store(true, Ordering::SeqCst);
        let mut ssh = host.command(&format!("start node {node}"), &script);
        ssh.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(ssh_log);
        Ok(ssh)
    }

    /// The script that ends node `node` by its pid file with `signal` (after a SIGCONT, so a
    /// paused node can act on it), waits up to `grace` and then SIGKILLs it, and returns
    /// once it is gone and its supervisor has removed the pid file. Only a process whose
    /// environment carries this run's id is signalled.
    fn stop_script(&self, node: &str, signal: &str, grace: Duration) -> Result<String> {
        let pidfile = shell_quote(&format!("{}/pid", self.node_dir(node)?));
        let ticks = (grace.as_millis() / 20).max(1);
        Ok(format!(
            "{IS_OURS}\n\
             pid=$(cat {pidfile} 2>/dev/null) || exit 0\n\
             is_ours \"$pid\" {run} || exit 0\n\
             kill -CONT $pid 2>/dev/null; kill -{signal} $pid 2>/dev/null\n\
             i=0; while kill -0 $pid 2>/dev/null && [ $i -lt {ticks} ]; do sleep 0.02; i=$((i+1)); done\n\
             kill -KILL $pid 2>/dev/null\n\
             i=0; while kill -0 $pid 2>/dev/null && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done\n\
             i=0; while [ \"$(cat {pidfile} 2>/dev/null)\" = \"$pid\" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done\n\
             if kill -0 $pid 2>/dev/null; then echo \"pid $pid survived SIGKILL\"; exit 3; fi",
            run = self.run_id
        ))
    }

    /// The last `lines` lines of `node`'s log on its host, then what ssh said about its
    /// session (`ssh.log` in `local_dir`), for an error message.
    pub fn log_tail(&self, node: &str, local_dir: &Path, lines: usize) -> String {
        let log = self
            .node_dir(node)
            .and_then(|d| {
                self.host(node)?.run(
                    "read the end of the node's log",
                    &format!("tail -n {lines} {}/log 2>/dev/null || true", shell_quote(&d)),
                )
            })
            .unwrap_or_else(|e| format!("(cannot read the node's log: {e})\n"));
        let ssh = std::fs::read_to_string(local_dir.join("ssh.log")).unwrap_or_default();
        if ssh.trim().is_empty() { log } else { format!("{log}ssh said: {}\n", ssh.trim()) }
    }

    /// SIGKILLs `node` by its pid file and returns once it is gone (the kill fault).
    pub fn kill_node(&self, node: &str) -> Result<()> {
        let script = self.stop_script(node, "KILL", Duration::ZERO)?;
        self.host(node)?.run(&format!("kill node {node}"), &script).map(|_| ())
    }

    /// The script that sends `signal` (`STOP`, `CONT`) to node `node` by its pid file, once
    /// `/proc/PID/environ` shows the run's id, and waits until `/proc/PID/stat` shows the
    /// state `stopped` asks for (`T` or not `T`). Prints `gone` when the node is not running.
    fn signal_script(&self, node: &str, signal: &str, stopped: bool) -> Result<String> {
        let pidfile = shell_quote(&format!("{}/pid", self.node_dir(node)?));
        // The case arms that end the wait once the state letter is the one asked for.
        let (done, want) =
            if stopped { ("[Tt]) exit 0;;", "stopped") } else { ("[Tt]) ;; *) exit 0;;", "running") };
        Ok(format!(
            "{IS_OURS}\n\
             pid=$(cat {pidfile} 2>/dev/null) || {{ echo gone; exit 0; }}\n\
             is_ours \"$pid\" {run} || {{ echo gone; exit 0; }}\n\
             kill -{signal} $pid 2>/dev/null || {{ echo gone; exit 0; }}\n\
             state() {{ sed 's/.*)//' /proc/$pid/stat 2>/dev/null | awk '{{print $1}}'; }}\n\
             i=0; while [ $i -lt 500 ]; do\n\
               s=$(state); [ -z \"$s\" ] && {{ echo gone; exit 0; }}\n\
               case $s in {done} esac\n\
               sleep 0.01; i=$((i+1))\n\
             done\n\
             echo \"pid $pid is still in state $s 5 s after SIG{signal}, not {want}\"; exit 3",
            run = self.run_id
        ))
    }

    /// SIGSTOPs `node` by its pid file and returns once its host's `/proc` shows it
    /// stopped (the pause fault); false when the node is not running.
    pub fn pause_node(&self, node: &str) -> Result<bool> {
        let script = self.signal_script(node, "STOP", true)?;
        let out = self.host(node)?.run(&format!("pause node {node}"), &script)?;
        Ok(out.trim() != "gone")
    }

    /// SIGCONTs `node` by its pid file and returns once its host's `/proc` shows it no
    /// longer stopped; a node that is gone has nothing to resume.
    pub fn resume_node(&self, node: &str) -> Result<()> {
        let script = self.signal_script(node, "CONT", false)?;
        self.host(node)?.run(&format!("resume node {node}"), &script).map(|_| ())
    }

    /// The non-empty regular files under `node`'s data dir on its host, as paths relative
    /// to that dir with their sizes in bytes, sorted (so a seeded pick is repeatable).
    pub fn list_data_files(&self, node: &str) -> Result<Vec<(String, u64)>> {
        let data = shell_quote(&format!("{}/data", self.node_dir(node)?));
        let script =
            format!("[ -d {data} ] || exit 0\ncd {data} && find . -type f -size +0c -printf '%s %P\\n'");
        let out = self.host(node)?.run(&format!("list node {node}'s data files"), &script)?;
        let mut files: Vec<(String, u64)> = out
            .lines()
            .filter_map(|l| {
                let (size, rel) = l.split_once(' ')?;
                Some((rel.to_string(), size.parse().ok()?))
            })
            .collect();
        files.sort();
        Ok(files)
    }

    /// The bytes of `rel` (relative to `node`'s data dir) on its host, copied over a
    /// channel of its own, since the command shell carries text.
    pub fn read_data_file(&self, node: &str, rel: &str) -> Result<Vec<u8>> {
        let path = self.data_path(node, rel)?;
        let host = self.host(node)?;
        let out = host
            .command(&format!("read node {node}'s data file {rel}"), &format!("cat {}", shell_quote(&path)))
            .stdin(Stdio::null())
            .output()
            .map_err(|e| NemesisError::io(format!("start ssh {}", host.describe()), e))?;
        if !out.status.success() {
            return Err(NemesisError::Command {
                command: format!("ssh {}: read {path}", host.describe()),
                detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(out.stdout)
    }

    /// Replaces `rel` (relative to `node`'s data dir) on its host with the bytes of the
    /// local file `from`, and syncs it.
    pub fn write_data_file(&self, node: &str, rel: &str, from: &Path) -> Result<()> {
        let path = shell_quote(&self.data_path(node, rel)?);
        let script = format!("cat > {path} && sync {path}");
        self.host(node)?
            .run_with_input(&format!("write node {node}'s data file {rel}"), &script, from)
            .map(|_| ())
    }

    /// The remote path of `rel` in `node`'s data dir; `rel` must stay inside it.
    fn data_path(&self, node: &str, rel: &str) -> Result<String> {
        if rel.is_empty() || rel.starts_with('/') || rel.split('/').any(|c| c == "..") {
            return Err(NemesisError::Invalid(format!(
                "data file {rel:?} is not a path inside the data dir"
            )));
        }
        Ok(format!("{}/data/{rel}", self.node_dir(node)?))
    }

    /// Writes `content` (an offset such as `+12.500`) into `node`'s libfaketime control
    /// file on its host, write then rename so the library never reads half of it; fails
    /// naming the host when `library` (the preload the node is started with) is not there.
    pub fn write_clock(&self, node: &str, library: &Path, content: &str) -> Result<()> {
        let d = shell_quote(&self.node_dir(node)?);
        let lib = shell_quote(&library.display().to_string());
        let script = format!(
            "[ -f {lib} ] || {{ echo \"{lib} is missing: install libfaketime on the host\"; exit 3; }}\n\
             mkdir -p {d} && printf '%s' {} > {d}/.{CLOCK_FILE}.tmp && mv {d}/.{CLOCK_FILE}.tmp {d}/{CLOCK_FILE}",
            shell_quote(content)
        );
        self.host(node)?.run(&format!("set node {node}'s clock to {}", content.trim()), &script).map(|_| ())
    }

    /// Stops every node with `signal` (`TERM`, `INT`), `grace` to exit, then SIGKILL, all
    /// hosts at once. Nothing to do once torn down.
    pub fn stop_nodes(&self, signal: &str, grace: Duration) -> Result<()> {
        if *self.torn_down.lock().unwrap_or_else(|p| p.into_inner())
            || !self.may_run.swap(false, Ordering::SeqCst)
        {
            return Ok(());
        }
        let stopped = self
            .on_each(&format!("stop the node (SIG{signal}, {} ms grace)", grace.as_millis()), |node, _| {
                self.stop_script(node, signal, grace)
            })
            .map(|_| ());
        if stopped.is_err() {
            self.may_run.store(true, Ordering::SeqCst);
        }
        stopped
    }

    /// Replaces the current partition with `grudge`, cutting in `style`.
    pub fn partition(&self, grudge: &Grudge, style: CutStyle) -> Result<()> {
        grudge.validate(&self.nodes)?;
        self.update(|f| {
            f.partition = grudge.clone();
            f.style = style;
        })
    }

    /// Removes every partition rule; loss rules stay.
    pub fn heal(&self) -> Result<()> {
        self.update(|f| f.partition = Grudge::none())
    }

    /// Makes each node of `nodes` drop packets from its peers with `probability`.
    pub fn loss(&self, nodes: &BTreeSet<String>, probability: f64) -> Result<()> {
        crate::net::check_probability(probability)?;
        for n in nodes {
            self.host(n)?;
        }
        self.update(|f| f.loss = nodes.iter().map(|n| (n.clone(), probability)).collect())
    }

    /// Removes every loss rule; partition rules stay.
    pub fn clear_loss(&self) -> Result<()> {
        self.update(|f| f.loss.clear())
    }

    /// `iptables -S` of Sunder's chain on `node`'s host, as its kernel has it.
    pub fn listed_rules(&self, node: &str) -> Result<String> {
        self.host(node)?.run("list Sunder's chain", &format!("iptables -w -S {}", self.chain))
    }

    /// The chain's content on `node`'s host: the SSH port first, never dropped, then the
    /// faults' rules.
    fn chain_rules(&self, faults: &Faults, node: &str) -> Result<Vec<String>> {
        let ssh_port = self.host(node)?.config().ssh_port;
        let mut rules = vec![
            format!("-p tcp --dport {ssh_port} -j RETURN"),
            format!("-p tcp --sport {ssh_port} -j RETURN"),
        ];
        let ip = |n: &str| -> Result<String> { Ok(self.host(n)?.config().address.to_string()) };
        for sender in faults.partition.dropped_by(node) {
            let src = ip(sender)?;
            if faults.style == CutStyle::Reset {
                rules.push(format!("-s {src} -p tcp --tcp-flags RST RST -j RETURN"));
                rules.push(format!("-s {src} -p tcp -j REJECT --reject-with tcp-reset"));
            }
            rules.push(format!("-s {src} -j DROP"));
        }
        if let Some(p) = faults.loss.get(node) {
            for sender in self.nodes.iter().filter(|s| *s != node) {
                rules.push(format!(
                    "-s {} -m statistic --mode random --probability {p:.4} -j DROP",
                    ip(sender)?
                ));
            }
        }
        Ok(rules)
    }

    /// Applies a change to the intended faults: every host whose chain content differs is
    /// rewritten in one atomic `iptables-restore --noflush`, all hosts at once. The first
    /// update also creates the chain and the INPUT jump to it.
    fn update(&self, change: impl FnOnce(&mut Faults)) -> Result<()> {
        if *self.torn_down.lock().unwrap_or_else(|p| p.into_inner()) {
            return Err(NemesisError::Invalid("the remote hosts were already torn down".into()));
        }
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        change(&mut st.0);
        let mut wanted = BTreeMap::new();
        for n in &self.nodes {
            wanted.insert(n.clone(), self.chain_rules(&st.0, n)?);
        }
        let chain = &self.chain;
        let first = st.1.is_none();
        let applied = st.1.clone();
        let result = self.on_some("rewrite Sunder's chain", |node, _| {
            let rules = &wanted[node];
            if applied.as_ref().and_then(|a| a.get(node)).is_some_and(|old| old == rules) {
                return Ok(None);
            }
            let mut restore = format!("*filter\n:{chain} - [0:0]\n");
            for r in rules {
                restore.push_str(&format!("-A {chain} {r}\n"));
            }
            restore.push_str("COMMIT\n");
            let mut script = format!("printf '%s' {} | iptables-restore --noflush -w", shell_quote(&restore));
            if first {
                script.push_str(&format!(
                    " && {{ iptables -w -C INPUT -j {chain} 2>/dev/null || iptables -w -I INPUT 1 -j {chain}; }}"
                ));
            }
            Ok(Some(script))
        });
        match result {
            Ok(_) => {
                st.1 = Some(wanted);
                Ok(())
            }
            Err(e) => {
                st.1 = None;
                Err(e)
            }
        }
    }

    /// Copies each node's remote dir (its log and data dir) into `nodes/<node>/` of the
    /// run folder.
    fn collect(&self) -> Result<()> {
        let mut first = None;
        for node in &self.nodes {
            let d = shell_quote(&self.node_dir(node)?);
            let script = format!(
                "if [ -d {d} ]; then tar -C {d} -cf - --exclude=./pid .; else tar -cf - -T /dev/null; fi"
            );
            let local = self.local_nodes_dir.join(node);
            if let Err(e) =
                self.host(node)?.download_tar(&format!("collect node {node}'s log and data"), &script, &local)
            {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Stops what is left, copies node dirs back, removes the chains and the remote run
    /// dirs, and disconnects (which ends the leases). Idempotent; also done on drop. Errors are
    /// collected: every step is tried on every host.
    pub fn teardown(&self) -> Result<()> {
        if *self.torn_down.lock().unwrap_or_else(|p| p.into_inner()) {
            return Ok(());
        }
        let stopped = self.stop_nodes("TERM", Duration::from_secs(3));
        let collected = self.collect();
        *self.torn_down.lock().unwrap_or_else(|p| p.into_inner()) = true;
        let chain = &self.chain;
        let removed = self.on_each("remove Sunder's chain and the run dir", |node, _| {
            let dir = shell_quote(&self.run_dir(node)?);
            Ok(format!(
                "while iptables -w -C INPUT -j {chain} 2>/dev/null; do iptables -w -D INPUT -j {chain} || exit 3; done\n\
                 if iptables -w -S {chain} >/dev/null 2>&1; then iptables -w -F {chain} && iptables -w -X {chain} || exit 3; fi\n\
                 rm -rf {dir}"
            ))
        });
        for host in self.hosts.values() {
            host.close();
        }
        // Gone only when empty: what ssh said about a failure stays.
        let _ = std::fs::remove_dir(&self.socket_dir);
        stopped.and(collected).and(removed.map(|_| ()))
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        if let Err(e) = self.teardown() {
            eprintln!("sunder-nemesis: teardown of the remote hosts of run {} failed: {e}", self.run_id);
        }
    }
}

/// What `sunder cleanup --hosts` found and did on one host.
#[derive(Debug, Clone, Default)]
pub struct HostCleanup {
    /// Runs whose lease is alive: left alone.
    pub live: Vec<String>,
    /// Runs whose harness is gone and whose nodes, chain and dir were removed.
    pub removed: Vec<String>,
    /// Node pids killed.
    pub killed: Vec<u32>,
}

/// On one host: finds the runs under its work dir whose lease is gone (their harness or its
/// connection died), kills their nodes by pid file (environment checked), deletes their
/// chains (only a chain named after such a run id) and removes their dirs. A run dir with no
/// lease yet is left alone while it is younger than a minute (a run starting).
pub fn cleanup_host(host: &SshHost) -> Result<HostCleanup> {
    let w = shell_quote(host.config().workdir.trim_end_matches('/'));
    let script = format!(
        "{IS_OURS}\n\
         [ -d {w} ] || exit 0\n\
         for d in {w}/*/; do\n\
           [ -d \"$d\" ] || continue\n\
           run=$(basename \"$d\")\n\
           case \"$run\" in *[!A-Za-z0-9]*|'') continue;; esac\n\
           [ ${{#run}} -le {max} ] || continue\n\
           if [ -f \"$d/lease\" ]; then\n\
             if is_ours \"$(cat \"$d/lease\")\" \"$run\"; then echo \"live $run\"; continue; fi\n\
           elif [ -n \"$(find \"$d\" -maxdepth 0 -mmin -1)\" ]; then echo \"live $run\"; continue; fi\n\
           for p in \"$d\"*/pid; do\n\
             [ -f \"$p\" ] || continue\n\
             np=$(cat \"$p\")\n\
             if is_ours \"$np\" \"$run\"; then kill -KILL \"$np\" && echo \"killed $np\"\n\
               i=0; while kill -0 \"$np\" 2>/dev/null && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done; fi\n\
           done\n\
           chain=SUNDER-$(printf %s \"$run\" | cut -c1-20)\n\
           while iptables -w -C INPUT -j \"$chain\" 2>/dev/null; do iptables -w -D INPUT -j \"$chain\" || exit 3; done\n\
           if iptables -w -S \"$chain\" >/dev/null 2>&1; then iptables -w -F \"$chain\" && iptables -w -X \"$chain\" || exit 3; fi\n\
           rm -rf \"$d\" && echo \"removed $run\"\n\
         done",
        max = names::MAX_RUN_ID
    );
    let out = host.run("clean up dead runs", &script)?;
    let mut found = HostCleanup::default();
    for line in out.lines() {
        match line.split_once(' ') {
            Some(("live", r)) => found.live.push(r.to_string()),
            Some(("removed", r)) => found.removed.push(r.to_string()),
            Some(("killed", p)) => found.killed.extend(p.parse::<u32>().ok()),
            _ => {}
        }
    }
    Ok(found)
}
