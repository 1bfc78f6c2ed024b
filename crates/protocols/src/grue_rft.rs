//! Table 1 and Figure 2 of the paper (Findings II and III) as a sweep kind: on one GRUE task,
//! RFT (PPO as RL4LMs runs it) from the pretrained model, SFT, and SFT followed by RFT, each
//! started from the task's own ml-rlgrad config ([`rl4lms::ml_rlgrad`]) with the sweep's
//! overrides applied, evaluated as the config says, and with the reward std of every train input
//! tracked throughout.
//!
//! One run = one task, one `method`, one seed:
//!
//! ```text
//! rft:     evaluate(pretrained) -> track(0) -> PPO (*_ppo.yml) [track every eval_every] -> evaluate(rft)
//! sft_rft: SFT (*_supervised.yml) -> evaluate(sft) -> track(0) -> PPO (*_ppo_on_supervised.yml) -> evaluate(sft_rft)
//! grpo | dr_grpo | rloo | dapo: as rft, with a group policy gradient instead of PPO
//! ```
//!
//! Beyond the paper, for the remedies comparison (`experiments/remedies.yaml`):
//! * `grpo`, `dr_grpo`, `rloo`, `dapo` ([`trainers::pg`]) run on the PPO file's budget: its
//!   iterations, learning rate, KL coefficient (TRL's `beta`, unless `pg.beta` is set) and
//!   rollout sampling, with `pg.prompts_per_step` prompts x `pg.num_generations` samples per
//!   iteration (TRL's GRPOConfig names). `dapo` is GRPO's advantage with DAPO's token-mean loss and
//!   dynamic sampling (groups whose rewards are all equal are dropped and more prompts drawn, up
//!   to `pg.max_sampling_rounds` rounds); DAPO's asymmetric clip range is not modelled (with
//!   `num_iterations: 1` nothing is clipped). No entropy bonus (the PPO file's `ent_coef`).
//! * `sft_select: smallest_std` is targeted SFT: with `sft_samples_fraction` < 1, SFT learns the
//!   labels of the inputs with the smallest reward std under the pretrained model (measured as
//!   `track` measures, ranked as `runner diagnose` ranks them, [`crate::grue::smallest_std_first`])
//!   instead of a seeded random subset of the same size.
//!
//! * The training pool is the first `train_inputs` train inputs of a seed-7 permutation (Figure
//!   1's inputs); SFT learns their references, PPO samples prompts from them. The test pool is the
//!   first `test_inputs` of a seed-7 permutation of the test split.
//! * Evaluate: the RL config's `train_evaluation.generation_kwargs` (beam search for NarrativeQA
//!   and CommonGen, sampling for CNN/DailyMail and DailyDialog, ...), the task's reward, mean over
//!   the pool. The SFT model is evaluated with the same decoding (not the supervised file's, which
//!   for ToTTo is beam sampling), so that Table 1's columns compare.
//! * Track: `samples` samples per pool input with the rollout's sampling settings, their reward
//!   mean and (population) std per input; the fractions with std below `small_std` (and mean
//!   below `low_reward`), and TRL's `frac_reward_zero_std`.
//!
//! Rows: `eval` ([`EvalRow`]), `track` ([`TrackRow`]), `iterations` ([`IterationRow`]),
//! `inputs` ([`InputChangeRow`], Figure 2), `settings` ([`SettingRow`]), `effective`
//! ([`EffectiveRow`]), `timing`
//! ([`PhaseTimingRow`], the only table that depends on the machine), `pg_steps` ([`PgStepRow`],
//! the group policy gradients' batches).

use crate::RunEnv;
use crate::grue::{
    InputRewards, PromptRule, encode, permutation_prefix, reward_stats, smallest_std_first,
    task_reward,
};
use crate::plan::{Decoding, ppo_config, sft_config};
use crate::rows::Rows;
use anyhow::{Result, anyhow, bail};
use burn::tensor::backend::{AutodiffBackend, Backend};
use grue::{Split, TaskName};
use indicatif::ProgressBar;
use model::{DeviceKind, LmTokenizer};
use polars::prelude::DataFrame;
use rl4lms::Override;
use rl4lms::ml_rlgrad::{Training, training};
use seeds::{Stream, step_seed};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use trainers::lm::{Example, GenerationKwargs, TaskReward, Tokens};
use trainers::pg::{Estimator, LossAgg, PgConfig, PgTrainer};
use trainers::policy::{Policy, TrainablePolicy};
use trainers::ppo::{PpoConfig, PpoTrainer};
use trainers::sft::{SftConfig, train_sft};

