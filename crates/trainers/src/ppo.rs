//! PPO as RL4LMs runs it: the paper's RFT.
//!
//! One iteration:
//! 1. Rollout: sample whole generations for batches of `env.n_envs` prompts until the rollout holds
//!    `alg.args.n_steps * env.n_envs` token transitions (whole episodes are kept).
//! 2. Per-token reward: the task reward at the episode's last token, minus
//!    `beta * (log p(y_t|..) - log p_0(y_t|..))` at every token (p_0: the frozen initial policy).
//! 3. GAE (`gamma`, `gae_lambda`) with the value model (a copy of the initial LM with a scalar
//!    value head, as RL4LMs' actor-critic policies: on GPT-2's last layer for a causal policy, on
//!    the decoder's last layer for T5, as `seq2seq_lm_actor_critic_policy`), terminal value 0.
//! 4. Adaptive KL: `beta <- beta (1 + 0.1 clip((KL - target_kl) / target_kl, -0.2, 0.2))` with KL
//!    the mean per-token log-ratio of the rollout.
//! 5. `n_epochs` passes over shuffled minibatches of ~`batch_size` tokens: clipped surrogate
//!    (`clip_range`), advantages normalised per minibatch, value loss `vf_coef * MSE`, entropy bonus
//!    `ent_coef`, global gradient clipping `max_grad_norm`, and SB3's early stop when the
//!    approximate KL exceeds `1.5 * alg.args.target_kl` (if set).
//!
//! The policy is any [`Policy`] (GPT-2 or T5); the algorithm never looks inside it.
//!
//! Deviation: RL4LMs shuffles single token transitions into minibatches; we shuffle whole episodes
//! (adding them until a minibatch holds at least `batch_size` tokens), so each minibatch is one
//! teacher-forced forward pass instead of one pass per token. The loss is the same token average.

use burn::module::{AutodiffModule, Module, ModuleMapper, Param};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Tensor};
use model::ValueHead;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use seeds::{Stream, step_seed};
use serde::{Deserialize, Serialize};

use crate::gae::gae;
use crate::kl::KlController;
use crate::lm::{Example, GenerationKwargs, TaskReward, Tokens, score, to_vec};
use crate::optim::{OptimConfig, Trainer};
use crate::policy::{Layout, Policy, TrainablePolicy};
use crate::{TrainError, ensure_finite};

/// RL4LMs' `env` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvConfig {
    pub n_envs: usize,
    pub args: EnvArgs,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvArgs {
    pub max_episode_length: usize,
    #[serde(default = "yes")]
    pub terminate_on_eos: bool,
}

/// RL4LMs' `alg.args` (stable-baselines3 PPO arguments).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PpoArgs {
    pub n_steps: usize,
    pub batch_size: usize,
    pub n_epochs: usize,
    pub learning_rate: f64,
    #[serde(default = "gamma")]
    pub gamma: f64,
    #[serde(default = "lambda")]
    pub gae_lambda: f64,
    #[serde(default = "clip")]
    pub clip_range: f64,
    #[serde(default)]
    pub ent_coef: f64,
    #[serde(default = "vf")]
    pub vf_coef: f64,
    #[serde(default = "grad")]
    pub max_grad_norm: f64,
    /// SB3's early stop of the epochs (not the KL controller's target).
    #[serde(default)]
    pub target_kl: Option<f64>,
    #[serde(default = "yes")]
    pub normalize_advantage: bool,
}

/// RL4LMs' `alg.kl_div`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KlDiv {
    pub coeff: f64,
    #[serde(default)]
    pub target_kl: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyArgs {
    pub generation_kwargs: GenerationKwargs,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    pub args: PolicyArgs,
}

/// RL4LMs' `alg` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlgConfig {
    pub args: PpoArgs,
    pub kl_div: KlDiv,
    pub policy: PolicyConfig,
}

/// A PPO run, named as RL4LMs' YAML: `env.n_envs`, `alg.args.learning_rate`,
/// `alg.kl_div.coeff`, `alg.policy.args.generation_kwargs.temperature`, ...
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PpoConfig {
    pub env: EnvConfig,
    pub alg: AlgConfig,
}

