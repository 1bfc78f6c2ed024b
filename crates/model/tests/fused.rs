//! The fused CPU kernels (`model::fused`) against the decomposed burn ops they replace: values,
//! gradients (through burn's autodiff of the decomposed ops, and by finite differences), the
//! inference backend, and bit-identical results on 1 and 2 threads.

use std::sync::Mutex;

use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor, TensorData};
use model::fused::{self, decomposed};
use model::{CpuBackend, GPT2Config, GPT2LMHeadModel, T5Config, T5ForConditionalGeneration};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

type B = CpuBackend;
type Inner = <B as AutodiffBackend>::InnerBackend;

/// Tests that switch the fused path off hold this (the switch is process-wide).
static SWITCH: Mutex<()> = Mutex::new(());

fn values<Bk: Backend, const D: usize>(t: Tensor<Bk, D>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}

fn random<const D: usize>(shape: [usize; D], seed: u64, scale: f64) -> Tensor<B, D> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|_| (rng.random::<f32>() * 2.0 - 1.0) * scale as f32)
        .collect();
    Tensor::from_data(TensorData::new(v, shape), &Default::default())
}

#[track_caller]
fn assert_close(got: &[f32], want: &[f32], tol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * scale,
            "{what}[{i}]: {g} vs {w} (scale {scale})"
        );
    }
}

/// Value and gradient (w.r.t. each input) of `sum(f(inputs) * weights)` for fixed random weights.
fn value_and_grads<const D: usize>(
    inputs: &[Tensor<B, D>],
    f: impl Fn(Vec<Tensor<B, D>>) -> Tensor<B, D>,
) -> (Vec<f32>, Vec<Vec<f32>>) {
    let tracked: Vec<Tensor<B, D>> = inputs.iter().map(|t| t.clone().require_grad()).collect();
    let out = f(tracked.clone());
    let w = random(out.dims(), 99, 1.0);
    let grads = (out.clone() * w).sum().backward();
    let g = tracked
        .iter()
        .map(|t| values(t.grad(&grads).expect("input gets a gradient")))
        .collect();
    (values(out), g)
}

#[test]
fn layer_norm_equals_the_decomposed_ops_values_and_gradients() {
    for &(rows, len) in &[(7usize, 384usize), (3, 37), (2, 5)] {
        let x = random([2, rows, len], 1, 3.0).add_scalar(0.5);
        let w = random([len], 2, 1.0).add_scalar(1.0);
        let b = random([len], 3, 1.0);
        let (fv, fg) = value_and_grads(std::slice::from_ref(&x), |t| {
            fused::layer_norm(t[0].clone(), w.clone(), b.clone(), 1e-5)
        });
        let (dv, dg) = value_and_grads(std::slice::from_ref(&x), |t| {
            decomposed::layer_norm(t[0].clone(), w.clone(), b.clone(), 1e-5)
        });
        assert_close(&fv, &dv, 2e-6, "layer_norm value");
        assert_close(&fg[0], &dg[0], 1e-5, "layer_norm dx");

        // Weight and bias gradients.
        let grads_of = |fused_path: bool| {
            let (w, b) = (w.clone().require_grad(), b.clone().require_grad());
            let y = if fused_path {
                fused::layer_norm(x.clone(), w.clone(), b.clone(), 1e-5)
            } else {
                decomposed::layer_norm(x.clone(), w.clone(), b.clone(), 1e-5)
            };
            let g = (y.clone() * random(y.dims(), 5, 1.0)).sum().backward();
            (values(w.grad(&g).unwrap()), values(b.grad(&g).unwrap()))
        };
        let (fw, fb) = grads_of(true);
        let (dw, db) = grads_of(false);
        assert_close(&fw, &dw, 1e-5, "layer_norm dweight");
        assert_close(&fb, &db, 1e-5, "layer_norm dbias");
    }
}

