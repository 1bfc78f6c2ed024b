//! Sampling and scoring agree with each other and with the model's distribution.

use std::path::PathBuf;

use burn::backend::Flex;
use burn::tensor::activation::softmax;
use burn::tensor::{Int, Tensor, TensorData};
use model::{
    CausalBatch, GPT2LMHeadModel, SamplingConfig, Seq2SeqBatch, T5ForConditionalGeneration,
    generate, generate_seq2seq, score_completions, score_seq2seq,
};

type B = Flex;

fn load() -> GPT2LMHeadModel<B> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gpt2-tiny");
    GPT2LMHeadModel::load(dir, &Default::default()).unwrap()
}

fn prompts() -> Vec<Vec<u32>> {
    vec![
        vec![3, 17, 99, 4, 250],
        vec![42],
        vec![7, 7, 8],
        vec![200, 1],
    ]
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()))
}

#[test]
fn cached_forward_equals_full_forward() {
    let model = load();
    let device = Default::default();
    // Left-padded batch of 2, 9 tokens; feed 5, then 1, 1, 2 with the cache.
    let ids: Vec<i64> = vec![
        0, 0, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
    ];
    let mask: Vec<i64> = vec![0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
    let ids_t = |from: usize, to: usize| -> Tensor<B, 2, Int> {
        let rows: Vec<i64> = (0..2)
            .flat_map(|b| ids[b * 9 + from..b * 9 + to].to_vec())
            .collect();
        Tensor::from_data(TensorData::new(rows, [2, to - from]), &device)
    };
    let mask_t = |to: usize| -> Tensor<B, 2, Int> {
        let rows: Vec<i64> = (0..2)
            .flat_map(|b| mask[b * 9..b * 9 + to].to_vec())
            .collect();
        Tensor::from_data(TensorData::new(rows, [2, to]), &device)
    };
    let full = model.forward(ids_t(0, 9), mask_t(9), None, None);
    let mut cache = model.new_cache();
    let mut pieces = Vec::new();
    for (from, to) in [(0, 5), (5, 6), (6, 7), (7, 9)] {
        pieces.push(model.forward(ids_t(from, to), mask_t(to), None, Some(&mut cache)));
        assert_eq!(cache.len(), to);
    }
    let cached = Tensor::cat(pieces, 1);
    let full: Vec<f32> = full.into_data().iter::<f32>().collect();
    let cached: Vec<f32> = cached.into_data().iter::<f32>().collect();
    // Compare the real positions only (row 0's first two are padding).
    let v = model.config.vocab_size;
    let real = |x: &[f32]| -> Vec<f32> {
        x.iter()
            .enumerate()
            .filter(|(i, _)| mask[i / v] == 1)
            .map(|(_, &y)| y)
            .collect()
    };
    let diff = max_abs_diff(&real(&full), &real(&cached));
    println!("cached vs full forward: max |logit diff| = {diff:e}");
    assert!(diff <= 1e-5, "{diff}");
}

#[test]
fn cached_sampling_equals_uncached() {
    let model = load();
    for (greedy, top_k, top_p) in [
        (true, None, None),
        (false, None, None),
        (false, Some(20), Some(0.9)),
    ] {
        let config = SamplingConfig {
            greedy,
            temperature: 0.8,
            top_k,
            top_p,
            max_new_tokens: 10,
            min_new_tokens: 2,
            eos_token_id: Some(sampled_token(&model)),
            seed: 7,
            ..Default::default()
        };
        let cached = generate(
            &model,
            &prompts(),
            &SamplingConfig {
                use_cache: true,
                ..config.clone()
            },
            &Default::default(),
        );
        let uncached = generate(
            &model,
            &prompts(),
            &SamplingConfig {
                use_cache: false,
                ..config
            },
            &Default::default(),
        );
        assert_eq!(cached.tokens, uncached.tokens, "greedy={greedy}");
        for (a, b) in cached.logprobs.iter().zip(&uncached.logprobs) {
            assert!(max_abs_diff(a, b) <= 1e-4);
        }
    }
}

/// A token the tiny model emits when sampling from these prompts; used as EOS so that stopping
/// (and the finished rows being fed padding) is exercised.
fn sampled_token(model: &GPT2LMHeadModel<B>) -> u32 {
    let config = SamplingConfig {
        max_new_tokens: 10,
        seed: 7,
        temperature: 0.8,
        ..Default::default()
    };
    let out = generate(model, &prompts(), &config, &Default::default());
    out.tokens[0][3]
}

#[test]
fn generation_stops_at_eos_and_respects_min_new_tokens() {
    let model = load();
    let base = SamplingConfig {
        max_new_tokens: 10,
        seed: 7,
        temperature: 0.8,
        ..Default::default()
    };
    let free = generate(&model, &prompts(), &base, &Default::default());
    let eos = free.tokens[0][3];
    let stopped = generate(
        &model,
        &prompts(),
        &SamplingConfig {
            eos_token_id: Some(eos),
            ..base.clone()
        },
        &Default::default(),
    );
    assert_eq!(
        stopped.tokens[0],
        free.tokens[0][..4],
        "stops right after the first EOS"
    );
    for row in &stopped.tokens {
        let first = row.iter().position(|&t| t == eos);
        assert!(
            first.is_none_or(|i| i == row.len() - 1),
            "EOS only at the end: {row:?}"
        );
    }
    let late = generate(
        &model,
        &prompts(),
        &SamplingConfig {
            eos_token_id: Some(eos),
            min_new_tokens: 6,
            ..base
        },
        &Default::default(),
    );
    for row in &late.tokens {
        assert!(row.len() >= 6, "{row:?}");
        assert!(!row[..6].contains(&eos), "{row:?}");
    }
}

#[test]
fn sampled_logprobs_equal_teacher_forced() {
    let model = load();
    let config = SamplingConfig {
        max_new_tokens: 9,
        temperature: 1.3,
        seed: 11,
        ..Default::default()
    };
    let out = generate(&model, &prompts(), &config, &Default::default());
    let batch = CausalBatch::<B>::new(&prompts(), &out.tokens, 0, &Default::default());
    let scores = score_completions(&model, &batch);
    let seq = batch.input_ids.dims()[1];
    let token_logprobs: Vec<f32> = scores.token_logprobs.into_data().iter::<f32>().collect();
    let sequence: Vec<f32> = scores.sequence_logprobs.into_data().iter::<f32>().collect();
    let mut max = 0f32;
    for (b, sampled) in out.logprobs.iter().enumerate() {
        for (i, &lp) in sampled.iter().enumerate() {
            let forced = token_logprobs[b * (seq - 1) + batch.prompt_width - 1 + i];
            max = max.max((forced - lp).abs());
        }
        assert!((sequence[b] - out.sequence_logprobs[b]).abs() <= 1e-3);
    }
    println!("sampled vs teacher-forced log-probs: max |diff| = {max:e}");
    assert!(max <= 1e-4, "{max}");
}

/// Upper `1 - alpha` quantile of chi-square with `df` degrees of freedom (Wilson-Hilferty),
/// for alpha = 0.001 (z = 3.0902).
fn chi2_critical_0_001(df: f64) -> f64 {
    let z = 3.0902;
    let a = 2.0 / (9.0 * df);
    df * (1.0 - a + z * a.sqrt()).powi(3)
}

#[test]
fn sampling_frequencies_match_softmax_over_temperature() {
    let model = load();
    let device = Default::default();
    let prompt = vec![3u32, 17, 99, 4];
    for (temperature, seed) in [(1.0, 1u64), (0.6, 2), (1.7, 3)] {
        // The model's next-token distribution at temperature T, computed here independently.
        let ids: Tensor<B, 2, Int> = Tensor::from_data(
            TensorData::new(
                prompt.iter().map(|&t| t as i64).collect::<Vec<_>>(),
                [1, prompt.len()],
            ),
            &device,
        );
        let mask = Tensor::<B, 2, Int>::ones([1, prompt.len()], &device);
        let logits = model
            .forward(ids, mask, None, None)
            .narrow(1, prompt.len() - 1, 1);
        let probs: Vec<f32> = softmax(logits.div_scalar(temperature), 2)
            .into_data()
            .iter::<f32>()
            .collect();

        let n = 4000;
        let config = SamplingConfig {
            max_new_tokens: 1,
            temperature,
            seed,
            ..Default::default()
        };
        let out = generate(&model, &vec![prompt.clone(); n], &config, &device);
        let mut counts = vec![0usize; probs.len()];
        for row in &out.tokens {
            counts[row[0] as usize] += 1;
        }
        // Chi-square over tokens with expected count >= 5, the rest pooled into one bin.
        let (mut chi2, mut bins, mut rest_obs, mut rest_exp) = (0.0, 0usize, 0.0, 0.0);
        for (p, &c) in probs.iter().zip(&counts) {
            let expected = *p as f64 * n as f64;
            if expected >= 5.0 {
                chi2 += (c as f64 - expected).powi(2) / expected;
                bins += 1;
            } else {
                rest_obs += c as f64;
                rest_exp += expected;
            }
        }
        if rest_exp > 0.0 {
            chi2 += (rest_obs - rest_exp).powi(2) / rest_exp;
            bins += 1;
        }
        let df = (bins - 1) as f64;
        let critical = chi2_critical_0_001(df);
        println!("T={temperature}: chi2 = {chi2:.1} on {df} df (critical {critical:.1} at 0.001)");
        assert!(bins >= 10, "too few bins to be a meaningful test: {bins}");
        assert!(
            chi2 < critical,
            "T={temperature}: chi2 {chi2} >= {critical}"
        );
    }
}

fn load_t5() -> T5ForConditionalGeneration<B> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/t5-tiny");
    T5ForConditionalGeneration::load(dir, &Default::default()).unwrap()
}

