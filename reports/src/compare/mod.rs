//! `compare.html`: the empirical consistency map of a suite. Rows are system settings,
//! columns the models and invariants its runs judged; each cell is the share of runs in
//! which that one held, coloured, with a link to every breaking run's report and its
//! witness sentence. Per row: availability during faults and p50/p99 latency. A second
//! view draws each row's lattice with its strongest held model marked. Like `report.html`
//! the page is one self-contained file with no script and no outside resource; every
//! value from a run passes through [`crate::escape`].
//!
//! Layout: [`record`] is the suite's `results.json` shape (written by the suite runner,
//! read here and by `serve`); [`metrics`] reads a run's latency and availability;
//! [`tally`] folds cells into rows; [`lattice`] draws the models' order.

pub mod lattice;
pub mod metrics;
pub mod record;
pub mod tally;

use crate::escape::{push_href_segment, text};
use crate::page::CONTENT_SECURITY_POLICY;
use record::{Outcome, SuiteRecord};
use std::fmt::Write;
use tally::Tally;

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1d2329}h1{font-size:20px}h2{font-size:17px;margin-top:28px}table{border-collapse:collapse}th,td{border-bottom:1px solid #dde1e5;padding:4px 10px 4px 0;text-align:left;vertical-align:top}th.model{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap;font-weight:500;color:#5d6770;padding:4px 2px}td.share{text-align:center;min-width:46px;padding:4px 3px;font-variant-numeric:tabular-nums}td.share a{color:inherit;font-size:11px;margin:0 1px}.s-all{background:#c8ebd4}.s-some{background:#fbe3b7}.s-none{background:#f4c7c2}.s-unknown{background:#e3e5e8}.s-na{color:#b0b6bc}.o-pass{color:#1e8449}.o-fail{color:#c0392b}.o-unknown{color:#b9770e}.o-error{color:#8e44ad}.o-skipped{color:#7f8c8d}td.num{text-align:right;font-variant-numeric:tabular-nums}.lattice{max-width:100%;height:auto;display:block}.lattice line{stroke:#9aa0a6;stroke-width:1.2}.lattice text{font:11px system-ui,sans-serif;text-anchor:middle;fill:#1d2329}.lattice rect{stroke:#7f8c8d;stroke-width:1}.lm-held rect{fill:#c8ebd4}.lm-broke rect{fill:#f4c7c2}.lm-unknown rect{fill:#fbe3b7}.lm-none rect{fill:#f4f5f6;stroke-dasharray:3 2}.lm-none text{fill:#9aa0a6}.lm-strongest rect{stroke:#1d2329;stroke-width:3}.legend span{display:inline-block;padding:0 6px;margin-right:6px;border-radius:3px}code{font-size:12px}";

/// Renders the comparison page of `suite`. `store_prefix` leads from the page's folder to
/// the store root (a suite folder `store/suites/<name>/<time>/` passes `../../../`), so
/// each run's link works from the file system and through `sunder serve` alike.
pub fn render(suite: &SuiteRecord, store_prefix: &str) -> String {
    let map = tally::map(&suite.cells);
    let mut h = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"{CONTENT_SECURITY_POLICY}\">\n<title>{}: consistency map · Sunder</title>\n<style>{STYLE}</style></head>\n<body>\n",
        text(&suite.suite)
    );
    let c = &suite.counts;
    let _ = writeln!(
        h,
        "<h1>Suite {}: <span class=\"o-{o}\" id=\"outcome\">{o}</span></h1>\n<p>{} cells from <code>{}</code>: {} passed, {} failed, {} unknown, {} harness errors, {} not run; {:.0} s wall time with {} job(s), started {}.</p>",
        text(&suite.suite),
        c.cells,
        text(&suite.file),
        c.pass,
        c.fail,
        c.unknown,
        c.error,
        c.skipped,
        suite.wall_s,
        suite.jobs,
        text(&suite.started_at),
        o = suite.outcome.as_str(),
    );
    h.push_str("<h2>The map</h2>\n<p class=\"legend\">Each cell: the share of runs in which the model or invariant held. <span class=\"s-all\">every run</span><span class=\"s-some\">some runs</span><span class=\"s-none\">no run</span><span class=\"s-unknown\">undecided</span> A numbered link opens a breaking run's report; hover it for the witness.</p>\n");
    render_grid(&mut h, &map, store_prefix);
    h.push_str("<h2>The lattice</h2>\n<p>Per row, the models as they imply one another (an edge leads from a stronger model to a weaker one). Green held in every run, red broke in some run, amber undecided, dashed not judged; the outlined model with a star is the strongest that held in every run.</p>\n");
    for row in &map.rows {
        let _ = writeln!(
            h,
            "<h3 class=\"lattice-row\">{}: strongest held {}</h3>",
            text(&row.label),
            text(row.strongest_held.as_deref().unwrap_or("none"))
        );
        h.push_str(&lattice::draw(row));
        h.push('\n');
    }
    render_cells(&mut h, suite, store_prefix);
    h.push_str("</body></html>\n");
    h
}

