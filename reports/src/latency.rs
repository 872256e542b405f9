//! The numbers behind the performance plots: each call's latency, a down-sampled point set
//! for the scatter plot (one point per pixel cell, per function and outcome, so a million
//! calls draw as a few thousand circles that look the same), throughput and latency
//! quantiles per time bucket, and quantiles per function for the table.

use crate::calls::{Calls, Outcome};
use rustc_hash::{FxHashMap, FxHashSet};
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

/// Cells of the scatter grid: one point survives per cell, function and outcome.
const GRID_X: f64 = 450.0;
const GRID_Y: f64 = 150.0;
/// Most points the scatter plot draws; the grid is coarsened until they fit.
const MAX_POINTS: usize = 20_000;
/// More functions than this share the last marker and id.
const MAX_FUNCTIONS: usize = 250;

/// Computes the performance data of a history.
pub fn perf_data(ops: &[Op], calls: &Calls) -> PerfData {
    let span_ns = ops.iter().map(|o| o.time).max().unwrap_or(0).max(1);
    let span_s = span_ns as f64 / 1e9;
    let mut d = PerfData { span_s, ..PerfData::default() };
    let mut f_ids: FxHashMap<&str, u8> = FxHashMap::default();
    let mut lat: Vec<(f64, f64, u8, Outcome, u64)> = Vec::with_capacity(calls.calls.len());
    for call in &calls.calls {
        let Some(ns) = calls.latency_ns(ops, call) else { continue };
        let f = ops[call.invoke].f.as_str();
        let next = f_ids.len().min(MAX_FUNCTIONS) as u8;
        let id = *f_ids.entry(f).or_insert_with(|| {
            if d.functions.len() <= MAX_FUNCTIONS {
                d.functions.push(f.to_string());
            }
            next
        });
        let ms = (ns as f64 / 1e6).max(1e-3);
        lat.push((
            ops[call.invoke].time as f64 / 1e9,
            ms,
            id,
            call.outcome,
            ops[call.complete.unwrap_or(call.invoke)].time,
        ));
    }
    d.completed = lat.len() as u64;
    if lat.is_empty() {
        return d;
    }
    let (lo, hi) = lat.iter().fold((f64::MAX, f64::MIN), |(lo, hi), l| (lo.min(l.1), hi.max(l.1)));
    d.ms_range = (lo, hi);
    let (llo, lhi) = (lo.ln(), hi.ln().max(lo.ln() + 1e-9));
    // Coarsen the grid until the points fit the budget, so the SVG stays a few MB. Each
    // coarser pass only looks at the previous pass's survivors: one per occupied cell.
    let mut points: Vec<LatencyPoint> =
        lat.iter().map(|&(t, ms, f, outcome, _)| LatencyPoint { t, ms, f, outcome }).collect();
    let mut scale = 1.0;
    loop {
        let mut seen: FxHashSet<(u16, u16, u8, Outcome)> = FxHashSet::default();
        let (gx, gy) = (GRID_X * scale, GRID_Y * scale);
        points.retain(|p| {
            let cx = (p.t / span_s * gx) as u16;
            let cy = ((p.ms.ln() - llo) / (lhi - llo) * gy) as u16;
            seen.insert((cx, cy, p.f, p.outcome))
        });
        if points.len() <= MAX_POINTS || scale < 0.1 {
            break;
        }
        scale *= 0.7;
    }
    d.points = points;
    d.bucket_s = bucket_width(span_s);
    let n_buckets = (span_s / d.bucket_s).ceil().max(1.0) as usize;
    let mut rates = vec![[0u64; 3]; n_buckets];
    let mut per_bucket_ms: Vec<Vec<f64>> = vec![vec![]; n_buckets];
    let mut by_f: Vec<Vec<f64>> = vec![vec![]; d.functions.len()];
    let mut all_ok = vec![];
    for &(_, ms, f, outcome, done_ns) in &lat {
        let b = ((done_ns as f64 / 1e9 / d.bucket_s) as usize).min(n_buckets - 1);
        rates[b][outcome as usize] += 1;
        per_bucket_ms[b].push(ms);
        if outcome == Outcome::Ok {
            let last = by_f.len() - 1;
            by_f[(f as usize).min(last)].push(ms);
            all_ok.push(ms);
        }
    }
    d.buckets = rates
        .iter()
        .zip(per_bucket_ms.iter_mut())
        .map(|(r, ms)| Bucket { rate: r.map(|n| n as f64 / d.bucket_s), latency: Quantiles::of(ms) })
        .collect();
    d.by_function.push((None, Quantiles::of(&mut all_ok)));
    for (name, ms) in d.functions.iter().zip(by_f.iter_mut()) {
        d.by_function.push((Some(name.clone()), Quantiles::of(ms)));
    }
    d
}

/// A round bucket width giving between about 60 and 300 buckets.
fn bucket_width(span_s: f64) -> f64 {
    const STEPS: [f64; 16] =
        [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0];
    STEPS.iter().copied().find(|s| span_s / s <= 300.0).unwrap_or(600.0)
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
