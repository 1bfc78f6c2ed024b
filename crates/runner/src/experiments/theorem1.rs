//! `theorem1`: the exact gradient norm against the reward std (paper, Theorem 1).
//!
//! Each run draws `instances` random (policy, reward) pairs in one setting and measures
//! `||grad V||`, `STD[r]`, `gamma` and the bound `6 L gamma STD^(2/3)` exactly. The report draws
//! the gradient against the std (raw and normalised by `6 L gamma`), the ratio to the bound, and
//! tabulates the largest ratio and the fitted slopes per setting.

use super::{Experiment, SweepResults, Tables};
use crate::run::RunContext;
use anyhow::{Result, bail};
use plotting::*;
use protocols::rows::Rows;
use protocols::theory::InstanceRow;
use std::path::{Path, PathBuf};
use theory::stats::fit_power_law;
use theory::theorem1::{InstanceKind, Setting, Theorem1Params, sample_instances};

protocols::sweep_params! {
    /// Theorem 1 check in one setting.
    pub struct Theorem1Config / Theorem1Grid / Theorem1Patch {
        /// softmax (single step, logits as parameters) | tabular (logits per prefix) | neural (MLP).
        pub setting: Setting,
        /// Random (policy, reward) pairs per seed.
        pub instances: usize,
        /// Vocabulary size (number of outputs K for softmax).
        pub vocab: usize,
        /// Output length L (1 for softmax).
        pub length: usize,
        /// Hidden width of the neural policy (used by the neural setting only; default 16).
        #[serde(default = "default_hidden")]
        pub hidden: usize,
        /// Input dimension of the neural policy (used by the neural setting only; default 4).
        #[serde(default = "default_input_dim")]
        pub input_dim: usize,
        /// Largest logit margin of near-deterministic instances (std falls like exp(-margin/2); default 30).
        #[serde(default = "default_max_margin")]
        pub max_margin: f64,
        /// Largest scale of the Gaussian logits of random instances (default 3).
        #[serde(default = "default_max_logit_scale")]
        pub max_logit_scale: f64,
    }
}

fn default_hidden() -> usize {
    16
}
fn default_input_dim() -> usize {
    4
}
fn default_max_margin() -> f64 {
    30.0
}
fn default_max_logit_scale() -> f64 {
    3.0
}

impl Theorem1Config {
    fn params(&self) -> Theorem1Params {
        Theorem1Params {
            setting: self.setting,
            instances: self.instances,
            vocab: self.vocab,
            length: self.length,
            hidden: self.hidden,
            input_dim: self.input_dim,
            max_margin: self.max_margin,
            max_logit_scale: self.max_logit_scale,
        }
    }
}

impl Experiment for Theorem1Config {
    const KIND: &'static str = "theorem1";

    fn validate(&self) -> Result<()> {
        if self.instances == 0 {
            bail!("instances must be at least 1");
        }
        Ok(self.params().validate()?)
    }

    fn run(&self, seed: u64, ctx: &RunContext) -> Result<Tables> {
        let samples = sample_instances(&self.params(), seed)?;
        let max_ratio = samples.iter().map(|s| s.ratio).fold(0.0, f64::max);
        ctx.log(format!(
            "{} instances of {}; largest ratio to the bound {max_ratio:.4}",
            samples.len(),
            self.setting.name()
        ));
        let rows: Vec<InstanceRow> = samples
            .iter()
            .map(|s| InstanceRow {
                setting: self.setting,
                vocab: self.vocab,
                length: self.length,
                instance: s.instance,
                kind: s.kind,
                reward_mean: s.reward_mean,
                reward_std: s.reward_std,
                reward_max: s.reward_max,
                grad_norm: s.grad_norm,
                gamma: s.gamma,
                bound: s.bound,
                ratio: s.ratio,
            })
            .collect();
        Ok(vec![("instances".into(), InstanceRow::to_frame(&rows)?)])
    }

    fn report(sweeps: &[SweepResults], dir: &Path) -> Result<Vec<PathBuf>> {
        let groups = sweeps
            .iter()
            .map(|s| Ok(Group::of(&InstanceRow::from_frame(s.table("instances")?)?)))
            .collect::<Result<Vec<Group>>>()?;
        Ok(vec![
            gradient_figure(&groups, dir)?,
            ratio_figure(&groups, dir)?,
            bound_table(&groups, dir)?,
        ])
    }
}

