//! The network under test, behind one API whichever backend carries it: [`Network`] is
//! created from a [`NetworkConfig`], tells the launcher where each node listens and how
//! it reaches its peers, places node processes (and the harness) where they belong, and
//! injects partitions, loss and latency. [`NetKind::Auto`] picks the netns backend when
//! running as root with `ip` and `iptables-restore` present, else the local one, and
//! says which and why. The remote backend (real hosts over SSH) is built from a hosts
//! file with [`Network::remote`].

pub mod command;
pub mod local;
pub mod names;
pub mod namespace;
pub mod netns;
pub mod ports;
pub mod proxy;
pub mod remote;

use crate::error::{NemesisError, Result};
use crate::grudge::Grudge;
use local::Local;
use netns::Netns;
use remote::Remote;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::process::Command;
use std::str::FromStr;
use std::time::Duration;

/// Which backend to use (`--net auto|netns|local`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NetKind {
    /// netns when possible, else local.
    #[default]
    Auto,
    /// Network namespaces, veth, a bridge and iptables (needs root).
    Netns,
    /// Loopback and proxies (needs nothing).
    Local,
    /// Real hosts over SSH (`--hosts FILE`).
    Remote,
}

impl FromStr for NetKind {
    type Err = NemesisError;
    fn from_str(s: &str) -> Result<NetKind> {
        match s {
            "auto" => Ok(NetKind::Auto),
            "netns" => Ok(NetKind::Netns),
            "local" => Ok(NetKind::Local),
            "remote" => Ok(NetKind::Remote),
            _ => Err(NemesisError::Invalid(format!("--net {s:?}: expected auto, netns, local or remote"))),
        }
    }
}

impl std::fmt::Display for NetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NetKind::Auto => "auto",
            NetKind::Netns => "netns",
            NetKind::Local => "local",
            NetKind::Remote => "remote",
        })
    }
}

/// How a partition cuts a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CutStyle {
    /// Packets vanish (iptables DROP; the proxy holds the bytes): connections hang.
    #[default]
    Drop,
    /// Connections are refused and aborted with a TCP RST.
    Reset,
}

/// What [`Network::create`] needs.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// Backend wanted.
    pub kind: NetKind,
    /// The run id: 1 to 24 ASCII letters or digits; every namespace and chain carries it.
    pub run_id: String,
    /// Node ids, e.g. `n1`..`n5`.
    pub nodes: Vec<String>,
    /// Port every node listens on in the netns backend (the local backend picks free ones).
    pub port: u16,
    /// Seed of the local proxies' loss draws.
    pub seed: u64,
}

/// Whether this process can run the netns backend, and why not when it cannot.
pub fn netns_available() -> std::result::Result<(), String> {
    if !nix::unistd::geteuid().is_root() {
        return Err("not running as root".into());
    }
    for tool in ["ip", "iptables", "iptables-restore"] {
        if !command::on_path(tool) {
            return Err(format!("`{tool}` is not installed"));
        }
    }
    Ok(())
}

#[derive(Debug)]
enum Backend {
    Netns(Netns),
    Local(Local),
    Remote(Remote),
}

/// A run's network, whichever backend carries it.
#[derive(Debug)]
pub struct Network {
    backend: Backend,
    choice: String,
}

impl Network {
    /// Creates the network. With [`NetKind::Auto`] the choice and its reason are in
    /// [`Network::choice`].
    pub fn create(cfg: &NetworkConfig) -> Result<Network> {
        let (kind, choice) = match cfg.kind {
            NetKind::Auto => match netns_available() {
                Ok(()) => {
                    (NetKind::Netns, "netns (auto: running as root with iproute2 and iptables)".to_string())
                }
                Err(why) => (NetKind::Local, format!("local (auto: netns unavailable, {why})")),
            },
            NetKind::Netns => {
                netns_available()
                    .map_err(|why| NemesisError::Unsupported { what: "--net netns".into(), why })?;
                (NetKind::Netns, "netns (asked for)".to_string())
            }
            NetKind::Local => (NetKind::Local, "local (asked for)".to_string()),
            NetKind::Remote => {
                return Err(NemesisError::Invalid(
                    "the remote backend is built from a hosts file (--hosts)".into(),
                ));
            }
        };
        let backend = match kind {
            NetKind::Netns => Backend::Netns(Netns::create(&cfg.run_id, &cfg.nodes, cfg.port)?),
            _ => Backend::Local(Local::create(&cfg.nodes, cfg.seed)?),
        };
        Ok(Network { backend, choice })
    }

