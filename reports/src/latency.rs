//! The numbers behind the performance plots: a down-sampled point set for the scatter plot
//! (one point per grid cell, per function and outcome, so a million calls draw as a few
//! thousand circles that look the same), throughput and latency quantiles per time bucket,
//! and quantiles per function for the table. [`PerfAccumulator`] gathers them call by call
//! in bounded memory, so a report can be drawn while a run of any length is recorded.

use crate::calls::{Calls, Outcome};
use crate::latency_histogram::LatencyHistogram;
use rustc_hash::FxHashMap;
use sunder_check::history::Op;

/// One point of the latency scatter plot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencyPoint {
    /// Invocation time, seconds since the run began.
    pub t: f64,
    /// Latency in milliseconds.
    pub ms: f64,
    /// Function id (index into [`PerfData::functions`]).
    pub f: u8,
    /// How the call ended.
    pub outcome: Outcome,
}

/// Latency quantiles of a group of calls, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Quantiles {
    /// Number of calls.
    pub n: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Maximum.
    pub max: f64,
}

impl Quantiles {
    /// Quantiles of `ms`, which this sorts.
    pub fn of(ms: &mut [f64]) -> Quantiles {
        if ms.is_empty() {
            return Quantiles::default();
        }
        ms.sort_unstable_by(f64::total_cmp);
        let at = |q: f64| ms[((ms.len() as f64 - 1.0) * q).round() as usize];
        Quantiles {
            n: ms.len() as u64,
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            p999: at(0.999),
            max: at(1.0),
        }
    }
}

/// One time bucket of the throughput and quantile plots.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Bucket {
    /// Completions per second by outcome: ok, fail, info.
    pub rate: [f64; 3],
    /// Latency quantiles of calls completed in the bucket.
    pub latency: Quantiles,
}

/// Everything the performance section draws.
#[derive(Debug, Clone, Default)]
pub struct PerfData {
    /// Function names (untrusted: escape before showing), indexed by point `f`.
    pub functions: Vec<String>,
    /// Down-sampled scatter points.
    pub points: Vec<LatencyPoint>,
    /// Completed calls in all (before down-sampling).
    pub completed: u64,
    /// Time span of the history in seconds.
    pub span_s: f64,
    /// Smallest and largest latency, ms.
    pub ms_range: (f64, f64),
    /// Bucket width in seconds.
    pub bucket_s: f64,
    /// Buckets from time 0.
    pub buckets: Vec<Bucket>,
    /// Latency quantiles of ok calls per function, and `None` key for all.
    pub by_function: Vec<(Option<String>, Quantiles)>,
}

/// Most points the scatter plot draws; its grid is coarsened until they fit.
const MAX_POINTS: usize = 20_000;
/// More functions than this share the last marker and id.
const MAX_FUNCTIONS: usize = 250;
/// Most time buckets of the throughput and quantile plots.
const MAX_BUCKETS: u64 = 300;
/// Most time columns of the scatter grid.
const GRID_COLUMNS: u64 = 450;
/// Rows of the scatter grid per e-fold of latency, before any coarsening.
const GRID_ROWS_PER_E: f64 = 16.0;

/// Round widths of a time bucket or a scatter column, in ms; each a multiple of the one
/// before, so buckets can be merged into wider ones exactly while the run grows.
const WIDTHS_MS: [u64; 17] = [
    1, 5, 10, 50, 100, 500, 1_000, 5_000, 10_000, 30_000, 60_000, 300_000, 600_000, 1_800_000, 3_600_000,
    7_200_000, 21_600_000,
];

/// A time axis cut into at most `max` slots of a round width, widened (merging slots) as
/// later times arrive.
#[derive(Debug, Clone, Copy)]
struct Slots {
    width: usize,
    max: u64,
}

impl Slots {
    fn width_ns(self) -> u64 {
        WIDTHS_MS[self.width] * 1_000_000
    }

    /// How many slots of the current width make one of the next width.
    fn next_factor(self) -> Option<u64> {
        WIDTHS_MS.get(self.width + 1).map(|&w| w / WIDTHS_MS[self.width])
    }

    /// Widens until time `ns` falls in a slot below `max` (or no width is left); returns
    /// the factor by which slot numbers were divided.
    fn widen_for(&mut self, ns: u64) -> u64 {
        let mut factor = 1;
        while ns / self.width_ns() >= self.max {
            let Some(f) = self.next_factor() else { break };
            self.width += 1;
            factor *= f;
        }
        factor
    }

