//! The counter invariant, with Jepsen's semantics: the counter starts at a known value and
//! only grows by `add` of non-negative amounts; every `ok` read must lie between the sum of
//! acknowledged adds completed before the read began (lower bound) and the sum of every add
//! invoked before the read completed that did not fail (upper bound: `info` and pending
//! adds may have happened).

use crate::history::{History, OpType, Process};
use crate::verdict::{Anomaly, CheckerResult};
use rustc_hash::FxHashMap;
use serde_json::json;

/// At most this many anomalies are listed; details count them all.
pub const MAX_ANOMALIES: usize = 20;

/// What the counter checker expects.
#[derive(Debug, Clone, Copy, Default)]
pub struct CounterSettings {
    /// The counter's value before the first add.
    pub initial: i64,
}

/// Checks every `ok` read of a counter history against the bounds adds allow.
pub fn check(history: &History, settings: &CounterSettings) -> CheckerResult {
    let ops = history.ops();
    let mut lower = settings.initial;
    let mut upper = settings.initial;
    let mut pending: FxHashMap<Process, i64> = FxHashMap::default();
    let mut reads = 0usize;
    let mut errors = Vec::new();
    let mut error_count = 0usize;
    for (pos, op) in ops.iter().enumerate() {
        if op.is_nemesis() {
            continue;
        }
        let amount = || match op.value.as_i64() {
            Some(a) if a >= 0 => Ok(a),
            _ => Err(CheckerResult::unknown(format!(
                "op {}: a counter add must carry a non-negative integer, got {}",
                op.index, op.value
            ))),
        };
        match (op.f.as_str(), op.kind) {
            ("read", OpType::Invoke) => {
                pending.insert(op.process, lower);
            }
            ("read", OpType::Ok) => {
                let Some(low) = pending.remove(&op.process) else { continue };
                let Some(value) = op.value.as_i64() else {
                    return CheckerResult::unknown(format!(
                        "op {}: a counter read must return an integer, got {}",
                        op.index, op.value
                    ));
                };
                reads += 1;
                if value < low || value > upper {
                    error_count += 1;
                    if errors.len() < MAX_ANOMALIES {
                        let inv = history.partner(pos).map_or(op.index, |j| ops[j].index);
                        errors.push(Anomaly {
                            kind: if value < low { "read-below-lower-bound" } else { "read-above-upper-bound" }.into(),
                            explanation: format!(
                                "process {} read {value}, but the counter was between {low} (acknowledged adds completed before the read began) and {upper} (every add that may have happened before it ended).",
                                op.process
                            ),
                            ops: vec![inv, op.index],
                            witness: json!({ "lower": low, "value": value, "upper": upper }),
                        });
                    }
                }
            }
            ("add", OpType::Invoke) => {
                let failed = history.partner(pos).is_some_and(|c| ops[c].kind == OpType::Fail);
                if !failed {
                    match amount() {
                        Ok(a) => upper += a,
                        Err(r) => return r,
                    }
                }
            }
            ("add", OpType::Ok) => match amount() {
                Ok(a) => lower += a,
                Err(r) => return r,
            },
            _ => {}
        }
    }
    let details = json!({ "read-count": reads, "error-count": error_count, "final-bounds": [lower, upper] });
    if errors.is_empty() {
        let mut r = CheckerResult::valid().with_details(details);
        if reads == 0 {
            // Jepsen's verdict too: without a read, nothing contradicts the adds.
            r.reason = Some("the history has no ok read, so no bound could be broken".into());
        }
        r
    } else {
        CheckerResult::invalid(errors).with_details(details)
    }
}
