//! GPT-2 against Hugging Face `transformers` on the tiny random model that
//! `scripts/make_model_fixtures.py` builds (fixtures under `tests/fixtures/`).

use std::path::PathBuf;

use burn::backend::Flex;
use burn::tensor::{Int, Tensor};
use model::weights::{ModelError, SafeTensorsFile};
use model::{
    CausalBatch, CpuBackend, GPT2Config, GPT2LMHeadModel, SamplingConfig, generate, score_tokens,
};

type B = Flex;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn cases() -> SafeTensorsFile {
    SafeTensorsFile::open(fixtures().join("gpt2-tiny-cases.safetensors")).unwrap()
}

fn load() -> GPT2LMHeadModel<B> {
    GPT2LMHeadModel::load(fixtures().join("gpt2-tiny"), &Default::default()).unwrap()
}

fn ints(cases: &SafeTensorsFile, name: &str) -> (Vec<usize>, Vec<i64>) {
    cases.i64_values(name).unwrap()
}

fn floats(cases: &SafeTensorsFile, name: &str) -> Vec<f32> {
    let shape = cases.shape(name).unwrap();
    cases.f32_values(name, &shape).unwrap()
}

/// Max |ours - HF| over the positions whose token is real (padding positions are not compared).
fn max_logit_diff(model: &GPT2LMHeadModel<B>, tag: &str) -> f32 {
    let device = Default::default();
    let cases = cases();
    let ids: Tensor<B, 2, Int> = cases
        .int_tensor(&format!("{tag}.input_ids"), &device)
        .unwrap();
    let mask: Tensor<B, 2, Int> = cases
        .int_tensor(&format!("{tag}.attention_mask"), &device)
        .unwrap();
    let (_, mask_host) = ints(&cases, &format!("{tag}.attention_mask"));
    let expected = floats(&cases, &format!("{tag}.logits"));
    let ours: Vec<f32> = model
        .forward(ids, mask, None, None)
        .into_data()
        .iter::<f32>()
        .collect();
    assert_eq!(ours.len(), expected.len());
    let vocab = model.config.vocab_size;
    let mut max = 0f32;
    for (pos, &m) in mask_host.iter().enumerate() {
        if m == 1 {
            for v in 0..vocab {
                let i = pos * vocab + v;
                max = max.max((ours[i] - expected[i]).abs());
            }
        }
    }
    max
}

#[test]
fn gpt2_logits_match_hf_without_padding() {
    let diff = max_logit_diff(&load(), "plain");
    println!("gpt2 plain: max |logit diff| = {diff:e}");
    assert!(diff <= 1e-4, "max |logit diff| {diff}");
}

#[test]
fn gpt2_logits_match_hf_with_left_padding() {
    let diff = max_logit_diff(&load(), "padded");
    println!("gpt2 padded: max |logit diff| = {diff:e}");
    assert!(diff <= 1e-4, "max |logit diff| {diff}");
}

/// Prompts as token lists, left padding removed.
fn prompts(cases: &SafeTensorsFile, tag: &str) -> Vec<Vec<u32>> {
    let (shape, ids) = ints(cases, &format!("{tag}.input_ids"));
    let (_, mask) = ints(cases, &format!("{tag}.attention_mask"));
    (0..shape[0])
        .map(|b| {
            (0..shape[1])
                .filter(|&t| mask[b * shape[1] + t] == 1)
                .map(|t| ids[b * shape[1] + t] as u32)
                .collect()
        })
        .collect()
}

#[test]
fn gpt2_greedy_tokens_match_hf() {
    let model = load();
    let cases = cases();
    for tag in ["plain", "padded"] {
        let (shape, expected) = ints(&cases, &format!("{tag}.greedy"));
        for use_cache in [true, false] {
            let config = SamplingConfig {
                greedy: true,
                max_new_tokens: shape[1],
                use_cache,
                ..Default::default()
            };
            let out = generate(&model, &prompts(&cases, tag), &config, &Default::default());
            let ours: Vec<i64> = out.tokens.iter().flatten().map(|&t| t as i64).collect();
            assert_eq!(ours, expected, "{tag}, use_cache={use_cache}");
        }
    }
}