fn t5_sources() -> Vec<Vec<u32>> {
    vec![
        vec![5, 17, 99, 4, 120, 33],
        vec![42],
        vec![7, 7, 8],
        vec![100, 2],
    ]
}

#[test]
fn t5_cached_sampling_equals_uncached() {
    let model = load_t5();
    let base = SamplingConfig {
        max_new_tokens: 10,
        temperature: 0.8,
        seed: 3,
        ..Default::default()
    };
    // A token sampled early in row 0, used as EOS so stopping and padding of finished rows happen.
    let eos = generate_seq2seq(&model, &t5_sources(), &base, &Default::default()).tokens[2][2];
    for (greedy, top_k, top_p) in [
        (true, None, None),
        (false, None, None),
        (false, Some(20), Some(0.9)),
    ] {
        let config = SamplingConfig {
            greedy,
            top_k,
            top_p,
            min_new_tokens: 1,
            eos_token_id: Some(eos),
            ..base.clone()
        };
        let run = |use_cache| {
            generate_seq2seq(
                &model,
                &t5_sources(),
                &SamplingConfig {
                    use_cache,
                    ..config.clone()
                },
                &Default::default(),
            )
        };
        let (cached, uncached) = (run(true), run(false));
        assert_eq!(cached.tokens, uncached.tokens, "greedy={greedy}");
        for (a, b) in cached.logprobs.iter().zip(&uncached.logprobs) {
            assert!(max_abs_diff(a, b) <= 1e-4);
        }
        if !greedy {
            assert!(
                cached
                    .tokens
                    .iter()
                    .any(|r| r.last() == Some(&eos) && r.len() < 10),
                "some row stops at EOS: {:?}",
                cached.tokens
            );
        }
    }
}

