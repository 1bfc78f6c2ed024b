//! The controlled experiments' figures: finetuning curves of the main variant, and the variants.

use super::{Data, Setting};
use anyhow::Result;
use plotting::*;
use protocols::controlled::rows::Phase;
use protocols::controlled::verdict::Variant;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use trainers::classify::{Group, Objective};

/// A plotted quantity: a per-group metric of the `curves` table, or the test accuracy.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Metric {
    TrainAccuracy,
    Reward,
    RewardStd,
    GradNorm,
    TestAccuracy,
}

impl Metric {
    /// (label of the y axis, log scale)
    fn axis(self) -> (&'static str, bool) {
        match self {
            Metric::TrainAccuracy => ("train accuracy", false),
            Metric::Reward => ("reward V(x) (mean)", false),
            Metric::RewardStd => ("reward std (mean)", true),
            Metric::GradNorm => ("gradient norm of the group objective", true),
            Metric::TestAccuracy => ("test accuracy", false),
        }
    }
}

fn group_label(g: Group) -> &'static str {
    match g {
        Group::Modified => "small-std (modified)",
        Group::Unmodified => "other inputs",
    }
}

fn method_label(m: Objective) -> &'static str {
    match m {
        Objective::Sft => "SFT",
        Objective::Rft => "RFT",
    }
}

