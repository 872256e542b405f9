//! Assembles `report.html`: one self-contained page (inline CSS, inline SVG, one inline
//! script, no external resource) with the sections the issue asks for, in order: verdict
//! banner, input problems, settings, model ladder and checkers, anomalies with witnesses,
//! latency, throughput, availability per fault window, the paged timeline, and links to
//! the run's files. Every untrusted value goes through [`crate::escape::text`].

use crate::analysis::Analysis;
use crate::calls::{Calls, IndexMap};
use crate::escape::{push_href_segment, text};
use crate::faults::{Availability, FaultMap, Window};
use crate::latency::{PerfData, Quantiles};
use crate::plots::{self, Shading};
use crate::run_folder::{HistoryStatus, RunInputs};
use crate::test_info::display_value;
use crate::{packed, story, timeline, witness};
use std::collections::BTreeMap;
use std::fmt::Write;
use sunder_check::anomaly_names;
use sunder_check::verdict::{Anomaly, Results, Validity};

/// Models in the order the ladder shows them: linearizability on top of the checkers' own
/// ladder (strongest first), then any other model `judged` names, in its order.
pub fn model_ladder(judged: &BTreeMap<String, Validity>) -> Vec<&str> {
    let known: Vec<&str> = std::iter::once("linearizable").chain(sunder_check::ladder::MODELS).collect();
    let others: Vec<&str> = judged.keys().map(String::as_str).filter(|m| !known.contains(m)).collect();
    known.into_iter().chain(others).collect()
}

/// The page's Content-Security-Policy: no external resource of any kind, only the inline
/// style, script and SVG it carries. `serve` sends the same policy with every page.
pub(crate) const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:";

/// A history whose times span less than this is treated as carrying no timing.
const UNTIMED_SPAN_S: f64 = 0.001;

/// At most this many anomalies get a drawn witness; the rest are described in words.
pub const MAX_DRAWN_ANOMALIES: usize = 100;

/// The anomalies of a run: the composed list, or the checkers' own when that is empty.
/// Borrowed, since the page, the summary and the caller's count each ask for them.
pub fn anomalies_of(inputs: &RunInputs) -> Vec<&Anomaly> {
    inputs.results.as_ref().map(anomalies_in).unwrap_or_default()
}

/// The anomalies of `r` the report shows, as [`anomalies_of`] finds them.
pub fn anomalies_in(r: &Results) -> Vec<&Anomaly> {
    if !r.anomalies.is_empty() {
        return r.anomalies.iter().collect();
    }
    r.checkers.values().flat_map(|c| &c.anomalies).collect()
}

/// Renders the whole page.
pub fn render(inputs: &RunInputs, analysis: &Analysis) -> String {
    let Analysis { calls, index, faults, perf, .. } = analysis;
    let anomalies = anomalies_of(inputs);

    let mut out = String::with_capacity(analysis.timeline.json.len() + (1 << 20));
    let verdict = inputs.results.as_ref().map(|r| r.valid);
    let title = inputs.test.name.clone().unwrap_or_else(|| "unnamed test".to_string());
    let (class, word) = match verdict {
        Some(v) => (format!("v-{}", v.as_str()), v.as_str().to_uppercase()),
        None => ("v-unchecked".to_string(), "UNCHECKED".to_string()),
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"{CONTENT_SECURITY_POLICY}\">\n<title>{word}: {} · Sunder</title>\n<style>\n{}</style></head>\n<body>\n",
        text(&title),
        include_str!("style.css")
    );
    banner(&mut out, inputs, &class, &word, &title);
    out.push_str("<nav><a href=\"#summary\">Summary</a><a href=\"#settings\">Settings</a><a href=\"#models\">Models</a><a href=\"#anomalies\">Anomalies</a><a href=\"#latency\">Latency</a><a href=\"#throughput\">Throughput</a><a href=\"#availability\">Availability</a><a href=\"#timeline\">Timeline</a><a href=\"#files\">Files</a></nav>\n<main>\n");
    if !inputs.problems.is_empty() {
        out.push_str("<section id=\"problems\" class=\"problems\"><h2>What could not be read</h2><ul>\n");
        for p in &inputs.problems {
            let _ = writeln!(out, "<li>{}</li>", text(p));
        }
        out.push_str("</ul></section>\n");
    }
    // The timeline of a long run (every op, packed) costs as much as the rest of the page
    // together, and depends on nothing else in it: it is drawn on a second core meanwhile.
    let timeline = std::thread::scope(|scope| {
        let timeline = scope.spawn(|| {
            let mut section = String::new();
            timeline_section(&mut section, inputs, analysis);
            section
        });
        summary_section(&mut out, &anomalies, inputs, calls, index);
        settings(&mut out, inputs, analysis);
        models(&mut out, inputs);
        anomaly_section(&mut out, &anomalies, inputs, calls, index);
        let shading = Shading { faults: &faults.faults, phases: &faults.phases };
        performance(&mut out, perf, faults, &shading);
        availability_section(&mut out, analysis);
        timeline.join().expect("the timeline's thread panicked")
    });
    out.push_str(&timeline);
    files(&mut out, inputs);
    out.push_str("</main>\n</body></html>\n");
    out
}

