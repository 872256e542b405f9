//! `junit.xml`: one test case per checker, so CI systems show which property failed. An
//! invalid checker is a `<failure>` whose message lists its anomalies; an unknown one is
//! `<skipped>` with its reason; a run with no results is one `<error>` case saying so.

use crate::escape::text;
use crate::run_folder::RunInputs;
use std::fmt::Write;
use sunder_check::verdict::{Anomaly, Validity};

/// At most this many anomalies are named in a failure's `message` attribute; the body
/// lists them all.
const MESSAGE_ANOMALIES: usize = 5;

/// Op indices listed per anomaly at most; the report and results.json have them all.
const LISTED_OPS: usize = 20;

/// An anomaly's op indices as `1, 2, 3`, cut after `LISTED_OPS` of them with a count of the rest.
pub fn op_list(ops: &[u64]) -> String {
    let mut s: Vec<String> = ops.iter().take(LISTED_OPS).map(u64::to_string).collect();
    if ops.len() > LISTED_OPS {
        s.push(format!("and {} more", ops.len() - LISTED_OPS));
    }
    s.join(", ")
}

fn anomaly_line(a: &Anomaly) -> String {
    let ops = crate::junit::op_list(&a.ops);
    let name =
        if a.name.is_empty() { sunder_check::anomaly_names::describe(&a.kind).name } else { a.name.clone() };
    format!("{name} ({}): {} (ops {ops})", a.kind, a.explanation)
}

/// Renders `junit.xml` for a run.
pub fn render(inputs: &RunInputs) -> String {
    let suite = format!("sunder.{}", inputs.test.name.as_deref().unwrap_or("unnamed"));
    let mut cases = String::new();
    let (mut tests, mut failures, mut skipped, mut errors) = (0, 0, 0, 0);
    match &inputs.results {
        None => {
            tests += 1;
            errors += 1;
            let why = inputs
                .problems
                .iter()
                .find(|p| p.contains("results.json"))
                .cloned()
                .unwrap_or_else(|| "results.json is missing".to_string());
            let _ = writeln!(
                cases,
                "    <testcase classname=\"{}\" name=\"results\">\n      <error message=\"{}\" type=\"no-results\"/>\n    </testcase>",
                text(&suite),
                text(&why)
            );
        }
        Some(r) => {
            for (name, c) in &r.checkers {
                tests += 1;
                let _ = write!(cases, "    <testcase classname=\"{}\" name=\"{}\"", text(&suite), text(name));
                match c.valid {
                    Validity::Valid => cases.push_str("/>\n"),
                    Validity::Unknown => {
                        skipped += 1;
                        let _ = writeln!(
                            cases,
                            ">\n      <skipped message=\"unknown: {}\"/>\n    </testcase>",
                            text(c.reason.as_deref().unwrap_or("no reason given"))
                        );
                    }
                    Validity::Invalid => {
                        failures += 1;
                        let mut message: Vec<String> =
                            c.anomalies.iter().take(MESSAGE_ANOMALIES).map(anomaly_line).collect();
                        if c.anomalies.len() > MESSAGE_ANOMALIES {
                            message.push(format!("and {} more", c.anomalies.len() - MESSAGE_ANOMALIES));
                        }
                        if message.is_empty() {
                            message.push("invalid (the checker named no anomaly)".to_string());
                        }
                        let kind = c.anomalies.first().map(|a| a.kind.as_str()).unwrap_or("invalid");
                        let body: Vec<String> = c.anomalies.iter().map(anomaly_line).collect();
                        let _ = writeln!(
                            cases,
                            ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
                            text(&message.join("; ")),
                            text(kind),
                            text(&body.join("\n"))
                        );
                    }
                }
            }
        }
    }
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"sunder\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\">"
    );
    let _ = write!(
        out,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\"",
        text(&suite)
    );
    if let Some(t) = &inputs.test.started_at {
        let _ = write!(out, " timestamp=\"{}\"", text(t));
    }
    out.push_str(">\n    <properties>\n");
    for (k, v) in &inputs.test.raw {
        let _ = writeln!(
            out,
            "      <property name=\"{}\" value=\"{}\"/>",
            text(k),
            text(&crate::test_info::display_value(v))
        );
    }
    out.push_str("    </properties>\n");
    out.push_str(&cases);
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
