//! `rft_synthetic`: RFT of a tiny causal LM on a synthetic generation task (reverse a string),
//! from a short SFT start, with the paper's diagnostics: reward, KL, and the per-input reward std
//! under the model over training, split by each input's initial std.
//!
//! data (all strings over the alphabet) -> model (tiny GPT-2) -> SFT -> PPO / GRPO / ... ->
//! tables `steps`, `inputs`, `summary` -> figures and a table in `results/synthetic/`.

use super::{Experiment, SweepResults, Tables};
use crate::store::{RunContext, cols};
use anyhow::{Context, Result, bail};
use burn::module::AutodiffModule;
use burn::tensor::backend::{AutodiffBackend, Backend};
use model::{BackendTask, DeviceKind, GPT2LMHeadModel};
use plotting::*;
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;
use trainers::diagnostics::{RewardStats, fraction_below, sampled_reward_stats};
use trainers::lm::{TaskReward, evaluate_greedy, step_seed};
use trainers::optim::OptimConfig;
use trainers::pg::{Estimator, PgConfig, PgTrainer};
use trainers::ppo::{PpoConfig, PpoTrainer};
use trainers::sft::{SftConfig, train_sft};
use trainers::synthetic::ReverseTask;

/// Serialises seeding and initialisation of the backend's global RNG across concurrent runs.
static INIT_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Which RFT algorithm runs after SFT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// PPO as RL4LMs runs it (the paper's RFT), configured by `ppo`.
    Ppo,
    Grpo,
    DrGrpo,
    Rloo,
    Reinforce,
}

impl Algorithm {
    fn name(self) -> &'static str {
        match self {
            Algorithm::Ppo => "ppo",
            Algorithm::Grpo => "grpo",
            Algorithm::DrGrpo => "dr_grpo",
            Algorithm::Rloo => "rloo",
            Algorithm::Reinforce => "reinforce",
        }
    }
}

