//! Drawing [`Figure`]s with plotters, once for any backend (PNG and SVG).
//!
//! Log axes are drawn by plotting `log10` of the data on a linear axis and labelling the ticks
//! `10^k`; this keeps one coordinate type for every panel.

use crate::figure::{
    Axis, Figure, HeatmapPanel, HistogramPanel, Legend, LinePanel, MeanStdPanel, Panel, RefLine,
    ScatterPanel,
};
use crate::table::format_sig;
use plotters::coord::Shift;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::ops::Range;
use std::path::Path;

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

/// Register the compiled-in font once per process.
pub fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, FONT)
            .map_err(|_| ())
            .expect("the bundled DejaVu Sans font is valid");
    });
}

/// Tableau 10: distinguishable, colour-blind friendlier than the plotters defaults.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

pub fn render_svg(fig: &Figure) -> Result<String, String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, fig.size()).into_drawing_area();
        draw_figure(fig, &root)?;
        root.present().map_err(err)?;
    }
    Ok(out)
}

pub fn render_rgb(fig: &Figure) -> Result<Vec<u8>, String> {
    let (w, h) = fig.size();
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        draw_figure(fig, &root)?;
        root.present().map_err(err)?;
    }
    Ok(buf)
}

pub fn render_png(fig: &Figure, path: &Path) -> Result<(), String> {
    let root = BitMapBackend::new(path, fig.size()).into_drawing_area();
    draw_figure(fig, &root)?;
    root.present().map_err(err)
}

fn draw_figure<DB: DrawingBackend>(
    fig: &Figure,
    root: &DrawingArea<DB, Shift>,
) -> Result<(), String> {
    root.fill(&WHITE).map_err(err)?;
    let area = match &fig.title {
        Some(t) => root.titled(t, (FAMILY, 30)).map_err(err)?,
        None => root.clone(),
    };
    let rows = fig.panels.len().div_ceil(fig.columns);
    for (panel, cell) in fig
        .panels
        .iter()
        .zip(area.split_evenly((rows, fig.columns)))
    {
        match panel {
            Panel::Lines(p) => draw_lines(p, &cell)?,
            Panel::Scatter(p) => draw_scatter(p, &cell)?,
            Panel::Histogram(p) => draw_histogram(p, &cell)?,
            Panel::MeanStd(p) => draw_mean_std(p, &cell)?,
            Panel::Heatmap(p) => draw_heatmap(p, &cell)?,
        }
    }
    Ok(())
}

/// Data value -> plotted coordinate (`log10` on log axes); `None` if it cannot be drawn.
fn tx(axis: &Axis, v: f64) -> Option<f64> {
    match (axis.log, v.is_finite()) {
        (_, false) => None,
        (true, _) if v <= 0.0 => None,
        (true, _) => Some(v.log10()),
        (false, _) => Some(v),
    }
}

/// The plotted range of an axis: its fixed range, or the data's with 5% padding.
fn span(axis: &Axis, data: impl Iterator<Item = f64>) -> Range<f64> {
    if let Some((lo, hi)) = axis.range
        && let (Some(a), Some(b)) = (tx(axis, lo), tx(axis, hi))
    {
        return a..b;
    }
    let (lo, hi) = data
        .filter_map(|v| tx(axis, v))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return 0.0..1.0;
    }
    let pad = if hi > lo { 0.05 * (hi - lo) } else { 0.5 };
    (lo - pad)..(hi + pad)
}

/// A tick value without trailing zeros: 0.8, 60, 1.25e-5.
fn format_short(v: f64) -> String {
    let s = format_sig(v, 4);
    let (mantissa, exponent) = s
        .split_once('e')
        .map_or((s.as_str(), None), |(m, e)| (m, Some(e)));
    let mantissa = if mantissa.contains('.') {
        mantissa.trim_end_matches('0').trim_end_matches('.')
    } else {
        mantissa
    };
    let mantissa = if mantissa == "-0" { "0" } else { mantissa };
    match exponent {
        Some(e) => format!("{mantissa}e{e}"),
        None => mantissa.to_string(),
    }
}

