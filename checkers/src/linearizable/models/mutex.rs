//! A lock: `acquire` succeeds only when free, `release` only when held. Failed ops did not
//! happen (Knossos's reading).

use crate::linearizable::model::{Call, Compiled, Model, Outcome};
use serde_json::Value;

/// One lock op and whether its outcome is known.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MutexOp {
    /// `acquire` (true) or `release` (false).
    pub acquire: bool,
    /// Unknown outcome: may or may not have happened.
    pub unknown: bool,
}

/// One lock.
#[derive(Debug, Clone, Default)]
pub struct MutexModel;

impl Model for MutexModel {
    type State = bool;
    type Op = MutexOp;

    fn compile(&mut self, call: &Call<'_>) -> Result<Compiled<MutexOp>, String> {
        let acquire = match call.invoke.f.as_str() {
            "acquire" | "lock" => true,
            "release" | "unlock" => false,
            f => return Err(format!("a mutex has no op '{f}' (expected acquire or release)")),
        };
        Ok(match call.outcome {
            Outcome::Fail => Compiled::Skip,
            Outcome::Ok(_) => Compiled::Op { key: None, op: MutexOp { acquire, unknown: false } },
            Outcome::Unknown => Compiled::Op { key: None, op: MutexOp { acquire, unknown: true } },
        })
    }

    fn init(&self) -> bool {
        false
    }

    fn step(&self, held: &bool, op: &MutexOp) -> Option<bool> {
        if *held != op.acquire {
            Some(op.acquire)
        } else if op.unknown {
            Some(*held)
        } else {
            None
        }
    }

    fn describe(&self, op: &MutexOp, _key: Option<&str>) -> String {
        format!("{} of the lock", if op.acquire { "acquire" } else { "release" })
    }

    fn describe_state(&self, held: &bool, _key: Option<&str>) -> String {
        format!("the lock was {}", if *held { "held" } else { "free" })
    }

    fn state_json(&self, held: &bool) -> Value {
        Value::Bool(*held)
    }
}