fn yes() -> bool {
    true
}
fn gamma() -> f64 {
    0.99
}
fn lambda() -> f64 {
    0.95
}
fn clip() -> f64 {
    0.2
}
fn vf() -> f64 {
    0.5
}
fn grad() -> f64 {
    0.5
}

impl PpoConfig {
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |m: &str| Err(TrainError::Config(m.to_string()));
        let a = &self.alg.args;
        if self.env.n_envs == 0 || a.n_steps == 0 || a.batch_size == 0 || a.n_epochs == 0 {
            return bad("env.n_envs, alg.args.n_steps, batch_size and n_epochs must be >= 1");
        }
        if self.env.args.max_episode_length == 0 {
            return bad("env.args.max_episode_length must be >= 1");
        }
        if !(a.learning_rate > 0.0) || !(a.clip_range > 0.0) || !(a.max_grad_norm > 0.0) {
            return bad("alg.args.learning_rate, clip_range and max_grad_norm must be > 0");
        }
        if let Some(t) = self.alg.kl_div.target_kl
            && !(t > 0.0)
        {
            return bad("alg.kl_div.target_kl must be > 0");
        }
        self.alg
            .policy
            .args
            .generation_kwargs
            .validate()
            .map_err(TrainError::Config)
    }

    /// Adam as SB3 builds it (eps 1e-5) with RL4LMs' learning rate and clipping.
    pub fn optim(&self) -> OptimConfig {
        OptimConfig {
            eps: 1e-5,
            max_grad_norm: Some(self.alg.args.max_grad_norm),
            ..OptimConfig::adam(self.alg.args.learning_rate)
        }
    }
}

/// The policy and its critic (a separate LM trunk plus a scalar head), optimised together.
#[derive(Module, Debug)]
pub struct ActorCritic<B: Backend, P: Module<B>> {
    pub policy: P,
    pub value_model: P,
    pub value_head: ValueHead<B>,
}

/// Gives every parameter a new id, so a copied module can be optimised next to its original.
struct FreshIds;

impl<B: Backend> ModuleMapper<B> for FreshIds {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        Param::from_tensor(param.val().detach())
    }
}

impl<B: Backend, P: Policy<B>> ActorCritic<B, P> {
    /// The critic starts as a copy of the policy's LM (fresh parameter ids) with a fresh value
    /// head (`N(0, policy.value_head_std())`, drawn from `seed`).
    pub fn new(policy: P, seed: u64, device: &B::Device) -> Self {
        let value_model = policy.clone().map(&mut FreshIds);
        let value_head =
            ValueHead::init(policy.hidden_size(), policy.value_head_std(), seed, device);
        ActorCritic {
            policy,
            value_model,
            value_head,
        }
    }

    /// Values `[batch, layout.cols]` of the state before each completion token, in the policy's
    /// [`Layout`] for these prompts and completions.
    pub fn values(
        &self,
        prompts: &[Vec<u32>],
        completions: &[Vec<u32>],
        pad: u32,
    ) -> (Layout, Tensor<B, 2>) {
        let (layout, hidden) = self.value_model.hidden_states(prompts, completions, pad);
        let [b, cols, _] = hidden.dims();
        (layout, self.value_head.forward(hidden).reshape([b, cols]))
    }
}

/// PPO's clipped surrogate, summed over the masked tokens and negated (a loss):
/// `-sum_t mask_t min(rho_t A_t, clip(rho_t, 1 - c, 1 + c) A_t)`, `rho_t = exp(logp_t - old_t)`.
pub fn clipped_surrogate_loss<B: Backend>(
    logprobs: Tensor<B, 2>,
    old_logprobs: Tensor<B, 2>,
    advantages: Tensor<B, 2>,
    mask: Tensor<B, 2>,
    clip_range: f64,
) -> Tensor<B, 1> {
    let ratio = (logprobs - old_logprobs).exp();
    let clipped = ratio.clone().clamp(1.0 - clip_range, 1.0 + clip_range);
    let surrogate = (ratio * advantages.clone()).min_pair(clipped * advantages);
    (surrogate * mask).sum().neg()
}

/// One episode of a rollout.
#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    pub example: usize,
    pub output: Vec<u32>,
    pub task_reward: f64,
    pub old_logprobs: Vec<f64>,
    pub kl: Vec<f64>,
    pub advantages: Vec<f64>,
    pub returns: Vec<f64>,
}

