//! `sunder-report`: turns a run folder into what people and CI read. [`render_run`] writes
//! `report.html` (one self-contained page: verdict, model ladder, anomalies with their
//! witnesses drawn, latency/throughput with fault windows shaded, availability per fault
//! window, the paged timeline, links to logs), `junit.xml` and `summary.md`;
//! [`serve::router`] serves a store of run folders over HTTP; [`compare::render`] draws a
//! suite's `compare.html`, the consistency map of many runs.
//!
//! Layout: [`run_folder`] reads the inputs tolerantly (with [`test_info`] for `test.json`
//! and [`status_samples`] for the nodes' sampled `/status`); [`digest`] reads the history
//! op by op in bounded memory through [`faults`], [`latency`] (with [`latency_histogram`])
//! and [`timeline`]'s builder, and [`history_stream`] feeds it a stored history chunk by
//! chunk, keeping only what the witnesses draw; [`calls`] pairs the ops a witness draws, and [`analysis`]
//! holds their results for one render; [`plots`], [`witness`] and [`timeline`] draw; [`page`], [`junit`] and
//! [`summary`] assemble the three files, both opening with [`story`]'s paragraph; [`escape`] is the one escaping function every
//! untrusted value passes through, and [`packed`] shrinks a large data block; [`error`] says why a render could not start or be
//! written; [`synthetic`] makes seeded run folders for tests and benchmarks.

#![warn(missing_docs)]

pub mod analysis;
pub mod calls;
pub mod compare;
pub mod digest;
pub mod error;
pub mod escape;
pub mod faults;
pub mod history_stream;
pub mod junit;
pub mod latency;
pub mod latency_histogram;
pub mod packed;
pub mod page;
pub mod plots;
pub mod run_folder;
pub mod serve;
pub mod status_samples;
pub mod story;
pub mod summary;
pub mod synthetic;
pub mod test_info;
pub mod timeline;
pub mod witness;

pub use compare::record::{CellRecord, SuiteRecord};
pub use error::ReportError;

use std::io::Write;
use std::path::{Path, PathBuf};
use sunder_check::verdict::Validity;

/// What [`render_run`] wrote and what it found.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderSummary {
    /// Path of `report.html`.
    pub report: PathBuf,
    /// Path of `junit.xml`.
    pub junit: PathBuf,
    /// Path of `summary.md`.
    pub summary: PathBuf,
    /// The run's verdict, when `results.json` was readable.
    pub verdict: Option<Validity>,
    /// Ops read from the history (salvaged ones included).
    pub ops: usize,
    /// Anomalies in the results.
    pub anomalies: usize,
    /// Size of `report.html` in bytes.
    pub report_bytes: u64,
    /// Inputs that were missing or broken, in plain words; the report shows them too.
    pub problems: Vec<String>,
}

/// Renders a run folder: reads `test.json`, `history.jsonl`, `results.json` and the node
/// logs, and writes `report.html`, `junit.xml` and `summary.md` into it. Missing or broken
/// inputs are rendered around and listed in [`RenderSummary::problems`]; only an unreadable
/// folder or a failed write is an error.
///
/// A valid history is streamed ([`history_stream`]): only its digest and the calls the
/// witnesses draw are held, so a run of any length renders in bounded memory.
pub fn render_run(run_dir: &Path) -> Result<RenderSummary, ReportError> {
    let (inputs, digested) = run_folder::load_streamed(run_dir)?;
    let analysis = analysis::Analysis::of_loaded(digested, &inputs);
    render_analysed(inputs, analysis, run_dir)
}

/// Renders a run folder as [`render_run`] does, from the ops of its history that the caller
/// has already read and validated (they must be the folder's `history.jsonl`).
pub fn render_run_with_ops(
    run_dir: &Path,
    ops: Vec<sunder_check::history::Op>,
) -> Result<RenderSummary, ReportError> {
    let (inputs, digested) = run_folder::load_with_ops_digested(run_dir, ops)?;
    let analysis = analysis::Analysis::of_loaded(digested, &inputs);
    render_analysed(inputs, analysis, run_dir)
}

/// Renders a bare history file (Sunder JSONL) into `out_dir`, taking `test.json`,
/// `results.json` and node logs from `out_dir` when they are there. For `sunder report` on
/// a history that is not in a run folder.
pub fn render_history(history: &Path, out_dir: &Path) -> Result<RenderSummary, ReportError> {
    render_inputs(run_folder::load_with_history(out_dir, history)?, out_dir)
}

/// Renders a run folder from the digest of its history, gathered while `history.jsonl` was
/// written ([`digest::Digest`]), so a run of any length is reported without reading its
/// history back. `ops` are the history's ops when they are at hand (read back to be judged
/// offline), for the anomalies' witnesses; without them (empty) anomalies are described but
/// their witnesses not drawn, so `sunder run` passes none only for a run found valid.
pub fn render_run_with_digest(
    run_dir: &Path,
    digested: digest::Digested,
    ops: Vec<sunder_check::history::Op>,
) -> Result<RenderSummary, ReportError> {
    let inputs = run_folder::load_with_ops(run_dir, ops)?;
    let analysis = analysis::Analysis::from_digested(digested, &inputs);
    render_analysed(inputs, analysis, run_dir)
}

fn render_inputs(inputs: run_folder::RunInputs, run_dir: &Path) -> Result<RenderSummary, ReportError> {
    let analysis = analysis::Analysis::of(&inputs);
    render_analysed(inputs, analysis, run_dir)
}

fn render_analysed(
    inputs: run_folder::RunInputs,
    analysis: analysis::Analysis,
    run_dir: &Path,
) -> Result<RenderSummary, ReportError> {
    let html = page::render(&inputs, &analysis);
    let report = run_dir.join("report.html");
    write_durably(&report, html.as_bytes())?;
    let junit = run_dir.join("junit.xml");
    write_durably(&junit, junit::render(&inputs).as_bytes())?;
    let summary = run_dir.join("summary.md");
    write_durably(&summary, summary::render(&inputs, &analysis).as_bytes())?;
    Ok(RenderSummary {
        report,
        junit,
        summary,
        verdict: inputs.results.as_ref().map(|r| r.valid),
        ops: analysis.counts.ops as usize,
        anomalies: page::anomalies_of(&inputs).len(),
        report_bytes: html.len() as u64,
        problems: inputs.problems,
    })
}

/// Writes a file through a temporary sibling, fsyncs it and renames it into place, so a
/// reader (e.g. `serve`) never sees half a report.
fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        ReportError::io(path, e)
    })
}
