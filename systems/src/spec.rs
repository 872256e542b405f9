//! What a system under test is, as one value the harness looks up by name (DESIGN.md, "Two
//! seams"): its node counts and `-o` options, how one node starts (a built-in `sunder node`
//! program, or an external program with an argument template), its named ports, how to ask
//! a node whether it is healthy and whom it thinks leads, the protocol its clients speak,
//! and what it supports. The launcher, the runner, the nemesis' leader targeting and
//! `sunder cleanup` read everything from here, so a new system is one folder plus one line in
//! [`crate::catalog`]. It depends only on [`crate::config`], which depends on nothing, so the
//! imports run one way: config, spec, each system, catalog, node.

pub use crate::config::OptionSpec;
use crate::config::{NodeConfig, NodeError};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A future that resolves when a node should stop (SIGTERM or SIGINT).
pub type Shutdown = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A built-in node program: serves `NodeConfig` until the shutdown future resolves.
pub type ServeFn = fn(NodeConfig, Shutdown) -> Pin<Box<dyn Future<Output = Result<(), NodeError>> + Send>>;

/// How one node of a system is started.
#[derive(Clone, Copy)]
pub enum Program {
    /// `sunder node <name> --id ID --listen ADDR --data DIR [--peer ID=ADDR]... [-o K=V]...`,
    /// served in-process by this function.
    Builtin(ServeFn),
    /// Another binary. Every argument is a template; the launcher fills in `{id}`, `{data}`,
    /// `{listen:PORT}` (the address to bind the named port on), `{addr:PORT}` (the address
    /// others dial it at), `{cluster:PORT}` (`n1=ADDR,n2=ADDR,...` over every node) and
    /// `{cluster_urls:PORT}` (the same with `http://` before each address), and `{option:KEY}`
    /// (a `-o` value or its default).
    External {
        /// The program, found on `PATH` when it is not a path.
        command: &'static str,
        /// Its argument templates.
        args: &'static [&'static str],
    },
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Program::Builtin(_) => f.write_str("Builtin"),
            Program::External { command, args } => {
                f.debug_struct("External").field("command", command).field("args", args).finish()
            }
        }
    }
}

/// How the harness asks a node whether it is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthProbe {
    /// `GET PATH` on the node's client port answers 2xx.
    HttpGet(&'static str),
    /// `POST PATH` with an empty JSON object (`{}`) on the node's client port answers 2xx
    /// (etcd's JSON gateway takes only POST).
    HttpPost(&'static str),
}

/// How the harness learns which node leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaderProbe {
    /// The system has no leader: runs wait for none, and faults aimed at the leader are refused.
    None,
    /// Sunder's `GET /status` with `role`, `term` and `leader` fields.
    SunderStatus,
    /// etcd's `POST /v3/maintenance/status` through its JSON gateway: each node names its
    /// own `header.member_id` and the `leader` member id it follows, with its `raftTerm`.
    EtcdStatus,
}

/// The protocol a system's clients speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Sunder's HTTP/JSON routes (DESIGN.md, "Protocol of Sunder's own systems").
    SunderHttp,
    /// etcd's v3 JSON gateway (`POST /v3/kv/range`, `/v3/kv/put`, `/v3/kv/txn`).
    EtcdGateway,
}

impl Protocol {
    /// Every protocol, for parsing and error messages.
    pub const ALL: &'static [Protocol] = &[Protocol::SunderHttp, Protocol::EtcdGateway];

    /// The name recorded in `test.json` and written in a system file.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::SunderHttp => "sunder-http",
            Protocol::EtcdGateway => "etcd",
        }
    }

    /// The protocol called `name`, if any.
    pub fn from_name(name: &str) -> Option<Protocol> {
        Protocol::ALL.iter().copied().find(|p| p.name() == name)
    }
}

/// The signal that asks a node to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGTERM.
    Term,
    /// SIGINT.
    Int,
}

impl StopSignal {
    /// Its usual name without the `SIG` prefix (`TERM`, `INT`).
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Term => "TERM",
            StopSignal::Int => "INT",
        }
    }
}

/// How teardown stops a node: this signal, then up to `grace` for it to exit, then SIGKILL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopPolicy {
    /// The polite signal.
    pub signal: StopSignal,
    /// How long the node gets before SIGKILL.
    pub grace: Duration,
}

impl StopPolicy {
    /// SIGTERM with `grace_ms` milliseconds of grace.
    pub const fn term(grace_ms: u64) -> StopPolicy {
        StopPolicy { signal: StopSignal::Term, grace: Duration::from_millis(grace_ms) }
    }
}

