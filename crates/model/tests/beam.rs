//! Beam search against Hugging Face `generate(num_beams=...)` on the tiny random GPT-2 and T5 of
//! `scripts/make_model_fixtures.py` (`tests/fixtures/beam-cases.json`): identical tokens and
//! length-penalised scores, for several beam counts, length penalties, early-stopping modes,
//! min-new-token settings, with an EOS the beams emit and with none.

use std::path::PathBuf;

use burn::backend::Flex;
use model::{
    BeamConfig, EarlyStopping, GPT2LMHeadModel, SamplingConfig, T5ForConditionalGeneration,
    beam_search, beam_search_seq2seq, generate, generate_seq2seq,
};
use serde_json::Value;

type B = Flex;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn cases(model: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(fixtures().join("beam-cases.json")).unwrap();
    let all: Value = serde_json::from_str(&text).unwrap();
    all[model].as_array().unwrap().clone()
}

fn ids(v: &Value) -> Vec<Vec<u32>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_u64().unwrap() as u32)
                .collect()
        })
        .collect()
}

fn config(case: &Value, use_cache: bool) -> BeamConfig {
    BeamConfig {
        num_beams: case["num_beams"].as_u64().unwrap() as usize,
        max_new_tokens: case["max_new_tokens"].as_u64().unwrap() as usize,
        min_new_tokens: case["min_new_tokens"].as_u64().unwrap() as usize,
        length_penalty: case["length_penalty"].as_f64().unwrap(),
        early_stopping: match &case["early_stopping"] {
            Value::Bool(false) => EarlyStopping::Heuristic,
            Value::Bool(true) => EarlyStopping::Done,
            Value::String(s) if s == "never" => EarlyStopping::Never,
            other => panic!("early_stopping {other}"),
        },
        eos_token_id: case["eos_token_id"].as_u64().map(|t| t as u32),
        pad_token_id: 0,
        use_cache,
    }
}

fn check(case: &Value, got: model::BeamOutput, what: &str) {
    let expected_tokens = ids(&case["tokens"]);
    assert_eq!(got.tokens, expected_tokens, "{what}: {case}");
    for (i, (ours, theirs)) in got
        .scores
        .iter()
        .zip(case["scores"].as_array().unwrap())
        .enumerate()
    {
        let theirs = theirs.as_f64().unwrap() as f32;
        assert!(
            (ours - theirs).abs() <= 1e-4 * theirs.abs().max(1.0),
            "{what}: row {i} score {ours} vs HF {theirs}"
        );
    }
    for (lp, sum) in got.logprobs.iter().zip(&got.sequence_logprobs) {
        assert!((lp.iter().sum::<f32>() - sum).abs() <= 1e-4);
    }
}

#[test]
fn gpt2_beam_search_matches_hf() {
    let model: GPT2LMHeadModel<B> =
        GPT2LMHeadModel::load(fixtures().join("gpt2-tiny"), &Default::default()).unwrap();
    let cases = cases("gpt2");
    assert!(cases.len() >= 10);
    let mut with_eos = 0;
    for case in &cases {
        let prompts = ids(&case["prompts"]);
        for use_cache in [true, false] {
            let out = beam_search(
                &model,
                &prompts,
                &config(case, use_cache),
                &Default::default(),
            );
            with_eos += out
                .tokens
                .iter()
                .filter(|t| case["eos_token_id"].as_u64().map(|e| e as u32) == t.last().copied())
                .count();
            check(case, out, &format!("gpt2 use_cache={use_cache}"));
        }
    }
    assert!(with_eos > 0, "some hypotheses must end in EOS");
}

#[test]
fn t5_beam_search_matches_hf() {
    let model: T5ForConditionalGeneration<B> =
        T5ForConditionalGeneration::load(fixtures().join("t5-tiny"), &Default::default()).unwrap();
    let cases = cases("t5");
    assert!(cases.len() >= 10);
    for case in &cases {
        let sources = ids(&case["prompts"]);
        for use_cache in [true, false] {
            let out = beam_search_seq2seq(
                &model,
                &sources,
                &config(case, use_cache),
                &Default::default(),
            );
            check(case, out, &format!("t5 use_cache={use_cache}"));
        }
    }
}

/// One beam is greedy decoding.
#[test]
fn one_beam_is_greedy() {
    let device = Default::default();
    let gpt2: GPT2LMHeadModel<B> =
        GPT2LMHeadModel::load(fixtures().join("gpt2-tiny"), &device).unwrap();
    let t5: T5ForConditionalGeneration<B> =
        T5ForConditionalGeneration::load(fixtures().join("t5-tiny"), &device).unwrap();
    let prompts = vec![vec![3, 17, 99, 4], vec![42], vec![7, 8, 9]];
    let beam = BeamConfig {
        num_beams: 1,
        max_new_tokens: 7,
        ..Default::default()
    };
    let greedy = SamplingConfig {
        greedy: true,
        max_new_tokens: 7,
        ..Default::default()
    };
    let a = beam_search(&gpt2, &prompts, &beam, &device);
    let b = generate(&gpt2, &prompts, &greedy, &device);
    assert_eq!(a.tokens, b.tokens);
    let a = beam_search_seq2seq(&t5, &prompts, &beam, &device);
    let b = generate_seq2seq(&t5, &prompts, &greedy, &device);
    assert_eq!(a.tokens, b.tokens);
    for (x, y) in a.sequence_logprobs.iter().zip(&b.sequence_logprobs) {
        assert!((x - y).abs() <= 1e-4);
    }
}
