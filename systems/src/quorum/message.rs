//! The messages quorum-kv nodes exchange, one way and in batches over
//! `POST /quorum/messages`: a request carries an id its sender picked, and the answer
//! comes back as a message of its own with the same id. The pure core produces and
//! consumes them; the server only carries them.

use crate::quorum::paxos::{Ballot, Vote};
use crate::quorum::replica::Stored;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A node's id, e.g. `n1`.
pub type NodeId = String;

/// One message between two nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Sender.
    pub from: NodeId,
    /// Receiver.
    pub to: NodeId,
    /// The requester's id for the exchange; the response repeats it.
    pub id: u64,
    /// Request or response.
    pub body: Body,
}

/// Either half of an exchange.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Body {
    /// Asked of the receiver.
    Request(Request),
    /// The receiver's answer.
    Response(Response),
}

/// What one node asks of another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    /// The replica's state of `key`.
    Get {
        /// Internal key (`kv/x`, `set/x`, `counter/x`).
        key: String,
    },
    /// Join `state` into the replica's copy, or keep it as a hint for `hint_for`.
    Merge {
        /// Internal key.
        key: String,
        /// The state to join.
        state: Stored,
        /// The unreachable replica this copy stands in for (sloppy quorum).
        hint_for: Option<NodeId>,
    },
    /// Paxos phase 1a.
    Prepare {
        /// Internal key.
        key: String,
        /// The proposal number.
        ballot: Ballot,
    },
    /// Paxos phase 2a.
    Accept {
        /// Internal key.
        key: String,
        /// The proposal number.
        ballot: Ballot,
        /// The value proposed.
        value: Value,
    },
    /// Anti-entropy: the sender's range digests over the keys both nodes replicate.
    Digests {
        /// One digest per range.
        digests: Vec<u64>,
    },
    /// Anti-entropy: join each of these states.
    MergeMany {
        /// States by internal key.
        states: BTreeMap<String, Stored>,
    },
}

/// The answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// The replica's state (`None`: never written here).
    State {
        /// The state.
        state: Option<Stored>,
    },
    /// Merged (or hinted) and durable.
    Ack,
    /// A Paxos acceptor's answer.
    Vote {
        /// The vote.
        vote: Vote,
    },
    /// Anti-entropy: the ranges whose digests differ and the responder's states in them.
    Differ {
        /// Ranges that differ.
        buckets: Vec<u32>,
        /// The responder's states in those ranges.
        states: BTreeMap<String, Stored>,
    },
}
