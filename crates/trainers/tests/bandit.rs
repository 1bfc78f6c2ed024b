//! A small bandit over an enumerable output space with a known optimum: one prompt, outputs are
//! the 9 sequences of 2 tokens over 3 letters, reward 1 for `b c` and 0 otherwise (SQuAD exact
//! match from the `rewards` crate). Exact-gradient RFT, PPO and GRPO must raise the exact expected
//! reward; and from a policy that is almost deterministic on a wrong output (tiny reward std), the
//! exact RFT update is tiny while SFT moves it: the paper's effect in a unit test.

#![allow(clippy::type_complexity)]

mod common;

use burn::tensor::ElementConversion;
use common::*;
use model::GPT2LMHeadModel;
use trainers::exact::{
    ExactRftConfig, KlTarget, all_sequences, exact_value, group_gradient_norm, train_exact_rft,
};
use trainers::lm::{Example, GenerationKwargs, TaskReward, Tokens, to_vec};
use trainers::optim::OptimConfig;
use trainers::pg::{Estimator, PgConfig, PgTrainer};
use trainers::ppo::{
    AlgConfig, EnvArgs, EnvConfig, KlDiv, PolicyArgs, PolicyConfig, PpoArgs, PpoConfig, PpoTrainer,
};
use trainers::sft::{SftConfig, sft_loss, train_sft};

const PAD: u32 = 0;
const BEST: [u32; 2] = [1, 2];

