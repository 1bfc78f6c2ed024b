//! Theorem 1 of the paper: the expected gradient vanishes with the reward standard deviation.
//!
//! For an autoregressive softmax policy emitting `L` tokens with logits `f_theta(x, y_<l)` and
//! rewards in `[-1, 1]`:
//!
//! `||grad_theta V(x; theta)|| <= 6 * L * gamma(x; theta) * STD_{y~p(.|x)}[r(x,y)]^(2/3)`,
//!
//! where `gamma(x; theta)` is the largest spectral norm of the Jacobian of the logits at any
//! prefix with respect to `theta`. [`sample_instances`] draws random policies and rewards in
//! three settings and measures both sides exactly.

use crate::TheoryError;
use crate::bandit::SoftmaxBandit;
use crate::neural::MlpPolicy;
use crate::sequence::{SequenceSpace, TabularPolicy};
use rand::RngExt;
use serde::{Deserialize, Serialize};

/// Theorem 1's right-hand side: `6 * L * gamma * reward_std^(2/3)`.
pub fn theorem1_bound(length: usize, gamma: f64, reward_std: f64) -> f64 {
    6.0 * length as f64 * gamma * reward_std.powf(2.0 / 3.0)
}

/// The three policy classes in which the bound is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Setting {
    /// (a) one step, `K` outputs, the logits are the parameters (`L = 1`, `gamma = 1`).
    Softmax,
    /// (b) autoregressive, logits per prefix are the parameters (`gamma = 1`).
    Tabular,
    /// (c) autoregressive two-layer MLP; `gamma` computed from its Jacobians.
    Neural,
}

impl Setting {
    pub fn name(&self) -> &'static str {
        match self {
            Setting::Softmax => "softmax",
            Setting::Tabular => "tabular",
            Setting::Neural => "neural",
        }
    }
}

/// How an instance's policy was drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceKind {
    /// Gaussian logits at a random scale.
    Random,
    /// Near-deterministic on the worst output (low reward std, reward far below optimal).
    PeakedOnWorst,
    /// Near-deterministic on a random output.
    PeakedOnRandom,
}

impl InstanceKind {
    pub fn name(&self) -> &'static str {
        match self {
            InstanceKind::Random => "random",
            InstanceKind::PeakedOnWorst => "peaked_on_worst",
            InstanceKind::PeakedOnRandom => "peaked_on_random",
        }
    }
}

/// What to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct Theorem1Params {
    pub setting: Setting,
    pub instances: usize,
    /// Vocabulary size (number of outputs `K` for the softmax setting).
    pub vocab: usize,
    /// Output length `L` (must be 1 for the softmax setting).
    pub length: usize,
    /// Hidden width of the neural policy.
    pub hidden: usize,
    /// Dimension of the neural policy's input `x`.
    pub input_dim: usize,
    /// Peaked instances add a logit margin drawn uniformly from `[0, max_margin]`; the reward std
    /// then falls roughly like `exp(-margin / 2)`, so 30 reaches about 1e-6 and below.
    pub max_margin: f64,
    /// Random instances scale their Gaussian logits by a factor log-uniform in `[0.1, max_logit_scale]`.
    pub max_logit_scale: f64,
}

impl Theorem1Params {
    pub fn validate(&self) -> Result<(), TheoryError> {
        let bad = |m: String| Err(TheoryError::Invalid(m));
        if self.vocab < 2 {
            return bad(format!("vocab must be at least 2, got {}", self.vocab));
        }
        if self.length < 1 {
            return bad("length must be at least 1".into());
        }
        if self.setting == Setting::Softmax && self.length != 1 {
            return bad(format!(
                "the softmax setting is single-step: length must be 1, got {}",
                self.length
            ));
        }
        if (self.vocab as f64).powi(self.length as i32) > 1e6 {
            return bad(format!(
                "vocab^length = {}^{} sequences is too many to enumerate exactly (limit 1e6)",
                self.vocab, self.length
            ));
        }
        if self.setting == Setting::Neural && (self.hidden == 0 || self.input_dim == 0) {
            return bad("the neural setting needs hidden >= 1 and input_dim >= 1".into());
        }
        if !(self.max_margin >= 0.0 && self.max_logit_scale > 0.1) {
            return bad("need max_margin >= 0 and max_logit_scale > 0.1".into());
        }
        Ok(())
    }
}

/// One random instance, measured exactly.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Theorem1Sample {
    pub instance: usize,
    pub kind: InstanceKind,
    /// `V(x)`.
    pub reward_mean: f64,
    /// `STD_{y~p(.|x)}[r(x,y)]`.
    pub reward_std: f64,
    /// `max_y r(x,y)`: how far `V(x)` is from optimal.
    pub reward_max: f64,
    /// `||grad_theta V(x; theta)||_2`.
    pub grad_norm: f64,
    pub gamma: f64,
    /// [`theorem1_bound`] for this instance.
    pub bound: f64,
    /// `grad_norm / bound`; Theorem 1 says it is at most 1.
    pub ratio: f64,
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// Draw `params.instances` random (policy, reward) pairs and measure the gradient norm, the reward
/// std and the bound exactly. Instance `i` uses its own random stream, so results do not depend
/// on the order or number of instances drawn.
pub fn sample_instances(
    params: &Theorem1Params,
    seed: u64,
) -> Result<Vec<Theorem1Sample>, TheoryError> {
    params.validate()?;
    Ok((0..params.instances)
        .map(|i| sample_instance(params, seed, i))
        .collect())
}