    fn slot(self, ns: u64) -> u64 {
        (ns / self.width_ns()).min(self.max - 1)
    }
}

/// Accumulates the performance data of a history's calls as they settle, in memory bounded
/// whatever the history's length: latency histograms instead of every latency (exact to the
/// microsecond below about 4 ms, to 0.05 % above, in the table; to 1 % in the plot), throughput in at most 300 buckets widened
/// as the run goes, and a scatter grid that keeps one point per cell.
#[derive(Debug, Clone)]
pub struct PerfAccumulator {
    functions: Vec<String>,
    f_ids: FxHashMap<String, u8>,
    completed: u64,
    span_ns: u64,
    ms_range: (f64, f64),
    buckets: Slots,
    rates: Vec<[u64; 3]>,
    bucket_latency: Vec<LatencyHistogram>,
    by_f: Vec<LatencyHistogram>,
    all_ok: LatencyHistogram,
    columns: Slots,
    rows_per_e: f64,
    points: FxHashMap<(u64, i64, u8, Outcome), LatencyPoint>,
}

impl Default for PerfAccumulator {
    fn default() -> PerfAccumulator {
        PerfAccumulator {
            functions: vec![],
            f_ids: FxHashMap::default(),
            completed: 0,
            span_ns: 0,
            ms_range: (f64::MAX, f64::MIN),
            buckets: Slots { width: 0, max: MAX_BUCKETS },
            rates: vec![],
            bucket_latency: vec![],
            by_f: vec![],
            all_ok: LatencyHistogram::default(),
            columns: Slots { width: 0, max: GRID_COLUMNS },
            rows_per_e: GRID_ROWS_PER_E,
            points: FxHashMap::default(),
        }
    }
}

impl PerfAccumulator {
    /// Notes the time of any op, so the span covers the whole history.
    pub fn saw_time(&mut self, ns: u64) {
        self.span_ns = self.span_ns.max(ns);
    }

    /// Notes a completed call of function `f`, invoked at `invoked` and completed at `done`
    /// (ns since the run began).
    pub fn completed(&mut self, f: &str, outcome: Outcome, invoked: u64, done: u64) {
        self.saw_time(done.max(invoked));
        let id = match self.f_ids.get(f) {
            Some(&id) => id,
            None => {
                let id = self.f_ids.len().min(MAX_FUNCTIONS) as u8;
                self.f_ids.insert(f.to_string(), id);
                if self.functions.len() <= MAX_FUNCTIONS {
                    self.functions.push(f.to_string());
                    self.by_f.push(LatencyHistogram::default());
                }
                id
            }
        };
        let ms = (done.saturating_sub(invoked) as f64 / 1e6).max(1e-3);
        self.completed += 1;
        self.ms_range = (self.ms_range.0.min(ms), self.ms_range.1.max(ms));
        let factor = self.buckets.widen_for(done);
        if factor > 1 {
            self.merge_buckets(factor);
        }
        let b = self.buckets.slot(done) as usize;
        if self.rates.len() <= b {
            self.rates.resize(b + 1, [0; 3]);
            self.bucket_latency.resize_with(b + 1, LatencyHistogram::coarse);
        }
        self.rates[b][outcome as usize] += 1;
        self.bucket_latency[b].add(ms);
        if outcome == Outcome::Ok {
            let last = self.by_f.len() - 1;
            self.by_f[(id as usize).min(last)].add(ms);
            self.all_ok.add(ms);
        }
        let factor = self.columns.widen_for(invoked);
        if factor > 1 {
            self.regrid();
        }
        self.place(LatencyPoint { t: invoked as f64 / 1e9, ms, f: id, outcome });
        while self.points.len() > MAX_POINTS && self.rows_per_e > 0.05 {
            self.rows_per_e /= 2.0;
            self.regrid();
        }
    }

    fn merge_buckets(&mut self, factor: u64) {
        let f = factor as usize;
        let n = self.rates.len().div_ceil(f);
        let mut rates = vec![[0u64; 3]; n];
        let mut latency: Vec<LatencyHistogram> = (0..n).map(|_| LatencyHistogram::coarse()).collect();
        for (i, (r, h)) in self.rates.iter().zip(std::mem::take(&mut self.bucket_latency)).enumerate() {
            for k in 0..3 {
                rates[i / f][k] += r[k];
            }
            latency[i / f].merge(h);
        }
        self.rates = rates;
        self.bucket_latency = latency;
    }

