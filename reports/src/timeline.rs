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

use crate::escape::{script_json, text};
use crate::faults::Window;
use crate::status_samples::{Band, Measure, NodeStatusTimeline, STUCK_NS};
use rustc_hash::FxHashMap;
use std::fmt::Write;
use sunder_check::history::{Op, OpType, Process};

/// Rows a page of the timeline shows.
pub const PAGE_SIZE: usize = 200;

/// Most rows the timeline keeps: the first half and the last half of a longer history's,
/// so the report of a run of any length stays within about 25 MB (a 60 s single-kv run at
/// full speed has about a million calls, all kept).
pub const MAX_ROWS: usize = 1_200_000;

/// Longest value, as JSON text, a row keeps whole. A longer one (a set read returns the
/// whole set, so a set run's reads grow with it) is shown by its beginning and its size,
/// which keeps the page small whatever a workload reads; `history.jsonl` has it whole.
pub const MAX_VALUE_BYTES: usize = 240;

/// Rows per block of the kept end of a long history: the oldest block is dropped whole.
const BLOCK_ROWS: usize = 4_096;

/// Names interned into a table the rows point into.
#[derive(Default)]
struct Names {
    ids: FxHashMap<String, usize>,
    list: Vec<String>,
}

impl Names {
    fn id(&mut self, name: Option<&str>) -> i64 {
        let Some(name) = name else { return -1 };
        if let Some(&id) = self.ids.get(name) {
            return id as i64;
        }
        let id = self.list.len();
        self.ids.insert(name.to_string(), id);
        self.list.push(name.to_string());
        id as i64
    }
}

/// A block of rows from the end of a long history: its first row's absolute index and
/// time, so it can follow whatever row is kept before it.
struct Block {
    first: (i64, i64),
    first_rest: String,
    body: String,
    last: (i64, i64),
    rows: usize,
}

/// Row text, the first half of [`MAX_ROWS`] kept as it comes, then the latest rows in
/// blocks.
struct RowText {
    max_rows: usize,
    head: String,
    head_rows: usize,
    head_last: (i64, i64),
    tail: std::collections::VecDeque<Block>,
    tail_rows: usize,
    skipped: u64,
}

impl RowText {
    /// Adds a row whose fields after index and time are `rest` (with its closing `]`).
    fn push(&mut self, index: i64, us: i64, rest: &str) {
        if self.head_rows < self.max_rows / 2 {
            if self.head_rows > 0 {
                self.head.push(',');
            }
            let _ = write!(self.head, "[{},{},{rest}", index - self.head_last.0, us - self.head_last.1);
            self.head_last = (index, us);
            self.head_rows += 1;
            return;
        }
        match self.tail.back_mut() {
            Some(b) if b.rows < BLOCK_ROWS => {
                let _ = write!(b.body, ",[{},{},{rest}", index - b.last.0, us - b.last.1);
                b.last = (index, us);
                b.rows += 1;
            }
            _ => self.tail.push_back(Block {
                first: (index, us),
                first_rest: rest.to_string(),
                body: String::new(),
                last: (index, us),
                rows: 1,
            }),
        }
        self.tail_rows += 1;
        while self.tail_rows > self.max_rows - self.max_rows / 2 {
            let Some(dropped) = self.tail.pop_front() else { break };
            self.tail_rows -= dropped.rows;
            self.skipped += dropped.rows as u64;
        }
    }

    fn rows(&self) -> usize {
        self.head_rows + self.tail_rows
    }

    /// The rows as one JSON array's contents.
    fn join(self) -> String {
        let mut out = self.head;
        let mut last = self.head_last;
        for b in self.tail {
            if !out.is_empty() {
                out.push(',');
            }
            let _ = write!(out, "[{},{},{}", b.first.0 - last.0, b.first.1 - last.1, b.first_rest);
            out.push_str(&b.body);
            last = b.last;
        }
        out
    }
}

/// A row waiting for the rows before it: a call's row is known only once it completes, and
/// rows go out in invocation order.
enum Slot {
    Open,
    Ready { index: i64, us: i64, rest: String },
}

/// What the timeline section shows.
#[derive(Debug, Clone, Default)]
pub struct TimelineData {
    /// The data block, already safe to place inside a script block.
    pub json: String,
    /// Rows kept.
    pub rows: usize,
    /// Rows of a long history left out between the first and the last kept ones.
    pub skipped: u64,
}

