//! The unique-ids invariant, with Jepsen's semantics: every `ok` `generate` returns an id
//! no other `ok` generate returned.

use crate::history::{History, OpType};
use crate::ladder::register::ValueKey;
use crate::verdict::{Anomaly, CheckerResult};
use rustc_hash::FxHashMap;
use serde_json::{Value, json};

/// At most this many duplicated ids are listed as anomalies; details count them all.
pub const MAX_ANOMALIES: usize = 20;

/// What the unique-ids checker expects.
#[derive(Debug, Clone)]
pub struct UniqueIdsSettings {
    /// The function name of id generation ops.
    pub f: String,
}

impl Default for UniqueIdsSettings {
    fn default() -> UniqueIdsSettings {
        UniqueIdsSettings { f: "generate".to_string() }
    }
}

/// Checks that acknowledged ids are distinct.
pub fn check(history: &History, settings: &UniqueIdsSettings) -> CheckerResult {
    let mut attempted = 0usize;
    let mut acknowledged = 0usize;
    let mut seen: FxHashMap<ValueKey, (Value, Vec<u64>)> = FxHashMap::default();
    let mut range: Option<(i64, i64)> = None;
    for op in history.ops().iter().filter(|op| !op.is_nemesis() && op.f == settings.f) {
        match op.kind {
            OpType::Invoke => attempted += 1,
            OpType::Ok => {
                acknowledged += 1;
                if let Some(i) = op.value.as_i64() {
                    range = Some(range.map_or((i, i), |(lo, hi)| (lo.min(i), hi.max(i))));
                }
                seen.entry(ValueKey::of(&op.value))
                    .or_insert_with(|| (op.value.clone(), Vec::new()))
                    .1
                    .push(op.index);
            }
            _ => {}
        }
    }
    let mut dups: Vec<&(Value, Vec<u64>)> = seen.values().filter(|(_, at)| at.len() > 1).collect();
    dups.sort_by_key(|(_, at)| at[0]);
    let details = json!({
        "attempted-count": attempted,
        "acknowledged-count": acknowledged,
        "duplicated-count": dups.len(),
        "range": range.map(|(lo, hi)| json!([lo, hi])),
    });
    if dups.is_empty() {
        if acknowledged == 0 {
            return CheckerResult::unknown(format!("no {} op succeeded, so no id was checked", settings.f))
                .with_details(details);
        }
        return CheckerResult::valid().with_details(details);
    }
    let anomalies = dups
        .iter()
        .take(MAX_ANOMALIES)
        .map(|(v, at)| Anomaly {
            kind: "duplicated-id".into(),
            explanation: format!("id {v} was returned {} times (ops {at:?}).", at.len()),
            ops: at.clone(),
            witness: Value::Null,
            ..Anomaly::default()
        })
        .collect();
    CheckerResult::invalid(anomalies).with_details(details)
}
