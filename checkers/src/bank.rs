//! The bank invariant, with Jepsen's semantics: clients transfer money between accounts
//! and read every balance at once; every `ok` read must show exactly the expected accounts,
//! no `null` balance, balances summing to the total, and (unless allowed) no negative
//! balance. Transfers are not judged: only what reads saw. The accounts and total come
//! from the run's settings; for a bare history file they are taken from the first `ok`
//! read, and the result's `reason` says so. Balances are summed in `i128`, so balances at
//! the ends of `i64` cannot wrap into a right-looking total.

use crate::history::{History, Op, OpType};
use crate::verdict::{Anomaly, CheckerResult};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// At most this many anomalies are listed per kind of error; details count them all.
pub const MAX_PER_KIND: usize = 5;

/// What the bank checker expects.
#[derive(Debug, Clone, Default)]
pub struct BankSettings {
    /// The accounts every read must show; `None`: those of the first ok read.
    pub accounts: Option<Vec<String>>,
    /// The sum every read must show; `None`: that of the first ok read.
    pub total: Option<i64>,
    /// When true, negative balances are not an error.
    pub negative_balances_allowed: bool,
}

/// Checks every `ok` read of a bank history.
pub fn check(history: &History, settings: &BankSettings) -> CheckerResult {
    let mut check = BankCheck::new(settings);
    for op in history.ops() {
        check.op(op);
    }
    check.finish()
}

/// The bank checker fed op by op: each `ok` read is judged as it comes, so a run's history
/// can be checked while it is written (`crate::live`), in memory that does not grow with it.
#[derive(Debug, Clone)]
pub struct BankCheck {
    negative_balances_allowed: bool,
    /// The accounts and total every read must show, once known (from the settings, or
    /// from the first ok read).
    accounts: Option<BTreeSet<String>>,
    total: Option<i128>,
    /// What came from the first ok read rather than the settings, and that read's index.
    notes: Vec<&'static str>,
    derived_from: Option<u64>,
    reads: usize,
    /// Errors counted by kind, and the first few of each listed.
    counts: BTreeMap<&'static str, usize>,
    listed: BTreeMap<&'static str, Vec<Anomaly>>,
    /// A read that is not a map of balances: the verdict is unknown.
    malformed: Option<String>,
}

impl BankCheck {
    /// A check against `settings`.
    pub fn new(settings: &BankSettings) -> BankCheck {
        BankCheck {
            negative_balances_allowed: settings.negative_balances_allowed,
            accounts: settings.accounts.as_ref().map(|a| a.iter().cloned().collect()),
            total: settings.total.map(i128::from),
            notes: vec![],
            derived_from: None,
            reads: 0,
            counts: BTreeMap::new(),
            listed: BTreeMap::new(),
            malformed: None,
        }
    }

    /// Takes the next op of the history.
    pub fn op(&mut self, op: &Op) {
        if self.malformed.is_some() || op.is_nemesis() || op.kind != OpType::Ok || op.f != "read" {
            return;
        }
        let Some(balances) = parse_balances(&op.value) else {
            self.malformed = Some(format!(
                "op {}: a bank read must return a map of account to balance, got {}",
                op.index, op.value
            ));
            return;
        };
        self.reads += 1;
        if self.derived_from.is_none() {
            self.derived_from = Some(op.index);
            if self.accounts.is_none() {
                self.notes.push("accounts");
                self.accounts = Some(balances.keys().cloned().collect());
            }
            if self.total.is_none() {
                self.notes.push("total");
                self.total = Some(sum_of(&balances));
            }
        }
        let (Some(accounts), Some(total)) = (&self.accounts, self.total) else { return };
        let mut errors = Vec::new();
        let unexpected: Vec<&String> = balances.keys().filter(|k| !accounts.contains(*k)).collect();
        if !unexpected.is_empty() {
            errors.push((
                "unexpected-account",
                format!("accounts {unexpected:?}, which the bank does not have"),
            ));
        }
        let missing: Vec<&String> = accounts.iter().filter(|k| !balances.contains_key(*k)).collect();
        if !missing.is_empty() {
            errors.push(("missing-account", format!("no balance for accounts {missing:?}")));
        }
        let nils: Vec<&String> = balances.iter().filter(|(_, v)| v.is_none()).map(|(k, _)| k).collect();
        if !nils.is_empty() {
            errors.push(("nil-balance", format!("a null balance for accounts {nils:?}")));
        }
        let sum = sum_of(&balances);
        if sum != total {
            errors.push(("wrong-total", format!("balances summing to {sum} instead of {total}")));
        }
        let negative: Vec<String> = balances
            .iter()
            .filter(|(_, v)| v.is_some_and(|v| v < 0))
            .map(|(k, v)| format!("{k}={}", v.unwrap()))
            .collect();
        if !negative.is_empty() && !self.negative_balances_allowed {
            errors.push(("negative-balance", format!("negative balances {}", negative.join(", "))));
        }
        for (kind, what) in errors {
            *self.counts.entry(kind).or_default() += 1;
            let listed = self.listed.entry(kind).or_default();
            if listed.len() < MAX_PER_KIND {
                listed.push(Anomaly {
                    kind: kind.to_string(),
                    explanation: format!("process {} read {what}.", op.process),
                    ops: vec![op.index],
                    witness: Value::Null,
                    ..Anomaly::default()
                });
            }
        }
    }