fn banner(out: &mut String, inputs: &RunInputs, class: &str, word: &str, title: &str) {
    let _ = write!(
        out,
        "<header id=\"verdict\" class=\"banner {class}\"><h1>{word}</h1><p><strong>{}</strong>",
        text(title)
    );
    let t = &inputs.test;
    for (label, v) in [("system", &t.system), ("workload", &t.workload)] {
        if let Some(v) = v {
            let _ = write!(out, " · {label} <strong>{}</strong>", text(v));
        }
    }
    if !t.nemesis.is_empty() {
        let _ = write!(out, " · nemesis <strong>{}</strong>", text(&t.nemesis.join(", ")));
    }
    if let Some(s) = t.seed {
        let _ = write!(out, " · seed <strong>{s}</strong>");
    }
    out.push_str("</p>");
    match &inputs.results {
        Some(r) => {
            let n = anomalies_of(inputs).len() as u64;
            let distinct = r.anomaly_counts.distinct.max(n);
            let line = match r.valid {
                Validity::Valid => "Every checker found the history valid.".to_string(),
                Validity::Invalid if distinct > n => format!(
                    "{distinct} distinct anomalies, {n} listed (look-alikes folded); the proof of each is below."
                ),
                Validity::Invalid => format!(
                    "{n} distinct anomal{}; the proof of each is below.",
                    if n == 1 { "y" } else { "ies" }
                ),
                Validity::Unknown => "The checkers could not decide.".to_string(),
            };
            let _ = write!(out, "<p>{line}</p>");
            if let Some(reason) = &r.reason {
                let _ = write!(out, "<p class=\"verdict-reason\">Why unknown: {}</p>", text(reason));
            }
        }
        None => {
            out.push_str("<p class=\"verdict-reason\">No results.json: the history has not been checked.</p>")
        }
    }
    out.push_str("</header>\n");
}

fn settings(out: &mut String, inputs: &RunInputs, analysis: &Analysis) {
    let counts = &analysis.counts;
    out.push_str("<section id=\"settings\"><h2>Test settings</h2><table class=\"settings\">\n");
    for (k, v) in &inputs.test.raw {
        let _ = writeln!(out, "<tr><td>{}</td><td>{}</td></tr>", text(k), text(&display_value(v)));
    }
    let status = match inputs.history_status {
        HistoryStatus::Valid => "valid",
        HistoryStatus::Salvaged => "invalid (salvaged lines shown)",
        HistoryStatus::Absent => "absent",
    };
    let _ = writeln!(
        out,
        "<tr><td>history</td><td>{} ops ({} client calls, {} nemesis ops) over {:.3} s; {status}</td></tr>",
        counts.ops,
        counts.calls,
        counts.nemesis_ops,
        if counts.ops == 0 { 0.0 } else { analysis.perf.span_s },
    );
    // Which numbers the anomalies' op lists are: a foreign file's own indices, or positions.
    if let Some(n) = inputs.results.as_ref().and_then(|r| r.stats.get("op_numbers")).and_then(|n| n.as_str())
    {
        let meaning = match n {
            "position" => "0-based positions among the file's ops (the file has no indices)",
            _ => "the history's own indices",
        };
        let _ = writeln!(out, "<tr><td>op numbers</td><td>{}</td></tr>", text(meaning));
    }
    if let Some(a) =
        inputs.results.as_ref().and_then(|r| r.stats.get("availability")).and_then(|a| a.as_f64())
    {
        let _ = writeln!(out, "<tr><td>availability</td><td>{:.2}% of calls ok</td></tr>", a * 100.0);
    }
    out.push_str("</table></section>\n");
}

