//! The pure, deterministic core of one bank-2pc node: its participant and its
//! coordinator side by side, with no I/O and no clock. Time comes in as a number of
//! milliseconds on every call, messages through [`Core::step`], client transactions
//! through [`Core::begin`], and everything the core wants done comes out of
//! [`Core::ready`]: records to make durable, then messages to send and client replies,
//! which must not leave before those records are durable. The node program drives it with
//! real files, HTTP and a timer; the tests drive it with an in-memory network that loses,
//! delays and cuts messages and crashes nodes, so both run the same code.

use crate::bank2pc::coordinator::{Coordinator, CoordinatorConfig};
use crate::bank2pc::message::{LockMode, Message, NodeId, Op, Reads, Record, TxnId};
use crate::bank2pc::participant::{InDoubt, Participant, ParticipantConfig};
use crate::bank2pc::shard::Shards;
use serde_json::Value;
use std::collections::BTreeMap;

/// Which atomic commitment protocol the cluster runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Two-phase commit: safe, and blocks while the coordinator is away.
    TwoPhase,
    /// Three-phase commit with participants that decide alone by timeout: never blocks
    /// on a crashed coordinator, and goes wrong under a partition.
    ThreePhase,
}

/// Names a client request so its reply can find its way back.
pub type RequestId = u64;

/// A transaction's outcome for its client: the reads, in transaction order, or the
/// reason it aborted (a definite failure).
pub type TxnOutcome = Result<Reads, String>;

/// Everything one node's core is configured with.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// This node.
    pub id: NodeId,
    /// Every node of the cluster, this one included.
    pub nodes: Vec<NodeId>,
    /// Two- or three-phase commit.
    pub protocol: Protocol,
    /// The coordinator's vote timeout; three-phase participants and the heuristic-abort
    /// bug decide alone after twice this long.
    pub timeout_ms: u64,
    /// How often decisions and queries are sent again.
    pub retry_ms: u64,
    /// The bank's accounts, created on their shards at first start.
    pub accounts: Vec<String>,
    /// Every account's balance at first start.
    pub initial_balance: i64,
    /// Planted bug: a participant in doubt aborts on its own.
    pub unsafe_heuristic_abort: bool,
    /// Planted bug: the coordinator does not log its decisions.
    pub unsafe_no_decision_log: bool,
    /// Planted bug: reads take no locks.
    pub unsafe_unlocked_reads: bool,
    /// Test hook: delay between logging a commit and sending it.
    pub pause_before_commit_ms: u64,
}

impl CoreConfig {
    /// The defaults of the node program: two-phase commit, a one-second timeout,
    /// accounts `a0..a4` of 100 each, no bug planted.
    pub fn new(id: impl Into<NodeId>, nodes: Vec<NodeId>) -> CoreConfig {
        CoreConfig {
            id: id.into(),
            nodes,
            protocol: Protocol::TwoPhase,
            timeout_ms: 1000,
            retry_ms: 100,
            accounts: (0..5).map(|i| format!("a{i}")).collect(),
            initial_balance: 100,
            unsafe_heuristic_abort: false,
            unsafe_no_decision_log: false,
            unsafe_unlocked_reads: false,
            pause_before_commit_ms: 0,
        }
    }
}

/// What the core asks its driver to do, in this order: make `records` durable, then
/// send `messages` and answer `replies`.
#[derive(Debug, Default)]
pub struct Ready {
    /// Records to append to the vote or decision log (see [`Record::log`]).
    pub records: Vec<Record>,
    /// Messages, by destination (possibly this node itself).
    pub messages: Vec<(NodeId, Message)>,
    /// Client outcomes.
    pub replies: Vec<(RequestId, TxnOutcome)>,
}

impl Ready {
    /// Queues a message.
    pub fn send(&mut self, to: &str, msg: Message) {
        self.messages.push((to.to_string(), msg));
    }

    /// Queues a record to make durable.
    pub fn record(&mut self, record: Record) {
        self.records.push(record);
    }

    /// Queues a client outcome.
    pub fn reply(&mut self, request: RequestId, outcome: TxnOutcome) {
        self.replies.push((request, outcome));
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.messages.is_empty() && self.replies.is_empty()
    }
}

