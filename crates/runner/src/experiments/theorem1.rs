//! `theorem1`: the exact gradient norm against the reward std (paper, Theorem 1).
//!
//! Each run draws `instances` random (policy, reward) pairs in one setting and measures
//! `||grad V||`, `STD[r]`, `gamma` and the bound `6 L gamma STD^(2/3)` exactly. The report draws
//! the gradient against the std (raw and normalised by `6 L gamma`), the ratio to the bound, and
//! tabulates the largest ratio and the fitted slopes per setting.

use super::{Experiment, SweepResults, Tables};
use crate::run::RunContext;
use crate::store::cols;
use anyhow::{Result, bail};
use plotting::*;
use polars::prelude::*;
use std::path::{Path, PathBuf};
use theory::stats::fit_power_law;
use theory::theorem1::{Setting, Theorem1Params, sample_instances};

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
        let n = samples.len();
        let get = |f: fn(&theory::theorem1::Theorem1Sample) -> f64| {
            samples.iter().map(f).collect::<Vec<f64>>()
        };
        let df = df!(
            "setting" => vec![self.setting.name(); n],
            "vocab" => vec![self.vocab as i64; n],
            "length" => vec![self.length as i64; n],
            "instance" => samples.iter().map(|s| s.instance as i64).collect::<Vec<_>>(),
            "kind" => samples.iter().map(|s| s.kind.name()).collect::<Vec<_>>(),
            "reward_mean" => get(|s| s.reward_mean),
            "reward_std" => get(|s| s.reward_std),
            "reward_max" => get(|s| s.reward_max),
            "grad_norm" => get(|s| s.grad_norm),
            "gamma" => get(|s| s.gamma),
            "bound" => get(|s| s.bound),
            "ratio" => get(|s| s.ratio),
        )?;
        Ok(vec![("instances".into(), df)])
    }

    fn report(sweeps: &[SweepResults], dir: &Path) -> Result<Vec<PathBuf>> {
        // One group per setting, in sweep order.
        struct Group {
            label: String,
            std: Vec<f64>,
            grad: Vec<f64>,
            normalised: Vec<f64>,
            ratio: Vec<f64>,
            gap: Vec<f64>,
            kind: Vec<String>,
            length: f64,
        }
        let mut groups = Vec::new();
        for s in sweeps {
            let df = s.table("instances")?;
            let (std, grad, bound, ratio) = (
                cols::f64s(df, "reward_std")?,
                cols::f64s(df, "grad_norm")?,
                cols::f64s(df, "bound")?,
                cols::f64s(df, "ratio")?,
            );
            let (mean, max) = (
                cols::f64s(df, "reward_mean")?,
                cols::f64s(df, "reward_max")?,
            );
            let setting = cols::strs(df, "setting")?
                .first()
                .cloned()
                .unwrap_or_default();
            let length = cols::f64s(df, "length")?.first().copied().unwrap_or(1.0);
            let vocab = cols::f64s(df, "vocab")?.first().copied().unwrap_or(0.0);
            // ||grad|| / (6 L gamma): Theorem 1 says this is at most std^(2/3).
            let normalised = grad
                .iter()
                .zip(&bound)
                .zip(&std)
                .map(|((g, b), s)| g / (b / s.powf(2.0 / 3.0)))
                .collect();
            groups.push(Group {
                label: format!("{setting} (V={vocab}, L={length})"),
                normalised,
                gap: max.iter().zip(&mean).map(|(a, b)| a - b).collect(),
                kind: cols::strs(df, "kind")?,
                std,
                grad,
                ratio,
                length,
            });
        }
        let mut written = Vec::new();

        // Figure: raw gradient norm and normalised gradient norm against the std.
        let fit_lines = |ys: &dyn Fn(&Group) -> &Vec<f64>| -> Vec<RefLine> {
            groups
                .iter()
                .enumerate()
                .filter_map(|(i, g)| {
                    let fit = fit_power_law(&g.std, ys(g))?;
                    Some(RefLine {
                        label: format!(
                            "fit {}: slope {:.2}",
                            g.label.split(' ').next().unwrap_or(""),
                            fit.slope
                        ),
                        curve: Curve::PowerLaw {
                            coefficient: 10f64.powf(fit.intercept),
                            exponent: fit.slope,
                        },
                        color: Some(i),
                        dashed: false,
                    })
                })
                .collect()
        };
        let points = |ys: &dyn Fn(&Group) -> &Vec<f64>| -> Vec<PointGroup> {
            groups
                .iter()
                .map(|g| PointGroup {
                    label: g.label.clone(),
                    points: g.std.iter().copied().zip(ys(g).iter().copied()).collect(),
                })
                .collect()
        };
        let mut raw_lines = fit_lines(&|g| &g.grad);
        raw_lines.push(RefLine {
            label: "bound 6·std^(2/3) at L=γ=1".into(),
            curve: Curve::PowerLaw {
                coefficient: 6.0,
                exponent: 2.0 / 3.0,
            },
            color: None,
            dashed: true,
        });
        let mut norm_lines = fit_lines(&|g| &g.normalised);
        norm_lines.push(RefLine {
            label: "Theorem 1 bound: std^(2/3)".into(),
            curve: Curve::PowerLaw {
                coefficient: 1.0,
                exponent: 2.0 / 3.0,
            },
            color: None,
            dashed: true,
        });
        // Near-deterministic policies: ||grad|| ~ sum_k p_k |r_k - V| while std ~ sqrt(sum_k p_k (r_k - V)^2),
        // so the exact gradient falls like std^2, faster than the worst-case bound.
        norm_lines.push(RefLine {
            label: "reference slope 2: std²".into(),
            curve: Curve::PowerLaw {
                coefficient: 1.0,
                exponent: 2.0,
            },
            color: Some(7),
            dashed: true,
        });
        let fig = Figure::row(
            Some(
                "Theorem 1: the expected gradient vanishes with the reward std (exact, no sampling)",
            ),
            vec![
                Panel::Scatter(ScatterPanel {
                    title: "exact gradient norm".into(),
                    x: Axis::log("reward std under the policy"),
                    y: Axis::log("‖∇θ V(x)‖"),
                    groups: points(&|g| &g.grad),
                    lines: raw_lines,
                    legend: Legend::UpperLeft,
                }),
                Panel::Scatter(ScatterPanel {
                    title: "normalised by 6·L·γ".into(),
                    x: Axis::log("reward std under the policy"),
                    y: Axis::log("‖∇θ V(x)‖ / (6 L γ)"),
                    groups: points(&|g| &g.normalised),
                    lines: norm_lines,
                    legend: Legend::UpperLeft,
                }),
            ],
        );
        let stem = dir.join("theorem1_gradient_vs_std");
        fig.save(&stem)?;
        written.push(stem.with_extension("png"));

        // Figure: ratio to the bound, and how far from optimal the low-std instances are.
        let kinds = ["random", "peaked_on_worst", "peaked_on_random"];
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
                            label: k.replace('_', " "),
                            points: groups
                                .iter()
                                .flat_map(|g| {
                                    g.std
                                        .iter()
                                        .zip(&g.gap)
                                        .zip(&g.kind)
                                        .filter(|(_, kind)| kind == k)
                                        .map(|((s, d), _)| (*s, *d))
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
        written.push(stem.with_extension("png"));

        // Table: largest ratio and fitted slopes per setting.
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
        for g in &groups {
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
        written.push(stem.with_extension("md"));
        Ok(written)
    }
}
