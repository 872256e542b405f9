//! The key-value state machine every KV system applies commands to, in order. Keeping it
//! apart from replication means single-kv and raft-kv agree on what get, put and cas mean.

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
}

/// What applying a command produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    /// A read's value (`null` for a key never written).
    Value(Value),
    /// A put, or a cas whose expectation held.
    Done,
    /// A cas whose expectation did not hold; nothing changed.
    Mismatch,
}

/// The replicated map.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KvStore {
    map: BTreeMap<String, Value>,
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
        }
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
}