    fn cell(&self, p: &LatencyPoint) -> (u64, i64, u8, Outcome) {
        let column = self.columns.slot((p.t * 1e9) as u64);
        let row = (p.ms.ln() * self.rows_per_e).floor() as i64;
        (column, row, p.f, p.outcome)
    }

    /// Keeps `p` unless its cell holds an earlier point (earliest by time, then latency,
    /// so the survivor does not depend on the order points arrive in).
    fn place(&mut self, p: LatencyPoint) {
        let cell = self.cell(&p);
        let earlier = |a: &LatencyPoint, b: &LatencyPoint| {
            a.t.total_cmp(&b.t).then(a.ms.total_cmp(&b.ms)) == std::cmp::Ordering::Less
        };
        match self.points.get_mut(&cell) {
            Some(q) if earlier(q, &p) => {}
            Some(q) => *q = p,
            None => {
                self.points.insert(cell, p);
            }
        }
    }

    fn regrid(&mut self) {
        let points: Vec<LatencyPoint> = self.points.drain().map(|(_, p)| p).collect();
        for p in points {
            self.place(p);
        }
    }

    /// The performance data.
    pub fn finish(mut self) -> PerfData {
        let span_ns = self.span_ns.max(1);
        let mut d = PerfData {
            span_s: span_ns as f64 / 1e9,
            functions: self.functions.clone(),
            completed: self.completed,
            ..PerfData::default()
        };
        if self.completed == 0 {
            return d;
        }
        d.ms_range = self.ms_range;
        // The span may end after the last completion (a nemesis op, an open call).
        let factor = self.buckets.widen_for(span_ns.saturating_sub(1));
        if factor > 1 {
            self.merge_buckets(factor);
        }
        d.bucket_s = self.buckets.width_ns() as f64 / 1e9;
        let n = (span_ns.div_ceil(self.buckets.width_ns()) as usize).max(self.rates.len()).max(1);
        self.rates.resize(n, [0; 3]);
        self.bucket_latency.resize_with(n, LatencyHistogram::coarse);
        d.buckets = self
            .rates
            .iter()
            .zip(&self.bucket_latency)
            .map(|(r, h)| Bucket { rate: r.map(|n| n as f64 / d.bucket_s), latency: h.quantiles() })
            .collect();
        d.by_function.push((None, self.all_ok.quantiles()));
        for (name, h) in self.functions.iter().zip(&self.by_f) {
            d.by_function.push((Some(name.clone()), h.quantiles()));
        }
        let mut points: Vec<LatencyPoint> = self.points.into_values().collect();
        points.sort_unstable_by(|a, b| a.t.total_cmp(&b.t).then(a.ms.total_cmp(&b.ms)).then(a.f.cmp(&b.f)));
        d.points = points;
        d
    }
}

/// Computes the performance data of a history held whole.
pub fn perf_data(ops: &[Op], calls: &Calls) -> PerfData {
    let mut acc = PerfAccumulator::default();
    for op in ops {
        acc.saw_time(op.time);
    }
    for call in &calls.calls {
        if let Some(done) = call.complete {
            acc.completed(&ops[call.invoke].f, call.outcome, ops[call.invoke].time, ops[done].time);
        }
    }
    acc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sunder_check::history::OpType;

    #[test]
    fn quantiles_pick_nearest_ranks() {
        let mut ms: Vec<f64> = (1..=100).map(f64::from).collect();
        let q = Quantiles::of(&mut ms);
        assert_eq!((q.n, q.p50, q.p99, q.max), (100, 51.0, 99.0, 100.0));
    }

    #[test]
    fn down_samples_identical_points_to_one() {
        let mut ops = vec![];
        for i in 0..1000u64 {
            ops.push(Op::client(2 * i, 1_000_000, i, OpType::Invoke, "read", json!(null)));
            ops.push(Op::client(2 * i + 1, 2_000_000, i, OpType::Ok, "read", json!(1)));
        }
        let d = perf_data(&ops, &Calls::pair(&ops));
        assert_eq!(d.completed, 1000);
        assert_eq!(d.points.len(), 1);
        assert_eq!(d.by_function[1].1.n, 1000);
    }
}
