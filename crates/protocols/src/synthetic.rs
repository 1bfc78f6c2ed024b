//! RFT of a tiny causal LM on a synthetic generation task (reverse a string), from a short SFT
//! start, with the paper's diagnostics: reward, KL, and the per-input reward std under the model
//! over training, split by each input's initial std.
//!
//! data (all strings over the alphabet) -> model (tiny GPT-2) -> SFT -> PPO / GRPO / ... ->
//! rows `steps`, `inputs`, `summary` (+ `timing`).

use crate::RunEnv;
use crate::rows::Rows;
use anyhow::{Result, bail};
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use model::{BackendTask, DeviceKind, GPT2LMHeadModel};
use polars::prelude::DataFrame;
use seeds::Stream;
use serde::{Deserialize, Serialize};
use std::time::Instant;
use trainers::diagnostics::{RewardStats, fraction_below, sampled_reward_stats};
use trainers::lm::{Example, TaskReward, evaluate_greedy};
use trainers::optim::OptimConfig;
use trainers::pg::{Estimator, PgConfig, PgTrainer};
use trainers::ppo::{PpoConfig, PpoTrainer};
use trainers::sft::{SftConfig, train_sft};
use trainers::synthetic::ReverseTask;

/// Which RFT algorithm runs after SFT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// PPO as RL4LMs runs it (the paper's RFT), configured by `ppo`.
    Ppo,
    /// GRPO (Shao et al., 2024): group-normalised advantages.
    Grpo,
    /// Dr. GRPO (Liu et al., 2025): group-centred advantages, token sums over `max_new_tokens`.
    DrGrpo,
    /// RLOO (Ahmadian et al., 2024): leave-one-out baseline.
    Rloo,
    /// Plain REINFORCE (Williams, 1992): the reward itself is the advantage.
    Reinforce,
    /// REINFORCE with the group's mean reward as baseline.
    ReinforceBaseline,
}

crate::serde_cells!(Algorithm);
trainers::serde_names!(Algorithm);

impl Algorithm {
    /// The advantage estimator of a group method; `None` for PPO.
    pub fn estimator(self) -> Option<Estimator> {
        match self {
            Algorithm::Ppo => None,
            Algorithm::Grpo => Some(Estimator::Grpo),
            Algorithm::DrGrpo => Some(Estimator::DrGrpo),
            Algorithm::Rloo => Some(Estimator::Rloo),
            Algorithm::Reinforce => Some(Estimator::Reinforce),
            Algorithm::ReinforceBaseline => Some(Estimator::ReinforceBaseline),
        }
    }
}

crate::sweep_params! {
    /// RFT on the reverse-a-string task.
    pub struct SyntheticConfig / SyntheticGrid / SyntheticPatch {
        pub algorithm: Algorithm,
        /// Letters in the alphabet; every string of `length` letters is an input.
        pub alphabet: usize,
        pub length: usize,
        /// Tiny GPT-2 shape.
        pub n_layer: usize,
        pub n_embd: usize,
        pub n_head: usize,
        /// SFT steps (batch = all inputs) before RFT; the paper's remedy is a short SFT phase.
        pub sft_steps: usize,
        pub sft_learning_rate: f64,
        /// Reward id of the `rewards` registry, and its arguments.
        pub reward: String,
        pub reward_args: serde_json::Value,
        /// RFT iterations (PPO iterations, or policy-gradient steps).
        pub iterations: usize,
        /// PPO settings in RL4LMs' layout (`env`, `alg.args`, `alg.kl_div`,
        /// `alg.policy.args.generation_kwargs`); the group methods take their learning rate,
        /// prompts per step (`env.n_envs`) and sampling from here too.
        pub ppo: PpoConfig,
        /// Samples per prompt for the group methods.
        pub group_size: usize,
        /// Every this many iterations, estimate each input's reward mean/std from
        /// `diag_samples` samples.
        pub diag_every: usize,
        pub diag_samples: usize,
        /// "Small" reward std.
        pub std_threshold: f64,
        /// cpu | wgpu | cuda (the latter two need the runner built with that feature).
        pub device: DeviceKind,
    }
}

