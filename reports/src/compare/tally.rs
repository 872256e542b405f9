//! From cells to the comparison's rows: per system setting, how often each model or
//! invariant held across its runs, which runs broke it, the row's mean availability during
//! faults and latency, and the strongest model that held in every run.

use super::lattice::MODEL_ORDER;
use super::record::{CellRecord, RunMetrics};
use std::collections::BTreeMap;
use sunder_check::verdict::Validity;

/// One run that broke a model: where its report is, and its witness sentence.
#[derive(Debug, Clone, PartialEq)]
pub struct Breach {
    /// The cell's id.
    pub cell: String,
    /// Run folder relative to the store, when there is one.
    pub run: Option<String>,
    /// The run's first anomaly, in plain words.
    pub witness: String,
}

/// How one model or invariant fared over a row's runs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tally {
    /// Runs in which it held.
    pub held: usize,
    /// Runs in which it broke.
    pub broke: usize,
    /// Runs that could not decide it.
    pub unknown: usize,
    /// The runs that broke it.
    pub breaches: Vec<Breach>,
}

impl Tally {
    /// Runs that judged it at all.
    pub fn judged(&self) -> usize {
        self.held + self.broke + self.unknown
    }

    /// Share of the judging runs in which it held.
    pub fn share(&self) -> Option<f64> {
        (self.judged() > 0).then(|| self.held as f64 / self.judged() as f64)
    }

    /// Whether it held in every run that judged it.
    pub fn always_held(&self) -> bool {
        self.judged() > 0 && self.held == self.judged()
    }
}

/// One row of the comparison: a system with its settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The row's label.
    pub label: String,
    /// Runs that finished with a verdict.
    pub runs: usize,
    /// Each column's tally.
    pub columns: BTreeMap<String, Tally>,
    /// Mean over runs of the availability during faults.
    pub availability_in_faults: Option<f64>,
    /// Mean over runs of the median latency.
    pub p50_ms: Option<f64>,
    /// Mean over runs of the 99th percentile latency.
    pub p99_ms: Option<f64>,
    /// The strongest lattice model that held in every run judging it.
    pub strongest_held: Option<String>,
}

/// The comparison: its rows, and its columns in display order.
#[derive(Debug, Clone, PartialEq)]
pub struct Map {
    /// Rows in the order they first appear among the cells.
    pub rows: Vec<Row>,
    /// Every model or invariant judged by some run: lattice order, then by name.
    pub columns: Vec<String>,
}

/// Builds the map from a suite's cells; cells that produced no verdict are left out.
pub fn map(cells: &[CellRecord]) -> Map {
    let mut order: Vec<String> = vec![];
    let mut by_row: BTreeMap<String, Vec<&CellRecord>> = BTreeMap::new();
    for c in cells.iter().filter(|c| matches!(c.verdict.as_str(), "valid" | "invalid" | "unknown")) {
        if !by_row.contains_key(&c.row) {
            order.push(c.row.clone());
        }
        by_row.entry(c.row.clone()).or_default().push(c);
    }
    let mut columns: Vec<String> = vec![];
    let rows = order
        .iter()
        .map(|label| {
            let runs = &by_row[label];
            let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
            for c in runs {
                for (name, v) in judged(c) {
                    if !columns.contains(&name) {
                        columns.push(name.clone());
                    }
                    let t = tallies.entry(name).or_default();
                    match v {
                        Validity::Valid => t.held += 1,
                        Validity::Unknown => t.unknown += 1,
                        Validity::Invalid => {
                            t.broke += 1;
                            t.breaches.push(Breach {
                                cell: c.id.clone(),
                                run: c.run.clone(),
                                witness: c.witness.clone().unwrap_or_else(|| c.why.clone()),
                            });
                        }
                    }
                }
            }
            let metrics: Vec<RunMetrics> = runs.iter().filter_map(|c| c.metrics).collect();
            let mean = |f: fn(&RunMetrics) -> Option<f64>| {
                let xs: Vec<f64> = metrics.iter().filter_map(f).collect();
                (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
            };
            // Convergence is judged beside the lattice, not in it.
            let strongest_held = MODEL_ORDER
                .iter()
                .filter(|m| **m != "convergence")
                .find(|m| tallies.get(**m).is_some_and(Tally::always_held))
                .map(|m| m.to_string());
            Row {
                label: label.clone(),
                runs: runs.len(),
                columns: tallies,
                availability_in_faults: mean(|m| m.availability_in_faults),
                p50_ms: mean(|m| m.p50_ms),
                p99_ms: mean(|m| m.p99_ms),
                strongest_held,
            }
        })
        .collect();
    columns.sort_by_key(|c| (MODEL_ORDER.iter().position(|m| m == c).unwrap_or(usize::MAX), c.clone()));
    Map { rows, columns }
}

/// What a cell judged: every model, and every checker that is not also a model (the
/// invariants: set, counter, bank, ...). The stats checker judges nothing.
fn judged(c: &CellRecord) -> Vec<(String, Validity)> {
    let mut out: Vec<(String, Validity)> = c.models.iter().map(|(k, v)| (k.clone(), *v)).collect();
    for (k, v) in &c.checkers {
        if k != "stats" && !c.models.contains_key(k) {
            out.push((k.clone(), *v));
        }
    }
    out
}