crate::sweep_params! {
    /// RFT, SFT and SFT -> RFT on one GRUE task.
    pub struct GrueRftConfig / GrueRftGrid / GrueRftPatch {
        /// narrativeqa, totto, commongen, iwslt2017, cnn_dailymail, dailydialog or imdb.
        pub task: String,
        /// The checkpoint standing in for each of the paper's models (as in `reward_std`).
        pub models: BTreeMap<String, String>,
        /// `rft` (PPO from the pretrained model), `sft_rft` (SFT, evaluated, then PPO from it),
        /// `sft` (SFT only), or a group policy gradient from the pretrained model: `grpo`,
        /// `dr_grpo`, `rloo`, `dapo` (see the module docs).
        pub method: String,
        /// Training pool: the first inputs of a seed-7 permutation of the train split.
        pub train_inputs: usize,
        /// Test pool: the first inputs of a seed-7 permutation of the test split.
        pub test_inputs: usize,
        /// Samples per input when tracking the reward std.
        pub samples: usize,
        /// Inputs per batched generation.
        pub chunk: usize,
        /// "Small reward std": below this.
        pub small_std: f64,
        /// "Low reward": a mean below this.
        pub low_reward: f64,
        /// RL4LMs keys set in both PPO files (`train_evaluation.n_iters`, `env.n_envs`,
        /// `alg.args.n_steps`, ...): the scale-down of a profile, or a heuristic of Table 2.
        pub rl: BTreeMap<String, serde_yaml::Value>,
        /// RL4LMs keys set in both PPO files after `rl`: one of Table 2's heuristics
        /// (`alg.policy.args.generation_kwargs.temperature`, `alg.args.ent_coef`; default none).
        #[serde(default)]
        pub heuristic: BTreeMap<String, serde_yaml::Value>,
        /// Multiplies each PPO file's own `alg.args.learning_rate` (after `rl`).
        pub rl_lr_scale: f64,
        /// RL4LMs keys set in the supervised file (`alg.training_args.max_steps`,
        /// `datapool.frac_train_samples`, ...).
        pub sft: BTreeMap<String, serde_yaml::Value>,
        /// Multiplies the supervised file's own `alg.training_args.learning_rate` (after `sft`).
        pub sft_lr_scale: f64,
        /// Fraction of the SFT steps (of the full SFT the supervised file asks for) run before RFT:
        /// the partial-SFT heatmap's rows (default 1).
        #[serde(default = "one")]
        pub sft_steps_fraction: f64,
        /// Fraction of the pool's labels SFT may use (multiplies `datapool.frac_train_samples`; a
        /// seeded subset): the heatmap's columns (default 1).
        #[serde(default = "one")]
        pub sft_samples_fraction: f64,
        /// Which labels SFT learns when `sft_samples_fraction` < 1: `random` (a seeded subset, as
        /// RL4LMs' `frac_train_samples`; the default) or `smallest_std` (targeted SFT: the inputs
        /// with the smallest reward std under the pretrained model).
        #[serde(default = "random", skip_serializing_if = "is_random")]
        pub sft_select: String,
        /// The group policy gradients' settings (default: [`PgSettings::default`]).
        #[serde(default, skip_serializing_if = "PgSettings::is_default")]
        pub pg: PgSettings,
        /// Names this setting in tables ("" when the sweep has one setting per method).
        pub label: String,
        /// An RL4LMs config file used instead of the task's ml-rlgrad file of the method (the
        /// PPO file for `rft`, the supervised file for `sft`): what `runner rl4lms FILE` runs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub config_file: Option<String>,
        /// cpu | wgpu | cuda.
        pub device: DeviceKind,
    }
}

crate::rows! {
    /// Mean evaluation reward of one model on one pool (Table 1).
    pub struct EvalRow {
        pub task: String,
        pub label: String,
        /// pretrained | rft | sft | sft_rft.
        pub model: String,
        /// train | test.
        pub split: String,
        pub inputs: usize,
        pub reward: f64,
    }
}

crate::rows! {
    /// The reward std of the training pool at one iteration of an RL phase.
    pub struct TrackRow {
        pub task: String,
        pub label: String,
        /// rft | sft_rft.
        pub phase: String,
        pub iteration: usize,
        /// Mean over inputs of the sampled mean reward.
        pub reward: f64,
        pub frac_small_std: f64,
        pub frac_small_std_low_reward: f64,
        /// TRL's `frac_reward_zero_std`: inputs whose samples all got the same reward.
        pub frac_reward_zero_std: f64,
    }
}

crate::rows! {
    /// One PPO iteration (RL4LMs' rollout and update logs).
    pub struct IterationRow {
        pub task: String,
        pub label: String,
        pub phase: String,
        pub iteration: usize,
        pub episodes: usize,
        pub transitions: usize,
        pub rollout_reward: f64,
        pub kl: f64,
        pub kl_coeff: f64,
        pub entropy: f64,
        pub policy_loss: f64,
        pub value_loss: f64,
        pub clip_fraction: f64,
        pub approx_kl: f64,
        pub grad_norm: f64,
        pub epochs: usize,
    }
}

crate::rows! {
    /// One training input before and after an RL phase (Figure 2).
    pub struct InputChangeRow {
        pub task: String,
        pub label: String,
        pub phase: String,
        /// Position in the pool (the seed-7 permutation).
        pub position: usize,
        /// Index in the train split.
        pub index: usize,
        pub mean_before: f64,
        pub std_before: f64,
        pub mean_after: f64,
        pub std_after: f64,
    }
}

crate::rows! {
    /// Wall time of one phase (machine-dependent; kept out of the other tables).
    pub struct PhaseTimingRow {
        pub task: String,
        pub label: String,
        /// sft | eval | track, or the RL method (rft, sft_rft, grpo, ...).
        pub phase: String,
        pub seconds: f64,
        /// Optimiser steps (SFT), PPO iterations, or decoded inputs.
        pub units: usize,
        /// PPO token transitions (0 for other phases and methods).
        pub transitions: usize,
    }
}

fn one() -> f64 {
    1.0
}

fn random() -> String {
    "random".into()
}

fn is_random(s: &String) -> bool {
    s == "random"
}

/// The methods a run may name.
pub const METHODS: [&str; 7] = ["rft", "sft_rft", "sft", "grpo", "dr_grpo", "rloo", "dapo"];

/// Settings of the group policy gradients (`grpo`, `dr_grpo`, `rloo`, `dapo`), named as TRL's
/// `GRPOConfig`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PgSettings {
    /// Samples per prompt (the group; TRL `num_generations`). Default 4.
    pub num_generations: usize,
    /// Prompts per iteration, drawn with replacement from the training pool. Default 2.
    pub prompts_per_step: usize,
    /// Updates per batch of samples (GRPO's mu; TRL `num_iterations`). Default 1.
    pub num_iterations: usize,
    /// Ratio clip range (TRL `epsilon`). Default 0.2.
    pub epsilon: f64,
    /// KL coefficient to the initial policy (TRL `beta`); default: the PPO file's
    /// `alg.kl_div.coeff`.
    pub beta: Option<f64>,
    /// `dapo`: at most this many sampling rounds to refill a batch. Default 4.
    pub max_sampling_rounds: usize,
}

