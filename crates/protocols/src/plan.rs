//! RL4LMs plans ([`rl4lms::Plan`]) onto this project's trainers, with RL4LMs' and Hugging Face's
//! defaults where a file is silent:
//!
//! | RL4LMs | here |
//! |---|---|
//! | `env.n_envs`, `env.args.max_episode_length`, `terminate_on_eos` | [`PpoConfig::env`] |
//! | `alg.args` (stable-baselines3 PPO), `alg.kl_div` | [`PpoConfig::alg`] |
//! | `alg.policy.args.generation_kwargs` (rollouts; `max_new_tokens` defaults to the episode length) | [`PolicyArgs`] |
//! | `alg.training_args` (HF `TrainingArguments`: batch 8, 3 epochs, lr 5e-5, linear schedule, clip 1.0) | [`SftConfig`] |
//! | `datapool.frac_train_samples` (`-1`: all) | [`SftConfig::frac_train_samples`] |
//! | `train_evaluation.generation_kwargs` (beam search when `num_beams > 1`) | [`Decoding`] |

use crate::grue::generation_kwargs;
use anyhow::{Result, anyhow, bail};
use burn::tensor::backend::Backend;
use grue::spec::GenKwargs;
use model::{BeamConfig, EarlyStopping};
use rl4lms::Plan;
use rl4lms::config::GenerationKwargs as FileKwargs;
use trainers::lm::{GenerationKwargs, Tokens};
use trainers::optim::{OptimConfig, Schedule};
use trainers::policy::Policy;
use trainers::ppo::{
    AlgConfig, EnvArgs, EnvConfig, KlDiv, PolicyArgs, PolicyConfig, PpoArgs, PpoConfig,
};
use trainers::sft::SftConfig;

/// A file's `generate` kwargs as the GRUE tasks' [`GenKwargs`]; kwargs we cannot honour are an
/// error naming them.
pub fn file_kwargs(g: &FileKwargs, what: &str) -> Result<GenKwargs> {
    let unsupported = [
        ("max_length", g.max_length.is_some()),
        ("repetition_penalty", g.repetition_penalty.is_some()),
        ("no_repeat_ngram_size", g.no_repeat_ngram_size.is_some()),
        (
            "num_return_sequences",
            g.num_return_sequences.is_some_and(|n| n != 1),
        ),
        ("top_p", g.top_p.is_some()),
    ];
    if let Some((name, _)) = unsupported.iter().find(|(_, set)| *set) {
        bail!("{what}.{name} is not supported here; remove it (or use max_new_tokens / top_k)");
    }
    Ok(GenKwargs {
        do_sample: g.do_sample,
        top_k: g.top_k.map(|k| k as u32),
        temperature: g.temperature,
        min_length: g.min_length.map(|m| m as usize),
        max_new_tokens: g.max_new_tokens.map(|m| m as usize),
        num_beams: g.num_beams.map(|n| n as usize),
        length_penalty: g.length_penalty,
    })
}

/// The PPO run of an RL plan (`alg.id: ppo`).
pub fn ppo_config(plan: &Plan, seq2seq: bool) -> Result<PpoConfig> {
    plan.check_runnable()
        .map_err(|e| anyhow!("{}: {e}", plan.source))?;
    let c = &plan.config;
    let need = |what: &str| anyhow!("{}: a ppo config needs {what}", plan.source);
    let env = c.env.as_ref().ok_or_else(|| need("env"))?;
    let max_episode_length = env
        .args
        .as_ref()
        .and_then(|a| a.max_episode_length)
        .ok_or_else(|| need("env.args.max_episode_length"))? as usize;
    let a = c.alg.args.as_ref().ok_or_else(|| need("alg.args"))?;
    let kl = c.alg.kl_div.as_ref().ok_or_else(|| need("alg.kl_div"))?;
    let policy = c.alg.policy.as_ref().ok_or_else(|| need("alg.policy"))?;
    if a.clip_range_vf.is_some() {
        bail!(
            "{}: alg.args.clip_range_vf is not supported here; remove it",
            plan.source
        );
    }
    let rollout = match &policy.args.generation_kwargs {
        Some(g) => file_kwargs(g, "alg.policy.args.generation_kwargs")?,
        None => GenKwargs::default(),
    };
    let mut kwargs = generation_kwargs(&rollout, seq2seq);
    // Rollouts always sample (RL4LMs' policies call generate with do_sample from the file, and
    // every published file sets it); episodes run to `max_episode_length` unless the file caps them.
    kwargs.do_sample = rollout.do_sample.unwrap_or(true);
    kwargs.max_new_tokens = rollout.max_new_tokens.unwrap_or(max_episode_length);
    let sb3 = PpoArgs {
        n_steps: a.n_steps.ok_or_else(|| need("alg.args.n_steps"))? as usize,
        batch_size: a.batch_size.ok_or_else(|| need("alg.args.batch_size"))? as usize,
        n_epochs: a.n_epochs.ok_or_else(|| need("alg.args.n_epochs"))? as usize,
        learning_rate: a
            .learning_rate
            .ok_or_else(|| need("alg.args.learning_rate"))?,
        gamma: a.gamma.unwrap_or(0.99),
        gae_lambda: a.gae_lambda.unwrap_or(0.95),
        clip_range: a.clip_range.unwrap_or(0.2),
        ent_coef: a.ent_coef.unwrap_or(0.0),
        vf_coef: a.vf_coef.unwrap_or(0.5),
        max_grad_norm: a.max_grad_norm.unwrap_or(0.5),
        target_kl: a.target_kl,
        normalize_advantage: a.normalize_advantage.unwrap_or(true),
    };
    let config = PpoConfig {
        env: EnvConfig {
            n_envs: env.n_envs as usize,
            args: EnvArgs {
                max_episode_length,
                terminate_on_eos: env
                    .args
                    .as_ref()
                    .and_then(|a| a.terminate_on_eos)
                    .unwrap_or(false),
            },
        },
        alg: AlgConfig {
            args: sb3,
            kl_div: KlDiv {
                coeff: kl.coeff,
                target_kl: kl.target_kl,
            },
            policy: PolicyConfig {
                args: PolicyArgs {
                    generation_kwargs: kwargs,
                },
            },
        },
    };
    config
        .validate()
        .map_err(|e| anyhow!("{}: {e}", plan.source))?;
    Ok(config)
}