fn sample_instance(params: &Theorem1Params, seed: u64, instance: usize) -> Theorem1Sample {
    let mut rng = crate::rng(seed);
    rng.set_stream(instance as u64 + 1);
    let space = SequenceSpace::new(params.vocab, params.length);
    let kind = match instance % 3 {
        0 => InstanceKind::Random,
        1 => InstanceKind::PeakedOnWorst,
        _ => InstanceKind::PeakedOnRandom,
    };
    let mut rewards: Vec<f64> = (0..space.num_sequences())
        .map(|_| rng.random_range(-1.0..=1.0))
        .collect();
    let scale = (0.1f64.ln() + rng.random::<f64>() * (params.max_logit_scale / 0.1).ln()).exp();
    let margin = rng.random::<f64>() * params.max_margin;
    // The output a peaked policy concentrates on.
    let target = match kind {
        InstanceKind::Random | InstanceKind::PeakedOnRandom => {
            rng.random_range(0..space.num_sequences())
        }
        InstanceKind::PeakedOnWorst => (0..rewards.len())
            .min_by(|&a, &b| rewards[a].total_cmp(&rewards[b]))
            .unwrap(),
    };
    let peaked = kind != InstanceKind::Random;

    let (eval_value, eval_std, grad_norm, gamma) = match params.setting {
        Setting::Softmax | Setting::Tabular => {
            let v = space.vocab;
            let mut logits: Vec<f64> = (0..space.num_prefixes() * v)
                .map(|_| scale * crate::standard_normal(&mut rng))
                .collect();
            if peaked {
                // Add the margin to the target's token at every prefix on its path.
                let tokens = space.tokens(space.length, target);
                for level in 0..space.length {
                    let idx = tokens[..level].iter().fold(0, |acc, t| acc * v + t);
                    let s = space.level_offset(level) + idx;
                    let best_other = (0..v)
                        .filter(|&a| a != tokens[level])
                        .map(|a| logits[s * v + a])
                        .fold(f64::NEG_INFINITY, f64::max);
                    logits[s * v + tokens[level]] = best_other + margin;
                }
            }
            if params.setting == Setting::Softmax {
                let bandit = SoftmaxBandit {
                    logits,
                    rewards: rewards.clone(),
                };
                (
                    bandit.value(),
                    bandit.reward_std(),
                    norm(&bandit.gradient()),
                    1.0,
                )
            } else {
                let policy = TabularPolicy { space, logits };
                let eval = policy.evaluate(&rewards);
                (
                    eval.value,
                    eval.reward_std,
                    norm(&eval.logit_grads),
                    policy.gamma(),
                )
            }
        }
        Setting::Neural => {
            let input = (0..params.input_dim)
                .map(|_| crate::standard_normal(&mut rng))
                .collect();
            let mut policy = MlpPolicy::random(space, input, params.hidden, scale, &mut rng);
            if peaked {
                // Favour one token at every step; the target is the all-`token` sequence.
                let token = target % space.vocab;
                policy.b2[token] += margin;
                let all_token = (0..space.length).fold(0, |acc, _| acc * space.vocab + token);
                if kind == InstanceKind::PeakedOnWorst {
                    let worst = (0..rewards.len())
                        .min_by(|&a, &b| rewards[a].total_cmp(&rewards[b]))
                        .unwrap();
                    rewards.swap(worst, all_token);
                }
            }
            let (eval, grad) = policy.value_and_gradient(&rewards);
            (eval.value, eval.reward_std, norm(&grad), policy.gamma())
        }
    };
    let bound = theorem1_bound(params.length, gamma, eval_std);
    Theorem1Sample {
        instance,
        kind,
        reward_mean: eval_value,
        reward_std: eval_std,
        reward_max: rewards.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        grad_norm,
        gamma,
        bound,
        ratio: if bound > 0.0 { grad_norm / bound } else { 0.0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(setting: Setting, length: usize) -> Theorem1Params {
        Theorem1Params {
            setting,
            instances: 90,
            vocab: 3,
            length,
            hidden: 6,
            input_dim: 3,
            max_margin: 30.0,
            max_logit_scale: 3.0,
        }
    }

    #[test]
    fn bound_holds_and_std_spans_many_decades_in_every_setting() {
        for (setting, length) in [
            (Setting::Softmax, 1),
            (Setting::Tabular, 3),
            (Setting::Neural, 2),
        ] {
            let samples = sample_instances(&params(setting, length), 0).unwrap();
            let max_ratio = samples.iter().map(|s| s.ratio).fold(0.0, f64::max);
            assert!(max_ratio <= 1.0, "{setting:?}: ratio {max_ratio} > 1");
            assert!(max_ratio > 0.0);
            let min_std = samples.iter().map(|s| s.reward_std).fold(1.0, f64::min);
            let max_std = samples.iter().map(|s| s.reward_std).fold(0.0, f64::max);
            assert!(
                min_std < 1e-5 && max_std > 0.1,
                "{setting:?}: std in [{min_std}, {max_std}]"
            );
            // Near-deterministic on the worst output: tiny std, reward far below the optimum.
            assert!(samples.iter().any(|s| s.kind == InstanceKind::PeakedOnWorst
                && s.reward_std < 1e-3
                && s.reward_max - s.reward_mean > 0.5));
        }
    }

    #[test]
    fn same_seed_same_numbers_and_instances_are_order_independent() {
        let p = params(Setting::Neural, 2);
        let a = sample_instances(&p, 4).unwrap();
        let b = sample_instances(
            &Theorem1Params {
                instances: 10,
                ..p.clone()
            },
            4,
        )
        .unwrap();
        assert_eq!(a[..10], b[..]);
        assert_ne!(sample_instances(&p, 5).unwrap()[0], a[0]);
    }

    #[test]
    fn invalid_settings_are_rejected_with_a_reason() {
        let err = sample_instances(&params(Setting::Softmax, 2), 0).unwrap_err();
        assert!(err.to_string().contains("length must be 1"), "{err}");
    }
}
