//! Theorem 2 of the paper: on a linear model over orthonormal inputs, reinforcement finetuning
//! (RFT) by gradient flow needs time `Omega(1/std^2)` to fit an input whose initial reward std is
//! `std`, while supervised finetuning (SFT) needs only `O(ln(1/std))`.
//!
//! Model: inputs `x_1..x_n` orthonormal in `R^d`, `K` labels, policy `p(.|x) = softmax(W x)`.
//! Objectives (means over inputs), both ascended by gradient flow `dW/dt = grad_W objective`:
//! - RFT, perfect exploration: `(1/n) sum_i E_{y~p(.|x_i)}[r(x_i, y)]`, with `r = 1[y = y_i]`
//!   ([`RewardKind::ZeroOne`]) or `+1 / -1` ([`RewardKind::PlusMinusOne`]);
//! - SFT: `(1/n) sum_i ln p(y_i | x_i)`.
//!
//! Input `i` starts with the correct label at probability `p_i` (the other labels share the rest
//! evenly), chosen so its initial reward std takes a prescribed value; the flow is integrated with
//! an adaptive Dormand-Prince method ([`crate::ode`]) and the *time to fit* is the first time the
//! correct label is the argmax of `W x_i`.

use crate::TheoryError;
use crate::linalg::random_orthonormal;
use crate::ode::{DormandPrince, Tolerance};
use crate::softmax::softmax_into;
use crate::stats::logspace;
use rand::RngExt;
use serde::{Deserialize, Serialize};

/// The finetuning objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Expected reward, exact gradient (perfect exploration).
    Rft,
    /// Cross-entropy on the correct label.
    Sft,
}

/// The reward of the RFT objective (also fixes how the initial std maps to the initial probability).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RewardKind {
    /// `r = 1` for the correct label, `0` otherwise: `std = sqrt(p (1 - p))`.
    ZeroOne,
    /// `r = 1` for the correct label, `-1` otherwise: `std = 2 sqrt(p (1 - p))`.
    PlusMinusOne,
}

impl Method {
    /// The serde name (`rft`, `sft`).
    pub fn name(&self) -> &'static str {
        match self {
            Method::Rft => "rft",
            Method::Sft => "sft",
        }
    }
}

impl RewardKind {
    /// The serde name (`zero_one`, `plus_minus_one`).
    pub fn name(&self) -> &'static str {
        match self {
            RewardKind::ZeroOne => "zero_one",
            RewardKind::PlusMinusOne => "plus_minus_one",
        }
    }

    fn values(&self) -> (f64, f64) {
        match self {
            RewardKind::ZeroOne => (1.0, 0.0),
            RewardKind::PlusMinusOne => (1.0, -1.0),
        }
    }

    /// Reward std when the correct label has probability `p`.
    pub fn reward_std(&self, p: f64) -> f64 {
        let (hit, miss) = self.values();
        (hit - miss) * (p * (1.0 - p)).sqrt()
    }

    /// The probability `p <= 1/2` of the correct label that gives reward std `std`.
    pub fn p_correct_for_std(&self, std: f64) -> Option<f64> {
        let (hit, miss) = self.values();
        let s = std / (hit - miss); // sqrt(p (1 - p)) = s
        (s > 0.0 && s <= 0.5).then(|| {
            // The smaller root of p^2 - p + s^2 = 0, written to stay accurate for tiny s.
            2.0 * s * s / (1.0 + (1.0 - 4.0 * s * s).sqrt())
        })
    }
}

/// What to integrate.
#[derive(Debug, Clone, PartialEq)]
pub struct Theorem2Params {
    pub method: Method,
    pub reward: RewardKind,
    /// `K`.
    pub num_labels: usize,
    /// `n`; input `i` gets the `i`-th of `n` initial stds log-spaced in `[init_std_min, init_std_max]`.
    pub num_inputs: usize,
    /// `d >= n`.
    pub input_dim: usize,
    pub init_std_min: f64,
    pub init_std_max: f64,
    pub tolerance: Tolerance,
    /// Stop here even if some inputs are not fitted (their time to fit is then `None`).
    pub max_time: f64,
    /// Number of log-spaced times in `[1e-2, max_time]` at which the trajectory is recorded.
    pub trajectory_points: usize,
}

