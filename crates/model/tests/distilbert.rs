//! DistilBERT, `pytorch_model.bin` and RL4LMs' learned reward against Hugging Face `transformers`,
//! on the tiny random models `scripts/make_hub_fixtures.py` builds (fixtures under
//! `tests/fixtures/`).

use std::path::{Path, PathBuf};

use burn::backend::Flex;
use burn::tensor::{Int, Tensor};
use model::distilbert::DistilBertClassifier;
use model::weights::{ModelError, SafeTensorsFile};
use model::{CpuBackend, DistilBertConfig, DistilBertForSequenceClassification, GPT2LMHeadModel};

type B = Flex;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn cases() -> SafeTensorsFile {
    SafeTensorsFile::open(fixtures().join("distilbert-tiny-cases.safetensors")).unwrap()
}

fn floats(file: &SafeTensorsFile, name: &str) -> Vec<f32> {
    let shape = file.shape(name).unwrap();
    file.f32_values(name, &shape).unwrap()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()))
}

fn logits(dir: &Path) -> Vec<f32> {
    let device = Default::default();
    let model = DistilBertForSequenceClassification::<B>::load(dir, &device).unwrap();
    let cases = cases();
    let ids: Tensor<B, 2, Int> = cases.int_tensor("input_ids", &device).unwrap();
    let mask: Tensor<B, 2, Int> = cases.int_tensor("attention_mask", &device).unwrap();
    model
        .forward(ids, mask.float())
        .into_data()
        .iter::<f32>()
        .collect()
}

#[test]
fn distilbert_logits_match_transformers_on_a_padded_batch() {
    let ours = logits(&fixtures().join("distilbert-tiny"));
    let expected = floats(&cases(), "logits");
    let diff = max_diff(&ours, &expected);
    println!("DistilBERT logits: max |ours - transformers| = {diff:e}");
    assert!(diff <= 1e-4, "max |diff| {diff}");
}

#[test]
fn distilbert_from_pytorch_model_bin_equals_the_safetensors_checkpoint() {
    let from_bin = logits(&fixtures().join("distilbert-tiny-bin"));
    let from_safetensors = logits(&fixtures().join("distilbert-tiny"));
    assert_eq!(from_bin, from_safetensors);
}

/// The log-likelihood of labels and its gradients against `torch.autograd`: the module trains.
#[test]
fn distilbert_gradients_match_torch() {
    let device = Default::default();
    let model: DistilBertForSequenceClassification<CpuBackend> =
        DistilBertForSequenceClassification::load(fixtures().join("distilbert-tiny"), &device)
            .unwrap();
    let cases = cases();
    let ids: Tensor<CpuBackend, 2, Int> = cases.int_tensor("input_ids", &device).unwrap();
    let mask: Tensor<CpuBackend, 2, Int> = cases.int_tensor("attention_mask", &device).unwrap();
    let labels: Tensor<CpuBackend, 2, Int> = cases
        .int_tensor::<CpuBackend, 1>("labels", &device)
        .unwrap()
        .unsqueeze_dim(1);
    let logp = burn::tensor::activation::log_softmax(model.forward(ids, mask.float()), 1);
    let loglik = logp.gather(1, labels).sum();
    let value: f32 = loglik.clone().into_scalar();
    let expected = floats(&cases, "loglik")[0];
    assert!((value - expected).abs() <= 1e-4, "{value} vs {expected}");
    let grads = loglik.backward();
    let layer = &model.layers[0];
    let checks = [
        // burn's Linear holds [in, out]; torch's [out, in].
        (
            "classifier.weight",
            model
                .classifier
                .weight
                .val()
                .grad(&grads)
                .map(|g| g.transpose()),
        ),
        (
            "distilbert.transformer.layer.0.attention.q_lin.weight",
            layer
                .attention
                .query
                .weight
                .val()
                .grad(&grads)
                .map(|g| g.transpose()),
        ),
        (
            "distilbert.embeddings.word_embeddings.weight",
            model.word_embeddings.weight.val().grad(&grads),
        ),
    ];
    for (name, grad) in checks {
        let ours: Vec<f32> = grad
            .expect("parameter has a gradient")
            .into_data()
            .iter::<f32>()
            .collect();
        let expected = floats(&cases, &format!("grad.{name}"));
        let scale = expected.iter().fold(0f32, |m, x| m.max(x.abs()));
        let diff = max_diff(&ours, &expected);
        println!("grad {name}: max |diff| = {diff:e} (max |grad| = {scale:e})");
        assert!(
            scale > 0.0 && diff <= 1e-4 * scale.max(1.0),
            "{name}: {diff}"
        );
    }
}

