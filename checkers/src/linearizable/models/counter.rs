//! A counter: `add n` (Jepsen's `:add`, or `incr`) and `read` returning the total.

use crate::linearizable::model::{Call, Compiled, Model, Outcome};
use serde_json::Value;

/// One counter op.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CounterOp {
    /// Added this amount.
    Add(i64),
    /// Read this total.
    Read(i64),
}

/// One counter starting at 0.
#[derive(Debug, Clone, Default)]
pub struct CounterModel;

impl Model for CounterModel {
    type State = i64;
    type Op = CounterOp;

    fn compile(&mut self, call: &Call<'_>) -> Result<Compiled<CounterOp>, String> {
        let int = |v: &Value| v.as_i64().ok_or_else(|| format!("a counter needs integer values, got {v}"));
        let op = match (call.invoke.f.as_str(), call.outcome) {
            ("read", Outcome::Ok(v)) => CounterOp::Read(int(v)?),
            ("read", _) | (_, Outcome::Fail) => return Ok(Compiled::Skip),
            ("add" | "incr", _) => {
                CounterOp::Add(if call.invoke.value.is_null() { 1 } else { int(&call.invoke.value)? })
            }
            (f, _) => return Err(format!("a counter has no op '{f}' (expected add or read)")),
        };
        Ok(Compiled::Op { key: call.invoke.key.clone(), op })
    }

    fn init(&self) -> i64 {
        0
    }

    fn step(&self, total: &i64, op: &CounterOp) -> Option<i64> {
        match *op {
            CounterOp::Add(n) => Some(total.wrapping_add(n)),
            CounterOp::Read(n) => (n == *total).then_some(n),
        }
    }

    fn read_only(&self, op: &CounterOp) -> bool {
        matches!(op, CounterOp::Read(_))
    }

    fn describe(&self, op: &CounterOp, _key: Option<&str>) -> String {
        match op {
            CounterOp::Add(n) => format!("add of {n}"),
            CounterOp::Read(n) => format!("read of the counter returned {n}"),
        }
    }

    fn describe_state(&self, total: &i64, _key: Option<&str>) -> String {
        format!("the counter held {total}")
    }

    fn state_json(&self, total: &i64) -> Value {
        Value::from(*total)
    }
}
