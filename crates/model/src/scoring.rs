//! Teacher-forced scoring of causal (GPT-2) and encoder-decoder (T5) language models: the
//! log-probabilities (and entropies) that the SFT, REINFORCE and PPO losses are built from, each in
//! one batched forward pass that keeps the autodiff graph.
//!
//! * [`score_tokens`]: log-probabilities and entropies of every next token; [`token_logprobs`]: the
//!   log-probabilities alone (no entropy pass, for cross-entropy losses).
//! * [`CausalBatch`]: prompts (left-padded) followed by completions (right-padded) in one batch,
//!   with the mask of completion tokens; [`score_completions`] / [`completion_logprobs`] score the
//!   completions.
//! * [`Seq2SeqBatch`] + [`score_seq2seq`] / [`seq2seq_logprobs`]: the same for an
//!   encoder-decoder: sources right-padded, targets teacher-forced after the decoder start token.

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};

use crate::fused;
use crate::lm::{CausalLM, Seq2SeqLM};

/// Per-token scores of a batch of sequences, aligned with the targets `input_ids[:, 1:]`.
#[derive(Debug, Clone)]
pub struct TokenScores<B: Backend> {
    /// `[batch, seq - 1]`: `log p(x[t+1] | x[..=t])`.
    pub logprobs: Tensor<B, 2>,
    /// `[batch, seq - 1]`: entropy (nats) of the next-token distribution after `x[..=t]`.
    pub entropies: Tensor<B, 2>,
}

/// Teacher-forced next-token log-probabilities and entropies, `[batch, seq - 1]` each, in one
/// forward pass; gradients flow to the model's parameters on an autodiff backend.
pub fn score_tokens<B: Backend, M: CausalLM<B>>(
    model: &M,
    input_ids: Tensor<B, 2, Int>,
    attention_mask: Tensor<B, 2, Int>,
) -> TokenScores<B> {
    let (logits, targets) = next_token_logits(model, input_ids, attention_mask);
    scores_of_targets(logits, targets)
}

/// Teacher-forced next-token log-probabilities only, `[batch, seq - 1]`: what a cross-entropy
/// (SFT) loss needs. [`score_tokens`] also computes entropies, one more `exp` and product over
/// `[batch, seq - 1, vocab]`, which SFT does not use.
pub fn token_logprobs<B: Backend, M: CausalLM<B>>(
    model: &M,
    input_ids: Tensor<B, 2, Int>,
    attention_mask: Tensor<B, 2, Int>,
) -> Tensor<B, 2> {
    let (logits, targets) = next_token_logits(model, input_ids, attention_mask);
    fused::target_logprobs(logits, targets, false).0
}

/// Logits `[batch, seq - 1, vocab]` of each position's next token, and those tokens.
fn next_token_logits<B: Backend, M: CausalLM<B>>(
    model: &M,
    input_ids: Tensor<B, 2, Int>,
    attention_mask: Tensor<B, 2, Int>,
) -> (Tensor<B, 3>, Tensor<B, 2, Int>) {
    let seq = input_ids.dims()[1];
    assert!(seq >= 2, "scoring needs at least two tokens per sequence");
    let logits = model.logits(input_ids.clone(), attention_mask, None);
    (
        logits.narrow(1, 0, seq - 1),
        input_ids.narrow(1, 1, seq - 1),
    )
}

/// `log softmax(logits)` at `targets` and the entropy of `softmax(logits)`, `[batch, len]` each,
/// for logits `[batch, len, vocab]` and targets `[batch, len]` ([`fused::target_logprobs`]).
fn scores_of_targets<B: Backend>(
    logits: Tensor<B, 3>,
    targets: Tensor<B, 2, Int>,
) -> TokenScores<B> {
    let (logprobs, entropies) = fused::target_logprobs(logits, targets, true);
    TokenScores {
        logprobs,
        entropies: entropies.expect("asked for"),
    }
}

/// Prompts and completions laid out for one teacher-forced pass:
/// `[pad.. prompt completion pad..]`, prompts left-padded to a common end so completions start in
/// the same column, and completions right-padded.
#[derive(Debug, Clone)]
pub struct CausalBatch<B: Backend> {
    pub input_ids: Tensor<B, 2, Int>,
    pub attention_mask: Tensor<B, 2, Int>,
    /// `[batch, seq - 1]`, 1.0 where the target `input_ids[:, t + 1]` is a completion token.
    pub completion_mask: Tensor<B, 2>,
    /// Length of the (padded) prompt block: completions start at this column.
    pub prompt_width: usize,
}

