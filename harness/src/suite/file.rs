//! The suite file: a TOML description of a matrix of runs. Read with the `toml` crate into
//! the types below, which refuse unknown keys, so a typo is an error naming the key and its
//! line rather than a cell silently run with defaults.
//!
//! ```toml
//! name = "ci"
//! [defaults]                 # every cell, unless a system entry says otherwise
//! time_limit = 5
//! seeds = [1, 2]
//! repetitions = 1
//! nemesis = ["partition", "kill"]
//! args = ["--nemesis-interval", "2"]
//!
//! [[workloads]]
//! workload = "register"
//! options = { keys = "3" }
//!
//! [[systems]]
//! system = "raft-kv"
//! options = { reads = "local" }
//! expect = "invalid"
//! why = "local reads on a minority answer stale at once"
//! ```

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// A whole suite file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteFile {
    /// The suite's name (its folder under `store/suites/`).
    pub name: String,
    /// What a sentence or two says the suite is for.
    #[serde(default)]
    pub description: Option<String>,
    /// The expectation of every system entry that states none: `valid` (the default),
    /// `invalid`, or `any` for a suite that measures rather than gates.
    pub expect: Option<String>,
    /// Settings every cell takes unless its system entry overrides them.
    #[serde(default)]
    pub defaults: CellSettings,
    /// The workloads; a system entry runs each that it supports (or those it names).
    #[serde(default)]
    pub workloads: Vec<WorkloadEntry>,
    /// The systems, each with its `-o` settings: one row of the comparison each.
    pub systems: Vec<SystemEntry>,
}

/// Run settings that the defaults give and a system entry may override.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellSettings {
    /// `--time-limit` seconds.
    pub time_limit: Option<f64>,
    /// One cell per seed.
    pub seeds: Option<Vec<u64>>,
    /// Cells per seed with the same settings.
    pub repetitions: Option<u32>,
    /// Nemesis sets, one cell each (`--nemesis` values: `partition,kill`, `none`).
    pub nemesis: Option<Vec<String>>,
    /// `--nodes`.
    pub nodes: Option<usize>,
    /// `--net`.
    pub net: Option<String>,
    /// `--concurrency`.
    pub concurrency: Option<usize>,
    /// Further `sunder run` arguments, passed as they are (a system entry's list replaces
    /// the defaults' list).
    pub args: Option<Vec<String>>,
}

impl CellSettings {
    /// `self`, with what it leaves unset taken from `base`.
    pub fn over(&self, base: &CellSettings) -> CellSettings {
        CellSettings {
            time_limit: self.time_limit.or(base.time_limit),
            seeds: self.seeds.clone().or_else(|| base.seeds.clone()),
            repetitions: self.repetitions.or(base.repetitions),
            nemesis: self.nemesis.clone().or_else(|| base.nemesis.clone()),
            nodes: self.nodes.or(base.nodes),
            net: self.net.clone().or_else(|| base.net.clone()),
            concurrency: self.concurrency.or(base.concurrency),
            // Replaced whole, not appended: `sunder run` takes most flags once.
            args: self.args.clone().or_else(|| base.args.clone()),
        }
    }
}

/// One workload with its `-w` options.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadEntry {
    /// The workload's catalog name.
    pub workload: String,
    /// How cells and the `workloads` list of a system name it (default: the workload).
    pub label: Option<String>,
    /// `-w KEY=VALUE` options.
    #[serde(default)]
    pub options: BTreeMap<String, toml::Value>,
}

impl WorkloadEntry {
    /// The entry's label.
    pub fn label(&self) -> String {
        self.label.clone().unwrap_or_else(|| self.workload.clone())
    }
}

