//! `theorem2`: time to fit under RFT and SFT gradient flows on a linear model over orthonormal
//! inputs (paper, Theorem 2), as a function of each input's initial reward std.

use super::{Experiment, SweepResults, Tables};
use crate::run::RunContext;
use crate::store::cols;
use anyhow::{Result, bail};
use plotting::*;
use polars::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use theory::ode::Tolerance;
use theory::stats::{fit_line, fit_power_law};
use theory::theorem2::{Method, RewardKind, Theorem2Params, run_theorem2};

protocols::sweep_params! {
    /// Theorem 2: one gradient flow (one method, one reward) over `num_inputs` inputs.
    pub struct Theorem2Config / Theorem2Grid / Theorem2Patch {
        /// rft (expected reward, exact gradient) | sft (cross-entropy).
        pub method: Method,
        /// zero_one (1 correct / 0 otherwise) | plus_minus_one (1 / -1).
        pub reward: RewardKind,
        /// Number of labels K.
        pub num_labels: usize,
        /// Number of orthonormal inputs n; their initial stds are log-spaced over [init_std_min, init_std_max].
        pub num_inputs: usize,
        /// Input dimension d (>= n).
        pub input_dim: usize,
        pub init_std_min: f64,
        pub init_std_max: f64,
        /// Relative and absolute tolerance of the adaptive Dormand-Prince integrator.
        pub rtol: f64,
        pub atol: f64,
        /// Gradient-flow time at which to stop.
        pub max_time: f64,
        /// Log-spaced times in [0.01, max_time] at which p(correct) is recorded.
        pub trajectory_points: usize,
    }
}

impl Theorem2Config {
    fn params(&self) -> Theorem2Params {
        Theorem2Params {
            method: self.method,
            reward: self.reward,
            num_labels: self.num_labels,
            num_inputs: self.num_inputs,
            input_dim: self.input_dim,
            init_std_min: self.init_std_min,
            init_std_max: self.init_std_max,
            tolerance: Tolerance {
                rtol: self.rtol,
                atol: self.atol,
            },
            max_time: self.max_time,
            trajectory_points: self.trajectory_points,
        }
    }
}

fn method_name(m: Method) -> &'static str {
    match m {
        Method::Rft => "rft",
        Method::Sft => "sft",
    }
}

fn reward_name(r: RewardKind) -> &'static str {
    match r {
        RewardKind::ZeroOne => "zero_one",
        RewardKind::PlusMinusOne => "plus_minus_one",
    }
}

fn label(method: &str, reward: &str) -> String {
    let r = if reward == "zero_one" {
        "r ∈ {0,1}"
    } else {
        "r ∈ {−1,1}"
    };
    format!("{} {r}", method.to_uppercase())
}

/// Per (method, reward): initial stds and times of the fitted inputs, and the number of inputs.
type FitPoints = (Vec<f64>, Vec<f64>, usize);
/// Per (method, reward, input): initial std, p(correct) per seed, recorded times.
type Trajectory = (f64, BTreeMap<u64, Vec<f64>>, Vec<f64>);

impl Experiment for Theorem2Config {
    const KIND: &'static str = "theorem2";

    fn validate(&self) -> Result<()> {
        Ok(self.params().validate()?)
    }