fn superscript(k: i64) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let mut s = String::from(if k < 0 { "10⁻" } else { "10" });
    for c in k.unsigned_abs().to_string().chars() {
        s.push(DIGITS[c.to_digit(10).unwrap() as usize]);
    }
    s
}

/// Tick labels: `10^k` on log axes (intermediate ticks unlabelled when the axis spans decades).
fn tick_label(axis: &Axis, range: &Range<f64>, v: f64) -> String {
    if !axis.log {
        // A tick meant to be 0 arrives as float noise (-5.8e-17) from the tick arithmetic.
        let zero = (range.end - range.start).abs() * 1e-9;
        return format_short(if v.abs() < zero { 0.0 } else { v });
    }
    if (v - v.round()).abs() < 1e-9 {
        superscript(v.round() as i64)
    } else if range.end - range.start < 2.0 {
        format_sig(10f64.powf(v), 2)
    } else {
        String::new()
    }
}

type Chart<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

fn chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    title: &str,
    x: &Axis,
    y: &Axis,
    xr: Range<f64>,
    yr: Range<f64>,
) -> Result<Chart<'a, DB>, String> {
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FAMILY, 24))
        .margin(18)
        .x_label_area_size(60)
        .y_label_area_size(85)
        .build_cartesian_2d(xr.clone(), yr.clone())
        .map_err(err)?;
    let ticks = |r: &Range<f64>, log: bool| {
        if log {
            ((r.end - r.start).ceil() as usize + 1).clamp(3, 14)
        } else {
            7
        }
    };
    let fx = |v: &f64| tick_label(x, &xr, *v);
    let fy = |v: &f64| tick_label(y, &yr, *v);
    chart
        .configure_mesh()
        .x_desc(x.label.as_str())
        .y_desc(y.label.as_str())
        .axis_desc_style((FAMILY, 20))
        .label_style((FAMILY, 17))
        .x_labels(ticks(&xr, x.log))
        .y_labels(ticks(&yr, y.log))
        .x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(210, 210, 210))
        .draw()
        .map_err(err)?;
    Ok(chart)
}

fn legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    pos: Legend,
) -> Result<(), String> {
    let position = match pos {
        Legend::UpperLeft => SeriesLabelPosition::UpperLeft,
        Legend::UpperRight => SeriesLabelPosition::UpperRight,
        Legend::LowerLeft => SeriesLabelPosition::LowerLeft,
        Legend::LowerRight => SeriesLabelPosition::LowerRight,
        Legend::Hidden => return Ok(()),
    };
    chart
        .configure_series_labels()
        .position(position)
        .label_font((FAMILY, 16))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(160, 160, 160))
        .draw()
        .map_err(err)
}

fn draw_lines<DB: DrawingBackend>(
    p: &LinePanel,
    area: &DrawingArea<DB, Shift>,
) -> Result<(), String> {
    // Mean and std over seeds at each x, skipping NaN.
    let stats: Vec<Vec<(f64, f64, f64)>> = p
        .series
        .iter()
        .map(|s| {
            (0..s.x.len())
                .filter_map(|i| {
                    let vals: Vec<f64> = s
                        .runs
                        .iter()
                        .filter_map(|r| r.get(i).copied())
                        .filter(|v| v.is_finite())
                        .collect();
                    (!vals.is_empty()).then(|| {
                        let m = vals.iter().sum::<f64>() / vals.len() as f64;
                        let sd = (vals.iter().map(|v| (v - m).powi(2)).sum::<f64>()
                            / vals.len() as f64)
                            .sqrt();
                        (s.x[i], m, sd)
                    })
                })
                .collect()
        })
        .collect();
    let xr = span(&p.x, stats.iter().flatten().map(|t| t.0));
    let yr = span(
        &p.y,
        stats.iter().flatten().flat_map(|t| [t.1 - t.2, t.1 + t.2]),
    );
    let mut chart = chart(area, &p.title, &p.x, &p.y, xr, yr.clone())?;
    for (i, (s, pts)) in p.series.iter().zip(&stats).enumerate() {
        let c = color(i);
        let px: Vec<Option<f64>> = pts.iter().map(|t| tx(&p.x, t.0)).collect();
        if s.runs.len() > 1 {
            let lower = |t: &(f64, f64, f64)| tx(&p.y, t.1 - t.2).unwrap_or(yr.start);
            let upper = |t: &(f64, f64, f64)| tx(&p.y, t.1 + t.2);
            let mut band: Vec<(f64, f64)> = pts
                .iter()
                .zip(&px)
                .filter_map(|(t, x)| Some((x.as_ref().copied()?, upper(t)?)))
                .collect();
            band.extend(
                pts.iter()
                    .zip(&px)
                    .rev()
                    .filter_map(|(t, x)| Some((x.as_ref().copied()?, lower(t)))),
            );
            chart
                .draw_series(std::iter::once(Polygon::new(band, c.mix(0.18).filled())))
                .map_err(err)?;
        }
        let line: Vec<(f64, f64)> = pts
            .iter()
            .zip(&px)
            .filter_map(|(t, x)| Some(((*x)?, tx(&p.y, t.1)?)))
            .collect();
        chart
            .draw_series(LineSeries::new(line, c.stroke_width(3)))
            .map_err(err)?
            .label(s.label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], c.stroke_width(3)));
    }
    legend(&mut chart, p.legend)
}

