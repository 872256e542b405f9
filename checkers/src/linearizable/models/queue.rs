//! A FIFO queue: `enqueue v`, and `dequeue` returning the oldest element (`nil` when empty).

use crate::linearizable::model::{Call, Compiled, Model, Outcome, ValueTable};
use serde_json::Value;
use std::collections::VecDeque;

/// One queue op.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum QueueOp {
    /// Enqueued this value.
    Enqueue(u32),
    /// Dequeued this value (id 0, `nil`: found the queue empty).
    Dequeue(u32),
    /// A dequeue of unknown outcome.
    DequeueUnknown,
}

/// One FIFO queue starting empty.
#[derive(Debug, Clone, Default)]
pub struct FifoQueueModel {
    values: ValueTable,
}

impl Model for FifoQueueModel {
    type State = VecDeque<u32>;
    type Op = QueueOp;

    fn compile(&mut self, call: &Call<'_>) -> Result<Compiled<QueueOp>, String> {
        let op = match (call.invoke.f.as_str(), call.outcome) {
            (_, Outcome::Fail) => return Ok(Compiled::Skip),
            ("enqueue", _) => QueueOp::Enqueue(self.values.id(&call.invoke.value)),
            ("dequeue", Outcome::Ok(v)) => QueueOp::Dequeue(self.values.id(v)),
            ("dequeue", Outcome::Unknown) => QueueOp::DequeueUnknown,
            (f, _) => return Err(format!("a queue has no op '{f}' (expected enqueue or dequeue)")),
        };
        Ok(Compiled::Op { key: call.invoke.key.clone(), op })
    }

    fn init(&self) -> VecDeque<u32> {
        VecDeque::new()
    }

    fn step(&self, state: &VecDeque<u32>, op: &QueueOp) -> Option<VecDeque<u32>> {
        let mut next = state.clone();
        match *op {
            QueueOp::Enqueue(v) => next.push_back(v),
            QueueOp::Dequeue(0) => return state.is_empty().then_some(next),
            QueueOp::Dequeue(v) => {
                if next.pop_front() != Some(v) {
                    return None;
                }
            }
            QueueOp::DequeueUnknown => {
                next.pop_front();
            }
        }
        Some(next)
    }

    fn read_only(&self, op: &QueueOp) -> bool {
        matches!(op, QueueOp::Dequeue(0))
    }

    fn heap_bytes(&self, state: &VecDeque<u32>) -> usize {
        state.capacity() * 4
    }

    fn describe(&self, op: &QueueOp, _key: Option<&str>) -> String {
        match *op {
            QueueOp::Enqueue(v) => format!("enqueue of {}", self.values.value(v)),
            QueueOp::Dequeue(0) => "dequeue that found the queue empty".into(),
            QueueOp::Dequeue(v) => format!("dequeue that returned {}", self.values.value(v)),
            QueueOp::DequeueUnknown => "dequeue of unknown outcome".into(),
        }
    }

    fn describe_state(&self, state: &VecDeque<u32>, _key: Option<&str>) -> String {
        format!("the queue held {}", self.state_json(state))
    }

    fn state_json(&self, state: &VecDeque<u32>) -> Value {
        Value::Array(state.iter().map(|e| self.values.value(*e).clone()).collect())
    }
}
