//! The policy abstraction ([`trainers::policy::Policy`]) for GPT-2 and T5: its layout gives GPT-2
//! exactly the old causal-layout values, teacher-forced scores agree with the sampler, value
//! states are causal, and SFT, exact RFT, GRPO and the reward-std diagnostics run on T5.

mod common;

use burn::module::AutodiffModule;
use burn::tensor::ElementConversion;
use common::*;
use model::{
    CausalBatch, GPT2LMHeadModel, SamplingConfig, T5ForConditionalGeneration, score_completions,
};
use trainers::diagnostics::sampled_reward_stats;
use trainers::exact::{all_sequences, exact_value};
use trainers::lm::{GenerationKwargs, TaskReward, evaluate_greedy, score, to_vec};
use trainers::optim::OptimConfig;
use trainers::pg::{Estimator, PgConfig, PgTrainer};
use trainers::policy::Policy;
use trainers::sft::{SftConfig, sft_loss, train_sft};
use trainers::synthetic::ReverseTask;

type Inner = <B as burn::tensor::backend::AutodiffBackend>::InnerBackend;

const TASK: ReverseTask = ReverseTask {
    alphabet: 3,
    length: 3,
};

fn gpt2(seed: u64) -> GPT2LMHeadModel<B> {
    TASK.model::<B>(2, 32, 4, seed, &device()).unwrap()
}

fn t5(seed: u64) -> T5ForConditionalGeneration<B> {
    TASK.t5_model::<B>(2, 32, 4, seed, &device()).unwrap()
}

fn rouge_l() -> TaskReward {
    let args: serde_yaml::Value = serde_yaml::from_str("{rouge_type: rougeL}").unwrap();
    TASK.reward("rouge", &args).unwrap()
}

/// Prompts of different lengths (GPT-2 left-pads them, T5 right-pads them) and completions of
/// different lengths, some ending in EOS.
fn ragged() -> (Vec<Vec<u32>>, Vec<Vec<u32>>) {
    (
        vec![vec![2, 3, 4, 1], vec![3, 1], vec![4, 4, 1]],
        vec![vec![4, 3, 2, 0], vec![3], vec![2, 4, 0]],
    )
}

fn sampling(seed: u64) -> SamplingConfig {
    GenerationKwargs {
        do_sample: true,
        temperature: 1.0,
        top_k: None,
        top_p: None,
        min_new_tokens: 0,
        max_new_tokens: 4,
    }
    .sampling(TASK.tokens().eos, TASK.tokens().pad, seed)
}

#[test]
fn gpt2_scores_through_the_layout_are_the_causal_batch_values() {
    let model = gpt2(4);
    let (prompts, completions) = ragged();
    let pad = TASK.tokens().pad;
    // The old path: one CausalBatch, completion token i of row b at column prompt_width - 1 + i.
    let batch = CausalBatch::new(&prompts, &completions, pad, &device());
    let old = score_completions(&model, &batch);
    let cols = batch.completion_mask.dims()[1];
    let old_lp = to_vec(old.token_logprobs);
    let old_ent = to_vec(old.token_entropies);

    let (layout, new) = score(&model, &prompts, &completions, pad);
    assert_eq!(layout.cols, cols);
    assert_eq!(layout.offset, batch.prompt_width - 1);
    let new_lp = to_vec(new.token_logprobs);
    let new_ent = to_vec(new.token_entropies);
    let sft = to_vec(model.completion_logprobs(&prompts, &completions, pad));
    for (b, y) in completions.iter().enumerate() {
        let start = b * cols + batch.prompt_width - 1;
        let want: Vec<f64> = old_lp[start..start + y.len()]
            .iter()
            .map(|&x| x as f64)
            .collect();
        assert_eq!(layout.row(&new_lp, b, y.len()), want, "row {b}");
        assert_eq!(layout.row(&sft, b, y.len()), want, "row {b} (no entropies)");
        let want: Vec<f64> = old_ent[start..start + y.len()]
            .iter()
            .map(|&x| x as f64)
            .collect();
        assert_eq!(layout.row(&new_ent, b, y.len()), want, "row {b} entropies");
    }
    // Everything else is bit for bit the old tensor (zeros outside completions included).
    assert_eq!(new_lp, old_lp);
    // And `Layout::tensor` puts values back where `Layout::row` reads them.
    let rows: Vec<Vec<f64>> = completions
        .iter()
        .map(|y| (0..y.len()).map(|i| i as f64 + 0.5).collect())
        .collect();
    let t = to_vec(layout.tensor::<B>(&rows, &device()));
    for (b, row) in rows.iter().enumerate() {
        assert_eq!(&layout.row(&t, b, row.len()), row);
    }
    assert_eq!(t.iter().filter(|&&x| x != 0.0).count(), 8);
}