#[test]
fn distilbert_save_then_load_round_trips_in_hugging_face_layout() {
    let device = Default::default();
    let config = DistilBertConfig {
        vocab_size: 40,
        max_position_embeddings: 16,
        n_layers: 2,
        n_heads: 2,
        dim: 8,
        hidden_dim: 12,
        ..Default::default()
    }
    .with_num_labels(3);
    let model = DistilBertForSequenceClassification::<B>::init(config, 7, &device).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    model.save(tmp.path()).unwrap();
    let again = DistilBertForSequenceClassification::<B>::load(tmp.path(), &device).unwrap();
    let ids = Tensor::<B, 2, Int>::from_data([[2, 5, 9, 3], [2, 7, 3, 0]], &device);
    let mask = Tensor::<B, 2>::from_data([[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 0.0]], &device);
    let a: Vec<f32> = model
        .forward(ids.clone(), mask.clone())
        .into_data()
        .iter()
        .collect();
    let b: Vec<f32> = again.forward(ids, mask).into_data().iter().collect();
    assert_eq!(a.len(), 2 * 3);
    assert_eq!(a, b);
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("config.json")).unwrap())
            .unwrap();
    assert_eq!(config["model_type"], "distilbert");
    assert_eq!(
        config["architectures"][0],
        "DistilBertForSequenceClassification"
    );
    assert_eq!(config["id2label"]["2"], "LABEL_2");
    assert_eq!(config["label2id"]["LABEL_2"], 2);
    // The padding row starts at zero, as `nn.Embedding(padding_idx=0)`.
    let pad: f32 = model
        .word_embeddings
        .weight
        .val()
        .narrow(0, 0, 1)
        .abs()
        .sum()
        .into_scalar();
    assert_eq!(pad, 0.0);
}

