//! Registers: `read`, `write` and (for a CAS register) `cas [from to]`, partitioned by key so
//! a kv history is checked one register at a time. The state is one interned value.
//!
//! Two readings of `null` exist. Sunder's and Porcupine's registers start at `null`, and a
//! read of `null` means the key was never written: it is checked like any other read.
//! Knossos's `Register` and `CASRegister` start at `nil` (or at the value given,
//! `(cas-register 0)`) and accept a read of `nil` in any state, as "not observed". The
//! Knossos reading is chosen when an initial value is given (`register nil` is Knossos's
//! bare `(register)`), and `Imported::model_as_meant` gives it to every Jepsen EDN or JSON
//! file, so `--model cas-register` on a Jepsen history means what Knossos meant.
//! docs/history.md has the table.
//!
//! A read with siblings (a store that kept concurrent versions) returned one of them, by
//! [`Op::read_values`](crate::history::Op::read_values): it compiles to
//! [`RegisterOp::ReadOneOf`], legal in any state that holds one of its siblings.

use crate::linearizable::model::{Call, Compiled, Model, Outcome, ValueTable, subject};
use serde_json::Value;

/// One register op.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RegisterOp {
    /// A read that returned this value.
    Read(u32),
    /// A read that returned one of the values of this sibling set (an index into the
    /// model's sibling sets; see [`RegisterModel::siblings`]).
    ReadOneOf(u32),
    /// A write of this value (its outcome does not matter to the state).
    Write(u32),
    /// A compare-and-set.
    Cas {
        /// Expected value.
        from: u32,
        /// New value.
        to: u32,
        /// What was observed.
        result: CasResult,
    },
}

/// What a cas was seen to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CasResult {
    /// It succeeded: the register held `from`.
    Swapped,
    /// It failed on a mismatch: the register held something else.
    Mismatch,
    /// Unknown.
    Unknown,
}

/// A register per key; see the module doc for the reading of `null`.
#[derive(Debug, Clone)]
pub struct RegisterModel {
    values: ValueTable,
    initial: u32,
    null_read_is_unknown: bool,
    allow_cas: bool,
    /// The sibling sets of sibling reads, each sorted and without repeats.
    sibling_sets: Vec<Vec<u32>>,
}

impl RegisterModel {
    /// A register (with `cas` when `allow_cas`) starting at `initial`, or at `null` with
    /// Sunder's reading of `null` when `initial` is `None`.
    pub fn new(initial: Option<&Value>, allow_cas: bool) -> RegisterModel {
        let mut values = ValueTable::new();
        let initial_id = initial.map(|v| values.id(v)).unwrap_or(0);
        RegisterModel {
            values,
            initial: initial_id,
            null_read_is_unknown: initial.is_some(),
            allow_cas,
            sibling_sets: Vec::new(),
        }
    }

    /// The values (interned) of sibling set `set`, as [`RegisterOp::ReadOneOf`] names it.
    pub fn siblings(&self, set: u32) -> &[u32] {
        &self.sibling_sets[set as usize]
    }

    /// A read of `values` (the completion's [`Op::read_values`](crate::history::Op::read_values)):
    /// a plain read when they are one value, else a read of one of them.
    fn read_of(&mut self, values: &[Value]) -> RegisterOp {
        let mut ids: Vec<u32> = values.iter().map(|v| self.values.id(v)).collect();
        ids.sort_unstable();
        ids.dedup();
        if let [one] = ids[..] {
            return RegisterOp::Read(one);
        }
        self.sibling_sets.push(ids);
        RegisterOp::ReadOneOf(self.sibling_sets.len() as u32 - 1)
    }

    /// The interned values.
    pub fn values(&self) -> &ValueTable {
        &self.values
    }

    /// Values interned so far, for a caller deciding when to [`RegisterModel::retain`].
    pub fn interned(&self) -> usize {
        self.values.len() + self.sibling_sets.len()
    }

    /// Forgets every value and sibling set that none of `ops` and `states` names (nor the
    /// initial value), and renumbers those in `ops` and `states` to match. The streaming
    /// judge calls it with every open op and configuration, so its memory follows them
    /// rather than the history.
    pub fn retain(&mut self, ops: Vec<&mut RegisterOp>, states: Vec<&mut u32>) {
        let mut values = rustc_hash::FxHashSet::default();
        let mut sets = rustc_hash::FxHashSet::default();
        values.insert(self.initial);
        for op in &ops {
            match **op {
                RegisterOp::Read(v) | RegisterOp::Write(v) => {
                    values.insert(v);
                }
                RegisterOp::ReadOneOf(set) => {
                    sets.insert(set);
                    values.extend(self.sibling_sets[set as usize].iter().copied());
                }
                RegisterOp::Cas { from, to, .. } => {
                    values.insert(from);
                    values.insert(to);
                }
            }
        }
        values.extend(states.iter().map(|s| **s));
        let id = self.values.retain(&values);
        let mut set_id = vec![u32::MAX; self.sibling_sets.len()];
        let mut kept_sets = Vec::new();
        for (old, set) in std::mem::take(&mut self.sibling_sets).into_iter().enumerate() {
            if sets.contains(&(old as u32)) {
                set_id[old] = kept_sets.len() as u32;
                kept_sets.push(set.into_iter().map(|v| id[v as usize]).collect());
            }
        }
        self.sibling_sets = kept_sets;
        self.initial = id[self.initial as usize];
        for op in ops {
            *op = match *op {
                RegisterOp::Read(v) => RegisterOp::Read(id[v as usize]),
                RegisterOp::Write(v) => RegisterOp::Write(id[v as usize]),
                RegisterOp::ReadOneOf(set) => RegisterOp::ReadOneOf(set_id[set as usize]),
                RegisterOp::Cas { from, to, result } => {
                    RegisterOp::Cas { from: id[from as usize], to: id[to as usize], result }
                }
            };
        }
        for s in states {
            *s = id[*s as usize];
        }
    }