/// The log-probability the sampler reports for each drawn token is the teacher-forced one
/// (temperature 1, no truncation): what PPO's first-epoch ratio of 1 relies on.
fn scores_agree_with_the_sampler<P: Policy<Inner>>(model: &P) {
    let prompts: Vec<Vec<u32>> = TASK
        .examples()
        .iter()
        .map(|x| x.prompt_ids.clone())
        .collect();
    let out = model.generate(&prompts, &sampling(5));
    let (layout, scores) = model.score(&prompts, &out.tokens, TASK.tokens().pad);
    let flat = to_vec(scores.token_logprobs);
    let mut checked = 0;
    for (b, y) in out.tokens.iter().enumerate() {
        let got = layout.row(&flat, b, y.len());
        for (g, &s) in got.iter().zip(&out.logprobs[b]) {
            assert!(
                (g - s as f64).abs() < 1e-4,
                "row {b}: {got:?} vs {:?}",
                out.logprobs[b]
            );
            checked += 1;
        }
    }
    assert!(checked >= prompts.len());
}

#[test]
fn teacher_forced_scores_agree_with_the_sampler_for_gpt2_and_t5() {
    scores_agree_with_the_sampler(&gpt2(5).valid());
    scores_agree_with_the_sampler(&t5(5).valid());
}

/// The hidden state at completion token `t` (the value head's input) has seen `y_<t` only:
/// changing `y_t` and later tokens leaves it unchanged, changing `y_0` changes it.
fn value_states_are_causal<P: Policy<Inner>>(model: &P) {
    let prompts = vec![vec![2, 3, 4, 1]];
    let pad = TASK.tokens().pad;
    let (layout, a) = model.hidden_states(&prompts, &[vec![4, 3, 2, 0]], pad);
    let (_, b) = model.hidden_states(&prompts, &[vec![4, 3, 3, 3]], pad);
    let (_, c) = model.hidden_states(&prompts, &[vec![2, 3, 2, 0]], pad);
    let d = model.hidden_size();
    assert_eq!(a.dims()[2], d);
    let at = |h: &burn::tensor::Tensor<Inner, 3>, t: usize| -> Vec<f32> {
        to_vec(h.clone().narrow(1, layout.offset + t, 1))
    };
    for t in 0..=2 {
        let (x, y) = (at(&a, t), at(&b, t));
        let diff = x
            .iter()
            .zip(&y)
            .map(|(p, q)| (p - q).abs())
            .fold(0.0, f32::max);
        assert!(diff < 1e-5, "state {t} saw a later token ({diff})");
    }
    let diff = at(&a, 1)
        .iter()
        .zip(&at(&c, 1))
        .map(|(p, q)| (p - q).abs())
        .fold(0.0, f32::max);
    assert!(diff > 1e-4, "state 1 did not see y_0");
}

#[test]
fn value_states_are_causal_for_gpt2_and_t5() {
    value_states_are_causal(&gpt2(6).valid());
    value_states_are_causal(&t5(6).valid());
}

#[test]
fn t5_sft_learns_the_task() {
    let examples = TASK.examples();
    let refs: Vec<_> = examples.iter().collect();
    let pad = TASK.tokens().pad;
    let start = t5(3);
    let loss0: f64 = sft_loss(&start, &refs, pad).into_scalar().elem();
    let (r0, _) = evaluate_greedy(&start.valid(), &examples, &rouge_l(), TASK.tokens(), 4);
    let config = SftConfig {
        optim: OptimConfig::adam(3e-3),
        max_steps: 30,
        batch_size: 9,
        frac_train_samples: 1.0,
        seed: 0,
    };
    let mut losses = Vec::new();
    let model = train_sft(start, &examples, pad, &config, |l| losses.push(l.loss)).unwrap();
    let loss1: f64 = sft_loss(&model, &refs, pad).into_scalar().elem();
    let (r1, _) = evaluate_greedy(&model.valid(), &examples, &rouge_l(), TASK.tokens(), 4);
    eprintln!("T5 SFT: loss {loss0:.3} -> {loss1:.3}, greedy ROUGE-L {r0:.3} -> {r1:.3}");
    assert_eq!(losses.len(), 30);
    assert!(loss1 < 0.5 * loss0, "loss {loss0} -> {loss1}");
    assert!(r1 > r0 + 0.3, "greedy reward {r0} -> {r1}");
}

