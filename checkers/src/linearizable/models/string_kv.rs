//! Porcupine's kv model: `get`, `put` and `append` on string values, one register per key,
//! every key starting as the empty string. Appends build new strings during the search, so
//! the state is a shared string rather than an interned id; it carries a polynomial hash
//! kept up to date through appends, so hashing a state never reads the string.

use crate::linearizable::model::{Call, Compiled, Model, Outcome, subject};
use serde_json::Value;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

const BASE: u64 = 0x0000_0100_0000_01B3;

/// A string with its rolling hash: `h(s + t) = h(s) * BASE^len(t) + h(t)` (wrapping).
#[derive(Debug, Clone)]
pub struct KvString {
    hash: u64,
    /// `BASE^len`, to extend the hash when this string is appended to another.
    power: u64,
    text: Arc<str>,
}

impl KvString {
    fn new(text: &str) -> KvString {
        let (mut hash, mut power) = (0u64, 1u64);
        for b in text.bytes() {
            hash = hash.wrapping_mul(BASE).wrapping_add(u64::from(b) + 1);
            power = power.wrapping_mul(BASE);
        }
        KvString { hash, power, text: Arc::from(text) }
    }

    fn append(&self, tail: &KvString) -> KvString {
        KvString {
            hash: self.hash.wrapping_mul(tail.power).wrapping_add(tail.hash),
            power: self.power.wrapping_mul(tail.power),
            text: Arc::from(format!("{}{}", self.text, tail.text)),
        }
    }
}

impl PartialEq for KvString {
    fn eq(&self, other: &KvString) -> bool {
        self.hash == other.hash && self.text == other.text
    }
}

impl Eq for KvString {}

impl Hash for KvString {
    fn hash<H: Hasher>(&self, h: &mut H) {
        h.write_u64(self.hash);
    }
}

/// One kv op.
#[derive(Debug, Clone, PartialEq)]
pub enum StringKvOp {
    /// A get that returned this string.
    Get(KvString),
    /// A put of this string.
    Put(KvString),
    /// An append of this string.
    Append(KvString),
}

/// Porcupine's string kv, partitioned by key.
#[derive(Debug, Clone, Default)]
pub struct StringKvModel;

fn string_of(v: &Value) -> KvString {
    match v {
        Value::String(s) => KvString::new(s),
        Value::Null => KvString::new(""),
        other => KvString::new(&other.to_string()),
    }
}

impl Model for StringKvModel {
    type State = KvString;
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

    fn init(&self) -> KvString {
        KvString::new("")
    }

    fn step(&self, state: &KvString, op: &StringKvOp) -> Option<KvString> {
        match op {
            StringKvOp::Get(v) => (v == state).then(|| state.clone()),
            StringKvOp::Put(v) => Some(v.clone()),
            StringKvOp::Append(v) => Some(state.append(v)),
        }
    }

    fn read_only(&self, op: &StringKvOp) -> bool {
        matches!(op, StringKvOp::Get(_))
    }

    fn heap_bytes(&self, state: &KvString) -> usize {
        state.text.len() + 16
    }

    fn describe(&self, op: &StringKvOp, key: Option<&str>) -> String {
        let k = subject(key, "store");
        match op {
            StringKvOp::Get(v) => format!("get of {k} returned {:?}", v.text),
            StringKvOp::Put(v) => format!("put of {:?} to {k}", v.text),
            StringKvOp::Append(v) => format!("append of {:?} to {k}", v.text),
        }
    }

    fn describe_state(&self, state: &KvString, key: Option<&str>) -> String {
        format!("{} held {:?}", subject(key, "store"), state.text)
    }

    fn state_json(&self, state: &KvString) -> Value {
        Value::String(state.text.to_string())
    }
}