/// What `/status` shows of a node's core.
#[derive(Debug, Clone)]
pub struct CoreStatus {
    /// Transactions this participant voted yes on without an outcome yet.
    pub in_doubt: Vec<InDoubt>,
    /// Locks held: key, holder, mode.
    pub locks: Vec<(String, TxnId, LockMode)>,
    /// Prepares waiting for locks.
    pub lock_waiters: usize,
    /// Prepares since start, and how many waited for a lock.
    pub lock_waits: (u64, u64),
    /// Transactions waiting for votes, and commits not yet acknowledged by all.
    pub coordinating: (usize, usize),
}

/// One node: participant for its shard, coordinator of the transactions it begins.
#[derive(Debug)]
pub struct Core {
    id: NodeId,
    shards: Shards,
    participant: Participant,
    coordinator: Coordinator,
    out: Ready,
}

impl Core {
    /// Builds the core from what its logs hold (both logs' records, in any interleaving:
    /// each side reads only its own). A first start writes the genesis balances of this
    /// node's accounts; every start writes a new coordinator incarnation.
    pub fn open(cfg: CoreConfig, records: &[Record], now: u64) -> Core {
        let shards = Shards::new(cfg.nodes.clone());
        let genesis: BTreeMap<String, i64> = cfg
            .accounts
            .iter()
            .filter(|a| shards.owner(a) == &cfg.id)
            .map(|a| (a.clone(), cfg.initial_balance))
            .collect();
        let mut out = Ready::default();
        let pcfg = ParticipantConfig {
            id: cfg.id.clone(),
            protocol: cfg.protocol,
            decide_alone_after_ms: cfg.timeout_ms * 2,
            retry_ms: cfg.retry_ms,
            prepare_wait_ms: cfg.timeout_ms,
            unsafe_heuristic_abort: cfg.unsafe_heuristic_abort,
            unsafe_unlocked_reads: cfg.unsafe_unlocked_reads,
        };
        let participant = Participant::recover(pcfg, records, genesis, now, &mut out);
        let ccfg = CoordinatorConfig {
            id: cfg.id.clone(),
            protocol: cfg.protocol,
            timeout_ms: cfg.timeout_ms,
            retry_ms: cfg.retry_ms,
            unsafe_no_decision_log: cfg.unsafe_no_decision_log,
            pause_before_commit_ms: cfg.pause_before_commit_ms,
        };
        let coordinator = Coordinator::recover(ccfg, records, now, &mut out);
        Core { id: cfg.id, shards, participant, coordinator, out }
    }

    /// This node's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key-to-node mapping.
    pub fn shards(&self) -> &Shards {
        &self.shards
    }

    /// Begins a client transaction coordinated here.
    pub fn begin(&mut self, request: RequestId, ops: Vec<Op>, now: u64) {
        self.coordinator.begin(request, ops, &self.shards, now, &mut self.out);
    }

    /// Handles one message from `from` (possibly this node).
    pub fn step(&mut self, from: &str, msg: Message, now: u64) {
        match msg {
            Message::Prepare { .. } | Message::PreCommit { .. } | Message::Decision { .. } => {
                self.participant.step(msg, now, &mut self.out)
            }
            Message::Vote { .. }
            | Message::PreCommitAck { .. }
            | Message::DecisionAck { .. }
            | Message::Query { .. } => self.coordinator.step(from, msg, now, &mut self.out),
        }
    }

    /// Lets time pass up to `now`.
    pub fn tick(&mut self, now: u64) {
        self.coordinator.tick(now, &mut self.out);
        self.participant.tick(now, &mut self.out);
    }

    /// Takes what the core wants done.
    pub fn ready(&mut self) -> Ready {
        std::mem::take(&mut self.out)
    }

    /// What `/status` shows.
    pub fn status(&self) -> CoreStatus {
        CoreStatus {
            in_doubt: self.participant.in_doubt(),
            locks: self.participant.locks(),
            lock_waiters: self.participant.waiting(),
            lock_waits: self.participant.lock_waits(),
            coordinating: self.coordinator.pending(),
        }
    }

    /// The committed value of a key this node holds (`null` when absent or elsewhere).
    pub fn value(&self, key: &str) -> Value {
        self.participant.value(key)
    }

    /// Every committed key and value this node holds.
    pub fn data(&self) -> &BTreeMap<String, Value> {
        self.participant.data()
    }

    /// Whether this node, as coordinator, knows `txn` committed.
    pub fn knows_committed(&self, txn: &TxnId) -> bool {
        self.coordinator.committed(txn)
    }
}