crate::sweep_config! {
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
    fn task(&self) -> ReverseTask {
        ReverseTask {
            alphabet: self.alphabet,
            length: self.length,
        }
    }

    fn task_reward(&self) -> Result<TaskReward> {
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
}

/// One row of the `inputs` table.
struct InputRow {
    iteration: usize,
    input: usize,
    stats: RewardStats,
}

impl Experiment for SyntheticConfig {
    const KIND: &'static str = "rft_synthetic";

    fn validate(&self) -> Result<()> {
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

    fn run(&self, seed: u64, ctx: &RunContext) -> Result<Tables> {
        model::run_on(
            self.device,
            Run {
                cfg: self,
                seed,
                ctx,
            },
        )?
    }

    fn report(sweeps: &[SweepResults], dir: &Path) -> Result<Vec<PathBuf>> {
        report(sweeps, dir)
    }
}

/// One run (config, seed), written once over any backend; [`model::run_on`] picks it.
struct Run<'a> {
    cfg: &'a SyntheticConfig,
    seed: u64,
    ctx: &'a RunContext,
}

impl BackendTask for Run<'_> {
    type Output = Result<Tables>;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<Tables> {
        let (cfg, seed, ctx) = (self.cfg, self.seed, self.ctx);
        let task = cfg.task();
        let examples = task.examples();
        let reward = cfg.task_reward()?;
        let tokens = task.tokens();
        // The backend's RNG is process-global and `--jobs` runs share the process: seed and
        // initialise under one lock, so the initial weights depend on the seed alone.
        let model = {
            let _guard = INIT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
            <B as Backend>::seed(&device, seed);
            task.model::<B>(cfg.n_layer, cfg.n_embd, cfg.n_head, &device)?
        };
        let max_new = cfg.ppo.alg.policy.args.generation_kwargs.max_new_tokens;

        let sft = SftConfig {
            optim: OptimConfig::adam(cfg.sft_learning_rate),
            max_steps: cfg.sft_steps,
            batch_size: examples.len(),
            frac_train_samples: 1.0,
            seed,
        };
        let mut sft_loss = f64::NAN;
        let model = train_sft(model, &examples, tokens.pad, &sft, |l| sft_loss = l.loss)?;
        ctx.log(format!(
            "SFT: {} steps, last loss {sft_loss:.4}",
            cfg.sft_steps
        ));

        let diag = |m: &GPT2LMHeadModel<B>, it: usize| -> Vec<RewardStats> {
            let sampling = cfg.ppo.alg.policy.args.generation_kwargs.sampling(
                tokens.eos,
                tokens.pad,
                step_seed(seed, 99, it as u64),
            );
            sampled_reward_stats(&m.valid(), &examples, &reward, cfg.diag_samples, &sampling)
        };
        let mut inputs: Vec<InputRow> = Vec::new();
        let record = |m: &GPT2LMHeadModel<B>, it: usize, inputs: &mut Vec<InputRow>| {
            for (input, stats) in diag(m, it).into_iter().enumerate() {
                inputs.push(InputRow {
                    iteration: it,
                    input,
                    stats,
                });
            }
        };
        let (greedy0, _) = evaluate_greedy(&model.valid(), &examples, &reward, tokens, max_new);
        record(&model, 0, &mut inputs);

        let mut steps: Vec<StepRow> = Vec::new();
        let t0 = Instant::now();
        let final_model = match cfg.algorithm {
            Algorithm::Ppo => {
                let mut t = PpoTrainer::new(model, cfg.ppo.clone(), tokens, seed)?;
                for it in 0..cfg.iterations {
                    let l = t.train_iteration(&examples, &reward)?;
                    steps.push(StepRow {
                        iteration: it,
                        reward: l.reward,
                        kl: l.kl,
                        kl_coeff: l.kl_coeff,
                        entropy: l.entropy,
                        value_loss: l.value_loss,
                        clip_fraction: l.clip_fraction,
                        grad_norm: l.grad_norm,
                        learning_rate: l.learning_rate,
                        samples: l.episodes,
                    });
                    if (it + 1).is_multiple_of(cfg.diag_every) {
                        record(&t.model.policy, it + 1, &mut inputs);
                    }
                }
                t.model.policy
            }
            other => {
                let estimator = match other {
                    Algorithm::Grpo => Estimator::Grpo,
                    Algorithm::DrGrpo => Estimator::DrGrpo,
                    Algorithm::Rloo => Estimator::Rloo,
                    _ => Estimator::ReinforceBaseline,
                };
                let mut t = PgTrainer::new(model, cfg.pg(estimator), tokens, seed)?;
                for it in 0..cfg.iterations {
                    let l = t.train_step(&examples, &reward)?;
                    steps.push(StepRow {
                        iteration: it,
                        reward: l.reward,
                        kl: l.kl,
                        kl_coeff: cfg.ppo.alg.kl_div.coeff,
                        entropy: l.entropy,
                        value_loss: f64::NAN,
                        clip_fraction: l.clip_fraction,
                        grad_norm: l.grad_norm,
                        learning_rate: l.learning_rate,
                        samples: cfg.ppo.env.n_envs * cfg.group_size,
                    });
                    if (it + 1).is_multiple_of(cfg.diag_every) {
                        record(&t.policy, it + 1, &mut inputs);
                    }
                }
                t.policy
            }
        };
        let secs = t0.elapsed().as_secs_f64();
        let (greedy1, _) =
            evaluate_greedy(&final_model.valid(), &examples, &reward, tokens, max_new);
        if !cfg.iterations.is_multiple_of(cfg.diag_every) {
            record(&final_model, cfg.iterations, &mut inputs);
        }
        let per_sec = cfg.iterations as f64 / secs.max(1e-9);
        ctx.log(format!(
            "{}: greedy reward {greedy0:.4} -> {greedy1:.4}; {per_sec:.2} iterations/s",
            cfg.algorithm.name()
        ));

        let first: Vec<RewardStats> = inputs
            .iter()
            .filter(|r| r.iteration == 0)
            .map(|r| r.stats)
            .collect();
        let last_it = inputs.iter().map(|r| r.iteration).max().unwrap_or(0);
        let last: Vec<RewardStats> = inputs
            .iter()
            .filter(|r| r.iteration == last_it)
            .map(|r| r.stats)
            .collect();
        let algo = cfg.algorithm.name();
        let n = steps.len();
        let steps_df = df!(
            "algorithm" => vec![algo; n],
            "iteration" => steps.iter().map(|s| s.iteration as i64).collect::<Vec<_>>(),
            "reward" => steps.iter().map(|s| s.reward).collect::<Vec<_>>(),
            "kl" => steps.iter().map(|s| s.kl).collect::<Vec<_>>(),
            "kl_coeff" => steps.iter().map(|s| s.kl_coeff).collect::<Vec<_>>(),
            "entropy" => steps.iter().map(|s| s.entropy).collect::<Vec<_>>(),
            "value_loss" => steps.iter().map(|s| s.value_loss).collect::<Vec<_>>(),
            "clip_fraction" => steps.iter().map(|s| s.clip_fraction).collect::<Vec<_>>(),
            "grad_norm" => steps.iter().map(|s| s.grad_norm).collect::<Vec<_>>(),
            "learning_rate" => steps.iter().map(|s| s.learning_rate).collect::<Vec<_>>(),
            "samples" => steps.iter().map(|s| s.samples as i64).collect::<Vec<_>>(),
        )?;
        let init_std: Vec<f64> = inputs.iter().map(|r| first[r.input].std).collect();
        let init_mean: Vec<f64> = inputs.iter().map(|r| first[r.input].mean).collect();
        let m = inputs.len();
        let inputs_df = df!(
            "algorithm" => vec![algo; m],
            "iteration" => inputs.iter().map(|r| r.iteration as i64).collect::<Vec<_>>(),
            "input" => inputs.iter().map(|r| r.input as i64).collect::<Vec<_>>(),
            "reward_mean" => inputs.iter().map(|r| r.stats.mean).collect::<Vec<_>>(),
            "reward_std" => inputs.iter().map(|r| r.stats.std).collect::<Vec<_>>(),
            "initial_reward_mean" => init_mean,
            "initial_reward_std" => init_std,
        )?;
        let summary = df!(
            "algorithm" => [algo],
            "greedy_reward_initial" => [greedy0],
            "greedy_reward_final" => [greedy1],
            "frac_small_std_initial" => [fraction_below(&first, cfg.std_threshold)],
            "frac_small_std_final" => [fraction_below(&last, cfg.std_threshold)],
            "iterations_per_second" => [per_sec],
            "sft_final_loss" => [sft_loss],
        )?;
        Ok(vec![
            ("steps".into(), steps_df),
            ("inputs".into(), inputs_df),
            ("summary".into(), summary),
        ])
    }
}

