//! One event of a history. Every other part of Sunder (runner, importers, checkers,
//! reports) speaks in terms of [`Op`], so its JSON shape is the history file format
//! documented in `docs/history.md`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::fmt;

pub use super::name::Name;

/// Who issued an op: a logical client thread, or the fault injector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Process {
    /// A client process number. A worker gets a fresh number after an `info` result.
    Client(u64),
    /// The nemesis; serialized as the string `"nemesis"`.
    Nemesis,
}

impl Process {
    /// The client number, or `None` for the nemesis.
    pub fn client(self) -> Option<u64> {
        match self {
            Process::Client(p) => Some(p),
            Process::Nemesis => None,
        }
    }
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Client(p) => write!(f, "{p}"),
            Process::Nemesis => f.write_str("nemesis"),
        }
    }
}

impl Serialize for Process {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Process::Client(p) => s.serialize_u64(*p),
            Process::Nemesis => s.serialize_str("nemesis"),
        }
    }
}

impl<'de> Deserialize<'de> for Process {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => n.as_u64().map(Process::Client).ok_or_else(|| {
                serde::de::Error::custom("process must be a non-negative integer or \"nemesis\"")
            }),
            Value::String(s) if s == "nemesis" => Ok(Process::Nemesis),
            other => Err(serde::de::Error::custom(format!(
                "process must be a non-negative integer or \"nemesis\", got {other}"
            ))),
        }
    }
}

/// What kind of event an op is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpType {
    /// The operation started.
    Invoke,
    /// The operation happened.
    Ok,
    /// The operation definitely did not happen.
    Fail,
    /// Unknown outcome: it may have happened at any time after its invoke, or never.
    Info,
}

impl OpType {
    /// True for `ok`, `fail` and `info`: the events that end an invocation.
    pub fn is_completion(self) -> bool {
        self != OpType::Invoke
    }

    /// The lowercase name used in history files.
    pub fn as_str(self) -> &'static str {
        match self {
            OpType::Invoke => "invoke",
            OpType::Ok => "ok",
            OpType::Fail => "fail",
            OpType::Info => "info",
        }
    }
}

impl fmt::Display for OpType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of a history file.
///
/// `value` is free-form JSON because workloads differ: a register write carries a number,
/// a CAS `[from, to]`, a bank read a map of balances, a nemesis op what was done to whom.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Op {
    /// Position in the history, 0-based and dense.
    pub index: u64,
    /// Nanoseconds on a monotonic clock since the run started.
    pub time: u64,
    /// The client process or the nemesis.
    pub process: Process,
    /// invoke, ok, fail or info.
    #[serde(rename = "type")]
    pub kind: OpType,
    /// The function: `read`, `write`, `cas`, `transfer`, `partition`, ...
    pub f: Name,
    /// The key, for keyed workloads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Name>,
    /// The argument (on invoke) or the result (on completion).
    #[serde(default)]
    pub value: Value,
    /// The node a client op was sent to, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<Name>,
    /// Why an op failed or is indeterminate, as the client saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Box<str>>,
    /// Every value a read found when the store kept concurrent versions (version-vector
    /// siblings); `value` is then one of them. Absent for every other op. A checker reads
    /// such a read as "it returned one of these": see [`Op::read_values`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub siblings: Option<Box<[Value]>>,
}

impl Op {
    /// A client op with no key, node or error; the common case in tests and importers.
    pub fn client(index: u64, time: u64, process: u64, kind: OpType, f: &str, value: Value) -> Op {
        Op {
            index,
            time,
            process: Process::Client(process),
            kind,
            f: f.into(),
            key: None,
            value,
            node: None,
            error: None,
            siblings: None,
        }
    }

    /// A nemesis op (always `info`: a fault's effect is never certain).
    pub fn nemesis(index: u64, time: u64, f: &str, value: Value) -> Op {
        Op {
            process: Process::Nemesis,
            kind: OpType::Info,
            ..Op::client(index, time, 0, OpType::Info, f, value)
        }
    }

    /// The same op with a key.
    pub fn with_key(mut self, key: impl Into<Name>) -> Op {
        self.key = Some(key.into());
        self
    }

    /// The same op with the node it was sent to.
    pub fn with_node(mut self, node: impl Into<Name>) -> Op {
        self.node = Some(node.into());
        self
    }

    /// The same op, a read that found these concurrent values (its `value` stays as is).
    pub fn with_siblings(mut self, siblings: Vec<Value>) -> Op {
        self.siblings = Some(siblings.into_boxed_slice());
        self
    }

    /// True when the nemesis issued this op.
    pub fn is_nemesis(&self) -> bool {
        self.process == Process::Nemesis
    }

    /// The values a completed read may have returned: its siblings when it has some, else
    /// its one `value`. This is the sibling rule every register checker shares: a read
    /// with siblings `[a, b]` returned *one of* `a` and `b`, so it is legal wherever the
    /// register held `a` or `b`. An empty sibling list is read as no siblings (`value`).
    pub fn read_values(&self) -> &[Value] {
        match &self.siblings {
            Some(s) if !s.is_empty() => s,
            _ => std::slice::from_ref(&self.value),
        }
    }

    /// True when this read may have returned `v` (by [`Op::read_values`]).
    pub fn may_have_read(&self, v: &Value) -> bool {
        self.read_values().contains(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_op_takes_152_bytes() {
        // Millions of ops are a long run's memory; a field that grows them should be a choice.
        assert_eq!(std::mem::size_of::<Op>(), 152);
    }

    #[test]
    fn an_op_without_siblings_writes_no_siblings_field() {
        let op = Op::client(0, 1, 2, OpType::Ok, "read", json!(5)).with_key("k1");
        let line = serde_json::to_string(&op).unwrap();
        assert!(!line.contains("siblings"), "{line}");
        let back: Op = serde_json::from_str(&line).unwrap();
        assert_eq!(back, op);
        assert_eq!(back.read_values(), &[json!(5)]);
    }

    #[test]
    fn a_sibling_read_round_trips_and_may_have_read_each_sibling() {
        let op = Op::client(3, 4, 1, OpType::Ok, "read", json!(7)).with_siblings(vec![json!(7), json!(9)]);
        let line = serde_json::to_string(&op).unwrap();
        assert!(line.contains(r#""siblings":[7,9]"#), "{line}");
        let back: Op = serde_json::from_str(&line).unwrap();
        assert_eq!(back, op);
        assert!(back.may_have_read(&json!(7)) && back.may_have_read(&json!(9)));
        assert!(!back.may_have_read(&json!(8)));
    }
}