/// The SFT run of a supervised plan on a pool of `pool` labelled examples.
pub fn sft_config(plan: &Plan, pool: usize, seed: u64) -> Result<SftConfig> {
    let t = plan.config.alg.training_args.as_ref().ok_or_else(|| {
        anyhow!(
            "{}: a supervised config needs alg.training_args",
            plan.source
        )
    })?;
    let batch = t.per_device_train_batch_size.unwrap_or(8) as usize
        * t.gradient_accumulation_steps.unwrap_or(1).max(1) as usize;
    let frac = plan
        .config
        .datapool
        .frac_train_samples
        .filter(|f| *f > 0.0)
        .unwrap_or(1.0);
    let subset = trainers::sft::train_subset(pool, frac, seed).len();
    let steps = match t.max_steps {
        Some(s) if s > 0 => s as usize,
        _ => {
            let epochs = t.num_train_epochs.unwrap_or(3.0);
            (epochs * subset.div_ceil(batch.max(1)) as f64).ceil() as usize
        }
    };
    let schedule = match t.lr_scheduler_type.as_deref().unwrap_or("linear") {
        "constant" => Schedule::Constant,
        "linear" => Schedule::WarmupLinear {
            warmup_steps: t.warmup_steps.unwrap_or(0) as usize,
            total_steps: steps,
        },
        "cosine" => Schedule::WarmupCosine {
            warmup_steps: t.warmup_steps.unwrap_or(0) as usize,
            total_steps: steps,
        },
        // HF: warm-up, then constant (no warm-up steps set in the files: constant).
        "constant_with_warmup" if t.warmup_steps.unwrap_or(0) == 0 => Schedule::Constant,
        other => bail!(
            "{}: alg.training_args.lr_scheduler_type {other:?} is not supported (constant, linear, \
             cosine, constant_with_warmup without warmup_steps)",
            plan.source
        ),
    };
    let config = SftConfig {
        optim: OptimConfig {
            weight_decay: t.weight_decay.unwrap_or(0.0),
            schedule,
            max_grad_norm: Some(1.0),
            ..OptimConfig::adam(t.learning_rate.unwrap_or(5e-5))
        },
        max_steps: steps,
        batch_size: batch,
        frac_train_samples: frac,
        seed,
    };
    config
        .validate()
        .map_err(|e| anyhow!("{}: {e}", plan.source))?;
    Ok(config)
}

/// How a plan's evaluation decodes (`train_evaluation.generation_kwargs`).
#[derive(Debug, Clone, PartialEq)]
pub enum Decoding {
    /// Greedy (`do_sample` false) or sampling.
    Generate(GenerationKwargs),
    Beam(BeamConfig),
}

