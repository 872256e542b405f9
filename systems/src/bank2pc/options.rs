//! The `-o` options of bank-2pc, parsed once at start: the protocol, who may
//! coordinate, the bank's accounts, the timeout, the planted bugs and one test hook.
//! `docs/bank-2pc.md` says what each planted bug breaks.

use crate::bank2pc::core::{CoreConfig, Protocol};
use crate::config::{NodeConfig, NodeError, OptionSpec};

/// Which nodes accept client transactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoordinatorChoice {
    /// Whichever node a client asks coordinates (the default).
    Any,
    /// Only this node; the others refuse client requests with a definite `421` naming it.
    Fixed(String),
}

/// Every bank-2pc option, resolved.
#[derive(Debug, Clone)]
pub struct BankOptions {
    /// Two- or three-phase commit.
    pub protocol: Protocol,
    /// Who coordinates.
    pub coordinator: CoordinatorChoice,
    /// Account names.
    pub accounts: Vec<String>,
    /// Starting balance of each account.
    pub initial_balance: i64,
    /// Coordinator vote timeout (ms).
    pub timeout_ms: u64,
    /// Planted bug: in-doubt participants abort alone.
    pub unsafe_heuristic_abort: bool,
    /// Planted bug: the coordinator forgets decisions across a crash.
    pub unsafe_no_decision_log: bool,
    /// Planted bug: reads take no locks.
    pub unsafe_unlocked_reads: bool,
    /// Test hook: delay between logging a commit and sending it (ms).
    pub debug_pause_before_commit_ms: u64,
    /// Test hook: the nodes the pause applies on (None: every node).
    pub debug_pause_nodes: Option<Vec<String>>,
}

/// The options declared in the catalog.
pub const OPTION_SPECS: &[OptionSpec] = &[
    OptionSpec { key: "protocol", default: "2pc", doc: "atomic commitment: 2pc | 3pc (decides by timeout)" },
    OptionSpec {
        key: "coordinator",
        default: "any",
        doc: "who coordinates: any (the node a client asks) | a node id such as n1",
    },
    OptionSpec {
        key: "accounts",
        default: "a0,a1,a2,a3,a4",
        doc: "bank accounts: comma-separated names, or a count N for a0..aN-1",
    },
    OptionSpec { key: "initial-balance", default: "100", doc: "each account's balance at first start" },
    OptionSpec {
        key: "timeout-ms",
        default: "1000",
        doc: "coordinator vote timeout; 3pc participants decide alone after twice this (ms)",
    },
    OptionSpec {
        key: "unsafe-heuristic-abort",
        default: "false",
        doc: "BUG: a participant in doubt for twice timeout-ms aborts on its own",
    },
    OptionSpec {
        key: "unsafe-no-decision-log",
        default: "false",
        doc: "BUG: the coordinator does not log decisions and forgets them across a crash",
    },
    OptionSpec {
        key: "unsafe-unlocked-reads",
        default: "false",
        doc: "BUG: reads take no locks (torn reads across shards)",
    },
    OptionSpec {
        key: "debug-pause-before-commit-ms",
        default: "0",
        doc: "test hook: wait this long between logging a writing commit and sending it (ms)",
    },
    OptionSpec {
        key: "debug-pause-nodes",
        default: "all",
        doc: "test hook: the nodes debug-pause-before-commit-ms applies on: all, or comma-separated ids",
    },
];

fn parse_accounts(v: &str) -> Result<Vec<String>, NodeError> {
    let bad = |why: &str| NodeError::BadOption(format!("-o accounts={v}: {why}"));
    if let Ok(n) = v.parse::<usize>() {
        if n == 0 {
            return Err(bad("expected at least one account"));
        }
        return Ok((0..n).map(|i| format!("a{i}")).collect());
    }
    let names: Vec<String> = v.split(',').map(|s| s.trim().to_string()).collect();
    if names.iter().any(|n| n.is_empty() || n.contains('/')) {
        return Err(bad("expected comma-separated names without '/' or empty entries"));
    }
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    if sorted.len() != names.len() {
        return Err(bad("an account is named twice"));
    }
    Ok(names)
}

