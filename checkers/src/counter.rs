//! The counter invariant, with Jepsen's semantics extended to decrements: the counter
//! starts at a known value and changes by `add` of signed amounts; every `ok` read must lie
//! between the lowest and highest values the adds allow. For non-negative adds that is
//! Jepsen's rule: the sum of acknowledged adds completed before the read began (lower bound)
//! and the sum of every add invoked before the read completed that did not fail (upper
//! bound: `info` and pending adds may have happened). A decrement counts the other way.
//! Sums are kept in `i128`, so no history of `i64` adds can wrap them.

use crate::history::{History, Op, OpType, Process};
use crate::verdict::{Anomaly, CheckerResult};
use rustc_hash::FxHashMap;
use serde_json::json;

/// At most this many anomalies are listed; details count them all.
pub const MAX_ANOMALIES: usize = 20;

/// The reason given with the verdict on a history with no `ok` read, shared with the bank
/// checker so the two say the same thing about the same lack of data.
pub const NO_READ: &str =
    "the history has no ok read, so nothing was observed that could break the invariant";

/// What the counter checker expects.
#[derive(Debug, Clone, Copy, Default)]
pub struct CounterSettings {
    /// The counter's value before the first add.
    pub initial: i64,
}

/// What the adds seen so far allow, split by sign: a positive add raises the upper bound
/// once it may have happened and the lower bound once it certainly has; a negative add the
/// other way round. Sums are `i128`, so no history of `i64` adds can overflow them.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    positive_certain: i128,
    positive_possible: i128,
    negative_certain: i128,
    negative_possible: i128,
}

/// Checks every `ok` read of a counter history against the bounds adds allow. With only
/// non-negative adds these are Jepsen's bounds; a negative add (a decrement) may lower the
/// counter from its invocation on, and certainly has once acknowledged.
pub fn check(history: &History, settings: &CounterSettings) -> CheckerResult {
    let ops = history.ops();
    let mut check = CounterCheck::new(settings);
    for (pos, op) in ops.iter().enumerate() {
        if op.is_nemesis() {
            continue;
        }
        if op.kind == OpType::Invoke {
            check.invoke(op, history.partner(pos).is_some_and(|c| ops[c].kind == OpType::Fail));
        } else {
            check.complete(op, history.partner(pos).map_or(op.index, |j| ops[j].index));
        }
    }
    check.finish()
}

/// The counter checker fed op by op, each invocation with whether its call failed: so a
/// history can be checked while it is written (`crate::live`, which releases an invocation
/// once its outcome is known), in memory that follows the calls open at once.
#[derive(Debug, Clone)]
pub struct CounterCheck {
    initial: i128,
    sums: Sums,
    /// The sums when each open read was invoked, by process.
    pending: FxHashMap<Process, Sums>,
    reads: usize,
    errors: Vec<Anomaly>,
    error_count: usize,
    /// An op the checker cannot read: the verdict is unknown.
    malformed: Option<CheckerResult>,
}

impl CounterCheck {
    /// A check against `settings`.
    pub fn new(settings: &CounterSettings) -> CounterCheck {
        CounterCheck {
            initial: i128::from(settings.initial),
            sums: Sums::default(),
            pending: FxHashMap::default(),
            reads: 0,
            errors: vec![],
            error_count: 0,
            malformed: None,
        }
    }

    fn amount(op: &Op) -> Result<i128, CheckerResult> {
        match op.value.as_i64() {
            Some(a) => Ok(i128::from(a)),
            _ => Err(CheckerResult::unknown(format!(
                "op {}: a counter add must carry an integer, got {}",
                op.index, op.value
            ))),
        }
    }

    /// Takes a client invocation; `failed`: its call ended `fail`.
    pub fn invoke(&mut self, op: &Op, failed: bool) {
        if self.malformed.is_some() {
            return;
        }
        match op.f.as_str() {
            "read" => {
                self.pending.insert(op.process, self.sums);
            }
            "add" if !failed => match Self::amount(op) {
                Ok(a) if a >= 0 => self.sums.positive_possible += a,
                Ok(a) => self.sums.negative_possible += a,
                Err(r) => self.malformed = Some(r),
            },
            _ => {}
        }
    }

