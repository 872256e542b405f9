//! The state machine every replicated-log system applies commands to, in order: registers
//! (get, put, cas), grow-only sets (add, read) and counters (add, read) under string keys.
//! Keeping it apart from replication means single-kv and raft-kv agree on what each
//! operation means.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

use crate::protocol::MicroOp;

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
    /// A transaction of micro-ops on registers, applied in order as one step: `r` reads a
    /// register (a list, for list-append), `w` writes one, `append` appends to the list.
    Txn {
        /// The micro-ops.
        ops: Vec<MicroOp>,
    },
    /// Move `amount` between two bank accounts; refused when `from` would go negative.
    Transfer {
        /// The account debited.
        from: String,
        /// The account credited.
        to: String,
        /// How much.
        amount: i64,
    },
    /// Read every bank balance at once.
    #[serde(rename = "read-accounts")]
    ReadAccounts,
}

impl Command {
    /// True for the commands that change nothing (a read path may serve them without the log).
    pub fn is_read(&self) -> bool {
        match self {
            Command::Get { .. }
            | Command::SetRead { .. }
            | Command::CounterRead { .. }
            | Command::ReadAccounts => true,
            Command::Txn { ops } => ops.iter().all(|(f, _, _)| f == "r"),
            _ => false,
        }
    }
}

/// What applying a command produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    /// A read's value (`null` for a key never written).
    Value(Value),
    /// A put, or a cas whose expectation held.
    Done,
    /// A cas whose expectation did not hold, a counter add that would overflow, or a
    /// transfer from an account without the funds; nothing changed.
    Mismatch,
    /// A command that makes no sense on this state (an unknown account, a micro-op it does
    /// not know); nothing changed.
    Refused(String),
}

/// The `-o accounts=` value of a system with bank routes: a count `N` (accounts `a0` to
/// `aN-1`, the names the bank workload uses) or comma-separated names.
pub fn parse_accounts(v: &str) -> Result<Vec<String>, crate::config::NodeError> {
    let bad = |why: &str| crate::config::NodeError::BadOption(format!("-o accounts={v}: {why}"));
    if let Ok(n) = v.parse::<usize>() {
        return Ok((0..n).map(|i| format!("a{i}")).collect());
    }
    let names: Vec<String> = v.split(',').map(|a| a.trim().to_string()).collect();
    if names.iter().any(String::is_empty) {
        return Err(bad("expected a count or comma-separated account names"));
    }
    Ok(names)
}

/// The options every system with bank routes declares, so the bank workload can ask for its
/// accounts and their starting balance.
pub const BANK_OPTIONS: [crate::config::OptionSpec; 2] = [
    crate::config::OptionSpec {
        key: "accounts",
        default: "5",
        doc: "bank accounts: a count N for a0..aN-1, or comma-separated names",
    },
    crate::config::OptionSpec {
        key: "initial-balance",
        default: "100",
        doc: "each account's starting balance",
    },
];

/// The store a node starts with: the bank accounts its options name.
pub fn initial_store(
    cfg: &crate::config::NodeConfig,
    declared: &[crate::config::OptionSpec],
) -> Result<KvStore, crate::config::NodeError> {
    let accounts = parse_accounts(cfg.option(declared, "accounts"))?;
    let balance = cfg.option(declared, "initial-balance");
    let balance: i64 = balance.parse().map_err(|_| {
        crate::config::NodeError::BadOption(format!("-o initial-balance={balance}: expected an integer"))
    })?;
    Ok(KvStore::with_accounts(&accounts, balance))
}

/// The replicated map.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KvStore {
    map: BTreeMap<String, Value>,
    sets: BTreeMap<String, Vec<Value>>,
    counters: BTreeMap<String, i64>,
    accounts: BTreeMap<String, i64>,
}