struct StepRow {
    iteration: usize,
    reward: f64,
    kl: f64,
    kl_coeff: f64,
    entropy: f64,
    value_loss: f64,
    clip_fraction: f64,
    grad_norm: f64,
    learning_rate: f64,
    samples: usize,
}

/// A curve per seed, keyed by label: x values and y values.
type Curves = BTreeMap<String, BTreeMap<u64, (Vec<f64>, Vec<f64>)>>;

fn series(curves: &Curves) -> Vec<LineSeries> {
    curves
        .iter()
        .filter_map(|(label, runs)| {
            let x = runs.values().next()?.0.clone();
            let runs = runs
                .values()
                .filter(|(rx, _)| rx.len() == x.len())
                .map(|(_, y)| y.clone())
                .collect();
            Some(LineSeries {
                label: label.clone(),
                x,
                runs,
            })
        })
        .collect()
}

fn report(sweeps: &[SweepResults], dir: &Path) -> Result<Vec<PathBuf>> {
    let mut reward: Curves = BTreeMap::new();
    let mut small: Curves = BTreeMap::new();
    let mut by_group: Curves = BTreeMap::new();
    let mut table = Table::new(
        "RFT of a tiny GPT-2 on reversing strings, after a short SFT phase: greedy reward before and after RFT, \
         and the fraction of inputs whose reward std under the model (estimated from samples) is below the \
         threshold. Mean ± std over seeds.",
        &[
            "sweep",
            "algorithm",
            "SFT steps",
            "greedy reward before",
            "greedy reward after",
            "small-std inputs before",
            "small-std inputs after",
            "iterations/s",
        ],
    );
    for s in sweeps {
        let steps = s.table("steps")?;
        let inputs = s.table("inputs")?;
        let summary = s.table("summary")?;
        let label_of = |algos: &[String], sft: &[f64], i: usize| {
            format!("{} after {} SFT steps", algos[i].to_uppercase(), sft[i])
        };
        let (algos, sft, seeds) = (
            cols::strs(steps, "algorithm")?,
            cols::f64s(steps, "sft_steps").context("steps table lacks the sft_steps axis")?,
            cols::f64s(steps, "seed")?,
        );
        let (it, rw) = (
            cols::f64s(steps, "iteration")?,
            cols::f64s(steps, "reward")?,
        );
        for i in 0..steps.height() {
            let e = reward
                .entry(format!("{}: {}", s.name, label_of(&algos, &sft, i)))
                .or_default()
                .entry(seeds[i] as u64)
                .or_default();
            e.0.push(it[i]);
            e.1.push(rw[i]);
        }
        // Per iteration: fraction of small-std inputs, and mean reward of inputs that started
        // with a small std vs the rest.
        let (algos, sft, seeds) = (
            cols::strs(inputs, "algorithm")?,
            cols::f64s(inputs, "sft_steps")?,
            cols::f64s(inputs, "seed")?,
        );
        let (it, mean, std, std0) = (
            cols::f64s(inputs, "iteration")?,
            cols::f64s(inputs, "reward_mean")?,
            cols::f64s(inputs, "reward_std")?,
            cols::f64s(inputs, "initial_reward_std")?,
        );
        let threshold = 0.05;
        type Acc = BTreeMap<(String, u64, i64), [f64; 6]>;
        let mut acc: Acc = BTreeMap::new();
        for i in 0..inputs.height() {
            let key = (
                format!("{}: {}", s.name, label_of(&algos, &sft, i)),
                seeds[i] as u64,
                it[i] as i64,
            );
            let a = acc.entry(key).or_default();
            a[0] += 1.0;
            a[1] += f64::from(std[i] < threshold);
            if std0[i] < threshold {
                a[2] += mean[i];
                a[3] += 1.0;
            } else {
                a[4] += mean[i];
                a[5] += 1.0;
            }
        }
        for ((label, seed, iteration), a) in acc {
            let e = small
                .entry(label.clone())
                .or_default()
                .entry(seed)
                .or_default();
            e.0.push(iteration as f64);
            e.1.push(a[1] / a[0]);
            for (group, sum, count) in [("initial std < 0.05", a[2], a[3]), ("others", a[4], a[5])]
            {
                if count > 0.0 {
                    let e = by_group
                        .entry(format!("{label}, {group}"))
                        .or_default()
                        .entry(seed)
                        .or_default();
                    e.0.push(iteration as f64);
                    e.1.push(sum / count);
                }
            }
        }
        // Table rows.
        let (algos, sft) = (
            cols::strs(summary, "algorithm")?,
            cols::f64s(summary, "sft_steps")?,
        );
        let cols_of = |name: &str| cols::f64s(summary, name);
        let (g0, g1, f0, f1, ips) = (
            cols_of("greedy_reward_initial")?,
            cols_of("greedy_reward_final")?,
            cols_of("frac_small_std_initial")?,
            cols_of("frac_small_std_final")?,
            cols_of("iterations_per_second")?,
        );
        let mut groups: BTreeMap<(String, i64), Vec<usize>> = BTreeMap::new();
        for i in 0..summary.height() {
            groups
                .entry((algos[i].clone(), sft[i] as i64))
                .or_default()
                .push(i);
        }
        let ms = |v: &[f64], idx: &[usize]| {
            let xs: Vec<f64> = idx.iter().map(|&i| v[i]).collect();
            let m = xs.iter().sum::<f64>() / xs.len() as f64;
            let sd = (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / xs.len() as f64).sqrt();
            format!("{m:.3} ± {sd:.3}")
        };
        for ((algo, sft_steps), idx) in groups {
            table.push(vec![
                s.name.clone(),
                algo.to_uppercase(),
                sft_steps.to_string(),
                ms(&g0, &idx),
                ms(&g1, &idx),
                ms(&f0, &idx),
                ms(&f1, &idx),
                ms(&ips, &idx),
            ]);
        }
    }
    let fig = Figure::row(
        Some("RFT of a tiny GPT-2 on reversing strings: reward and reward std under the model"),
        vec![
            Panel::Lines(LinePanel {
                title: "mean sampled reward per iteration".into(),
                x: Axis::linear("RFT iteration"),
                y: Axis::linear("reward (ROUGE-L F)"),
                series: series(&reward),
                legend: Legend::LowerRight,
            }),
            Panel::Lines(LinePanel {
                title: "fraction of inputs with reward std < 0.05".into(),
                x: Axis::linear("RFT iteration"),
                y: Axis::linear("fraction of inputs").with_range(0.0, 1.0),
                series: series(&small),
                legend: Legend::UpperLeft,
            }),
            Panel::Lines(LinePanel {
                title: "mean reward by initial reward std".into(),
                x: Axis::linear("RFT iteration"),
                y: Axis::linear("reward under the model").with_range(0.0, 1.0),
                series: series(&by_group),
                legend: Legend::LowerRight,
            }),
        ],
    );
    let stem = dir.join("synthetic_rft");
    fig.save(&stem)?;
    let tstem = dir.join("synthetic_rft");
    table.save(&tstem)?;
    Ok(vec![stem.with_extension("png"), tstem.with_extension("md")])
}