impl SyntheticConfig {
    pub fn task(&self) -> ReverseTask {
        ReverseTask {
            alphabet: self.alphabet,
            length: self.length,
        }
    }

    pub fn task_reward(&self) -> Result<TaskReward> {
        let args: serde_yaml::Value = serde_yaml::to_value(&self.reward_args)?;
        Ok(self.task().reward(&self.reward, &args)?)
    }

    fn pg(&self, estimator: Estimator) -> PgConfig {
        let a = &self.ppo.alg.args;
        PgConfig {
            estimator,
            loss_agg: None,
            prompts_per_step: self.ppo.env.n_envs,
            samples_per_prompt: self.group_size,
            n_epochs: 1,
            clip_range: a.clip_range,
            kl_coeff: self.ppo.alg.kl_div.coeff,
            dynamic_sampling: false,
            max_sampling_rounds: 1,
            generation_kwargs: self.ppo.alg.policy.args.generation_kwargs.clone(),
            optim: OptimConfig {
                max_grad_norm: Some(a.max_grad_norm),
                ..OptimConfig::adam(a.learning_rate)
            },
            steps: self.iterations,
            std_threshold: self.std_threshold,
        }
    }

    /// Checks beyond types; the message names the offending field.
    pub fn validate(&self) -> Result<()> {
        self.task().validate()?;
        self.ppo.validate()?;
        self.task_reward()?;
        if self.diag_every == 0 || self.diag_samples < 2 {
            bail!("diag_every must be >= 1 and diag_samples >= 2");
        }
        if self.group_size < 2 && self.algorithm != Algorithm::Ppo {
            bail!("group_size must be >= 2 for {}", self.algorithm.name());
        }
        if !self.device.is_compiled() {
            bail!(
                "device {} is not compiled into this runner; rebuild with `--features {}` or use device: cpu",
                self.device,
                self.device
            );
        }
        if self.n_head == 0 || !self.n_embd.is_multiple_of(self.n_head) {
            bail!(
                "n_embd ({}) must be a multiple of n_head ({})",
                self.n_embd,
                self.n_head
            );
        }
        Ok(())
    }

    /// Run one seed on the configured device.
    pub fn run(&self, seed: u64, env: &RunEnv<'_>) -> Result<Outcome> {
        model::run_on(
            self.device,
            Run {
                cfg: self,
                seed,
                env,
            },
        )?
    }
}

crate::rows! {
    /// One RFT iteration (PPO) or step (group methods).
    pub struct StepRow {
        pub algorithm: Algorithm,
        /// SFT steps before RFT.
        pub sft_steps: usize,
        pub iteration: usize,
        pub reward: f64,
        pub kl: f64,
        pub kl_coeff: f64,
        pub entropy: f64,
        pub value_loss: f64,
        pub clip_fraction: f64,
        pub grad_norm: f64,
        pub learning_rate: f64,
        pub samples: usize,
    }
}

crate::rows! {
    /// One input at one measurement: reward mean and std under the model, from samples.
    pub struct InputRow {
        pub algorithm: Algorithm,
        /// SFT steps before RFT.
        pub sft_steps: usize,
        pub iteration: usize,
        pub input: usize,
        pub reward_mean: f64,
        pub reward_std: f64,
        pub initial_reward_mean: f64,
        pub initial_reward_std: f64,
    }
}

crate::rows! {
    /// One run.
    pub struct SummaryRow {
        pub algorithm: Algorithm,
        /// SFT steps before RFT.
        pub sft_steps: usize,
        pub greedy_reward_initial: f64,
        pub greedy_reward_final: f64,
        pub frac_small_std_initial: f64,
        pub frac_small_std_final: f64,
        pub sft_final_loss: f64,
    }
}

crate::rows! {
    /// Wall time of the RFT phase of one run.
    #[derive(Copy)]
    pub struct TimingRow {
        pub rft_seconds: f64,
        pub iterations_per_second: f64,
    }
}

/// Everything one run produces.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub steps: Vec<StepRow>,
    pub inputs: Vec<InputRow>,
    pub summary: SummaryRow,
    pub timing: TimingRow,
}

