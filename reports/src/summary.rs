//! `summary.md`: the run in a dozen lines of Markdown, for a CI job summary: the verdict,
//! the paragraph the report opens with ([`crate::story`]), the settings, the model ladder,
//! each checker, the first anomalies by their plain names, anomaly counts by fault window
//! and by node, and availability per fault window. Untrusted values are escaped for HTML (CI summaries render it) and for
//! Markdown's table and emphasis characters.

use crate::analysis::Analysis;
use crate::escape::text;
use crate::faults;
use crate::page::{anomalies_of, model_ladder};
use crate::run_folder::RunInputs;
use std::fmt::Write;
use sunder_check::verdict::Validity;

/// Anomalies listed in the summary; the report has all.
const SUMMARY_ANOMALIES: usize = 10;

/// Escapes an untrusted value for a Markdown table cell or inline text.
fn md(s: &str) -> String {
    let mut out = String::new();
    for c in text(s).chars() {
        match c {
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn mark(v: Validity) -> &'static str {
    match v {
        Validity::Valid => "✅ valid",
        Validity::Invalid => "❌ invalid",
        Validity::Unknown => "⚠️ unknown",
    }
}

/// Renders `summary.md` for a run.
pub fn render(inputs: &RunInputs, analysis: &Analysis) -> String {
    let mut out = String::new();
    let name = md(inputs.test.name.as_deref().unwrap_or("unnamed test"));
    match &inputs.results {
        Some(r) => {
            let _ = writeln!(out, "## Sunder: {name}: {}\n", mark(r.valid).to_uppercase());
            if let Some(reason) = &r.reason {
                let _ = writeln!(out, "Why unknown: {}\n", md(reason));
            }
        }
        None => {
            let _ = writeln!(
                out,
                "## Sunder: {name}: UNCHECKED\n\nNo results.json: the history has not been checked.\n"
            );
        }
    }
    let t = &inputs.test;
    let opt = |v: &Option<String>| v.as_deref().map(md).unwrap_or_else(|| "?".to_string());
    let _ = writeln!(out, "| system | workload | nemesis | seed | ops |\n|---|---|---|---|---|");
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {} |\n",
        opt(&t.system),
        opt(&t.workload),
        if t.nemesis.is_empty() { "none".to_string() } else { md(&t.nemesis.join(", ")) },
        t.seed.map(|s| s.to_string()).unwrap_or_else(|| "?".to_string()),
        analysis.counts.ops
    );
    for p in &inputs.problems {
        let _ = writeln!(out, "> ⚠️ {}", md(p));
    }
    if !inputs.problems.is_empty() {
        out.push('\n');
    }
    let Some(r) = &inputs.results else { return out };
    let _ = writeln!(out, "{}\n", md(&crate::story::tell(r).paragraph()));
    if !r.models.is_empty() {
        let _ = writeln!(
            out,
            "**Strongest model held:** {} · **weakest failed:** {}\n",
            md(r.strongest_held.as_deref().unwrap_or("none")),
            md(r.weakest_failed.as_deref().unwrap_or("none"))
        );
        let ladder: Vec<String> = model_ladder(&r.models)
            .into_iter()
            .filter_map(|m| {
                r.models.get(m).map(|v| format!("{} {}", mark(*v).split(' ').next().unwrap_or(""), md(m)))
            })
            .collect();
        let _ = writeln!(out, "{}\n", ladder.join(" → "));
    }
    let _ = writeln!(out, "| checker | verdict | anomalies |\n|---|---|---|");
    for (name, c) in &r.checkers {
        let _ = writeln!(out, "| {} | {} | {} |", md(name), mark(c.valid), c.anomalies.len());
    }
    out.push('\n');
    let anomalies = anomalies_of(inputs);
    if !anomalies.is_empty() {
        let _ = writeln!(out, "### Anomalies ({} distinct, in ladder order)\n", anomalies.len());
        for (i, a) in anomalies.iter().take(SUMMARY_ANOMALIES).enumerate() {
            let ops = crate::junit::op_list(&a.ops);
            let name = if a.name.is_empty() {
                sunder_check::anomaly_names::describe(&a.kind).name
            } else {
                a.name.clone()
            };
            let mut notes = vec![format!("ops {ops}")];
            if a.similar > 0 {
                notes.push(format!("and {} more like it", a.similar));
            }
            if a.before_any_fault {
                notes.push("before any fault".to_string());
            } else if !a.faults.is_empty() {
                notes.push(format!("during {}", a.faults.join(", ")));
            }
            if !a.nodes.is_empty() {
                notes.push(format!("nodes {}", a.nodes.join(", ")));
            }
            let _ = writeln!(
                out,
                "{}. **{}** ({}, {}): {} ({})",
                i + 1,
                md(&name),
                md(a.checker()),
                md(&a.kind),
                md(&a.explanation),
                md(&notes.join("; "))
            );
        }
        if anomalies.len() > SUMMARY_ANOMALIES {
            let _ = writeln!(out, "\n…and {} more in the report.", anomalies.len() - SUMMARY_ANOMALIES);
        }
        out.push('\n');
    }
    let counts = &r.anomaly_counts;
    if !counts.by_fault.is_empty() {
        let _ = writeln!(out, "### Anomalies by fault window\n\n| when | anomalies |\n|---|---|");
        for row in &counts.by_fault {
            let label = match r.faults.iter().find(|w| w.id == row.label) {
                Some(w) => format!("{} {} ({:.1}–{:.1} s)", w.id, w.name, w.start_s, w.end_s),
                None => row.label.clone(),
            };
            let _ = writeln!(out, "| {} | {} |", md(&label), row.anomalies);
        }
        out.push('\n');
    }
    if !counts.by_node.is_empty() {
        let _ = writeln!(out, "### Anomalies by node\n\n| node | anomalies |\n|---|---|");
        for row in &counts.by_node {
            let _ = writeln!(out, "| {} | {} |", md(&row.label), row.anomalies);
        }
        out.push('\n');
    }
    let fm = &analysis.faults;
    if !fm.faults.is_empty() {
        let _ = writeln!(
            out,
            "### Availability per fault window\n\n| window | time (s) | calls | ok |\n|---|---|---|---|"
        );
        let pct = |a: &faults::Availability| {
            a.share().map(|s| format!("{:.1}%", s * 100.0)).unwrap_or_else(|| "–".into())
        };
        for (i, (w, a)) in fm.faults.iter().zip(&analysis.fault_availability).enumerate() {
            let _ = writeln!(
                out,
                "| F{} {} | {:.1}–{:.1} | {} | {} |",
                i + 1,
                md(&w.name),
                w.start as f64 / 1e9,
                w.end as f64 / 1e9,
                a.calls,
                pct(a)
            );
        }
        let outside = &analysis.outside_faults;
        let _ = writeln!(out, "| no fault active | | {} | {} |\n", outside.calls, pct(outside));
    }
    out.push_str("Full report: `report.html` in the run folder.\n");
    out
}

#[cfg(test)]
mod tests {
    use super::md;

    #[test]
    fn markdown_cells_cannot_break_tables_or_inject_html() {
        assert_eq!(md("a|b<script>*x*\n"), "a\\|b&lt;script&gt;\\*x\\* ");
    }
}
