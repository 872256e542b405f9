//! Draws one anomaly's witness: the ops that prove it, as a small per-process timeline
//! (one row per process, a bar from invocation to completion) with the offending ops
//! highlighted, and a table beside it. For linearizability witnesses
//! (`{"prefix", "states", "failed", "concurrent"}`) the longest linearizable prefix is
//! numbered in linearization order with the model state after each op, the op that could
//! not be linearized is marked, and the ops concurrent with it are shown.

use crate::calls::{Calls, IndexMap};
use crate::escape::{push_text, text};
use crate::test_info::display_value;
use rustc_hash::FxHashMap;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write;
use sunder_check::history::Op;
use sunder_check::verdict::Anomaly;

/// At most this many prefix ops are drawn (the last ones, nearest the failure).
const MAX_PREFIX_DRAWN: usize = 24;
/// At most this many calls are drawn in one witness.
const MAX_DRAWN: usize = 60;

/// What part an op plays in a witness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    /// Could not be linearized.
    Failed,
    /// Named by the anomaly as proof.
    Offending,
    /// Concurrent with the failed op.
    Concurrent,
    /// In the linearizable prefix.
    Prefix,
}

impl Role {
    fn class(self) -> &'static str {
        match self {
            Role::Failed => "w-failed",
            Role::Offending => "w-offending",
            Role::Concurrent => "w-concurrent",
            Role::Prefix => "w-prefix",
        }
    }
    fn label(self) -> &'static str {
        match self {
            Role::Failed => "could not be linearized",
            Role::Offending => "offending",
            Role::Concurrent => "concurrent",
            Role::Prefix => "linearized",
        }
    }
}

struct Drawn {
    call: usize,
    role: Role,
    /// Position in linearization order (1-based) and the state after, for prefix ops.
    order: Option<(usize, Option<Value>)>,
}

fn indices(v: Option<&Value>) -> Vec<u64> {
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_u64).collect(),
        Some(Value::Number(n)) => n.as_u64().into_iter().collect(),
        _ => vec![],
    }
}

/// Every history index [`render`] may place for `anomaly`: the ops it names and its
/// witness's prefix, failed and concurrent ops. A report that does not hold the history
/// keeps these ([`crate::history_stream`]).
pub fn named_indices(anomaly: &Anomaly) -> impl Iterator<Item = u64> + '_ {
    let w = &anomaly.witness;
    let fields = ["prefix", "failed", "concurrent"].into_iter().flat_map(|f| indices(w.get(f)));
    anomaly.ops.iter().copied().chain(fields)
}

/// Renders the witness of `anomaly` as HTML (an SVG timeline and a table), appending to
/// `out`. Ops the history does not hold are listed as missing.
pub fn render(out: &mut String, anomaly: &Anomaly, ops: &[Op], calls: &Calls, index: &IndexMap) {
    let w = &anomaly.witness;
    let prefix = indices(w.get("prefix"));
    let states: Vec<Value> = w.get("states").and_then(Value::as_array).cloned().unwrap_or_default();
    let failed = indices(w.get("failed"));
    let concurrent = indices(w.get("concurrent"));
    // A checker may describe ops in its model's words (`"ops": [{"index", "description"}]`).
    let descriptions: FxHashMap<u64, String> = w
        .get("ops")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|o| {
                    Some((o.get("index")?.as_u64()?, o.get("description")?.as_str()?.to_string()))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut notes = vec![];
    if let Some(k) = w.get("key").filter(|k| !k.is_null()) {
        notes.push(format!("key {}", display_value(k)));
    }
    if let Some(s) = w.get("initial_state").filter(|s| !s.is_null()) {
        notes.push(format!("initial state {}", display_value(s)));
    }
    if !notes.is_empty() {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", text(&notes.join("; ")));
    }

    let mut roles: BTreeMap<usize, Drawn> = BTreeMap::new();
    let mut missing = vec![];
    let mut nemesis = vec![];
    let mut place =
        |idx: u64, role: Role, order: Option<(usize, Option<Value>)>, roles: &mut BTreeMap<usize, Drawn>| {
            let Some(pos) = index.position(idx) else {
                missing.push(idx);
                return;
            };
            let Some(call) = calls.call_of_op[pos] else {
                nemesis.push(pos);
                return;
            };
            let call = call as usize;
            let entry = roles.entry(call).or_insert(Drawn { call, role, order: None });
            entry.role = entry.role.min(role);
            if order.is_some() {
                entry.order = order;
            }
        };
    let skipped_prefix = prefix.len().saturating_sub(MAX_PREFIX_DRAWN);
    for (k, &idx) in prefix.iter().enumerate().skip(skipped_prefix) {
        place(idx, Role::Prefix, Some((k + 1, states.get(k).cloned())), &mut roles);
    }
    for &idx in &concurrent {
        place(idx, Role::Concurrent, None, &mut roles);
    }
    for &idx in &anomaly.ops {
        place(idx, Role::Offending, None, &mut roles);
    }
    for &idx in &failed {
        place(idx, Role::Failed, None, &mut roles);
    }
    let mut drawn: Vec<Drawn> = roles.into_values().collect();
    let total = drawn.len();
    if drawn.len() > MAX_DRAWN {
        // Keep the most telling ones: failed and offending first, then the rest by time.
        drawn.sort_by_key(|d| (d.role, d.call));
        drawn.truncate(MAX_DRAWN);
        drawn.sort_by_key(|d| d.call);
    }
    if drawn.is_empty() {
        out.push_str("<p class=\"note\">This anomaly names no client op of the history to draw.</p>\n");
    } else {
        draw_svg(out, &drawn, ops, calls, &descriptions);
        draw_table(out, &drawn, ops, calls, &descriptions);
    }
    if skipped_prefix > 0 {
        let _ = writeln!(
            out,
            "<p class=\"note\">{skipped_prefix} earlier op(s) of the linearizable prefix are not drawn; the last {MAX_PREFIX_DRAWN} are.</p>"
        );
    }
    if total > drawn.len() {
        let _ = writeln!(out, "<p class=\"note\">{} of {total} witness ops drawn.</p>", drawn.len());
    }
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().map(u64::to_string).collect();
        let _ = writeln!(out, "<p class=\"note\">Ops not in the history: {}.</p>", list.join(", "));
    }
    for pos in nemesis {
        let op = &ops[pos];
        let _ = write!(out, "<p class=\"note\">Nemesis op {}: ", op.index);
        push_text(out, &op.f);
        out.push(' ');
        push_text(out, &display_value(&op.value));
        out.push_str("</p>\n");
    }
}