impl<B: Backend> CausalBatch<B> {
    pub fn new(
        prompts: &[Vec<u32>],
        completions: &[Vec<u32>],
        pad_token_id: u32,
        device: &B::Device,
    ) -> Self {
        assert_eq!(
            prompts.len(),
            completions.len(),
            "one completion per prompt"
        );
        assert!(
            prompts.iter().all(|p| !p.is_empty()),
            "prompts must not be empty"
        );
        let batch = prompts.len();
        let prompt_width = prompts.iter().map(Vec::len).max().unwrap_or(0);
        let completion_width = completions.iter().map(Vec::len).max().unwrap_or(0).max(1);
        let seq = prompt_width + completion_width;
        let mut ids = vec![pad_token_id as i64; batch * seq];
        let mut mask = vec![0i64; batch * seq];
        let mut completion_mask = vec![0f32; batch * (seq - 1)];
        for (b, (prompt, completion)) in prompts.iter().zip(completions).enumerate() {
            let start = prompt_width - prompt.len();
            for (i, &tok) in prompt.iter().chain(completion).enumerate() {
                ids[b * seq + start + i] = tok as i64;
                mask[b * seq + start + i] = 1;
            }
            for i in 0..completion.len() {
                completion_mask[b * (seq - 1) + prompt_width + i - 1] = 1.0;
            }
        }
        CausalBatch {
            input_ids: Tensor::from_data(TensorData::new(ids, [batch, seq]), device),
            attention_mask: Tensor::from_data(TensorData::new(mask, [batch, seq]), device),
            completion_mask: Tensor::from_data(
                TensorData::new(completion_mask, [batch, seq - 1]),
                device,
            ),
            prompt_width,
        }
    }
}

/// Scores of the completion tokens of a [`CausalBatch`].
#[derive(Debug, Clone)]
pub struct CompletionScores<B: Backend> {
    /// `[batch, seq - 1]`, zero outside completion tokens.
    pub token_logprobs: Tensor<B, 2>,
    /// `[batch, seq - 1]`, zero outside completion tokens.
    pub token_entropies: Tensor<B, 2>,
    /// `[batch, seq - 1]`, the batch's completion mask.
    pub mask: Tensor<B, 2>,
    /// `[batch]`: sum of the completion's token log-probabilities.
    pub sequence_logprobs: Tensor<B, 1>,
}

impl<B: Backend> CompletionScores<B> {
    /// Per-token scores zeroed outside `mask` (`[batch, len]`), and their sums per row.
    fn masked(scores: TokenScores<B>, mask: Tensor<B, 2>) -> Self {
        let token_logprobs = scores.logprobs * mask.clone();
        let token_entropies = scores.entropies * mask.clone();
        let rows = mask.dims()[0];
        let sequence_logprobs = token_logprobs.clone().sum_dim(1).reshape([rows]);
        CompletionScores {
            token_logprobs,
            token_entropies,
            mask,
            sequence_logprobs,
        }
    }
}

pub fn score_completions<B: Backend, M: CausalLM<B>>(
    model: &M,
    batch: &CausalBatch<B>,
) -> CompletionScores<B> {
    let scores = score_tokens(model, batch.input_ids.clone(), batch.attention_mask.clone());
    CompletionScores::masked(scores, batch.completion_mask.clone())
}

/// The completion tokens' log-probabilities only, `[batch, seq - 1]`, zero outside completions
/// (as [`CompletionScores::token_logprobs`], without the entropies SFT does not need).
pub fn completion_logprobs<B: Backend, M: CausalLM<B>>(
    model: &M,
    batch: &CausalBatch<B>,
) -> Tensor<B, 2> {
    token_logprobs(model, batch.input_ids.clone(), batch.attention_mask.clone())
        * batch.completion_mask.clone()
}

/// Sources and targets of an encoder-decoder laid out for one teacher-forced pass: sources
/// right-padded (T5's convention), `decoder_input_ids = [start, t_0, .., t_{n-2}]` and
/// `labels = [t_0, .., t_{n-1}]`, right-padded, as Hugging Face's `labels` argument shifts them.
#[derive(Debug, Clone)]
pub struct Seq2SeqBatch<B: Backend> {
    /// `[batch, src]`
    pub input_ids: Tensor<B, 2, Int>,
    /// `[batch, src]`, 1 for real source tokens.
    pub attention_mask: Tensor<B, 2, Int>,
    /// `[batch, tgt]`
    pub decoder_input_ids: Tensor<B, 2, Int>,
    /// `[batch, tgt]`, the targets (padding where `target_mask` is 0).
    pub labels: Tensor<B, 2, Int>,
    /// `[batch, tgt]`, 1.0 where `labels` is a target token.
    pub target_mask: Tensor<B, 2>,
}

