//! A tiny causal LM (GPT-2) and a tiny encoder-decoder (T5) learn to reverse 3-letter strings with
//! PPO from a short SFT start; a checkpoint resumes with an identical continuation for both; a NaN
//! reward stops the run clearly.

mod common;

use common::*;
use model::{GPT2LMHeadModel, T5ForConditionalGeneration};
use rewards::{Reward, Sample};
use trainers::TrainError;
use trainers::lm::{GenerationKwargs, TaskReward, evaluate_greedy};
use trainers::optim::OptimConfig;
use trainers::policy::TrainablePolicy;
use trainers::ppo::{
    AlgConfig, EnvArgs, EnvConfig, KlDiv, PolicyArgs, PolicyConfig, PpoArgs, PpoConfig, PpoLog,
    PpoTrainer,
};
use trainers::sft::{SftConfig, train_sft};
use trainers::synthetic::ReverseTask;

const TASK: ReverseTask = ReverseTask {
    alphabet: 3,
    length: 3,
};

fn rouge_l() -> TaskReward {
    let args: serde_yaml::Value = serde_yaml::from_str("{rouge_type: rougeL}").unwrap();
    TASK.reward("rouge", &args).unwrap()
}

fn config() -> PpoConfig {
    PpoConfig {
        env: EnvConfig {
            n_envs: 16,
            args: EnvArgs {
                max_episode_length: 4,
                terminate_on_eos: true,
            },
        },
        alg: AlgConfig {
            args: PpoArgs {
                n_steps: 8,
                batch_size: 64,
                n_epochs: 4,
                learning_rate: 1e-3,
                gamma: 0.99,
                gae_lambda: 0.95,
                clip_range: 0.2,
                ent_coef: 0.0,
                vf_coef: 0.5,
                max_grad_norm: 0.5,
                target_kl: None,
                normalize_advantage: true,
            },
            kl_div: KlDiv {
                coeff: 0.001,
                target_kl: Some(0.5),
            },
            policy: PolicyConfig {
                args: PolicyArgs {
                    generation_kwargs: GenerationKwargs {
                        do_sample: true,
                        temperature: 1.0,
                        top_k: None,
                        top_p: None,
                        min_new_tokens: 0,
                        max_new_tokens: 4,
                    },
                },
            },
        },
    }
}

/// `steps` SFT steps of the task's GPT-2 (2 layers, width 32, 4 heads) initialised from `seed`.
fn sft_start_seeded(steps: usize, seed: u64) -> GPT2LMHeadModel<B> {
    let model = TASK.model::<B>(2, 32, 4, seed, &device()).unwrap();
    sft(model, steps, 3e-3)
}

fn sft_start(steps: usize) -> GPT2LMHeadModel<B> {
    sft_start_seeded(steps, 3)
}

/// `steps` SFT steps of the task's T5 (2 + 2 layers, width 32, 4 heads) initialised from `seed`.
fn t5_sft_start(steps: usize, seed: u64) -> T5ForConditionalGeneration<B> {
    let model = TASK.t5_model::<B>(2, 32, 4, seed, &device()).unwrap();
    sft(model, steps, 3e-3)
}

fn sft<P: TrainablePolicy<B>>(model: P, steps: usize, lr: f64) -> P {
    let sft = SftConfig {
        optim: OptimConfig::adam(lr),
        max_steps: steps,
        batch_size: 9,
        frac_train_samples: 1.0,
        seed: 0,
    };
    train_sft(model, &TASK.examples(), TASK.tokens().pad, &sft, |_| {}).unwrap()
}

#[test]
fn ppo_learns_to_reverse_from_a_short_sft_start() {
    ppo_learns(sft_start(25), config(), 25, "gpt2");
}

#[test]
fn t5_ppo_learns_to_reverse_from_a_short_sft_start() {
    ppo_learns(
        t5_sft_start(T5_SFT_STEPS, 3),
        config(),
        T5_PPO_ITERATIONS,
        "t5",
    );
}

/// The T5 learns the task faster under SFT (25 steps already give greedy ROUGE-L 0.74), so it
/// starts from 5 steps (0.47) and gets 40 PPO iterations with the GPT-2 run's PPO settings
/// (measured: greedy 0.47 -> 0.79, sampled 0.41 -> 0.75, ~5 s).
const T5_SFT_STEPS: usize = 5;
const T5_PPO_ITERATIONS: usize = 40;

