//! `rft_synthetic`: RFT of a tiny GPT-2 on reversing strings ([`protocols::synthetic`]), mapped onto
//! the sweep runner, and its figure and table in `results/synthetic/`.

use super::{Experiment, SweepResults, Tables};
use crate::run::RunContext;
use anyhow::Result;
use plotting::*;
use protocols::rows::{Gathered, gathered};
use protocols::synthetic::{InputRow, StepRow, SummaryRow, TimingRow};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use protocols::synthetic::{SyntheticConfig, SyntheticGrid, SyntheticPatch};

impl Experiment for SyntheticConfig {
    const KIND: &'static str = "rft_synthetic";

    fn validate(&self) -> Result<()> {
        SyntheticConfig::validate(self)
    }

    fn run(&self, seed: u64, ctx: &RunContext) -> Result<Tables> {
        SyntheticConfig::run(self, seed, &ctx.env())?.tables()
    }

    fn report(sweeps: &[SweepResults], dir: &Path) -> Result<Vec<PathBuf>> {
        let mut curves = Curves::default();
        let mut table = Table::new(
            "RFT of a tiny GPT-2 on reversing strings, after a short SFT phase: greedy reward before and after RFT, \
             and the fraction of inputs whose reward std under the model (estimated from samples) is below the \
             threshold. Mean ± std over seeds.",
            &[
                "sweep",
                "algorithm",
                "SFT steps",
                "greedy reward before",
                "greedy reward after",
                "small-std inputs before",
                "small-std inputs after",
                "iterations/s",
            ],
        );
        for s in sweeps {
            let steps: Vec<Gathered<StepRow>> = gathered(s.table("steps")?)?;
            let inputs: Vec<Gathered<InputRow>> = gathered(s.table("inputs")?)?;
            curves.add_steps(&s.name, &steps);
            curves.add_inputs(&s.name, &inputs, SMALL_STD);
            summary_rows(
                &mut table,
                &s.name,
                &gathered(s.table("summary")?)?,
                &gathered(s.table("timing")?)?,
            );
        }
        let stem = dir.join("synthetic_rft");
        curves.figure().save(&stem)?;
        table.save(&stem)?;
        Ok(vec![stem.with_extension("png"), stem.with_extension("md")])
    }
}

/// "Small" reward std in the figure.
const SMALL_STD: f64 = 0.05;

fn label(sweep: &str, algorithm: protocols::synthetic::Algorithm, sft_steps: usize) -> String {
    format!(
        "{sweep}: {} after {sft_steps} SFT steps",
        algorithm.name().to_uppercase()
    )
}

/// Curves keyed by label, one per seed: x values and y values.
type Lines = BTreeMap<String, BTreeMap<u64, (Vec<f64>, Vec<f64>)>>;

/// The figure's three panels.
#[derive(Default)]
struct Curves {
    reward: Lines,
    small: Lines,
    by_group: Lines,
}

impl Curves {
    fn push(lines: &mut Lines, label: String, seed: u64, x: f64, y: f64) {
        let e = lines.entry(label).or_default().entry(seed).or_default();
        e.0.push(x);
        e.1.push(y);
    }

    fn add_steps(&mut self, sweep: &str, steps: &[Gathered<StepRow>]) {
        for g in steps {
            let r = &g.row;
            let l = label(sweep, r.algorithm, r.sft_steps);
            Self::push(&mut self.reward, l, g.seed, r.iteration as f64, r.reward);
        }
    }

