//! The suite's `results.json`, as the suite runner writes it and the comparison page and
//! `sunder serve` read it: one [`SuiteRecord`] holding a [`CellRecord`] per cell of the
//! matrix. `docs/results-schema.json` documents the same shape for CI scripts.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use sunder_check::verdict::Validity;

/// The `schema` value of every suite `results.json` this version writes.
pub const SUITE_SCHEMA: &str = "sunder-suite-results/1";

/// How one cell, or the whole suite, came out once expectations are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The verdict was what the cell expected.
    Pass,
    /// The verdict contradicted the expectation (a guarantee broke, or a planted bug was
    /// not caught).
    Fail,
    /// The run could not decide (a checker's budget, too little data).
    Unknown,
    /// The harness itself failed (bad arguments, a cluster that would not start).
    Error,
    /// Not run (`--fail-fast` stopped the suite first).
    Skipped,
}

impl Outcome {
    /// `pass`, `fail`, `unknown`, `error` or `skipped`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Unknown => "unknown",
            Outcome::Error => "error",
            Outcome::Skipped => "skipped",
        }
    }

    /// The process exit code of a suite whose worst cell came out so: DESIGN.md's codes,
    /// with a failed expectation counting as invalid.
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Pass | Outcome::Skipped => 0,
            Outcome::Fail => 1,
            Outcome::Unknown => 2,
            Outcome::Error => 3,
        }
    }

    /// How bad an outcome is, for taking the worst: error, then fail, then unknown.
    pub fn severity(self) -> u8 {
        match self {
            Outcome::Pass | Outcome::Skipped => 0,
            Outcome::Unknown => 1,
            Outcome::Fail => 2,
            Outcome::Error => 3,
        }
    }
}

/// Latency and availability of one run, read from its history.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct RunMetrics {
    /// Client calls invoked.
    pub calls: u64,
    /// Share of calls invoked while some fault was active that ended `ok`; `None` when no
    /// call was invoked during a fault.
    pub availability_in_faults: Option<f64>,
    /// Share of all calls that ended `ok`.
    pub availability: Option<f64>,
    /// Median latency of `ok` calls, in milliseconds.
    pub p50_ms: Option<f64>,
    /// 99th percentile latency of `ok` calls, in milliseconds.
    pub p99_ms: Option<f64>,
}

/// One cell of the matrix: what ran, what it found, and whether that was expected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellRecord {
    /// Unique within the suite, e.g. `raft-kv[reads=local]/register/partition/s1`.
    pub id: String,
    /// The comparison page's row: the system with its settings.
    pub row: String,
    /// The system.
    pub system: String,
    /// Its `-o` settings.
    pub options: BTreeMap<String, String>,
    /// The workload.
    pub workload: String,
    /// Its `-w` options.
    pub workload_options: BTreeMap<String, String>,
    /// The nemesis set (`--nemesis`), e.g. `partition,kill` or `none`.
    pub nemesis: String,
    /// The run's seed.
    pub seed: u64,
    /// Which repetition of the same settings and seed (1-based).
    pub repetition: u32,
    /// The verdict the cell expects: `valid`, `invalid` for a planted bug, or `any` for a
    /// measurement.
    pub expect: String,
    /// Models the cell expects to hold (`true`) or break (`false`).
    #[serde(default)]
    pub expect_models: BTreeMap<String, bool>,
    /// Why the expectation is certain, as the suite file says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_why: Option<String>,
    /// `valid`, `invalid`, `unknown`, `error` (the harness failed) or `not-run`.
    pub verdict: String,
    /// The verdict measured against the expectation.
    pub outcome: Outcome,
    /// One sentence on the outcome: the witness of a failure, or what went wrong.
    pub why: String,
    /// The run folder, relative to the store (`None` when no run folder was made).
    #[serde(default)]
    pub run: Option<String>,
    /// The child `sunder run`'s exit code.
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// Wall time of the child run, in seconds.
    pub wall_s: f64,
    /// Each consistency model's verdict.
    #[serde(default)]
    pub models: BTreeMap<String, Validity>,
    /// Each checker's verdict (checkers that did not apply are left out).
    #[serde(default)]
    pub checkers: BTreeMap<String, Validity>,
    /// The strongest model that held.
    #[serde(default)]
    pub strongest_held: Option<String>,
    /// The first anomaly's sentence, when the run was invalid.
    #[serde(default)]
    pub witness: Option<String>,
    /// Kinds of every anomaly found, deduplicated.
    #[serde(default)]
    pub anomaly_kinds: Vec<String>,
    /// Latency and availability, when the history was readable.
    #[serde(default)]
    pub metrics: Option<RunMetrics>,
}

/// How many cells came out each way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counts {
    /// Every cell of the matrix (after `--filter`).
    pub cells: usize,
    /// Cells that passed.
    pub pass: usize,
    /// Cells that failed their expectation.
    pub fail: usize,
    /// Cells whose run was unknown.
    pub unknown: usize,
    /// Cells whose harness failed.
    pub error: usize,
    /// Cells not run.
    pub skipped: usize,
}

impl Counts {
    /// Counts `cells` by outcome.
    pub fn of(cells: &[CellRecord]) -> Counts {
        let mut c = Counts { cells: cells.len(), ..Counts::default() };
        for cell in cells {
            match cell.outcome {
                Outcome::Pass => c.pass += 1,
                Outcome::Fail => c.fail += 1,
                Outcome::Unknown => c.unknown += 1,
                Outcome::Error => c.error += 1,
                Outcome::Skipped => c.skipped += 1,
            }
        }
        c
    }
}

/// The suite's `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuiteRecord {
    /// Always [`SUITE_SCHEMA`].
    pub schema: String,
    /// The suite's name.
    pub suite: String,
    /// The suite file it was read from.
    pub file: String,
    /// UTC start, RFC 3339.
    pub started_at: String,
    /// UTC end, RFC 3339.
    pub finished_at: String,
    /// Wall time of the whole suite, in seconds.
    pub wall_s: f64,
    /// Cells run at once.
    pub jobs: usize,
    /// The worst cell outcome.
    pub outcome: Outcome,
    /// The suite's exit code (from `outcome`).
    pub exit_code: u8,
    /// Cells by outcome.
    pub counts: Counts,
    /// Every cell, in matrix order.
    pub cells: Vec<CellRecord>,
}

impl SuiteRecord {
    /// The worst outcome among `cells` (pass when there are none).
    pub fn worst(cells: &[CellRecord]) -> Outcome {
        cells.iter().map(|c| c.outcome).max_by_key(|o| o.severity()).unwrap_or(Outcome::Pass)
    }
}