    /// Whether every read so far kept the invariant.
    pub fn holds(&self) -> bool {
        self.malformed.is_none() && self.counts.is_empty()
    }

    /// The verdict.
    pub fn finish(self) -> CheckerResult {
        if let Some(why) = self.malformed {
            return CheckerResult::unknown(why);
        }
        let (Some(accounts), Some(total)) = (self.accounts, self.total) else { return no_read() };
        let details = json!({
            "read-count": self.reads,
            "accounts": accounts,
            "total": crate::counter::number(total),
            "error-counts": self.counts,
        });
        let reason = (!self.notes.is_empty()).then(|| {
            format!(
                "the {} came from the first ok read (op {}), not from the run's settings",
                self.notes.join(" and "),
                self.derived_from.unwrap_or_default()
            )
        });
        let mut result = if self.listed.is_empty() {
            CheckerResult::valid()
        } else {
            CheckerResult::invalid(self.listed.into_values().flatten().collect())
        };
        result.reason = reason;
        result.with_details(details)
    }
}

/// The verdict without an `ok` read: nothing seen, nothing contradicted. The counter
/// checker and Jepsen's bank checker say valid here too, and the reason says why.
fn no_read() -> CheckerResult {
    let mut r = CheckerResult::valid().with_details(json!({ "read-count": 0 }));
    r.reason = Some(crate::counter::NO_READ.into());
    r
}

/// The sum of a read's balances (a null balance counts 0; it is an error of its own).
fn sum_of(balances: &BTreeMap<String, Option<i64>>) -> i128 {
    balances.values().map(|v| i128::from(v.unwrap_or(0))).sum()
}

/// Account -> balance (`None` for null), or `None` when the value is not such a map. The
/// body of Sunder's `GET /accounts`, `{"balances": {...}}`, is accepted as well.
fn parse_balances(v: &Value) -> Option<BTreeMap<String, Option<i64>>> {
    let mut map = v.as_object()?;
    if map.len() == 1
        && let Some(inner) = map.get("balances").and_then(Value::as_object)
    {
        map = inner;
    }
    map.iter()
        .map(|(k, b)| match b {
            Value::Null => Some((k.clone(), None)),
            b => b.as_i64().map(|b| (k.clone(), Some(b))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Strictness;
    use crate::verdict::Validity;

    #[test]
    fn balances_at_the_ends_of_i64_do_not_wrap_into_the_total() {
        let read = |i: u64, kind, v: Value| Op::client(i, i, 0, kind, "read", v);
        let h = History::new(
            vec![
                read(0, OpType::Invoke, Value::Null),
                read(1, OpType::Ok, json!({"0": i64::MAX, "1": i64::MAX, "2": 3})),
            ],
            Strictness::Strict,
        )
        .unwrap();
        let settings = BankSettings { total: Some(1), ..Default::default() };
        let r = check(&h, &settings);
        assert_eq!(r.valid, Validity::Invalid, "{r:?}");
        assert_eq!(r.anomalies[0].kind, "wrong-total");
        assert!(r.anomalies[0].explanation.contains("summing to 18446744073709551617 instead of 1"));
    }
}