    /// The remote backend over hosts already connected and checked.
    pub fn remote(remote: Remote, hosts_file: &str) -> Network {
        Network { backend: Backend::Remote(remote), choice: format!("remote (hosts from {hosts_file})") }
    }

    /// The backend in use: [`NetKind::Netns`] or [`NetKind::Local`].
    pub fn kind(&self) -> NetKind {
        match self.backend {
            Backend::Netns(_) => NetKind::Netns,
            Backend::Local(_) => NetKind::Local,
            Backend::Remote(_) => NetKind::Remote,
        }
    }

    /// Which backend was picked and why, for the log (e.g. "local (auto: not running as root)").
    pub fn choice(&self) -> &str {
        &self.choice
    }

    /// The netns backend, when it is the one in use.
    pub fn as_netns(&self) -> Option<&Netns> {
        match &self.backend {
            Backend::Netns(n) => Some(n),
            _ => None,
        }
    }

    /// The local backend, when it is the one in use.
    pub fn as_local(&self) -> Option<&Local> {
        match &self.backend {
            Backend::Local(l) => Some(l),
            _ => None,
        }
    }

    /// The remote backend, when it is the one in use.
    pub fn as_remote(&self) -> Option<&Remote> {
        match &self.backend {
            Backend::Remote(r) => Some(r),
            _ => None,
        }
    }

    /// The node ids.
    pub fn nodes(&self) -> &[String] {
        match &self.backend {
            Backend::Netns(n) => n.nodes(),
            Backend::Local(l) => l.nodes(),
            Backend::Remote(r) => r.nodes(),
        }
    }

    /// The address `node` must listen on (`--listen`).
    pub fn listen_addr(&self, node: &str) -> Result<SocketAddr> {
        match &self.backend {
            Backend::Netns(n) => n.addr(node, n.port()),
            Backend::Local(l) => l.listen_addr(node),
            Backend::Remote(r) => r.addr(node),
        }
    }

    /// The address clients dial to reach `node` (the same as its listen address on both
    /// backends: clients are never proxied).
    pub fn client_addr(&self, node: &str) -> Result<SocketAddr> {
        self.listen_addr(node)
    }

    /// `node`'s peer map (`--peer ID=ADDR`): for each other node, the address `node` dials.
    pub fn peer_addrs(&self, node: &str) -> Result<BTreeMap<String, SocketAddr>> {
        match &self.backend {
            Backend::Netns(n) => {
                n.ip(node)?;
                n.nodes()
                    .iter()
                    .filter(|p| *p != node)
                    .map(|p| Ok((p.clone(), n.addr(p, n.port())?)))
                    .collect()
            }
            Backend::Local(l) => l.peer_addrs(node),
            Backend::Remote(r) => r.peer_addrs(node),
        }
    }

    /// Moves the whole calling process into the control namespace (netns; a no-op on
    /// local). Call it on the main thread before any other thread, runtime or socket
    /// exists: it refuses when the process already has more than one thread, because
    /// `setns` would move only this one.
    pub fn enter_control(&self) -> Result<()> {
        let Backend::Netns(n) = &self.backend else { return Ok(()) };
        let threads = std::fs::read_dir("/proc/self/task").map(|d| d.count()).unwrap_or(0);
        if threads != 1 {
            return Err(NemesisError::Invalid(format!(
                "enter_control must run before any other thread exists; this process has {threads} threads"
            )));
        }
        n.control_namespace().enter_current_thread()
    }

