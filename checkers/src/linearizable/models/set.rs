//! A grow-only set: `add e` and `read` returning every element. The state is the sorted list
//! of interned elements.

use crate::linearizable::model::{Call, Compiled, Model, Outcome, ValueTable};
use serde_json::Value;

/// One set op.
#[derive(Debug, Clone, PartialEq)]
pub enum SetOp {
    /// Added this element.
    Add(u32),
    /// Read exactly these elements (sorted ids).
    Read(Vec<u32>),
}

/// One set starting empty.
#[derive(Debug, Clone, Default)]
pub struct SetModel {
    values: ValueTable,
}

impl Model for SetModel {
    type State = Vec<u32>;
    type Op = SetOp;

    fn compile(&mut self, call: &Call<'_>) -> Result<Compiled<SetOp>, String> {
        let op = match (call.invoke.f.as_str(), call.outcome) {
            ("read", Outcome::Ok(v)) => {
                let Some(items) = v.as_array() else {
                    return Err(format!("a set read must return a list, got {v}"));
                };
                let mut ids: Vec<u32> = items.iter().map(|e| self.values.id(e)).collect();
                ids.sort_unstable();
                ids.dedup();
                SetOp::Read(ids)
            }
            ("read", _) | (_, Outcome::Fail) => return Ok(Compiled::Skip),
            ("add", _) => SetOp::Add(self.values.id(&call.invoke.value)),
            (f, _) => return Err(format!("a set has no op '{f}' (expected add or read)")),
        };
        Ok(Compiled::Op { key: call.invoke.key.clone(), op })
    }

    fn init(&self) -> Vec<u32> {
        Vec::new()
    }

    fn step(&self, state: &Vec<u32>, op: &SetOp) -> Option<Vec<u32>> {
        match op {
            SetOp::Add(e) => match state.binary_search(e) {
                Ok(_) => Some(state.clone()),
                Err(at) => {
                    let mut next = state.clone();
                    next.insert(at, *e);
                    Some(next)
                }
            },
            SetOp::Read(items) => (items == state).then(|| state.clone()),
        }
    }

    fn read_only(&self, op: &SetOp) -> bool {
        matches!(op, SetOp::Read(_))
    }

    fn heap_bytes(&self, state: &Vec<u32>) -> usize {
        state.capacity() * 4
    }

    fn describe(&self, op: &SetOp, _key: Option<&str>) -> String {
        match op {
            SetOp::Add(e) => format!("add of {}", self.values.value(*e)),
            SetOp::Read(items) => format!("read of the set returned {}", self.state_json(items)),
        }
    }

    fn describe_state(&self, state: &Vec<u32>, _key: Option<&str>) -> String {
        format!("the set held {}", self.state_json(state))
    }

    fn state_json(&self, state: &Vec<u32>) -> Value {
        Value::Array(state.iter().map(|e| self.values.value(*e).clone()).collect())
    }
}