/// Reference curves, clipped to the plotted y range (points outside it are dropped, not clamped).
fn draw_ref_lines<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    x: &Axis,
    y: &Axis,
    lines: &[RefLine],
    xr: &Range<f64>,
    yr: &Range<f64>,
) -> Result<(), String> {
    for l in lines {
        let c = l.color.map(color).unwrap_or(BLACK);
        let style = c.stroke_width(2);
        let pts: Vec<(f64, f64)> = (0..=200)
            .filter_map(|i| {
                let u = xr.start + (xr.end - xr.start) * i as f64 / 200.0;
                let xv = if x.log { 10f64.powf(u) } else { u };
                Some((u, tx(y, l.curve.eval(xv))?))
            })
            .filter(|(_, v)| yr.contains(v))
            .collect();
        let anno = if l.dashed {
            chart
                .draw_series(DashedLineSeries::new(pts, 10, 7, style))
                .map_err(err)?
        } else {
            chart
                .draw_series(LineSeries::new(pts, style))
                .map_err(err)?
        };
        let dashed = l.dashed;
        anno.label(l.label.as_str()).legend(move |(x, y)| {
            let end = if dashed { x + 10 } else { x + 24 };
            PathElement::new(vec![(x, y), (end, y)], style)
        });
    }
    Ok(())
}

fn draw_scatter<DB: DrawingBackend>(
    p: &ScatterPanel,
    area: &DrawingArea<DB, Shift>,
) -> Result<(), String> {
    let xr = span(
        &p.x,
        p.groups.iter().flat_map(|g| g.points.iter().map(|q| q.0)),
    );
    let yr = span(
        &p.y,
        p.groups.iter().flat_map(|g| g.points.iter().map(|q| q.1)),
    );
    let mut chart = chart(area, &p.title, &p.x, &p.y, xr.clone(), yr.clone())?;
    for (i, g) in p.groups.iter().enumerate() {
        let c = color(i);
        let pts: Vec<(f64, f64)> = g
            .points
            .iter()
            .filter_map(|&(a, b)| Some((tx(&p.x, a)?, tx(&p.y, b)?)))
            .collect();
        chart
            .draw_series(
                pts.into_iter()
                    .map(|q| Circle::new(q, 3, c.mix(0.55).filled())),
            )
            .map_err(err)?
            .label(g.label.as_str())
            .legend(move |(x, y)| Circle::new((x + 10, y), 5, c.filled()));
    }
    draw_ref_lines(&mut chart, &p.x, &p.y, &p.lines, &xr, &yr)?;
    legend(&mut chart, p.legend)
}