    fn text(&self, id: u32) -> String {
        self.values.value(id).to_string()
    }
}

impl Model for RegisterModel {
    type State = u32;
    type Op = RegisterOp;

    fn compile(&mut self, call: &Call<'_>) -> Result<Compiled<RegisterOp>, String> {
        let key = call.invoke.key.clone();
        let op = match (call.invoke.f.as_str(), call.outcome) {
            ("read", Outcome::Ok(_)) => {
                let values = call.completion.map_or(&[][..], |c| c.read_values());
                if values.is_empty() || (self.null_read_is_unknown && values.iter().any(Value::is_null)) {
                    return Ok(Compiled::Skip);
                }
                self.read_of(values)
            }
            ("read", _) => return Ok(Compiled::Skip),
            ("write", Outcome::Fail) => return Ok(Compiled::Skip),
            ("write", _) => RegisterOp::Write(self.values.id(&call.invoke.value)),
            ("cas", outcome) => {
                if !self.allow_cas {
                    return Err("a plain register has no cas; check with --model cas-register".into());
                }
                let Some([from, to]) =
                    call.invoke.value.as_array().and_then(|a| <&[Value; 2]>::try_from(&a[..]).ok())
                else {
                    return Err(format!("a cas needs [from to], got {}", call.invoke.value));
                };
                let result = match outcome {
                    Outcome::Ok(_) => CasResult::Swapped,
                    Outcome::Unknown => CasResult::Unknown,
                    Outcome::Fail if is_mismatch(call) => CasResult::Mismatch,
                    Outcome::Fail => return Ok(Compiled::Skip),
                };
                RegisterOp::Cas { from: self.values.id(from), to: self.values.id(to), result }
            }
            (f, _) => return Err(format!("a register has no op '{f}' (expected read, write or cas)")),
        };
        Ok(Compiled::Op { key, op })
    }

    fn init(&self) -> u32 {
        self.initial
    }

    fn step(&self, state: &u32, op: &RegisterOp) -> Option<u32> {
        match *op {
            RegisterOp::Read(v) => (v == *state).then_some(v),
            RegisterOp::ReadOneOf(set) => self.siblings(set).contains(state).then_some(*state),
            RegisterOp::Write(v) => Some(v),
            RegisterOp::Cas { from, to, result } => match result {
                CasResult::Swapped => (from == *state).then_some(to),
                CasResult::Mismatch => (from != *state).then_some(*state),
                CasResult::Unknown => Some(if from == *state { to } else { *state }),
            },
        }
    }

    fn read_only(&self, op: &RegisterOp) -> bool {
        matches!(
            op,
            RegisterOp::Read(_)
                | RegisterOp::ReadOneOf(_)
                | RegisterOp::Cas { result: CasResult::Mismatch, .. }
        )
    }

    fn describe(&self, op: &RegisterOp, key: Option<&str>) -> String {
        let k = subject(key, "register");
        match *op {
            RegisterOp::Read(v) => format!("read of {k} returned {}", self.text(v)),
            RegisterOp::ReadOneOf(set) => {
                let all: Vec<String> = self.siblings(set).iter().map(|&v| self.text(v)).collect();
                format!("read of {k} returned one of the siblings [{}]", all.join(", "))
            }
            RegisterOp::Write(v) => format!("write of {} to {k}", self.text(v)),
            RegisterOp::Cas { from, to, result } => {
                let how = match result {
                    CasResult::Swapped => "succeeded",
                    CasResult::Mismatch => "failed on a mismatch",
                    CasResult::Unknown => "had an unknown outcome",
                };
                format!("cas of {k} from {} to {} {how}", self.text(from), self.text(to))
            }
        }
    }

    fn describe_state(&self, state: &u32, key: Option<&str>) -> String {
        format!("{} held {}", subject(key, "register"), self.text(*state))
    }

    fn state_json(&self, state: &u32) -> Value {
        self.values.value(*state).clone()
    }
}

/// A failed cas with no error, or an error naming a mismatch, observed another value; any
/// other definite error (not leader, unavailable) means it simply did not happen.
fn is_mismatch(call: &Call<'_>) -> bool {
    match call.completion.and_then(|c| c.error.as_deref()) {
        None => true,
        Some(e) => {
            let e = e.to_ascii_lowercase();
            ["mismatch", "precondition", "412", "cas-failed", "compare"].iter().any(|w| e.contains(w))
        }
    }
}
