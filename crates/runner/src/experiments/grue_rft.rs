//! `grue_rft`: Table 1 and Figure 2 of the paper ([`protocols::grue_rft`]) mapped onto the sweep
//! runner; the tables and figures are drawn by [`protocols::grue_report`].

use super::{Experiment, SweepResults, Tables};
use crate::run::RunContext;
use anyhow::Result;
use plotting::*;
use protocols::grue_report::{
    ChangeSummary, GrueResults, MODELS, MeanStd, Speed, Table1Row, Verdict, finding2, finding3,
    speed, table1,
};
use protocols::grue_rft::{
    EvalRow, InputChangeRow, IterationRow, PhaseTimingRow, SettingRow, TrackRow,
};
use protocols::rows::{Gathered, gathered};
use std::path::{Path, PathBuf};

pub use protocols::grue_rft::{GrueRftConfig, GrueRftGrid, GrueRftPatch};

impl Experiment for GrueRftConfig {
    const KIND: &'static str = "grue_rft";

    fn validate(&self) -> Result<()> {
        GrueRftConfig::validate(self)
    }

    fn run(&self, seed: u64, ctx: &RunContext) -> Result<Tables> {
        run(self, seed, ctx)
    }

    fn report(sweeps: &[SweepResults], dir: &Path) -> Result<Vec<PathBuf>> {
        let mut all = GrueResults::default();
        let mut scale = Vec::new();
        for s in sweeps {
            all.eval.extend(gathered::<EvalRow>(s.table("eval")?)?);
            all.track.extend(gathered::<TrackRow>(s.table("track")?)?);
            all.iterations
                .extend(gathered::<IterationRow>(s.table("iterations")?)?);
            all.inputs
                .extend(gathered::<InputChangeRow>(s.table("inputs")?)?);
            all.timing
                .extend(gathered::<PhaseTimingRow>(s.table("timing")?)?);
            let settings = gathered::<SettingRow>(s.table("settings")?)?;
            scale.extend(settings.first().map(|g| scale_note(&g.row)));
            all.settings.extend(settings);
        }
        let tasks = all.tasks();
        let scale = scale.first().cloned().unwrap_or_default();
        let mut written = Vec::new();
        let stem = dir.join("table1");
        let rows = table1(&all, "", &tasks);
        let (rho, n, verdict3) = finding3(&rows);
        table1_table(&rows, rho, n, verdict3, &scale).save(&stem)?;
        written.push(stem.with_extension("md"));

        let small_std = 0.05;
        let stem = dir.join("figure2");
        let changes = finding2(&all, "", "rft", small_std, &tasks);
        let changes_sft = finding2(&all, "", "sft_rft", small_std, &tasks);
        figure2(&all, &tasks, small_std, &scale).save(&stem)?;
        figure2_table(&changes, &changes_sft, small_std, &scale).save(&stem)?;
        written.extend([stem.with_extension("png"), stem.with_extension("md")]);

        let stem = dir.join("track");
        track_figure(&all, &tasks, small_std).save(&stem)?;
        written.push(stem.with_extension("png"));

        let stem = dir.join("speed");
        speed_table(&speed(&all, "", &tasks)).save(&stem)?;
        written.push(stem.with_extension("md"));
        Ok(written)
    }
}

/// One GRUE run (every `grue_*` kind runs this; only their reports differ).
pub(super) fn run(c: &GrueRftConfig, seed: u64, ctx: &RunContext) -> Result<Tables> {
    let resolve = |reference: &str| {
        crate::pretrained::resolve_reference(reference, &ctx.models_dir, &ctx.data_dir)
    };
    c.run(
        seed,
        &ctx.env(),
        &resolve,
        &crate::learned::ModelClassifierLoader,
    )?
    .tables()
}

pub(super) fn title(task: &str) -> String {
    grue::TaskName::parse(task)
        .map(|t| t.spec().title.to_string())
        .unwrap_or_else(|_| task.to_string())
}

/// The scale-down a sweep ran with, for captions.
pub(super) fn scale_note(c: &SettingRow) -> String {
    let or_none = |s: &str| {
        if s.is_empty() {
            "nothing changed".to_string()
        } else {
            s.to_string()
        }
    };
    format!(
        "Mini models pretrained here (not the paper's hub checkpoints); {} training inputs and {} test inputs \
         per task (seed-7 permutations), reward std from {} samples per input. Each run starts from the task's \
         ml-rlgrad config with, for PPO: {}, learning rate x{}; for SFT: {}, learning rate x{}.",
        c.train_inputs,
        c.test_inputs,
        c.samples,
        or_none(&c.rl),
        c.rl_lr_scale,
        or_none(&c.sft),
        c.sft_lr_scale,
    )
}

