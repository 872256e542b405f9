//! Porcupine's kv model: `get`, `put` and `append` on string values, one register per key,
//! every key starting as the empty string. Appends build new strings during the search, so
//! the state is a shared string rather than an interned id.

use crate::linearizable::model::{Call, Compiled, Model, Outcome, subject};
use serde_json::Value;
use std::sync::Arc;

/// One kv op.
#[derive(Debug, Clone)]
pub enum StringKvOp {
    /// A get that returned this string.
    Get(Arc<str>),
    /// A put of this string.
    Put(Arc<str>),
    /// An append of this string.
    Append(Arc<str>),
}

/// Porcupine's string kv, partitioned by key.
#[derive(Debug, Clone, Default)]
pub struct StringKvModel;

fn string_of(v: &Value) -> Arc<str> {
    match v {
        Value::String(s) => Arc::from(s.as_str()),
        Value::Null => Arc::from(""),
        other => Arc::from(other.to_string()),
    }
}

impl Model for StringKvModel {
    type State = Arc<str>;
    type Op = StringKvOp;

    fn compile(&mut self, call: &Call<'_>) -> Result<Compiled<StringKvOp>, String> {
        let op = match (call.invoke.f.as_str(), call.outcome) {
            ("get", Outcome::Ok(v)) => StringKvOp::Get(string_of(v)),
            ("get", _) | ("put" | "append", Outcome::Fail) => return Ok(Compiled::Skip),
            ("put", _) => StringKvOp::Put(string_of(&call.invoke.value)),
            ("append", _) => StringKvOp::Append(string_of(&call.invoke.value)),
            (f, _) => return Err(format!("the string kv has no op '{f}' (expected get, put or append)")),
        };
        Ok(Compiled::Op { key: call.invoke.key.clone(), op })
    }

    fn init(&self) -> Arc<str> {
        Arc::from("")
    }

    fn step(&self, state: &Arc<str>, op: &StringKvOp) -> Option<Arc<str>> {
        match op {
            StringKvOp::Get(v) => (v == state).then(|| state.clone()),
            StringKvOp::Put(v) => Some(v.clone()),
            StringKvOp::Append(v) => Some(Arc::from(format!("{state}{v}"))),
        }
    }

    fn heap_bytes(&self, state: &Arc<str>) -> usize {
        state.len() + 16
    }

    fn describe(&self, op: &StringKvOp, key: Option<&str>) -> String {
        let k = subject(key, "store");
        match op {
            StringKvOp::Get(v) => format!("get of {k} returned {v:?}"),
            StringKvOp::Put(v) => format!("put of {v:?} to {k}"),
            StringKvOp::Append(v) => format!("append of {v:?} to {k}"),
        }
    }

    fn describe_state(&self, state: &Arc<str>, key: Option<&str>) -> String {
        format!("{} held {state:?}", subject(key, "store"))
    }

    fn state_json(&self, state: &Arc<str>) -> Value {
        Value::String(state.to_string())
    }
}
