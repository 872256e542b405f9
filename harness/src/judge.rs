//! The harness's side of judging: what a history is judged by when the user names no
//! checker, and the one-line verdict for the terminal. The judging itself is
//! [`sunder_check::plan::judge`]; a run's plan comes from its workload
//! ([`sunder_workloads::Workload::plan`]), so `sunder run` and `sunder check RUN_FOLDER` judge
//! a run alike and nothing here names a workload.

use anyhow::{Context, Result, anyhow};
use std::collections::BTreeMap;
use sunder_check::plan::Plan;
use sunder_check::verdict::Results;
use sunder_workloads::Workload;

pub use sunder_check::plan::{Limits, judge, judge_knowing};

/// Builds workload `name` with its `-w` options from the catalog.
pub fn workload(name: &str, options: &BTreeMap<String, String>) -> Result<Box<dyn Workload>> {
    let spec = sunder_workloads::catalog::find(name).ok_or_else(|| {
        anyhow!("unknown workload {name:?}; known: {}", sunder_workloads::catalog::names().join(", "))
    })?;
    spec.instantiate(options).map_err(anyhow::Error::from).context("-w")
}

/// The plan a stored run's workload judges it by.
pub fn plan_for_run(workload_name: &str, options: &BTreeMap<String, String>) -> Result<Plan> {
    Ok(workload(workload_name, options)?.plan())
}

/// One line for the terminal: the verdict, and why when it is not valid.
pub fn summary(results: &Results) -> String {
    let mut s = format!("verdict: {}", results.valid.as_str());
    if let Some(r) = &results.reason {
        s += &format!(" ({r})");
    }
    if let Some(m) = &results.strongest_held {
        s += &format!("; strongest model held: {m}");
    }
    if let Some(m) = &results.weakest_failed {
        s += &format!("; weakest model failed: {m}");
    }
    if let Some(first) = results.anomalies.first() {
        let name = sunder_check::anomaly_names::describe(&first.kind).name;
        s += &format!(
            "; {} distinct anomalies, first ({}, {name}): {}",
            results.anomaly_counts.distinct.max(results.anomalies.len() as u64),
            first.checker(),
            first.explanation
        );
    }
    s
}