/// The instances of one sweep (one setting), as columns.
struct Group {
    label: String,
    length: usize,
    std: Vec<f64>,
    grad: Vec<f64>,
    /// ||grad|| / (6 L gamma): Theorem 1 says this is at most std^(2/3).
    normalised: Vec<f64>,
    ratio: Vec<f64>,
    /// max reward − expected reward.
    gap: Vec<f64>,
    kind: Vec<InstanceKind>,
}

impl Group {
    fn of(rows: &[InstanceRow]) -> Group {
        let (setting, vocab, length) = rows
            .first()
            .map_or(("", 0, 1), |r| (r.setting.name(), r.vocab, r.length));
        Group {
            label: format!("{setting} (V={vocab}, L={length})"),
            length,
            std: rows.iter().map(|r| r.reward_std).collect(),
            grad: rows.iter().map(|r| r.grad_norm).collect(),
            normalised: rows
                .iter()
                .map(|r| r.grad_norm / (r.bound / r.reward_std.powf(2.0 / 3.0)))
                .collect(),
            ratio: rows.iter().map(|r| r.ratio).collect(),
            gap: rows.iter().map(|r| r.reward_max - r.reward_mean).collect(),
            kind: rows.iter().map(|r| r.kind).collect(),
        }
    }
}

fn power_law(
    label: String,
    coefficient: f64,
    exponent: f64,
    color: Option<usize>,
    dashed: bool,
) -> RefLine {
    RefLine {
        label,
        curve: Curve::PowerLaw {
            coefficient,
            exponent,
        },
        color,
        dashed,
    }
}

/// Fitted power laws of `ys` against the std, one per group.
fn fit_lines(groups: &[Group], ys: fn(&Group) -> &Vec<f64>) -> Vec<RefLine> {
    groups
        .iter()
        .enumerate()
        .filter_map(|(i, g)| {
            let fit = fit_power_law(&g.std, ys(g))?;
            let name = g.label.split(' ').next().unwrap_or("");
            Some(power_law(
                format!("fit {name}: slope {:.2}", fit.slope),
                10f64.powf(fit.intercept),
                fit.slope,
                Some(i),
                false,
            ))
        })
        .collect()
}

fn points(groups: &[Group], ys: fn(&Group) -> &Vec<f64>) -> Vec<PointGroup> {
    groups
        .iter()
        .map(|g| PointGroup {
            label: g.label.clone(),
            points: g.std.iter().copied().zip(ys(g).iter().copied()).collect(),
        })
        .collect()
}

/// `theorem1_gradient_vs_std`: raw and normalised gradient norm against the std.
fn gradient_figure(groups: &[Group], dir: &Path) -> Result<PathBuf> {
    let mut raw_lines = fit_lines(groups, |g| &g.grad);
    raw_lines.push(power_law(
        "bound 6·std^(2/3) at L=γ=1".into(),
        6.0,
        2.0 / 3.0,
        None,
        true,
    ));
    let mut norm_lines = fit_lines(groups, |g| &g.normalised);
    norm_lines.push(power_law(
        "Theorem 1 bound: std^(2/3)".into(),
        1.0,
        2.0 / 3.0,
        None,
        true,
    ));
    // Near-deterministic policies: ||grad|| ~ sum_k p_k |r_k - V| while std ~ sqrt(sum_k p_k (r_k - V)^2),
    // so the exact gradient falls like std^2, faster than the worst-case bound.
    norm_lines.push(power_law(
        "reference slope 2: std²".into(),
        1.0,
        2.0,
        Some(7),
        true,
    ));
    let fig = Figure::row(
        Some("Theorem 1: the expected gradient vanishes with the reward std (exact, no sampling)"),
        vec![
            Panel::Scatter(ScatterPanel {
                title: "exact gradient norm".into(),
                x: Axis::log("reward std under the policy"),
                y: Axis::log("‖∇θ V(x)‖"),
                groups: points(groups, |g| &g.grad),
                lines: raw_lines,
                legend: Legend::UpperLeft,
            }),
            Panel::Scatter(ScatterPanel {
                title: "normalised by 6·L·γ".into(),
                x: Axis::log("reward std under the policy"),
                y: Axis::log("‖∇θ V(x)‖ / (6 L γ)"),
                groups: points(groups, |g| &g.normalised),
                lines: norm_lines,
                legend: Legend::UpperLeft,
            }),
        ],
    );
    let stem = dir.join("theorem1_gradient_vs_std");
    fig.save(&stem)?;
    Ok(stem.with_extension("png"))
}