/// What one PPO iteration did.
#[derive(Debug, Clone, PartialEq)]
pub struct PpoLog {
    pub iteration: usize,
    pub episodes: usize,
    pub transitions: usize,
    /// Mean task reward per episode.
    pub reward: f64,
    /// Mean per-token log-ratio to the initial policy (what the KL controller sees).
    pub kl: f64,
    /// The KL coefficient used for this rollout.
    pub kl_coeff: f64,
    pub entropy: f64,
    pub policy_loss: f64,
    pub value_loss: f64,
    pub clip_fraction: f64,
    pub approx_kl: f64,
    pub grad_norm: f64,
    pub learning_rate: f64,
    pub ep_len: f64,
    /// Epochs run (fewer than `n_epochs` after an early stop).
    pub epochs: usize,
    /// `(example, task reward)` of every episode.
    pub episode_rewards: Vec<(usize, f64)>,
}

/// PPO state: actor-critic, frozen reference, optimiser, KL controller and iteration.
pub struct PpoTrainer<B: AutodiffBackend, P: TrainablePolicy<B>> {
    pub model: ActorCritic<B, P>,
    pub reference: P::InnerModule,
    pub trainer: Trainer<B, ActorCritic<B, P>>,
    pub kl: KlController,
    pub config: PpoConfig,
    pub tokens: Tokens,
    pub seed: u64,
    pub iteration: usize,
}

impl<B: AutodiffBackend, P: TrainablePolicy<B>> PpoTrainer<B, P> {
    pub fn new(
        policy: P,
        config: PpoConfig,
        tokens: Tokens,
        seed: u64,
    ) -> Result<Self, TrainError> {
        config.validate()?;
        let device = policy.device();
        let reference = policy.valid();
        let model = ActorCritic::new(policy, seed, &device);
        Ok(PpoTrainer {
            reference,
            trainer: Trainer::new(config.optim()),
            kl: KlController::new(config.alg.kl_div.coeff, config.alg.kl_div.target_kl),
            model,
            config,
            tokens,
            seed,
            iteration: 0,
        })
    }

    /// Collects one rollout (step 1-4 of the module docs).
    pub fn rollout(
        &self,
        examples: &[Example],
        reward: &TaskReward,
    ) -> Result<Vec<Episode>, TrainError> {
        use rand::RngExt;
        let cfg = &self.config;
        let want = cfg.alg.args.n_steps * cfg.env.n_envs;
        let mut gen_kwargs = cfg.alg.policy.args.generation_kwargs.clone();
        gen_kwargs.max_new_tokens = gen_kwargs
            .max_new_tokens
            .min(cfg.env.args.max_episode_length);
        let eos = self.tokens.eos.filter(|_| cfg.env.args.terminate_on_eos);
        let inner = self.model.valid();
        let mut episodes = Vec::new();
        let mut transitions = 0;
        let mut batch_no = 0u64;
        while transitions < want {
            let draw = step_seed(
                self.seed,
                Stream::PpoRollout,
                (self.iteration as u64) << 20 | batch_no,
            );
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(draw);
            let picks: Vec<usize> = (0..cfg.env.n_envs)
                .map(|_| rng.random_range(0..examples.len()))
                .collect();
            let prompts: Vec<Vec<u32>> = picks
                .iter()
                .map(|&i| examples[i].prompt_ids.clone())
                .collect();
            let sampling = gen_kwargs.sampling(
                eos,
                self.tokens.pad,
                step_seed(draw, Stream::PpoSampling, 0),
            );
            let out = inner.policy.generate(&prompts, &sampling);
            let refs: Vec<&Example> = picks.iter().map(|&i| &examples[i]).collect();
            let task = reward.score(&refs, &out.tokens);

            let (layout, ref_scores) =
                score(&self.reference, &prompts, &out.tokens, self.tokens.pad);
            let (value_layout, values) = inner.values(&prompts, &out.tokens, self.tokens.pad);
            debug_assert_eq!(layout, value_layout);
            let ref_flat = to_vec(ref_scores.token_logprobs);
            let value_flat = to_vec(values);
            for (b, output) in out.tokens.iter().enumerate() {
                let len = output.len();
                ensure_finite(self.iteration, "task reward", task[b])?;
                let old: Vec<f64> = out.logprobs[b].iter().map(|&x| x as f64).collect();
                let refp = layout.row(&ref_flat, b, len);
                let v = layout.row(&value_flat, b, len);
                let kl: Vec<f64> = old.iter().zip(&refp).map(|(p, q)| p - q).collect();
                // A NaN value or log-probability would only surface later, as a NaN loss.
                for &x in &v {
                    ensure_finite(self.iteration, "value estimate", x)?;
                }
                for &x in &kl {
                    ensure_finite(self.iteration, "log-ratio to the reference policy", x)?;
                }
                let mut rewards: Vec<f64> = kl.iter().map(|k| -self.kl.kl_coeff * k).collect();
                if let Some(last) = rewards.last_mut() {
                    *last += task[b];
                }
                let (advantages, returns) = gae(
                    &rewards,
                    &v,
                    0.0,
                    cfg.alg.args.gamma,
                    cfg.alg.args.gae_lambda,
                );
                transitions += len;
                episodes.push(Episode {
                    example: picks[b],
                    output: output.clone(),
                    task_reward: task[b],
                    old_logprobs: old,
                    kl,
                    advantages,
                    returns,
                });
            }
            batch_no += 1;
        }
        Ok(episodes)
    }

