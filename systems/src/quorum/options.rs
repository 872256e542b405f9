//! The `-o` options of quorum-kv, parsed once at start against the cluster size. The
//! defaults are the strongest setting the store has for registers without Paxos: every
//! node a replica, majority reads and writes, ABD write-back reads (and the query phase
//! ABD writes need), a hybrid logical clock, CRDT sets and counters, read repair and
//! anti-entropy on. Users step down the consistency ladder by turning things off, so a
//! run that names no option shows what the design can promise, and each weaker rung is
//! an explicit choice that `docs/quorum-kv.md` explains.

use crate::config::{NodeConfig, NodeError, OptionSpec};

/// How a register picks between versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolve {
    /// Last write wins by the coordinator's wall clock.
    Lww,
    /// Last write wins by a hybrid logical clock.
    Hlc,
    /// Version vectors: concurrent writes are kept as siblings.
    Vclock,
}

/// How compare-and-set is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CasMode {
    /// Not at all: a definite "not supported".
    None,
    /// Every register operation is a single-decree Paxos round on the key's replicas.
    Paxos,
}

/// Every quorum-kv option, resolved against the cluster size.
#[derive(Debug, Clone)]
pub struct QuorumOptions {
    /// Replicas per key (at most the cluster size).
    pub n: usize,
    /// Replies a read waits for.
    pub r: usize,
    /// Acknowledgements a write waits for.
    pub w: usize,
    /// How long a request may take before it fails (ms).
    pub timeout_ms: u64,
    /// Version resolution of registers.
    pub resolve: Resolve,
    /// Sets and counters as CRDTs (else as last-write-wins values).
    pub crdt: bool,
    /// Reads send the merged state to replicas that replied with an older one.
    pub read_repair: bool,
    /// ABD: reads write the merged state back to W replicas before answering, and writes
    /// first query R replicas so their stamp supersedes every version found.
    pub read_writeback: bool,
    /// Writes that miss replicas go to the next nodes of the ring as hints.
    pub sloppy: bool,
    /// Interval between anti-entropy rounds (ms); 0 turns anti-entropy off.
    pub anti_entropy_ms: u64,
    /// Compare-and-set mode.
    pub cas: CasMode,
    /// Test hook: a write's messages to the other replicas leave this long after its
    /// coordinator stored it locally (a slow link on the write path only; ms).
    pub debug_store_delay_ms: u64,
}

/// The options declared in the catalog.
pub const OPTION_SPECS: &[OptionSpec] = &[
    OptionSpec { key: "n", default: "all", doc: "replicas per key: an integer or all (every node)" },
    OptionSpec {
        key: "r",
        default: "quorum",
        doc: "read replies awaited: an integer, quorum (n/2+1) or all",
    },
    OptionSpec { key: "w", default: "quorum", doc: "write acks awaited: an integer, quorum (n/2+1) or all" },
    OptionSpec { key: "timeout-ms", default: "1000", doc: "how long a request waits for its quorum (ms)" },
    OptionSpec {
        key: "resolve",
        default: "hlc",
        doc: "register versions: lww (wall clock, skew loses writes) | hlc | vclock (siblings)",
    },
    OptionSpec {
        key: "crdt",
        default: "true",
        doc: "sets and counters as OR-set and PN-counter (false: LWW values)",
    },
    OptionSpec { key: "read-repair", default: "true", doc: "reads repair replicas that answered stale" },
    OptionSpec {
        key: "read-writeback",
        default: "true",
        doc: "ABD: reads write back before answering, writes query first (linearizable when r+w>n)",
    },
    OptionSpec {
        key: "sloppy",
        default: "false",
        doc: "sloppy quorum: hints on fallback nodes count toward w",
    },
    OptionSpec { key: "anti-entropy-ms", default: "1000", doc: "anti-entropy round interval (ms); 0 is off" },
    OptionSpec {
        key: "cas",
        default: "none",
        doc: "compare-and-set: none (refused) | paxos (every register op)",
    },
    OptionSpec {
        key: "debug-store-delay-ms",
        default: "0",
        doc: "test hook: hold a write's messages to the other replicas this long (ms)",
    },
];