#[test]
fn rms_norm_equals_the_decomposed_ops_values_and_gradients() {
    let x = random([3, 11, 512], 4, 2.0);
    let w = random([512], 5, 1.0).add_scalar(1.0);
    let (fv, fg) = value_and_grads(std::slice::from_ref(&x), |t| {
        fused::rms_norm(t[0].clone(), w.clone(), 1e-6)
    });
    let (dv, dg) = value_and_grads(std::slice::from_ref(&x), |t| {
        decomposed::rms_norm(t[0].clone(), w.clone(), 1e-6)
    });
    assert_close(&fv, &dv, 2e-6, "rms_norm value");
    assert_close(&fg[0], &dg[0], 1e-5, "rms_norm dx");
    let wg = |fused_path: bool| {
        let w = w.clone().require_grad();
        let y = if fused_path {
            fused::rms_norm(x.clone(), w.clone(), 1e-6)
        } else {
            decomposed::rms_norm(x.clone(), w.clone(), 1e-6)
        };
        let g = (y.clone() * random(y.dims(), 6, 1.0)).sum().backward();
        values(w.grad(&g).unwrap())
    };
    assert_close(&wg(true), &wg(false), 1e-5, "rms_norm dweight");
}

#[test]
fn softmax_and_gelu_equal_the_decomposed_ops() {
    // Attention-like scores with masked (f32::MIN) entries, as GPT-2 fills them.
    let scores = random([2, 3, 9, 40], 7, 4.0);
    let mask = random([2, 3, 9, 40], 8, 1.0).greater_elem(0.6);
    let (fv, fg) = value_and_grads(std::slice::from_ref(&scores), |t| {
        fused::softmax_last(t[0].clone().mask_fill(mask.clone(), f32::MIN))
    });
    let (dv, dg) = value_and_grads(std::slice::from_ref(&scores), |t| {
        burn::tensor::activation::softmax(t[0].clone().mask_fill(mask.clone(), f32::MIN), 3)
    });
    assert_close(&fv, &dv, 1e-6, "softmax value");
    assert_close(&fg[0], &dg[0], 1e-5, "softmax grad");

    let x = random([4, 1000], 9, 6.0);
    let (fv, fg) = value_and_grads(std::slice::from_ref(&x), |t| fused::gelu_new(t[0].clone()));
    let (dv, dg) = value_and_grads(std::slice::from_ref(&x), |t| {
        decomposed::gelu_new(t[0].clone())
    });
    assert_close(&fv, &dv, 1e-6, "gelu_new value");
    assert_close(&fg[0], &dg[0], 1e-5, "gelu_new grad");
}

/// GPT-2's layout: queries, keys and values side by side in `[batch, seq, 3 width]`, a causal mask
/// plus left padding (so some queries see no key at all, as padded positions do).
#[test]
fn packed_attention_equals_the_decomposed_ops() {
    let (batch, seq, heads, d) = (3, 7, 2, 8);
    let width = heads * d;
    let qkv = random([batch, seq, 3 * width], 50, 1.5);
    let mut masked = vec![false; batch * seq * seq];
    for b in 0..batch {
        for i in 0..seq {
            for j in 0..seq {
                masked[(b * seq + i) * seq + j] = j > i || j < b; // future, or padding
            }
        }
    }
    let mask = Tensor::<B, 4, burn::tensor::Bool>::from_data(
        TensorData::new(masked, [batch, 1, seq, seq]),
        &Default::default(),
    );
    let split = |t: Tensor<B, 3>| t.reshape([batch, seq, heads, d]).swap_dims(1, 2);
    let (fv, fg) = value_and_grads(std::slice::from_ref(&qkv), |t| {
        fused::attention_packed(t[0].clone(), heads, Some(mask.clone()), 0.35).unsqueeze()
    });
    let (dv, dg) = value_and_grads(std::slice::from_ref(&qkv), |t| {
        let x = t[0].clone();
        let q = split(x.clone().narrow(2, 0, width));
        let k = split(x.clone().narrow(2, width, width));
        let v = split(x.narrow(2, 2 * width, width));
        decomposed::attention(q, k, v, None, Some(mask.clone()), 0.35).unsqueeze()
    });
    assert_close(&fv, &dv, 1e-5, "packed attention value");
    assert_close(&fg[0], &dg[0], 1e-4, "packed attention grad");
}