impl Outcome {
    /// The named tables of the run store.
    pub fn tables(&self) -> Result<Vec<(String, DataFrame)>> {
        Ok(vec![
            ("steps".into(), StepRow::to_frame(&self.steps)?),
            ("inputs".into(), InputRow::to_frame(&self.inputs)?),
            (
                "summary".into(),
                SummaryRow::to_frame(std::slice::from_ref(&self.summary))?,
            ),
            ("timing".into(), TimingRow::to_frame(&[self.timing])?),
        ])
    }
}

/// One run (config, seed), written once over any backend; [`model::run_on`] picks it.
struct Run<'a> {
    cfg: &'a SyntheticConfig,
    seed: u64,
    env: &'a RunEnv<'a>,
}

/// Per-input reward statistics at the measured iterations.
#[derive(Default)]
struct Measurements {
    rows: Vec<(usize, Vec<RewardStats>)>,
}

impl BackendTask for Run<'_> {
    type Output = Result<Outcome>;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<Outcome> {
        let (cfg, seed, env) = (self.cfg, self.seed, self.env);
        let task = cfg.task();
        let examples = task.examples();
        let reward = cfg.task_reward()?;
        let tokens = task.tokens();
        let max_new = cfg.ppo.alg.policy.args.generation_kwargs.max_new_tokens;
        let model = task.model::<B>(cfg.n_layer, cfg.n_embd, cfg.n_head, seed, &device)?;

        let sft = SftConfig {
            optim: OptimConfig::adam(cfg.sft_learning_rate),
            max_steps: cfg.sft_steps,
            batch_size: examples.len(),
            frac_train_samples: 1.0,
            seed,
        };
        let mut sft_loss = f64::NAN;
        let model = train_sft(model, &examples, tokens.pad, &sft, |l| sft_loss = l.loss)?;
        env.observer.log(&format!(
            "SFT: {} steps, last loss {sft_loss:.4}",
            cfg.sft_steps
        ));

        let measure = |m: &GPT2LMHeadModel<B>, it: usize, out: &mut Measurements| {
            let sampling = cfg.ppo.alg.policy.args.generation_kwargs.sampling(
                tokens.eos,
                tokens.pad,
                seeds::step_seed(seed, Stream::Diagnostics, it as u64),
            );
            let stats =
                sampled_reward_stats(&m.valid(), &examples, &reward, cfg.diag_samples, &sampling);
            out.rows.push((it, stats));
        };
        let mut measured = Measurements::default();
        let (greedy0, _) = evaluate_greedy(&model.valid(), &examples, &reward, tokens, max_new);
        measure(&model, 0, &mut measured);

        let t0 = Instant::now();
        let (final_model, steps) = rft(cfg, seed, model, &examples, &reward, &mut |m, it| {
            if it.is_multiple_of(cfg.diag_every) {
                measure(m, it, &mut measured)
            }
        })?;
        let secs = t0.elapsed().as_secs_f64();
        let (greedy1, _) =
            evaluate_greedy(&final_model.valid(), &examples, &reward, tokens, max_new);
        if !cfg.iterations.is_multiple_of(cfg.diag_every) {
            measure(&final_model, cfg.iterations, &mut measured);
        }
        let timing = TimingRow {
            rft_seconds: secs,
            iterations_per_second: cfg.iterations as f64 / secs.max(1e-9),
        };
        env.observer.log(&format!(
            "{}: greedy reward {greedy0:.4} -> {greedy1:.4}; {:.2} iterations/s",
            cfg.algorithm.name(),
            timing.iterations_per_second
        ));
        Ok(tabulate(
            cfg,
            steps,
            &measured,
            [greedy0, greedy1],
            sft_loss,
            timing,
        ))
    }
}