fn badge(v: Validity) -> String {
    format!("<span class=\"badge b-{0}\">{0}</span>", v.as_str())
}

fn models(out: &mut String, inputs: &RunInputs) {
    out.push_str("<section id=\"models\"><h2>Consistency models</h2>\n");
    let Some(r) = &inputs.results else {
        out.push_str("<p class=\"note\">No results: no model was judged.</p></section>\n");
        return;
    };
    let names = model_ladder(&r.models);
    if r.models.is_empty() {
        out.push_str("<p class=\"note\">No consistency model was judged for this workload.</p>\n");
    } else {
        let _ = writeln!(
            out,
            "<p>Strongest model that held: <strong>{}</strong>. Weakest model that failed: <strong>{}</strong>.</p>",
            text(r.strongest_held.as_deref().unwrap_or("none")),
            text(r.weakest_failed.as_deref().unwrap_or("none"))
        );
        out.push_str("<ol class=\"ladder\" title=\"strongest first\">\n");
        for m in names {
            let (cls, word) = match r.models.get(m) {
                Some(v) => (format!("m-{}", v.as_str()), v.as_str()),
                None => ("m-unjudged".to_string(), "not judged"),
            };
            let _ = write!(out, "<li class=\"{cls}\" title=\"{word}\">{}", text(m));
            if r.strongest_held.as_deref() == Some(m) {
                out.push_str("<span class=\"tag\">strongest held</span>");
            }
            if r.weakest_failed.as_deref() == Some(m) {
                out.push_str("<span class=\"tag\">weakest failed</span>");
            }
            out.push_str("</li>\n");
        }
        out.push_str("</ol>\n");
    }
    out.push_str("<h3>Checkers</h3><table class=\"checkers\"><thead><tr><th>checker</th><th>verdict</th><th class=\"num\">anomalies</th><th>note</th></tr></thead><tbody>\n");
    for (name, c) in &r.checkers {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            text(name),
            badge(c.valid),
            c.anomalies.len(),
            text(c.reason.as_deref().unwrap_or(""))
        );
    }
    out.push_str("</tbody></table></section>\n");
}

/// Anomalies of one model shown before the rest of its group is folded away.
pub const SHOWN_PER_MODEL: usize = 3;

/// The opening section: the story of the results, with the witness it points to drawn.
fn summary_section(
    out: &mut String,
    anomalies: &[&Anomaly],
    inputs: &RunInputs,
    calls: &Calls,
    index: &IndexMap,
) {
    let Some(r) = &inputs.results else { return };
    let story = story::tell(r);
    let _ = writeln!(
        out,
        "<section id=\"summary\"><h2>Summary</h2><p class=\"story\">{}</p>",
        text(&story.paragraph())
    );
    if let Some(a) = story.witness.and_then(|i| anomalies.get(i)) {
        let _ = writeln!(
            out,
            "<p><a href=\"#anomaly-1\">Anomaly 1</a>, the witness of the strongest failure, {}:</p>",
            text(&display_name(a))
        );
        witness::render(out, a, &inputs.ops, calls, index);
    }
    out.push_str("</section>\n");
}

fn display_name(a: &Anomaly) -> String {
    if a.name.is_empty() { anomaly_names::describe(&a.kind).name } else { a.name.clone() }
}

