//! The exact expected gradient of V(x) = sum_y p(y|x) r(x, y): it equals finite differences of V,
//! and the mean of many REINFORCE gradients r(x, y) grad log p(y|x), y ~ p.

#![allow(clippy::type_complexity)]

mod common;

use burn::tensor::{ElementConversion, Tensor, TensorData};
use common::*;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use trainers::exact::{all_sequences, exact_value};
use trainers::lm::{score, to_vec};

const PAD: u32 = 0;

fn setup() -> (Vec<Vec<u32>>, Vec<Vec<u32>>, Vec<Vec<f64>>) {
    let prompts = vec![vec![0, 1], vec![2]];
    let outputs = all_sequences(3, 2);
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let rewards = prompts
        .iter()
        .map(|_| {
            outputs
                .iter()
                .map(|_| rng.random_range(-1.0..1.0))
                .collect()
        })
        .collect();
    (prompts, outputs, rewards)
}

fn mean_value(model: &model::GPT2LMHeadModel<B>) -> f64 {
    let (prompts, outputs, rewards) = setup();
    exact_value(model, &prompts, &outputs, &rewards, PAD)
        .value
        .mean()
        .into_scalar()
        .elem()
}

#[test]
fn probabilities_of_the_enumerated_space_sum_to_one() {
    let model = tiny_gpt2(3, 1);
    let (prompts, outputs, rewards) = setup();
    let exact = exact_value(&model, &prompts, &outputs, &rewards, PAD);
    let p = to_vec(exact.logprobs.exp());
    for row in p.chunks(outputs.len()) {
        let s: f32 = row.iter().sum();
        assert!((s - 1.0).abs() < 1e-5, "sum p = {s}");
    }
    // The exact std is the std of r under p, by brute force.
    let mean: f64 = p[..9]
        .iter()
        .zip(&rewards[0])
        .map(|(&p, r)| p as f64 * r)
        .sum();
    let var: f64 = p[..9]
        .iter()
        .zip(&rewards[0])
        .map(|(&p, r)| p as f64 * (r - mean).powi(2))
        .sum();
    assert!((exact.stats[0].mean - mean).abs() < 1e-6);
    assert!((exact.stats[0].std - var.sqrt()).abs() < 1e-6);
}

#[test]
fn expected_gradient_matches_finite_differences() {
    let model = tiny_gpt2(3, 2);
    let (prompts, outputs, rewards) = setup();
    let v = exact_value(&model, &prompts, &outputs, &rewards, PAD)
        .value
        .mean();
    let grad = flat_grad(&model, v);
    let n = grad.len();
    // The largest components plus a spread of others.
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| grad[b].abs().total_cmp(&grad[a].abs()));
    let mut check: Vec<usize> = idx[..8].to_vec();
    check.extend((0..8).map(|i| i * n / 8 + 3));
    let eps = 1e-2f32;
    let mut worst = 0.0f64;
    for &i in &check {
        let up = mean_value(&perturbed(&model, i, eps));
        let down = mean_value(&perturbed(&model, i, -eps));
        let fd = (up - down) / (2.0 * eps as f64);
        let err = (fd - grad[i]).abs();
        worst = worst.max(err / (1e-3 + grad[i].abs()));
        assert!(
            err <= 2e-4 + 0.03 * grad[i].abs(),
            "param {i}: autodiff {} vs finite difference {fd}",
            grad[i]
        );
    }
    eprintln!("worst relative error vs finite differences: {worst:.2e}");
}

#[test]
fn expected_gradient_is_the_mean_of_reinforce_gradients() {
    let model = tiny_gpt2(3, 3);
    let (prompts, outputs, rewards) = setup();
    let exact = exact_value(&model, &prompts, &outputs, &rewards, PAD);
    let probs = to_vec(exact.logprobs.clone().exp());
    let g_exact = flat_grad(&model, exact.value.mean());

    // Draw N samples per prompt from p; the REINFORCE estimate (1/N) sum_n r(y_n) grad log p(y_n)
    // groups identical samples: sum_y (count_y / N) r(y) grad log p(y).
    let n_samples = 200_000;
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let y = outputs.len();
    let mut weights = vec![0f32; prompts.len() * y];
    for x in 0..prompts.len() {
        let row = &probs[x * y..(x + 1) * y];
        for _ in 0..n_samples {
            let u: f32 = rng.random();
            let mut acc = 0.0;
            let mut pick = y - 1;
            for (j, &p) in row.iter().enumerate() {
                acc += p;
                if u < acc {
                    pick = j;
                    break;
                }
            }
            weights[x * y + pick] += rewards[x][pick] as f32 / n_samples as f32;
        }
    }
    let pairs_p: Vec<Vec<u32>> = prompts
        .iter()
        .flat_map(|p| std::iter::repeat_n(p.clone(), y))
        .collect();
    let pairs_y: Vec<Vec<u32>> = (0..prompts.len()).flat_map(|_| outputs.clone()).collect();
    let (_, scores) = score(&model, &pairs_p, &pairs_y, PAD);
    let w = Tensor::<B, 1>::from_data(TensorData::new(weights, [pairs_y.len()]), &device());
    let surrogate = (scores.sequence_logprobs * w)
        .sum()
        .div_scalar(prompts.len() as f64);
    let g_reinforce = flat_grad(&model, surrogate);

    let diff: Vec<f64> = g_exact
        .iter()
        .zip(&g_reinforce)
        .map(|(a, b)| a - b)
        .collect();
    let rel = norm(&diff) / norm(&g_exact);
    eprintln!("|g_reinforce - g_exact| / |g_exact| = {rel:.4}");
    assert!(
        rel < 0.05,
        "REINFORCE mean is {rel} away from the exact gradient"
    );
    // And a poor estimate (few samples) is far: the test can tell them apart.
    assert!(norm(&g_exact) > 1e-4);
}
