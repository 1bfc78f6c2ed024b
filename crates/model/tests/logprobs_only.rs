//! The log-prob-only scorers (what an SFT loss uses) equal the log-probs of the full scorers,
//! values and gradients, on the tiny HF fixture models.

use std::path::PathBuf;

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use model::{
    CausalBatch, CpuBackend, GPT2LMHeadModel, Seq2SeqBatch, T5ForConditionalGeneration,
    completion_logprobs, score_completions, score_seq2seq, score_tokens, seq2seq_logprobs,
    token_logprobs,
};

type B = CpuBackend;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn values<Bk: Backend, const D: usize>(t: Tensor<Bk, D>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}

#[test]
fn logprob_only_scorers_equal_the_full_scorers() {
    let device = Default::default();
    let gpt2 = GPT2LMHeadModel::<B>::load(fixtures().join("gpt2-tiny"), &device).unwrap();
    let batch = CausalBatch::<B>::new(
        &[vec![3, 17, 99], vec![42]],
        &[vec![5, 6], vec![7, 8, 9, 10]],
        0,
        &device,
    );
    let full = score_completions(&gpt2, &batch).token_logprobs;
    let only = completion_logprobs(&gpt2, &batch);
    assert_eq!(values(full.clone()), values(only.clone()));
    assert!(values(only.clone()).iter().any(|&x| x < 0.0));
    let tokens = score_tokens(&gpt2, batch.input_ids.clone(), batch.attention_mask.clone());
    let plain = token_logprobs(&gpt2, batch.input_ids.clone(), batch.attention_mask.clone());
    assert_eq!(values(tokens.logprobs), values(plain));
    // Same gradients.
    let wte = |loss: Tensor<B, 1>| {
        let grads = loss.backward();
        values(gpt2.transformer.wte.weight.val().grad(&grads).unwrap())
    };
    assert_eq!(wte(full.sum()), wte(only.sum()));

    let t5 = T5ForConditionalGeneration::<B>::load(fixtures().join("t5-tiny"), &device).unwrap();
    let batch = Seq2SeqBatch::<B>::new(
        &[vec![4, 5, 6, 1], vec![7, 1]],
        &[vec![6, 5, 1], vec![9, 8, 7, 1]],
        0,
        0,
        &device,
    );
    let full = score_seq2seq(&t5, &batch).token_logprobs;
    let only = seq2seq_logprobs(&t5, &batch);
    assert_eq!(values(full), values(only));
}