fn anomaly_section(
    out: &mut String,
    anomalies: &[&Anomaly],
    inputs: &RunInputs,
    calls: &Calls,
    index: &IndexMap,
) {
    let _ = writeln!(out, "<section id=\"anomalies\"><h2>Anomalies ({} distinct)</h2>", anomalies.len());
    if anomalies.is_empty() {
        out.push_str("<p class=\"note\">None found.</p>\n");
    } else {
        out.push_str("<p class=\"note\">In ladder order: linearizability first, then each weaker model that failed, then the invariants. Each anomaly with the ops that prove it, one row per process (bars run from invocation to completion; dashed bars never completed). Green: the longest linearizable prefix, numbered in order; red: the op that could not fit or the offending ops; orange: ops concurrent with it.</p>\n");
    }
    if let Some(r) = &inputs.results {
        anomaly_tables(out, r);
    }
    let mut i = 0;
    while i < anomalies.len() {
        let checker = anomalies[i].checker();
        let group = anomalies[i..].iter().take_while(|a| a.checker() == checker).count();
        let _ = writeln!(
            out,
            "<h3 class=\"model-group\">{} <span class=\"note\">({group} listed)</span></h3>",
            text(if checker.is_empty() { "unattributed" } else { checker })
        );
        for (j, a) in anomalies[i..i + group].iter().enumerate() {
            if j == SHOWN_PER_MODEL {
                let _ = writeln!(
                    out,
                    "<details class=\"more\"><summary>{} more {} anomal{}</summary>",
                    group - SHOWN_PER_MODEL,
                    text(checker),
                    if group - SHOWN_PER_MODEL == 1 { "y" } else { "ies" }
                );
            }
            anomaly_article(out, i + j, a, anomalies, inputs, calls, index);
        }
        if group > SHOWN_PER_MODEL {
            out.push_str("</details>\n");
        }
        i += group;
    }
    out.push_str("</section>\n");
}

fn anomaly_article(
    out: &mut String,
    n: usize,
    a: &Anomaly,
    all: &[&Anomaly],
    inputs: &RunInputs,
    calls: &Calls,
    index: &IndexMap,
) {
    let naming = anomaly_names::describe(&a.kind);
    let _ = write!(
        out,
        "<article class=\"anomaly\" id=\"anomaly-{}\"><h4>{}. {} <span class=\"paper\" title=\"the checker's name for it\">{}</span></h4>",
        n + 1,
        n + 1,
        text(&display_name(a)),
        text(naming.paper.as_deref().unwrap_or(&a.kind))
    );
    if !naming.meaning.is_empty() {
        let _ = write!(out, "<p class=\"meaning\">{}</p>", text(&naming.meaning));
    }
    let _ = writeln!(out, "<p class=\"explanation\">{}</p>", text(&a.explanation));
    let mut facts: Vec<String> = vec![];
    if a.count > 1 {
        facts.push(format!("reported {} times", a.count));
    }
    if a.similar > 0 {
        let examples: Vec<String> = a.examples.iter().map(|ops| crate::junit::op_list(ops)).collect();
        facts.push(format!(
            "and {} more like it (same processes, functions and keys, other values{})",
            a.similar,
            if examples.is_empty() {
                String::new()
            } else {
                format!("; e.g. ops {}", text(&examples.join("; ")))
            }
        ));
    }
    if !a.also_in.is_empty() {
        // The first listing of the same ops under a stronger model, for a link.
        let same = all.iter().position(|b| b.kind == a.kind && b.checker() != a.checker() && same_ops(a, b));
        let link = match same {
            Some(k) if k < n => format!(" (as <a href=\"#anomaly-{}\">anomaly {}</a>)", k + 1, k + 1),
            _ => String::new(),
        };
        facts.push(format!("the same ops also break {}{link}", text(&a.also_in.join(", "))));
    }
    if a.before_any_fault {
        facts.push("before any fault".to_string());
    } else if !a.faults.is_empty() {
        let names: Vec<String> = a.faults.iter().map(|id| fault_label(inputs, id)).collect();
        facts.push(format!("during {}", text(&names.join(", "))));
    } else if inputs.results.as_ref().is_some_and(|r| !r.faults.is_empty()) {
        facts.push("no fault active".to_string());
    }
    if !a.nodes.is_empty() {
        facts.push(format!("served by {}", text(&a.nodes.join(", "))));
    }
    if !facts.is_empty() {
        let _ = writeln!(out, "<p class=\"note facts\">{}</p>", facts.join(" · "));
    }
    if n < MAX_DRAWN_ANOMALIES {
        witness::render(out, a, &inputs.ops, calls, index);
    }
    out.push_str("</article>\n");
}