impl Default for PgSettings {
    fn default() -> Self {
        PgSettings {
            num_generations: 4,
            prompts_per_step: 2,
            num_iterations: 1,
            epsilon: 0.2,
            beta: None,
            max_sampling_rounds: 4,
        }
    }
}

impl PgSettings {
    fn is_default(&self) -> bool {
        *self == PgSettings::default()
    }
}

crate::rows! {
    /// One iteration of a group policy gradient: how many groups it sampled and dropped, and
    /// how many of its batch's groups had a small or zero reward std.
    pub struct PgStepRow {
        pub task: String,
        pub label: String,
        pub phase: String,
        pub iteration: usize,
        /// Mean task reward of the samples the update used.
        pub reward: f64,
        /// Groups sampled (kept and dropped).
        pub groups_sampled: usize,
        /// Groups dropped for a zero reward std (`dapo` only).
        pub groups_dropped: usize,
        /// Of the groups sampled: reward std below the run's `small_std`.
        pub frac_small_std: f64,
        /// Of the groups sampled: all rewards equal (no gradient).
        pub frac_reward_zero_std: f64,
        pub kl: f64,
        pub entropy: f64,
        pub grad_norm: f64,
    }
}

crate::rows! {
    /// The settings a run's PPO and SFT ran with, after overrides and scales (Table 2's rows and
    /// the partial-SFT heatmap's cells are grouped by them).
    pub struct EffectiveRow {
        pub task: String,
        pub label: String,
        pub method: String,
        pub ppo_learning_rate: f64,
        pub temperature: f64,
        pub ent_coef: f64,
        pub sft_steps: usize,
        pub sft_frac_train_samples: f64,
        pub sft_steps_fraction: f64,
        pub sft_samples_fraction: f64,
    }
}

crate::rows! {
    /// The scale a run ran at (for captions): its pools and the overrides on the ml-rlgrad files.
    pub struct SettingRow {
        pub task: String,
        pub label: String,
        pub method: String,
        pub train_inputs: usize,
        pub test_inputs: usize,
        pub samples: usize,
        /// `key=value, ...` of `rl`.
        pub rl: String,
        pub rl_lr_scale: f64,
        pub sft: String,
        pub sft_lr_scale: f64,
    }
}