/// Builds the timeline's data from a history's ops read in order, in memory bounded by
/// [`MAX_ROWS`] and by the calls open at once: each call becomes a row at its invocation's
/// place once it completes. Calls are paired as [`crate::calls::Calls::pair`] pairs them.
pub struct TimelineBuilder {
    fs: Names,
    keys: Names,
    nodes: Names,
    /// Open calls by process: their slot and their invocation.
    open: FxHashMap<u64, (u64, Op)>,
    slots: std::collections::VecDeque<Slot>,
    /// Number of the slot at the front of `slots`.
    first_slot: u64,
    text: RowText,
    value_buf: Vec<u8>,
}

impl Default for TimelineBuilder {
    fn default() -> TimelineBuilder {
        TimelineBuilder::with_max_rows(MAX_ROWS)
    }
}

impl TimelineBuilder {
    /// A builder that keeps at most `max_rows` rows (a parameter for tests).
    pub fn with_max_rows(max_rows: usize) -> TimelineBuilder {
        TimelineBuilder {
            fs: Names::default(),
            keys: Names::default(),
            nodes: Names::default(),
            open: FxHashMap::default(),
            slots: Default::default(),
            first_slot: 0,
            text: RowText {
                max_rows: max_rows.max(2),
                head: String::new(),
                head_rows: 0,
                head_last: (0, 0),
                tail: Default::default(),
                tail_rows: 0,
                skipped: 0,
            },
            value_buf: Vec::with_capacity(64),
        }
    }

    /// Takes the next op of the history.
    pub fn feed(&mut self, op: &Op) {
        match op.process {
            Process::Nemesis => {
                // A nemesis action's completion says what was done.
                if op.kind != OpType::Invoke {
                    let rest = self.rest(-1, 3, -1, op, &op.value, op.node.as_deref(), op.error.as_deref());
                    self.slots.push_back(Slot::Ready {
                        index: op.index as i64,
                        us: (op.time / 1000) as i64,
                        rest,
                    });
                    self.drain();
                }
            }
            Process::Client(p) => {
                if op.kind == OpType::Invoke {
                    let slot = self.first_slot + self.slots.len() as u64;
                    self.slots.push_back(Slot::Open);
                    if let Some((older, invoke)) = self.open.insert(p, (slot, op.clone())) {
                        self.settle(older, &invoke, None);
                    }
                } else if let Some((slot, invoke)) = self.open.remove(&p) {
                    self.settle(slot, &invoke, Some(op));
                }
            }
        }
    }

    fn settle(&mut self, slot: u64, invoke: &Op, done: Option<&Op>) {
        let Process::Client(process) = invoke.process else { return };
        let outcome = match done.map(|d| d.kind) {
            Some(OpType::Ok) => 0,
            Some(OpType::Fail) => 1,
            _ => 2,
        };
        let lat = done.map(|d| (d.time.saturating_sub(invoke.time) / 1000) as i64).unwrap_or(-1);
        let value = match done {
            Some(d) if !d.value.is_null() => &d.value,
            _ => &invoke.value,
        };
        let node = invoke.node.as_deref().or(done.and_then(|d| d.node.as_deref()));
        let error = done.and_then(|d| d.error.as_deref());
        let rest = self.rest(process as i64, outcome, lat, invoke, value, node, error);
        let at = (slot - self.first_slot) as usize;
        self.slots[at] = Slot::Ready { index: invoke.index as i64, us: (invoke.time / 1000) as i64, rest };
        if at == 0 {
            self.drain();
        }
    }

    /// A row's fields after its index and time, with the closing `]`.
    #[allow(clippy::too_many_arguments)]
    fn rest(
        &mut self,
        process: i64,
        outcome: u8,
        lat: i64,
        op: &Op,
        value: &serde_json::Value,
        node: Option<&str>,
        error: Option<&str>,
    ) -> String {
        let mut rest = String::with_capacity(24);
        let _ = write!(
            rest,
            "{process},{},{},{outcome},{lat},",
            self.fs.id(Some(&op.f)),
            self.keys.id(op.key.as_deref())
        );
        self.value_buf.clear();
        serde_json::to_writer(&mut self.value_buf, value).expect("a JSON value serializes");
        let written = std::str::from_utf8(&self.value_buf).expect("serde_json writes UTF-8");
        if written.len() <= MAX_VALUE_BYTES {
            rest.push_str(written);
        } else {
            let shown = shortened(value, written);
            rest.push_str(&serde_json::to_string(&shown).expect("a string serializes"));
        }
        let node_id = self.nodes.id(node);
        if node_id >= 0 || error.is_some() {
            let _ = write!(rest, ",{node_id}");
        }
        if let Some(e) = error {
            rest.push(',');
            rest.push_str(&serde_json::to_string(e).expect("a string serializes"));
        }
        rest.push(']');
        rest
    }