    /// Prepares `cmd` so the node process it starts runs where `node` belongs: inside its
    /// namespace on netns (via a `pre_exec` setns), unchanged on local and remote (whose
    /// node command is its SSH session, [`Remote::node_command`]).
    pub fn prepare_node_command(&self, node: &str, cmd: &mut Command) -> Result<()> {
        match &self.backend {
            Backend::Netns(n) => {
                n.node_namespace(node)?.place_command(cmd);
                Ok(())
            }
            Backend::Local(l) => l.listen_addr(node).map(|_| ()),
            Backend::Remote(r) => r.addr(node).map(|_| ()),
        }
    }

    /// Replaces the current partition with `grudge` (packets dropped).
    pub fn partition(&self, grudge: &Grudge) -> Result<()> {
        self.partition_with(grudge, CutStyle::Drop)
    }

    /// Replaces the current partition with `grudge`, cutting in `style`.
    pub fn partition_with(&self, grudge: &Grudge, style: CutStyle) -> Result<()> {
        match &self.backend {
            Backend::Netns(n) => n.partition(grudge, style),
            Backend::Local(l) => l.partition(grudge, style),
            Backend::Remote(r) => r.partition(grudge, style),
        }
    }

    /// Ends the partition (loss and latency stay).
    pub fn heal(&self) -> Result<()> {
        match &self.backend {
            Backend::Netns(n) => n.heal(),
            Backend::Local(l) => l.heal(),
            Backend::Remote(r) => r.heal(),
        }
    }

    /// Makes each node of `nodes` lose traffic from its peers with `probability`,
    /// replacing earlier loss. Client traffic is not affected.
    pub fn loss(&self, nodes: &BTreeSet<String>, probability: f64) -> Result<()> {
        check_probability(probability)?;
        match &self.backend {
            Backend::Netns(n) => n.loss(nodes, probability),
            Backend::Local(l) => l.loss(nodes, probability),
            Backend::Remote(r) => r.loss(nodes, probability),
        }
    }

    /// Ends packet loss.
    pub fn clear_loss(&self) -> Result<()> {
        match &self.backend {
            Backend::Netns(n) => n.clear_loss(),
            Backend::Local(l) => l.clear_loss(),
            Backend::Remote(r) => r.clear_loss(),
        }
    }

    /// Delays peer traffic to and from `nodes` by `delay`. Local backend only: this
    /// kernel has no netem, so the netns backend answers with an error saying so.
    pub fn latency(&self, nodes: &BTreeSet<String>, delay: Duration) -> Result<()> {
        match &self.backend {
            Backend::Netns(_) | Backend::Remote(_) => Err(latency_unsupported()),
            Backend::Local(l) => l.latency(nodes, delay),
        }
    }

    /// Ends added latency (nothing to do on netns).
    pub fn clear_latency(&self) -> Result<()> {
        match &self.backend {
            Backend::Netns(_) | Backend::Remote(_) => Ok(()),
            Backend::Local(l) => l.clear_latency(),
        }
    }

    /// Ends every network fault: partition, loss, latency.
    pub fn heal_all(&self) -> Result<()> {
        let a = self.heal();
        let b = self.clear_loss();
        let c = self.clear_latency();
        a.and(b).and(c)
    }

    /// Removes everything the network created. Idempotent; also done on drop. Stop the
    /// node processes first (a namespace outlives its deletion while a process is inside).
    pub fn teardown(&self) -> Result<()> {
        match &self.backend {
            Backend::Netns(n) => n.teardown(),
            Backend::Local(l) => l.teardown(),
            Backend::Remote(r) => r.teardown(),
        }
    }
}

/// The error latency faults get on the netns backend.
pub fn latency_unsupported() -> NemesisError {
    NemesisError::Unsupported {
        what: "latency on the netns backend".into(),
        why: "this kernel has no netem qdisc (`tc qdisc ... netem`: unknown qdisc kind); use --net local, \
              whose proxies add latency"
            .into(),
    }
}

/// Checks a probability argument.
pub fn check_probability(p: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&p) {
        return Err(NemesisError::Invalid(format!("loss probability {p} is not between 0 and 1")));
    }
    Ok(())
}