fn key_values(m: &BTreeMap<String, serde_yaml::Value>) -> String {
    m.iter()
        .map(|(k, v)| {
            let v = serde_yaml::to_string(v).unwrap_or_default();
            format!("{k}={}", v.trim())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Everything one run produced.
#[derive(Debug, Default)]
pub struct Outcome {
    pub eval: Vec<EvalRow>,
    pub track: Vec<TrackRow>,
    pub iterations: Vec<IterationRow>,
    pub inputs: Vec<InputChangeRow>,
    pub timing: Vec<PhaseTimingRow>,
    pub settings: Vec<SettingRow>,
    pub effective: Vec<EffectiveRow>,
    pub pg_steps: Vec<PgStepRow>,
}

impl Outcome {
    pub fn tables(&self) -> Result<Vec<(String, DataFrame)>> {
        Ok(vec![
            ("eval".into(), EvalRow::to_frame(&self.eval)?),
            ("track".into(), TrackRow::to_frame(&self.track)?),
            (
                "iterations".into(),
                IterationRow::to_frame(&self.iterations)?,
            ),
            ("inputs".into(), InputChangeRow::to_frame(&self.inputs)?),
            ("timing".into(), PhaseTimingRow::to_frame(&self.timing)?),
            ("settings".into(), SettingRow::to_frame(&self.settings)?),
            ("effective".into(), EffectiveRow::to_frame(&self.effective)?),
            ("pg_steps".into(), PgStepRow::to_frame(&self.pg_steps)?),
        ])
    }
}

/// The three plans of a run, overrides applied.
#[derive(Debug, Clone)]
pub struct Plans {
    pub ppo: rl4lms::Plan,
    pub supervised: rl4lms::Plan,
    pub ppo_on_supervised: rl4lms::Plan,
}

fn sets(map: &BTreeMap<String, serde_yaml::Value>) -> Vec<Override> {
    map.iter()
        .map(|(k, v)| Override {
            key: k.clone(),
            value: v.clone(),
        })
        .collect()
}

fn scale_lr(plan: rl4lms::Plan, key: &str, scale: f64) -> Result<rl4lms::Plan> {
    if scale == 1.0 {
        return Ok(plan);
    }
    let lr: f64 = plan
        .get(key)
        .ok_or_else(|| anyhow!("{}: no {key} to scale", plan.source))?
        .parse()
        .map_err(|e| anyhow!("{}: {key}: {e}", plan.source))?;
    let text = serde_yaml::to_string(&plan.config)?;
    let set = Override {
        key: key.to_string(),
        value: serde_yaml::Value::from(lr * scale),
    };
    Ok(rl4lms::parse_str_set(&text, &plan.source, &[set])?)
}

impl GrueRftConfig {
    pub fn task_name(&self) -> Result<TaskName> {
        Ok(TaskName::parse(&self.task)?)
    }

    /// The checkpoint standing in for `paper_model`.
    pub fn model_for(&self, paper_model: &str) -> Result<&str> {
        crate::grue::model_for(&self.models, paper_model, &self.task)
    }

    /// The task's PPO, supervised and PPO-on-supervised configs with this run's overrides.
    pub fn plans(&self) -> Result<Plans> {
        let task = self.task_name()?;
        let mut rl = sets(&self.rl);
        rl.extend(sets(&self.heuristic));
        let ppo_lr = "alg.args.learning_rate";
        let sft_lr = "alg.training_args.learning_rate";
        let file = |which: Training, sets: &[Override]| -> Result<rl4lms::Plan> {
            let replaced = match (which, self.method.as_str()) {
                (Training::Ppo, "rft") | (Training::Supervised, "sft") => {
                    self.config_file.as_deref()
                }
                _ => None,
            };
            match replaced {
                None => Ok(training(task, which, sets)?),
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .map_err(|e| anyhow!("config_file {path}: {e}"))?;
                    let plan = rl4lms::parse_str_set(&text, path, sets)?;
                    if plan.task != task {
                        bail!(
                            "{path}: its datapool is task {}, not {}",
                            plan.task,
                            self.task
                        );
                    }
                    Ok(plan)
                }
            }
        };
        Ok(Plans {
            ppo: scale_lr(file(Training::Ppo, &rl)?, ppo_lr, self.rl_lr_scale)?,
            supervised: scale_lr(
                file(Training::Supervised, &sets(&self.sft))?,
                sft_lr,
                self.sft_lr_scale,
            )?,
            ppo_on_supervised: scale_lr(
                training(task, Training::PpoOnSupervised, &rl)?,
                ppo_lr,
                self.rl_lr_scale,
            )?,
        })
    }

    pub fn validate(&self) -> Result<()> {
        let task = self.task_name()?;
        if !METHODS.contains(&self.method.as_str()) {
            bail!(
                "method {:?} must be one of {}",
                self.method,
                METHODS.join(", ")
            );
        }
        if !matches!(self.sft_select.as_str(), "random" | "smallest_std") {
            bail!(
                "sft_select {:?} must be random or smallest_std",
                self.sft_select
            );
        }
        self.model_for(task.spec().model)?;
        if self.train_inputs == 0 || self.test_inputs == 0 || self.chunk == 0 {
            bail!("train_inputs, test_inputs and chunk must be >= 1");
        }
        if self.samples < 2 {
            bail!("samples must be >= 2 (a reward std needs two samples)");
        }
        if !(self.rl_lr_scale > 0.0 && self.sft_lr_scale > 0.0) {
            bail!("rl_lr_scale and sft_lr_scale must be > 0");
        }
        for (name, v) in [
            ("sft_steps_fraction", self.sft_steps_fraction),
            ("sft_samples_fraction", self.sft_samples_fraction),
        ] {
            if !(v > 0.0 && v <= 1.0) {
                bail!("{name} must be in (0, 1], got {v}");
            }
        }
        for (name, v) in [
            ("small_std", self.small_std),
            ("low_reward", self.low_reward),
        ] {
            if !(0.0..=1.0).contains(&v) {
                bail!("{name} must be in [0, 1], got {v}");
            }
        }
        let plans = self.plans()?;
        let seq2seq = task.spec().seq2seq;
        ppo_config(&plans.ppo, seq2seq)?;
        ppo_config(&plans.ppo_on_supervised, seq2seq)?;
        sft_config(&plans.supervised, self.train_inputs, 0)?;
        let n_iters = iterations(&plans.ppo)?;
        if let Some(pg) = self.pg_config(&ppo_config(&plans.ppo, seq2seq)?, n_iters) {
            pg.validate()
                .map_err(|e| anyhow!("pg ({}): {e}", self.method))?;
        }
        Ok(())
    }

    /// The SFT config of a run on a pool of `pool` inputs: the supervised file's, its steps and
    /// labels scaled by `sft_steps_fraction` and `sft_samples_fraction`.
    pub fn sft(&self, plans: &Plans, pool: usize, seed: u64) -> Result<SftConfig> {
        let mut sft = sft_config(&plans.supervised, pool, seed)?;
        sft.max_steps = ((sft.max_steps as f64 * self.sft_steps_fraction).ceil() as usize).max(1);
        sft.frac_train_samples *= self.sft_samples_fraction;
        Ok(sft)
    }

    /// How many labelled inputs SFT learns (0 for a method without SFT).
    pub fn sft_labels(&self) -> Result<usize> {
        if !self.uses_sft() {
            return Ok(0);
        }
        let frac = self
            .sft(&self.plans()?, self.train_inputs, 0)?
            .frac_train_samples;
        Ok(trainers::sft::train_subset(self.train_inputs, frac, 0).len())
    }

    /// Whether the method starts with SFT.
    pub fn uses_sft(&self) -> bool {
        matches!(self.method.as_str(), "sft_rft" | "sft")
    }

    /// The group policy gradient of a `grpo` / `dr_grpo` / `rloo` / `dapo` run, on the PPO
    /// file's budget (None for the other methods).
    pub fn pg_config(&self, ppo: &PpoConfig, n_iters: usize) -> Option<PgConfig> {
        let (estimator, loss_agg, dynamic_sampling) = match self.method.as_str() {
            "grpo" => (Estimator::Grpo, None, false),
            "dr_grpo" => (Estimator::DrGrpo, None, false),
            "rloo" => (Estimator::Rloo, None, false),
            "dapo" => (Estimator::Grpo, Some(LossAgg::TokenMean), true),
            _ => return None,
        };
        let mut generation_kwargs = ppo.alg.policy.args.generation_kwargs.clone();
        generation_kwargs.max_new_tokens = generation_kwargs
            .max_new_tokens
            .min(ppo.env.args.max_episode_length);
        let p = &self.pg;
        Some(PgConfig {
            estimator,
            loss_agg,
            prompts_per_step: p.prompts_per_step,
            samples_per_prompt: p.num_generations,
            n_epochs: p.num_iterations,
            clip_range: p.epsilon,
            kl_coeff: p.beta.unwrap_or(ppo.alg.kl_div.coeff),
            dynamic_sampling,
            max_sampling_rounds: p.max_sampling_rounds,
            generation_kwargs,
            optim: ppo.optim(),
            steps: n_iters,
            std_threshold: self.small_std,
        })
    }

    /// Runs the method. `resolve` turns a model reference into a checkpoint directory; `loader`
    /// opens a learned reward's classifier.
    pub fn run(
        &self,
        seed: u64,
        env: &RunEnv<'_>,
        resolve: &dyn Fn(&str) -> Result<PathBuf>,
        loader: &dyn rewards::ClassifierLoader,
    ) -> Result<Outcome> {
        let task = self.task_name()?;
        let spec = task.spec();
        let plans = self.plans()?;
        // The first `n` inputs of a split's seed-7 permutation, with their indices in the split.
        let pool_of = |split: Split, n: usize| -> Result<(Vec<usize>, Vec<grue::Sample>)> {
            let all = task.load(&env.data_dir, split, grue::Verify::Manifest)?;
            if all.is_empty() {
                bail!("task {}: the {split:?} split is empty", self.task);
            }
            let idx = permutation_prefix(all.len(), n, spec.extract_seed);
            let picked = idx.iter().map(|&i| all[i].clone()).collect();
            Ok((idx, picked))
        };
        let (train_idx, train) = pool_of(Split::Train, self.train_inputs)?;
        let (_, test) = pool_of(Split::Test, self.test_inputs)?;
        let checkpoint = resolve(self.model_for(spec.model)?)?;
        let reward_args =
            crate::grue::resolved_reward_args(spec, &|m| resolve(self.model_for(m)?))?;
        let seq2seq = crate::grue::is_seq2seq(&checkpoint)?;
        let tok = Arc::new(
            LmTokenizer::from_checkpoint(&checkpoint, seq2seq)
                .map_err(|e| anyhow!("loading the tokenizer of {}: {e}", checkpoint.display()))?,
        );
        // The PPO file's `env.args` (overridable), else the task's own settings.
        let env_args = plans.ppo.config.env.as_ref().and_then(|e| e.args.as_ref());
        let rule = PromptRule {
            max_prompt_length: env_args
                .and_then(|a| a.max_prompt_length)
                .map_or(spec.max_prompt_length, |m| m as usize),
            truncate_left: env_args
                .and_then(|a| a.prompt_truncation_side)
                .map_or(spec.prompt_truncation_side == grue::spec::Side::Left, |s| {
                    s == rl4lms::config::Side::Left
                }),
            seq2seq,
        };
        let mut pool = encode(&train.iter().collect::<Vec<_>>(), "", &tok, rule)?;
        if !seq2seq && let Some(n) = positions(&checkpoint)? {
            // Deviation: RL4LMs cuts a causal SFT sequence (prompt + reference) at the supervised
            // file's tokenizer.max_length; we cut the reference so that prompt + reference fit the
            // model's positions (IMDB's references are whole reviews).
            for x in &mut pool {
                x.target_ids
                    .truncate(n.saturating_sub(x.prompt_ids.len()).max(1));
            }
        }
        let held_out = encode(&test.iter().collect::<Vec<_>>(), "", &tok, rule)?;
        let reward = task_reward(spec.reward.id, &reward_args, tok.clone(), Some(loader))?;
        let tokens = crate::grue::tokens_of(&tok);
        let rl_plan = if self.uses_sft() {
            &plans.ppo_on_supervised
        } else {
            &plans.ppo
        };
        let ppo = ppo_config(rl_plan, seq2seq)?;
        let sft = self.sft(&plans, pool.len(), seed)?;
        let n_iters = iterations(rl_plan)?;
        let pg = self.pg_config(&ppo, n_iters);
        let eval_every = rl_plan
            .evaluation()
            .and_then(|e| e.eval_every)
            .unwrap_or(n_iters as u64)
            .max(1) as usize;
        // Every model of a run is evaluated with one decoding: the RL file's (so Table 1's columns
        // compare), or for SFT alone the supervised file's.
        let decoding = if self.method == "sft" {
            Decoding::of(&plans.supervised, seq2seq, tokens)?
        } else {
            Decoding::of(rl_plan, seq2seq, tokens)?
        };
        let steps = match self.method.as_str() {
            "sft" => sft.max_steps,
            "sft_rft" => n_iters + sft.max_steps,
            _ => n_iters,
        };
        let bar = env
            .observer
            .progress_bar(steps as u64, &format!("{} {}", self.task, self.method));
        if !seq2seq {
            check_positions(&checkpoint, rule.max_prompt_length, &ppo, &decoding)?;
        }
        let job = Job {
            cfg: self,
            checkpoint: &checkpoint,
            seq2seq,
            pool: &pool,
            pool_index: &train_idx,
            test: &held_out,
            reward: &reward,
            tokens,
            ppo,
            pg,
            sft,
            n_iters,
            eval_every,
            decoding,
            seed,
            bar: &bar,
            env,
        };
        let out = model::run_on(self.device, job)??;
        bar.finish_and_clear();
        Ok(out)
    }
}

/// A GPT-2 checkpoint's `n_positions` (None for a model without absolute positions).
fn positions(checkpoint: &Path) -> Result<Option<usize>> {
    let path = checkpoint.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let config: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    Ok(config
        .get("n_positions")
        .and_then(|v| v.as_u64())
        .map(|n| n as usize))
}

/// A causal LM sees prompt and generation in one sequence: both must fit its `n_positions`.
fn check_positions(
    checkpoint: &Path,
    max_prompt: usize,
    ppo: &PpoConfig,
    decoding: &Decoding,
) -> Result<()> {
    let Some(positions) = positions(checkpoint)? else {
        return Ok(());
    };
    let positions = positions as u64;
    let rollout = ppo
        .alg
        .policy
        .args
        .generation_kwargs
        .max_new_tokens
        .min(ppo.env.args.max_episode_length);
    let eval = match decoding {
        Decoding::Generate(k) => k.max_new_tokens,
        Decoding::Beam(b) => b.max_new_tokens,
    };
    let need = max_prompt + rollout.max(eval);
    if need as u64 > positions {
        bail!(
            "{}: the model has {positions} positions, but prompts of up to {max_prompt} tokens plus {} \
             generated ones need {need}; lower env.args.max_prompt_length (or max_new_tokens)",
            checkpoint.display(),
            rollout.max(eval)
        );
    }
    Ok(())
}

/// PPO iterations of a plan (`train_evaluation.n_iters`).
fn iterations(plan: &rl4lms::Plan) -> Result<usize> {
    let n = plan
        .evaluation()
        .and_then(|e| e.n_iters)
        .ok_or_else(|| anyhow!("{}: train_evaluation.n_iters is not set", plan.source))?;
    if n == 0 {
        bail!("{}: train_evaluation.n_iters must be >= 1", plan.source);
    }
    Ok(n as usize)
}

/// One run on one backend ([`model::run_on`] picks it).
struct Job<'a> {
    cfg: &'a GrueRftConfig,
    checkpoint: &'a Path,
    seq2seq: bool,
    pool: &'a [Example],
    pool_index: &'a [usize],
    test: &'a [Example],
    reward: &'a TaskReward,
    tokens: Tokens,
    ppo: PpoConfig,
    pg: Option<PgConfig>,
    sft: SftConfig,
    n_iters: usize,
    eval_every: usize,
    decoding: Decoding,
    seed: u64,
    bar: &'a ProgressBar,
    env: &'a RunEnv<'a>,
}

impl model::BackendTask for Job<'_> {
    type Output = Result<Outcome>;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        let dir = self.checkpoint;
        let err = |e: model::ModelError| anyhow!("{}: {e}", dir.display());
        if self.seq2seq {
            let policy = model::T5ForConditionalGeneration::<B>::load(dir, &device).map_err(err)?;
            self.go(policy)
        } else {
            let policy = model::GPT2LMHeadModel::<B>::load(dir, &device).map_err(err)?;
            self.go(policy)
        }
    }
}