    /// Writes out the rows at the front that are ready.
    fn drain(&mut self) {
        while let Some(Slot::Ready { .. }) = self.slots.front() {
            let Some(Slot::Ready { index, us, rest }) = self.slots.pop_front() else { break };
            self.text.push(index, us, &rest);
            self.first_slot += 1;
        }
    }

    /// The timeline's data; calls still open never completed.
    pub fn finish(mut self) -> TimelineData {
        let mut open: Vec<(u64, Op)> = self.open.drain().map(|(_, v)| v).collect();
        open.sort_unstable_by_key(|(slot, _)| *slot);
        for (slot, invoke) in open {
            self.settle(slot, &invoke, None);
        }
        self.drain();
        let (rows, skipped) = (self.text.rows(), self.text.skipped);
        let gap =
            if skipped > 0 { format!(",\"gap\":[{},{skipped}]", self.text.head_rows) } else { String::new() };
        let table = |names: &Names| serde_json::to_string(&names.list).expect("names serialize");
        let json = format!(
            "{{\"pageSize\":{PAGE_SIZE},\"f\":{},\"keys\":{},\"nodes\":{}{gap},\"rows\":[{}]}}",
            table(&self.fs),
            table(&self.keys),
            table(&self.nodes),
            self.text.join()
        );
        TimelineData { json: script_json(&json), rows, skipped }
    }
}

/// The timeline's data of a history held whole: the JSON text, already safe to place
/// inside a script block, and the number of rows.
pub fn data_json(ops: &[Op]) -> (String, usize) {
    let mut b = TimelineBuilder::default();
    for op in ops {
        b.feed(op);
    }
    let d = b.finish();
    (d.json, d.rows)
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
      "rows " + (from + 1) + "–" + to + " of " + total + " (page " + (page + 1) + " of " + pages() + ")" +
      (data.gap ? "; " + data.gap[1] + " rows after row " + data.gap[0] + " are not kept (history.jsonl has them all)" : "");
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

/// A value too long to show whole, as text: a list by its first elements and its length,
/// anything else by its first characters and its size in bytes.
fn shortened(value: &serde_json::Value, written: &str) -> String {
    let budget = MAX_VALUE_BYTES - 40;
    if let Some(items) = value.as_array() {
        let mut shown = String::from("[");
        for (i, item) in items.iter().enumerate() {
            let item = item.to_string();
            if shown.len() + item.len() > budget {
                let _ = write!(shown, "{}… {} elements in all]", if i > 0 { "," } else { "" }, items.len());
                return shown;
            }
            if i > 0 {
                shown.push(',');
            }
            shown.push_str(&item);
        }
        shown.push(']');
        return shown;
    }
    let mut cut = budget;
    while !written.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… {} bytes in all", &written[..cut], written.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn a_long_value_is_shown_by_its_beginning_and_its_size() {
        let set: Vec<u64> = (0..100_000).collect();
        let ops = vec![
            Op::client(0, 1_000, 0, OpType::Invoke, "read", json!(null)).with_key("s"),
            Op::client(1, 2_000, 0, OpType::Ok, "read", json!(set)).with_key("s"),
            Op::client(2, 3_000, 1, OpType::Invoke, "write", json!("x".repeat(10_000))),
            Op::client(3, 4_000, 1, OpType::Ok, "write", json!("x".repeat(10_000))),
        ];
        let (text, _) = data_json(&ops);
        assert!(text.len() < 2 * MAX_VALUE_BYTES + 400, "{} bytes", text.len());
        let v: Value = serde_json::from_str(&text).unwrap();
        let read = v["rows"][0][7].as_str().unwrap();
        assert!(read.starts_with("[0,1,2,3,") && read.ends_with("… 100000 elements in all]"), "{read}");
        let write = v["rows"][1][7].as_str().unwrap();
        assert!(write.starts_with("\"xxx") && write.ends_with("… 10002 bytes in all"), "{write}");
    }

    #[test]
    fn rows_delta_encode_index_and_time_and_intern_names() {
        let ops = vec![
            Op::client(0, 1_000, 0, OpType::Invoke, "write", json!(1)).with_key("k"),
            Op::client(1, 3_000, 1, OpType::Invoke, "read", json!(null)).with_key("k"),
            Op::client(2, 4_000, 0, OpType::Ok, "write", json!(1)).with_key("k"),
            Op::client(3, 9_000, 1, OpType::Ok, "read", json!("</script>")).with_key("k"),
        ];
        let (text, n) = data_json(&ops);
        assert_eq!(n, 2);
        assert!(!text.contains("</script>"));
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["f"], json!(["write", "read"]));
        assert_eq!(v["rows"], json!([[0, 1, 0, 0, 0, 0, 3, 1], [1, 2, 1, 1, 0, 0, 6, "</script>"]]));
    }
}