    fn run(&self, seed: u64, ctx: &RunContext) -> Result<Tables> {
        let r = run_theorem2(&self.params(), seed)?;
        let fitted = r.fits.iter().filter(|f| f.time_to_fit.is_some()).count();
        ctx.log(format!(
            "{} {}: {fitted}/{} inputs fitted by t = {:.3e}; {} accepted and {} rejected steps",
            method_name(self.method),
            reward_name(self.reward),
            r.fits.len(),
            r.final_time,
            r.accepted_steps,
            r.rejected_steps
        ));
        if r.fits
            .iter()
            .any(|f| f.time_to_fit.is_some_and(|t| !t.is_finite()))
        {
            bail!("the gradient flow produced a non-finite time to fit; lower rtol/atol");
        }
        let (m, rw) = (method_name(self.method), reward_name(self.reward));
        let n = r.fits.len();
        let fits = df!(
            "method" => vec![m; n],
            "reward" => vec![rw; n],
            "input" => r.fits.iter().map(|f| f.input as i64).collect::<Vec<_>>(),
            "init_p_correct" => r.fits.iter().map(|f| f.init_p_correct).collect::<Vec<_>>(),
            "init_reward_std" => r.fits.iter().map(|f| f.init_reward_std).collect::<Vec<_>>(),
            "time_to_fit" => r.fits.iter().map(|f| f.time_to_fit).collect::<Vec<Option<f64>>>(),
        )?;
        let t = &r.trajectory;
        let k = t.len();
        let std0: Vec<f64> = t.iter().map(|p| r.fits[p.input].init_reward_std).collect();
        let trajectory = df!(
            "method" => vec![m; k],
            "reward" => vec![rw; k],
            "input" => t.iter().map(|p| p.input as i64).collect::<Vec<_>>(),
            "init_reward_std" => std0,
            "time" => t.iter().map(|p| p.time).collect::<Vec<_>>(),
            "p_correct" => t.iter().map(|p| p.p_correct).collect::<Vec<_>>(),
            "reward_std" => t.iter().map(|p| p.reward_std).collect::<Vec<_>>(),
        )?;
        Ok(vec![
            ("fits".into(), fits),
            ("trajectory".into(), trajectory),
        ])
    }