#[test]
fn t5_sampled_logprobs_equal_teacher_forced() {
    let model = load_t5();
    let config = SamplingConfig {
        max_new_tokens: 9,
        temperature: 1.3,
        seed: 5,
        eos_token_id: Some(1),
        ..Default::default()
    };
    let out = generate_seq2seq(&model, &t5_sources(), &config, &Default::default());
    let batch = Seq2SeqBatch::<B>::new(&t5_sources(), &out.tokens, 0, 0, &Default::default());
    let scores = score_seq2seq(&model, &batch);
    let tgt = batch.labels.dims()[1];
    let forced: Vec<f32> = scores.token_logprobs.into_data().iter::<f32>().collect();
    let sequence: Vec<f32> = scores.sequence_logprobs.into_data().iter::<f32>().collect();
    let mut max = 0f32;
    for (b, sampled) in out.logprobs.iter().enumerate() {
        for (i, &lp) in sampled.iter().enumerate() {
            max = max.max((forced[b * tgt + i] - lp).abs());
        }
        assert!((sequence[b] - out.sequence_logprobs[b]).abs() <= 1e-3);
    }
    println!("t5 sampled vs teacher-forced log-probs: max |diff| = {max:e}");
    assert!(max <= 1e-4, "{max}");
}

#[test]
fn t5_generation_stops_at_eos_and_respects_min_new_tokens() {
    let model = load_t5();
    let base = SamplingConfig {
        max_new_tokens: 10,
        seed: 9,
        ..Default::default()
    };
    let free = generate_seq2seq(&model, &t5_sources(), &base, &Default::default());
    let eos = free.tokens[1][2];
    let stopped = generate_seq2seq(
        &model,
        &t5_sources(),
        &SamplingConfig {
            eos_token_id: Some(eos),
            ..base.clone()
        },
        &Default::default(),
    );
    let first = free.tokens[1].iter().position(|&t| t == eos).unwrap();
    assert_eq!(stopped.tokens[1], free.tokens[1][..=first]);
    let late = generate_seq2seq(
        &model,
        &t5_sources(),
        &SamplingConfig {
            eos_token_id: Some(eos),
            min_new_tokens: 6,
            ..base
        },
        &Default::default(),
    );
    for row in &late.tokens {
        assert!(row.len() >= 6 && !row[..6].contains(&eos), "{row:?}");
    }
}