    /// One PPO iteration: rollout, KL controller step, `n_epochs` of minibatch updates.
    pub fn train_iteration(
        &mut self,
        examples: &[Example],
        reward: &TaskReward,
    ) -> Result<PpoLog, TrainError> {
        let episodes = self.rollout(examples, reward)?;
        let args = self.config.alg.args.clone();
        let transitions: usize = episodes.iter().map(|e| e.output.len()).sum();
        let kl_mean =
            episodes.iter().flat_map(|e| e.kl.iter()).sum::<f64>() / transitions.max(1) as f64;
        let kl_coeff = self.kl.kl_coeff;
        self.kl.step(kl_mean);

        let mut order: Vec<usize> = (0..episodes.len()).collect();
        let mut sums = [0.0f64; 7]; // entropy, policy, value, clip, approx_kl, grad norm, lr
        let mut minibatches = 0usize;
        let mut epochs = 0;
        'epochs: for epoch in 0..args.n_epochs {
            epochs += 1;
            order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(step_seed(
                self.seed,
                Stream::PpoMinibatches,
                (self.iteration * 1000 + epoch) as u64,
            )));
            let mut start = 0;
            while start < order.len() {
                let mut end = start;
                let mut tokens = 0;
                while end < order.len() && tokens < args.batch_size {
                    tokens += episodes[order[end]].output.len();
                    end += 1;
                }
                let mb: Vec<&Episode> = order[start..end].iter().map(|&i| &episodes[i]).collect();
                start = end;
                let (stats, approx_kl) = self.update(&mb, examples, &args)?;
                for (s, v) in sums.iter_mut().zip(stats) {
                    *s += v;
                }
                minibatches += 1;
                if let Some(t) = args.target_kl
                    && approx_kl > 1.5 * t
                {
                    break 'epochs;
                }
            }
        }
        let m = minibatches.max(1) as f64;
        let log = PpoLog {
            iteration: self.iteration,
            episodes: episodes.len(),
            transitions,
            reward: episodes.iter().map(|e| e.task_reward).sum::<f64>() / episodes.len() as f64,
            kl: kl_mean,
            kl_coeff,
            entropy: sums[0] / m,
            policy_loss: sums[1] / m,
            value_loss: sums[2] / m,
            clip_fraction: sums[3] / m,
            approx_kl: sums[4] / m,
            grad_norm: sums[5] / m,
            learning_rate: sums[6] / m,
            ep_len: transitions as f64 / episodes.len() as f64,
            epochs,
            episode_rewards: episodes
                .iter()
                .map(|e| (e.example, e.task_reward))
                .collect(),
        };
        self.iteration += 1;
        Ok(log)
    }

    /// One minibatch update; returns the logged stats and the approximate KL.
    fn update(
        &mut self,
        mb: &[&Episode],
        examples: &[Example],
        args: &PpoArgs,
    ) -> Result<([f64; 7], f64), TrainError> {
        let prompts: Vec<Vec<u32>> = mb
            .iter()
            .map(|e| examples[e.example].prompt_ids.clone())
            .collect();
        let outputs: Vec<Vec<u32>> = mb.iter().map(|e| e.output.clone()).collect();
        let (layout, scores) = score(&self.model.policy, &prompts, &outputs, self.tokens.pad);
        let (_, values) = self.model.values(&prompts, &outputs, self.tokens.pad);
        let device = values.device();
        let ntok = outputs.iter().map(Vec::len).sum::<usize>().max(1) as f64;

        let mut adv: Vec<Vec<f64>> = mb.iter().map(|e| e.advantages.clone()).collect();
        if args.normalize_advantage && ntok > 1.0 {
            let flat: Vec<f64> = adv.iter().flatten().copied().collect();
            let mean = flat.iter().sum::<f64>() / ntok;
            // torch.std: Bessel's correction.
            let std = (flat.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (ntok - 1.0)).sqrt();
            adv.iter_mut()
                .flatten()
                .for_each(|a| *a = (*a - mean) / (std + 1e-8));
        }
        let olds: Vec<Vec<f64>> = mb.iter().map(|e| e.old_logprobs.clone()).collect();
        let rets: Vec<Vec<f64>> = mb.iter().map(|e| e.returns.clone()).collect();
        let old = layout.tensor::<B>(&olds, &device);
        let adv = layout.tensor::<B>(&adv, &device);
        let returns = layout.tensor::<B>(&rets, &device);
        let mask = scores.mask.clone();

        let log_ratio = scores.token_logprobs.clone() - old.clone();
        let ratio = log_ratio.clone().exp();
        let policy_loss = clipped_surrogate_loss(
            scores.token_logprobs.clone(),
            old,
            adv,
            mask.clone(),
            args.clip_range,
        )
        .div_scalar(ntok);
        let value_loss = ((returns - values).powi_scalar(2) * mask.clone())
            .sum()
            .div_scalar(ntok);
        let entropy = (scores.token_entropies.clone() * mask.clone())
            .sum()
            .div_scalar(ntok);
        let loss = policy_loss.clone()
            + entropy.clone().neg().mul_scalar(args.ent_coef)
            + value_loss.clone().mul_scalar(args.vf_coef);

        let scalar = |t: Tensor<B, 1>| -> f64 { t.into_scalar().elem() };
        let clip_fraction = scalar(
            (ratio
                .clone()
                .sub_scalar(1.0)
                .abs()
                .greater_elem(args.clip_range)
                .float()
                * mask.clone())
            .sum(),
        ) / ntok;
        let approx_kl = scalar(((ratio.sub_scalar(1.0) - log_ratio) * mask).sum().detach()) / ntok;
        let (pl, vl, en) = (
            scalar(policy_loss.detach()),
            scalar(value_loss.detach()),
            scalar(entropy.detach()),
        );
        ensure_finite(self.iteration, "value loss", vl)?;
        let model = self.model.clone();
        let (next, s) = self.trainer.step(model, loss, self.iteration)?;
        self.model = next;
        Ok((
            [
                en,
                pl,
                vl,
                clip_fraction,
                approx_kl,
                s.grad_norm,
                s.learning_rate,
            ],
            approx_kl,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    type B = burn::backend::Flex;

    /// Hand computation with c = 0.2: ratios e^0.5 = 1.6487 (A = 1: clipped to 1.2),
    /// e^-0.5 = 0.6065 (A = 1: unclipped 0.6065 is the min), e^0.1 = 1.1052 (A = -2: -2.2103),
    /// e^-0.5 (A = -1: clip 0.8 gives -0.8, the min), and a masked token.
    #[test]
    fn clipped_surrogate_by_hand() {
        let d = Default::default();
        let t = |v: Vec<f32>| Tensor::<B, 2>::from_data(TensorData::new(v, [1, 5]), &d);
        let loss = clipped_surrogate_loss(
            t(vec![0.5, -0.5, 0.1, -0.5, 3.0]),
            t(vec![0.0; 5]),
            t(vec![1.0, 1.0, -2.0, -1.0, 5.0]),
            t(vec![1.0, 1.0, 1.0, 1.0, 0.0]),
            0.2,
        );
        let want = -(1.2 + (-0.5f64).exp() - 2.0 * 0.1f64.exp() - 0.8);
        let got: f64 = loss.into_scalar().elem();
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
    }
}