fn same_ops(a: &Anomaly, b: &Anomaly) -> bool {
    let mut x = a.ops.clone();
    let mut y = b.ops.clone();
    x.sort_unstable();
    y.sort_unstable();
    x == y
}

/// `F1 partition` for a window id, from the results' fault list.
fn fault_label(inputs: &RunInputs, id: &str) -> String {
    let name =
        inputs.results.as_ref().and_then(|r| r.faults.iter().find(|w| w.id == id)).map(|w| w.name.as_str());
    match name {
        Some(n) => format!("{id} {n}"),
        None => id.to_string(),
    }
}

/// Counts by kind, by fault window and by node, over every anomaly reported.
fn anomaly_tables(out: &mut String, r: &sunder_check::verdict::Results) {
    let c = &r.anomaly_counts;
    if c.by_kind.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<p>{} reported, {} distinct, {} listed (look-alikes folded into one; at most {} per model and kind).</p>",
        c.found,
        c.distinct,
        c.listed,
        sunder_check::distinct::LISTED_PER_KIND
    );
    out.push_str("<div class=\"anomaly-tables\"><table class=\"by-kind\"><thead><tr><th>model</th><th>anomaly</th><th class=\"num\">reported</th><th class=\"num\">distinct</th><th class=\"num\">listed</th></tr></thead><tbody>\n");
    for k in &c.by_kind {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{} <span class=\"paper\">{}</span></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            text(&k.checker),
            text(if k.name.is_empty() { &k.kind } else { &k.name }),
            text(&k.kind),
            k.found,
            k.distinct,
            k.listed
        );
    }
    out.push_str("</tbody></table>\n");
    if !c.by_fault.is_empty() {
        out.push_str("<table class=\"by-fault\"><thead><tr><th>when</th><th class=\"num\">anomalies</th></tr></thead><tbody>\n");
        for row in &c.by_fault {
            let label = match r.faults.iter().find(|w| w.id == row.label) {
                Some(w) => format!("{} {} ({:.1}–{:.1} s)", w.id, w.name, w.start_s, w.end_s),
                None => row.label.clone(),
            };
            let _ =
                writeln!(out, "<tr><td>{}</td><td class=\"num\">{}</td></tr>", text(&label), row.anomalies);
        }
        out.push_str("</tbody></table>\n");
    }
    if !c.by_node.is_empty() {
        out.push_str("<table class=\"by-node\"><thead><tr><th>node</th><th class=\"num\">anomalies</th></tr></thead><tbody>\n");
        for row in &c.by_node {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td class=\"num\">{}</td></tr>",
                text(&row.label),
                row.anomalies
            );
        }
        out.push_str("</tbody></table>\n");
    }
    out.push_str("</div>\n");
}

fn fault_legend(out: &mut String, faults: &FaultMap) {
    out.push_str("<div class=\"legend\">");
    for (i, w) in faults.faults.iter().enumerate() {
        let _ = write!(
            out,
            "<span class=\"fault\" title=\"{}\">F{} {} {:.1}–{:.1} s</span>",
            text(&w.detail),
            i + 1,
            text(&w.name),
            w.start as f64 / 1e9,
            w.end as f64 / 1e9
        );
    }
    for p in faults.phases.iter().filter(|p| p.name != "main") {
        let _ = write!(
            out,
            "<span class=\"phase\">{} phase from {:.1} s</span>",
            text(&p.name),
            p.start as f64 / 1e9
        );
    }
    out.push_str("</div>\n");
}