    /// Takes a client completion, whose invocation has history index `invoke_index`.
    pub fn complete(&mut self, op: &Op, invoke_index: u64) {
        if self.malformed.is_some() || op.kind != OpType::Ok {
            return;
        }
        match op.f.as_str() {
            "read" => {
                let Some(at_invoke) = self.pending.remove(&op.process) else { return };
                let Some(value) = op.value.as_i64() else {
                    self.malformed = Some(CheckerResult::unknown(format!(
                        "op {}: a counter read must return an integer, got {}",
                        op.index, op.value
                    )));
                    return;
                };
                self.reads += 1;
                // Lowest: the adds certain before the read began, and every decrement that
                // may have happened before it ended; highest, the other way round.
                let sums = self.sums;
                let low = self.initial + at_invoke.positive_certain + sums.negative_possible;
                let upper = self.initial + sums.positive_possible + at_invoke.negative_certain;
                let value = i128::from(value);
                if value < low || value > upper {
                    self.error_count += 1;
                    if self.errors.len() < MAX_ANOMALIES {
                        self.errors.push(Anomaly {
                            kind: if value < low { "read-below-lower-bound" } else { "read-above-upper-bound" }.into(),
                            explanation: format!(
                                "process {} read {value}, but the counter was between {low} (acknowledged adds completed before the read began) and {upper} (every add that may have happened before it ended).",
                                op.process
                            ),
                            ops: vec![invoke_index, op.index],
                            witness: json!({ "lower": number(low), "value": number(value), "upper": number(upper) }),
                            ..Anomaly::default()
                        });
                    }
                }
            }
            "add" => match Self::amount(op) {
                Ok(a) if a >= 0 => self.sums.positive_certain += a,
                Ok(a) => self.sums.negative_certain += a,
                Err(r) => self.malformed = Some(r),
            },
            _ => {}
        }
    }

    /// Whether every read so far lay within its bounds.
    pub fn holds(&self) -> bool {
        self.malformed.is_none() && self.error_count == 0
    }

    /// The verdict.
    pub fn finish(self) -> CheckerResult {
        if let Some(r) = self.malformed {
            return r;
        }
        let lower = self.initial + self.sums.positive_certain + self.sums.negative_possible;
        let upper = self.initial + self.sums.positive_possible + self.sums.negative_certain;
        let details = json!({
            "read-count": self.reads,
            "error-count": self.error_count,
            "final-bounds": [number(lower), number(upper)],
        });
        if self.errors.is_empty() {
            let mut r = CheckerResult::valid().with_details(details);
            if self.reads == 0 {
                // Jepsen's verdict (elle-cli's counter.edn has no read and is valid), and the
                // bank checker's: without a read nothing contradicts the adds, and the reason
                // says so.
                r.reason = Some(NO_READ.into());
            }
            r
        } else {
            CheckerResult::invalid(self.errors).with_details(details)
        }
    }
}

/// A sum as JSON: a number where JSON's integers reach, its exact digits as a string beyond.
pub(crate) fn number(n: i128) -> serde_json::Value {
    match (i64::try_from(n), u64::try_from(n)) {
        (Ok(i), _) => i.into(),
        (_, Ok(u)) => u.into(),
        _ => n.to_string().into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Strictness;
    use crate::verdict::Validity;

    fn history(ops: &[(u64, OpType, &str, serde_json::Value)]) -> History {
        let ops = ops
            .iter()
            .enumerate()
            .map(|(i, (p, kind, f, v))| Op::client(i as u64, i as u64, *p, *kind, f, v.clone()))
            .collect();
        History::new(ops, Strictness::Strict).unwrap()
    }

    #[test]
    fn a_read_below_two_acknowledged_maximal_adds_is_invalid_not_wrapped() {
        let max = json!(i64::MAX);
        let h = history(&[
            (0, OpType::Invoke, "add", max.clone()),
            (0, OpType::Ok, "add", max.clone()),
            (1, OpType::Invoke, "add", max.clone()),
            (1, OpType::Ok, "add", max),
            (2, OpType::Invoke, "read", json!(null)),
            (2, OpType::Ok, "read", json!(-2)),
        ]);
        let r = check(&h, &CounterSettings::default());
        assert_eq!(r.valid, Validity::Invalid, "{r:?}");
        assert_eq!(r.anomalies[0].kind, "read-below-lower-bound");
        assert_eq!(r.anomalies[0].witness["lower"], json!(u64::MAX - 1));
    }

    #[test]
    fn a_history_without_a_read_is_valid_with_the_reason_the_bank_gives() {
        let h = history(&[(0, OpType::Invoke, "add", json!(1)), (0, OpType::Ok, "add", json!(1))]);
        let r = check(&h, &CounterSettings::default());
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.reason.as_deref(), Some(NO_READ));
        let b = crate::bank::check(&h, &Default::default());
        assert_eq!((b.valid, b.reason.as_deref()), (Validity::Valid, Some(NO_READ)));
    }

    #[test]
    fn writes_sums_beyond_json_integers_as_exact_digits() {
        assert_eq!(number(i128::from(i64::MIN) - 1), json!("-9223372036854775809"));
        assert_eq!(number(-5), json!(-5));
    }
}