fn cell(m: Option<MeanStd>) -> String {
    m.map_or("-".into(), |m| m.text(3))
}

fn table1_table(
    rows: &[Table1Row],
    rho: Option<f64>,
    n: usize,
    verdict: Verdict,
    scale: &str,
) -> Table {
    let mut t = Table::new(
        format!(
            "Table 1 (the paper's Findings II and III): mean evaluation reward (the config's \
             train_evaluation decoding) on the training pool and the held-out test pool, mean ± std over seeds, \
             for the pretrained model, RFT (PPO), SFT and SFT followed by RFT; beside it the fraction of training \
             inputs with reward std < 0.05 and mean reward < 0.1 under the pretrained model. Finding III (the \
             RFT-vs-SFT gap is largest where that fraction is largest): Spearman correlation of the fraction with \
             the test gap (SFT - RFT) over {n} tasks = {}; verdict: {}. {scale}",
            rho.map_or("undefined".into(), |r| format!("{r:.2}")),
            verdict.text()
        ),
        &[
            "task",
            "small std & low reward",
            "pretrained train",
            "pretrained test",
            "RFT train",
            "RFT test",
            "SFT train",
            "SFT test",
            "SFT→RFT train",
            "SFT→RFT test",
            "gap SFT−RFT (test)",
        ],
    );
    for r in rows {
        let mut row = vec![title(&r.task), cell(r.small_std_low_reward)];
        for m in MODELS {
            for split in ["train", "test"] {
                row.push(cell(r.cell(m, split)));
            }
        }
        row.push(r.gap("test").map_or("-".into(), |g| format!("{g:+.3}")));
        t.push(row);
    }
    t
}

/// Per task: reward change under RFT against the initial reward std, one point per input and
/// seed, small-std inputs in their own colour.
fn figure2(all: &GrueResults, tasks: &[String], small_std: f64, scale: &str) -> Figure {
    let mut panels = Vec::new();
    for task in tasks {
        for phase in ["rft", "sft_rft"] {
            let pts = |small: bool| -> Vec<(f64, f64)> {
                all.inputs
                    .iter()
                    .map(|g| &g.row)
                    .filter(|r| &r.task == task && r.phase == phase && r.label.is_empty())
                    .filter(|r| (r.std_before < small_std) == small)
                    .map(|r| (r.std_before, r.mean_after - r.mean_before))
                    .collect()
            };
            // Symmetric about "no change", so gains and losses read alike.
            let reach = pts(true)
                .iter()
                .chain(&pts(false))
                .map(|p| p.1.abs())
                .fold(0.01, f64::max)
                * 1.1;
            panels.push(Panel::Scatter(ScatterPanel {
                title: format!(
                    "{}: {}",
                    title(task),
                    if phase == "rft" {
                        "RFT"
                    } else {
                        "RFT after SFT"
                    }
                ),
                x: Axis::linear("reward std under the initial model").with_range(0.0, 0.5),
                y: Axis::linear("reward change during RFT").with_range(-reach, reach),
                groups: vec![
                    PointGroup {
                        label: format!("std < {small_std}"),
                        points: pts(true),
                    },
                    PointGroup {
                        label: "others".into(),
                        points: pts(false),
                    },
                ],
                lines: vec![RefLine {
                    label: "no change".into(),
                    curve: Curve::Line {
                        slope: 0.0,
                        intercept: 0.0,
                    },
                    color: None,
                    dashed: true,
                }],
                legend: Legend::UpperRight,
            }));
        }
    }
    Figure {
        title: Some(format!(
            "Figure 2: reward change during RFT vs initial reward std, per training input and seed ({})",
            scale.split(';').next().unwrap_or("").to_lowercase()
        )),
        panels,
        columns: 4,
        panel_size: (520, 400),
    }
}