/// One curve per seed of the finetuning phase of (setting, variant, method), aligned on the epochs
/// of the first seed; `group` is `None` for the test accuracy.
fn series(
    data: &Data,
    setting: Setting,
    v: Variant,
    method: Objective,
    group: Option<Group>,
    metric: Metric,
) -> Option<(Vec<f64>, Vec<Vec<f64>>)> {
    let mut by_seed: BTreeMap<u64, Vec<(usize, f64)>> = BTreeMap::new();
    let wanted = |s: Setting, m: Objective, o, lr, r| {
        s == setting
            && m == method
            && Variant {
                optimizer: o,
                lr,
                reward_fn: r,
            } == v
    };
    if metric == Metric::TestAccuracy {
        for t in &data.tests {
            let r = &t.row;
            if r.phase == Phase::Finetune
                && wanted(r.setting, r.method, r.optimizer, r.lr, r.reward_fn)
            {
                by_seed
                    .entry(t.seed)
                    .or_default()
                    .push((r.epoch, r.test_accuracy));
            }
        }
    } else {
        for c in &data.curves {
            let r = &c.row;
            if r.phase == Phase::Finetune
                && Some(r.group) == group
                && wanted(r.setting, r.method, r.optimizer, r.lr, r.reward_fn)
            {
                let value = match metric {
                    Metric::TrainAccuracy => r.train_accuracy,
                    Metric::Reward => r.reward,
                    Metric::RewardStd => r.reward_std,
                    Metric::GradNorm => r.grad_norm,
                    Metric::TestAccuracy => unreachable!("handled above"),
                };
                by_seed.entry(c.seed).or_default().push((r.epoch, value));
            }
        }
    }
    let epochs: Vec<usize> = by_seed.values().next()?.iter().map(|p| p.0).collect();
    let runs = by_seed
        .values()
        .map(|points| {
            let at: BTreeMap<usize, f64> = points.iter().copied().collect();
            epochs
                .iter()
                .map(|e| at.get(e).copied().unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    Some((epochs.iter().map(|&e| e as f64).collect(), runs))
}

fn line(label: String, s: Option<(Vec<f64>, Vec<Vec<f64>>)>) -> Option<LineSeries> {
    s.map(|(x, runs)| LineSeries { label, x, runs })
}

/// The variants run in a setting, sorted.
fn variants_of(data: &Data, setting: Setting) -> Vec<Variant> {
    let mut vs: Vec<Variant> = data
        .summaries
        .iter()
        .filter(|r| r.row.setting == setting)
        .map(|r| Variant::of(&r.row))
        .collect();
    vs.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    vs.dedup();
    vs
}

/// The main variant of a setting: Adam with the ±1 reward (else the first one run).
fn main_variant(data: &Data, setting: Setting) -> Option<Variant> {
    let vs = variants_of(data, setting);
    vs.iter().find(|v| v.is_main()).or(vs.first()).copied()
}

/// `controlled_curves`: a column per setting, a row per metric, the main variant.
pub(super) fn curves(data: &Data, dir: &Path) -> Result<Vec<PathBuf>> {
    let metrics = [
        Metric::TrainAccuracy,
        Metric::Reward,
        Metric::RewardStd,
        Metric::GradNorm,
        Metric::TestAccuracy,
    ];
    let mut panels = Vec::new();
    for (row, metric) in metrics.into_iter().enumerate() {
        let (y_label, log) = metric.axis();
        for &setting in &data.settings {
            let Some(v) = main_variant(data, setting) else {
                continue;
            };
            let mut lines = Vec::new();
            for method in [Objective::Sft, Objective::Rft] {
                if metric == Metric::TestAccuracy {
                    let s = series(data, setting, v, method, None, metric);
                    lines.extend(line(method_label(method).into(), s));
                } else {
                    for group in [Group::Modified, Group::Unmodified] {
                        let label = format!("{} {}", method_label(method), group_label(group));
                        lines.extend(line(
                            label,
                            series(data, setting, v, method, Some(group), metric),
                        ));
                    }
                }
            }
            let y = axis_with_legend_room(y_label, log, metric == Metric::Reward, &lines);
            let title = if row == 0 {
                format!("{}: {}", setting.title(), v.label())
            } else {
                format!("{}: {y_label}", setting.title())
            };
            panels.push(Panel::Lines(LinePanel {
                title,
                x: Axis::linear("finetuning epoch"),
                y,
                series: lines,
                legend: if log {
                    Legend::LowerLeft
                } else {
                    Legend::UpperLeft
                },
            }));
        }
    }
    let mut fig = Figure::row(
        Some("SFT vs exact-gradient RFT on the small-reward-std (modified) and other train inputs"),
        panels,
    );
    fig.columns = data.settings.len();
    fig.panel_size = (640, 440);
    let stem = dir.join("controlled_curves");
    fig.save(&stem)?;
    Ok(vec![stem.with_extension("png")])
}

/// `controlled_variants`: train accuracy under the variants other than the main one.
pub(super) fn variants(data: &Data, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut panels = Vec::new();
    for &setting in &data.settings {
        for v in variants_of(data, setting)
            .into_iter()
            .filter(|v| !v.is_main())
        {
            let mut lines = Vec::new();
            for method in [Objective::Sft, Objective::Rft] {
                for group in [Group::Modified, Group::Unmodified] {
                    let (from, note) = if method == Objective::Sft && v.sft_variant() != v {
                        (v.sft_variant(), " (±1 reward run)")
                    } else {
                        (v, "")
                    };
                    let label = format!("{} {}{note}", method_label(method), group_label(group));
                    let s = series(
                        data,
                        setting,
                        from,
                        method,
                        Some(group),
                        Metric::TrainAccuracy,
                    );
                    lines.extend(line(label, s));
                }
            }
            panels.push(Panel::Lines(LinePanel {
                title: format!("{}: {}", setting.title(), v.label()),
                x: Axis::linear("finetuning epoch"),
                y: axis_with_legend_room("train accuracy", false, false, &lines),
                series: lines,
                legend: Legend::UpperLeft,
            }));
        }
    }
    if panels.is_empty() {
        return Ok(Vec::new());
    }
    let n = panels.len();
    let mut fig = Figure::row(
        Some("Variants: plain SGD, and a high initial reward on the small-std inputs"),
        panels,
    );
    fig.columns = n.min(3);
    fig.panel_size = (720, 480);
    let stem = dir.join("controlled_variants");
    fig.save(&stem)?;
    Ok(vec![stem.with_extension("png")])
}

/// A y axis with room for the legend: above the data on linear axes (accuracies in [0, 1],
/// rewards in [-1, 1]), below it on log axes.
fn axis_with_legend_room(label: &str, log: bool, reward: bool, lines: &[LineSeries]) -> Axis {
    if !log {
        return if reward {
            Axis::linear(label).with_range(-1.05, 2.0)
        } else {
            Axis::linear(label).with_range(0.0, 1.45)
        };
    }
    let values = lines
        .iter()
        .flat_map(|l| l.runs.iter().flatten())
        .copied()
        .filter(|v| v.is_finite() && *v > 0.0);
    let (lo, hi) = values.fold((f64::INFINITY, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() || hi <= 0.0 {
        return Axis::log(label);
    }
    let decades = (hi / lo).log10().max(1.0);
    Axis::log(label).with_range(
        lo / 10f64.powf(0.5 * decades),
        hi * 10f64.powf(0.05 * decades),
    )
}