/// T5's layout: split-head views, an additive bias that gets a gradient, no scaling; queries
/// and keys of different lengths (cross-attention).
#[test]
fn attention_with_bias_equals_the_decomposed_ops() {
    let (batch, heads, q_len, k_len, d) = (2, 3, 5, 9, 8);
    let view = |t: Tensor<B, 3>, len| t.reshape([batch, len, heads, d]).swap_dims(1, 2);
    let q = random([batch, q_len, heads * d], 60, 1.0);
    let k = random([batch, k_len, heads * d], 61, 1.0);
    let v = random([batch, k_len, heads * d], 62, 1.0);
    let bias = random([1, heads, q_len, k_len], 63, 2.0);
    let pad = random([batch, 1, 1, k_len], 64, 1.0)
        .greater_elem(0.5)
        .float()
        .mul_scalar(f32::MIN);
    let run = |fused_path: bool| {
        let (q, k, v, bias) = (
            q.clone().require_grad(),
            k.clone().require_grad(),
            v.clone().require_grad(),
            bias.clone().require_grad(),
        );
        let (qv, kv, vv) = (
            view(q.clone(), q_len),
            view(k.clone(), k_len),
            view(v.clone(), k_len),
        );
        let full_bias = bias.clone() + pad.clone();
        let out = if fused_path {
            fused::attention(qv, kv, vv, Some(full_bias), None, 1.0)
        } else {
            decomposed::attention(qv, kv, vv, Some(full_bias), None, 1.0)
        };
        let g = (out.clone() * random(out.dims(), 65, 1.0)).sum().backward();
        let mut all = values(out);
        for t in [q, k, v] {
            all.extend(values(t.grad(&g).unwrap()));
        }
        all.extend(values(bias.grad(&g).unwrap()));
        all
    };
    assert_close(&run(true), &run(false), 1e-4, "attention with bias");
}

#[test]
fn linear_t_equals_the_decomposed_ops() {
    let x = random([70, 48], 70, 1.0);
    let w = random([33, 48], 71, 1.0);
    let run = |fused_path: bool| {
        let (x, w) = (x.clone().require_grad(), w.clone().require_grad());
        let y = if fused_path {
            fused::linear_t(x.clone(), w.clone())
        } else {
            x.clone().matmul(w.clone().transpose())
        };
        let g = (y.clone() * random(y.dims(), 72, 1.0)).sum().backward();
        let mut all = values(y);
        all.extend(values(x.grad(&g).unwrap()));
        all.extend(values(w.grad(&g).unwrap()));
        all
    };
    assert_close(&run(true), &run(false), 1e-5, "linear_t");
}

fn targets(batch: usize, len: usize, vocab: usize, seed: u64) -> Tensor<B, 2, Int> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let t: Vec<i64> = (0..batch * len)
        .map(|_| rng.random_range(0..vocab as i64))
        .collect();
    Tensor::from_data(TensorData::new(t, [batch, len]), &Default::default())
}

