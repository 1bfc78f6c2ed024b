//! `controlled`: the controlled experiments with perfect exploration (paper, Section 4.2). The
//! protocol is [`protocols::controlled`]; this module maps it onto the sweep runner and draws.
//!
//! * `controlled_curves`: per setting (columns), the finetuning curves of RFT and SFT for the
//!   modified (small reward std) and other train inputs, and test accuracy; mean and ±1 std over
//!   seeds. Main variant (Adam, ±1 reward).
//! * `controlled_variants`: train accuracy under the other variants (SGD, high initial reward).
//! * `controlled_summary` (Markdown, LaTeX, CSV): epochs to fit and final accuracies per setting,
//!   variant and method; the caption states every cut from the paper's protocol.
//! * `controlled_finding`: whether the paper's finding held ([`protocols::controlled::verdict`]).

mod figures;
mod tables;

use super::{Experiment, SweepResults, Tables};
use crate::run::RunContext;
use anyhow::Result;
use protocols::controlled::rows::{CurveRow, SummaryRow, TestRow};
use protocols::rows::{Gathered, gathered};
use std::path::{Path, PathBuf};

pub use protocols::controlled::{ControlledConfig, ControlledGrid, ControlledPatch, Setting};

impl Experiment for ControlledConfig {
    const KIND: &'static str = "controlled";

    fn validate(&self) -> Result<()> {
        ControlledConfig::validate(self)
    }

    fn run(&self, seed: u64, ctx: &RunContext) -> Result<Tables> {
        ControlledConfig::run(self, seed, &ctx.env())?.tables()
    }

    fn report(sweeps: &[SweepResults], dir: &Path) -> Result<Vec<PathBuf>> {
        let data = Data::gather(sweeps)?;
        if data.settings.is_empty() {
            return Ok(Vec::new());
        }
        let mut written = figures::curves(&data, dir)?;
        written.extend(figures::variants(&data, dir)?);
        written.extend(tables::summary(&data, dir)?);
        written.extend(tables::finding(&data, dir)?);
        Ok(written)
    }
}

/// The gathered rows of every controlled sweep of a file.
pub(crate) struct Data {
    pub summaries: Vec<Gathered<SummaryRow>>,
    pub curves: Vec<Gathered<CurveRow>>,
    pub tests: Vec<Gathered<TestRow>>,
    /// The settings run, in the paper's order.
    pub settings: Vec<Setting>,
}

impl Data {
    fn gather(sweeps: &[SweepResults]) -> Result<Data> {
        let mut data = Data {
            summaries: Vec::new(),
            curves: Vec::new(),
            tests: Vec::new(),
            settings: Vec::new(),
        };
        for s in sweeps {
            data.summaries.extend(gathered(s.table("summary")?)?);
            data.curves.extend(gathered(s.table("curves")?)?);
            data.tests.extend(gathered(s.table("test")?)?);
        }
        data.settings = data.summaries.iter().map(|r| r.row.setting).collect();
        data.settings.sort();
        data.settings.dedup();
        Ok(data)
    }
}
