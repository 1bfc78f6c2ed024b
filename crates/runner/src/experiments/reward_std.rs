//! `reward_std`: Figure 1 of the paper ([`protocols::reward_std`]) mapped onto the sweep runner,
//! and its figure and table in `results/<experiment>/`.

use super::{Experiment, SweepResults, Tables};
use crate::run::RunContext;
use anyhow::Result;
use plotting::*;
use protocols::grue::{FractionRow, InputStatsRow, TimingRow};
use protocols::rows::{Gathered, gathered};
use std::path::{Path, PathBuf};

pub use protocols::reward_std::{RewardStdConfig, RewardStdGrid, RewardStdPatch};

impl Experiment for RewardStdConfig {
    const KIND: &'static str = "reward_std";

    fn validate(&self) -> Result<()> {
        RewardStdConfig::validate(self)
    }

    fn run(&self, seed: u64, ctx: &RunContext) -> Result<Tables> {
        let resolve = |reference: &str| {
            crate::pretrained::resolve_reference(reference, &ctx.models_dir, &ctx.data_dir)
        };
        RewardStdConfig::run(
            self,
            seed,
            &ctx.env(),
            &resolve,
            &crate::learned::ModelClassifierLoader,
        )?
        .tables()
    }

    fn report(sweeps: &[SweepResults], dir: &Path) -> Result<Vec<PathBuf>> {
        let mut inputs: Vec<Gathered<InputStatsRow>> = Vec::new();
        let mut fractions: Vec<Gathered<FractionRow>> = Vec::new();
        let mut timing: Vec<Gathered<TimingRow>> = Vec::new();
        for s in sweeps {
            inputs.extend(gathered::<InputStatsRow>(s.table("inputs")?)?);
            fractions.extend(gathered::<FractionRow>(s.table("fractions")?)?);
            timing.extend(gathered::<TimingRow>(s.table("timing")?)?);
        }
        let stem = dir.join("reward_std");
        figure(&inputs, &fractions).save(&stem)?;
        table(&fractions, &timing).save(&stem)?;
        Ok(vec![stem.with_extension("png"), stem.with_extension("md")])
    }
}

/// Tasks in the paper's order.
const ORDER: [&str; 7] = [
    "narrativeqa",
    "totto",
    "commongen",
    "iwslt2017",
    "cnn_dailymail",
    "dailydialog",
    "imdb",
];

fn order(task: &str) -> usize {
    ORDER.iter().position(|t| *t == task).unwrap_or(ORDER.len())
}

fn title(task: &str) -> String {
    grue::TaskName::parse(task)
        .map(|t| t.spec().title.to_string())
        .unwrap_or_else(|_| task.to_string())
}

fn reward_label(task: &str) -> String {
    grue::TaskName::parse(task)
        .map(|t| t.spec().reward.id.to_string())
        .unwrap_or_else(|_| "reward".into())
}

fn tasks(fractions: &[Gathered<FractionRow>]) -> Vec<String> {
    let mut t: Vec<String> = fractions.iter().map(|f| f.row.task.clone()).collect();
    t.sort_by_key(|x| (order(x), x.clone()));
    t.dedup();
    t
}

/// Per task: reward mean against std per input (Figure 1), and beside it the histogram of the std.
fn figure(inputs: &[Gathered<InputStatsRow>], fractions: &[Gathered<FractionRow>]) -> Figure {
    let tasks = tasks(fractions);
    let low = fractions.first().map_or(0.1, |f| f.row.low_reward);
    let samples = fractions.first().map_or(0, |f| f.row.samples);
    // Per task, side by side: the scatter and the histogram of the std (its marginal).
    let mut panels = Vec::new();
    for task in &tasks {
        let rows: Vec<&InputStatsRow> = inputs
            .iter()
            .filter(|g| &g.row.task == task)
            .map(|g| &g.row)
            .collect();
        panels.push(Panel::MeanStd(MeanStdPanel {
            title: title(task),
            groups: vec![PointGroup {
                label: "train inputs".into(),
                points: rows.iter().map(|r| (r.reward_std, r.reward_mean)).collect(),
            }],
            small_std: 0.05,
            reward_label: reward_label(task),
            reward_range: Some((0.0, 1.0)),
            low_reward: Some(low),
        }));
        panels.push(Panel::Histogram(HistogramPanel {
            title: format!("{}: reward std per input", title(task)),
            x: Axis::linear("reward std under the model").with_range(0.0, 0.5),
            bins: 20,
            groups: vec![("inputs".into(), rows.iter().map(|r| r.reward_std).collect())],
        }));
    }
    Figure {
        title: Some(format!(
            "Reward mean vs reward std per train input under the model (mini models pretrained here; \
             {samples} samples each); red: small std and low reward"
        )),
        panels,
        columns: 4,
        panel_size: (560, 420),
    }
}

/// The fractions of small-std (and low-reward) inputs per task, with each task's data caveat.
fn table(fractions: &[Gathered<FractionRow>], timing: &[Gathered<TimingRow>]) -> Table {
    let tasks = tasks(fractions);
    let notes: Vec<String> = tasks
        .iter()
        .filter_map(|t| {
            grue::TaskName::parse(t)
                .ok()
                .map(|n| n.caption_note().to_string())
        })
        .filter(|s| !s.is_empty())
        .collect();
    let low = fractions.first().map_or(0.1, |f| f.row.low_reward);
    let mut table = Table::new(
        format!(
            "Figure 1's measurement on mini models pretrained here (not the paper's hub checkpoints): per task, the \
             fraction of train inputs whose reward std under the model (population std of the sampled rewards) is \
             below 0.01 / 0.05 / 0.1, and below 0.05 with a mean reward below {low} (small std, low reward). \
             Paper (Finding I, GPT-2 / T5-base): many such inputs on NarrativeQA, few on IMDB. {}",
            notes.join(" ")
        ),
        &[
            "task",
            "inputs",
            "samples",
            "mean reward",
            "std < 0.01",
            "std < 0.05",
            "std < 0.1",
            "std < 0.05 & low reward",
            "inputs/s",
        ],
    );
    for task in &tasks {
        for f in fractions.iter().filter(|f| &f.row.task == task) {
            let r = &f.row;
            table.push(vec![
                title(task),
                r.inputs.to_string(),
                r.samples.to_string(),
                format_sig(r.mean_reward, 3),
                format!("{:.3}", r.std_below_0_01),
                format!("{:.3}", r.std_below_0_05),
                format!("{:.3}", r.std_below_0_1),
                format!("{:.3}", r.small_std_low_reward),
                timing
                    .iter()
                    .find(|t| t.row.task == r.task && t.seed == f.seed)
                    .map_or("-".into(), |t| format!("{:.2}", t.row.inputs_per_second)),
            ]);
        }
    }
    table
}
