//! Latency and availability of one stored run, read through the same run-folder reader
//! and analysis the run's own report uses, so the comparison page and `report.html` agree.

use super::record::RunMetrics;
use crate::analysis::Analysis;
use crate::run_folder;
use std::path::Path;

/// Reads `run_dir`'s history and computes its [`RunMetrics`]; `None` when the folder
/// cannot be read or holds no client call.
pub fn of_run(run_dir: &Path) -> Option<RunMetrics> {
    let (inputs, digested) = run_folder::load_streamed(run_dir).ok()?;
    let analysis = Analysis::of_loaded(digested, &inputs);
    let (calls, ok) = (analysis.counts.calls, analysis.counts.ok);
    if calls == 0 {
        return None;
    }
    let outside = analysis.outside_faults;
    let in_faults_calls = calls - outside.calls;
    let in_faults_ok = ok - outside.ok.min(ok);
    let all = analysis.perf.by_function.iter().find(|(f, _)| f.is_none()).map(|(_, q)| *q);
    Some(RunMetrics {
        calls,
        availability_in_faults: (in_faults_calls > 0).then(|| in_faults_ok as f64 / in_faults_calls as f64),
        availability: Some(ok as f64 / calls as f64),
        p50_ms: all.filter(|q| q.n > 0).map(|q| q.p50),
        p99_ms: all.filter(|q| q.n > 0).map(|q| q.p99),
    })
}