impl Theorem2Params {
    pub fn validate(&self) -> Result<(), TheoryError> {
        let bad = |m: String| Err(TheoryError::Invalid(m));
        if self.num_labels < 2 || self.num_inputs < 1 {
            return bad("need num_labels >= 2 and num_inputs >= 1".into());
        }
        if self.input_dim < self.num_inputs {
            return bad(format!(
                "input_dim ({}) must be >= num_inputs ({}) for the inputs to be orthonormal",
                self.input_dim, self.num_inputs
            ));
        }
        if !(self.init_std_min > 0.0 && self.init_std_min <= self.init_std_max) {
            return bad("need 0 < init_std_min <= init_std_max".into());
        }
        let p_max = self.reward.p_correct_for_std(self.init_std_max);
        let even_share = |p: f64| (1.0 - p) / (self.num_labels - 1) as f64;
        match p_max {
            Some(p) if p < even_share(p) => {}
            _ => {
                return bad(format!(
                    "init_std_max = {} makes the correct label start with probability at least \
                     that of every other label, so it is fitted at time 0; lower init_std_max or \
                     use more labels",
                    self.init_std_max
                ));
            }
        }
        if !(self.tolerance.rtol > 0.0 && self.tolerance.atol > 0.0 && self.max_time > 1e-2) {
            return bad("need rtol > 0, atol > 0 and max_time > 0.01".into());
        }
        Ok(())
    }
}

/// Per-input outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputFit {
    pub input: usize,
    pub init_p_correct: f64,
    pub init_reward_std: f64,
    /// First time the correct label is the argmax; `None` if not reached by `max_time`.
    pub time_to_fit: Option<f64>,
}

/// The state of one input at one recorded time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrajectoryPoint {
    pub time: f64,
    pub input: usize,
    pub p_correct: f64,
    pub reward_std: f64,
}

/// The outcome of one gradient flow.
#[derive(Debug, Clone, PartialEq)]
pub struct Theorem2Result {
    pub fits: Vec<InputFit>,
    pub trajectory: Vec<TrajectoryPoint>,
    pub accepted_steps: usize,
    pub rejected_steps: usize,
    pub final_time: f64,
}

/// The linear model and its training data.
struct LinearProblem {
    method: Method,
    reward: RewardKind,
    k: usize,
    d: usize,
    inputs: Vec<Vec<f64>>,
    labels: Vec<usize>,
}

impl LinearProblem {
    /// Logits `W x_i` (`W` is `K x d`, row-major).
    fn logits(&self, w: &[f64], i: usize, z: &mut [f64]) {
        for (a, za) in z.iter_mut().enumerate() {
            *za = w[a * self.d..(a + 1) * self.d]
                .iter()
                .zip(&self.inputs[i])
                .map(|(p, q)| p * q)
                .sum();
        }
    }

    /// `dW/dt`: the gradient of the mean objective, `(1/n) sum_i g_i x_i^T` with the logit-space
    /// gradient `g_i = p (r - V)` (RFT) or `g_i = e_{y_i} - p` (SFT).
    fn flow(&self, w: &[f64], dw: &mut [f64]) {
        dw.iter_mut().for_each(|v| *v = 0.0);
        let n = self.inputs.len() as f64;
        let (mut z, mut p, mut g) = (vec![0.0; self.k], vec![0.0; self.k], vec![0.0; self.k]);
        for (i, x) in self.inputs.iter().enumerate() {
            self.logits(w, i, &mut z);
            softmax_into(&z, &mut p);
            let y = self.labels[i];
            match self.method {
                Method::Rft => {
                    let (hit, miss) = self.reward.values();
                    let value = miss + (hit - miss) * p[y];
                    for a in 0..self.k {
                        let r = if a == y { hit } else { miss };
                        g[a] = p[a] * (r - value);
                    }
                }
                Method::Sft => {
                    for a in 0..self.k {
                        g[a] = f64::from(a == y) - p[a];
                    }
                }
            }
            for a in 0..self.k {
                let row = &mut dw[a * self.d..(a + 1) * self.d];
                row.iter_mut()
                    .zip(x)
                    .for_each(|(r, xv)| *r += g[a] * xv / n);
            }
        }
    }

