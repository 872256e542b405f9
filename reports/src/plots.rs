//! Draws the performance plots as inline SVG with plotters' SVG backend: latency scatter,
//! latency quantiles over time and throughput over time, each with the fault windows shaded
//! and numbered (`F1`, `F2`...; the report's legend names them). Only numbers and fixed
//! words go into the SVG: names from the history stay in the HTML legend, where they are
//! escaped.

use crate::calls::Outcome;
use crate::faults::Window;
use crate::latency::PerfData;
use plotters::coord::Shift;
use plotters::coord::combinators::{IntoLogRange, LogCoord};
use plotters::coord::ranged1d::AsRangedCoord;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

const WIDTH: u32 = 960;
const HEIGHT: u32 = 320;

/// Colour of an outcome, the same in plots and HTML legends.
pub fn outcome_colour(o: Outcome) -> RGBColor {
    match o {
        Outcome::Ok => RGBColor(0x2b, 0x6c, 0xb0),
        Outcome::Fail => RGBColor(0xd6, 0x3b, 0x3b),
        Outcome::Info => RGBColor(0xe0, 0x8e, 0x0b),
    }
}

/// Marker glyph used for function `f` in the scatter plot, as shown in the legend.
pub fn marker_glyph(f: u8) -> &'static str {
    ["●", "▲", "✕", "■"][f as usize % 4]
}

const FAULT_FILL: RGBColor = RGBColor(0xc0, 0x39, 0x2b);
const PHASE_FILL: RGBColor = RGBColor(0x7f, 0x8c, 0x8d);

/// Shaded intervals for a plot: faults (numbered from 1) and the heal/final phases.
pub struct Shading<'a> {
    /// Fault windows, numbered `F1`... in order.
    pub faults: &'a [Window],
    /// Phases; `main` is not shaded.
    pub phases: &'a [Window],
}

type PlotResult = Result<String, String>;

/// Picks one quantile of a bucket, for one line of the quantile plot.
type QuantilePick = fn(&crate::latency::Quantiles) -> f64;

/// The drawing area of one plot.
type Canvas<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// A chart with time in seconds along x and log-scaled latency in ms up y.
type LatencyChart<'a> = ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, LogCoord<f64>>>;

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// Renders one plot as SVG text: a white canvas, `draw` on it, then the flush.
fn render(draw: impl FnOnce(&Canvas<'_>) -> Result<(), String>) -> PlotResult {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        draw(&root)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// The axes every plot shares: time in seconds along x over the whole run, `y` up the side.
fn axes<'a, Y: AsRangedCoord<Value = f64>>(
    root: &Canvas<'a>,
    span_s: f64,
    y: Y,
) -> Result<ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, Y::CoordDescType>>, String> {
    ChartBuilder::on(root)
        .margin(12)
        .x_label_area_size(34)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..span_s, y)
        .map_err(err)
}

