//! What a figure shows: plain data, no drawing code (see `draw.rs`).

use crate::PlotError;
use std::path::Path;

/// Where a panel's legend sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Legend {
    #[default]
    UpperLeft,
    UpperRight,
    LowerLeft,
    LowerRight,
    /// No legend (another panel of the figure carries it).
    Hidden,
}

/// An axis: its label, whether it is logarithmic, and an optional fixed range (in data units).
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub label: String,
    pub log: bool,
    pub range: Option<(f64, f64)>,
}

impl Axis {
    pub fn linear(label: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            log: false,
            range: None,
        }
    }
    pub fn log(label: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            log: true,
            range: None,
        }
    }
    pub fn with_range(mut self, lo: f64, hi: f64) -> Self {
        self.range = Some((lo, hi));
        self
    }
}

/// One curve of a [`LinePanel`]: values of every seed at shared `x`; drawn as the mean with a
/// +-1 std band (no band with one seed). `NaN` values are skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct LineSeries {
    pub label: String,
    pub x: Vec<f64>,
    /// One vector per seed, each as long as `x`.
    pub runs: Vec<Vec<f64>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LinePanel {
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<LineSeries>,
    pub legend: Legend,
}

/// A set of points drawn in one colour.
#[derive(Debug, Clone, PartialEq)]
pub struct PointGroup {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

/// A reference curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Curve {
    /// `y = coefficient * x^exponent` (a straight line on log-log axes).
    PowerLaw { coefficient: f64, exponent: f64 },
    /// `y = slope * x + intercept`.
    Line { slope: f64, intercept: f64 },
}

impl Curve {
    pub fn eval(&self, x: f64) -> f64 {
        match *self {
            Curve::PowerLaw {
                coefficient,
                exponent,
            } => coefficient * x.powf(exponent),
            Curve::Line { slope, intercept } => slope * x + intercept,
        }
    }
}

/// A labelled reference or fitted curve; `color` indexes the palette (the same index as a
/// group draws it in that group's colour), `None` draws it black. Dashed lines mark references.
#[derive(Debug, Clone, PartialEq)]
pub struct RefLine {
    pub label: String,
    pub curve: Curve,
    pub color: Option<usize>,
    pub dashed: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScatterPanel {
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub groups: Vec<PointGroup>,
    pub lines: Vec<RefLine>,
    pub legend: Legend,
}

/// Overlaid histograms of several groups with shared bins (log-spaced when `x.log`).
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramPanel {
    pub title: String,
    pub x: Axis,
    pub bins: usize,
    /// (label, values); non-finite values (and non-positive ones on a log axis) are dropped.
    pub groups: Vec<(String, Vec<f64>)>,
}

/// Reward mean (y) against reward std (x), one point per input, as in the paper's Figure 1.
/// Inputs with std below `small_std` fall in a shaded band whose share the legend states.
#[derive(Debug, Clone, PartialEq)]
pub struct MeanStdPanel {
    pub title: String,
    pub groups: Vec<PointGroup>,
    pub small_std: f64,
    /// Label of the reward, e.g. "ROUGE-L" (axes read "reward mean" / "reward std").
    pub reward_label: String,
    /// Fixed range of the reward-mean axis (e.g. `(0, 1)`); `None` fits the data.
    pub reward_range: Option<(f64, f64)>,
    /// Marks the small-std, low-reward corner (`std < small_std`, `mean < low_reward`) and states
    /// its share in the legend.
    pub low_reward: Option<f64>,
}

/// An annotated heatmap; `values[row][col]`, rows drawn top to bottom. `NaN` cells are left blank.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatmapPanel {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub col_labels: Vec<String>,
    pub row_labels: Vec<String>,
    pub values: Vec<Vec<f64>>,
    /// Significant digits of the cell annotations.
    pub digits: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Panel {
    Lines(LinePanel),
    Scatter(ScatterPanel),
    Histogram(HistogramPanel),
    MeanStd(MeanStdPanel),
    Heatmap(HeatmapPanel),
}

/// A grid of panels, filled row by row, `columns` wide.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub title: Option<String>,
    pub panels: Vec<Panel>,
    pub columns: usize,
    /// Size of one panel in pixels (PNG) or points (SVG).
    pub panel_size: (u32, u32),
}

impl Figure {
    /// One row of panels, 720x540 each.
    pub fn row(title: Option<&str>, panels: Vec<Panel>) -> Self {
        let columns = panels.len().max(1);
        Self {
            title: title.map(str::to_string),
            panels,
            columns,
            panel_size: (720, 540),
        }
    }

    /// Total size in pixels.
    pub fn size(&self) -> (u32, u32) {
        let rows = self.panels.len().div_ceil(self.columns.max(1)).max(1) as u32;
        let title = if self.title.is_some() { 50 } else { 0 };
        (
            self.panel_size.0 * self.columns as u32,
            self.panel_size.1 * rows + title,
        )
    }

    /// Render to an RGB8 buffer (`size().0 * size().1 * 3` bytes), e.g. to inspect pixels in tests.
    pub fn render_rgb(&self) -> Result<Vec<u8>, PlotError> {
        crate::draw::register_font();
        crate::draw::render_rgb(self).map_err(|message| PlotError::Draw {
            path: "<memory>".into(),
            message,
        })
    }

    /// Write `STEM.png` and `STEM.svg` (atomically).
    pub fn save(&self, stem: &Path) -> Result<(), PlotError> {
        if self.panels.is_empty() || self.columns == 0 {
            return Err(PlotError::Invalid {
                path: stem.to_path_buf(),
                message: "a figure needs at least one panel".into(),
            });
        }
        crate::draw::register_font();
        let svg_path = stem.with_extension("svg");
        let svg = crate::draw::render_svg(self).map_err(|message| PlotError::Draw {
            path: svg_path.clone(),
            message,
        })?;
        atomicwrite::write(&svg_path, svg.as_bytes()).map_err(|source| PlotError::Io {
            path: svg_path,
            source,
        })?;

        let png_path = stem.with_extension("png");
        atomicwrite::write_with(&png_path, |tmp| {
            crate::draw::render_png(self, tmp).map_err(std::io::Error::other)
        })
        .map_err(|source| PlotError::Io {
            path: png_path,
            source,
        })
    }
}