/// What a system supports, so the harness refuses a run that could not mean anything.
#[derive(Debug, Clone, Copy)]
pub struct Capabilities {
    /// Workloads it implements the routes of.
    pub workloads: &'static [&'static str],
    /// Whether the register workload may issue compare-and-set.
    pub cas: bool,
    /// `-o KEY=VALUE` under which compare-and-set is honest when `cas` is false (quorum-kv's
    /// `cas=paxos`).
    pub cas_when: Option<(&'static str, &'static str)>,
    /// Network backends it runs on (`netns`, `local`).
    pub backends: &'static [&'static str],
    /// Whether libfaketime's clock faults reach its nodes.
    pub clock_faults: bool,
    /// The `--nemesis` fault kinds that apply (`partition`, `kill`, ...); None for all of
    /// them (clock faults still only when `clock_faults`).
    pub faults: Option<&'static [&'static str]>,
    /// Why it cannot take what it refuses (a backend, clock faults), added to the refusal.
    pub limits: Option<&'static str>,
    /// Whether its refusals name the leader (`leader` in an error reply), so a client
    /// that remembers the name can go there first instead of being redirected each time.
    pub leader_hints: bool,
    /// Whether the run samples every node's `GET /status` about every 200 ms into
    /// `nodes/<node>/status.jsonl`, for a system whose status says something worth a
    /// timeline (bank-2pc's transactions in doubt and locks held).
    pub status_timeline: bool,
}

/// One system under test.
#[derive(Debug, Clone, Copy)]
pub struct SystemSpec {
    /// The name given to `--system` and `sunder node`.
    pub name: &'static str,
    /// One line on what it is.
    pub doc: &'static str,
    /// Fewest nodes it runs with.
    pub min_nodes: usize,
    /// Most nodes it runs with.
    pub max_nodes: usize,
    /// Nodes a run gets when `--nodes` is not given.
    pub default_nodes: usize,
    /// Faults a run injects when `--nemesis` is not given (`none`, or e.g. `partition,kill`).
    pub default_nemesis: &'static str,
    /// Options it accepts.
    pub options: &'static [OptionSpec],
    /// How a node starts.
    pub program: Program,
    /// Named ports per node; the first is the one clients and health checks use.
    pub ports: &'static [&'static str],
    /// How to tell a node is up.
    pub health: HealthProbe,
    /// How to find the leader.
    pub leader: LeaderProbe,
    /// What clients speak.
    pub protocol: Protocol,
    /// How teardown stops a node.
    pub stop: StopPolicy,
    /// What it supports.
    pub capabilities: Capabilities,
    /// Globs, relative to a node's data directory, of the files `--nemesis corrupt` may
    /// damage: those whose damage the system claims to detect. Empty when it keeps
    /// nothing on disk it could recover from, which refuses corrupt faults.
    pub data_files: &'static [&'static str],
}

impl SystemSpec {
    /// Whether the system has a leader a run should wait for and faults can aim at.
    pub fn has_leader(&self) -> bool {
        self.leader != LeaderProbe::None
    }

    /// Whether it implements `workload`'s routes.
    pub fn supports_workload(&self, workload: &str) -> bool {
        self.capabilities.workloads.contains(&workload)
    }

    /// Whether the fault kind named `fault` applies to it.
    pub fn supports_fault(&self, fault: &str) -> bool {
        (fault != "clock" || self.capabilities.clock_faults)
            && self.capabilities.faults.is_none_or(|faults| faults.contains(&fault))
    }

    /// Whether it runs on the network backend named `backend`.
    pub fn supports_backend(&self, backend: &str) -> bool {
        self.capabilities.backends.contains(&backend)
    }

    /// Whether compare-and-set is honest with these `-o` options.
    pub fn honest_cas(&self, options: &std::collections::BTreeMap<String, String>) -> bool {
        self.capabilities.cas
            || self.capabilities.cas_when.is_some_and(|(k, v)| options.get(k).map(String::as_str) == Some(v))
    }

    /// The default of option `key`, if it declares one.
    pub fn option_default(&self, key: &str) -> Option<&'static str> {
        self.options.iter().find(|o| o.key == key).map(|o| o.default)
    }

    /// Checks `-o` keys against this system's options; the error names the offending key
    /// and lists the accepted ones.
    pub fn validate_options<'a>(
        &self,
        options: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(), String> {
        for (k, _) in options {
            if !self.options.iter().any(|o| o.key == k) {
                let known: Vec<&str> = self.options.iter().map(|o| o.key).collect();
                return Err(if known.is_empty() {
                    format!("{} takes no -o options, got {k:?}", self.name)
                } else {
                    format!("{} has no option {k:?}; it accepts: {}", self.name, known.join(", "))
                });
            }
        }
        Ok(())
    }
}
