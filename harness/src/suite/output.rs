//! The suite folder, `store/suites/<name>/<UTC time>/`: `suite.json` (the plan, written
//! before any cell runs), and at the end `results.json` (the CI contract, schema in
//! `docs/results-schema.json`), `junit.xml` (one test case per cell), `summary.md` (for a
//! CI job summary) and `compare.html` (the consistency map).

use super::matrix::Cell;
use crate::store::{utc_stamp, write_json};
use anyhow::{Context, Result};
use serde_json::json;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;
use sunder_report::compare::record::{Outcome, SuiteRecord};
use sunder_report::escape::text;

/// From a suite folder back to the store root, for links into run folders.
pub const STORE_FROM_SUITE: &str = "../../../";

/// Creates `store/suites/<name>/<time>/` and its `cells/` folder.
pub fn create_dir(store: &Path, name: &str, now: SystemTime) -> Result<PathBuf> {
    let dir = store.join("suites").join(name).join(utc_stamp(now));
    std::fs::create_dir_all(dir.join("cells"))
        .with_context(|| format!("cannot create suite folder {}", dir.display()))?;
    Ok(dir)
}

/// Writes `suite.json`: the suite file, the filters and every cell with its `sunder run`
/// arguments, so a suite that dies midway still says what it meant to run.
pub fn write_plan(
    dir: &Path,
    file: &Path,
    store: &Path,
    jobs: usize,
    filters: &[String],
    cells: &[Cell],
) -> Result<()> {
    let cells: Vec<_> = cells
        .iter()
        .map(|c| json!({"id": c.id, "row": c.row, "test_name": c.test_name, "args": c.run_args(store)}))
        .collect();
    write_json(
        &dir.join("suite.json"),
        &json!({"file": file.display().to_string(), "jobs": jobs, "filters": filters, "cells": cells}),
    )
}

/// Writes `results.json`, `junit.xml`, `summary.md` and `compare.html`.
pub fn write_results(dir: &Path, suite: &SuiteRecord) -> Result<()> {
    write_json(&dir.join("results.json"), suite)?;
    let write = |name: &str, body: String| {
        let p = dir.join(name);
        std::fs::write(&p, body).with_context(|| format!("cannot write {}", p.display()))
    };
    write("junit.xml", junit(suite))?;
    write("summary.md", summary(suite))?;
    write("compare.html", sunder_report::compare::render(suite, STORE_FROM_SUITE))
}

/// The suite's JUnit: one test case per cell; a failed expectation is a `<failure>`
/// carrying the witness sentence, a harness failure an `<error>`, an undecided run or a
/// cell not run `<skipped>`.
pub fn junit(suite: &SuiteRecord) -> String {
    let c = &suite.counts;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let skipped = c.unknown + c.skipped;
    let _ = writeln!(
        out,
        "<testsuites name=\"sunder.suite.{n}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{skipped}\" time=\"{:.3}\">\n  <testsuite name=\"sunder.suite.{n}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{skipped}\" time=\"{:.3}\" timestamp=\"{}\">",
        c.cells,
        c.fail,
        c.error,
        suite.wall_s,
        c.cells,
        c.fail,
        c.error,
        suite.wall_s,
        text(&suite.started_at),
        n = text(&suite.suite),
    );
    for cell in &suite.cells {
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
            text(&format!("sunder.suite.{}.{}", suite.suite, cell.row)),
            text(&cell.id),
            cell.wall_s
        );
        let kind = cell.anomaly_kinds.first().map(String::as_str);
        match cell.outcome {
            Outcome::Pass => out.push_str("/>\n"),
            Outcome::Fail => {
                let kind = if cell.expect == "invalid" {
                    "planted-bug-not-caught"
                } else {
                    kind.unwrap_or("invalid")
                };
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
                    text(&cell.why),
                    text(kind),
                    text(&details(cell))
                );
            }
            Outcome::Error => {
                let _ = writeln!(
                    out,
                    ">\n      <error message=\"{}\" type=\"harness-failed\"/>\n    </testcase>",
                    text(&cell.why)
                );
            }
            Outcome::Unknown | Outcome::Skipped => {
                let _ = writeln!(out, ">\n      <skipped message=\"{}\"/>\n    </testcase>", text(&cell.why));
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

fn details(cell: &sunder_report::compare::record::CellRecord) -> String {
    let mut s = format!("verdict {} (expected {})", cell.verdict, cell.expect);
    if let Some(run) = &cell.run {
        s += &format!("\nrun folder: {run}");
    }
    if !cell.anomaly_kinds.is_empty() {
        s += &format!("\nanomalies: {}", cell.anomaly_kinds.join(", "));
    }
    s
}

/// The suite's Markdown summary: the outcome, the counts, and a line per cell that did
/// not pass (every cell when all passed is left to `results.json`).
pub fn summary(suite: &SuiteRecord) -> String {
    let c = &suite.counts;
    let md = |s: &str| text(s).replace('|', "\\|");
    let mut s = format!(
        "## Sunder suite {}: {}\n\n{} cells: {} passed, {} failed, {} unknown, {} harness errors, {} not run ({:.0} s, {} job(s)).\n\n",
        md(&suite.suite),
        suite.outcome.as_str(),
        c.cells,
        c.pass,
        c.fail,
        c.unknown,
        c.error,
        c.skipped,
        suite.wall_s,
        suite.jobs
    );
    s.push_str("| outcome | cell | expected | verdict | strongest held | why |\n|---|---|---|---|---|---|\n");
    for cell in &suite.cells {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            cell.outcome.as_str(),
            md(&cell.id),
            md(&cell.expect),
            md(&cell.verdict),
            md(cell.strongest_held.as_deref().unwrap_or("")),
            md(&cell.why)
        );
    }
    s
}