    /// `z_{y_i} - max_{a != y_i} z_a`: non-negative once input `i` is fitted.
    fn margin(&self, w: &[f64], i: usize) -> f64 {
        let mut z = vec![0.0; self.k];
        self.logits(w, i, &mut z);
        let y = self.labels[i];
        let other = (0..self.k)
            .filter(|&a| a != y)
            .map(|a| z[a])
            .fold(f64::NEG_INFINITY, f64::max);
        z[y] - other
    }

    fn p_correct(&self, w: &[f64], i: usize) -> f64 {
        let mut z = vec![0.0; self.k];
        self.logits(w, i, &mut z);
        crate::softmax::softmax(&z)[self.labels[i]]
    }
}

/// Integrate the gradient flow and record, per input, its time to fit.
pub fn run_theorem2(params: &Theorem2Params, seed: u64) -> Result<Theorem2Result, TheoryError> {
    params.validate()?;
    let mut rng = crate::rng(seed);
    let (k, n, d) = (params.num_labels, params.num_inputs, params.input_dim);
    let inputs = random_orthonormal(n, d, &mut rng);
    let labels: Vec<usize> = (0..n).map(|_| rng.random_range(0..k)).collect();
    let stds = logspace(params.init_std_min, params.init_std_max, n);
    let init_p: Vec<f64> = stds
        .iter()
        .map(|&s| params.reward.p_correct_for_std(s).unwrap())
        .collect();

    // W(0) = sum_i z_i(0) x_i^T, so that W(0) x_i = z_i(0) exactly (orthonormal inputs).
    let mut w0 = vec![0.0; k * d];
    for i in 0..n {
        for a in 0..k {
            let p = if a == labels[i] {
                init_p[i]
            } else {
                (1.0 - init_p[i]) / (k - 1) as f64
            };
            for j in 0..d {
                w0[a * d + j] += p.ln() * inputs[i][j];
            }
        }
    }
    let problem = LinearProblem {
        method: params.method,
        reward: params.reward,
        k,
        d,
        inputs,
        labels,
    };

    let mut ode = DormandPrince::new(
        |_t, w: &[f64], dw: &mut [f64]| problem.flow(w, dw),
        0.0,
        w0,
        1e-3,
        params.tolerance,
    );
    let mut time_to_fit: Vec<Option<f64>> = (0..n)
        .map(|i| (problem.margin(&ode.y, i) >= 0.0).then_some(0.0))
        .collect();
    let record_times = logspace(1e-2, params.max_time, params.trajectory_points.max(1));
    let mut next_record = 0;
    let mut trajectory = Vec::new();
    let record = |t: f64, w: &[f64], out: &mut Vec<TrajectoryPoint>| {
        for i in 0..n {
            let p = problem.p_correct(w, i);
            out.push(TrajectoryPoint {
                time: t,
                input: i,
                p_correct: p,
                reward_std: params.reward.reward_std(p),
            });
        }
    };
    while ode.t < params.max_time {
        let (t0, y0) = ode.advance(params.max_time);
        for (i, fit) in time_to_fit.iter_mut().enumerate() {
            if fit.is_none() && problem.margin(&ode.y, i) >= 0.0 {
                *fit = Some(ode.locate(t0, &y0, |w| problem.margin(w, i)));
            }
        }
        while next_record < record_times.len() && record_times[next_record] <= ode.t {
            let t = record_times[next_record];
            record(t, &ode.step_from(t0, &y0, t - t0), &mut trajectory);
            next_record += 1;
        }
        // Once everything is fitted and recorded there is nothing left to learn.
        if next_record == record_times.len() && time_to_fit.iter().all(Option::is_some) {
            break;
        }
    }
    let fits = (0..n)
        .map(|i| InputFit {
            input: i,
            init_p_correct: init_p[i],
            init_reward_std: stds[i],
            time_to_fit: time_to_fit[i],
        })
        .collect();
    Ok(Theorem2Result {
        fits,
        trajectory,
        accepted_steps: ode.accepted_steps,
        rejected_steps: ode.rejected_steps,
        final_time: ode.t,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{fit_line, fit_power_law};

    fn params(method: Method, reward: RewardKind) -> Theorem2Params {
        Theorem2Params {
            method,
            reward,
            num_labels: 10,
            num_inputs: 6,
            input_dim: 8,
            init_std_min: 1e-3,
            init_std_max: 3e-2,
            tolerance: Tolerance {
                rtol: 1e-8,
                atol: 1e-10,
            },
            max_time: 1e9,
            trajectory_points: 5,
        }
    }

    fn times(r: &Theorem2Result) -> (Vec<f64>, Vec<f64>) {
        r.fits
            .iter()
            .map(|f| (f.init_reward_std, f.time_to_fit.expect("every input fits")))
            .unzip()
    }

    #[test]
    fn std_and_probability_round_trip() {
        for kind in [RewardKind::ZeroOne, RewardKind::PlusMinusOne] {
            for std in [1e-7, 1e-3, 0.2] {
                let p = kind.p_correct_for_std(std).unwrap();
                assert!((kind.reward_std(p) / std - 1.0).abs() < 1e-12);
            }
        }
        assert!(RewardKind::ZeroOne.p_correct_for_std(0.6).is_none());
    }

    #[test]
    fn rft_time_grows_like_one_over_std_squared() {
        for reward in [RewardKind::ZeroOne, RewardKind::PlusMinusOne] {
            let (std, t) = times(&run_theorem2(&params(Method::Rft, reward), 0).unwrap());
            let fit = fit_power_law(&std, &t).unwrap();
            assert!(
                (fit.slope + 2.0).abs() < 0.2,
                "{reward:?}: exponent {}",
                fit.slope
            );
        }
    }

    #[test]
    fn sft_time_grows_like_log_one_over_std() {
        let (std, t) = times(&run_theorem2(&params(Method::Sft, RewardKind::ZeroOne), 0).unwrap());
        let log_inv: Vec<f64> = std.iter().map(|s| (1.0 / s).ln()).collect();
        let fit = fit_line(&log_inv, &t).unwrap();
        assert!(fit.r2 > 0.99 && fit.slope > 0.0, "{fit:?}");
        // ... and it is far faster than RFT on the smallest std.
        let (_, t_rft) =
            times(&run_theorem2(&params(Method::Rft, RewardKind::ZeroOne), 0).unwrap());
        assert!(t_rft[0] > 1000.0 * t[0], "rft {} vs sft {}", t_rft[0], t[0]);
    }

    #[test]
    fn the_time_to_fit_is_seed_independent() {
        // Orthonormal inputs decouple: the basis and the labels drawn by the seed do not matter.
        let p = params(Method::Rft, RewardKind::ZeroOne);
        let (_, a) = times(&run_theorem2(&p, 1).unwrap());
        let (_, b) = times(&run_theorem2(&p, 2).unwrap());
        for (x, y) in a.iter().zip(&b) {
            assert!((x / y - 1.0).abs() < 1e-5, "{x} vs {y}");
        }
    }

    #[test]
    fn unreachable_fits_are_reported_as_none() {
        let p = Theorem2Params {
            max_time: 10.0,
            ..params(Method::Rft, RewardKind::ZeroOne)
        };
        let r = run_theorem2(&p, 0).unwrap();
        assert!(r.fits.iter().all(|f| f.time_to_fit.is_none()));
        assert!((r.final_time - 10.0).abs() < 1e-9);
    }

    #[test]
    fn a_std_too_large_to_start_unfitted_is_a_clear_error() {
        let p = Theorem2Params {
            init_std_max: 0.45,
            ..params(Method::Sft, RewardKind::ZeroOne)
        };
        assert!(
            run_theorem2(&p, 0)
                .unwrap_err()
                .to_string()
                .contains("init_std_max")
        );
    }
}
