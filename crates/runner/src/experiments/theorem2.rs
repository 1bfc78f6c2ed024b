//! `theorem2`: time to fit under RFT and SFT gradient flows on a linear model over orthonormal
//! inputs (paper, Theorem 2), as a function of each input's initial reward std.

use super::{Experiment, SweepResults, Tables};
use crate::run::RunContext;
use anyhow::{Result, bail};
use plotting::*;
use protocols::rows::{Gathered, Rows, gathered};
use protocols::theory::{FitRow, TrajectoryRow};
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

fn label(method: Method, reward: RewardKind) -> String {
    let r = match reward {
        RewardKind::ZeroOne => "r ∈ {0,1}",
        RewardKind::PlusMinusOne => "r ∈ {−1,1}",
    };
    let m = match method {
        Method::Rft => "RFT",
        Method::Sft => "SFT",
    };
    format!("{m} {r}")
}

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
            self.method.name(),
            self.reward.name(),
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
        let (method, reward) = (self.method, self.reward);
        let fits: Vec<FitRow> = r
            .fits
            .iter()
            .map(|f| FitRow {
                method,
                reward,
                input: f.input,
                init_p_correct: f.init_p_correct,
                init_reward_std: f.init_reward_std,
                time_to_fit: f.time_to_fit,
            })
            .collect();
        let trajectory: Vec<TrajectoryRow> = r
            .trajectory
            .iter()
            .map(|p| TrajectoryRow {
                method,
                reward,
                input: p.input,
                init_reward_std: r.fits[p.input].init_reward_std,
                time: p.time,
                p_correct: p.p_correct,
                reward_std: p.reward_std,
            })
            .collect();
        Ok(vec![
            ("fits".into(), FitRow::to_frame(&fits)?),
            ("trajectory".into(), TrajectoryRow::to_frame(&trajectory)?),
        ])
    }

    fn report(sweeps: &[SweepResults], dir: &Path) -> Result<Vec<PathBuf>> {
        let mut fits = Vec::new();
        let mut trajectories = Vec::new();
        for s in sweeps {
            fits.extend(FitRow::from_frame(s.table("fits")?)?);
            trajectories.extend(gathered::<TrajectoryRow>(s.table("trajectory")?)?);
        }
        let fits = Fits::of(&fits);
        let mut written = vec![time_to_fit_figure(&fits, dir)?];
        written.extend(trajectory_figure(&trajectories, dir)?);
        written.push(rates_table(&fits, dir)?);
        Ok(written)
    }
}

/// The inputs of one (method, reward).
struct FitGroup {
    method: Method,
    reward: RewardKind,
    /// Initial std and time to fit of the inputs fitted.
    std: Vec<f64>,
    time: Vec<f64>,
    /// All inputs, fitted or not.
    total: usize,
}

/// Per (method, reward), ordered by their names.
struct Fits(Vec<FitGroup>);

impl Fits {
    fn of(rows: &[FitRow]) -> Fits {
        let mut fits: BTreeMap<(&str, &str), FitGroup> = BTreeMap::new();
        for r in rows {
            let g = fits
                .entry((r.method.name(), r.reward.name()))
                .or_insert_with(|| FitGroup {
                    method: r.method,
                    reward: r.reward,
                    std: Vec::new(),
                    time: Vec::new(),
                    total: 0,
                });
            g.total += 1;
            if let Some(t) = r.time_to_fit.filter(|t| t.is_finite()) {
                g.std.push(r.init_reward_std);
                g.time.push(t);
            }
        }
        Fits(fits.into_values().collect())
    }
}