impl QuorumOptions {
    /// Reads the options of `cfg` for a cluster of `cfg.peers` plus this node.
    pub fn from_config(cfg: &NodeConfig) -> Result<QuorumOptions, NodeError> {
        let spec = OPTION_SPECS;
        let bad =
            |key: &str, v: &str, want: &str| NodeError::BadOption(format!("-o {key}={v}: expected {want}"));
        let nodes = cfg.peers.len() + 1;
        let n = match cfg.option(spec, "n") {
            "all" => nodes,
            v => match v.parse::<usize>() {
                Ok(k) if (1..=nodes).contains(&k) => k,
                _ => return Err(bad("n", v, &format!("all or an integer from 1 to the {nodes} nodes"))),
            },
        };
        let count = |key: &str| -> Result<usize, NodeError> {
            match cfg.option(spec, key) {
                "quorum" => Ok(n / 2 + 1),
                "all" => Ok(n),
                v => match v.parse::<usize>() {
                    Ok(k) if (1..=n).contains(&k) => Ok(k),
                    _ => Err(bad(key, v, &format!("quorum, all or an integer from 1 to n={n}"))),
                },
            }
        };
        let resolve = match cfg.option(spec, "resolve") {
            "lww" => Resolve::Lww,
            "hlc" => Resolve::Hlc,
            "vclock" => Resolve::Vclock,
            v => return Err(bad("resolve", v, "lww, hlc or vclock")),
        };
        let cas = match cfg.option(spec, "cas") {
            "none" => CasMode::None,
            "paxos" => CasMode::Paxos,
            v => return Err(bad("cas", v, "none or paxos")),
        };
        let millis = |key: &str, min: u64| -> Result<u64, NodeError> {
            let v = cfg.option(spec, key);
            v.parse::<u64>()
                .ok()
                .filter(|x| *x >= min)
                .ok_or_else(|| bad(key, v, &format!("an integer >= {min}")))
        };
        Ok(QuorumOptions {
            n,
            r: count("r")?,
            w: count("w")?,
            timeout_ms: millis("timeout-ms", 1)?,
            resolve,
            crdt: cfg.flag(spec, "crdt")?,
            read_repair: cfg.flag(spec, "read-repair")?,
            read_writeback: cfg.flag(spec, "read-writeback")?,
            sloppy: cfg.flag(spec, "sloppy")?,
            anti_entropy_ms: millis("anti-entropy-ms", 0)?,
            cas,
            debug_store_delay_ms: millis("debug-store-delay-ms", 0)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn cfg(nodes: usize, options: &[(&str, &str)]) -> NodeConfig {
        NodeConfig {
            id: "n1".into(),
            listen: "127.0.0.1:0".parse().expect("addr"),
            peers: (2..=nodes).map(|i| (format!("n{i}"), "127.0.0.1:1".parse().expect("addr"))).collect(),
            data: std::env::temp_dir().join("sunder-quorum-never-created"),
            options: options.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn defaults_are_majority_quorums_over_every_node_with_write_back() {
        let o = QuorumOptions::from_config(&cfg(5, &[])).expect("defaults parse");
        assert_eq!((o.n, o.r, o.w), (5, 3, 3));
        assert!(o.read_writeback && o.read_repair && o.crdt && !o.sloppy);
        assert_eq!((o.resolve, o.cas), (Resolve::Hlc, CasMode::None));
    }

    #[test]
    fn quorum_sizes_follow_n_and_never_exceed_it() {
        let o = QuorumOptions::from_config(&cfg(5, &[("n", "3"), ("r", "1"), ("w", "all")])).expect("parse");
        assert_eq!((o.n, o.r, o.w), (3, 1, 3));
        let err = QuorumOptions::from_config(&cfg(5, &[("n", "3"), ("r", "4")])).expect_err("r > n");
        assert!(err.to_string().contains("-o r=4"), "{err}");
        let err = QuorumOptions::from_config(&cfg(3, &[("n", "4")])).expect_err("n > nodes");
        assert!(err.to_string().contains("-o n=4"), "{err}");
    }

    #[test]
    fn unknown_values_are_rejected_with_the_accepted_ones() {
        let err = QuorumOptions::from_config(&cfg(3, &[("resolve", "newest")])).expect_err("bad resolve");
        assert!(err.to_string().contains("lww, hlc or vclock"), "{err}");
        let err = QuorumOptions::from_config(&cfg(3, &[("cas", "raft")])).expect_err("bad cas");
        assert!(err.to_string().contains("none or paxos"), "{err}");
    }
}
