//! Figures and tables for the experiments.
//!
//! A [`Figure`] is a grid of [`Panel`]s; [`Figure::save`] writes `STEM.png` and `STEM.svg`.
//! Panels cover what the paper draws:
//! - [`LinePanel`]: mean lines with a +-1 std band over seeds (training curves),
//! - [`ScatterPanel`]: (log-log) scatter with reference and fitted power laws whose slopes the legend states,
//! - [`HistogramPanel`]: overlaid histograms (linear or log-spaced bins),
//! - [`MeanStdPanel`]: reward mean against reward std per input, the small-std region shaded (Figure 1 style),
//! - [`HeatmapPanel`]: an annotated heatmap (the partial-SFT grid style).
//!
//! A [`Table`] renders as Markdown, LaTeX and CSV. All files are written atomically
//! ([`write_atomic`]): a reader never sees a half-written figure, table or result.
//!
//! The text font (DejaVu Sans, Bitstream Vera license, `assets/DejaVu-LICENSE.txt`) is compiled
//! in, so figures look the same on every machine.

pub mod demo;
mod draw;
mod figure;
mod table;

pub use figure::{
    Axis, Curve, Figure, HeatmapPanel, HistogramPanel, Legend, LinePanel, LineSeries, MeanStdPanel,
    Panel, PointGroup, RefLine, ScatterPanel,
};
pub use table::{Align, Table, format_sig};

use std::path::PathBuf;

/// Errors while drawing or writing figures and tables.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("could not draw figure {path}: {message}")]
    Draw { path: PathBuf, message: String },
    #[error("could not write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid figure {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}
