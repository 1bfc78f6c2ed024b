//! The experiments' protocols, as library code: typed parameters plus data in, typed result rows
//! out, and the verdicts on the paper's findings computed (and unit-tested) here rather than at
//! drawing time. The `runner` binary only maps sweep files onto these parameters and the rows onto
//! figures.
//!
//! - [`rows`]: one row struct per result table, converted to and from polars frames by one helper;
//! - [`cache`]: weights shared by the runs of one store (pretrained classifiers), in the store's
//!   format: a directory per entry, Parquet tables, a record written last;
//! - [`controlled`]: Section 4.2's controlled experiments (exact-gradient RFT vs SFT on classifiers);
//! - [`synthetic`]: RFT of a tiny GPT-2 on a synthetic task, with per-input reward std;
//! - [`grue_rft`], [`grue_report`], [`remedies`]: the language-model experiments (Table 1, Figure
//!   2, Table 2, the partial-SFT heatmap, and the remedies compared side by side) and their verdicts;
//! - [`theory`]: the tables of the Theorem 1 and 2 experiments (the science is the `theory` crate).

pub mod cache;
pub mod controlled;
pub mod grue;
pub mod grue_report;
pub mod grue_rft;
pub mod params;
pub mod plan;
pub mod remedies;
pub mod report;
pub mod reward_std;
pub mod rows;
pub mod synthetic;
pub mod theory;

use indicatif::ProgressBar;
use std::path::PathBuf;

/// What a protocol may use while it runs, besides its parameters and seed.
pub struct RunEnv<'a> {
    /// Where datasets are read from.
    pub data_dir: PathBuf,
    /// Root of the caches shared by the runs of one store.
    pub cache_dir: PathBuf,
    /// Where the run reports progress and writes its log.
    pub observer: &'a dyn Observer,
}

/// The run's log and progress bars (the runner draws them under its sweep bar).
pub trait Observer: Sync {
    /// Append a line to the run's log.
    fn log(&self, line: &str);
    /// A progress bar of `len` steps labelled `label` (hidden when nobody draws bars).
    fn progress_bar(&self, len: u64, label: &str) -> ProgressBar;
}

/// An observer that drops everything (tests, library users without a log).
pub struct Silent;

impl Observer for Silent {
    fn log(&self, _line: &str) {}
    fn progress_bar(&self, _len: u64, _label: &str) -> ProgressBar {
        ProgressBar::hidden()
    }
}
