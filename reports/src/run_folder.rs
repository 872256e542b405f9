//! Loads a run folder for rendering: `test.json`, `history.jsonl`, `results.json`, the
//! node logs under `nodes/*/log` and the status samples under `nodes/*/status.jsonl`
//! (written by the harness for systems that ask for a status timeline). A missing or broken input does not stop the report: what
//! can be read is kept, and each problem is recorded in plain words (with file and line) so
//! the report can say what it could not show.

use crate::digest::Digested;
use crate::error::ReportError;
use crate::test_info::TestInfo;
use rustc_hash::FxHashSet;
use serde_json::Value;
use std::path::{Path, PathBuf};
use sunder_check::history::{Op, read_jsonl};
use sunder_check::verdict::Results;

/// How far the history could be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryStatus {
    /// Read and validated with `read_jsonl`.
    Valid,
    /// Present but invalid: `ops` holds every line that parsed, unvalidated.
    Salvaged,
    /// No history file.
    Absent,
}

/// One node's log file, relative to the run folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeLog {
    /// The node's name (its folder under `nodes/`).
    pub node: String,
    /// Path relative to the run folder, e.g. `nodes/n1/log`.
    pub rel_path: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// Everything a report is drawn from.
#[derive(Debug, Clone)]
pub struct RunInputs {
    /// The run folder.
    pub dir: PathBuf,
    /// Settings from `test.json` (empty when absent or unreadable).
    pub test: TestInfo,
    /// The ops, validated or salvaged (see `history_status`); after a streamed read
    /// ([`load_streamed`]), only the calls the witnesses draw, in history order.
    pub ops: Vec<Op>,
    /// How the history was read.
    pub history_status: HistoryStatus,
    /// The checkers' results, when `results.json` was readable.
    pub results: Option<Results>,
    /// Node logs, sorted by node.
    pub node_logs: Vec<NodeLog>,
    /// Each node's sampled `/status`, sorted by node (empty when the run sampled none).
    pub status_timelines: Vec<crate::status_samples::NodeStatusTimeline>,
    /// Every problem met while reading, each naming its file.
    pub problems: Vec<String>,
}

/// Reads a run folder. Fails only when `dir` is not a readable folder.
pub fn load(dir: &Path) -> Result<RunInputs, ReportError> {
    load_with_history(dir, &dir.join("history.jsonl"))
}

/// Reads `test.json`, `results.json` and node logs from `dir`, and the history from
/// `history` (which may live elsewhere, e.g. a bare history file). Fails only when `dir`
/// is not a readable folder.
pub fn load_with_history(dir: &Path, history: &Path) -> Result<RunInputs, ReportError> {
    load_inputs(dir, |problems, _| load_history(history, problems))
}

/// Reads a run folder as [`load`] does, but streams a valid history through its digest
/// ([`crate::history_stream`]) instead of holding it: the inputs hold only the ops the
/// anomalies' witnesses draw, and the digest comes beside them. A history the stream
/// cannot take (missing, malformed, breaking a rule) is read whole as [`load`] reads it,
/// its problems named and its ops salvaged, and no digest comes back.
pub fn load_streamed(dir: &Path) -> Result<(RunInputs, Option<Digested>), ReportError> {
    let path = dir.join("history.jsonl");
    load_digested(dir, |wanted, problems| {
        crate::history_stream::digest_file(&path, wanted).ok_or_else(|| load_history(&path, problems))
    })
}

/// Reads `test.json`, `results.json` and node logs from `dir`, taking the ops of a history
/// the caller has already read and validated (`sunder check` and `sunder run` hold it), so
/// a long history is not parsed a second time for its report.
pub fn load_with_ops(dir: &Path, ops: Vec<Op>) -> Result<RunInputs, ReportError> {
    load_inputs(dir, |_, _| (ops, HistoryStatus::Valid))
}

/// As [`load_with_ops`], keeping of `ops` only the calls the witnesses draw, with the
/// digest of them all ([`crate::history_stream::digest_ops`]); every op when the digest
/// cannot take them (no digest then).
pub fn load_with_ops_digested(
    dir: &Path,
    ops: Vec<Op>,
) -> Result<(RunInputs, Option<Digested>), ReportError> {
    load_digested(dir, |wanted, _| {
        crate::history_stream::digest_ops(&ops, wanted).ok_or((ops, HistoryStatus::Valid))
    })
}