    /// Per measured iteration: the fraction of small-std inputs, and the mean reward of the inputs
    /// that started with a small std and of the others.
    fn add_inputs(&mut self, sweep: &str, inputs: &[Gathered<InputRow>], threshold: f64) {
        #[derive(Default)]
        struct Acc {
            n: f64,
            small: f64,
            sum: [f64; 2],
            count: [f64; 2],
        }
        let mut acc: BTreeMap<(String, u64, usize), Acc> = BTreeMap::new();
        for g in inputs {
            let r = &g.row;
            let key = (label(sweep, r.algorithm, r.sft_steps), g.seed, r.iteration);
            let a = acc.entry(key).or_default();
            a.n += 1.0;
            a.small += f64::from(r.reward_std < threshold);
            let k = usize::from(r.initial_reward_std >= threshold);
            a.sum[k] += r.reward_mean;
            a.count[k] += 1.0;
        }
        for ((l, seed, it), a) in acc {
            Self::push(&mut self.small, l.clone(), seed, it as f64, a.small / a.n);
            for (k, group) in ["initial std < 0.05", "others"].into_iter().enumerate() {
                if a.count[k] > 0.0 {
                    let y = a.sum[k] / a.count[k];
                    Self::push(
                        &mut self.by_group,
                        format!("{l}, {group}"),
                        seed,
                        it as f64,
                        y,
                    );
                }
            }
        }
    }

    fn series(lines: &Lines) -> Vec<LineSeries> {
        lines
            .iter()
            .filter_map(|(label, runs)| {
                let x = runs.values().next()?.0.clone();
                let runs = runs
                    .values()
                    .filter(|(rx, _)| rx.len() == x.len())
                    .map(|(_, y)| y.clone())
                    .collect();
                Some(LineSeries {
                    label: label.clone(),
                    x,
                    runs,
                })
            })
            .collect()
    }

    fn figure(&self) -> Figure {
        Figure::row(
            Some("RFT of a tiny GPT-2 on reversing strings: reward and reward std under the model"),
            vec![
                Panel::Lines(LinePanel {
                    title: "mean sampled reward per iteration".into(),
                    x: Axis::linear("RFT iteration"),
                    y: Axis::linear("reward (ROUGE-L F)"),
                    series: Self::series(&self.reward),
                    legend: Legend::LowerRight,
                }),
                Panel::Lines(LinePanel {
                    title: "fraction of inputs with reward std < 0.05".into(),
                    x: Axis::linear("RFT iteration"),
                    y: Axis::linear("fraction of inputs").with_range(0.0, 1.0),
                    series: Self::series(&self.small),
                    legend: Legend::UpperLeft,
                }),
                Panel::Lines(LinePanel {
                    title: "mean reward by initial reward std".into(),
                    x: Axis::linear("RFT iteration"),
                    y: Axis::linear("reward under the model").with_range(0.0, 1.0),
                    series: Self::series(&self.by_group),
                    legend: Legend::LowerRight,
                }),
            ],
        )
    }
}

fn mean_std(xs: &[f64]) -> String {
    let m = xs.iter().sum::<f64>() / xs.len() as f64;
    let sd = (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / xs.len() as f64).sqrt();
    format!("{m:.3} ± {sd:.3}")
}

/// One table row per (algorithm, SFT steps) of a sweep, over seeds.
fn summary_rows(
    table: &mut Table,
    sweep: &str,
    summary: &[Gathered<SummaryRow>],
    timing: &[Gathered<TimingRow>],
) {
    let speed: BTreeMap<&str, f64> = timing
        .iter()
        .map(|t| (t.run_id.as_str(), t.row.iterations_per_second))
        .collect();
    let mut groups: BTreeMap<(String, usize), Vec<&Gathered<SummaryRow>>> = BTreeMap::new();
    for g in summary {
        groups
            .entry((g.row.algorithm.name().to_string(), g.row.sft_steps))
            .or_default()
            .push(g);
    }
    for ((algorithm, sft_steps), rs) in groups {
        let col = |f: fn(&SummaryRow) -> f64| rs.iter().map(|g| f(&g.row)).collect::<Vec<_>>();
        let ips: Vec<f64> = rs
            .iter()
            .map(|g| speed.get(g.run_id.as_str()).copied().unwrap_or(f64::NAN))
            .collect();
        table.push(vec![
            sweep.to_string(),
            algorithm.to_uppercase(),
            sft_steps.to_string(),
            mean_std(&col(|r| r.greedy_reward_initial)),
            mean_std(&col(|r| r.greedy_reward_final)),
            mean_std(&col(|r| r.frac_small_std_initial)),
            mean_std(&col(|r| r.frac_small_std_final)),
            mean_std(&ips),
        ]);
    }
}
