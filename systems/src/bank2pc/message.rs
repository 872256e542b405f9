//! The vocabulary of bank-2pc: transaction ids, the operations a transaction is made of,
//! the messages coordinators and participants exchange, and the records they make
//! durable. The pure core ([`crate::bank2pc::core`]) speaks only in these types, so the
//! simulated network of the tests and the HTTP driver of the node program carry exactly
//! the same values.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// A node's name, e.g. `n1`.
pub type NodeId = String;

/// A transaction's identity: the coordinator that began it, the coordinator's
/// incarnation (raised on every restart, so ids never repeat after a crash) and a
/// sequence number within that incarnation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TxnId {
    /// The coordinating node, the one participants ask when in doubt.
    pub coordinator: NodeId,
    /// Which run of the coordinator began it.
    pub incarnation: u64,
    /// Order within that run.
    pub seq: u64,
}

impl fmt::Display for TxnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.coordinator, self.incarnation, self.seq)
    }
}

/// One operation of a transaction, on one key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Op {
    /// Read the key (the transaction's own earlier writes included).
    Read {
        /// The key.
        key: String,
    },
    /// Overwrite the key.
    Write {
        /// The key.
        key: String,
        /// The new value.
        value: Value,
    },
    /// Append to the list under the key (a key never written is the empty list).
    Append {
        /// The key.
        key: String,
        /// The element appended.
        value: Value,
    },
    /// Add `delta` to the integer balance under the key; the participant votes no when a
    /// debit would make the balance negative or the key holds no balance.
    Add {
        /// The account.
        key: String,
        /// The amount, negative for a debit.
        delta: i64,
    },
}

impl Op {
    /// The key the operation touches.
    pub fn key(&self) -> &str {
        match self {
            Op::Read { key } | Op::Write { key, .. } | Op::Append { key, .. } | Op::Add { key, .. } => key,
        }
    }

    /// Whether the operation changes its key (and so needs an exclusive lock).
    pub fn writes(&self) -> bool {
        !matches!(self, Op::Read { .. })
    }
}

/// Reads a participant performed: the index of the read in the client's transaction
/// and the value it saw.
pub type Reads = Vec<(usize, Value)>;

/// A participant's answer to a prepare.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Vote {
    /// Locks held and the vote durable; the values this participant read.
    Yes {
        /// What was read.
        reads: Reads,
    },
    /// The participant refuses; the transaction must abort.
    No {
        /// Why, for the client's 409.
        reason: String,
    },
}

/// What nodes send each other. Every message is one way; replies are messages too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Message {
    /// Coordinator to participant: lock these keys, run these operations, vote.
    Prepare {
        /// The transaction.
        txn: TxnId,
        /// The operations on this participant's keys, with their index in the
        /// transaction.
        ops: Vec<(usize, Op)>,
    },
    /// Participant to coordinator: the vote on a prepare.
    Vote {
        /// The transaction.
        txn: TxnId,
        /// Yes (with reads) or no (with a reason).
        vote: Vote,
    },
    /// Three-phase commit only: the coordinator has decided to commit; a participant
    /// that acknowledges will commit on its own if it hears nothing more.
    PreCommit {
        /// The transaction.
        txn: TxnId,
    },
    /// Participant to coordinator: the pre-commit is durable.
    PreCommitAck {
        /// The transaction.
        txn: TxnId,
    },
    /// Coordinator to participant: the outcome, also the answer to a [`Message::Query`].
    Decision {
        /// The transaction.
        txn: TxnId,
        /// Commit (true) or abort (false).
        commit: bool,
    },
    /// Participant to coordinator: the decision is applied and durable; stop resending.
    DecisionAck {
        /// The transaction.
        txn: TxnId,
    },
    /// A participant in doubt asks the coordinator for the outcome.
    Query {
        /// The transaction.
        txn: TxnId,
    },
}

/// How a participant locks a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LockMode {
    /// Readers share the key.
    Shared,
    /// One writer, no readers.
    Exclusive,
}

impl LockMode {
    /// The name `/status` reports.
    pub fn name(self) -> &'static str {
        match self {
            LockMode::Shared => "shared",
            LockMode::Exclusive => "exclusive",
        }
    }
}

/// Which of a node's two logs a record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    /// The participant's vote log: accounts, votes, pre-commits, outcomes.
    Votes,
    /// The coordinator's decision log: incarnations, commit decisions, completions.
    Decisions,
}

/// One durable record. The core asks for records to be made durable before any message
/// or client reply of the same [`crate::bank2pc::core::Ready`] leaves the node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Record {
    /// Participant: the accounts this shard starts with, written once at first start.
    Genesis {
        /// Balance by account.
        balances: BTreeMap<String, i64>,
    },
    /// Participant: voted yes; the locks it holds and the values it will write on commit.
    Voted {
        /// The transaction.
        txn: TxnId,
        /// Locks held until the outcome is known.
        locks: Vec<(String, LockMode)>,
        /// Final value of every key the transaction writes here.
        writes: BTreeMap<String, Value>,
        /// What it read, to answer a repeated prepare the same way.
        reads: Reads,
    },
    /// Participant, three-phase commit: acknowledged a pre-commit.
    PreCommitted {
        /// The transaction.
        txn: TxnId,
    },
    /// Participant: learned (or, by timeout, chose) the outcome and applied it.
    Finished {
        /// The transaction.
        txn: TxnId,
        /// Committed (true) or aborted (false).
        commit: bool,
    },
    /// Coordinator: a new run began; its transactions carry this incarnation.
    Incarnation {
        /// The run's number, one more than the last one logged.
        number: u64,
    },
    /// Coordinator: decided to commit (before any participant hears of it).
    Decided {
        /// The transaction.
        txn: TxnId,
        /// Every participant, which must all learn the decision.
        participants: Vec<NodeId>,
    },
    /// Coordinator: every participant acknowledged the decision.
    Ended {
        /// The transaction.
        txn: TxnId,
    },
}

impl Record {
    /// The log the record is written to.
    pub fn log(&self) -> LogKind {
        match self {
            Record::Genesis { .. }
            | Record::Voted { .. }
            | Record::PreCommitted { .. }
            | Record::Finished { .. } => LogKind::Votes,
            Record::Incarnation { .. } | Record::Decided { .. } | Record::Ended { .. } => LogKind::Decisions,
        }
    }
}