impl<B: Backend> Seq2SeqBatch<B> {
    pub fn new(
        sources: &[Vec<u32>],
        targets: &[Vec<u32>],
        pad_token_id: u32,
        decoder_start_token_id: u32,
        device: &B::Device,
    ) -> Self {
        assert_eq!(sources.len(), targets.len(), "one target per source");
        let (input_ids, attention_mask) = right_padded(sources, pad_token_id, device);
        let batch = targets.len();
        let tgt = targets.iter().map(Vec::len).max().unwrap_or(0).max(1);
        let pad = pad_token_id as i64;
        let mut dec = vec![pad; batch * tgt];
        let mut labels = vec![pad; batch * tgt];
        let mut mask = vec![0f32; batch * tgt];
        for (b, target) in targets.iter().enumerate() {
            dec[b * tgt] = decoder_start_token_id as i64;
            for (i, &tok) in target.iter().enumerate() {
                labels[b * tgt + i] = tok as i64;
                mask[b * tgt + i] = 1.0;
                if i + 1 < tgt {
                    dec[b * tgt + i + 1] = tok as i64;
                }
            }
        }
        Seq2SeqBatch {
            input_ids,
            attention_mask,
            decoder_input_ids: Tensor::from_data(TensorData::new(dec, [batch, tgt]), device),
            labels: Tensor::from_data(TensorData::new(labels, [batch, tgt]), device),
            target_mask: Tensor::from_data(TensorData::new(mask, [batch, tgt]), device),
        }
    }
}

/// `[batch, max_len]` ids right-padded with `pad` and the matching attention mask (T5's layout
/// of sources, for scoring and for sampling's [`crate::sampling::Seq2SeqSession`]).
pub(crate) fn right_padded<B: Backend>(
    rows: &[Vec<u32>],
    pad: u32,
    device: &B::Device,
) -> (Tensor<B, 2, Int>, Tensor<B, 2, Int>) {
    assert!(
        rows.iter().all(|r| !r.is_empty()),
        "source sequences must not be empty"
    );
    let (batch, width) = (rows.len(), rows.iter().map(Vec::len).max().unwrap_or(1));
    let mut ids = vec![pad as i64; batch * width];
    let mut mask = vec![0i64; batch * width];
    for (b, row) in rows.iter().enumerate() {
        for (i, &tok) in row.iter().enumerate() {
            ids[b * width + i] = tok as i64;
            mask[b * width + i] = 1;
        }
    }
    (
        Tensor::from_data(TensorData::new(ids, [batch, width]), device),
        Tensor::from_data(TensorData::new(mask, [batch, width]), device),
    )
}

/// Teacher-forced scores of the targets of a [`Seq2SeqBatch`], in one forward pass (encoder and
/// decoder) that keeps the autodiff graph. Fields are `[batch, tgt]`, zero outside target tokens.
pub fn score_seq2seq<B: Backend, M: Seq2SeqLM<B>>(
    model: &M,
    batch: &Seq2SeqBatch<B>,
) -> CompletionScores<B> {
    let scores = scores_of_targets(seq2seq_logits(model, batch), batch.labels.clone());
    CompletionScores::masked(scores, batch.target_mask.clone())
}

/// Decoder logits `[batch, tgt, vocab]` of a teacher-forced pass over `batch`.
fn seq2seq_logits<B: Backend, M: Seq2SeqLM<B>>(model: &M, batch: &Seq2SeqBatch<B>) -> Tensor<B, 3> {
    let states = model.encode(batch.input_ids.clone(), batch.attention_mask.clone());
    let mut cache = model.new_cache(states, batch.attention_mask.clone());
    model.decode_logits(batch.decoder_input_ids.clone(), &mut cache)
}

/// The target tokens' log-probabilities only, `[batch, tgt]`, zero outside target tokens (as
/// [`score_seq2seq`]'s `token_logprobs`, without the entropies an SFT loss does not need).
pub fn seq2seq_logprobs<B: Backend, M: Seq2SeqLM<B>>(
    model: &M,
    batch: &Seq2SeqBatch<B>,
) -> Tensor<B, 2> {
    let logits = seq2seq_logits(model, batch);
    fused::target_logprobs(logits, batch.labels.clone(), false).0 * batch.target_mask.clone()
}
