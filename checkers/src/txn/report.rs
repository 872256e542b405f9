//! From findings to the report: each judged model's verdict (failed when an anomaly rules
//! it out, held when every search it needs finished, unknown otherwise), the anomalies that
//! make the verdict (a few witnesses per kind), and the counts that go in `details`.

use super::TxnReport;
use super::anomaly::Found;
use super::cycles::Decided;
use super::models;
use super::transactions::Transactions;
use crate::verdict::{Anomaly, CheckerResult, Validity};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// At most this many anomalies of one kind are reported; the rest are counted.
const WITNESSES_PER_KIND: usize = 8;

/// What one check found.
pub(crate) struct Run<'a> {
    /// The transactions, for history indices.
    pub tx: &'a Transactions,
    /// Models to judge.
    pub judged: &'a [String],
    /// Every anomaly found, direct and cyclic.
    pub found: Vec<Found>,
    /// Which searches finished; `None` when inference did not.
    pub decided: Option<Decided>,
    /// Why the check stopped early, if it did.
    pub stopped: Option<String>,
    /// Counts and timings for `details` (a JSON object).
    pub stats: Value,
}

/// Builds the report of a run.
pub(crate) fn assemble(run: Run<'_>) -> TxnReport {
    let judged = |m: &str| run.judged.iter().any(|j| j == m);
    let failed: BTreeSet<&str> = run.found.iter().flat_map(|f| models::ruled_out_by(&f.kind)).collect();
    let verdicts: Vec<(String, Validity)> = models::MODELS
        .iter()
        .filter(|m| judged(m))
        .map(|&m| {
            let v = if failed.contains(m) {
                Validity::Invalid
            } else if run.decided.is_some_and(|d| models::decided(m, &d)) {
                Validity::Valid
            } else {
                Validity::Unknown
            };
            (m.to_string(), v)
        })
        .collect();

    let relevant = |f: &Found| models::ruled_out_by(&f.kind).iter().any(|m| judged(m));
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for f in &run.found {
        *counts.entry(f.kind.clone()).or_default() += 1;
    }
    let ruled_out: BTreeMap<&str, Vec<&str>> =
        counts.keys().map(|k| (k.as_str(), models::ruled_out_by(k))).collect();
    let not_judged: BTreeSet<&str> =
        run.found.iter().filter(|f| !relevant(f)).map(|f| f.kind.as_str()).collect();
    // A broken system can produce thousands of one kind; a few witnesses each say enough,
    // and `anomaly_counts` keeps the totals.
    let mut shown: BTreeMap<&str, usize> = BTreeMap::new();
    let anomalies: Vec<Anomaly> = run
        .found
        .iter()
        .filter(|f| relevant(f))
        .filter(|f| {
            let n = shown.entry(f.kind.as_str()).or_default();
            *n += 1;
            *n <= WITNESSES_PER_KIND
        })
        .map(|f| {
            let mut ops: Vec<u64> = f.txns.iter().map(|&t| run.tx.txns[t as usize].index).collect();
            ops.sort_unstable();
            ops.dedup();
            Anomaly {
                kind: f.kind.clone(),
                explanation: f.explanation.clone(),
                ops,
                witness: f.witness.clone(),
                ..Anomaly::default()
            }
        })
        .collect();

    let mut details = run.stats;
    details["anomaly_counts"] = serde_json::to_value(&counts).unwrap_or_default();
    details["ruled_out_by"] = serde_json::to_value(&ruled_out).unwrap_or_default();
    details["not_judged"] = serde_json::to_value(&not_judged).unwrap_or_default();
    let any_unknown = verdicts.iter().any(|(_, v)| *v == Validity::Unknown);
    let mut result = if !anomalies.is_empty() {
        CheckerResult::invalid(anomalies)
    } else if any_unknown {
        CheckerResult::unknown(run.stopped.clone().unwrap_or_else(|| "a search did not finish".into()))
    } else {
        CheckerResult::valid()
    };
    // An invalid verdict stands on its witnesses; say what was left unsearched anyway.
    if result.valid != Validity::Unknown && any_unknown {
        result.reason = run.stopped;
    }
    TxnReport { result: result.with_details(details), models: verdicts }
}
