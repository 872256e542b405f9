//! The `-o` options of raft-kv, parsed once at start: which read path to serve, which
//! planted bugs to switch on, and the timing. Each option's one-line doc lives in
//! [`crate::raft::SPEC`]; `docs/raft-kv.md` says what each planted bug breaks.

use crate::config::{NodeConfig, NodeError, OptionSpec};

/// How a node answers `GET /kv/{key}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadPath {
    /// The read goes through the log like a write; linearizable.
    Log,
    /// The leader confirms leadership with a heartbeat round, then reads (section 8).
    ReadIndex,
    /// The leader reads at once while its wall-clock lease lasts; falls back to
    /// read-index when it has expired. Linearizable only while clocks behave.
    Lease,
    /// Any node answers from its own state machine: stale by design.
    Local,
}

/// Every raft-kv option, resolved.
#[derive(Debug, Clone)]
pub struct RaftOptions {
    /// Read path.
    pub reads: ReadPath,
    /// Planted bug: acknowledge before data is durable.
    pub unsafe_no_fsync: bool,
    /// Planted bug: commit entries of older terms by counting replicas (Figure 8).
    pub unsafe_commit_old_term: bool,
    /// Planted bug: forget the vote across a restart.
    pub unsafe_vote_twice: bool,
    /// Planted bug: label snapshots with the last log index, past what was applied.
    pub unsafe_snapshot_past_commit: bool,
    /// Applied entries between snapshots (0: never snapshot; the log grows for ever).
    pub snapshot_every: u64,
    /// Bytes per InstallSnapshot chunk.
    pub snapshot_chunk_bytes: usize,
    /// Minimum election timeout; each timeout is drawn from `[t, 2t)`.
    pub election_timeout_ms: u64,
    /// Heartbeat interval.
    pub heartbeat_ms: u64,
    /// How long a client request may wait for its outcome before the node gives up.
    pub request_timeout_ms: u64,
}

/// The options declared in the catalog.
pub const OPTION_SPECS: &[OptionSpec] = &[
    OptionSpec {
        key: "reads",
        default: "read-index",
        doc: "read path: log | read-index | lease (needs sane clocks) | local (stale)",
    },
    OptionSpec {
        key: "unsafe-no-fsync",
        default: "false",
        doc: "BUG: acknowledge writes before they are durable (lost on kill)",
    },
    OptionSpec {
        key: "unsafe-commit-old-term",
        default: "false",
        doc: "BUG: commit old-term entries by counting replicas (Figure 8)",
    },
    OptionSpec {
        key: "unsafe-vote-twice",
        default: "false",
        doc: "BUG: the vote is not persisted; a restarted node may vote twice in a term",
    },
    OptionSpec {
        key: "unsafe-snapshot-past-commit",
        default: "false",
        doc: "BUG: snapshot at the last log index, dropping entries not yet applied",
    },
    OptionSpec {
        key: "snapshot-every",
        default: "1000",
        doc: "snapshot the state machine and compact the log every N applied entries (0: never)",
    },
    OptionSpec {
        key: "snapshot-chunk-bytes",
        default: "65536",
        doc: "bytes per InstallSnapshot chunk sent to a follower that fell behind a compaction",
    },
    OptionSpec { key: "election-timeout-ms", default: "300", doc: "minimum election timeout (ms)" },
    OptionSpec { key: "heartbeat-ms", default: "50", doc: "leader heartbeat interval (ms)" },
    OptionSpec {
        key: "request-timeout-ms",
        default: "1000",
        doc: "how long a request waits for commit before an indefinite error (ms)",
    },
    crate::kv::BANK_OPTIONS[0],
    crate::kv::BANK_OPTIONS[1],
];

/// Milliseconds per core tick.
pub const TICK_MS: u64 = 10;

impl RaftOptions {
    /// Reads the options of `cfg`, rejecting values that make no sense.
    pub fn from_config(cfg: &NodeConfig) -> Result<RaftOptions, NodeError> {
        let spec = OPTION_SPECS;
        let reads = match cfg.option(spec, "reads") {
            "log" => ReadPath::Log,
            "read-index" => ReadPath::ReadIndex,
            "lease" => ReadPath::Lease,
            "local" => ReadPath::Local,
            v => {
                return Err(NodeError::BadOption(format!(
                    "-o reads={v}: expected log, read-index, lease or local"
                )));
            }
        };
        let millis = |key: &str, min: u64| -> Result<u64, NodeError> {
            let v = cfg.option(spec, key);
            match v.parse::<u64>() {
                Ok(n) if n >= min => Ok(n),
                _ => Err(NodeError::BadOption(format!("-o {key}={v}: expected an integer >= {min}"))),
            }
        };
        let opts = RaftOptions {
            reads,
            unsafe_no_fsync: cfg.flag(spec, "unsafe-no-fsync")?,
            unsafe_commit_old_term: cfg.flag(spec, "unsafe-commit-old-term")?,
            unsafe_vote_twice: cfg.flag(spec, "unsafe-vote-twice")?,
            unsafe_snapshot_past_commit: cfg.flag(spec, "unsafe-snapshot-past-commit")?,
            snapshot_every: millis("snapshot-every", 0)?,
            snapshot_chunk_bytes: millis("snapshot-chunk-bytes", 1)? as usize,
            election_timeout_ms: millis("election-timeout-ms", 5 * TICK_MS)?,
            heartbeat_ms: millis("heartbeat-ms", TICK_MS)?,
            request_timeout_ms: millis("request-timeout-ms", 1)?,
        };
        if opts.heartbeat_ms >= opts.election_timeout_ms {
            return Err(NodeError::BadOption(format!(
                "-o heartbeat-ms={} must be below election-timeout-ms={}",
                opts.heartbeat_ms, opts.election_timeout_ms
            )));
        }
        Ok(opts)
    }

    /// Election timeout in ticks.
    pub fn election_ticks(&self) -> u32 {
        (self.election_timeout_ms / TICK_MS) as u32
    }

    /// Heartbeat interval in ticks.
    pub fn heartbeat_ticks(&self) -> u32 {
        (self.heartbeat_ms / TICK_MS).max(1) as u32
    }

    /// How long after a heartbeat round starts a majority-confirmed leader may serve
    /// lease reads: the followers' vote-refusal window (one tick less for tick
    /// granularity), less 10% for clock-rate drift.
    pub fn lease_ms(&self) -> u64 {
        (self.election_ticks() as u64 - 1) * TICK_MS * 9 / 10
    }
}