fn plot_or_note(out: &mut String, plot: Result<String, String>) {
    match plot {
        Ok(svg) => {
            out.push_str("<div class=\"plot\">");
            out.push_str(&svg);
            out.push_str("</div>\n");
        }
        Err(e) => {
            let _ = writeln!(out, "<p class=\"note\">The plot could not be drawn: {}</p>", text(&e));
        }
    }
}

fn performance(out: &mut String, perf: &PerfData, faults: &FaultMap, shading: &Shading) {
    out.push_str("<section id=\"latency\"><h2>Latency</h2>\n");
    // Without completed calls or without times there is nothing to plot: both sections say
    // why instead.
    let nothing_to_plot = if perf.completed == 0 {
        Some("No completed client call: nothing to plot.".to_string())
    } else if perf.span_s < UNTIMED_SPAN_S {
        Some(format!(
            "The history's times span {:.0} µs in all (imported histories often carry no times): there is nothing to plot.",
            perf.span_s * 1e6
        ))
    } else {
        None
    };
    if let Some(why) = nothing_to_plot {
        let note = format!("<p class=\"note\">{why}</p>");
        let _ =
            writeln!(out, "{note}</section>\n<section id=\"throughput\"><h2>Throughput</h2>{note}</section>");
        return;
    }
    out.push_str("<div class=\"legend\">");
    for (i, f) in perf.functions.iter().enumerate() {
        let _ = write!(out, "<span>{} {}</span>", plots::marker_glyph(i as u8), text(f));
    }
    out.push_str("<span class=\"ok\">● ok</span><span class=\"fail\">● fail</span><span class=\"info\">● info</span></div>\n");
    fault_legend(out, faults);
    plot_or_note(out, plots::latency_scatter(perf, shading));
    let _ = writeln!(
        out,
        "<p class=\"note\">{} of {} completed calls drawn (one point per function, outcome and pixel cell; the rest would overlap them exactly).</p>",
        perf.points.len(),
        perf.completed
    );
    let _ = writeln!(out, "<h3>Latency quantiles over time ({} s buckets)</h3>", perf.bucket_s);
    plot_or_note(out, plots::latency_quantiles(perf, shading));
    out.push_str("<h3>Latency quantiles of ok calls (ms)</h3><table class=\"quantiles\"><thead><tr><th>function</th><th class=\"num\">n</th><th class=\"num\">p50</th><th class=\"num\">p90</th><th class=\"num\">p99</th><th class=\"num\">p99.9</th><th class=\"num\">max</th></tr></thead><tbody>\n");
    for (name, q) in &perf.by_function {
        quantile_row(out, name.as_deref(), q);
    }
    out.push_str("</tbody></table></section>\n");
    out.push_str("<section id=\"throughput\"><h2>Throughput</h2>\n");
    fault_legend(out, faults);
    plot_or_note(out, plots::throughput(perf, shading));
    let _ = writeln!(
        out,
        "<p class=\"note\">Completions per second in {} s buckets, by outcome.</p></section>",
        perf.bucket_s
    );
}

fn quantile_row(out: &mut String, name: Option<&str>, q: &Quantiles) {
    let label = match name {
        Some(n) => text(n),
        None => "<strong>all</strong>".to_string(),
    };
    let _ = writeln!(
        out,
        "<tr><td>{label}</td><td class=\"num\">{}</td><td class=\"num\">{:.3}</td><td class=\"num\">{:.3}</td><td class=\"num\">{:.3}</td><td class=\"num\">{:.3}</td><td class=\"num\">{:.3}</td></tr>",
        q.n, q.p50, q.p90, q.p99, q.p999, q.max
    );
}

