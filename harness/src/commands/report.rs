//! `sunder report PATH`: (re)renders `report.html`, `junit.xml` and `summary.md` for a run
//! folder, or for a bare history file. `run` and `check` call [`render`] too, so a run
//! folder's report always matches its `results.json`.

use crate::cli::ReportArgs;
use crate::runlog::RunLog;
use anyhow::{Context, Result};
use std::path::Path;

/// Renders and prints where the report went; exit code 0.
pub fn run(args: ReportArgs) -> Result<u8> {
    let summary = if args.path.is_dir() {
        sunder_report::render_run(&args.path)?
    } else {
        let out = match &args.out {
            Some(o) => o.clone(),
            None => args.path.parent().map(Path::to_path_buf).unwrap_or_else(|| ".".into()),
        };
        std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
        sunder_report::render_history(&args.path, &out)?
    };
    for p in &summary.problems {
        eprintln!("sunder: report: {p}");
    }
    println!("{}", summary.report.display());
    Ok(0)
}

/// Renders a run folder after a run whose history was digested as it was written (so
/// nothing holds it whole), with the ops the witnesses need if the history was read back;
/// a failure is logged, not fatal, as for [`render`].
pub fn render_digested(
    run_dir: &Path,
    digested: sunder_report::digest::Digested,
    ops: Vec<sunder_check::history::Op>,
    log: &RunLog,
) {
    log_rendered(sunder_report::render_run_with_digest(run_dir, digested, ops), log);
}

/// Renders a run folder after a run or a re-check, from the ops of its history the caller
/// holds (so the history is not read twice); a failure is logged, not fatal: the verdict and
/// `results.json` stand without the report.
pub fn render(run_dir: &Path, ops: Vec<sunder_check::history::Op>, log: &RunLog) {
    log_rendered(sunder_report::render_run_with_ops(run_dir, ops), log);
}

fn log_rendered(rendered: Result<sunder_report::RenderSummary, sunder_report::ReportError>, log: &RunLog) {
    match rendered {
        Ok(s) => {
            for p in &s.problems {
                log.info(format!("report: {p}"));
            }
            log.info(format!("report: {}", s.report.display()));
        }
        Err(e) => log.info(format!("report could not be rendered: {e}")),
    }
}
