//! The full operation timeline. Every call (and nemesis op) becomes one compact JSON row,
//! embedded in a `<script type="application/json">` block passed through
//! [`crate::escape::script_json`]; a small inline script renders it a page at a time, as
//! per-process lanes and a table, so a million-op history still opens.
//!
//! Row format (arrays, to keep a million rows small): `[di, dt, p, f, k, o, lat, value,
//! node?, error?]` where `di`/`dt` are the invocation's history index and time (µs) as
//! deltas from the previous row, `p` the process (-1 for the nemesis), `f`/`k`/`node`
//! indices into name tables (-1 for none), `o` the outcome (0 ok, 1 fail, 2 info, 3
//! nemesis), `lat` the latency in µs (-1 when never completed).
//!
//! Above the lanes, for a run that sampled its nodes' `/status` (bank-2pc), a static SVG
//! draws per node the bands in which it had transactions in doubt (darker where one had
//! been in doubt for over a second: blocked), held locks or did not answer, under a lane of the fault windows, each band with its counts in a tooltip
//! ([`status_bands_svg`]). It is drawn on the server, every value escaped, so it needs no
//! script.

use crate::calls::{Calls, Outcome};
use crate::escape::{script_json, text};
use crate::faults::Window;
use crate::status_samples::{Band, Measure, NodeStatusTimeline, STUCK_NS};
use rustc_hash::FxHashMap;
use std::fmt::Write;
use sunder_check::history::{Op, OpType};

/// Rows a page of the timeline shows.
pub const PAGE_SIZE: usize = 200;

#[derive(Default)]
struct Names<'a> {
    ids: FxHashMap<&'a str, usize>,
    list: Vec<&'a str>,
}

impl<'a> Names<'a> {
    fn id(&mut self, name: Option<&'a str>) -> i64 {
        let Some(name) = name else { return -1 };
        let next = self.list.len();
        let id = *self.ids.entry(name).or_insert(next);
        if id == next {
            self.list.push(name);
        }
        id as i64
    }
}

/// The timeline's data as JSON text, already safe to place inside a script block.
/// Returns the text and the number of rows.
pub fn data_json(ops: &[Op], calls: &Calls) -> (String, usize) {
    let mut fs = Names::default();
    let mut keys = Names::default();
    let mut nodes = Names::default();
    let mut rows = String::with_capacity(ops.len() * 14 + 64);
    let (mut last_index, mut last_us) = (0i64, 0i64);
    let mut n = 0usize;
    let mut value_buf = Vec::with_capacity(64);
    for (pos, op) in ops.iter().enumerate() {
        let (process, outcome, lat, value, node, error);
        if op.is_nemesis() {
            if op.kind == OpType::Invoke {
                continue;
            }
            (process, outcome, lat, value, node, error) =
                (-1i64, 3, -1i64, &op.value, op.node.as_deref(), op.error.as_deref());
        } else {
            if op.kind != OpType::Invoke {
                continue;
            }
            let Some(c) = calls.call_of_op[pos] else { continue };
            let call = &calls.calls[c as usize];
            let done = call.complete.map(|p| &ops[p]);
            process = call.process as i64;
            outcome = match call.outcome {
                Outcome::Ok => 0,
                Outcome::Fail => 1,
                Outcome::Info => 2,
            };
            lat = done.map(|d| (d.time.saturating_sub(op.time) / 1000) as i64).unwrap_or(-1);
            value = match done {
                Some(d) if !d.value.is_null() => &d.value,
                _ => &op.value,
            };
            node = op.node.as_deref().or(done.and_then(|d| d.node.as_deref()));
            error = done.and_then(|d| d.error.as_deref());
        }
        let us = (op.time / 1000) as i64;
        if n > 0 {
            rows.push(',');
        }
        let _ = write!(
            rows,
            "[{},{},{},{},{},{},{},",
            op.index as i64 - last_index,
            us - last_us,
            process,
            fs.id(Some(&op.f)),
            keys.id(op.key.as_deref()),
            outcome,
            lat
        );
        value_buf.clear();
        serde_json::to_writer(&mut value_buf, value).expect("a JSON value serializes");
        rows.push_str(std::str::from_utf8(&value_buf).expect("serde_json writes UTF-8"));
        let node_id = nodes.id(node);
        if node_id >= 0 || error.is_some() {
            let _ = write!(rows, ",{node_id}");
        }
        if let Some(e) = error {
            rows.push(',');
            rows.push_str(&serde_json::to_string(e).expect("a string serializes"));
        }
        rows.push(']');
        last_index = op.index as i64;
        last_us = us;
        n += 1;
    }
    let table = |names: &Names| serde_json::to_string(&names.list).expect("names serialize");
    let json = format!(
        "{{\"pageSize\":{PAGE_SIZE},\"f\":{},\"keys\":{},\"nodes\":{},\"rows\":[{rows}]}}",
        table(&fs),
        table(&keys),
        table(&nodes)
    );
    (script_json(&json), n)
}