fn availability_row(out: &mut String, label: &str, window: Option<&Window>, a: &Availability) {
    let (span, detail) = match window {
        Some(w) => (
            format!(
                "{:.2}–{:.2} s{}",
                w.start as f64 / 1e9,
                w.end as f64 / 1e9,
                if w.end_index.is_none() && !w.detail.is_empty() { " (no stop recorded)" } else { "" }
            ),
            text(&w.detail),
        ),
        None => (String::new(), String::new()),
    };
    let share = match a.share() {
        Some(s) => format!("<span class=\"bar\" style=\"width:{:.0}px\"></span> {:.1}%", s * 80.0, s * 100.0),
        None => "no calls".to_string(),
    };
    let _ = writeln!(
        out,
        "<tr><td>{label}</td><td>{span}</td><td class=\"value\">{detail}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{share}</td></tr>",
        a.calls, a.ok, a.fail, a.info
    );
}

fn availability_section(out: &mut String, analysis: &Analysis) {
    let Analysis { faults, fault_availability, outside_faults, phase_availability, .. } = analysis;
    out.push_str("<section id=\"availability\"><h2>Availability per fault window</h2>\n<p class=\"note\">Share of calls invoked in each window that ended ok.</p>\n");
    out.push_str("<table class=\"availability\"><thead><tr><th>window</th><th>time</th><th>what</th><th class=\"num\">calls</th><th class=\"num\">ok</th><th class=\"num\">fail</th><th class=\"num\">info</th><th>availability</th></tr></thead><tbody>\n");
    for (i, (w, a)) in faults.faults.iter().zip(fault_availability).enumerate() {
        availability_row(out, &format!("F{} {}", i + 1, text(&w.name)), Some(w), a);
    }
    availability_row(out, "no fault active", None, outside_faults);
    for (p, a) in faults.phases.iter().zip(phase_availability) {
        let mut w = p.clone();
        w.detail.clear();
        availability_row(out, &format!("{} phase", text(&p.name)), Some(&w), a);
    }
    out.push_str("</tbody></table>\n");
    if !faults.events.is_empty() {
        out.push_str("<h3>Other nemesis ops</h3><ul>\n");
        for (index, f, v) in faults.events.iter().take(200) {
            let _ = writeln!(out, "<li>op {index}: {} <code>{}</code></li>", text(f), text(v));
        }
        out.push_str("</ul>\n");
    }
    for (index, kind) in &faults.unmatched_stops {
        let _ = writeln!(
            out,
            "<p class=\"note\">Op {index} stops fault {} that was never started.</p>",
            text(kind)
        );
    }
    out.push_str("</section>\n");
}