fn draw_histogram<DB: DrawingBackend>(
    p: &HistogramPanel,
    area: &DrawingArea<DB, Shift>,
) -> Result<(), String> {
    let data: Vec<Vec<f64>> = p
        .groups
        .iter()
        .map(|(_, v)| v.iter().filter_map(|&x| tx(&p.x, x)).collect())
        .collect();
    let xr = span(&p.x, p.groups.iter().flat_map(|(_, v)| v.iter().copied()));
    let bins = p.bins.max(1);
    let width = (xr.end - xr.start) / bins as f64;
    let counts: Vec<Vec<usize>> = data
        .iter()
        .map(|vals| {
            let mut c = vec![0; bins];
            for v in vals {
                let b = ((v - xr.start) / width)
                    .floor()
                    .clamp(0.0, (bins - 1) as f64) as usize;
                c[b] += 1;
            }
            c
        })
        .collect();
    let top = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
    let y = Axis::linear("count").with_range(0.0, top * 1.08);
    let mut chart = chart(area, &p.title, &p.x, &y, xr.clone(), 0.0..top * 1.08)?;
    for (i, ((label, _), c)) in p.groups.iter().zip(&counts).enumerate() {
        let col = color(i);
        chart
            .draw_series(c.iter().enumerate().filter(|(_, n)| **n > 0).map(|(b, n)| {
                let x0 = xr.start + b as f64 * width;
                Rectangle::new([(x0, 0.0), (x0 + width, *n as f64)], col.mix(0.4).filled())
            }))
            .map_err(err)?
            .label(label.as_str())
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 6), (x + 16, y + 6)], col.mix(0.6).filled())
            });
    }
    legend(&mut chart, Legend::UpperLeft)
}

fn draw_mean_std<DB: DrawingBackend>(
    p: &MeanStdPanel,
    area: &DrawingArea<DB, Shift>,
) -> Result<(), String> {
    let x = Axis::linear(format!("{} std under the model", p.reward_label));
    let y = Axis::linear(format!("{} mean under the model", p.reward_label));
    let all = || p.groups.iter().flat_map(|g| g.points.iter());
    let xmax = all()
        .map(|q| q.0)
        .filter(|v| v.is_finite())
        .fold(p.small_std, f64::max);
    let xr = 0.0..xmax * 1.05;
    let yr = match p.reward_range {
        Some((lo, hi)) => lo..hi,
        None => span(&y, all().map(|q| q.1)),
    };
    let mut chart = chart(area, &p.title, &x, &y, xr, yr.clone())?;
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [(0.0, yr.start), (p.small_std, yr.end)],
            RGBColor(200, 200, 200).mix(0.45).filled(),
        )))
        .map_err(err)?
        .label(format!("std < {}", format_short(p.small_std)))
        .legend(|(x, y)| {
            Rectangle::new(
                [(x, y - 6), (x + 16, y + 6)],
                RGBColor(200, 200, 200).filled(),
            )
        });
    if let Some(low) = p.low_reward {
        let n = all().count().max(1);
        let corner = all().filter(|q| q.0 < p.small_std && q.1 < low).count();
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.0, yr.start), (p.small_std, low.min(yr.end))],
                RGBColor(214, 39, 40).mix(0.25).filled(),
            )))
            .map_err(err)?
            .label(format!(
                "std < {} & mean < {} ({:.1}%)",
                format_short(p.small_std),
                format_short(low),
                100.0 * corner as f64 / n as f64
            ))
            .legend(|(x, y)| {
                Rectangle::new(
                    [(x, y - 6), (x + 16, y + 6)],
                    RGBColor(214, 39, 40).mix(0.5).filled(),
                )
            });
    }
    for (i, g) in p.groups.iter().enumerate() {
        let c = color(i);
        let n = g.points.len().max(1);
        let small = g.points.iter().filter(|q| q.0 < p.small_std).count();
        chart
            .draw_series(
                g.points
                    .iter()
                    .filter(|q| q.0.is_finite() && q.1.is_finite())
                    .map(|&q| Circle::new(q, 3, c.mix(0.5).filled())),
            )
            .map_err(err)?
            .label(format!(
                "{} ({:.1}% small std)",
                g.label,
                100.0 * small as f64 / n as f64
            ))
            .legend(move |(x, y)| Circle::new((x + 10, y), 5, c.filled()));
    }
    legend(&mut chart, Legend::UpperRight)
}

