//! The two halves of an operation as the runner sees them: the [`Invocation`] a generator
//! chose, and the [`Completion`] a client got back.

use serde_json::Value;

/// What kind of object an operation acts on; a client picks the route by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object {
    /// A register: `read`, `write`, `cas`.
    Register,
    /// A grow-only set: `add`, `read`.
    Set,
    /// A counter: `add` (a signed delta), `read`.
    Counter,
    /// A transaction of micro-ops: `txn`.
    Txn,
    /// Bank accounts: `transfer`, `read` (every balance).
    Bank,
}

/// One operation to perform.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// What it acts on.
    pub object: Object,
    /// The history's `f`: `read`, `write`, `cas`, `add`, `txn`, `transfer`.
    pub f: &'static str,
    /// The key, for keyed objects.
    pub key: Option<String>,
    /// The argument: `null` for a read, the value for a write, `[from, to]` for a cas, the
    /// element or delta for an add, the micro-ops of a txn, `{from, to, amount}` of a transfer.
    pub value: Value,
}

impl Invocation {
    /// A keyed invocation.
    pub fn keyed(object: Object, f: &'static str, key: impl Into<String>, value: Value) -> Invocation {
        Invocation { object, f, key: Some(key.into()), value }
    }
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
    /// Every concurrent value a register read found (version-vector siblings), when the
    /// store returned more than one; `value` is then one of them. `None` otherwise.
    pub siblings: Option<Vec<Value>>,
    /// The node that answered (after a redirect, the leader).
    pub node: String,
    /// Why it failed or is unknown.
    pub error: Option<String>,
    /// The node could not be reached or had no leader: the worker should pause briefly
    /// rather than hammer it.
    pub unavailable: bool,
}
