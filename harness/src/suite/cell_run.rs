//! Runs one cell as a child `sunder run` (this same executable): one harness process
//! enters one run's control namespace, so cells cannot share a process. The child writes an
//! ordinary run folder; this reads its `results.json` through `sunder_check::verdict` and its
//! history through `sunder_report`, and turns both into the cell's record.

use super::expectation::{Finding, assess};
use super::matrix::Cell;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;
use sunder_check::verdict::{Results, Validity};
use sunder_report::compare::record::{CellRecord, Outcome};

/// Where a cell runs: the executable, the store, and a folder for the child's stderr.
#[derive(Debug, Clone)]
pub struct CellEnv {
    /// The `sunder` binary to start.
    pub exe: PathBuf,
    /// The store every run folder goes into.
    pub store: PathBuf,
    /// `cells/` of the suite folder: one `<n>.stderr` per cell that printed anything.
    pub log_dir: PathBuf,
}

/// Runs `cell` (number `n`, 1-based) to the end and records what it found.
pub fn run(env: &CellEnv, n: usize, cell: &Cell) -> CellRecord {
    let test_dir = env.store.join(&cell.test_name);
    let before = sub_dirs(&test_dir);
    let start = Instant::now();
    let out = Command::new(&env.exe).args(cell.run_args(&env.store)).stdin(Stdio::null()).output();
    let wall_s = start.elapsed().as_secs_f64();
    let run_dir = sub_dirs(&test_dir).difference(&before).max().cloned();
    let (code, stderr) = match &out {
        Ok(o) => (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned()),
        Err(e) => (None, format!("cannot start {}: {e}", env.exe.display())),
    };
    if !stderr.trim().is_empty() {
        let _ = std::fs::write(env.log_dir.join(format!("{n:03}.stderr")), &stderr);
    }
    let results = run_dir.as_ref().and_then(|d| read_results(d).ok());
    let finding = match (code, &results) {
        (Some(0..=2), Some(r)) => Finding::Judged {
            verdict: r.valid,
            reason: r.reason.clone(),
            models: r.models.clone().into_iter().collect(),
            witness: r.anomalies.first().map(|a| a.explanation.clone()),
        },
        _ => Finding::HarnessFailed(failure_text(code, &stderr)),
    };
    let (outcome, why) = assess(cell, &finding);
    let verdict = match &finding {
        Finding::Judged { verdict, .. } => verdict.as_str(),
        Finding::HarnessFailed(_) => "error",
    };
    record(cell, outcome, why, verdict, code, wall_s, run_dir, results, &env.store)
}

/// The record of a cell that was never started (`--fail-fast`).
pub fn not_run(cell: &Cell) -> CellRecord {
    let why = "not run: an earlier cell failed and --fail-fast stopped the suite".to_string();
    record(cell, Outcome::Skipped, why, "not-run", None, 0.0, None, None, Path::new(""))
}

#[allow(clippy::too_many_arguments)] // one record's fields, gathered in one place
fn record(
    cell: &Cell,
    outcome: Outcome,
    why: String,
    verdict: &str,
    exit_code: Option<i32>,
    wall_s: f64,
    run_dir: Option<PathBuf>,
    results: Option<Results>,
    store: &Path,
) -> CellRecord {
    let metrics = run_dir.as_deref().and_then(sunder_report::compare::metrics::of_run);
    let (models, checkers, strongest_held, witness, anomaly_kinds) = match results {
        Some(r) => {
            let mut kinds: Vec<String> = r.anomalies.iter().map(|a| a.kind.clone()).collect();
            kinds.sort();
            kinds.dedup();
            let checkers = r
                .checkers
                .iter()
                .filter(|(_, c)| !c.not_applicable)
                .map(|(k, c)| (k.clone(), c.valid))
                .collect();
            let witness = (r.valid == Validity::Invalid)
                .then(|| r.anomalies.first().map(|a| a.explanation.clone()))
                .flatten();
            (r.models, checkers, r.strongest_held, witness, kinds)
        }
        None => Default::default(),
    };
    CellRecord {
        id: cell.id.clone(),
        row: cell.row.clone(),
        system: cell.system.clone(),
        options: cell.options.clone(),
        workload: cell.workload.clone(),
        workload_options: cell.workload_options.clone(),
        nemesis: cell.nemesis.clone(),
        seed: cell.seed,
        repetition: cell.repetition,
        expect: cell.expect.as_str().to_string(),
        expect_models: cell.expect_models.clone(),
        expect_why: cell.why.clone(),
        verdict: verdict.to_string(),
        outcome,
        why,
        run: run_dir.and_then(|d| d.strip_prefix(store).ok().map(|p| p.display().to_string())),
        exit_code,
        wall_s,
        models,
        checkers,
        strongest_held,
        witness,
        anomaly_kinds,
        metrics,
    }
}

fn read_results(dir: &Path) -> anyhow::Result<Results> {
    let text = std::fs::read_to_string(dir.join("results.json"))?;
    Ok(serde_json::from_str(&text)?)
}

/// The child's first error line (else its last line), or its exit status when it said
/// nothing.
fn failure_text(code: Option<i32>, stderr: &str) -> String {
    let error =
        stderr.lines().map(str::trim).find(|l| l.starts_with("error:") || l.starts_with("sunder: error:"));
    let last = error.or_else(|| stderr.lines().rev().find(|l| !l.trim().is_empty()).map(str::trim));
    match (code, last) {
        (_, Some(line)) => line.to_string(),
        (Some(c), None) => format!("sunder run exited {c} without results"),
        (None, None) => "sunder run was killed by a signal".to_string(),
    }
}

fn sub_dirs(p: &Path) -> BTreeSet<PathBuf> {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())).map(|e| e.path()).collect()
        })
        .unwrap_or_default()
}