/// `theorem2_time_to_fit`: time to fit against the initial std (RFT, with power-law fits) and
/// against ln(1/std) (SFT, with line fits).
fn time_to_fit_figure(fits: &Fits, dir: &Path) -> Result<PathBuf> {
    let mut groups = Vec::new();
    let mut lines = Vec::new();
    for (i, g) in fits.0.iter().enumerate() {
        let (m, r, std, time) = (&g.method, &g.reward, &g.std, &g.time);
        groups.push(PointGroup {
            label: label(*m, *r),
            points: std.iter().copied().zip(time.iter().copied()).collect(),
        });
        if *m == Method::Rft
            && let Some(f) = fit_power_law(std, time)
        {
            lines.push(RefLine {
                label: format!("fit {}: slope {:.2}", label(*m, *r), f.slope),
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
    for (i, g) in fits
        .0
        .iter()
        .filter(|g| g.method == Method::Sft)
        .enumerate()
    {
        let (m, r, std, time) = (&g.method, &g.reward, &g.std, &g.time);
        let log_inv: Vec<f64> = std.iter().map(|s| (1.0 / s).ln()).collect();
        sft_groups.push(PointGroup {
            label: label(*m, *r),
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
    Ok(stem.with_extension("png"))
}

/// `theorem2_trajectories`: p(correct) over time for three inputs (smallest, middle and largest
/// initial std), per reward.
fn trajectory_figure(rows: &[Gathered<TrajectoryRow>], dir: &Path) -> Result<Option<PathBuf>> {
    // (method, reward, input) -> (initial std, seed -> p(correct) over time, times)
    type Trajectory = (f64, BTreeMap<u64, Vec<f64>>, Vec<f64>);
    let mut traj: BTreeMap<(&str, &str, usize), Trajectory> = BTreeMap::new();
    for g in rows {
        let r = &g.row;
        let e = traj
            .entry((r.method.name(), r.reward.name(), r.input))
            .or_default();
        e.0 = r.init_reward_std;
        let runs = e.1.entry(g.seed).or_default();
        runs.push(r.p_correct);
        if runs.len() > e.2.len() {
            e.2.push(r.time);
        }
    }
    let mut panels = Vec::new();
    for reward in [RewardKind::ZeroOne, RewardKind::PlusMinusOne] {
        let inputs: Vec<usize> = traj
            .keys()
            .filter(|(m, r, _)| *m == "rft" && *r == reward.name())
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
        for method in [Method::Rft, Method::Sft] {
            for input in picks {
                if let Some((std0, runs, times)) = traj.get(&(method.name(), reward.name(), input))
                {
                    series.push(LineSeries {
                        label: format!(
                            "{} std₀={}",
                            method.name().to_uppercase(),
                            format_sig(*std0, 1)
                        ),
                        x: times.clone(),
                        runs: runs.values().cloned().collect(),
                    });
                }
            }
        }
        let title = label(Method::Rft, reward).replace("RFT ", "");
        panels.push(Panel::Lines(LinePanel {
            title: format!("p(correct label), {title}"),
            x: Axis::log("gradient-flow time"),
            y: Axis::linear("p(correct label)").with_range(0.0, 1.0),
            series,
            legend: Legend::UpperLeft,
        }));
    }
    if panels.is_empty() {
        return Ok(None);
    }
    let fig = Figure::row(
        Some("Theorem 2: RFT plateaus while the reward std is small; SFT does not"),
        panels,
    );
    let stem = dir.join("theorem2_trajectories");
    fig.save(&stem)?;
    Ok(Some(stem.with_extension("png")))
}

/// `theorem2_rates`: fitted rates per method and reward.
fn rates_table(fits: &Fits, dir: &Path) -> Result<PathBuf> {
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
    for g in &fits.0 {
        let (m, r, std, time, total) = (g.method, g.reward, &g.std, &g.time, g.total);
        let pl = fit_power_law(std, time);
        let log_inv: Vec<f64> = std.iter().map(|s| (1.0 / s).ln()).collect();
        let lin = fit_line(&log_inv, time);
        table.push(vec![
            m.name().to_uppercase(),
            r.name().to_string(),
            format!("{}/{}", time.len(), total),
            pl.map_or("n/a".into(), |f| format!("{:.3}", f.slope)),
            pl.map_or("n/a".into(), |f| format!("{:.4}", f.r2)),
            lin.map_or("n/a".into(), |f| format_sig(f.slope, 4)),
            lin.map_or("n/a".into(), |f| format!("{:.4}", f.r2)),
        ]);
    }
    let stem = dir.join("theorem2_rates");
    table.save(&stem)?;
    Ok(stem.with_extension("md"))
}
