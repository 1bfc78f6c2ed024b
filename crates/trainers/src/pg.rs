//! Sample-based policy gradients over groups of `k` samples per prompt: REINFORCE (optionally
//! with the group-mean baseline), GRPO (advantages scaled by the group std, the batch std, or not
//! at all, i.e. Dr. GRPO), RLOO (leave-one-out baseline), and DAPO-style dynamic sampling, which
//! drops groups whose rewards are all equal (zero reward std: no gradient) and refills the batch.
//!
//! A KL penalty to the initial policy shapes the reward as RL4LMs does:
//! `r'(x, y) = r(x, y) - kl_coeff * sum_t [log p(y_t|..) - log p_0(y_t|..)]`.
//! With `n_epochs > 1` the update reuses the samples with the clipped ratio of PPO/GRPO.

use burn::tensor::ElementConversion;
use burn::tensor::backend::AutodiffBackend;
use seeds::{Stream, step_seed};
use serde::{Deserialize, Serialize};

use crate::diagnostics::{RewardStats, fraction_below};
use crate::lm::{Example, GenerationKwargs, TaskReward, Tokens, score, to_vec};
use crate::optim::{OptimConfig, Trainer};
use crate::policy::{Policy, TrainablePolicy};
use crate::{TrainError, ensure_finite};

/// How a sample's advantage is formed from the rewards of its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Estimator {
    /// `A = r`.
    Reinforce,
    /// `A = r - mean(group)`.
    ReinforceBaseline,
    /// `A = (r - mean(group)) / (std(group) + 1e-4)` (std with Bessel's correction, as TRL).
    Grpo,
    /// `A = (r - mean(group)) / (std(batch) + 1e-4)`.
    GrpoBatchStd,
    /// Dr. GRPO: `A = r - mean(group)`, and the loss sums tokens over `max_new_tokens`.
    DrGrpo,
    /// `A = r - mean(other samples of the group)`.
    Rloo,
}

/// How token terms are averaged into the loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossAgg {
    /// `(1/N) sum_i sum_t`: the unbiased REINFORCE estimate of the gradient of the mean `V`.
    SeqSum,
    /// `(1/N) sum_i (1/|y_i|) sum_t` (GRPO).
    SeqMeanTokenMean,
    /// `(1/sum_i |y_i|) sum_i sum_t` (DAPO).
    TokenMean,
    /// `(1/(N max_new_tokens)) sum_i sum_t` (Dr. GRPO).
    SeqSumNorm,
}

crate::serde_names!(Estimator, LossAgg);

impl Estimator {
    pub fn default_agg(self) -> LossAgg {
        match self {
            Estimator::Reinforce | Estimator::ReinforceBaseline | Estimator::Rloo => {
                LossAgg::SeqSum
            }
            Estimator::Grpo | Estimator::GrpoBatchStd => LossAgg::SeqMeanTokenMean,
            Estimator::DrGrpo => LossAgg::SeqSumNorm,
        }
    }
}