    fn report(sweeps: &[SweepResults], dir: &Path) -> Result<Vec<PathBuf>> {
        let mut fits: BTreeMap<(String, String), FitPoints> = BTreeMap::new();
        let mut traj: BTreeMap<(String, String, i64), Trajectory> = BTreeMap::new();
        for s in sweeps {
            let df = s.table("fits")?;
            let (methods, rewards) = (cols::strs(df, "method")?, cols::strs(df, "reward")?);
            let (std, time) = (
                cols::f64s(df, "init_reward_std")?,
                cols::f64s(df, "time_to_fit")?,
            );
            for i in 0..df.height() {
                let e = fits
                    .entry((methods[i].clone(), rewards[i].clone()))
                    .or_default();
                e.2 += 1;
                if time[i].is_finite() {
                    e.0.push(std[i]);
                    e.1.push(time[i]);
                }
            }
            let df = s.table("trajectory")?;
            let (methods, rewards) = (cols::strs(df, "method")?, cols::strs(df, "reward")?);
            let (inputs, std0) = (cols::f64s(df, "input")?, cols::f64s(df, "init_reward_std")?);
            let (times, p, seeds) = (
                cols::f64s(df, "time")?,
                cols::f64s(df, "p_correct")?,
                cols::f64s(df, "seed")?,
            );
            for i in 0..df.height() {
                let e = traj
                    .entry((methods[i].clone(), rewards[i].clone(), inputs[i] as i64))
                    .or_default();
                e.0 = std0[i];
                let runs = e.1.entry(seeds[i] as u64).or_default();
                runs.push(p[i]);
                if runs.len() > e.2.len() {
                    e.2.push(times[i]);
                }
            }
        }
        let mut written = Vec::new();

        // Figure: time to fit against the initial std.
        let mut groups = Vec::new();
        let mut lines = Vec::new();
        for (i, ((m, r), (std, time, _))) in fits.iter().enumerate() {
            groups.push(PointGroup {
                label: label(m, r),
                points: std.iter().copied().zip(time.iter().copied()).collect(),
            });
            if m == "rft"
                && let Some(f) = fit_power_law(std, time)
            {
                lines.push(RefLine {
                    label: format!("fit {}: slope {:.2}", label(m, r), f.slope),
                    curve: Curve::PowerLaw {
                        coefficient: 10f64.powf(f.intercept),
                        exponent: f.slope,
                    },
                    color: Some(i),
                    dashed: false,
                });
            }
        }
        let mut sft_groups = Vec::new();
        let mut sft_lines = Vec::new();
        for (i, ((m, r), (std, time, _))) in
            fits.iter().filter(|((m, _), _)| m == "sft").enumerate()
        {
            let log_inv: Vec<f64> = std.iter().map(|s| (1.0 / s).ln()).collect();
            sft_groups.push(PointGroup {
                label: label(m, r),
                points: log_inv.iter().copied().zip(time.iter().copied()).collect(),
            });
            if let Some(f) = fit_line(&log_inv, time) {
                sft_lines.push(RefLine {
                    label: format!("fit: slope {:.2}", f.slope),
                    curve: Curve::Line {
                        slope: f.slope,
                        intercept: f.intercept,
                    },
                    color: Some(i),
                    dashed: true,
                });
            }
        }
        let fig = Figure::row(
            Some(
                "Theorem 2: time to fit an input on a linear model over orthonormal inputs (gradient flow)",
            ),
            vec![
                Panel::Scatter(ScatterPanel {
                    title: "RFT needs Ω(1/std²), SFT O(ln 1/std)".into(),
                    x: Axis::log("initial reward std of the input"),
                    y: Axis::log("time until the correct label is the argmax"),
                    groups,
                    lines,
                    legend: Legend::UpperRight,
                }),
                Panel::Scatter(ScatterPanel {
                    title: "SFT: linear in ln(1/std)".into(),
                    x: Axis::linear("ln(1 / initial reward std)"),
                    y: Axis::linear("time to fit (SFT)"),
                    groups: sft_groups,
                    lines: sft_lines,
                    legend: Legend::UpperLeft,
                }),
            ],
        );
        let stem = dir.join("theorem2_time_to_fit");
        fig.save(&stem)?;
        written.push(stem.with_extension("png"));

        // Figure: p(correct) over time for three inputs (smallest, middle, largest initial std).
        let mut panels = Vec::new();
        for reward in ["zero_one", "plus_minus_one"] {
            let inputs: Vec<i64> = traj
                .keys()
                .filter(|(m, r, _)| m == "rft" && r == reward)
                .map(|k| k.2)
                .collect();
            if inputs.is_empty() {
                continue;
            }
            let picks = [
                inputs[0],
                inputs[inputs.len() / 2],
                inputs[inputs.len() - 1],
            ];
            let mut series = Vec::new();
            for method in ["rft", "sft"] {
                for input in picks {
                    if let Some((std0, runs, times)) =
                        traj.get(&(method.to_string(), reward.to_string(), input))
                    {
                        series.push(LineSeries {
                            label: format!(
                                "{} std₀={}",
                                method.to_uppercase(),
                                format_sig(*std0, 1)
                            ),
                            x: times.clone(),
                            runs: runs.values().cloned().collect(),
                        });
                    }
                }
            }
            panels.push(Panel::Lines(LinePanel {
                title: format!("p(correct label), {}", label("", reward).trim()),
                x: Axis::log("gradient-flow time"),
                y: Axis::linear("p(correct label)").with_range(0.0, 1.0),
                series,
                legend: Legend::UpperLeft,
            }));
        }
        if !panels.is_empty() {
            let fig = Figure::row(
                Some("Theorem 2: RFT plateaus while the reward std is small; SFT does not"),
                panels,
            );
            let stem = dir.join("theorem2_trajectories");
            fig.save(&stem)?;
            written.push(stem.with_extension("png"));
        }

        // Table: fitted rates.
        let mut table = Table::new(
            "Theorem 2 on a linear model over orthonormal inputs, gradient flow: fitted exponent of the time to fit \
             against the initial reward std (theory for RFT: −2), and slope of the time to fit against ln(1/std) \
             (theory for SFT: logarithmic growth, R² near 1).",
            &[
                "method",
                "reward",
                "inputs fitted",
                "exponent (log t vs log std)",
                "R² (power law)",
                "slope (t vs ln 1/std)",
                "R² (log law)",
            ],
        );
        for ((m, r), (std, time, total)) in &fits {
            let pl = fit_power_law(std, time);
            let log_inv: Vec<f64> = std.iter().map(|s| (1.0 / s).ln()).collect();
            let lin = fit_line(&log_inv, time);
            table.push(vec![
                m.to_uppercase(),
                r.clone(),
                format!("{}/{}", time.len(), total),
                pl.map_or("n/a".into(), |f| format!("{:.3}", f.slope)),
                pl.map_or("n/a".into(), |f| format!("{:.4}", f.r2)),
                lin.map_or("n/a".into(), |f| format_sig(f.slope, 4)),
                lin.map_or("n/a".into(), |f| format!("{:.4}", f.r2)),
            ]);
        }
        let stem = dir.join("theorem2_rates");
        table.save(&stem)?;
        written.push(stem.with_extension("md"));
        Ok(written)
    }
}
