//! Starts and stops the nodes of a cluster, as the system's [`SystemSpec`] says: each node
//! is a real OS process, `sunder node <system> ...` (this same binary) for a built-in
//! system or the system's own program with its argument template filled in, with its own
//! data dir and log under the run folder, a pid file `sunder cleanup` can find, and
//! `SUNDER_RUN_ID` in its environment. Health is the system's probe; the leader, where it
//! has one, comes from the nodes' own word (Sunder's `/status`, or etcd's status call).
//! Teardown follows the system's stop policy: its signal, its grace, then SIGKILL.
//!
//! Why a spawner thread: `PR_SET_PDEATHSIG` fires when the *thread* that forked the child
//! exits (NOTES.md), and async runtimes retire threads. Every fork happens on one thread
//! that lives as long as the [`Cluster`], so nodes die with the harness, even when the
//! harness is SIGKILLed, and never before.

use anyhow::{Context, Result, anyhow, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use sunder_nemesis::Network;
use sunder_nemesis::process::ClusterError;
use sunder_systems::spec::{HealthProbe, LeaderProbe, Program, StopSignal, SystemSpec};

/// The environment variable every node process carries, naming its run.
pub const RUN_ID_ENV: &str = "SUNDER_RUN_ID";

/// How to start one node.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    /// Node id, e.g. `n1`.
    pub id: String,
    /// Address the node binds.
    pub listen: SocketAddr,
    /// Address clients (and the health check) dial.
    pub client_addr: SocketAddr,
    /// How this node dials each peer.
    pub peers: BTreeMap<String, SocketAddr>,
    /// `nodes/<id>/` in the run folder.
    pub dir: PathBuf,
    /// Extra environment (libfaketime).
    pub env: Vec<(String, String)>,
}

type SpawnReply = mpsc::Sender<std::io::Result<Child>>;

/// A running cluster. Dropping it stops every node (SIGKILL, reaped).
pub struct Cluster {
    system: &'static SystemSpec,
    options: BTreeMap<String, String>,
    specs: BTreeMap<String, NodeSpec>,
    children: Mutex<BTreeMap<String, Child>>,
    /// Every pid this cluster ever started, restarts included, so what a killed node left
    /// behind (libfaketime's shared memory) can be found by pid after teardown.
    started: Mutex<Vec<u32>>,
    spawn_tx: Mutex<Option<mpsc::Sender<(Command, SpawnReply)>>>,
    spawner: Option<std::thread::JoinHandle<()>>,
    exe: PathBuf,
    run_id: Option<String>,
    network: Option<Arc<Network>>,
    /// The HTTP client of leader probes that need one, built on first use (inside the runtime).
    probe_http: std::sync::OnceLock<reqwest::Client>,
}

impl Cluster {
    /// Prepares a cluster of `system`, whose built-in nodes run as `<this executable> node
    /// ...`; nothing starts until [`Cluster::start_all`].
    pub fn new(
        system: &'static SystemSpec,
        options: BTreeMap<String, String>,
        specs: Vec<NodeSpec>,
    ) -> Result<Cluster> {
        let exe = std::env::current_exe().context("cannot find the sunder executable")?;
        Cluster::with_executable(exe, system, options, specs)
    }

    /// Like [`Cluster::new`], with the `sunder` executable given (tests pass the built binary).
    pub fn with_executable(
        exe: PathBuf,
        system: &'static SystemSpec,
        options: BTreeMap<String, String>,
        specs: Vec<NodeSpec>,
    ) -> Result<Cluster> {
        let (tx, rx) = mpsc::channel::<(Command, SpawnReply)>();
        let spawner = std::thread::Builder::new().name("node-spawner".into()).spawn(move || {
            for (mut cmd, reply) in rx {
                let _ = reply.send(cmd.spawn());
            }
        })?;
        Ok(Cluster {
            system,
            options,
            specs: specs.into_iter().map(|s| (s.id.clone(), s)).collect(),
            children: Mutex::new(BTreeMap::new()),
            started: Mutex::new(Vec::new()),
            spawn_tx: Mutex::new(Some(tx)),
            spawner: Some(spawner),
            exe,
            run_id: None,
            network: None,
            probe_http: std::sync::OnceLock::new(),
        })
    }

