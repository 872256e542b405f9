//! The bank invariant, with Jepsen's semantics: clients transfer money between accounts
//! and read every balance at once; every `ok` read must show exactly the expected accounts,
//! no `null` balance, balances summing to the total, and (unless allowed) no negative
//! balance. Transfers are not judged: only what reads saw. The accounts and total come
//! from the run's settings; for a bare history file they are taken from the first `ok`
//! read, and the result's `reason` says so.

use crate::history::{History, OpType};
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
    let reads: Vec<usize> = history
        .ops()
        .iter()
        .enumerate()
        .filter(|(_, op)| !op.is_nemesis() && op.kind == OpType::Ok && op.f == "read")
        .map(|(i, _)| i)
        .collect();
    let mut balances_of = Vec::with_capacity(reads.len());
    for &i in &reads {
        let op = &history.ops()[i];
        match parse_balances(&op.value) {
            Some(b) => balances_of.push(b),
            None => {
                return CheckerResult::unknown(format!(
                    "op {}: a bank read must return a map of account to balance, got {}",
                    op.index, op.value
                ));
            }
        }
    }
    let mut notes = Vec::new();
    let derived_from = reads.first().map(|&i| history.ops()[i].index);
    let accounts: BTreeSet<String> = match (&settings.accounts, balances_of.first()) {
        (Some(a), _) => a.iter().cloned().collect(),
        (None, Some(first)) => {
            notes.push("accounts");
            first.keys().cloned().collect()
        }
        (None, None) => {
            return CheckerResult::unknown("the history has no ok read, so no balance was checked");
        }
    };
    let total = match (settings.total, balances_of.first()) {
        (Some(t), _) => t,
        (None, Some(first)) => {
            notes.push("total");
            first.values().map(|v| v.unwrap_or(0)).sum()
        }
        (None, None) => {
            return CheckerResult::unknown("the history has no ok read, so no balance was checked");
        }
    };
    let mut by_kind: BTreeMap<&'static str, Vec<Anomaly>> = BTreeMap::new();
    for (&i, balances) in reads.iter().zip(&balances_of) {
        let op = &history.ops()[i];
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
        let sum: i64 = balances.values().map(|v| v.unwrap_or(0)).sum();
        if sum != total {
            errors.push(("wrong-total", format!("balances summing to {sum} instead of {total}")));
        }
        let negative: Vec<String> = balances
            .iter()
            .filter(|(_, v)| v.is_some_and(|v| v < 0))
            .map(|(k, v)| format!("{k}={}", v.unwrap()))
            .collect();
        if !negative.is_empty() && !settings.negative_balances_allowed {
            errors.push(("negative-balance", format!("negative balances {}", negative.join(", "))));
        }
        for (kind, what) in errors {
            by_kind.entry(kind).or_default().push(Anomaly {
                kind: kind.to_string(),
                explanation: format!("process {} read {what}.", op.process),
                ops: vec![op.index],
                witness: Value::Null,
            });
        }
    }
    let counts: BTreeMap<&str, usize> = by_kind.iter().map(|(k, v)| (*k, v.len())).collect();
    let details = json!({
        "read-count": reads.len(),
        "accounts": accounts,
        "total": total,
        "error-counts": counts,
    });
    let reason = (!notes.is_empty()).then(|| {
        format!(
            "the {} came from the first ok read (op {}), not from the run's settings",
            notes.join(" and "),
            derived_from.unwrap_or_default()
        )
    });
    let mut result = if by_kind.is_empty() {
        CheckerResult::valid()
    } else {
        CheckerResult::invalid(by_kind.into_values().flat_map(|v| v.into_iter().take(MAX_PER_KIND)).collect())
    };
    result.reason = reason;
    result.with_details(details)
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