fn timeline_section(out: &mut String, inputs: &RunInputs, analysis: &Analysis) {
    let Analysis { counts, faults, timeline: data, .. } = analysis;
    let (json, rows) = (&data.json, data.rows);
    let which = if data.skipped > 0 {
        format!(
            "The first and the last of the history's {} rows ({} left out between them: <code>history.jsonl</code> has them all; {} kept)",
            rows as u64 + data.skipped,
            data.skipped,
            rows
        )
    } else {
        format!("All {rows} operations")
    };
    let _ = write!(
        out,
        "<section id=\"timeline\" data-rows=\"{rows}\"><h2>Timeline</h2>\n<p class=\"note\">{which} ({} ok, {} fail, {} info calls, plus nemesis ops), {} per page: lanes by process above, details below. Filter by process number (or <code>nemesis</code>), or show only failed and indeterminate calls.</p>\n",
        counts.ok,
        counts.fail,
        counts.info,
        timeline::PAGE_SIZE
    );
    if !inputs.status_timelines.is_empty() {
        let end = std::iter::once(counts.end_time)
            .chain(inputs.status_timelines.iter().flat_map(|t| t.samples.last().map(|s| s.time)));
        out.push_str("<h3 id=\"status-bands\">Blocking, from the nodes' own status</h3>\n<p class=\"note\">Each node's <code>GET /status</code>, sampled about every 200 ms: light red where it had transactions in doubt, dark red where one had been in doubt for over a second (blocked), orange where it held locks, grey where it did not answer, under the fault windows. Hover a band for its counts.</p>\n<div class=\"tl-scroll\">");
        out.push_str(&timeline::status_bands_svg(
            &inputs.status_timelines,
            &faults.faults,
            end.max().unwrap_or(0),
        ));
        out.push_str("</div>\n");
    }
    out.push_str("<div class=\"tl-controls\"><button id=\"tl-first\">« first</button><button id=\"tl-prev\">‹ prev</button><button id=\"tl-next\">next ›</button><button id=\"tl-last\">last »</button> <label>op index <input id=\"tl-index\" type=\"text\" inputmode=\"numeric\"></label><button id=\"tl-goto\">go</button> <label>process <input id=\"tl-process\" type=\"text\"></label> <label><input id=\"tl-problems\" type=\"checkbox\"> only fail/info</label><button id=\"tl-apply\">apply</button><span id=\"tl-status\">the timeline needs JavaScript</span></div>\n<div id=\"tl-lanes\"></div>\n");
    out.push_str("<div class=\"tl-scroll\"><table class=\"tl\"><thead><tr><th>op</th><th>time (s)</th><th>process</th><th>f</th><th>key</th><th>value</th><th>outcome</th><th>latency (ms)</th><th>node</th><th>error</th></tr></thead><tbody id=\"tl-body\"></tbody></table></div>\n");
    if json.len() > packed::PACK_ABOVE {
        let _ = write!(
            out,
            "<script type=\"text/plain\" id=\"timeline-data\" data-encoding=\"{}\">",
            packed::ENCODING
        );
        out.push_str(&packed::pack(json));
    } else {
        out.push_str("<script type=\"application/json\" id=\"timeline-data\">");
        out.push_str(json);
    }
    out.push_str("</script>\n<script>");
    out.push_str(packed::SCRIPT);
    out.push_str(timeline::SCRIPT);
    out.push_str("</script>\n</section>\n");
}

/// Percent-encodes a path segment for an `href`.
fn href_segment(s: &str) -> String {
    let mut out = String::new();
    push_href_segment(&mut out, s);
    out
}

fn files(out: &mut String, inputs: &RunInputs) {
    out.push_str("<section id=\"files\"><h2>Files</h2><ul class=\"files\">\n");
    for name in ["history.jsonl", "results.json", "test.json", "junit.xml", "summary.md", "sunder.log"] {
        if name == "junit.xml" || name == "summary.md" || inputs.dir.join(name).exists() {
            let _ = writeln!(out, "<li><a href=\"{name}\">{name}</a></li>");
        }
    }
    for log in &inputs.node_logs {
        let _ = writeln!(
            out,
            "<li><a href=\"nodes/{}/log\">node {} log</a> <span class=\"note\">({} bytes)</span></li>",
            href_segment(&log.node),
            text(&log.node),
            log.bytes
        );
    }
    out.push_str("</ul>\n");
    for log in &inputs.node_logs {
        let tail = log_tail(&inputs.dir.join(&log.rel_path));
        let _ = writeln!(
            out,
            "<details class=\"log-tail\"><summary>Last lines of node {}'s log</summary><pre>{}</pre></details>",
            text(&log.node),
            text(&tail)
        );
    }
    out.push_str("</section>\n");
}

/// Lines of a node log's end shown in the report.
const LOG_TAIL_LINES: usize = 40;
/// Bytes read from a node log's end at most.
const LOG_TAIL_BYTES: u64 = 16 * 1024;

/// The last lines of a log file, lossily decoded; a note when it cannot be read.
fn log_tail(path: &std::path::Path) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let read = || -> std::io::Result<String> {
        let mut f = std::fs::File::open(path)?;
        let len = f.metadata()?.len();
        let from = len.saturating_sub(LOG_TAIL_BYTES);
        f.seek(SeekFrom::Start(from))?;
        let mut buf = vec![];
        f.read_to_end(&mut buf)?;
        let text = String::from_utf8_lossy(&buf);
        let lines: Vec<&str> = text.lines().skip(usize::from(from > 0)).collect();
        Ok(lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n"))
    };
    read().unwrap_or_else(|e| format!("cannot read {}: {e}", path.display()))
}
