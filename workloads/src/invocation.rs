//! The two halves of an operation as the runner sees them: the [`Invocation`] a generator
//! chose, and the [`Completion`] a client got back.

use serde_json::Value;

/// One operation to perform.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// `read`, `write` or `cas`.
    pub f: &'static str,
    /// The key.
    pub key: String,
    /// The argument: `null` for a read, the value for a write, `[from, to]` for a cas.
    pub value: Value,
}

/// How an operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It happened.
    Ok,
    /// It certainly did not happen.
    Fail,
    /// Unknown: it may have happened.
    Info,
}

/// An operation's result as recorded in the history.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// ok, fail or info.
    pub outcome: Outcome,
    /// The value to record: what a read returned, else the invocation's value.
    pub value: Value,
    /// The node that answered (after a redirect, the leader).
    pub node: String,
    /// Why it failed or is unknown.
    pub error: Option<String>,
    /// The node could not be reached or had no leader: the worker should pause briefly
    /// rather than hammer it.
    pub unavailable: bool,
}