impl Job<'_> {
    fn label(&self) -> String {
        self.cfg.label.clone()
    }

    fn go<B: AutodiffBackend, P: TrainablePolicy<B>>(self, policy: P) -> Result<Outcome> {
        let c = self.cfg;
        let mut out = Outcome {
            settings: vec![SettingRow {
                task: c.task.clone(),
                label: c.label.clone(),
                method: c.method.clone(),
                train_inputs: self.pool.len(),
                test_inputs: self.test.len(),
                samples: c.samples,
                rl: key_values(&c.rl),
                rl_lr_scale: c.rl_lr_scale,
                sft: key_values(&c.sft),
                sft_lr_scale: c.sft_lr_scale,
            }],
            effective: vec![EffectiveRow {
                task: c.task.clone(),
                label: c.label.clone(),
                method: c.method.clone(),
                ppo_learning_rate: self.ppo.alg.args.learning_rate,
                temperature: self.ppo.alg.policy.args.generation_kwargs.temperature,
                // The group policy gradients have no entropy bonus.
                ent_coef: if self.pg.is_some() {
                    0.0
                } else {
                    self.ppo.alg.args.ent_coef
                },
                sft_steps: self.sft.max_steps,
                sft_frac_train_samples: self.sft.frac_train_samples,
                sft_steps_fraction: c.sft_steps_fraction,
                sft_samples_fraction: c.sft_samples_fraction,
            }],
            ..Outcome::default()
        };
        let policy = if !self.cfg.uses_sft() {
            self.evaluate(&policy.valid(), "pretrained", &self.decoding, &mut out);
            policy
        } else {
            let (labelled, sft) = self.sft_inputs(&policy, &mut out)?;
            let start = Instant::now();
            self.bar.set_message("sft");
            let bar = self.bar;
            let trained = train_sft(policy, &labelled, self.tokens.pad, &sft, |_| bar.inc(1))?;
            out.timing
                .push(self.timing("sft", start, self.sft.max_steps, 0));
            self.evaluate(&trained.valid(), "sft", &self.decoding, &mut out);
            if self.cfg.method == "sft" {
                return Ok(out);
            }
            trained
        };
        let phase = self.cfg.method.clone();
        let tuned = match &self.pg {
            Some(pg) => self.pg_phase(policy, pg.clone(), &phase, &mut out)?,
            None => self.rl_phase(policy, &phase, &mut out)?,
        };
        self.evaluate(&tuned.valid(), &phase, &self.decoding, &mut out);
        Ok(out)
    }

    /// The labelled inputs SFT learns and its config: the whole pool (RL4LMs'
    /// `frac_train_samples` then draws a seeded subset), or for targeted SFT the
    /// `ceil(frac_train_samples * n)` inputs with the smallest reward std under `policy`.
    fn sft_inputs<B: AutodiffBackend, P: TrainablePolicy<B>>(
        &self,
        policy: &P,
        out: &mut Outcome,
    ) -> Result<(Vec<Example>, SftConfig)> {
        if self.cfg.sft_select != "smallest_std" {
            return Ok((self.pool.to_vec(), self.sft.clone()));
        }
        let measured = self.track(&policy.valid(), "pretrained", 0, out)?;
        let n = self.pool.len();
        let keep = ((self.sft.frac_train_samples * n as f64).ceil() as usize).clamp(1.min(n), n);
        let std_mean: Vec<(f64, f64)> = measured
            .iter()
            .map(|m| (m.stats.std, m.stats.mean))
            .collect();
        let mut chosen = smallest_std_first(&std_mean)[..keep].to_vec();
        chosen.sort_unstable();
        self.env.observer.log(&format!(
            "{} targeted SFT: the {keep} of {n} inputs with the smallest reward std (positions {chosen:?})",
            self.cfg.task
        ));
        let sft = SftConfig {
            frac_train_samples: 1.0,
            ..self.sft.clone()
        };
        Ok((chosen.iter().map(|&i| self.pool[i].clone()).collect(), sft))
    }

    fn timing(
        &self,
        phase: &str,
        start: Instant,
        units: usize,
        transitions: usize,
    ) -> PhaseTimingRow {
        PhaseTimingRow {
            task: self.cfg.task.clone(),
            label: self.label(),
            phase: phase.into(),
            seconds: start.elapsed().as_secs_f64(),
            units,
            transitions,
        }
    }

    /// Mean reward of `model` on the train and test pools, decoded as the plan's evaluation says.
    fn evaluate<B: Backend, P: Policy<B>>(
        &self,
        model: &P,
        name: &str,
        decoding: &Decoding,
        out: &mut Outcome,
    ) {
        let start = Instant::now();
        for (split, examples, id) in [("train", self.pool, 0u64), ("test", self.test, 1)] {
            let mut rewards = Vec::with_capacity(examples.len());
            for (c, part) in examples.chunks(self.cfg.chunk).enumerate() {
                let prompts: Vec<Vec<u32>> = part.iter().map(|x| x.prompt_ids.clone()).collect();
                let seed = step_seed(self.seed, Stream::GrueEval, (id << 32) | c as u64);
                let outputs = decoding.decode(model, &prompts, self.tokens, seed);
                let refs: Vec<&Example> = part.iter().collect();
                rewards.extend(self.reward.score(&refs, &outputs));
            }
            out.eval.push(EvalRow {
                task: self.cfg.task.clone(),
                label: self.label(),
                model: name.into(),
                split: split.into(),
                inputs: examples.len(),
                reward: rewards.iter().sum::<f64>() / rewards.len().max(1) as f64,
            });
        }
        let t = self.timing("eval", start, self.pool.len() + self.test.len(), 0);
        let n = out.eval.len();
        self.env.observer.log(&format!(
            "{} {name}: reward train {:.4}, test {:.4} ({:.1} s)",
            self.cfg.task,
            out.eval[n - 2].reward,
            out.eval[n - 1].reward,
            t.seconds
        ));
        out.timing.push(t);
    }

    /// `samples` rollouts per pool input; one [`TrackRow`].
    fn track<B: Backend, P: Policy<B>>(
        &self,
        model: &P,
        phase: &str,
        iteration: usize,
        out: &mut Outcome,
    ) -> Result<Vec<InputRewards>> {
        let start = Instant::now();
        // RL after SFT samples its own stream; every phase from the pretrained model (and the
        // targeted-SFT measurement) starts from the same measurement of it.
        let phase_id = if phase == "sft_rft" { 1u64 } else { 0 };
        let kwargs: &GenerationKwargs = &self.ppo.alg.policy.args.generation_kwargs;
        let measured = reward_stats(
            model,
            self.pool,
            self.reward,
            self.cfg.samples,
            kwargs,
            self.tokens,
            step_seed(
                self.seed,
                Stream::GrueTrack,
                (phase_id << 32) | iteration as u64,
            ),
            self.cfg.chunk,
            &ProgressBar::hidden(),
        )?;
        let n = measured.len().max(1) as f64;
        let frac =
            |f: &dyn Fn(&InputRewards) -> bool| measured.iter().filter(|m| f(m)).count() as f64 / n;
        out.track.push(TrackRow {
            task: self.cfg.task.clone(),
            label: self.label(),
            phase: phase.into(),
            iteration,
            reward: measured.iter().map(|m| m.stats.mean).sum::<f64>() / n,
            frac_small_std: frac(&|m| m.stats.std < self.cfg.small_std),
            frac_small_std_low_reward: frac(&|m| {
                m.stats.std < self.cfg.small_std && m.stats.mean < self.cfg.low_reward
            }),
            frac_reward_zero_std: frac(&|m| m.rewards.iter().all(|r| *r == m.rewards[0])),
        });
        let t = self.timing("track", start, self.pool.len(), 0);
        let r = out.track.last().expect("pushed above");
        self.env.observer.log(&format!(
            "{} {phase} iteration {iteration}: sampled reward {:.4}, small std {:.3} ({:.1} s)",
            self.cfg.task, r.reward, r.frac_small_std, t.seconds
        ));
        out.timing.push(t);
        Ok(measured)
    }

    /// Tracks the pool after iteration `it` when it is due (every `eval_every`, and the last);
    /// returns the last iteration's measurement, and adds the time taken to `track_time`.
    fn track_due<B: Backend, P: Policy<B>>(
        &self,
        model: &P,
        phase: &str,
        it: usize,
        out: &mut Outcome,
        track_time: &mut f64,
    ) -> Result<Option<Vec<InputRewards>>> {
        if !it.is_multiple_of(self.eval_every) && it != self.n_iters {
            return Ok(None);
        }
        let t = Instant::now();
        let m = self.track(model, phase, it, out)?;
        *track_time += t.elapsed().as_secs_f64();
        Ok((it == self.n_iters).then_some(m))
    }

    /// PPO for `n_iters` iterations, tracking the reward std every `eval_every`.
    fn rl_phase<B: AutodiffBackend, P: TrainablePolicy<B>>(
        &self,
        policy: P,
        phase: &str,
        out: &mut Outcome,
    ) -> Result<P> {
        let before = self.track(&policy.valid(), phase, 0, out)?;
        let mut trainer = PpoTrainer::new(policy, self.ppo.clone(), self.tokens, self.seed)?;
        let start = Instant::now();
        let mut transitions = 0;
        let mut track_time = 0.0;
        let mut after = None;
        self.bar.set_message(phase.to_string());
        for it in 1..=self.n_iters {
            let log = trainer.train_iteration(self.pool, self.reward)?;
            transitions += log.transitions;
            out.iterations.push(IterationRow {
                task: self.cfg.task.clone(),
                label: self.label(),
                phase: phase.into(),
                iteration: it,
                episodes: log.episodes,
                transitions: log.transitions,
                rollout_reward: log.reward,
                kl: log.kl,
                kl_coeff: log.kl_coeff,
                entropy: log.entropy,
                policy_loss: log.policy_loss,
                value_loss: log.value_loss,
                clip_fraction: log.clip_fraction,
                approx_kl: log.approx_kl,
                grad_norm: log.grad_norm,
                epochs: log.epochs,
            });
            self.bar.inc(1);
            let model = trainer.model.policy.valid();
            if let Some(m) = self.track_due(&model, phase, it, out, &mut track_time)? {
                after = Some(m);
            }
        }
        let mut row = self.timing(phase, start, self.n_iters, transitions);
        row.seconds -= track_time;
        self.close_phase(phase, row, &before, after, out);
        Ok(trainer.model.policy)
    }

    /// A group policy gradient for `n_iters` iterations, tracked as [`Job::rl_phase`] tracks PPO.
    fn pg_phase<B: AutodiffBackend, P: TrainablePolicy<B>>(
        &self,
        policy: P,
        config: PgConfig,
        phase: &str,
        out: &mut Outcome,
    ) -> Result<P> {
        let before = self.track(&policy.valid(), phase, 0, out)?;
        let mut trainer = PgTrainer::new(policy, config, self.tokens, self.seed)?;
        let start = Instant::now();
        let (mut track_time, mut after) = (0.0, None);
        self.bar.set_message(phase.to_string());
        for it in 1..=self.n_iters {
            let log = trainer.train_step(self.pool, self.reward)?;
            let groups = log.groups.len().max(1) as f64;
            out.pg_steps.push(PgStepRow {
                task: self.cfg.task.clone(),
                label: self.label(),
                phase: phase.into(),
                iteration: it,
                reward: log.reward,
                groups_sampled: log.groups.len(),
                groups_dropped: log.groups_dropped,
                frac_small_std: log.frac_small_std,
                frac_reward_zero_std: log.groups.iter().filter(|g| g.1.std == 0.0).count() as f64
                    / groups,
                kl: log.kl,
                entropy: log.entropy,
                grad_norm: log.grad_norm,
            });
            self.bar.inc(1);
            let model = trainer.policy.valid();
            if let Some(m) = self.track_due(&model, phase, it, out, &mut track_time)? {
                after = Some(m);
            }
        }
        let mut row = self.timing(phase, start, self.n_iters, 0);
        row.seconds -= track_time;
        self.close_phase(phase, row, &before, after, out);
        Ok(trainer.policy)
    }

    /// The phase's timing row (tracking excluded), Figure 2's rows (each input before and after
    /// the phase) and the phase's log line.
    fn close_phase(
        &self,
        phase: &str,
        timing: PhaseTimingRow,
        before: &[InputRewards],
        after: Option<Vec<InputRewards>>,
        out: &mut Outcome,
    ) {
        out.timing.push(timing);
        let after = after.expect("the last iteration is tracked");
        for (i, (b, a)) in before.iter().zip(&after).enumerate() {
            out.inputs.push(InputChangeRow {
                task: self.cfg.task.clone(),
                label: self.label(),
                phase: phase.into(),
                position: i,
                index: self.pool_index[i],
                mean_before: b.stats.mean,
                std_before: b.stats.std,
                mean_after: a.stats.mean,
                std_after: a.stats.std,
            });
        }
        let last = out.track.last().expect("tracked before closing");
        let n = before.len().max(1) as f64;
        self.env.observer.log(&format!(
            "{} {phase}: {} iterations; pool reward {:.4} -> {:.4}, small-std fraction {:.3} -> {:.3}",
            self.cfg.task,
            self.n_iters,
            before.iter().map(|m| m.stats.mean).sum::<f64>() / n,
            last.reward,
            before
                .iter()
                .filter(|m| m.stats.std < self.cfg.small_std)
                .count() as f64
                / n,
            last.frac_small_std,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_causal_prompt_and_generation_longer_than_the_positions_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), r#"{"n_positions": 256}"#).unwrap();
        let plan = training(TaskName::DailyDialog, Training::Ppo, &[]).unwrap();
        let ppo = ppo_config(&plan, false).unwrap();
        let tokens = Tokens {
            eos: Some(0),
            pad: 0,
        };
        let decoding = Decoding::of(&plan, false, tokens).unwrap();
        assert!(check_positions(dir.path(), 128, &ppo, &decoding).is_ok());
        let err = check_positions(dir.path(), 256, &ppo, &decoding)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("256 positions") && err.contains("max_prompt_length"),
            "{err}"
        );
    }
}