/// Advantages of `rewards`, laid out as consecutive groups of `k` samples of one prompt.
pub fn advantages(estimator: Estimator, rewards: &[f64], k: usize) -> Vec<f64> {
    assert!(
        k >= 1 && rewards.len().is_multiple_of(k),
        "rewards come in groups of k"
    );
    let mean = |g: &[f64]| g.iter().sum::<f64>() / g.len() as f64;
    let std1 = |g: &[f64]| {
        let m = mean(g);
        let n = g.len();
        if n < 2 {
            0.0
        } else {
            (g.iter().map(|r| (r - m).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        }
    };
    let batch_std = std1(rewards);
    rewards
        .chunks(k)
        .flat_map(|g| {
            let m = mean(g);
            let s = std1(g);
            let sum: f64 = g.iter().sum();
            g.iter().map(move |&r| match estimator {
                Estimator::Reinforce => r,
                Estimator::ReinforceBaseline | Estimator::DrGrpo => r - m,
                Estimator::Grpo => (r - m) / (s + 1e-4),
                Estimator::GrpoBatchStd => (r - m) / (batch_std + 1e-4),
                Estimator::Rloo => {
                    if k < 2 {
                        0.0
                    } else {
                        r - (sum - r) / (k - 1) as f64
                    }
                }
            })
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PgConfig {
    pub estimator: Estimator,
    /// Token aggregation of the loss; defaults to the estimator's own.
    #[serde(default)]
    pub loss_agg: Option<LossAgg>,
    /// Prompts (groups) per step.
    pub prompts_per_step: usize,
    /// Samples per prompt, `k`.
    pub samples_per_prompt: usize,
    /// Updates per batch of samples (GRPO's mu); 1 is on-policy.
    #[serde(default = "one")]
    pub n_epochs: usize,
    /// Ratio clip range for `n_epochs > 1`.
    #[serde(default = "clip")]
    pub clip_range: f64,
    /// KL penalty (reward shaping) towards the initial policy.
    #[serde(default)]
    pub kl_coeff: f64,
    /// DAPO's dynamic sampling: drop zero-std groups and sample more prompts to refill.
    #[serde(default)]
    pub dynamic_sampling: bool,
    /// At most this many sampling rounds per step when refilling.
    #[serde(default = "rounds")]
    pub max_sampling_rounds: usize,
    pub generation_kwargs: GenerationKwargs,
    pub optim: OptimConfig,
    pub steps: usize,
    /// A prompt's reward std below this counts as "small" in the logs.
    #[serde(default = "threshold")]
    pub std_threshold: f64,
}

fn one() -> usize {
    1
}
fn clip() -> f64 {
    0.2
}
fn rounds() -> usize {
    4
}
fn threshold() -> f64 {
    1e-3
}

impl PgConfig {
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |m: String| Err(TrainError::Config(m));
        self.optim.validate().map_err(TrainError::Config)?;
        self.generation_kwargs
            .validate()
            .map_err(TrainError::Config)?;
        if self.prompts_per_step == 0 || self.samples_per_prompt == 0 || self.n_epochs == 0 {
            return bad("prompts_per_step, samples_per_prompt and n_epochs must be >= 1".into());
        }
        if matches!(self.estimator, Estimator::Rloo | Estimator::Grpo)
            && self.samples_per_prompt < 2
        {
            return bad(format!(
                "{:?} needs samples_per_prompt >= 2, got {}",
                self.estimator, self.samples_per_prompt
            ));
        }
        Ok(())
    }
}

/// One logged step.
#[derive(Debug, Clone, PartialEq)]
pub struct PgLog {
    pub step: usize,
    /// Mean task reward of the samples used for the update.
    pub reward: f64,
    /// Per-prompt reward stats (over its `k` samples) of every group sampled this step,
    /// kept or dropped.
    pub groups: Vec<(usize, RewardStats)>,
    pub frac_small_std: f64,
    pub groups_dropped: usize,
    pub kl: f64,
    pub entropy: f64,
    pub clip_fraction: f64,
    pub grad_norm: f64,
    pub learning_rate: f64,
}

/// Policy-gradient training state: policy (GPT-2 or T5), frozen reference, optimiser, step.
pub struct PgTrainer<B: AutodiffBackend, P: TrainablePolicy<B>> {
    pub policy: P,
    pub reference: P::InnerModule,
    pub trainer: Trainer<B, P>,
    pub config: PgConfig,
    pub tokens: Tokens,
    pub seed: u64,
    pub step: usize,
}

struct Group {
    example: usize,
    outputs: Vec<Vec<u32>>,
    logprobs: Vec<Vec<f64>>,
    rewards: Vec<f64>,
}

impl<B: AutodiffBackend, P: TrainablePolicy<B>> PgTrainer<B, P> {
    pub fn new(policy: P, config: PgConfig, tokens: Tokens, seed: u64) -> Result<Self, TrainError> {
        config.validate()?;
        Ok(PgTrainer {
            reference: policy.valid(),
            trainer: Trainer::new(config.optim.clone()),
            policy,
            config,
            tokens,
            seed,
            step: 0,
        })
    }

    /// Prompts of round `round` of the current step: a seeded draw with replacement.
    fn draw_prompts(&self, n_examples: usize, round: usize) -> Vec<usize> {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(step_seed(
            self.seed,
            Stream::GroupPrompts,
            (self.step * 1000 + round) as u64,
        ));
        (0..self.config.prompts_per_step)
            .map(|_| rng.random_range(0..n_examples))
            .collect()
    }

    fn sample_groups(&self, examples: &[Example], reward: &TaskReward, round: usize) -> Vec<Group> {
        let k = self.config.samples_per_prompt;
        let picks = self.draw_prompts(examples.len(), round);
        let prompts: Vec<Vec<u32>> = picks
            .iter()
            .flat_map(|&i| std::iter::repeat_n(examples[i].prompt_ids.clone(), k))
            .collect();
        let sampling = self.config.generation_kwargs.sampling(
            self.tokens.eos,
            self.tokens.pad,
            step_seed(
                self.seed,
                Stream::GroupSampling,
                (self.step * 1000 + round) as u64,
            ),
        );
        let out = self.policy.valid().generate(&prompts, &sampling);
        let refs: Vec<&Example> = picks
            .iter()
            .flat_map(|&i| std::iter::repeat_n(&examples[i], k))
            .collect();
        let rewards = reward.score(&refs, &out.tokens);
        picks
            .iter()
            .enumerate()
            .map(|(g, &example)| Group {
                example,
                outputs: out.tokens[g * k..(g + 1) * k].to_vec(),
                logprobs: out.logprobs[g * k..(g + 1) * k]
                    .iter()
                    .map(|r| r.iter().map(|&x| x as f64).collect())
                    .collect(),
                rewards: rewards[g * k..(g + 1) * k].to_vec(),
            })
            .collect()
    }

    /// Samples, forms advantages, updates the policy `n_epochs` times.
    pub fn train_step(
        &mut self,
        examples: &[Example],
        reward: &TaskReward,
    ) -> Result<PgLog, TrainError> {
        let cfg = self.config.clone();
        let k = cfg.samples_per_prompt;
        let mut kept: Vec<Group> = Vec::new();
        let mut seen: Vec<(usize, RewardStats)> = Vec::new();
        let mut dropped = 0;
        for round in 0..cfg.max_sampling_rounds.max(1) {
            for g in self.sample_groups(examples, reward, round) {
                for &r in &g.rewards {
                    ensure_finite(self.step, "reward", r)?;
                }
                let stats = RewardStats::from_samples(&g.rewards);
                seen.push((g.example, stats));
                if cfg.dynamic_sampling && stats.std == 0.0 {
                    dropped += 1;
                } else if kept.len() < cfg.prompts_per_step {
                    kept.push(g);
                }
            }
            if !cfg.dynamic_sampling || kept.len() >= cfg.prompts_per_step {
                break;
            }
        }
        let stats_only: Vec<RewardStats> = seen.iter().map(|s| s.1).collect();
        let frac_small_std = fraction_below(&stats_only, cfg.std_threshold);
        if kept.is_empty() {
            // Every group had zero reward std: there is no gradient to follow.
            self.step += 1;
            return Ok(PgLog {
                step: self.step - 1,
                reward: stats_only.iter().map(|s| s.mean).sum::<f64>() / stats_only.len() as f64,
                groups: seen,
                frac_small_std,
                groups_dropped: dropped,
                kl: 0.0,
                entropy: 0.0,
                clip_fraction: 0.0,
                grad_norm: 0.0,
                learning_rate: 0.0,
            });
        }

        let prompts: Vec<Vec<u32>> = kept
            .iter()
            .flat_map(|g| std::iter::repeat_n(examples[g.example].prompt_ids.clone(), k))
            .collect();
        let outputs: Vec<Vec<u32>> = kept.iter().flat_map(|g| g.outputs.clone()).collect();
        let old_logprobs: Vec<Vec<f64>> = kept.iter().flat_map(|g| g.logprobs.clone()).collect();
        let task_rewards: Vec<f64> = kept.iter().flat_map(|g| g.rewards.clone()).collect();
        let n = outputs.len();

        // KL to the initial policy, per sample, and the shaped reward.
        let (_, ref_scores) = score(&self.reference, &prompts, &outputs, self.tokens.pad);
        let ref_seq = to_vec(ref_scores.sequence_logprobs);
        let kls: Vec<f64> = (0..n)
            .map(|i| old_logprobs[i].iter().sum::<f64>() - ref_seq[i] as f64)
            .collect();
        let shaped: Vec<f64> = task_rewards
            .iter()
            .zip(&kls)
            .map(|(r, kl)| r - cfg.kl_coeff * kl)
            .collect();
        let adv = advantages(cfg.estimator, &shaped, k);

        let agg = cfg.loss_agg.unwrap_or(cfg.estimator.default_agg());
        let lens: Vec<usize> = outputs.iter().map(Vec::len).collect();
        let total_tokens: usize = lens.iter().sum();
        // Per-token weights that implement the aggregation, times the advantage.
        let weights: Vec<Vec<f64>> = (0..n)
            .map(|i| {
                let w = match agg {
                    LossAgg::SeqSum => 1.0 / n as f64,
                    LossAgg::SeqMeanTokenMean => 1.0 / (n * lens[i].max(1)) as f64,
                    LossAgg::TokenMean => 1.0 / total_tokens.max(1) as f64,
                    LossAgg::SeqSumNorm => 1.0 / (n * cfg.generation_kwargs.max_new_tokens) as f64,
                };
                vec![w * adv[i]; lens[i]]
            })
            .collect();

        let mut last = (0.0, 0.0, 0.0, 0.0);
        for _epoch in 0..cfg.n_epochs {
            let (layout, scores) = score(&self.policy, &prompts, &outputs, self.tokens.pad);
            let device = scores.mask.device();
            let old = layout.tensor::<B>(&old_logprobs, &device);
            let w = layout.tensor::<B>(&weights, &device);
            let mask = scores.mask.clone();
            let ratio = (scores.token_logprobs.clone() - old.clone()).exp();
            // min(ratio A, clip(ratio) A) with the aggregation weight folded into A; at the first
            // epoch ratio = 1 and the gradient is the REINFORCE estimate.
            let loss = crate::ppo::clipped_surrogate_loss(
                scores.token_logprobs.clone(),
                old,
                w,
                mask.clone(),
                cfg.clip_range,
            );
            let ntok = total_tokens.max(1) as f64;
            let entropy: f64 = (scores.token_entropies.clone() * mask.clone())
                .sum()
                .into_scalar()
                .elem::<f64>()
                / ntok;
            let clip_fraction: f64 =
                ((ratio.sub_scalar(1.0).abs().greater_elem(cfg.clip_range)).float() * mask)
                    .sum()
                    .into_scalar()
                    .elem::<f64>()
                    / ntok;
            let policy = self.policy.clone();
            let (next, s) = self.trainer.step(policy, loss, self.step)?;
            self.policy = next;
            last = (entropy, clip_fraction, s.grad_norm, s.learning_rate);
        }
        let log = PgLog {
            step: self.step,
            reward: task_rewards.iter().sum::<f64>() / n as f64,
            groups: seen,
            frac_small_std,
            groups_dropped: dropped,
            kl: kls.iter().sum::<f64>() / n as f64,
            entropy: last.0,
            clip_fraction: last.1,
            grad_norm: last.2,
            learning_rate: last.3,
        };
        self.step += 1;
        Ok(log)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimator_and_loss_agg_names_are_their_serde_names() {
        use crate::names::assert_serde_names;
        assert_serde_names(
            &[
                (Estimator::Reinforce, "reinforce"),
                (Estimator::ReinforceBaseline, "reinforce_baseline"),
                (Estimator::Grpo, "grpo"),
                (Estimator::GrpoBatchStd, "grpo_batch_std"),
                (Estimator::DrGrpo, "dr_grpo"),
                (Estimator::Rloo, "rloo"),
            ],
            Estimator::name,
            Some(Estimator::parse),
        );
        assert_serde_names(
            &[
                (LossAgg::SeqSum, "seq_sum"),
                (LossAgg::SeqMeanTokenMean, "seq_mean_token_mean"),
                (LossAgg::TokenMean, "token_mean"),
                (LossAgg::SeqSumNorm, "seq_sum_norm"),
            ],
            LossAgg::name,
            Some(LossAgg::parse),
        );
    }

    #[test]
    fn advantages_by_hand() {
        let r = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0];
        assert_eq!(advantages(Estimator::Reinforce, &r, 3), r.to_vec());
        let b = advantages(Estimator::ReinforceBaseline, &r, 3);
        let third = 1.0 / 3.0;
        assert!((b[0] - (1.0 - third)).abs() < 1e-12 && (b[1] + third).abs() < 1e-12);
        assert_eq!(&b[3..], &[0.0, 0.0, 0.0]);
        // Group std of [1, 0, 0] with Bessel: sqrt(1/3).
        let g = advantages(Estimator::Grpo, &r, 3);
        assert!((g[0] - (2.0 / 3.0) / ((1.0f64 / 3.0).sqrt() + 1e-4)).abs() < 1e-12);
        assert_eq!(&g[3..], &[0.0, 0.0, 0.0]);
        // RLOO: 1 - mean(0, 0) = 1, 0 - mean(1, 0) = -0.5.
        let l = advantages(Estimator::Rloo, &r, 3);
        assert_eq!(&l[..3], &[1.0, -0.5, -0.5]);
        // Batch std: six rewards, four ones: std = sqrt(4/15)... mean 2/3, ss = 4*(1/9)+2*(4/9)=4/3.
        let bs = advantages(Estimator::GrpoBatchStd, &r, 3);
        let s = (4.0f64 / 3.0 / 5.0).sqrt();
        assert!((bs[0] - (2.0 / 3.0) / (s + 1e-4)).abs() < 1e-12);
        assert_eq!(advantages(Estimator::DrGrpo, &r, 3), b);
    }
}