/// A short description of a call: the checker's own words when it gave them, else
/// `write k1 3`.
fn describe(ops: &[Op], calls: &Calls, call: usize, descriptions: &FxHashMap<u64, String>) -> String {
    let c = &calls.calls[call];
    let inv = &ops[c.invoke];
    if let Some(d) = descriptions.get(&inv.index) {
        return d.clone();
    }
    let value = match c.complete.map(|p| &ops[p].value) {
        Some(v) if !v.is_null() => v,
        _ => &inv.value,
    };
    let mut s = inv.f.to_string();
    if let Some(k) = &inv.key {
        s.push(' ');
        s.push_str(k);
    }
    s.push(' ');
    s.push_str(&display_value(value));
    s
}

const ROW: f64 = 30.0;
const LEFT: f64 = 70.0;
const PLOT_W: f64 = 820.0;

fn draw_svg(
    out: &mut String,
    drawn: &[Drawn],
    ops: &[Op],
    calls: &Calls,
    descriptions: &FxHashMap<u64, String>,
) {
    let mut procs: Vec<u64> = drawn.iter().map(|d| calls.calls[d.call].process).collect();
    procs.sort_unstable();
    procs.dedup();
    let t0 = drawn.iter().map(|d| ops[calls.calls[d.call].invoke].time).min().unwrap_or(0);
    let t_max = drawn
        .iter()
        .map(|d| {
            let c = &calls.calls[d.call];
            c.complete.map(|p| ops[p].time).unwrap_or(ops[c.invoke].time)
        })
        .max()
        .unwrap_or(t0);
    // Bars are placed by the order of their events in the history, not by clock time:
    // what proves an anomaly is which op began before which ended, and a rank scale keeps
    // short ops readable beside long ones (and histories without times drawable). Calls
    // without completion run off to the right edge.
    let mut events: Vec<usize> = drawn
        .iter()
        .flat_map(|d| {
            let c = &calls.calls[d.call];
            std::iter::once(c.invoke).chain(c.complete)
        })
        .collect();
    events.sort_unstable();
    events.dedup();
    let slots = events.len().max(2) as f64;
    let x = |pos: usize| {
        let rank = events.binary_search(&pos).unwrap_or(0) as f64;
        LEFT + (rank + 0.5) / slots * (PLOT_W - 12.0)
    };
    let height = ROW * procs.len() as f64 + 34.0;
    let _ = write!(
        out,
        "<svg class=\"witness\" width=\"{w}\" height=\"{height}\" viewBox=\"0 0 {w} {height}\" role=\"img\">",
        w = LEFT + PLOT_W + 10.0
    );
    for (row, p) in procs.iter().enumerate() {
        let y = 8.0 + row as f64 * ROW;
        let _ = write!(
            out,
            "<text x=\"4\" y=\"{:.1}\" class=\"w-proc\">p{p}</text><line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" class=\"w-lane\"/>",
            y + 16.0,
            LEFT + PLOT_W,
            y + 11.0,
            y + 11.0
        );
    }
    for d in drawn {
        let c = &calls.calls[d.call];
        let row = procs.binary_search(&c.process).unwrap_or(0);
        let y = 8.0 + row as f64 * ROW;
        let x0 = x(c.invoke);
        let x1 = c.complete.map(x).unwrap_or(LEFT + PLOT_W);
        let wbar = (x1 - x0).max(3.0);
        let open = if c.complete.is_none() { " w-open" } else { "" };
        let desc = describe(ops, calls, d.call, descriptions);
        let _ = write!(
            out,
            "<g class=\"{}{open}\"><title>op {} ({}, {}): {}</title><rect x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{wbar:.1}\" height=\"22\" rx=\"3\"/>",
            d.role.class(),
            ops[c.invoke].index,
            d.role.label(),
            c.outcome.as_str(),
            text(&desc)
        );
        let mut label = String::new();
        if let Some((k, _)) = &d.order {
            let _ = write!(label, "{k}. ");
        }
        label.push_str(&desc);
        // About 6.5 px per character at the label size; cut long labels rather than overflow.
        let fits = ((wbar - 6.0) / 6.5).max(0.0) as usize;
        if fits >= 3 {
            let shown: String = if label.chars().count() > fits {
                label.chars().take(fits.saturating_sub(1)).chain(['…']).collect()
            } else {
                label
            };
            let _ = write!(out, "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>", x0 + 4.0, y + 15.0, text(&shown));
        }
        out.push_str("</g>");
    }
    let span_ms = t_max.saturating_sub(t0) as f64 / 1e6;
    let axis_y = 8.0 + ROW * procs.len() as f64 + 14.0;
    let _ = writeln!(
        out,
        "<text x=\"{LEFT}\" y=\"{axis_y:.1}\" class=\"w-axis\">from t = {:.3} s, in history order</text><text x=\"{:.1}\" y=\"{axis_y:.1}\" class=\"w-axis\" text-anchor=\"end\">{span_ms:.3} ms in all</text></svg>",
        t0 as f64 / 1e9,
        LEFT + PLOT_W
    );
}