impl KvStore {
    /// A store whose bank holds `accounts`, each with `balance`; every replica of a system
    /// starts from the same options, so from the same state.
    pub fn with_accounts(accounts: &[String], balance: i64) -> KvStore {
        KvStore { accounts: accounts.iter().map(|a| (a.clone(), balance)).collect(), ..KvStore::default() }
    }

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
            Command::Txn { ops } => self.transaction(ops),
            Command::Transfer { from, to, amount } => self.transfer(from, to, *amount),
            Command::ReadAccounts => Outcome::Value(self.balances()),
        }
    }

    /// Applies a transaction's micro-ops in order; the outcome is the ops with reads filled
    /// in. A micro-op it does not know refuses the whole transaction before any change.
    fn transaction(&mut self, ops: &[MicroOp]) -> Outcome {
        if let Some((f, _, _)) = ops.iter().find(|(f, _, _)| !["r", "w", "append"].contains(&f.as_str())) {
            return Outcome::Refused(format!("unknown micro-op {f:?}: expected r, w or append"));
        }
        let key_of = |k: &Value| k.as_str().map_or_else(|| k.to_string(), str::to_string);
        let mut done = Vec::with_capacity(ops.len());
        for (f, k, v) in ops {
            let key = key_of(k);
            match f.as_str() {
                "r" => done.push((f.clone(), k.clone(), self.get(&key))),
                "w" => {
                    self.map.insert(key, v.clone());
                    done.push((f.clone(), k.clone(), v.clone()));
                }
                _ => {
                    let list = self.map.entry(key).or_insert(Value::Null);
                    match list {
                        Value::Array(items) => items.push(v.clone()),
                        // A register that held a single value becomes a list of it, then v.
                        other if !other.is_null() => *other = Value::Array(vec![other.take(), v.clone()]),
                        other => *other = Value::Array(vec![v.clone()]),
                    }
                    done.push((f.clone(), k.clone(), v.clone()));
                }
            }
        }
        Outcome::Value(serde_json::to_value(done).unwrap_or_default())
    }

    fn transfer(&mut self, from: &str, to: &str, amount: i64) -> Outcome {
        if amount <= 0 || from == to {
            return Outcome::Refused(format!(
                "a transfer moves a positive amount between two accounts, got {amount} from {from} to {to}"
            ));
        }
        let (Some(&have), Some(&theirs)) = (self.accounts.get(from), self.accounts.get(to)) else {
            return Outcome::Refused(format!("no account {from} or {to}"));
        };
        match (have.checked_sub(amount), theirs.checked_add(amount)) {
            (Some(left), Some(right)) if left >= 0 => {
                self.accounts.insert(from.to_string(), left);
                self.accounts.insert(to.to_string(), right);
                Outcome::Done
            }
            _ => Outcome::Mismatch,
        }
    }

    /// Every bank balance.
    pub fn balances(&self) -> Value {
        serde_json::to_value(&self.accounts).unwrap_or_default()
    }

    /// What a read command returns, without changing anything; `None` for a write.
    pub fn read(&self, cmd: &Command) -> Option<Value> {
        match cmd {
            Command::Get { key } => Some(self.get(key)),
            Command::SetRead { key } => Some(self.set(key)),
            Command::CounterRead { key } => Some(self.counter(key)),
            Command::ReadAccounts => Some(self.balances()),
            Command::Txn { ops } if cmd.is_read() => {
                let key_of = |k: &Value| k.as_str().map_or_else(|| k.to_string(), str::to_string);
                let done: Vec<MicroOp> =
                    ops.iter().map(|(f, k, _)| (f.clone(), k.clone(), self.get(&key_of(k)))).collect();
                Some(serde_json::to_value(done).unwrap_or_default())
            }
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

    #[test]
    fn a_transaction_reads_its_own_appends_in_order() {
        let mut kv = KvStore::default();
        let op = |f: &str, k: &str, v: Value| (f.to_string(), json!(k), v);
        let t = Command::Txn {
            ops: vec![op("append", "x", json!(1)), op("append", "x", json!(2)), op("r", "x", Value::Null)],
        };
        assert_eq!(
            kv.apply(&t),
            Outcome::Value(json!([["append", "x", 1], ["append", "x", 2], ["r", "x", [1, 2]]]))
        );
        let read = Command::Txn { ops: vec![op("r", "x", Value::Null), op("r", "y", Value::Null)] };
        assert!(read.is_read());
        assert_eq!(kv.read(&read), Some(json!([["r", "x", [1, 2]], ["r", "y", null]])));
        let bad = Command::Txn { ops: vec![op("w", "x", json!(3)), op("incr", "x", json!(1))] };
        assert!(matches!(kv.apply(&bad), Outcome::Refused(_)));
        assert_eq!(kv.get("x"), json!([1, 2]), "a refused transaction changes nothing");
    }

    #[test]
    fn transfers_conserve_money_and_refuse_overdrafts() {
        let mut kv = KvStore::with_accounts(&["a0".into(), "a1".into()], 10);
        let t = |from: &str, to: &str, amount| Command::Transfer { from: from.into(), to: to.into(), amount };
        assert_eq!(kv.apply(&t("a0", "a1", 7)), Outcome::Done);
        assert_eq!(kv.apply(&t("a0", "a1", 4)), Outcome::Mismatch);
        assert!(matches!(kv.apply(&t("a0", "a9", 1)), Outcome::Refused(_)));
        assert_eq!(kv.read(&Command::ReadAccounts), Some(json!({"a0": 3, "a1": 17})));
    }
}