/// Sampling computes the LM head on the last position only (`CausalLM::last_logits`); the values
/// must be the very floats the full forward gives there, so sampled tokens do not change.
#[test]
fn last_position_logits_are_bitwise_the_full_forwards_last_column() {
    use model::{CausalLM, GPT2Config};
    let device = Default::default();
    let config = GPT2Config {
        n_layer: 2,
        n_embd: 256,
        n_head: 4,
        vocab_size: 8192,
        n_positions: 128,
        ..GPT2Config::default()
    };
    let model = GPT2LMHeadModel::<B>::init(config, 3, &device).unwrap();
    for (batch, seq) in [(1, 1), (4, 7), (80, 64)] {
        let ids: Vec<i64> = (0..batch * seq)
            .map(|i| ((i * 7919) % 8192) as i64)
            .collect();
        let mut mask = vec![1i64; batch * seq];
        for b in 0..batch {
            for p in 0..(b % 3).min(seq - 1) {
                mask[b * seq + p] = 0; // left padding
            }
        }
        let ids = Tensor::<B, 2, Int>::from_data(TensorData::new(ids, [batch, seq]), &device);
        let mask = Tensor::<B, 2, Int>::from_data(TensorData::new(mask, [batch, seq]), &device);
        let full = model.logits(ids.clone(), mask.clone(), None);
        let vocab = full.dims()[2];
        let want: Vec<f32> = full
            .narrow(1, seq - 1, 1)
            .reshape([batch, vocab])
            .into_data()
            .into_vec()
            .unwrap();
        let got: Vec<f32> = model
            .last_logits(ids, mask, None)
            .into_data()
            .into_vec()
            .unwrap();
        assert!(
            want.iter()
                .zip(&got)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "batch {batch} x {seq}: max |diff| {}",
            max_abs_diff(&want, &got)
        );
    }
}