fn figure2_table(
    rft: &[ChangeSummary],
    sft_rft: &[ChangeSummary],
    small_std: f64,
    scale: &str,
) -> Table {
    let mut t = Table::new(
        format!(
            "Figure 2 in numbers (the paper's Finding II: RFT barely changes the reward of inputs whose reward std \
             is small): mean change of the mean sampled reward during RFT, inputs with initial std < {small_std} \
             against the others, mean ± std over seeds. Verdict per task: holds when the small-std inputs gain less \
             than half of what the others gain; not measurable when the others did not gain more than their spread \
             over seeds. {scale}"
        ),
        &[
            "task",
            "RFT from",
            "small-std inputs",
            "others",
            "change, small std",
            "change, others",
            "verdict",
        ],
    );
    for (from, rows) in [("pretrained", rft), ("SFT", sft_rft)] {
        for s in rows {
            t.push(vec![
                title(&s.task),
                from.into(),
                format!("{:.1}", s.small_inputs),
                format!("{:.1}", s.other_inputs),
                s.small
                    .map_or("-".into(), |m| format!("{:+.4} ± {:.4}", m.mean, m.std)),
                s.other
                    .map_or("-".into(), |m| format!("{:+.4} ± {:.4}", m.mean, m.std)),
                s.verdict.text().into(),
            ]);
        }
    }
    t
}

/// Per task: the fraction of small-std training inputs and the pool's mean sampled reward per
/// PPO iteration, from the pretrained model and from SFT.
fn track_figure(all: &GrueResults, tasks: &[String], small_std: f64) -> Figure {
    let mut panels = Vec::new();
    for task in tasks {
        let series = |value: &dyn Fn(&TrackRow) -> f64| -> Vec<LineSeries> {
            ["rft", "sft_rft"]
                .iter()
                .filter_map(|phase| {
                    let rows: Vec<&Gathered<TrackRow>> = all
                        .track
                        .iter()
                        .filter(|g| {
                            &g.row.task == task && g.row.phase == *phase && g.row.label.is_empty()
                        })
                        .collect();
                    let mut x: Vec<f64> = rows.iter().map(|g| g.row.iteration as f64).collect();
                    x.sort_by(f64::total_cmp);
                    x.dedup();
                    let mut seeds: Vec<u64> = rows.iter().map(|g| g.seed).collect();
                    seeds.sort_unstable();
                    seeds.dedup();
                    let runs: Vec<Vec<f64>> = seeds
                        .iter()
                        .map(|s| {
                            x.iter()
                                .map(|it| {
                                    rows.iter()
                                        .find(|g| g.seed == *s && g.row.iteration as f64 == *it)
                                        .map_or(f64::NAN, |g| value(&g.row))
                                })
                                .collect()
                        })
                        .collect();
                    (!x.is_empty()).then(|| LineSeries {
                        label: if *phase == "rft" {
                            "RFT".into()
                        } else {
                            "SFT → RFT".into()
                        },
                        x,
                        runs,
                    })
                })
                .collect()
        };
        panels.push(Panel::Lines(LinePanel {
            title: format!("{}: inputs with reward std < {small_std}", title(task)),
            x: Axis::linear("PPO iteration"),
            y: Axis::linear("fraction of training inputs").with_range(0.0, 1.0),
            series: series(&|r| r.frac_small_std),
            legend: Legend::LowerLeft,
        }));
        panels.push(Panel::Lines(LinePanel {
            title: format!("{}: mean sampled reward", title(task)),
            x: Axis::linear("PPO iteration"),
            y: Axis::linear("reward"),
            series: series(&|r| r.reward),
            legend: Legend::UpperLeft,
        }));
    }
    Figure {
        title: Some(
            "Reward std tracked during RFT, per PPO iteration (mini models pretrained here; mean over seeds, band: spread)"
                .into(),
        ),
        panels,
        columns: 4,
        panel_size: (520, 400),
    }
}

fn speed_table(rows: &[Speed]) -> Table {
    let mut t = Table::new(
        "PPO speed of the GRUE runs on this machine (mini models pretrained here, CPU): iterations and token \
         transitions per second of the PPO phases (rollout + update, without the reward-std tracking), and \
         seconds per SFT step; machine-dependent, unlike the other tables.",
        &[
            "task",
            "PPO runs",
            "iterations/s",
            "transitions/s",
            "s per SFT step",
        ],
    );
    for s in rows {
        t.push(vec![
            title(&s.task),
            s.runs.to_string(),
            format!("{:.3}", s.iterations_per_second),
            format!("{:.1}", s.transitions_per_second),
            format!("{:.2}", s.sft_step_seconds),
        ]);
    }
    t
}