fn decode(ids: &[u32]) -> String {
    ids.iter()
        .map(|&t| char::from(b'a' + t as u8).to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

fn task() -> (Vec<Example>, TaskReward, Vec<Vec<u32>>, Vec<Vec<f64>>) {
    let example = Example {
        prompt_ids: vec![0],
        prompt: "a".into(),
        references: vec![decode(&BEST)],
        target_ids: BEST.to_vec(),
    };
    let reward = TaskReward {
        reward: rewards::build("exact_match", &serde_yaml::Value::Null).unwrap(),
        decode: Box::new(decode),
    };
    let outputs = all_sequences(3, 2);
    let refs = vec![&example];
    let r = outputs
        .iter()
        .map(|y| reward.score(&refs, std::slice::from_ref(y))[0])
        .collect();
    (vec![example.clone()], reward, outputs, vec![r])
}

/// Exact (V, reward std) of the bandit under `model`.
fn exact(model: &GPT2LMHeadModel<B>) -> (f64, f64) {
    let (ex, _, outputs, rewards) = task();
    let e = exact_value(
        &model.clone(),
        &[ex[0].prompt_ids.clone()],
        &outputs,
        &rewards,
        PAD,
    );
    (e.value.into_scalar().elem(), e.stats[0].std)
}

fn tokens() -> Tokens {
    Tokens {
        eos: None,
        pad: PAD,
    }
}

fn gen_kwargs() -> GenerationKwargs {
    GenerationKwargs {
        do_sample: true,
        temperature: 1.0,
        top_k: None,
        top_p: None,
        min_new_tokens: 0,
        max_new_tokens: 2,
    }
}

#[test]
fn rewards_of_the_bandit_have_one_optimum() {
    let (_, _, outputs, rewards) = task();
    assert_eq!(rewards[0].iter().sum::<f64>(), 1.0);
    assert_eq!(
        outputs[rewards[0].iter().position(|&r| r == 1.0).unwrap()],
        BEST
    );
}

#[test]
fn exact_rft_raises_the_expected_reward() {
    let model = tiny_gpt2(3, 21);
    let (v0, _) = exact(&model);
    let (ex, _, outputs, rewards) = task();
    let config = ExactRftConfig {
        optim: OptimConfig::adam(1e-2),
        steps: 40,
        kl_coeff: 0.0,
        kl_target: KlTarget::None,
    };
    let mut values = Vec::new();
    let model = train_exact_rft(
        model,
        &[ex[0].prompt_ids.clone()],
        &outputs,
        &rewards,
        PAD,
        &config,
        |l| values.push(l.mean_value),
    )
    .unwrap();
    let (v1, _) = exact(&model);
    eprintln!("exact RFT: V {v0:.3} -> {v1:.3}");
    assert!(v1 > v0 + 0.5, "V {v0} -> {v1}");
    assert!((values[0] - v0).abs() < 1e-6);
}

#[test]
fn grpo_raises_the_expected_reward() {
    let model = tiny_gpt2(3, 22);
    let (v0, _) = exact(&model);
    let (ex, reward, _, _) = task();
    let config = PgConfig {
        estimator: Estimator::Grpo,
        loss_agg: None,
        prompts_per_step: 2,
        samples_per_prompt: 8,
        n_epochs: 1,
        clip_range: 0.2,
        kl_coeff: 0.0,
        dynamic_sampling: true,
        max_sampling_rounds: 2,
        generation_kwargs: gen_kwargs(),
        optim: OptimConfig::adam(1e-2),
        steps: 30,
        std_threshold: 1e-3,
    };
    let mut t = PgTrainer::new(model, config, tokens(), 0).unwrap();
    for _ in 0..30 {
        let log = t.train_step(&ex, &reward).unwrap();
        assert!(log.grad_norm.is_finite());
    }
    let (v1, _) = exact(&t.policy);
    eprintln!("GRPO: V {v0:.3} -> {v1:.3}");
    assert!(v1 > v0 + 0.3, "V {v0} -> {v1}");
}

fn ppo_config(lr: f64) -> PpoConfig {
    PpoConfig {
        env: EnvConfig {
            n_envs: 8,
            args: EnvArgs {
                max_episode_length: 2,
                terminate_on_eos: true,
            },
        },
        alg: AlgConfig {
            args: PpoArgs {
                n_steps: 2,
                batch_size: 8,
                n_epochs: 4,
                learning_rate: lr,
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
                target_kl: Some(0.1),
            },
            policy: PolicyConfig {
                args: PolicyArgs {
                    generation_kwargs: gen_kwargs(),
                },
            },
        },
    }
}

#[test]
fn ppo_raises_the_expected_reward() {
    // Seed 1 starts at V = 0.11 and PPO reaches 0.97. From V ≈ 0.08 (seeds 6 and 23 of the seeded
    // initialisation) 8 episodes per iteration often miss the rewarded output for many iterations
    // and the KL noise drives the policy away from it (V → 0.01): the paper's small-reward-std
    // effect, which this test is not about.
    let model = tiny_gpt2(3, 1);
    let (v0, _) = exact(&model);
    let (ex, reward, _, _) = task();
    let mut t = PpoTrainer::new(model, ppo_config(3e-3), tokens(), 0).unwrap();
    let mut last = None;
    for _ in 0..25 {
        last = Some(t.train_iteration(&ex, &reward).unwrap());
    }
    let (v1, _) = exact(&t.model.policy);
    let last = last.unwrap();
    eprintln!("PPO: V {v0:.3} -> {v1:.3}; last {last:?}");
    assert!(v1 > v0 + 0.3, "V {v0} -> {v1}");
    assert_eq!(last.transitions, 16);
    assert!(
        last.kl_coeff != 0.001,
        "the adaptive KL controller moved beta"
    );
}

/// The paper's effect: near-deterministic on a wrong output, RFT's exact gradient vanishes while
/// SFT's does not, and a few steps of RFT barely move the policy while SFT fits the output.
#[test]
fn small_reward_std_stalls_rft_but_not_sft() {
    let (mut ex, reward, outputs, rewards) = task();
    let _ = reward;
    // Make the model confident in the wrong output `a a` with SFT.
    let mut wrong = ex[0].clone();
    wrong.target_ids = vec![0, 0];
    let sft = |steps: usize, lr: f64, seed: u64| SftConfig {
        optim: OptimConfig::adam(lr),
        max_steps: steps,
        batch_size: 1,
        frac_train_samples: 1.0,
        seed,
    };
    let confident = train_sft(tiny_gpt2(3, 24), &[wrong], PAD, &sft(150, 2e-2, 0), |_| {}).unwrap();
    let (v0, std0) = exact(&confident);
    eprintln!("confident start: V = {v0:.2e}, reward std = {std0:.2e}");
    assert!(std0 < 1e-2, "the start is near-deterministic (std {std0})");

    // Gradient norms at the start.
    let prompts = [ex[0].prompt_ids.clone()];
    let v = exact_value(&confident, &prompts, &outputs, &rewards, PAD)
        .value
        .mean();
    let g_rft = norm(&flat_grad(&confident, v));
    let g_group = group_gradient_norm(&confident, &prompts, &outputs, &rewards, PAD);
    assert!(
        (g_group - g_rft).abs() <= 1e-3 * g_rft,
        "{g_group} vs {g_rft}"
    );
    ex[0].target_ids = BEST.to_vec();
    let refs: Vec<&Example> = ex.iter().collect();
    let g_sft = norm(&flat_grad(&confident, sft_loss(&confident, &refs, PAD)));
    eprintln!("|grad V| = {g_rft:.2e}, |grad SFT loss| = {g_sft:.2e}");
    assert!(g_rft < 1e-2 * g_sft, "RFT gradient {g_rft} vs SFT {g_sft}");

    // Twenty steps of each with the same optimiser: plain gradient descent, so the step is the
    // gradient (Adam would rescale RFT's tiny gradient of this single input to full size).
    let config = ExactRftConfig {
        optim: OptimConfig::sgd(0.1),
        steps: 20,
        kl_coeff: 0.0,
        kl_target: KlTarget::None,
    };
    let rft = train_exact_rft(
        confident.clone(),
        &prompts,
        &outputs,
        &rewards,
        PAD,
        &config,
        |_| {},
    )
    .unwrap();
    let sgd = SftConfig {
        optim: OptimConfig::sgd(0.1),
        ..sft(20, 0.1, 0)
    };
    let sfted = train_sft(confident, &ex, PAD, &sgd, |_| {}).unwrap();
    let (v_rft, _) = exact(&rft);
    let (v_sft, _) = exact(&sfted);
    eprintln!("after 20 steps: V_rft = {v_rft:.2e}, V_sft = {v_sft:.2e}");
    // Measured: V 3.4e-6 -> 0.13 under SFT, unchanged (3.4e-6) under RFT.
    assert!(
        v_sft > 0.05 && v_sft > 1e3 * v_rft,
        "SFT moves the policy: V = {v_sft}"
    );
    assert!(v_rft < 10.0 * v0, "RFT barely moves: V {v0} -> {v_rft}");
    let _ = to_vec::<B, 1>;
}
