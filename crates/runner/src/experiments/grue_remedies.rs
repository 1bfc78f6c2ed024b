//! `grue_remedies`: beyond the paper, the remedies for vanishing gradients side by side on one
//! GRUE task ([`protocols::grue_rft`] runs each; [`protocols::remedies`] summarises and answers):
//! one table (final reward, the pool's reward and small-std fraction at the start and end of RL,
//! labels used, groups sampled) and one figure (the pool's reward and small-std fraction per
//! iteration, per remedy).

use super::{Experiment, SweepResults, Tables};
use crate::run::RunContext;
use anyhow::Result;
use plotting::*;
use protocols::grue_report::MeanStd;
use protocols::grue_rft::{EvalRow, GrueRftConfig, PgStepRow, SettingRow, TrackRow};
use protocols::remedies::{RemedyResults, RemedyRow, RemedySummary, answers, summarize};
use protocols::rows::{Rows, gathered};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub use protocols::grue_rft::{GrueRftGrid, GrueRftPatch};

/// A `grue_rft` run reported in the remedies comparison.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RemediesConfig(pub GrueRftConfig);

impl Experiment for RemediesConfig {
    const KIND: &'static str = "grue_remedies";

    fn validate(&self) -> Result<()> {
        self.0.validate()?;
        anyhow::ensure!(
            self.0.method != "sft",
            "the remedies comparison ends every run with RL: method sft is not a remedy (use sft_rft)"
        );
        Ok(())
    }

    fn run(&self, seed: u64, ctx: &RunContext) -> Result<Tables> {
        let mut tables = super::grue_rft::run(&self.0, seed, ctx)?;
        tables.push((
            "remedy".into(),
            RemedyRow::to_frame(&[RemedyRow::of(&self.0)?])?,
        ));
        Ok(tables)
    }

    fn report(sweeps: &[SweepResults], dir: &Path) -> Result<Vec<PathBuf>> {
        let mut all = RemedyResults::default();
        let mut note = None;
        for s in sweeps {
            all.grue.eval.extend(gathered::<EvalRow>(s.table("eval")?)?);
            all.grue
                .track
                .extend(gathered::<TrackRow>(s.table("track")?)?);
            all.pg_steps
                .extend(gathered::<PgStepRow>(s.table("pg_steps")?)?);
            all.remedies
                .extend(gathered::<RemedyRow>(s.table("remedy")?)?);
            let settings = gathered::<SettingRow>(s.table("settings")?)?;
            if note.is_none() {
                note = settings
                    .first()
                    .map(|g| super::grue_rft::scale_note(&g.row));
            }
        }
        let note = note.unwrap_or_default();
        let mut written = Vec::new();
        for task in all.tasks() {
            let s = summarize(&all, &task);
            let stem = dir.join(format!("remedies_{task}"));
            figure(&task, &s).save(&stem)?;
            table(&task, &s, &note).save(&stem)?;
            written.extend([stem.with_extension("png"), stem.with_extension("md")]);
        }
        Ok(written)
    }
}

fn cell(m: Option<MeanStd>) -> String {
    m.map_or("-".into(), |m| m.text(3))
}

fn arrow(a: Option<MeanStd>, b: Option<MeanStd>) -> String {
    match (a, b) {
        (Some(a), Some(b)) => format!("{:.3} → {}", a.mean, b.text(3)),
        _ => "-".into(),
    }
}

fn table(task: &str, s: &[RemedySummary], note: &str) -> Table {
    let small_std = 0.05;
    let answers = answers(s).text().join(" ");
    let mut t = Table::new(
        format!(
            "Remedies for vanishing gradients side by side on {} (beyond the paper; mini models pretrained \
             here): final evaluation reward (the config's decoding) on the training and test pools, mean ± std \
             over seeds; the training pool's mean sampled reward and its fraction of inputs with reward std < \
             {small_std} at the start → end of the RL phase (end: mean ± std), and with mean reward < 0.1 too at \
             the end; labels SFT used; for the group policy gradients, groups sampled per iteration and the \
             fraction of them whose rewards were all equal. Every RL phase runs the PPO file's iterations, \
             learning rate and KL coefficient. {answers} {note}",
            super::grue_rft::title(task),
        ),
        &[
            "remedy",
            "labels",
            "train",
            "test",
            "pool reward",
            "small-std fraction",
            "small std & low reward (end)",
            "groups / iteration",
            "zero-std groups",
        ],
    );
    for r in s {
        t.push(vec![
            r.name.clone(),
            if r.sft_labels == 0 {
                "0".into()
            } else {
                format!("{} of {}", r.sft_labels, r.train_inputs)
            },
            cell(r.train),
            cell(r.test),
            arrow(r.start_reward, r.end_reward),
            arrow(r.start_small, r.end_small),
            cell(r.end_small_low),
            r.groups_per_iteration
                .map_or("-".into(), |g| format!("{g:.1}")),
            r.batch_zero_std.map_or("-".into(), |z| format!("{z:.2}")),
        ]);
    }
    t
}

fn figure(task: &str, s: &[RemedySummary]) -> Figure {
    let series = |value: &dyn Fn(&protocols::remedies::CurvePoint) -> MeanStd| -> Vec<LineSeries> {
        s.iter()
            .filter(|r| !r.curve.is_empty())
            .map(|r| {
                let x = r.curve.iter().map(|p| p.iteration as f64).collect();
                // One "run" per band edge: the figure draws their mean and spread.
                let lo = r
                    .curve
                    .iter()
                    .map(|p| value(p).mean - value(p).std)
                    .collect();
                let hi = r
                    .curve
                    .iter()
                    .map(|p| value(p).mean + value(p).std)
                    .collect();
                LineSeries {
                    label: r.name.clone(),
                    x,
                    runs: vec![lo, hi],
                }
            })
            .collect()
    };
    let name = super::grue_rft::title(task);
    Figure {
        title: Some(format!(
            "Remedies side by side on {name} (mini models pretrained here; mean over seeds, band: ± std)"
        )),
        panels: vec![
            Panel::Lines(LinePanel {
                title: format!("{name}: mean sampled reward of the training pool"),
                x: Axis::linear("RL iteration"),
                y: Axis::linear("reward"),
                series: series(&|p| p.reward),
                // The legend sits in the other panel's empty lower half.
                legend: Legend::Hidden,
            }),
            Panel::Lines(LinePanel {
                title: format!("{name}: training inputs with reward std < 0.05"),
                x: Axis::linear("RL iteration"),
                y: Axis::linear("fraction of training inputs").with_range(0.0, 1.0),
                series: series(&|p| p.small_std),
                legend: Legend::LowerLeft,
            }),
        ],
        columns: 2,
        panel_size: (720, 540),
    }
}
