//! The paper's key quantity, per input: the reward standard deviation under the model, exact when
//! the output space can be enumerated and estimated from `k` samples otherwise ([`RewardStats`],
//! [`sampled_reward_stats`]); and the fraction of inputs whose std is below a threshold
//! ([`fraction_below`]). The gradient norm of a group of inputs is
//! [`crate::exact::group_gradient_norm`] (language models) and the per-group metrics of
//! [`crate::classify`] (classifiers).

use serde::{Deserialize, Serialize};

/// Mean and standard deviation of `r(x, y)` for `y ~ p(.|x)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RewardStats {
    pub mean: f64,
    pub std: f64,
}

impl RewardStats {
    /// Exact: `mean = sum_y p r / Z`, `std = sqrt(sum_y p (r - mean)^2 / Z)` with `Z = sum_y p`.
    pub fn exact(probs: &[f32], rewards: &[f64]) -> Self {
        let z: f64 = probs.iter().map(|&p| p as f64).sum();
        let mean = probs
            .iter()
            .zip(rewards)
            .map(|(&p, r)| p as f64 * r)
            .sum::<f64>()
            / z;
        let var = probs
            .iter()
            .zip(rewards)
            .map(|(&p, r)| p as f64 * (r - mean).powi(2))
            .sum::<f64>()
            / z;
        RewardStats {
            mean,
            std: var.max(0.0).sqrt(),
        }
    }

    /// From `k` sampled rewards: the sample mean and the population (ddof 0) std, which is the
    /// std of the empirical distribution and tends to the exact value as `k` grows.
    pub fn from_samples(rewards: &[f64]) -> Self {
        let k = rewards.len().max(1) as f64;
        let mean = rewards.iter().sum::<f64>() / k;
        let var = rewards.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / k;
        RewardStats {
            mean,
            std: var.sqrt(),
        }
    }
}

/// Fraction of `stats` with `std < threshold`.
pub fn fraction_below(stats: &[RewardStats], threshold: f64) -> f64 {
    if stats.is_empty() {
        return 0.0;
    }
    stats.iter().filter(|s| s.std < threshold).count() as f64 / stats.len() as f64
}

/// Reward mean and std of every example, estimated from `k` samples each (one batched
/// generation of `examples.len() * k` sequences under `sampling`), for any policy.
pub fn sampled_reward_stats<B: burn::tensor::backend::Backend, P: crate::policy::Policy<B>>(
    model: &P,
    examples: &[crate::lm::Example],
    reward: &crate::lm::TaskReward,
    k: usize,
    sampling: &model::SamplingConfig,
) -> Vec<RewardStats> {
    let prompts: Vec<Vec<u32>> = examples
        .iter()
        .flat_map(|x| std::iter::repeat_n(x.prompt_ids.clone(), k))
        .collect();
    let out = model.generate(&prompts, sampling);
    let refs: Vec<&crate::lm::Example> = examples
        .iter()
        .flat_map(|x| std::iter::repeat_n(x, k))
        .collect();
    let r = reward.score(&refs, &out.tokens);
    r.chunks(k).map(RewardStats::from_samples).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_std_matches_brute_force_and_samples() {
        let probs = [0.7f32, 0.2, 0.1];
        let rewards = [1.0, -1.0, 0.5];
        let s = RewardStats::exact(&probs, &rewards);
        let mean = 0.7 - 0.2 + 0.05;
        let second = 0.7 + 0.2 + 0.025;
        assert!((s.mean - mean).abs() < 1e-7);
        assert!((s.std - (second - mean * mean).sqrt()).abs() < 1e-7);
        // 70/20/10 draws reproduce the same moments.
        let mut draws = vec![1.0; 70];
        draws.extend(vec![-1.0; 20]);
        draws.extend(vec![0.5; 10]);
        let e = RewardStats::from_samples(&draws);
        assert!((e.mean - s.mean).abs() < 1e-6 && (e.std - s.std).abs() < 1e-6);
        assert_eq!(RewardStats::from_samples(&[2.0; 5]).std, 0.0);
        assert_eq!(
            fraction_below(
                &[
                    s,
                    RewardStats {
                        mean: 0.0,
                        std: 0.0
                    }
                ],
                1e-3
            ),
            0.5
        );
    }
}