fn draw_table(
    out: &mut String,
    drawn: &[Drawn],
    ops: &[Op],
    calls: &Calls,
    descriptions: &FxHashMap<u64, String>,
) {
    let described = !descriptions.is_empty();
    out.push_str("<table class=\"witness-ops\"><thead><tr><th>order</th><th>op</th><th>process</th><th>f</th><th>key</th><th>value</th><th>outcome</th><th>role</th>");
    if described {
        out.push_str("<th>as the checker describes it</th>");
    }
    out.push_str("<th>state after</th></tr></thead><tbody>\n");
    let mut rows: Vec<&Drawn> = drawn.iter().collect();
    // Linearization order first, then the rest by invocation.
    rows.sort_by_key(|d| (d.order.as_ref().map(|o| o.0).unwrap_or(usize::MAX), d.call));
    for d in rows {
        let c = &calls.calls[d.call];
        let inv = &ops[c.invoke];
        let value = match c.complete.map(|p| &ops[p].value) {
            Some(v) if !v.is_null() && inv.value.is_null() => display_value(v),
            Some(v) if !v.is_null() && *v != inv.value => {
                format!("{} → {}", display_value(&inv.value), display_value(v))
            }
            _ => display_value(&inv.value),
        };
        let order = d.order.as_ref().map(|o| o.0.to_string()).unwrap_or_default();
        let state = d.order.as_ref().and_then(|o| o.1.as_ref()).map(display_value).unwrap_or_default();
        let _ = write!(
            out,
            "<tr class=\"{}\"><td>{order}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
            d.role.class(),
            inv.index,
            c.process,
            text(&inv.f),
            text(inv.key.as_deref().unwrap_or("")),
            text(&value),
            c.outcome.as_str(),
            d.role.label(),
        );
        if described {
            let _ = write!(
                out,
                "<td>{}</td>",
                text(descriptions.get(&inv.index).map(String::as_str).unwrap_or(""))
            );
        }
        let _ = writeln!(out, "<td>{}</td></tr>", text(&state));
    }
    out.push_str("</tbody></table>\n");
}