/// Loads `dir` with the history `digest` gives: the ops the witnesses of `results.json`
/// name (`wanted`) and the digest of them all, or, when it cannot, the history as read
/// instead (its problems noted) and no digest.
fn load_digested(
    dir: &Path,
    digest: impl FnOnce(
        &FxHashSet<u64>,
        &mut Vec<String>,
    ) -> Result<(Vec<Op>, Digested), (Vec<Op>, HistoryStatus)>,
) -> Result<(RunInputs, Option<Digested>), ReportError> {
    let mut digested = None;
    let inputs = load_inputs(dir, |problems, results| {
        let wanted = crate::history_stream::witness_indices(
            results.map(crate::page::anomalies_in).unwrap_or_default(),
        );
        match digest(&wanted, problems) {
            Ok((ops, d)) => {
                digested = Some(d);
                (ops, HistoryStatus::Valid)
            }
            Err(whole) => whole,
        }
    })?;
    Ok((inputs, digested))
}

fn load_inputs(
    dir: &Path,
    history: impl FnOnce(&mut Vec<String>, Option<&Results>) -> (Vec<Op>, HistoryStatus),
) -> Result<RunInputs, ReportError> {
    let meta = std::fs::metadata(dir).map_err(|e| ReportError::io(dir, e))?;
    if !meta.is_dir() {
        return Err(ReportError::NotARunFolder(dir.to_path_buf()));
    }
    let mut problems = vec![];
    let test = match read_json(&dir.join("test.json")) {
        Ok(Some(v)) => {
            if !v.is_object() {
                problems.push(format!("{}: not a JSON object", dir.join("test.json").display()));
            }
            TestInfo::from_value(&v)
        }
        Ok(None) => {
            problems.push("test.json is missing: the test's settings are unknown".to_string());
            TestInfo::default()
        }
        Err(p) => {
            problems.push(p);
            TestInfo::default()
        }
    };
    // The results are read first, for the ops their witnesses name, and their problems
    // listed after the history's, as the report has always listed them.
    let mut results_problems = vec![];
    let results_path = dir.join("results.json");
    let results = match read_json(&results_path) {
        Ok(Some(v)) => match serde_json::from_value::<Results>(v) {
            Ok(r) => Some(r),
            Err(e) => {
                results_problems.push(format!("{}: not a results file: {e}", results_path.display()));
                None
            }
        },
        Ok(None) => {
            results_problems.push("results.json is missing: the history has not been checked".to_string());
            None
        }
        Err(p) => {
            results_problems.push(p);
            None
        }
    };
    let (ops, history_status) = history(&mut problems, results.as_ref());
    problems.append(&mut results_problems);
    let node_logs = list_node_logs(dir);
    let status_timelines = crate::status_samples::load_all(dir, &mut problems);
    Ok(RunInputs {
        dir: dir.to_path_buf(),
        test,
        ops,
        history_status,
        results,
        node_logs,
        status_timelines,
        problems,
    })
}

/// Reads a JSON file; `Ok(None)` when it does not exist, `Err` with a located problem.
fn read_json(path: &Path) -> Result<Option<Value>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: cannot read: {e}", path.display())),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| format!("{}:{}: malformed JSON: {e}", path.display(), e.line()))
}

fn load_history(path: &Path, problems: &mut Vec<String>) -> (Vec<Op>, HistoryStatus) {
    if !path.exists() {
        problems.push(format!("{} is missing: no operation can be shown", path.display()));
        return (vec![], HistoryStatus::Absent);
    }
    match read_jsonl(path) {
        Ok(h) => (h.into_ops(), HistoryStatus::Valid),
        Err(e) => {
            problems.push(format!("{e} (the report shows the ops that could be parsed, unvalidated)"));
            (salvage(path, problems), HistoryStatus::Salvaged)
        }
    }
}

/// Parses every line that is a well-formed op, skipping the rest, so an invalid history can
/// still be drawn. Counts what was skipped.
fn salvage(path: &Path, problems: &mut Vec<String>) -> Vec<Op> {
    let text = match std::fs::read(path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => {
            problems.push(format!("{}: cannot read: {e}", path.display()));
            return vec![];
        }
    };
    let mut ops = vec![];
    let mut skipped = 0usize;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<Op>(line) {
            Ok(op) => ops.push(op),
            Err(_) => skipped += 1,
        }
    }
    if skipped > 0 {
        problems.push(format!("{}: {skipped} malformed line(s) skipped", path.display()));
    }
    ops
}

fn list_node_logs(dir: &Path) -> Vec<NodeLog> {
    let Ok(entries) = std::fs::read_dir(dir.join("nodes")) else { return vec![] };
    let mut logs: Vec<NodeLog> = entries
        .flatten()
        .filter_map(|e| {
            let node = e.file_name().to_string_lossy().into_owned();
            let meta = std::fs::metadata(e.path().join("log")).ok()?;
            meta.is_file().then(|| NodeLog { rel_path: format!("nodes/{node}/log"), node, bytes: meta.len() })
        })
        .collect();
    logs.sort_by(|a, b| a.node.cmp(&b.node));
    logs
}