#[test]
fn target_logprobs_and_entropies_equal_the_decomposed_ops() {
    let (batch, len, vocab) = (3, 6, 1031);
    let logits = random([batch, len + 1, vocab], 10, 8.0);
    let tgt = targets(batch, len, vocab, 11);
    // A narrowed (non-contiguous) view, as the causal scorer passes it.
    let view = |t: Tensor<B, 3>| t.narrow(1, 0, len);
    let run = |fused_path: bool| {
        let l = logits.clone().require_grad();
        let (lp, h) = if fused_path {
            fused::target_logprobs(view(l.clone()), tgt.clone(), true)
        } else {
            decomposed::target_logprobs(view(l.clone()), tgt.clone(), true)
        };
        let (lp, h) = (lp, h.unwrap());
        let loss = (lp.clone() * random([batch, len], 12, 1.0)).sum()
            + (h.clone() * random([batch, len], 13, 1.0)).sum();
        let g = loss.backward();
        (values(lp), values(h), values(l.grad(&g).unwrap()))
    };
    let (flp, fh, fg) = run(true);
    let (dlp, dh, dg) = run(false);
    assert_close(&flp, &dlp, 1e-6, "log-probs");
    assert_close(&fh, &dh, 1e-5, "entropies");
    assert_close(&fg, &dg, 1e-5, "logit gradients");
    // The last position (outside the view) gets no gradient.
    assert!(fg[len * vocab..(len + 1) * vocab].iter().all(|&v| v == 0.0));

    // Log-probs alone: same values as with entropies.
    let (alone, none) = fused::target_logprobs(view(logits.clone()), tgt.clone(), false);
    assert!(none.is_none());
    assert_eq!(values(alone), flp);
}

/// Central differences of a scalar function of one input, at a few coordinates.
fn finite_difference_check(
    x: Tensor<B, 3>,
    f: impl Fn(Tensor<B, 3>) -> Tensor<B, 1>,
    coords: &[usize],
    what: &str,
) {
    let xg = x.clone().require_grad();
    let g = values(xg.grad(&f(xg.clone()).backward()).unwrap());
    let base = values(x.clone());
    let shape = x.dims();
    let h = 1e-2f32;
    for &i in coords {
        let at = |delta: f32| {
            let mut v = base.clone();
            v[i] += delta;
            let t = Tensor::<B, 3>::from_data(TensorData::new(v, shape), &Default::default());
            values(f(t))[0] as f64
        };
        let numeric = (at(h) - at(-h)) / (2.0 * h as f64);
        assert!(
            (numeric - g[i] as f64).abs() <= 2e-2 * numeric.abs().max(1.0),
            "{what}: d/dx[{i}] analytic {} vs finite difference {numeric}",
            g[i]
        );
    }
}

#[test]
fn gradients_match_finite_differences() {
    let coords = [0, 5, 17, 40, 63];
    let w = random([16], 20, 1.0).add_scalar(1.0);
    let b = random([16], 21, 1.0);
    let weights = random([2, 2, 16], 22, 1.0);
    finite_difference_check(
        random([2, 2, 16], 23, 2.0),
        |x| (fused::layer_norm(x, w.clone(), b.clone(), 1e-5) * weights.clone()).sum(),
        &coords,
        "layer_norm",
    );
    finite_difference_check(
        random([2, 2, 16], 24, 2.0),
        |x| (fused::rms_norm(x, w.clone(), 1e-6) * weights.clone()).sum(),
        &coords,
        "rms_norm",
    );
    finite_difference_check(
        random([2, 2, 16], 25, 3.0),
        |x| (fused::softmax_last(x) * weights.clone()).sum(),
        &coords,
        "softmax",
    );
    finite_difference_check(
        random([2, 2, 16], 26, 3.0),
        |x| (fused::gelu_new(x) * weights.clone()).sum(),
        &coords,
        "gelu_new",
    );
    let qkv_weights = random([2, 4, 8], 30, 1.0);
    finite_difference_check(
        random([2, 4, 24], 31, 1.0),
        |x| {
            let causal = Tensor::<B, 2, Int>::ones([4, 4], &Default::default())
                .triu(1)
                .bool()
                .reshape([1, 1, 4, 4]);
            (fused::attention_packed(x, 2, Some(causal), 0.5) * qkv_weights.clone()).sum()
        },
        &[0, 9, 30, 50, 71, 100, 150, 190],
        "attention",
    );
    let tgt = targets(2, 2, 16, 27);
    let wl = random([2, 2], 28, 1.0);
    finite_difference_check(
        random([2, 2, 16], 29, 3.0),
        |x| {
            let (lp, h) = fused::target_logprobs(x, tgt.clone(), true);
            (lp * wl.clone()).sum() + (h.unwrap() * wl.clone()).sum().mul_scalar(0.5)
        },
        &coords,
        "target_logprobs",
    );
}

