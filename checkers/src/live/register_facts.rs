//! What the ladder would make of a register history, gathered call by call: whether its
//! register view applies at all (only reads, writes and cas, every write unique per key and
//! not `null`, as [`RegisterHistory::from_history`] demands), and the facts convergence
//! judges the final reads by: when the write of each value still in play ended, each key's
//! latest acknowledged write, and its final reads.
//!
//! Uniqueness is the one fact that needs every written value: [`WrittenValues`] keeps them in
//! bounded memory, as runs of integers, and a possible repeat is not taken as proof: the
//! verdict is left to the offline check. When a
//! write ended is kept only while its value is still in play (named by a configuration or
//! an open call, see [`RegisterFacts::forget_ended`]): a linearizable final read can only
//! return such a value, and a final read of a forgotten one is left to the offline check.
//!
//! Only the verdicts the streaming judge can vouch for come out of it: convergence `valid`
//! (or not applicable). A divergence, a lost or garbage value, or a key never read finally
//! is left to the offline check, which explains it.
//!
//! [`RegisterHistory::from_history`]: crate::ladder::register::RegisterHistory::from_history

use super::written_values::WrittenValues;
use crate::convergence;
use crate::history::{Op, OpType};
use crate::ladder::register::ValueKey;
use crate::linearizable::model::ValueTable;
use crate::verdict::CheckerResult;
use rustc_hash::FxHashMap;
use serde_json::{Value, json};

/// One key's facts.
#[derive(Default)]
struct Key {
    /// Values still in play written by writes and cas that did not fail, with the write's
    /// completion time (`u64::MAX` when it did not complete `ok`).
    ended: FxHashMap<ValueKey, u64>,
    /// Latest invocation time of an acknowledged write or cas.
    latest_acked: Option<u64>,
    /// The first final read's values, and whether a later one read another set.
    final_read: Option<Vec<Value>>,
    diverged: bool,
}

/// The facts so far.
#[derive(Default)]
pub struct RegisterFacts {
    keys: FxHashMap<String, Key>,
    /// The values of every write and cas so far.
    written: WrittenValues,
    /// A write that may repeat a value written before, if any.
    repeated: Option<u64>,
    /// Why the register view does not apply, once known.
    not_a_register: Option<String>,
    /// Calls other than read, write and cas.
    ignored: usize,
    /// Some read, write or cas completed `ok`.
    any_ok: bool,
    /// Position of the final phase's marker.
    marker: Option<usize>,
}

/// What the ladder's part of the verdict is.
pub enum LadderPart {
    /// The ladder does not apply: no ladder model is judged (as offline).
    Absent,
    /// Every model implied by linearizability, and convergence's result.
    Convergence(CheckerResult),
    /// Only the offline check can say (with this reason).
    Offline(String),
}

fn set_of(values: &[Value]) -> Vec<String> {
    let mut set: Vec<String> = values.iter().map(Value::to_string).collect();
    set.sort_unstable();
    set.dedup();
    set
}

impl RegisterFacts {
    /// Notes a nemesis op at position `at`.
    pub fn nemesis(&mut self, at: usize, op: &Op) {
        if self.marker.is_none() && convergence::is_final_marker(op) {
            self.marker = Some(at);
        }
    }

    /// Notes a call invoked at position `at`, with its completion (`None`: never completed).
    pub fn call(&mut self, at: usize, invoke: &Op, completion: Option<&Op>) {
        let f = invoke.f.as_str();
        if !matches!(f, "read" | "write" | "cas") {
            self.ignored += 1;
            return;
        }
        let outcome = completion.map_or(OpType::Info, |c| c.kind);
        if outcome == OpType::Ok {
            self.any_ok = true;
        }
        let name = invoke.key.as_deref().unwrap_or("");
        let key = match self.keys.get_mut(name) {
            Some(k) => k,
            None => self.keys.entry(name.to_string()).or_default(),
        };
        if f == "read" {
            if let Some(c) = completion
                && outcome == OpType::Ok
                && self.marker.is_some_and(|m| at > m)
            {
                let values = c.read_values();
                match &key.final_read {
                    None => key.final_read = Some(values.to_vec()),
                    Some(first) => key.diverged |= set_of(first) != set_of(values),
                }
            }
            return;
        }
        let value = if f == "write" {
            &invoke.value
        } else {
            match invoke.value.as_array().map(|a| a.as_slice()) {
                Some([_, to]) => to,
                _ => {
                    self.not_a_register
                        .get_or_insert_with(|| format!("op {}: cas needs [from, to]", invoke.index));
                    return;
                }
            }
        };
        if value.is_null() {
            self.not_a_register.get_or_insert_with(|| format!("op {} writes null", invoke.index));
            return;
        }
        let v = ValueKey::of(value);
        let fresh = self.written.note(name, &v, outcome == OpType::Fail);
        if !fresh {
            self.repeated.get_or_insert(invoke.index);
        }
        if outcome == OpType::Fail || !fresh {
            return;
        }
        let ended = match completion {
            Some(c) if outcome == OpType::Ok => {
                key.latest_acked = Some(key.latest_acked.map_or(invoke.time, |t| t.max(invoke.time)));
                c.time
            }
            _ => u64::MAX,
        };
        key.ended.insert(v, ended);
    }

    /// Forgets when a write ended for every value `in_play` does not hold.
    pub fn forget_ended(&mut self, in_play: &ValueTable) {
        for key in self.keys.values_mut() {
            key.ended.retain(|v, _| match v {
                ValueKey::Int(i) => in_play.contains_int(*i),
                ValueKey::Text(t) => in_play.contains_text(t),
            });
        }
    }

    /// The ladder's part of a linearizable history's verdict, from the facts.
    pub fn ladder_part(&self) -> LadderPart {
        if self.ignored > 0 || self.not_a_register.is_some() {
            return LadderPart::Absent;
        }
        if let Some(index) = self.repeated {
            let why = if self.written.coarsened() {
                ", or a value between runs merged to bound memory"
            } else {
                ""
            };
            return LadderPart::Offline(format!("op {index} may write a value written before{why}"));
        }
        if !self.any_ok {
            return LadderPart::Offline("no read, write or cas completed ok".into());
        }
        if self.marker.is_none() {
            return LadderPart::Convergence(CheckerResult::not_applicable(convergence::NO_FINAL_PHASE));
        }
        let mut read = 0;
        for (name, key) in &self.keys {
            let Some(values) = &key.final_read else {
                if key.latest_acked.is_some() {
                    return LadderPart::Offline(format!("key {name:?} has no final read"));
                }
                continue;
            };
            read += 1;
            if key.diverged {
                return LadderPart::Offline(format!("the final reads of key {name:?} disagree"));
            }
            // A read loses a write when each of its values does (convergence's rule).
            let loses = |v: &Value| {
                if v.is_null() {
                    return key.latest_acked.is_some();
                }
                match key.ended.get(&ValueKey::of(v)) {
                    None => true,
                    Some(&ended) => key.latest_acked.is_some_and(|t| t > ended),
                }
            };
            if values.iter().all(loses) {
                return LadderPart::Offline(format!("the final read of key {name:?} misses a write"));
            }
        }
        LadderPart::Convergence(
            CheckerResult::valid()
                .with_details(json!({ "keys-read": read, "keys-unread": Vec::<String>::new() })),
        )
    }
}
