//! The data Raft nodes exchange and keep: log entries, the durable term-and-vote record,
//! and the messages of Figure 2 (RequestVote, AppendEntries and their replies) plus the
//! PreVote round of the Raft thesis (section 9.6) that precedes an election and the
//! chunked InstallSnapshot of section 7. The pure
//! core produces and consumes these; the storage writes entries and hard state to disk;
//! the server carries messages between nodes as JSON over HTTP.

use crate::kv::Command;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A node's id, e.g. `n1`.
pub type NodeId = String;

/// What a log entry carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Payload {
    /// Appended by a new leader so it can commit an entry of its own term at once
    /// (section 8: that commit is what lets it serve reads and learn the commit index).
    Noop,
    /// A client command for the key-value state machine.
    Command {
        /// The command.
        command: Command,
    },
}

/// One entry of the replicated log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Position in the log, from 1.
    pub index: u64,
    /// Term of the leader that created it.
    pub term: u64,
    /// What it carries.
    pub payload: Payload,
}

/// The state Figure 2 requires on stable storage besides the log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardState {
    /// Latest term this node has seen.
    pub term: u64,
    /// Who this node voted for in `term`, if anyone.
    pub vote: Option<NodeId>,
}

/// A snapshot of the state machine (section 7): everything the log held up to and
/// including `index`, whose entry was of `term`. `data` is opaque to the core (the driver
/// serializes its key-value store into it); it is shared because the leader keeps it to
/// send in chunks while the driver writes it to disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Last log index the snapshot covers.
    pub index: u64,
    /// Term of that entry.
    pub term: u64,
    /// The serialized state machine.
    pub data: Arc<Vec<u8>>,
}

/// Chunk bytes travel as lowercase hex: JSON has no byte strings, and hex costs two
/// characters a byte where a JSON array of numbers costs up to four.
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(bytes.len() * 2);
        for b in bytes {
            out.push(DIGITS[(b >> 4) as usize] as char);
            out.push(DIGITS[(b & 15) as usize] as char);
        }
        s.serialize_str(&out)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        if text.len() % 2 != 0 {
            return Err(D::Error::custom("hex string of odd length"));
        }
        let digit = |c: u8| match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            _ => Err(D::Error::custom(format!("not a lowercase hex digit: {:?}", c as char))),
        };
        text.as_bytes().chunks(2).map(|p| Ok(digit(p[0])? << 4 | digit(p[1])?)).collect()
    }
}

/// One message between two nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Sender.
    pub from: NodeId,
    /// Receiver.
    pub to: NodeId,
    /// Sender's current term.
    pub term: u64,
    /// What kind of message it is.
    pub body: Body,
}

/// The RPCs of Figure 2, made one-way: every reply is a message of its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Body {
    /// RequestVote.
    VoteRequest {
        /// Index of the candidate's last log entry.
        last_log_index: u64,
        /// Term of the candidate's last log entry.
        last_log_term: u64,
    },
    /// RequestVote reply.
    VoteReply {
        /// True when the vote was granted.
        granted: bool,
    },
    /// PreVote (thesis section 9.6): "would you vote for me in the next term?". The
    /// message's `term` is the sender's term + 1; the sender's own term and vote are
    /// untouched, and so are the receiver's.
    PreVoteRequest {
        /// Index of the pre-candidate's last log entry.
        last_log_index: u64,
        /// Term of the pre-candidate's last log entry.
        last_log_term: u64,
    },
    /// PreVote reply. A grant carries the term that was asked about; a refusal carries the
    /// refuser's own term, so a pre-candidate with a stale term learns the current one.
    PreVoteReply {
        /// True when the receiver would vote for the sender in the asked term.
        granted: bool,
    },
    /// AppendEntries (a heartbeat when `entries` is empty).
    Append {
        /// Index of the entry just before `entries`.
        prev_index: u64,
        /// Its term.
        prev_term: u64,
        /// Entries to store, possibly none.
        entries: Vec<Entry>,
        /// The leader's commit index.
        commit: u64,
        /// Heartbeat round this message belongs to; echoed in the reply so the leader
        /// knows which of its rounds a majority has confirmed (read-index and leases).
        round: u64,
    },
    /// AppendEntries reply.
    AppendReply {
        /// True when the follower's log matched at `prev_index` and now holds the entries.
        success: bool,
        /// On success, the index up to which the follower's log matches the leader's.
        match_index: u64,
        /// On failure, where the leader should retry from: the first index the follower
        /// holds of the conflicting term, or its last index + 1 when its log is too short
        /// (the fast back-off of section 5.3).
        hint_index: u64,
        /// On failure, the term of the follower's entry at `prev_index`, if it has one.
        conflict_term: Option<u64>,
        /// The round echoed back.
        round: u64,
    },
    /// InstallSnapshot (section 7), one chunk of a snapshot the follower's next entry was
    /// compacted into. Chunks go one at a time; a lost one is sent again at the next
    /// heartbeat.
    Snapshot {
        /// Last index the snapshot covers.
        index: u64,
        /// Term of that entry.
        term: u64,
        /// Byte offset of `data` in the snapshot.
        offset: u64,
        /// The chunk.
        #[serde(with = "hex_bytes")]
        data: Vec<u8>,
        /// True on the last chunk.
        done: bool,
        /// Heartbeat round, echoed like an AppendEntries' round.
        round: u64,
    },
    /// InstallSnapshot reply.
    SnapshotReply {
        /// The snapshot's index.
        index: u64,
        /// The byte offset the follower wants next (its buffered length).
        next_offset: u64,
        /// True once the follower holds the whole snapshot (or already had its entries).
        done: bool,
        /// The round echoed back.
        round: u64,
    },
}