/// Viridis, interpolated between five anchors.
fn viridis(t: f64) -> RGBColor {
    const ANCHORS: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let t = t.clamp(0.0, 1.0) * 4.0;
    let i = (t.floor() as usize).min(3);
    let f = t - i as f64;
    let (a, b) = (ANCHORS[i], ANCHORS[i + 1]);
    let mix = |u: f64, v: f64| (u + (v - u) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

fn draw_heatmap<DB: DrawingBackend>(
    p: &HeatmapPanel,
    area: &DrawingArea<DB, Shift>,
) -> Result<(), String> {
    let (rows, cols) = (p.values.len(), p.values.first().map_or(0, Vec::len));
    let finite = || p.values.iter().flatten().copied().filter(|v| v.is_finite());
    let lo = finite().fold(f64::INFINITY, f64::min);
    let hi = finite().fold(f64::NEG_INFINITY, f64::max);
    let scale = |v: f64| if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
    let mut chart = ChartBuilder::on(area)
        .caption(p.title.as_str(), (FAMILY, 24))
        .margin(18)
        .x_label_area_size(60)
        .y_label_area_size(95)
        // Integer ranges are inclusive in plotters: 0..=n-1 makes exactly n segments.
        .build_cartesian_2d(
            (0..cols as i32 - 1).into_segmented(),
            (0..rows as i32 - 1).into_segmented(),
        )
        .map_err(err)?;
    let label = |labels: &[String], v: &SegmentValue<i32>, flip: bool| match v {
        SegmentValue::CenterOf(i) => {
            let i = if flip { rows as i32 - 1 - *i } else { *i };
            labels.get(i as usize).cloned().unwrap_or_default()
        }
        _ => String::new(),
    };
    let fx = |v: &SegmentValue<i32>| label(&p.col_labels, v, false);
    let fy = |v: &SegmentValue<i32>| label(&p.row_labels, v, true);
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(p.x_label.as_str())
        .y_desc(p.y_label.as_str())
        .axis_desc_style((FAMILY, 20))
        .label_style((FAMILY, 17))
        .x_labels(cols)
        .y_labels(rows)
        .x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .draw()
        .map_err(err)?;
    let text_center = Pos::new(HPos::Center, VPos::Center);
    for (r, row) in p.values.iter().enumerate() {
        let yr = (rows - 1 - r) as i32;
        for (c, &v) in row.iter().enumerate() {
            // An undefined cell (no run, or a ratio over a zero reference) is light grey with
            // "-", as the tables write it, so that it is not mistaken for a missing panel.
            let (fill, text) = if v.is_finite() {
                (viridis(scale(v)), format_sig(v, p.digits))
            } else {
                (RGBColor(225, 225, 225), "-".to_string())
            };
            let cell = [
                (SegmentValue::Exact(c as i32), SegmentValue::Exact(yr)),
                (
                    SegmentValue::Exact(c as i32 + 1),
                    SegmentValue::Exact(yr + 1),
                ),
            ];
            chart
                .draw_series(std::iter::once(Rectangle::new(cell, fill.filled())))
                .map_err(err)?;
            let luminance = 0.299 * fill.0 as f64 + 0.587 * fill.1 as f64 + 0.114 * fill.2 as f64;
            let ink = if luminance > 140.0 { BLACK } else { WHITE };
            let style = TextStyle::from((FAMILY, 18).into_font())
                .color(&ink)
                .pos(text_center);
            chart
                .draw_series(std::iter::once(Text::new(
                    text,
                    (SegmentValue::CenterOf(c as i32), SegmentValue::CenterOf(yr)),
                    style,
                )))
                .map_err(err)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tick_tests {
    use super::*;

    #[test]
    fn a_tick_at_float_noise_around_zero_reads_zero() {
        let axis = Axis::linear("y");
        assert_eq!(
            tick_label(&axis, &(-0.1..0.1), -5.776e-17),
            format_short(0.0)
        );
        assert_eq!(tick_label(&axis, &(-0.1..0.1), 0.05), format_short(0.05));
    }
}