/// `-o debug-pause-nodes`: None for `all`, else node ids of this cluster.
fn parse_pause_nodes(cfg: &NodeConfig) -> Result<Option<Vec<String>>, NodeError> {
    let v = cfg.option(OPTION_SPECS, "debug-pause-nodes");
    if v == "all" {
        return Ok(None);
    }
    let nodes: Vec<String> = v.split(',').map(|s| s.trim().to_string()).collect();
    match nodes.iter().find(|n| **n != cfg.id && !cfg.peers.contains_key(n.as_str())) {
        Some(stranger) => Err(NodeError::BadOption(format!(
            "-o debug-pause-nodes={v}: {stranger:?} is not a node of this cluster; expected all or comma-separated node ids"
        ))),
        None => Ok(Some(nodes)),
    }
}

impl BankOptions {
    /// Reads the options of `cfg`, rejecting values that make no sense.
    pub fn from_config(cfg: &NodeConfig) -> Result<BankOptions, NodeError> {
        let spec = OPTION_SPECS;
        let protocol = match cfg.option(spec, "protocol") {
            "2pc" => Protocol::TwoPhase,
            "3pc" => Protocol::ThreePhase,
            v => return Err(NodeError::BadOption(format!("-o protocol={v}: expected 2pc or 3pc"))),
        };
        let coordinator = match cfg.option(spec, "coordinator") {
            "any" => CoordinatorChoice::Any,
            id if id == cfg.id || cfg.peers.contains_key(id) => CoordinatorChoice::Fixed(id.to_string()),
            v => {
                return Err(NodeError::BadOption(format!(
                    "-o coordinator={v}: expected any or the id of a node of this cluster"
                )));
            }
        };
        let number = |key: &str, min: i64| -> Result<i64, NodeError> {
            let v = cfg.option(spec, key);
            match v.parse::<i64>() {
                Ok(n) if n >= min => Ok(n),
                _ => Err(NodeError::BadOption(format!("-o {key}={v}: expected an integer >= {min}"))),
            }
        };
        Ok(BankOptions {
            protocol,
            coordinator,
            accounts: parse_accounts(cfg.option(spec, "accounts"))?,
            initial_balance: number("initial-balance", 0)?,
            timeout_ms: number("timeout-ms", 10)? as u64,
            unsafe_heuristic_abort: cfg.flag(spec, "unsafe-heuristic-abort")?,
            unsafe_no_decision_log: cfg.flag(spec, "unsafe-no-decision-log")?,
            unsafe_unlocked_reads: cfg.flag(spec, "unsafe-unlocked-reads")?,
            debug_pause_before_commit_ms: number("debug-pause-before-commit-ms", 0)? as u64,
            debug_pause_nodes: parse_pause_nodes(cfg)?,
        })
    }

    /// The core configuration of node `id` in a cluster of `nodes`.
    pub fn core_config(&self, id: &str, nodes: Vec<String>) -> CoreConfig {
        let mut c = CoreConfig::new(id, nodes);
        c.protocol = self.protocol;
        c.timeout_ms = self.timeout_ms;
        c.retry_ms = (self.timeout_ms / 10).clamp(10, 200);
        c.accounts = self.accounts.clone();
        c.initial_balance = self.initial_balance;
        c.unsafe_heuristic_abort = self.unsafe_heuristic_abort;
        c.unsafe_no_decision_log = self.unsafe_no_decision_log;
        c.unsafe_unlocked_reads = self.unsafe_unlocked_reads;
        let paused_here = self.debug_pause_nodes.as_ref().is_none_or(|nodes| nodes.iter().any(|n| n == id));
        c.pause_before_commit_ms = if paused_here { self.debug_pause_before_commit_ms } else { 0 };
        c
    }

    /// Whether node `id` accepts client transactions.
    pub fn coordinates(&self, id: &str) -> bool {
        match &self.coordinator {
            CoordinatorChoice::Any => true,
            CoordinatorChoice::Fixed(c) => c == id,
        }
    }
}