/// One system with its `-o` settings, and what its runs are expected to show.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemEntry {
    /// The system's catalog name.
    pub system: String,
    /// The comparison's row label (default: the system and its options).
    pub label: Option<String>,
    /// `-o KEY=VALUE` settings.
    #[serde(default)]
    pub options: BTreeMap<String, toml::Value>,
    /// Labels of the workloads to run (default: every listed workload the system supports).
    pub workloads: Option<Vec<String>>,
    /// `valid` (the default), `invalid` (a planted bug that must be caught) or `any` (a
    /// measurement).
    pub expect: Option<String>,
    /// Models each run must hold (`true`) or break (`false`).
    #[serde(default)]
    pub expect_models: BTreeMap<String, bool>,
    /// Why the expectation is certain in every run (shown in the results).
    pub why: Option<String>,
    /// Overrides `defaults.time_limit`.
    pub time_limit: Option<f64>,
    /// Overrides `defaults.seeds`.
    pub seeds: Option<Vec<u64>>,
    /// Overrides `defaults.repetitions`.
    pub repetitions: Option<u32>,
    /// Overrides `defaults.nemesis`.
    pub nemesis: Option<Vec<String>>,
    /// Overrides `defaults.nodes`.
    pub nodes: Option<usize>,
    /// Overrides `defaults.net`.
    pub net: Option<String>,
    /// Overrides `defaults.concurrency`.
    pub concurrency: Option<usize>,
    /// Replaces `defaults.args` (whole: `sunder run` takes most flags only once).
    pub args: Option<Vec<String>>,
}

impl SystemEntry {
    /// This entry's settings over the suite's defaults.
    pub fn settings(&self, defaults: &CellSettings) -> CellSettings {
        CellSettings {
            time_limit: self.time_limit,
            seeds: self.seeds.clone(),
            repetitions: self.repetitions,
            nemesis: self.nemesis.clone(),
            nodes: self.nodes,
            net: self.net.clone(),
            concurrency: self.concurrency,
            args: self.args.clone(),
        }
        .over(defaults)
    }

    /// The row label: the given one, else `system[k=v,...]`.
    pub fn label(&self) -> String {
        if let Some(l) = &self.label {
            return l.clone();
        }
        if self.options.is_empty() {
            return self.system.clone();
        }
        let opts: Vec<String> = self.options.iter().map(|(k, v)| format!("{k}={}", scalar(v))).collect();
        format!("{}[{}]", self.system, opts.join(","))
    }
}

/// A TOML option value as the `KEY=VALUE` text `sunder run` takes.
pub fn scalar(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        // Refused by `parse`; shown as Rust debug text if ever reached.
        other => format!("{other:?}"),
    }
}

/// Reads and parses a suite file. Errors name the file, and the key and line at fault.
pub fn load(path: &Path) -> Result<SuiteFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read suite file {}", path.display()))?;
    parse(&text).with_context(|| format!("suite file {}", path.display()))
}

/// Parses suite text (see [`load`]).
pub fn parse(text: &str) -> Result<SuiteFile> {
    let suite: SuiteFile =
        toml::from_str(text).map_err(|e| anyhow::anyhow!("{}", e.to_string().trim_end()))?;
    if suite.name.is_empty() || suite.name.contains('/') || suite.name.starts_with('.') {
        bail!("name = {:?} must be a plain folder name", suite.name);
    }
    if suite.systems.is_empty() {
        bail!("no [[systems]] entry: a suite needs at least one system");
    }
    for (i, s) in suite.systems.iter().enumerate() {
        match s.expect.as_deref() {
            None | Some("valid") | Some("invalid") => {}
            Some(other) => {
                bail!("systems[{i}] ({}): expect = {other:?}; it must be \"valid\" or \"invalid\"", s.system)
            }
        }
        for (k, v) in &s.options {
            if matches!(v, toml::Value::Array(_) | toml::Value::Table(_)) {
                bail!("systems[{i}] ({}): options.{k} must be a string, number or boolean", s.system);
            }
        }
    }
    for (i, w) in suite.workloads.iter().enumerate() {
        for (k, v) in &w.options {
            if matches!(v, toml::Value::Array(_) | toml::Value::Table(_)) {
                bail!("workloads[{i}] ({}): options.{k} must be a string, number or boolean", w.workload);
            }
        }
    }
    Ok(suite)
}