/// On the inference backend (sampling) the fused forward gives what the autodiff one does.
#[test]
fn inference_backend_gives_the_same_values() {
    let x = random([2, 5, 64], 30, 2.0);
    let w = random([64], 31, 1.0);
    let b = random([64], 32, 1.0);
    let inner = |t: &Tensor<B, 3>| t.clone().inner();
    assert_eq!(
        values(fused::layer_norm(x.clone(), w.clone(), b.clone(), 1e-5)),
        values(fused::layer_norm::<Inner, 3>(
            inner(&x),
            w.clone().inner(),
            b.clone().inner(),
            1e-5
        ))
    );
    assert_eq!(
        values(fused::rms_norm(x.clone(), w.clone(), 1e-6)),
        values(fused::rms_norm::<Inner, 3>(
            inner(&x),
            w.clone().inner(),
            1e-6
        ))
    );
    assert_eq!(
        values(fused::softmax_last(x.clone())),
        values(fused::softmax_last(inner(&x)))
    );
    assert_eq!(
        values(fused::gelu_new(x.clone())),
        values(fused::gelu_new(inner(&x)))
    );
    let tgt = targets(2, 5, 64, 33);
    let (a, ha) = fused::target_logprobs(x.clone(), tgt.clone(), true);
    let (b2, hb) = fused::target_logprobs(inner(&x), tgt.inner(), true);
    assert_eq!(values(a), values(b2));
    assert_eq!(values(ha.unwrap()), values(hb.unwrap()));
}

fn tiny_gpt2() -> GPT2Config {
    GPT2Config {
        n_layer: 2,
        n_embd: 64,
        n_head: 4,
        vocab_size: 500,
        n_positions: 64,
        ..Default::default()
    }
}

/// Loss and every parameter gradient of a GPT-2 and a T5 train step's loss, flattened.
fn model_step() -> Vec<f32> {
    let device = Default::default();
    let gpt2 = GPT2LMHeadModel::<B>::init(tiny_gpt2(), 3, &device).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let ids: Vec<i64> = (0..4 * 24).map(|_| rng.random_range(0..500)).collect();
    let ids = Tensor::<B, 2, Int>::from_data(TensorData::new(ids, [4, 24]), &device);
    let mut mask_v = vec![1i64; 4 * 24];
    mask_v[..5].fill(0); // left padding in row 0
    let mask = Tensor::<B, 2, Int>::from_data(TensorData::new(mask_v, [4, 24]), &device);
    let scores = model::score_tokens(&gpt2, ids, mask);
    let loss = scores.logprobs.mean().neg() - scores.entropies.mean().mul_scalar(0.01);
    let grads = loss.clone().backward();
    let mut out = values(loss);
    out.extend(values(
        gpt2.transformer.wte.weight.val().grad(&grads).unwrap(),
    ));
    let block = &gpt2.transformer.h[1];
    out.extend(values(block.ln_1.weight.val().grad(&grads).unwrap()));
    out.extend(values(block.ln_2.bias.val().grad(&grads).unwrap()));
    out.extend(values(block.attn.c_attn.weight.val().grad(&grads).unwrap()));
    out.extend(values(block.mlp.c_fc.weight.val().grad(&grads).unwrap()));

    let t5_config = T5Config {
        vocab_size: 300,
        d_model: 64,
        d_kv: 16,
        d_ff: 128,
        num_layers: 2,
        num_decoder_layers: Some(2),
        num_heads: 4,
        ..Default::default()
    };
    let t5 = T5ForConditionalGeneration::<B>::init(t5_config, 5, &device).unwrap();
    let sources: Vec<Vec<u32>> = (0..3)
        .map(|i| (0..10 + i).map(|_| rng.random_range(2..300)).collect())
        .collect();
    let targets: Vec<Vec<u32>> = (0..3)
        .map(|i| (0..4 + i).map(|_| rng.random_range(2..300)).collect())
        .collect();
    let batch = model::Seq2SeqBatch::<B>::new(&sources, &targets, 0, 0, &device);
    let scores = model::score_seq2seq(&t5, &batch);
    let loss = scores.token_logprobs.sum().neg() - scores.token_entropies.sum().mul_scalar(0.01);
    let grads = loss.clone().backward();
    out.extend(values(loss));
    out.extend(values(t5.shared.val().grad(&grads).unwrap()));
    out
}