    /// Places every node where the run's network wants it (its namespace, on netns) and
    /// tags its command line with the run id, so `sunder cleanup` can recognise it.
    pub fn in_network(mut self, run_id: &str, network: Arc<Network>) -> Cluster {
        self.run_id = Some(run_id.to_string());
        self.network = Some(network);
        self
    }

    /// The system this cluster runs.
    pub fn system(&self) -> &'static SystemSpec {
        self.system
    }

    /// Node ids in order.
    pub fn ids(&self) -> Vec<String> {
        self.specs.keys().cloned().collect()
    }

    /// Client addresses by node id.
    pub fn client_addrs(&self) -> BTreeMap<String, SocketAddr> {
        self.specs.iter().map(|(id, s)| (id.clone(), s.client_addr)).collect()
    }

    /// The pid of a running node.
    pub fn pid(&self, id: &str) -> Option<u32> {
        self.children.lock().expect("children lock").get(id).map(|c| c.id())
    }

    /// Starts every node.
    pub fn start_all(&self) -> Result<()> {
        for id in self.ids() {
            self.start(&id)?;
        }
        Ok(())
    }

    /// Starts (or restarts, on the same data dir) one node.
    pub fn start(&self, id: &str) -> Result<()> {
        let spec = self.specs.get(id).ok_or_else(|| anyhow!("no node {id}"))?;
        let data = spec.dir.join("data");
        std::fs::create_dir_all(&data)?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(spec.dir.join("log"))
            .with_context(|| format!("cannot open the log of {id}"))?;
        let mut cmd = self.command(spec, &data)?;
        if let Some(run_id) = &self.run_id {
            cmd.env(RUN_ID_ENV, run_id);
        }
        cmd.envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // On remote hosts the local process is the node's SSH session (its supervisor).
        if let Some(remote) = self.network.as_ref().and_then(|n| n.as_remote()) {
            cmd = remote.node_command(id, &spec.dir, &cmd)?;
        }
        let parent = std::process::id();
        // SAFETY: the closure only makes async-signal-safe system calls (prctl, setpgid,
        // getppid) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // Its own process group: a terminal's Ctrl-C reaches the harness, which then
                // ends the run in order, not the nodes directly.
                if libc::setpgid(0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The harness may have died between fork and prctl.
                if libc::getppid() as u32 != parent {
                    return Err(std::io::Error::other("harness exited during spawn"));
                }
                Ok(())
            });
        }
        if let Some(net) = &self.network {
            net.prepare_node_command(id, &mut cmd).with_context(|| format!("cannot place node {id}"))?;
        }
        let (reply_tx, reply_rx) = mpsc::channel();
        {
            let tx = self.spawn_tx.lock().expect("spawn lock");
            let tx = tx.as_ref().ok_or_else(|| anyhow!("cluster is stopping"))?;
            tx.send((cmd, reply_tx)).map_err(|_| anyhow!("node spawner is gone"))?;
        }
        let child = reply_rx
            .recv()
            .map_err(|_| anyhow!("node spawner is gone"))?
            .with_context(|| format!("cannot start node {id}"))?;
        std::fs::write(spec.dir.join("pid"), format!("{}\n", child.id()))?;
        self.started.lock().expect("started lock").push(child.id());
        self.children.lock().expect("children lock").insert(id.to_string(), child);
        Ok(())
    }

    /// The command line of one node: `sunder node ...` for a built-in system, else the
    /// system's program with its templates filled in.
    fn command(&self, spec: &NodeSpec, data: &std::path::Path) -> Result<Command> {
        let id = &spec.id;
        Ok(match self.system.program {
            Program::Builtin(_) => {
                let mut cmd = Command::new(&self.exe);
                cmd.arg("node")
                    .arg(self.system.name)
                    .args(["--id", id])
                    .arg("--listen")
                    .arg(spec.listen.to_string())
                    .arg("--data")
                    .arg(data);
                for (peer, addr) in &spec.peers {
                    cmd.arg("--peer").arg(format!("{peer}={addr}"));
                }
                if let Some(run_id) = &self.run_id {
                    cmd.args(["--run-id", run_id]);
                }
                for (k, v) in &self.options {
                    cmd.arg("-o").arg(format!("{k}={v}"));
                }
                cmd
            }
            Program::External { command, args } => {
                let mut cmd = Command::new(command);
                for template in args {
                    cmd.arg(self.fill(template, spec, data)?);
                }
                cmd
            }
        })
    }

    /// Fills one argument template of an external program (see [`Program::External`]).
    fn fill(&self, template: &str, spec: &NodeSpec, data: &std::path::Path) -> Result<String> {
        let mut out = String::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let close = rest[open..].find('}').ok_or_else(|| anyhow!("unclosed {{ in {template:?}"))? + open;
            let name = &rest[open + 1..close];
            let (what, arg) = name.split_once(':').unwrap_or((name, ""));
            let port = |addr: SocketAddr| -> Result<SocketAddr> {
                let offset =
                    if arg.is_empty() {
                        0
                    } else {
                        self.system.ports.iter().position(|p| *p == arg).ok_or_else(|| {
                            anyhow!("{template:?}: {} has no port {arg:?}", self.system.name)
                        })?
                    };
                Ok(SocketAddr::new(addr.ip(), addr.port() + offset as u16))
            };
            let cluster = |urls: bool| -> Result<String> {
                let mut all: Vec<(String, SocketAddr)> = vec![(spec.id.clone(), port(spec.client_addr)?)];
                for (peer, addr) in &spec.peers {
                    all.push((peer.clone(), port(*addr)?));
                }
                all.sort();
                let scheme = if urls { "http://" } else { "" };
                Ok(all.iter().map(|(id, a)| format!("{id}={scheme}{a}")).collect::<Vec<_>>().join(","))
            };
            out += &match what {
                "id" => spec.id.clone(),
                "data" => data.display().to_string(),
                "listen" => port(spec.listen)?.to_string(),
                "addr" => port(spec.client_addr)?.to_string(),
                "cluster" => cluster(false)?,
                "cluster_urls" => cluster(true)?,
                "option" => match self.options.get(arg) {
                    Some(v) => v.clone(),
                    None => self
                        .system
                        .option_default(arg)
                        .ok_or_else(|| anyhow!("{template:?}: {} has no option {arg:?}", self.system.name))?
                        .to_string(),
                },
                _ => bail!("{template:?}: unknown placeholder {{{name}}}"),
            };
            rest = &rest[close + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Waits until every node passes the system's health probe, or fails naming the node
    /// and showing the end of its log.
    pub async fn wait_healthy(&self, http: &reqwest::Client, timeout: Duration) -> Result<()> {
        for id in self.ids() {
            self.wait_node(http, &id, timeout).await?;
        }
        Ok(())
    }

    /// Waits until one node passes the system's health probe.
    pub async fn wait_node(&self, http: &reqwest::Client, id: &str, timeout: Duration) -> Result<()> {
        let spec = &self.specs[id];
        let (path, post) = match self.system.health {
            HealthProbe::HttpGet(path) => (path, false),
            HealthProbe::HttpPost(path) => (path, true),
        };
        let url = format!("http://{}{path}", spec.client_addr);
        let deadline = Instant::now() + timeout;
        loop {
            let probe = if post { http.post(&url).body("{}") } else { http.get(&url) };
            if let Ok(r) = probe.timeout(Duration::from_millis(500)).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if let Some(status) = self.exited(id) {
                bail!(
                    "node {id} exited ({status}) before it was healthy; its log ends:\n{}",
                    self.log_tail(id)
                );
            }
            if Instant::now() >= deadline {
                bail!(
                    "node {id} did not answer {url} within {:.1} s; its log ends:\n{}",
                    timeout.as_secs_f64(),
                    self.log_tail(id)
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// `path` (under `node`'s local data dir) relative to that dir, as the remote backend
    /// names a node's data files.
    fn data_rel(&self, node: &str, path: &Path) -> Result<String, ClusterError> {
        let spec = self.specs.get(node).ok_or_else(|| ClusterError::from(format!("unknown node {node}")))?;
        let rel = path.strip_prefix(spec.dir.join("data")).map_err(|_| {
            ClusterError::from(format!("{} is not in node {node}'s data dir", path.display()))
        })?;
        Ok(rel.to_string_lossy().into_owned())
    }

    /// Every pid this cluster started, restarts included.
    pub fn started_pids(&self) -> Vec<u32> {
        self.started.lock().expect("started lock").clone()
    }

    /// The exit status of a node that has exited, reaping it.
    pub fn exited(&self, id: &str) -> Option<std::process::ExitStatus> {
        let mut children = self.children.lock().expect("children lock");
        children.get_mut(id).and_then(|c| c.try_wait().ok().flatten())
    }

    /// The last lines of a node's log.
    pub fn log_tail(&self, id: &str) -> String {
        let text = match self.network.as_ref().and_then(|n| n.as_remote()) {
            Some(remote) => remote.log_tail(id, &self.specs[id].dir, 20),
            None => std::fs::read_to_string(self.specs[id].dir.join("log")).unwrap_or_default(),
        };
        let lines: Vec<&str> = text.lines().collect();
        let tail = &lines[lines.len().saturating_sub(20)..];
        if tail.is_empty() {
            "    (empty)".into()
        } else {
            tail.iter().map(|l| format!("    {l}\n")).collect()
        }
    }

    /// SIGKILLs a node and reaps it (the kill fault). Its data dir stays for a restart.
    pub fn kill(&self, id: &str) -> Result<()> {
        if let Some(remote) = self.network.as_ref().and_then(|n| n.as_remote()) {
            remote.kill_node(id)?;
        }
        let child = self.children.lock().expect("children lock").remove(id);
        if let Some(mut c) = child {
            let _ = kill(Pid::from_raw(c.id() as i32), Signal::SIGKILL);
            c.wait().with_context(|| format!("cannot reap node {id}"))?;
        }
        Ok(())
    }

    /// Stops every node as the system's stop policy says: its stop signal, its grace to
    /// exit, then SIGKILL; all reaped.
    pub fn stop(&self) {
        self.stop_all(self.system.stop.grace);
    }

    /// Stops every node: the system's stop signal (SIGTERM unless it says otherwise), up to
    /// `grace` to exit, then SIGKILL; all reaped.
    pub fn stop_all(&self, grace: Duration) {
        let mut children = std::mem::take(&mut *self.children.lock().expect("children lock"));
        let signal = match self.system.stop.signal {
            StopSignal::Term => Signal::SIGTERM,
            StopSignal::Int => Signal::SIGINT,
        };
        if let Some(remote) = self.network.as_ref().and_then(|n| n.as_remote())
            && let Err(e) = remote.stop_nodes(&signal.as_str()[3..], grace)
        {
            eprintln!("sunder: stopping the remote nodes: {e}");
        }
        for c in children.values() {
            // Resume a paused node first, or it cannot act on the stop signal.
            let _ = kill(Pid::from_raw(c.id() as i32), Signal::SIGCONT);
            let _ = kill(Pid::from_raw(c.id() as i32), signal);
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline && children.values_mut().any(|c| matches!(c.try_wait(), Ok(None))) {
            std::thread::sleep(Duration::from_millis(10));
        }
        for (id, c) in children.iter_mut() {
            if matches!(c.try_wait(), Ok(None)) {
                let _ = kill(Pid::from_raw(c.id() as i32), Signal::SIGKILL);
            }
            let _ = c.wait();
            let _ = std::fs::remove_file(self.specs[id].dir.join("pid"));
        }
    }
}

/// The nemesis aims its process faults through this: kill and restart by the pids this
/// cluster started, the leader from the nodes' own `/status`.
impl sunder_nemesis::process::Cluster for Cluster {
    fn nodes(&self) -> Vec<String> {
        self.ids()
    }

    fn pid(&self, node: &str) -> Option<u32> {
        Cluster::pid(self, node)
    }

    async fn kill(&self, node: &str) -> Result<(), ClusterError> {
        Cluster::kill(self, node).map_err(|e| ClusterError::from(format!("{e:#}")))
    }

    async fn restart(&self, node: &str) -> Result<(), ClusterError> {
        self.start(node).map_err(|e| ClusterError::from(format!("{e:#}")))
    }

    async fn pause(&self, node: &str) -> Result<bool, ClusterError> {
        match self.network.as_ref().and_then(|n| n.as_remote()) {
            // The local pid is the node's SSH session; the node itself runs on its host.
            Some(remote) => remote.pause_node(node).map_err(ClusterError::from),
            None => match Cluster::pid(self, node) {
                Some(pid) => {
                    sunder_nemesis::process::pause(pid).await.map(|()| true).map_err(ClusterError::from)
                }
                None => Ok(false),
            },
        }
    }

    async fn resume(&self, node: &str) -> Result<(), ClusterError> {
        match self.network.as_ref().and_then(|n| n.as_remote()) {
            Some(remote) => remote.resume_node(node).map_err(ClusterError::from),
            None => match Cluster::pid(self, node) {
                Some(pid) if sunder_nemesis::process::proc_state(pid).is_some() => {
                    sunder_nemesis::process::resume(pid).await.map_err(ClusterError::from)
                }
                _ => Ok(()),
            },
        }
    }

    fn data_files_are_local(&self) -> bool {
        self.network.as_ref().and_then(|n| n.as_remote()).is_none()
    }

    fn data_files(
        &self,
        node: &str,
        dir: &Path,
        globs: &[String],
    ) -> Result<Vec<(PathBuf, u64)>, ClusterError> {
        let Some(remote) = self.network.as_ref().and_then(|n| n.as_remote()) else {
            return Ok(sunder_nemesis::process::local_data_files(dir, globs));
        };
        // Named by their local paths (the data dir the nemesis knows), as the remote node
        // dir mirrors the local one.
        Ok(remote
            .list_data_files(node)?
            .into_iter()
            .filter(|(rel, _)| globs.iter().any(|g| sunder_nemesis::disk::glob_matches(g, rel)))
            .map(|(rel, len)| (dir.join(rel), len))
            .collect())
    }

    fn read_data_file(&self, node: &str, path: &Path) -> Result<Vec<u8>, ClusterError> {
        match self.network.as_ref().and_then(|n| n.as_remote()) {
            Some(remote) => Ok(remote.read_data_file(node, &self.data_rel(node, path)?)?),
            None => std::fs::read(path).map_err(|e| ClusterError::from(format!("{}: {e}", path.display()))),
        }
    }

    fn write_data_file(&self, node: &str, path: &Path, bytes: &[u8]) -> Result<(), ClusterError> {
        let Some(remote) = self.network.as_ref().and_then(|n| n.as_remote()) else {
            return std::fs::write(path, bytes)
                .map_err(|e| ClusterError::from(format!("{}: {e}", path.display())));
        };
        let rel = self.data_rel(node, path)?;
        let spec = self.specs.get(node).ok_or_else(|| ClusterError::from(format!("unknown node {node}")))?;
        // Uploaded from a file beside the node's local dir, gone once written.
        let upload = spec.dir.join("data-file.upload");
        std::fs::create_dir_all(&spec.dir)
            .and_then(|()| std::fs::write(&upload, bytes))
            .map_err(|e| ClusterError::from(format!("{}: {e}", upload.display())))?;
        let written = remote.write_data_file(node, &rel, &upload);
        let _ = std::fs::remove_file(&upload);
        Ok(written?)
    }

    async fn leader(&self) -> Option<String> {
        match self.system.leader {
            LeaderProbe::None => None,
            LeaderProbe::SunderStatus => {
                sunder_nemesis::status::leader_from_status(&self.client_addrs(), Duration::from_millis(500))
                    .await
            }
            LeaderProbe::EtcdStatus => {
                let http = self.probe_http.get_or_init(|| {
                    reqwest::Client::builder().no_proxy().build().expect("a plain HTTP client builds")
                });
                crate::etcd_status::leader(http, &self.client_addrs(), Duration::from_millis(500)).await
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop_all(Duration::from_millis(500));
        self.spawn_tx.lock().map(|mut t| t.take()).ok();
        if let Some(t) = self.spawner.take() {
            let _ = t.join();
        }
    }
}

/// A free TCP port on 127.0.0.1 for a node to take, from outside the kernel's ephemeral
/// range so nothing else is handed it first (see [`sunder_nemesis::net::ports`]).
pub fn free_local_addr() -> Result<SocketAddr> {
    let port = sunder_nemesis::net::ports::loopback_port().context("cannot find a free port")?;
    Ok(SocketAddr::from(([127, 0, 0, 1], port)))
}