/// RL4LMs' `LearnedBatchedRewardFunction` as the fixture script ran it in Python: prompt +
/// generation, left truncation at `model_max_length`, softmax, the probability of `label_ix`.
#[test]
fn learned_reward_probabilities_match_rl4lms_with_transformers() {
    let device = Default::default();
    let classifier =
        DistilBertClassifier::<B>::load(&fixtures().join("distilbert-tiny"), &device).unwrap();
    let text = std::fs::read_to_string(fixtures().join("distilbert-tiny-reward.json")).unwrap();
    let fixture: serde_json::Value = serde_json::from_str(&text).unwrap();
    let strings = |key: &str| -> Vec<String> {
        fixture[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    let (prompts, generations) = (strings("prompts"), strings("generations"));
    let mut max = 0f32;
    for case in fixture["cases"].as_array().unwrap() {
        let include_prompt = case["include_prompt_for_eval"].as_bool().unwrap();
        let label_ix = case["label_ix"].as_u64().unwrap() as usize;
        let texts: Vec<String> = prompts
            .iter()
            .zip(&generations)
            .map(|(p, g)| {
                if include_prompt {
                    format!("{p}{g}")
                } else {
                    g.clone()
                }
            })
            .collect();
        for (text, ids) in texts.iter().zip(case["input_ids"].as_array().unwrap()) {
            let ids: Vec<u32> = ids
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_u64().unwrap() as u32)
                .collect();
            assert_eq!(classifier.encode(text).unwrap(), ids, "{text:?}");
        }
        // Batches of 2, unlike Python's one batch: padding must not change any probability.
        let probs = classifier.probabilities(&texts, 2).unwrap();
        let ours: Vec<f32> = probs.iter().map(|p| p[label_ix]).collect();
        let expected: Vec<f32> = case["rewards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_f64().unwrap() as f32)
            .collect();
        max = max.max(max_diff(&ours, &expected));
    }
    println!("learned reward: max |ours - RL4LMs/transformers| = {max:e}");
    assert!(max <= 1e-4, "{max}");
}

#[test]
fn gpt2_pytorch_model_bin_with_tied_head_and_mask_buffers_matches_transformers() {
    let dir = fixtures().join("gpt2-bin-tiny");
    let device = Default::default();
    let model = GPT2LMHeadModel::<B>::load(&dir, &device).unwrap();
    let cases = SafeTensorsFile::open(dir.join("cases.safetensors")).unwrap();
    let ids: Tensor<B, 2, Int> = cases.int_tensor("input_ids", &device).unwrap();
    let mask = Tensor::<B, 2, Int>::ones(ids.dims(), &device);
    let ours: Vec<f32> = model
        .forward(ids, mask, None, None)
        .into_data()
        .iter()
        .collect();
    let diff = max_diff(&ours, &floats(&cases, "logits"));
    println!("GPT-2 from pytorch_model.bin: max |logit diff| = {diff:e}");
    assert!(diff <= 1e-4, "{diff}");

    // The extra keys are read too: a uint8 mask buffer, and a transposed view of a shared storage.
    let tensors = model::torch_pickle::read_tensors(&dir.join("pytorch_model.bin")).unwrap();
    let get = |name: &str| &tensors.iter().find(|(n, _)| n == name).unwrap().1;
    assert_eq!(get("transformer.h.0.attn.bias").shape, vec![1, 1, 16, 16]);
    assert_eq!(
        get("transformer.h.0.attn.bias").dtype,
        safetensors::Dtype::U8
    );
    assert_eq!(
        get("lm_head.weight").data,
        get("transformer.wte.weight").data
    );
    let view: Vec<f32> = get("extra.transposed_view")
        .data
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(view, floats(&cases, "transposed_view"));
}

#[test]
fn checkpoint_errors_name_the_directory_and_the_fix() {
    let device = Default::default();
    let err = |dir: &Path| {
        DistilBertForSequenceClassification::<B>::load(dir, &device).expect_err("load fails")
    };
    // Wrong architecture.
    let msg = err(&fixtures().join("gpt2-tiny")).to_string();
    assert!(
        msg.contains("model_type `gpt2`") && msg.contains("gpt2-tiny"),
        "{msg}"
    );
    // No weights.
    let tmp = tempfile::tempdir().unwrap();
    let src = fixtures().join("distilbert-tiny");
    std::fs::copy(src.join("config.json"), tmp.path().join("config.json")).unwrap();
    let msg = err(tmp.path()).to_string();
    assert!(
        msg.contains("neither model.safetensors nor pytorch_model.bin"),
        "{msg}"
    );
    // A config that does not fit the weights: the tensor and both shapes are named.
    let config = std::fs::read_to_string(src.join("config.json"))
        .unwrap()
        .replace("\"vocab_size\": 58", "\"vocab_size\": 59");
    std::fs::write(tmp.path().join("config.json"), config).unwrap();
    std::fs::copy(
        src.join("model.safetensors"),
        tmp.path().join("model.safetensors"),
    )
    .unwrap();
    match err(tmp.path()) {
        ModelError::ShapeMismatch { name, found, .. } => {
            assert_eq!(name, "distilbert.embeddings.word_embeddings.weight");
            assert_eq!(found, vec![58, 16]);
        }
        other => panic!("expected a shape mismatch, got {other}"),
    }
    // No config at all.
    let empty = tempfile::tempdir().unwrap();
    let msg = err(empty.path()).to_string();
    assert!(msg.contains("config.json is missing"), "{msg}");
}
