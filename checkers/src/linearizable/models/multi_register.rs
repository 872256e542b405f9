//! Knossos's multi-register: transactions (`:f :txn`) of `[:read k v]` and `[:write k v]`
//! micro-ops over a few registers, applied atomically. One partition, since a transaction
//! may span keys; the state is one interned value per key. As in Knossos, a read of `nil`
//! observed nothing.

use crate::linearizable::model::{Call, Compiled, Model, Outcome, ValueTable};
use rustc_hash::FxHashMap;
use serde_json::Value;

/// One micro-op of a transaction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Micro {
    /// Register `key` read `value`.
    Read {
        /// Key id.
        key: u32,
        /// Value id.
        value: u32,
    },
    /// Register `key` was set to `value`.
    Write {
        /// Key id.
        key: u32,
        /// Value id.
        value: u32,
    },
}

/// Registers named by key, read and written in transactions.
#[derive(Debug, Clone)]
pub struct MultiRegisterModel {
    values: ValueTable,
    keys: Vec<String>,
    /// Interned initial value of each key given one.
    initial: FxHashMap<String, u32>,
}

impl MultiRegisterModel {
    /// Registers starting at the values of `initial` (a map key -> value); others at null.
    pub fn new(initial: Option<&Value>) -> Result<MultiRegisterModel, String> {
        let mut values = ValueTable::new();
        // Interned here, so the states `init` builds name only values the table holds.
        let initial = match initial {
            None => FxHashMap::default(),
            Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), values.id(v))).collect(),
            Some(other) => {
                return Err(format!("a multi-register's initial value must be a map, got {other}"));
            }
        };
        Ok(MultiRegisterModel { values, keys: Vec::new(), initial })
    }

    fn key_id(&mut self, k: &Value) -> u32 {
        let name = match k {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match self.keys.iter().position(|x| *x == name) {
            Some(i) => i as u32,
            None => {
                self.keys.push(name);
                self.keys.len() as u32 - 1
            }
        }
    }
}

impl Model for MultiRegisterModel {
    type State = Box<[u32]>;
    type Op = Vec<Micro>;

    fn compile(&mut self, call: &Call<'_>) -> Result<Compiled<Vec<Micro>>, String> {
        let source = match call.outcome {
            Outcome::Ok(v) => v,
            Outcome::Fail => return Ok(Compiled::Skip),
            Outcome::Unknown => &call.invoke.value,
        };
        let Some(micros) = source.as_array() else {
            return Err(format!("a multi-register {} needs a vector of [f k v] micro-ops", call.invoke.f));
        };
        let mut ops = Vec::with_capacity(micros.len());
        for m in micros {
            let Some([f, k, v]) = m.as_array().and_then(|a| <&[Value; 3]>::try_from(&a[..]).ok()) else {
                return Err(format!("a micro-op must be [f k v], got {m}"));
            };
            let key = self.key_id(k);
            match f.as_str() {
                Some("read" | "r") => {
                    if !v.is_null() && !matches!(call.outcome, Outcome::Unknown) {
                        ops.push(Micro::Read { key, value: self.values.id(v) });
                    }
                }
                Some("write" | "w") => ops.push(Micro::Write { key, value: self.values.id(v) }),
                _ => return Err(format!("a micro-op must be :read or :write, got {f}")),
            }
        }
        Ok(Compiled::Op { key: None, op: ops })
    }

    fn init(&self) -> Box<[u32]> {
        self.keys.iter().map(|k| self.initial.get(k).copied().unwrap_or(0)).collect()
    }

    fn step(&self, state: &Box<[u32]>, op: &Vec<Micro>) -> Option<Box<[u32]>> {
        let mut next = state.clone();
        for m in op {
            match *m {
                Micro::Read { key, value } if next[key as usize] != value => return None,
                Micro::Read { .. } => {}
                Micro::Write { key, value } => next[key as usize] = value,
            }
        }
        Some(next)
    }

    fn read_only(&self, op: &Vec<Micro>) -> bool {
        op.iter().all(|m| matches!(m, Micro::Read { .. }))
    }

    fn heap_bytes(&self, state: &Box<[u32]>) -> usize {
        state.len() * 4
    }

    fn describe(&self, op: &Vec<Micro>, _key: Option<&str>) -> String {
        let parts: Vec<String> = op
            .iter()
            .map(|m| match *m {
                Micro::Read { key, value } => {
                    format!("read {}={}", self.keys[key as usize], self.values.value(value))
                }
                Micro::Write { key, value } => {
                    format!("write {}={}", self.keys[key as usize], self.values.value(value))
                }
            })
            .collect();
        format!("transaction [{}]", parts.join(", "))
    }

    fn describe_state(&self, state: &Box<[u32]>, _key: Option<&str>) -> String {
        let parts: Vec<String> = state
            .iter()
            .enumerate()
            .map(|(k, v)| format!("{}={}", self.keys[k], self.values.value(*v)))
            .collect();
        format!("the registers held {}", parts.join(", "))
    }

    fn state_json(&self, state: &Box<[u32]>) -> Value {
        Value::Object(
            state
                .iter()
                .enumerate()
                .map(|(k, v)| (self.keys[k].clone(), self.values.value(*v).clone()))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Op, OpType};
    use serde_json::json;

    #[test]
    fn describes_an_initial_value_no_op_mentions() {
        let mut model = MultiRegisterModel::new(Some(&json!({"x": 5}))).unwrap();
        let invoke = Op::client(0, 0, 0, OpType::Invoke, "txn", json!([["r", "x", null]]));
        let read = json!([["r", "x", 3]]);
        let call = Call { invoke: &invoke, completion: None, outcome: Outcome::Ok(&read) };
        assert!(matches!(model.compile(&call), Ok(Compiled::Op { .. })));
        let init = model.init();
        assert_eq!(model.state_json(&init), json!({"x": 5}));
        assert_eq!(model.describe_state(&init, None), "the registers held x=5");
    }
}