#[test]
fn t5_exact_value_enumerates_a_distribution() {
    let model = t5(8);
    let prompts = vec![vec![2, 3, 1], vec![4, 1]];
    let outputs = all_sequences(TASK.vocab_size(), 2);
    let rewards: Vec<Vec<f64>> = prompts
        .iter()
        .map(|_| (0..outputs.len()).map(|y| (y % 3) as f64).collect())
        .collect();
    let exact = exact_value(&model, &prompts, &outputs, &rewards, TASK.tokens().pad);
    let p = to_vec(exact.logprobs.exp());
    for row in p.chunks(outputs.len()) {
        let s: f32 = row.iter().sum();
        assert!((s - 1.0).abs() < 1e-5, "sum p = {s}");
    }
    assert!(exact.stats.iter().all(|s| s.std > 0.0));
}

#[test]
fn t5_grpo_steps_run_and_move_the_policy() {
    let examples = TASK.examples();
    let reward = rouge_l();
    let config = PgConfig {
        estimator: Estimator::Grpo,
        loss_agg: None,
        prompts_per_step: 4,
        samples_per_prompt: 4,
        n_epochs: 2,
        clip_range: 0.2,
        kl_coeff: 0.01,
        dynamic_sampling: true,
        max_sampling_rounds: 2,
        generation_kwargs: GenerationKwargs {
            do_sample: true,
            temperature: 1.0,
            top_k: None,
            top_p: None,
            min_new_tokens: 0,
            max_new_tokens: 4,
        },
        optim: OptimConfig::adam(1e-3),
        steps: 2,
        std_threshold: 1e-3,
    };
    let start = t5(9);
    let (prompts, completions) = ragged();
    let before = to_vec(
        start
            .valid()
            .score(&prompts, &completions, 0)
            .1
            .token_logprobs,
    );
    let mut t = PgTrainer::new(start, config, TASK.tokens(), 0).unwrap();
    for step in 0..2 {
        let log = t.train_step(&examples, &reward).unwrap();
        assert_eq!(log.step, step);
        assert!(log.groups.len() >= 4);
        assert!(log.reward.is_finite() && log.kl.is_finite() && log.entropy > 0.0);
        assert!(log.grad_norm > 0.0 && log.grad_norm.is_finite(), "{log:?}");
    }
    let after = to_vec(
        t.policy
            .valid()
            .score(&prompts, &completions, 0)
            .1
            .token_logprobs,
    );
    assert_ne!(before, after, "GRPO did not change the T5");
}

#[test]
fn t5_reward_std_diagnostics() {
    let examples = TASK.examples();
    let reward = rouge_l();
    let model = t5(10).valid();
    let stats = sampled_reward_stats(&model, &examples, &reward, 8, &sampling(1));
    assert_eq!(stats.len(), examples.len());
    assert!(
        stats
            .iter()
            .all(|s| (0.0..=1.0).contains(&s.mean) && s.std >= 0.0)
    );
    assert!(stats.iter().any(|s| s.std > 0.0), "sampling gave no spread");
    // Greedy decoding is deterministic: every input's reward std is 0, and the mean is the
    // greedy reward.
    let greedy = SamplingConfig {
        greedy: true,
        ..sampling(1)
    };
    let stats = sampled_reward_stats(&model, &examples, &reward, 3, &greedy);
    assert!(stats.iter().all(|s| s.std == 0.0));
    let (_, per_example) = evaluate_greedy(&model, &examples, &reward, TASK.tokens(), 4);
    let means: Vec<f64> = stats.iter().map(|s| s.mean).collect();
    for (m, r) in means.iter().zip(&per_example) {
        assert!((m - r).abs() < 1e-12);
    }
}
