//! Chooses the checkers a history is judged by and composes their results into
//! `results.json`. The workload decides which checkers apply; `sunder run` and `sunder
//! check` both come here, so a stored run re-checked later gets the same verdict.

use serde_json::Value;
use std::collections::BTreeMap;
use sunder_check::history::History;
use sunder_check::verdict::{CheckerResult, Results, Validity};

/// Judges a register/kv history: stats, and the register checkers.
pub fn register(history: &History) -> Results {
    let stats = sunder_check::stats::check(history);
    let mut checkers = BTreeMap::new();
    let models: Vec<(String, Validity)> = Vec::new();
    checkers.insert(
        "linearizable".to_string(),
        CheckerResult::unknown("the linearizability checker is not part of this build yet"),
    );
    let stats_details = stats.details.clone();
    checkers.insert("stats".to_string(), stats);
    Results::compose(checkers, models, stats_details)
}

/// Judges a history by workload name.
pub fn by_workload(workload: &str, history: &History) -> Results {
    match workload {
        "register" => register(history),
        other => {
            let mut checkers = BTreeMap::new();
            checkers.insert(
                other.to_string(),
                CheckerResult::unknown(format!("no checker for workload {other}")),
            );
            Results::compose(checkers, vec![], Value::Null)
        }
    }
}

/// One line for the terminal: the verdict, and why when it is not valid.
pub fn summary(results: &Results) -> String {
    let mut s = format!("verdict: {}", results.valid.as_str());
    if let Some(r) = &results.reason {
        s += &format!(" ({r})");
    }
    if !results.anomalies.is_empty() {
        s += &format!("; {} anomalies, first: {}", results.anomalies.len(), results.anomalies[0].explanation);
    }
    s
}