impl Decoding {
    pub fn of(plan: &Plan, seq2seq: bool, tokens: Tokens) -> Result<Self> {
        let g = match plan.evaluation().and_then(|e| e.generation_kwargs.as_ref()) {
            Some(g) => file_kwargs(g, "train_evaluation.generation_kwargs")?,
            None => GenKwargs::default(),
        };
        let kwargs = generation_kwargs(&g, seq2seq);
        match g.num_beams {
            Some(n) if n > 1 => {
                if kwargs.do_sample {
                    bail!(
                        "{}: beam sampling (num_beams > 1 with do_sample) is not supported",
                        plan.source
                    );
                }
                Ok(Decoding::Beam(BeamConfig {
                    num_beams: n,
                    max_new_tokens: kwargs.max_new_tokens,
                    min_new_tokens: kwargs.min_new_tokens,
                    length_penalty: g.length_penalty.unwrap_or(1.0),
                    early_stopping: EarlyStopping::Heuristic,
                    eos_token_id: tokens.eos,
                    pad_token_id: tokens.pad,
                    use_cache: true,
                }))
            }
            _ => Ok(Decoding::Generate(kwargs)),
        }
    }

    /// One output per prompt; `seed` seeds sampling.
    pub fn decode<B: Backend, P: Policy<B>>(
        &self,
        policy: &P,
        prompts: &[Vec<u32>],
        tokens: Tokens,
        seed: u64,
    ) -> Vec<Vec<u32>> {
        match self {
            Decoding::Generate(k) => {
                policy
                    .generate(prompts, &k.sampling(tokens.eos, tokens.pad, seed))
                    .tokens
            }
            Decoding::Beam(b) => policy.beam_search(prompts, b).tokens,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use grue::TaskName;
    use rl4lms::Override;
    use rl4lms::ml_rlgrad::{Training, training};

    fn set(s: &str) -> Override {
        Override::parse(s).unwrap()
    }

    #[test]
    fn narrativeqa_ppo_maps_onto_the_trainer_as_the_file_says() {
        let plan = training(TaskName::NarrativeQa, Training::Ppo, &[]).unwrap();
        let c = ppo_config(&plan, true).unwrap();
        assert_eq!((c.env.n_envs, c.env.args.max_episode_length), (10, 50));
        let a = &c.alg.args;
        assert_eq!((a.n_steps, a.batch_size, a.n_epochs), (256, 64, 5));
        assert_eq!(a.learning_rate, 2e-6);
        assert_eq!(
            (c.alg.kl_div.coeff, c.alg.kl_div.target_kl),
            (0.001, Some(1.0))
        );
        let g = &c.alg.policy.args.generation_kwargs;
        assert!(g.do_sample);
        assert_eq!((g.top_k, g.max_new_tokens), (Some(50), 50));
        let tokens = Tokens {
            eos: Some(1),
            pad: 0,
        };
        match Decoding::of(&plan, true, tokens).unwrap() {
            Decoding::Beam(b) => assert_eq!((b.num_beams, b.max_new_tokens), (4, 50)),
            other => panic!("NarrativeQA evaluates with beam search, got {other:?}"),
        }
    }

    #[test]
    fn supervised_steps_come_from_epochs_unless_max_steps_is_set() {
        let plan = training(TaskName::CommonGen, Training::Supervised, &[]).unwrap();
        let c = sft_config(&plan, 100, 0).unwrap();
        // 4 epochs of ceil(100 / 8) batches, lr 1e-5 on a cosine schedule, weight decay 0.01.
        assert_eq!((c.batch_size, c.max_steps), (8, 52));
        assert_eq!(
            c.optim.schedule,
            Schedule::WarmupCosine {
                warmup_steps: 0,
                total_steps: 52
            }
        );
        assert_eq!((c.optim.learning_rate, c.optim.weight_decay), (1e-5, 0.01));
        let partial = training(
            TaskName::CommonGen,
            Training::Supervised,
            &[
                set("alg.training_args.max_steps=5"),
                set("datapool.frac_train_samples=0.1"),
            ],
        )
        .unwrap();
        let c = sft_config(&partial, 100, 0).unwrap();
        assert_eq!((c.max_steps, c.frac_train_samples), (5, 0.1));
    }

    #[test]
    fn a_sampling_evaluation_stays_sampling_and_an_unsupported_kwarg_is_named() {
        let plan = training(TaskName::CnnDailyMail, Training::Ppo, &[]).unwrap();
        let tokens = Tokens {
            eos: Some(1),
            pad: 0,
        };
        match Decoding::of(&plan, true, tokens).unwrap() {
            Decoding::Generate(k) => {
                assert!(k.do_sample);
                assert_eq!((k.temperature, k.top_k, k.min_new_tokens), (0.7, None, 49));
            }
            other => panic!("{other:?}"),
        }
        let bad = training(
            TaskName::CnnDailyMail,
            Training::Ppo,
            &[set("alg.policy.args.generation_kwargs.top_p=0.9")],
        )
        .unwrap();
        let err = ppo_config(&bad, true).unwrap_err().to_string();
        assert!(
            err.contains("top_p") && err.contains("not supported"),
            "{err}"
        );
    }
}