/// Greedy reward and sampled reward both go up clearly over `iterations` PPO iterations.
fn ppo_learns<P: TrainablePolicy<B>>(start: P, config: PpoConfig, iterations: usize, name: &str) {
    let examples = TASK.examples();
    let reward = rouge_l();
    let (r0, _) = evaluate_greedy(&start.valid(), &examples, &reward, TASK.tokens(), 4);
    let mut t = PpoTrainer::new(start, config, TASK.tokens(), 0).unwrap();
    let t0 = std::time::Instant::now();
    let mut logs = Vec::new();
    for _ in 0..iterations {
        logs.push(t.train_iteration(&examples, &reward).unwrap());
    }
    let secs = t0.elapsed().as_secs_f64();
    let (r1, _) = evaluate_greedy(
        &t.model.policy.valid(),
        &examples,
        &reward,
        TASK.tokens(),
        4,
    );
    eprintln!(
        "{name}: greedy ROUGE-L {r0:.3} -> {r1:.3}; sampled reward {:.3} -> {:.3}; {:.2} PPO iterations/s",
        logs[0].reward,
        logs.last().unwrap().reward,
        iterations as f64 / secs
    );
    for l in logs.iter().step_by(5) {
        eprintln!(
            "  it {} reward {:.3} kl {:.3} beta {:.5} ent {:.3} vloss {:.4} clip {:.3}",
            l.iteration, l.reward, l.kl, l.kl_coeff, l.entropy, l.value_loss, l.clip_fraction
        );
    }
    assert!(r1 > r0 + 0.15, "greedy reward {r0} -> {r1}");
    assert!(logs.last().unwrap().reward > logs[0].reward + 0.15);
}

fn run<P: TrainablePolicy<B>>(t: &mut PpoTrainer<B, P>, n: usize) -> Vec<PpoLog> {
    let examples = TASK.examples();
    let reward = rouge_l();
    (0..n)
        .map(|_| t.train_iteration(&examples, &reward).unwrap())
        .collect()
}

#[test]
fn checkpoint_resumes_with_an_identical_continuation() {
    resumes_identically(sft_start_seeded);
}

#[test]
fn t5_checkpoint_resumes_with_an_identical_continuation() {
    resumes_identically(t5_sft_start);
}

/// Two iterations, a checkpoint, two more; a trainer built from another random model (seed 77)
/// and loaded from the checkpoint continues identically. `start(sft_steps, init_seed)`.
fn resumes_identically<P: TrainablePolicy<B>>(start: impl Fn(usize, u64) -> P) {
    let dir = tempfile::tempdir().unwrap();
    let mut a = PpoTrainer::new(start(5, 3), config(), TASK.tokens(), 9).unwrap();
    run(&mut a, 2);
    a.save_checkpoint(dir.path().join("ckpt")).unwrap();
    let continued = run(&mut a, 2);

    // A trainer built from another random model, then loaded.
    let b = PpoTrainer::new(start(0, 77), config(), TASK.tokens(), 0).unwrap();
    let mut b = b.load_checkpoint(dir.path().join("ckpt")).unwrap();
    assert_eq!(b.iteration, 2);
    let resumed = run(&mut b, 2);
    assert_eq!(
        continued, resumed,
        "resumed run differs from the uninterrupted one"
    );
    // Not vacuous: the model moved, so a run from the start would differ.
    let mut fresh = PpoTrainer::new(start(0, 77), config(), TASK.tokens(), 9).unwrap();
    assert_ne!(run(&mut fresh, 2), continued);

    // A corrupt checkpoint is an error that names the file, not a panic.
    std::fs::write(dir.path().join("ckpt/model.mpk"), b"not a record").unwrap();
    let c = PpoTrainer::new(start(0, 3), config(), TASK.tokens(), 0).unwrap();
    let e = c.load_checkpoint(dir.path().join("ckpt")).err().unwrap();
    assert!(e.to_string().contains("model.mpk"), "{e}");
    let missing = PpoTrainer::new(start(0, 3), config(), TASK.tokens(), 0).unwrap();
    let e = missing
        .load_checkpoint(dir.path().join("nope"))
        .err()
        .unwrap();
    assert!(e.to_string().contains("state.json"), "{e}");
}

struct NanReward;

impl Reward for NanReward {
    fn id(&self) -> &str {
        "nan"
    }
    fn score(&self, _: &Sample) -> f64 {
        f64::NAN
    }
}

#[test]
fn nan_reward_stops_with_a_clear_error() {
    let reward = TaskReward {
        reward: Box::new(NanReward),
        decode: Box::new(|ids: &[u32]| ReverseTask::decode(ids)),
    };
    let mut t = PpoTrainer::new(sft_start(0), config(), TASK.tokens(), 0).unwrap();
    let e = t.train_iteration(&TASK.examples(), &reward).unwrap_err();
    assert!(
        matches!(
            e,
            TrainError::NonFinite {
                step: 0,
                quantity: "task reward",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("non-finite task reward"));
}

#[test]
fn a_nan_value_estimate_stops_the_run_naming_step_and_quantity() {
    let mut t = PpoTrainer::new(sft_start(0), config(), TASK.tokens(), 0).unwrap();
    let device = t.model.value_head.bias.val().device();
    t.model.value_head.bias =
        burn::module::Param::from_tensor(burn::tensor::Tensor::from_floats([f32::NAN], &device));
    let e = t.train_iteration(&TASK.examples(), &rouge_l()).unwrap_err();
    assert!(
        matches!(
            e,
            TrainError::NonFinite {
                step: 0,
                quantity: "value estimate",
                ..
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("non-finite value estimate (NaN) at step 0"),
        "{e}"
    );
}
