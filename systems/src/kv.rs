//! The state machine every replicated-log system applies commands to, in order: registers
//! (get, put, cas), grow-only sets (add, read) and counters (add, read) under string keys.
//! Keeping it apart from replication means single-kv and raft-kv agree on what each
//! operation means.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A state-changing or reading command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Command {
    /// Read a key.
    Get {
        /// The key.
        key: String,
    },
    /// Overwrite a key.
    Put {
        /// The key.
        key: String,
        /// The new value.
        value: Value,
    },
    /// Set `key` to `to` only if it holds `from`.
    Cas {
        /// The key.
        key: String,
        /// Expected value.
        from: Value,
        /// New value.
        to: Value,
    },
    /// Add an element to the set under `key`.
    #[serde(rename = "set-add")]
    SetAdd {
        /// The key.
        key: String,
        /// The element.
        element: Value,
    },
    /// Read the whole set under `key`.
    #[serde(rename = "set-read")]
    SetRead {
        /// The key.
        key: String,
    },
    /// Add `delta` to the counter under `key`.
    #[serde(rename = "counter-add")]
    CounterAdd {
        /// The key.
        key: String,
        /// The amount, negative to decrement.
        delta: i64,
    },
    /// Read the counter under `key`.
    #[serde(rename = "counter-read")]
    CounterRead {
        /// The key.
        key: String,
    },
}

impl Command {
    /// True for the commands that change nothing (a read path may serve them without the log).
    pub fn is_read(&self) -> bool {
        matches!(self, Command::Get { .. } | Command::SetRead { .. } | Command::CounterRead { .. })
    }
}

/// What applying a command produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    /// A read's value (`null` for a key never written).
    Value(Value),
    /// A put, or a cas whose expectation held.
    Done,
    /// A cas whose expectation did not hold, or a counter add that would overflow;
    /// nothing changed.
    Mismatch,
}

/// The replicated map.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KvStore {
    map: BTreeMap<String, Value>,
    sets: BTreeMap<String, Vec<Value>>,
    counters: BTreeMap<String, i64>,
}

impl KvStore {
    /// Applies one command.
    pub fn apply(&mut self, cmd: &Command) -> Outcome {
        match cmd {
            Command::Get { key } => Outcome::Value(self.get(key)),
            Command::Put { key, value } => {
                self.map.insert(key.clone(), value.clone());
                Outcome::Done
            }
            Command::Cas { key, from, to } => {
                if self.map.get(key).unwrap_or(&Value::Null) == from {
                    self.map.insert(key.clone(), to.clone());
                    Outcome::Done
                } else {
                    Outcome::Mismatch
                }
            }
            Command::SetAdd { key, element } => {
                let set = self.sets.entry(key.clone()).or_default();
                if !set.contains(element) {
                    set.push(element.clone());
                }
                Outcome::Done
            }
            Command::SetRead { key } => Outcome::Value(self.set(key)),
            Command::CounterAdd { key, delta } => {
                let counter = self.counters.entry(key.clone()).or_default();
                match counter.checked_add(*delta) {
                    Some(v) => {
                        *counter = v;
                        Outcome::Done
                    }
                    None => Outcome::Mismatch,
                }
            }
            Command::CounterRead { key } => Outcome::Value(self.counter(key)),
        }
    }

    /// What a read command returns, without changing anything; `None` for a write.
    pub fn read(&self, cmd: &Command) -> Option<Value> {
        match cmd {
            Command::Get { key } => Some(self.get(key)),
            Command::SetRead { key } => Some(self.set(key)),
            Command::CounterRead { key } => Some(self.counter(key)),
            _ => None,
        }
    }

    /// The elements of the set under `key`, `[]` when absent.
    pub fn set(&self, key: &str) -> Value {
        Value::Array(self.sets.get(key).cloned().unwrap_or_default())
    }

    /// The counter under `key`, `0` when absent.
    pub fn counter(&self, key: &str) -> Value {
        Value::from(self.counters.get(key).copied().unwrap_or(0))
    }

    /// The value of `key`, `null` when absent.
    pub fn get(&self, key: &str) -> Value {
        self.map.get(key).cloned().unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cas_changes_the_value_only_when_it_matches() {
        let mut kv = KvStore::default();
        let k = "x".to_string();
        assert_eq!(
            kv.apply(&Command::Cas { key: k.clone(), from: json!(null), to: json!(1) }),
            Outcome::Done
        );
        assert_eq!(
            kv.apply(&Command::Cas { key: k.clone(), from: json!(5), to: json!(2) }),
            Outcome::Mismatch
        );
        assert_eq!(kv.apply(&Command::Get { key: k }), Outcome::Value(json!(1)));
    }

    #[test]
    fn set_add_is_idempotent_and_reads_every_element() {
        let mut kv = KvStore::default();
        let k = "s".to_string();
        for e in [1, 2, 1, 3] {
            assert_eq!(kv.apply(&Command::SetAdd { key: k.clone(), element: json!(e) }), Outcome::Done);
        }
        assert_eq!(kv.read(&Command::SetRead { key: k }), Some(json!([1, 2, 3])));
        assert_eq!(kv.read(&Command::SetRead { key: "other".into() }), Some(json!([])));
    }

    #[test]
    fn counter_adds_and_refuses_overflow_without_changing() {
        let mut kv = KvStore::default();
        let k = "c".to_string();
        assert_eq!(kv.apply(&Command::CounterAdd { key: k.clone(), delta: 5 }), Outcome::Done);
        assert_eq!(kv.apply(&Command::CounterAdd { key: k.clone(), delta: -2 }), Outcome::Done);
        assert_eq!(kv.apply(&Command::CounterAdd { key: k.clone(), delta: i64::MAX }), Outcome::Mismatch);
        assert_eq!(kv.read(&Command::CounterRead { key: k }), Some(json!(3)));
        assert_eq!(kv.read(&Command::Put { key: "x".into(), value: json!(1) }), None);
    }
}