fn render_grid(h: &mut String, map: &tally::Map, store_prefix: &str) {
    h.push_str("<table id=\"map\"><thead><tr><th>system setting</th><th>runs</th>");
    for col in &map.columns {
        let _ = write!(h, "<th class=\"model\" data-column=\"{0}\">{0}</th>", text(col));
    }
    h.push_str(
        "<th>available during faults</th><th>p50 ms</th><th>p99 ms</th><th>strongest held</th></tr></thead><tbody>\n",
    );
    for row in &map.rows {
        let _ = write!(
            h,
            "<tr data-row=\"{0}\"><th scope=\"row\">{0}</th><td class=\"num\">{1}</td>",
            text(&row.label),
            row.runs
        );
        for col in &map.columns {
            match row.columns.get(col) {
                Some(t) if t.judged() > 0 => share_cell(h, col, t, store_prefix),
                _ => h.push_str("<td class=\"share s-na\" title=\"not judged\">\u{2013}</td>"),
            }
        }
        let pct =
            |x: Option<f64>| x.map(|v| format!("{:.0}%", v * 100.0)).unwrap_or_else(|| "\u{2013}".into());
        let ms = |x: Option<f64>| x.map(|v| format!("{v:.1}")).unwrap_or_else(|| "\u{2013}".into());
        let _ = writeln!(
            h,
            "<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            pct(row.availability_in_faults),
            ms(row.p50_ms),
            ms(row.p99_ms),
            text(row.strongest_held.as_deref().unwrap_or("none"))
        );
    }
    h.push_str("</tbody></table>\n");
}

fn share_cell(h: &mut String, col: &str, t: &Tally, store_prefix: &str) {
    let class = if t.always_held() {
        "s-all"
    } else if t.held > 0 {
        "s-some"
    } else if t.broke > 0 {
        "s-none"
    } else {
        "s-unknown"
    };
    let share = t.share().unwrap_or(0.0);
    let _ = write!(
        h,
        "<td class=\"share {class}\" title=\"{}\">{:.0}%",
        text(&format!("{col}: held in {} of {} runs, {} undecided", t.held, t.judged(), t.unknown)),
        share * 100.0
    );
    if !t.breaches.is_empty() {
        h.push_str("<br>");
    }
    for (i, b) in t.breaches.iter().enumerate() {
        match &b.run {
            Some(run) => {
                let _ = write!(
                    h,
                    "<a class=\"breach\" href=\"{}/report.html\" title=\"{}\">{}</a>",
                    run_href(store_prefix, run),
                    text(&format!("{}: {}", b.cell, b.witness)),
                    i + 1
                );
            }
            None => {
                let _ = write!(h, "<span title=\"{}\">{}</span>", text(&b.witness), i + 1);
            }
        }
    }
    h.push_str("</td>");
}

fn render_cells(h: &mut String, suite: &SuiteRecord, store_prefix: &str) {
    h.push_str("<h2>Cells</h2>\n<table id=\"cells\"><thead><tr><th>outcome</th><th>cell</th><th>expected</th><th>verdict</th><th>seconds</th><th>why</th></tr></thead><tbody>\n");
    for c in &suite.cells {
        let name = match &c.run {
            Some(run) => {
                format!("<a href=\"{}/report.html\">{}</a>", run_href(store_prefix, run), text(&c.id))
            }
            None => text(&c.id),
        };
        let _ = writeln!(
            h,
            "<tr class=\"cell\"><td class=\"o-{o}\">{o}</td><td>{name}</td><td>{}</td><td>{}</td><td class=\"num\">{:.1}</td><td>{}</td></tr>",
            text(&c.expect),
            text(&c.verdict),
            c.wall_s,
            text(&c.why),
            o = c.outcome.as_str(),
        );
    }
    h.push_str("</tbody></table>\n");
    if suite.outcome == Outcome::Pass {
        h.push_str("<p>Every cell came out as expected.</p>\n");
    }
}

/// The link to run folder `run` (store-relative) from a page `store_prefix` below the store.
fn run_href(store_prefix: &str, run: &str) -> String {
    let mut out = String::from(store_prefix);
    for (i, seg) in run.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        push_href_segment(&mut out, seg);
    }
    out
}
