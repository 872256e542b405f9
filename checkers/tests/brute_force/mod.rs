//! The reference the linearizability tests hold Sunder's search to: every real-time order
//! of a small history's calls, tried one by one. Shared by the register, crashed-op and
//! string-kv property tests, each bringing its own calls and model step.

#![allow(dead_code)]

use serde_json::Value;
use sunder_check::history::OpType;

/// A call as the brute-force search sees it.
pub trait Timed {
    /// History position of the invocation.
    fn call(&self) -> usize;
    /// History position of the completion (`usize::MAX` while open or crashed).
    fn ret(&self) -> usize;
    /// How it ended; an `info` call may be left out of the order.
    fn kind(&self) -> OpType;
}

/// Implements [`Timed`] for a struct with `call`, `ret` and `kind` fields.
macro_rules! timed_by_fields {
    ($t:ty) => {
        impl $crate::brute_force::Timed for $t {
            fn call(&self) -> usize {
                self.call
            }
            fn ret(&self) -> usize {
                self.ret
            }
            fn kind(&self) -> sunder_check::history::OpType {
                self.kind
            }
        }
    };
}

/// True when the calls not yet `placed` can be ordered from `state`, each after every call
/// that returned before it was invoked, with `step` accepting each (`None`: it cannot take
/// effect in that state); crashed (`info`) calls may be left out.
pub fn linearizable<C: Timed, S>(
    calls: &[C],
    placed: &mut Vec<bool>,
    state: &S,
    step: &dyn Fn(&S, &C) -> Option<S>,
) -> bool {
    let pending: Vec<usize> = (0..calls.len()).filter(|&i| !placed[i]).collect();
    if pending.iter().all(|&i| calls[i].kind() == OpType::Info) {
        return true;
    }
    for &i in &pending {
        // Every pending call that returned before this one was invoked must come first.
        if pending.iter().any(|&o| calls[o].ret() < calls[i].call()) {
            continue;
        }
        if let Some(next) = step(state, &calls[i]) {
            placed[i] = true;
            let found = linearizable(calls, placed, &next, step);
            placed[i] = false;
            if found {
                return true;
            }
        }
    }
    false
}

/// A read, write or cas of one register, as the register property tests generate them.
#[derive(Clone, Debug)]
pub struct RegisterCall {
    pub call: usize,
    pub ret: usize,
    pub f: &'static str,
    pub arg: Value,
    pub result: Value,
    pub kind: OpType,
}

timed_by_fields!(RegisterCall);

/// A cas register's step: a failed cas saw another value; an unknown one may have swapped.
pub fn register_step(state: &Value, c: &RegisterCall) -> Option<Value> {
    match (c.f, c.kind) {
        ("read", OpType::Ok) => (c.result == *state).then(|| state.clone()),
        ("read", _) => Some(state.clone()),
        ("write", _) => Some(c.arg.clone()),
        (_, OpType::Ok) => (c.arg[0] == *state).then(|| c.arg[1].clone()),
        (_, OpType::Fail) => (c.arg[0] != *state).then(|| state.clone()),
        _ => Some(if c.arg[0] == *state { c.arg[1].clone() } else { state.clone() }),
    }
}