/// Width of the status bands' time axis, and of their label column, in pixels.
const BANDS_WIDTH: f64 = 860.0;
const BANDS_LABEL: f64 = 120.0;
const BANDS_LANE: f64 = 18.0;

fn seconds(ns: u64) -> String {
    format!("{:.3}", ns as f64 / 1e9)
}

/// Draws the nodes' in-doubt, lock and silence bands under a lane of `faults`, over the
/// run's first `end` ns. Every label and tooltip is escaped: node names, fault details
/// and coordinators all come from the run.
pub fn status_bands_svg(timelines: &[NodeStatusTimeline], faults: &[Window], end: u64) -> String {
    let span = end.max(1) as f64;
    let x = |t: u64| BANDS_LABEL + (t.min(end) as f64 / span) * BANDS_WIDTH;
    let lanes = 1 + 2 * timelines.len();
    let height = BANDS_LANE * lanes as f64 + 20.0;
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg class=\"status-bands\" width=\"{:.0}\" height=\"{height:.0}\" role=\"img\" aria-label=\"transactions in doubt and locks held per node, beside the faults\">",
        BANDS_LABEL + BANDS_WIDTH + 10.0
    );
    let mut lane = 0usize;
    let label = |out: &mut String, lane: usize, name: &str| {
        let _ = write!(
            out,
            "<text x=\"4\" y=\"{:.0}\" font-size=\"11\" fill=\"#555\">{}</text>",
            BANDS_LANE * lane as f64 + 13.0,
            text(name)
        );
    };
    let rect = |out: &mut String, lane: usize, from: u64, to: u64, class: &str, fill: &str, tip: &str| {
        let (x0, x1) = (x(from), x(to));
        let _ = write!(
            out,
            "<rect class=\"{class}\" x=\"{x0:.1}\" y=\"{:.0}\" width=\"{:.1}\" height=\"{:.0}\" fill=\"{fill}\"><title>{}</title></rect>",
            BANDS_LANE * lane as f64 + 2.0,
            (x1 - x0).max(2.0),
            BANDS_LANE - 4.0,
            text(tip)
        );
    };
    label(&mut out, lane, "faults");
    for w in faults {
        let tip = format!("{} {}–{} s: {}", w.name, seconds(w.start), seconds(w.end), w.detail);
        rect(&mut out, lane, w.start, w.end, "band-fault", "#e6b0aa", &tip);
    }
    for t in timelines {
        lane += 1;
        label(&mut out, lane, &format!("{} in doubt", t.node));
        let during = |b: &Band| format!("{}–{} s, {} sample(s)", seconds(b.start), seconds(b.end), b.samples);
        for b in t.bands(Measure::Silent) {
            let tip = format!("{} did not answer /status, {}", t.node, during(&b));
            rect(&mut out, lane, b.start, b.end, "band-silent", "#bbbbbb", &tip);
        }
        for b in t.bands(Measure::InDoubt) {
            let waiting = if b.coordinators.is_empty() {
                String::new()
            } else {
                format!(" (waiting for {})", b.coordinators.join(", "))
            };
            let tip = format!("{}: up to {} transaction(s) in doubt{waiting}, {}", t.node, b.max, during(&b));
            rect(&mut out, lane, b.start, b.end, "band-doubt", "#f1948a", &tip);
        }
        for b in t.bands(Measure::Stuck) {
            let longest = b
                .longest
                .as_ref()
                .map(|(txn, age)| format!("; longest {txn}, {} s", seconds(*age)))
                .unwrap_or_default();
            let tip = format!(
                "{}: up to {} transaction(s) in doubt for over {} s (blocked){longest}, {}",
                t.node,
                b.max,
                seconds(STUCK_NS),
                during(&b)
            );
            rect(&mut out, lane, b.start, b.end, "band-stuck", "#922b21", &tip);
        }
        lane += 1;
        label(&mut out, lane, &format!("{} locks", t.node));
        for b in t.bands(Measure::Locks) {
            let tip = format!("{}: up to {} lock(s) held, {}", t.node, b.max, during(&b));
            rect(&mut out, lane, b.start, b.end, "band-locks", "#e67e22", &tip);
        }
    }
    let _ = write!(
        out,
        "<text x=\"{BANDS_LABEL:.0}\" y=\"{:.0}\" font-size=\"11\" fill=\"#555\">0 s … {} s</text></svg>",
        height - 4.0,
        seconds(end)
    );
    out
}