/// The latency axes, with the fault and phase shading drawn; also the y range, so a line
/// can be kept inside it.
fn latency_axes<'a>(
    root: &Canvas<'a>,
    d: &PerfData,
    shade: &Shading,
) -> Result<(LatencyChart<'a>, f64), String> {
    let (lo, hi) = (d.ms_range.0 * 0.8, d.ms_range.1 * 1.25);
    let mut chart = axes(root, d.span_s, (lo..hi).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("latency (ms)")
        .light_line_style(RGBColor(0xee, 0xee, 0xee))
        .draw()
        .map_err(err)?;
    draw_shading(&mut chart, shade, lo, hi)?;
    Ok((chart, lo))
}

/// The latency scatter plot: one point per (down-sampled) call, log latency.
pub fn latency_scatter(d: &PerfData, shade: &Shading) -> PlotResult {
    render(|root| {
        let (mut chart, _) = latency_axes(root, d, shade)?;
        for outcome in [Outcome::Ok, Outcome::Info, Outcome::Fail] {
            let c = outcome_colour(outcome).mix(0.75).filled();
            let pts = d.points.iter().filter(|p| p.outcome == outcome);
            chart
                .draw_series(pts.map(|p| -> DynElement<'static, SVGBackend<'_>, (f64, f64)> {
                    let at = (p.t, p.ms);
                    match p.f % 4 {
                        0 => Circle::new(at, 2, c).into_dyn(),
                        1 => TriangleMarker::new(at, 3, c).into_dyn(),
                        2 => Cross::new(at, 3, c.stroke_width(1)).into_dyn(),
                        _ => Rectangle::new([at, at], c).into_dyn(),
                    }
                }))
                .map_err(err)?;
        }
        Ok(())
    })
}

/// Latency quantiles (p50, p90, p99, max) of calls completed in each time bucket.
pub fn latency_quantiles(d: &PerfData, shade: &Shading) -> PlotResult {
    render(|root| {
        let (mut chart, lo) = latency_axes(root, d, shade)?;
        let lines: [(&str, RGBColor, QuantilePick); 4] = [
            ("p50", RGBColor(0x2b, 0x6c, 0xb0), |q| q.p50),
            ("p90", RGBColor(0x27, 0xae, 0x60), |q| q.p90),
            ("p99", RGBColor(0xe0, 0x8e, 0x0b), |q| q.p99),
            ("max", RGBColor(0xd6, 0x3b, 0x3b), |q| q.max),
        ];
        for (name, colour, pick) in lines {
            // One line per run of non-empty buckets: a gap (no call completed) stays a gap
            // rather than a slope between its neighbours.
            let mut segments: Vec<Vec<(f64, f64)>> = vec![vec![]];
            for (i, b) in d.buckets.iter().enumerate() {
                if b.latency.n == 0 {
                    if segments.last().is_some_and(|s| !s.is_empty()) {
                        segments.push(vec![]);
                    }
                    continue;
                }
                let point = ((i as f64 + 0.5) * d.bucket_s, pick(&b.latency).max(lo));
                segments.last_mut().expect("never empty").push(point);
            }
            let mut labelled = false;
            for seg in segments.into_iter().filter(|s| !s.is_empty()) {
                let series = chart.draw_series(LineSeries::new(seg, colour.stroke_width(2))).map_err(err)?;
                if !labelled {
                    series.label(name).legend(move |(x, y)| {
                        PathElement::new([(x, y), (x + 16, y)], colour.stroke_width(2))
                    });
                    labelled = true;
                }
            }
        }
        draw_legend(&mut chart)
    })
}

/// Throughput: completions per second by outcome, per time bucket.
pub fn throughput(d: &PerfData, shade: &Shading) -> PlotResult {
    render(|root| {
        let top = d.buckets.iter().map(|b| b.rate.iter().sum::<f64>()).fold(1.0, f64::max) * 1.15;
        let mut chart = axes(root, d.span_s, 0f64..top)?;
        chart
            .configure_mesh()
            .x_desc("time (s)")
            .y_desc("ops/s")
            .y_label_formatter(&|v| format!("{v:.0}"))
            .light_line_style(RGBColor(0xee, 0xee, 0xee))
            .draw()
            .map_err(err)?;
        draw_shading(&mut chart, shade, 0.0, top)?;
        for outcome in [Outcome::Ok, Outcome::Fail, Outcome::Info] {
            let colour = outcome_colour(outcome);
            let pts = d
                .buckets
                .iter()
                .enumerate()
                .map(|(i, b)| ((i as f64 + 0.5) * d.bucket_s, b.rate[outcome as usize]));
            chart
                .draw_series(LineSeries::new(pts, colour.stroke_width(2)))
                .map_err(err)?
                .label(outcome.as_str())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], colour.stroke_width(2)));
        }
        draw_legend(&mut chart)
    })
}

fn draw_legend<'a, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, Y>>,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(0xcc, 0xcc, 0xcc))
        .draw()
        .map_err(err)
}

fn draw_shading<'a, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, Y>>,
    shade: &Shading,
    lo: f64,
    hi: f64,
) -> Result<(), String> {
    let secs = |ns: u64| ns as f64 / 1e9;
    let phases = shade.phases.iter().filter(|p| p.name != "main");
    chart
        .draw_series(
            phases.clone().map(|p| {
                Rectangle::new([(secs(p.start), lo), (secs(p.end), hi)], PHASE_FILL.mix(0.12).filled())
            }),
        )
        .map_err(err)?;
    chart
        .draw_series(
            shade.faults.iter().map(|w| {
                Rectangle::new([(secs(w.start), lo), (secs(w.end), hi)], FAULT_FILL.mix(0.13).filled())
            }),
        )
        .map_err(err)?;
    let label = ("sans-serif", 11).into_font().color(&RGBColor(0x80, 0x20, 0x20));
    chart
        .draw_series(
            shade
                .faults
                .iter()
                .enumerate()
                .map(|(i, w)| Text::new(format!("F{}", i + 1), (secs(w.start), hi), label.clone())),
        )
        .map_err(err)?;
    let phase_label = ("sans-serif", 11).into_font().color(&RGBColor(0x40, 0x40, 0x40));
    // A phase label needs about 5% of the width; narrower phases are named in the legend.
    let span = chart.x_range().end - chart.x_range().start;
    chart
        .draw_series(phases.filter(|p| (span - secs(p.start)) > span * 0.05).map(|p| {
            // Phase names come from the history; only the two known ones are written here.
            let name = if p.name == "heal" || p.name == "final" { p.name.as_str() } else { "phase" };
            Text::new(name.to_string(), (secs(p.start), hi), phase_label.clone())
        }))
        .map_err(err)?;
    Ok(())
}