/// Whole models: the fused path gives the decomposed path's loss and gradients.
#[test]
fn models_give_the_decomposed_loss_and_gradients() {
    let _guard = SWITCH.lock().unwrap();
    fused::set_enabled(false);
    let decomposed_step = model_step();
    fused::set_enabled(true);
    let fused_step = model_step();
    assert_close(&fused_step, &decomposed_step, 1e-4, "model step");
}

/// Bit-identical losses and gradients on 1 and on 2 threads.
#[test]
fn results_do_not_depend_on_the_thread_count() {
    let _guard = SWITCH.lock().unwrap();
    fused::set_enabled(true);
    let on = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                // Large enough that the kernels split rows over several tasks.
                let x = random([8, 128, 384], 40, 2.0);
                let w = random([384], 41, 1.0);
                let b = random([384], 42, 1.0);
                let (v, g) = value_and_grads(std::slice::from_ref(&x), |t| {
                    fused::gelu_new(fused::layer_norm(t[0].clone(), w.clone(), b.clone(), 1e-5))
                });
                let logits = random([4, 64, 2048], 43, 5.0);
                let tgt = targets(4, 64, 2048, 44);
                let (lv, lg) = value_and_grads(&[logits], |t| {
                    let (lp, h) = fused::target_logprobs(t[0].clone(), tgt.clone(), true);
                    Tensor::stack::<3>(vec![lp, h.unwrap()], 2)
                });
                // Big enough for gemm's own parallelism.
                let (lx, lw) = (random([512, 256], 45, 1.0), random([384, 256], 46, 1.0));
                let (ly, lgrads) =
                    value_and_grads(&[lx, lw], |t| fused::linear_t(t[0].clone(), t[1].clone()));
                let mut all = v;
                all.extend(ly);
                all.extend(lgrads.concat());
                all.extend(g.concat());
                all.extend(lv);
                all.extend(lg.concat());
                all.extend(model_step());
                all
            })
    };
    let one = on(1);
    let two = on(2);
    assert_eq!(one.len(), two.len());
    let differ = one
        .iter()
        .zip(&two)
        .filter(|(a, b)| a.to_bits() != b.to_bits())
        .count();
    assert_eq!(
        differ,
        0,
        "{differ} of {} values differ between 1 and 2 threads",
        one.len()
    );
}

/// Empty batches go through (and give empty results of the right shapes).
#[test]
fn empty_inputs_are_fine() {
    let x = Tensor::<B, 3>::zeros([0, 4, 8], &Default::default());
    let w = random([8], 80, 1.0);
    assert_eq!(
        fused::layer_norm(x.clone(), w.clone(), w.clone(), 1e-5).dims(),
        [0, 4, 8]
    );
    assert_eq!(fused::softmax_last(x.clone()).dims(), [0, 4, 8]);
    let qkv = Tensor::<B, 3>::zeros([0, 4, 24], &Default::default()).require_grad();
    let out = fused::attention_packed(qkv.clone(), 2, None, 1.0);
    assert_eq!(out.dims(), [0, 4, 8]);
    let g = out.sum().backward();
    assert_eq!(qkv.grad(&g).unwrap().dims(), [0, 4, 24]);
}