/// `theorem1_ratio_and_optimality`: ratio to the bound, and how far from optimal the low-std
/// instances are.
fn ratio_figure(groups: &[Group], dir: &Path) -> Result<PathBuf> {
    let kinds = [
        InstanceKind::Random,
        InstanceKind::PeakedOnWorst,
        InstanceKind::PeakedOnRandom,
    ];
    let fig = Figure::row(
        Some("Theorem 1: ratio to the bound and distance from the optimum"),
        vec![
            Panel::Histogram(HistogramPanel {
                title: "‖∇V‖ / bound (must be ≤ 1)".into(),
                x: Axis::log("ratio to the Theorem 1 bound"),
                bins: 40,
                groups: groups
                    .iter()
                    .map(|g| (g.label.clone(), g.ratio.clone()))
                    .collect(),
            }),
            Panel::Scatter(ScatterPanel {
                title: "small std does not mean near-optimal".into(),
                x: Axis::log("reward std under the policy"),
                y: Axis::linear("max reward − expected reward"),
                groups: kinds
                    .iter()
                    .map(|k| PointGroup {
                        label: k.name().replace('_', " "),
                        points: groups
                            .iter()
                            .flat_map(|g| {
                                (0..g.std.len())
                                    .filter(|&i| g.kind[i] == *k)
                                    .map(|i| (g.std[i], g.gap[i]))
                            })
                            .collect(),
                    })
                    .collect(),
                lines: vec![],
                legend: Legend::UpperRight,
            }),
        ],
    );
    let stem = dir.join("theorem1_ratio_and_optimality");
    fig.save(&stem)?;
    Ok(stem.with_extension("png"))
}

/// `theorem1_bound`: largest ratio and fitted slopes per setting.
fn bound_table(groups: &[Group], dir: &Path) -> Result<PathBuf> {
    let mut table = Table::new(
        "Theorem 1 checked exactly: largest ratio ‖∇V‖ / (6 L γ std^(2/3)) over all instances (must be ≤ 1), \
         and fitted log-log slopes of ‖∇V‖ against the reward std (the bound has slope 2/3; near-deterministic \
         policies give slope 2, i.e. the exact gradient vanishes even faster than the bound allows).",
        &[
            "setting",
            "L",
            "instances",
            "std min",
            "std max",
            "max ratio",
            "slope (all)",
            "slope (std < 1e-2)",
            "R² (all)",
        ],
    );
    for g in groups {
        let all = fit_power_law(&g.std, &g.grad);
        let (small_x, small_y): (Vec<f64>, Vec<f64>) = g
            .std
            .iter()
            .zip(&g.grad)
            .filter(|(s, _)| **s < 1e-2)
            .map(|(a, b)| (*a, *b))
            .unzip();
        let small = fit_power_law(&small_x, &small_y);
        let positive = || g.std.iter().copied().filter(|s| *s > 0.0);
        table.push(vec![
            g.label.clone(),
            format!("{}", g.length),
            g.std.len().to_string(),
            format_sig(positive().fold(f64::INFINITY, f64::min), 2),
            format_sig(positive().fold(0.0, f64::max), 2),
            format_sig(g.ratio.iter().copied().fold(0.0, f64::max), 3),
            all.map_or("n/a".into(), |f| format!("{:.3}", f.slope)),
            small.map_or("n/a".into(), |f| format!("{:.3}", f.slope)),
            all.map_or("n/a".into(), |f| format!("{:.3}", f.r2)),
        ]);
    }
    let stem = dir.join("theorem1_bound");
    table.save(&stem)?;
    Ok(stem.with_extension("md"))
}