/// Gradient of the teacher-forced log-likelihood against `torch.autograd` on the padded batch.
#[test]
fn gpt2_loglik_gradients_match_torch() {
    let device = Default::default();
    let model: GPT2LMHeadModel<CpuBackend> =
        GPT2LMHeadModel::load(fixtures().join("gpt2-tiny"), &device).unwrap();
    let cases = cases();
    let ids: Tensor<CpuBackend, 2, Int> = cases.int_tensor("padded.input_ids", &device).unwrap();
    let mask: Tensor<CpuBackend, 2, Int> =
        cases.int_tensor("padded.attention_mask", &device).unwrap();
    let [batch, seq] = ids.dims();
    let scores = score_tokens(&model, ids, mask.clone());
    let mask = mask.float();
    let weight = mask.clone().narrow(1, 0, seq - 1) * mask.narrow(1, 1, seq - 1);
    let loglik = (scores.logprobs * weight).sum();
    let value: f32 = loglik.clone().into_scalar();
    let expected_value = floats(&cases, "padded.loglik")[0];
    assert!(
        (value - expected_value).abs() <= 1e-3,
        "loglik {value} vs torch {expected_value}"
    );
    assert_eq!(batch, 3);

    let grads = loglik.backward();
    let h = &model.transformer.h;
    let checks = [
        ("wte", model.transformer.wte.weight.val().grad(&grads)),
        ("h0_c_attn", h[0].attn.c_attn.weight.val().grad(&grads)),
        (
            "h1_ln_2",
            h[1].ln_2
                .weight
                .val()
                .grad(&grads)
                .map(|g| g.unsqueeze::<2>()),
        ),
    ];
    for (name, grad) in checks {
        let ours: Vec<f32> = grad
            .expect("parameter has a gradient")
            .into_data()
            .iter::<f32>()
            .collect();
        let expected = floats(&cases, &format!("padded.grad.{name}"));
        assert_eq!(ours.len(), expected.len(), "{name}");
        let scale = expected.iter().fold(0f32, |m, x| m.max(x.abs()));
        let diff = ours
            .iter()
            .zip(&expected)
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        println!("grad {name}: max |diff| = {diff:e} (max |grad| = {scale:e})");
        assert!(
            diff <= 1e-4 * scale.max(1.0),
            "grad {name}: max |diff| {diff}"
        );
    }
}

#[test]
fn gpt2_save_then_load_round_trips() {
    let model = load();
    let dir = tempfile::tempdir().unwrap();
    model.save(dir.path()).unwrap();
    let reloaded: GPT2LMHeadModel<B> =
        GPT2LMHeadModel::load(dir.path(), &Default::default()).unwrap();
    assert_eq!(reloaded.config, {
        let mut c = model.config.clone();
        c.extra.insert("model_type".into(), "gpt2".into());
        c.extra.insert(
            "architectures".into(),
            serde_json::json!(["GPT2LMHeadModel"]),
        );
        c
    });
    // Same tensor names and shapes as the file Hugging Face wrote.
    let original = SafeTensorsFile::open(fixtures().join("gpt2-tiny/model.safetensors")).unwrap();
    let saved = SafeTensorsFile::open(dir.path().join("model.safetensors")).unwrap();
    let (mut a, mut b) = (original.names(), saved.names());
    a.sort();
    b.sort();
    assert_eq!(a, b);
    for name in &a {
        assert_eq!(original.shape(name), saved.shape(name), "{name}");
        let shape = original.shape(name).unwrap();
        assert_eq!(
            original.f32_values(name, &shape).unwrap(),
            saved.f32_values(name, &shape).unwrap(),
            "{name}"
        );
    }
    assert_eq!(
        max_logit_diff(&reloaded, "plain"),
        max_logit_diff(&model, "plain")
    );
}

#[test]
fn gpt2_load_errors_name_the_tensor_and_shapes() {
    let device = Default::default();
    let weights = SafeTensorsFile::open(fixtures().join("gpt2-tiny/model.safetensors")).unwrap();
    let config: GPT2Config =
        model::weights::read_json(fixtures().join("gpt2-tiny/config.json")).unwrap();

    let wider = GPT2Config {
        n_positions: 64,
        ..config.clone()
    };
    let err = GPT2LMHeadModel::<B>::from_safetensors(wider, &weights, &device).unwrap_err();
    assert!(matches!(err, ModelError::ShapeMismatch { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("transformer.wpe.weight")
            && msg.contains("[32, 32]")
            && msg.contains("[64, 32]"),
        "{msg}"
    );

    let deeper = GPT2Config {
        n_layer: 3,
        ..config
    };
    let err = GPT2LMHeadModel::<B>::from_safetensors(deeper, &weights, &device).unwrap_err();
    assert!(matches!(err, ModelError::MissingTensor { .. }), "{err}");
    assert!(
        err.to_string().contains("transformer.h.2.ln_1.weight"),
        "{err}"
    );
}

#[test]
fn causal_batch_lays_out_prompts_and_completions() {
    let device = Default::default();
    let batch = CausalBatch::<B>::new(&[vec![5, 6], vec![7]], &[vec![8], vec![9, 10]], 0, &device);
    let ids: Vec<i64> = batch.input_ids.into_data().iter::<i64>().collect();
    let mask: Vec<i64> = batch.attention_mask.into_data().iter::<i64>().collect();
    let completion: Vec<f32> = batch.completion_mask.into_data().iter::<f32>().collect();
    assert_eq!(ids, [5, 6, 8, 0, 0, 7, 9, 10]);
    assert_eq!(mask, [1, 1, 1, 0, 0, 1, 1, 1]);
    // Targets are ids[:, 1:]: row 0 -> [6, 8, 0], row 1 -> [7, 9, 10].
    assert_eq!(completion, [0.0, 1.0, 0.0, 0.0, 1.0, 1.0]);
    assert_eq!(batch.prompt_width, 2);
}