/// The RFT phase: `cfg.iterations` PPO iterations or group-method steps; `after(model, it)` is
/// called after iteration `it` (1-based).
fn rft<B: AutodiffBackend>(
    cfg: &SyntheticConfig,
    seed: u64,
    model: GPT2LMHeadModel<B>,
    examples: &[Example],
    reward: &TaskReward,
    after: &mut dyn FnMut(&GPT2LMHeadModel<B>, usize),
) -> Result<(GPT2LMHeadModel<B>, Vec<StepRow>)> {
    let tokens = cfg.task().tokens();
    let mut steps = Vec::with_capacity(cfg.iterations);
    let row = |iteration,
               reward,
               kl,
               kl_coeff,
               entropy,
               value_loss,
               clip_fraction,
               grad_norm,
               learning_rate,
               samples| StepRow {
        algorithm: cfg.algorithm,
        sft_steps: cfg.sft_steps,
        iteration,
        reward,
        kl,
        kl_coeff,
        entropy,
        value_loss,
        clip_fraction,
        grad_norm,
        learning_rate,
        samples,
    };
    match cfg.algorithm.estimator() {
        None => {
            let mut t = PpoTrainer::new(model, cfg.ppo.clone(), tokens, seed)?;
            for it in 0..cfg.iterations {
                let l = t.train_iteration(examples, reward)?;
                steps.push(row(
                    it,
                    l.reward,
                    l.kl,
                    l.kl_coeff,
                    l.entropy,
                    l.value_loss,
                    l.clip_fraction,
                    l.grad_norm,
                    l.learning_rate,
                    l.episodes,
                ));
                after(&t.model.policy, it + 1);
            }
            Ok((t.model.policy, steps))
        }
        Some(estimator) => {
            let mut t = PgTrainer::new(model, cfg.pg(estimator), tokens, seed)?;
            for it in 0..cfg.iterations {
                let l = t.train_step(examples, reward)?;
                steps.push(row(
                    it,
                    l.reward,
                    l.kl,
                    cfg.ppo.alg.kl_div.coeff,
                    l.entropy,
                    f64::NAN,
                    l.clip_fraction,
                    l.grad_norm,
                    l.learning_rate,
                    cfg.ppo.env.n_envs * cfg.group_size,
                ));
                after(&t.policy, it + 1);
            }
            Ok((t.policy, steps))
        }
    }
}

fn tabulate(
    cfg: &SyntheticConfig,
    steps: Vec<StepRow>,
    measured: &Measurements,
    [greedy0, greedy1]: [f64; 2],
    sft_loss: f64,
    timing: TimingRow,
) -> Outcome {
    let first = &measured.rows[0].1;
    let last = &measured.rows[measured.rows.len() - 1].1;
    let inputs = measured
        .rows
        .iter()
        .flat_map(|(iteration, stats)| {
            stats.iter().enumerate().map(move |(input, s)| InputRow {
                algorithm: cfg.algorithm,
                sft_steps: cfg.sft_steps,
                iteration: *iteration,
                input,
                reward_mean: s.mean,
                reward_std: s.std,
                initial_reward_mean: first[input].mean,
                initial_reward_std: first[input].std,
            })
        })
        .collect();
    Outcome {
        steps,
        inputs,
        summary: SummaryRow {
            algorithm: cfg.algorithm,
            sft_steps: cfg.sft_steps,
            greedy_reward_initial: greedy0,
            greedy_reward_final: greedy1,
            frac_small_std_initial: fraction_below(first, cfg.std_threshold),
            frac_small_std_final: fraction_below(last, cfg.std_threshold),
            sft_final_loss: sft_loss,
        },
        timing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reinforce_is_plain_reinforce_and_every_group_method_has_its_estimator() {
        assert_eq!(Algorithm::Reinforce.estimator(), Some(Estimator::Reinforce));
        assert_eq!(
            Algorithm::ReinforceBaseline.estimator(),
            Some(Estimator::ReinforceBaseline)
        );
        assert_eq!(Algorithm::Grpo.estimator(), Some(Estimator::Grpo));
        assert_eq!(Algorithm::DrGrpo.estimator(), Some(Estimator::DrGrpo));
        assert_eq!(Algorithm::Rloo.estimator(), Some(Estimator::Rloo));
        assert_eq!(Algorithm::Ppo.estimator(), None);
        assert_eq!(Algorithm::DrGrpo.name(), "dr_grpo");
    }
}