/// The script that renders the timeline from the data block (read through
/// [`crate::packed::SCRIPT`]'s `sunderData`, which the page places before it). It builds every element with
/// `textContent`, never HTML strings, so data cannot become markup here either.
pub const SCRIPT: &str = r#"
sunderData("timeline-data", function (data) {
  "use strict";
  var box = document.getElementById("timeline");
  var rows = data.rows, n = rows.length;
  var idx = new Float64Array(n), t = new Float64Array(n);
  var a = 0, b = 0;
  for (var i = 0; i < n; i++) { a += rows[i][0]; b += rows[i][1]; idx[i] = a; t[i] = b; }
  var OUT = ["ok", "fail", "info", "nemesis"];
  var view = null, page = 0;
  var q = function (id) { return document.getElementById(id); };
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function svg(tag, attrs) {
    var e = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  function filter() {
    var p = q("tl-process").value.trim(), only = q("tl-problems").checked;
    var pn = p === "" ? null : (p === "nemesis" ? -1 : Number(p));
    if (pn === null && !only) { view = null; return; }
    var v = [];
    for (var i = 0; i < n; i++) {
      var r = rows[i];
      if (pn !== null && r[2] !== pn) continue;
      if (only && (r[5] === 0 || r[5] === 3)) continue;
      v.push(i);
    }
    view = v;
  }
  function count() { return view ? view.length : n; }
  function at(j) { return view ? view[j] : j; }
  function pages() { return Math.max(1, Math.ceil(count() / data.pageSize)); }
  function fmtValue(v) { return typeof v === "string" ? v : JSON.stringify(v); }
  function lanes(from, to) {
    var procs = [], seen = {};
    var t0 = Infinity, t1 = -Infinity;
    for (var j = from; j < to; j++) {
      var i = at(j), r = rows[i];
      if (!(r[2] in seen)) { seen[r[2]] = true; procs.push(r[2]); }
      t0 = Math.min(t0, t[i]); t1 = Math.max(t1, t[i] + Math.max(r[6], 0));
    }
    procs.sort(function (x, y) { return x - y; });
    var row = {}; procs.forEach(function (p, k) { row[p] = k; });
    var W = 860, L = 60, H = 16 * procs.length + 24, span = Math.max(t1 - t0, 1);
    var s = svg("svg", { width: W + L + 10, height: H, "class": "lanes" });
    procs.forEach(function (p, k) {
      var lbl = svg("text", { x: 4, y: 16 * k + 12, "class": "lane-label" });
      lbl.textContent = p === -1 ? "nemesis" : "p" + p;
      s.appendChild(lbl);
    });
    for (var j2 = from; j2 < to; j2++) {
      var i2 = at(j2), r2 = rows[i2];
      var x0 = L + (t[i2] - t0) / span * W;
      var w = r2[6] < 0 ? (r2[5] === 3 ? 2 : L + W - x0) : Math.max(r2[6] / span * W, 2);
      var g = svg("rect", { x: x0.toFixed(1), y: 16 * row[r2[2]] + 2, width: w.toFixed(1), height: 12, "class": "o" + r2[5] });
      var title = svg("title", {});
      title.textContent = "op " + idx[i2] + ": " + data.f[r2[3]] + (r2[4] >= 0 ? " " + data.keys[r2[4]] : "") + " " + fmtValue(r2[7]) + " (" + OUT[r2[5]] + ")";
      g.appendChild(title);
      s.appendChild(g);
    }
    var ax = svg("text", { x: L, y: H - 4, "class": "lane-label" });
    ax.textContent = (t0 / 1e6).toFixed(3) + " s … " + (t1 / 1e6).toFixed(3) + " s";
    s.appendChild(ax);
    return s;
  }
  function render() {
    var total = count(), from = page * data.pageSize, to = Math.min(total, from + data.pageSize);
    q("tl-status").textContent = total === 0 ? "no matching op" :
      "rows " + (from + 1) + "–" + to + " of " + total + " (page " + (page + 1) + " of " + pages() + ")";
    var lanesBox = q("tl-lanes"); lanesBox.textContent = "";
    if (to > from) lanesBox.appendChild(lanes(from, to));
    var body = q("tl-body"); body.textContent = "";
    for (var j = from; j < to; j++) {
      var i = at(j), r = rows[i], tr = el("tr", null, "o" + r[5]);
      tr.appendChild(el("td", String(idx[i])));
      tr.appendChild(el("td", (t[i] / 1e6).toFixed(6)));
      tr.appendChild(el("td", r[2] === -1 ? "nemesis" : String(r[2])));
      tr.appendChild(el("td", data.f[r[3]]));
      tr.appendChild(el("td", r[4] >= 0 ? data.keys[r[4]] : ""));
      tr.appendChild(el("td", fmtValue(r[7])));
      tr.appendChild(el("td", OUT[r[5]]));
      tr.appendChild(el("td", r[6] >= 0 ? (r[6] / 1000).toFixed(3) : ""));
      tr.appendChild(el("td", r.length > 8 && r[8] >= 0 ? data.nodes[r[8]] : ""));
      tr.appendChild(el("td", r.length > 9 ? r[9] : ""));
      body.appendChild(tr);
    }
  }
  function go(p) { page = Math.max(0, Math.min(pages() - 1, p)); render(); }
  q("tl-first").onclick = function () { go(0); };
  q("tl-prev").onclick = function () { go(page - 1); };
  q("tl-next").onclick = function () { go(page + 1); };
  q("tl-last").onclick = function () { go(pages() - 1); };
  q("tl-apply").onclick = function () { filter(); go(0); };
  q("tl-goto").onclick = function () {
    var want = Number(q("tl-index").value), lo = 0, hi = count() - 1;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (idx[at(mid)] < want) lo = mid + 1; else hi = mid; }
    go(Math.floor(lo / data.pageSize));
  };
  render();
  box.setAttribute("data-rendered", String(n));
});
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn rows_delta_encode_index_and_time_and_intern_names() {
        let ops = vec![
            Op::client(0, 1_000, 0, OpType::Invoke, "write", json!(1)).with_key("k"),
            Op::client(1, 3_000, 1, OpType::Invoke, "read", json!(null)).with_key("k"),
            Op::client(2, 4_000, 0, OpType::Ok, "write", json!(1)).with_key("k"),
            Op::client(3, 9_000, 1, OpType::Ok, "read", json!("</script>")).with_key("k"),
        ];
        let (text, n) = data_json(&ops, &Calls::pair(&ops));
        assert_eq!(n, 2);
        assert!(!text.contains("</script>"));
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["f"], json!(["write", "read"]));
        assert_eq!(v["rows"], json!([[0, 1, 0, 0, 0, 0, 3, 1], [1, 2, 1, 1, 0, 0, 6, "</script>"]]));
    }
}
