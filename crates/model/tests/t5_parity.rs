//! T5 against Hugging Face `transformers` on the tiny random model of `scripts/make_model_fixtures.py`.

use std::path::PathBuf;

use burn::backend::Flex;
use burn::tensor::{Int, Tensor};
use model::T5ForConditionalGeneration;
use model::weights::SafeTensorsFile;

type B = Flex;
type Ids = Tensor<B, 2, Int>;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn inputs() -> (SafeTensorsFile, Ids, Ids, Ids) {
    let device = Default::default();
    let cases = SafeTensorsFile::open(fixtures().join("t5-tiny-cases.safetensors")).unwrap();
    let ids = cases.int_tensor("input_ids", &device).unwrap();
    let mask = cases.int_tensor("attention_mask", &device).unwrap();
    let dec = cases.int_tensor("decoder_input_ids", &device).unwrap();
    (cases, ids, mask, dec)
}

#[test]
fn t5_logits_match_hf_with_padded_encoder_inputs() {
    let model =
        T5ForConditionalGeneration::<B>::load(fixtures().join("t5-tiny"), &Default::default())
            .unwrap();
    let (cases, ids, mask, dec) = inputs();
    let ours: Vec<f32> = model
        .forward(ids, mask, dec)
        .into_data()
        .iter::<f32>()
        .collect();
    let shape = cases.shape("logits").unwrap();
    let expected = cases.f32_values("logits", &shape).unwrap();
    let diff = ours
        .iter()
        .zip(&expected)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    println!("t5: max |logit diff| = {diff:e}");
    assert_eq!(ours.len(), expected.len());
    assert!(diff <= 1e-4, "{diff}");
}

#[test]
fn t5_greedy_tokens_match_hf() {
    let model =
        T5ForConditionalGeneration::<B>::load(fixtures().join("t5-tiny"), &Default::default())
            .unwrap();
    let (cases, ids, mask, _) = inputs();
    let (shape, expected) = cases.i64_values("greedy").unwrap();
    let ours = model.greedy(ids, mask, shape[1]);
    let ours: Vec<i64> = ours.iter().flatten().map(|&t| t as i64).collect();
    assert_eq!(ours, expected);
}

#[test]
fn t5_save_then_load_round_trips() {
    let device = Default::default();
    let model = T5ForConditionalGeneration::<B>::load(fixtures().join("t5-tiny"), &device).unwrap();
    let dir = tempfile::tempdir().unwrap();
    model.save(dir.path()).unwrap();
    let original = SafeTensorsFile::open(fixtures().join("t5-tiny/model.safetensors")).unwrap();
    let saved = SafeTensorsFile::open(dir.path().join("model.safetensors")).unwrap();
    let (mut a, mut b) = (original.names(), saved.names());
    a.sort();
    b.sort();
    assert_eq!(a, b);
    for name in &a {
        let shape = original.shape(name).unwrap();
        assert_eq!(
            original.f32_values(name, &shape).unwrap(),
            saved.f32_values(name, &shape).unwrap(),
            "{name}"
        );
    }
}
