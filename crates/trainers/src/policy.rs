//! The one policy abstraction every trainer is written over: a language model that samples
//! completions for prompts and scores given completions teacher-forced, implemented for GPT-2
//! (decoder-only) and T5 (encoder-decoder).
//!
//! | | GPT-2 ([`GPT2LMHeadModel`]) | T5 ([`T5ForConditionalGeneration`]) |
//! |---|---|---|
//! | prompt | left-padded, then the completion in the same sequence | right-padded, to the encoder |
//! | completion | after the prompt | after `decoder_start_token_id`, in the decoder |
//! | per-token tensors | `[batch, seq - 1]` ([`model::CausalBatch`]) | `[batch, max completion]` |
//! | [`Layout::offset`] | `prompt_width - 1` | 0 |
//! | hidden state before `y_t` | last layer at the token before `y_t` | decoder's last layer at `t` |
//!
//! Every per-token tensor a policy returns ([`Policy::score`], [`Policy::completion_logprobs`],
//! [`Policy::hidden_states`]) is completion-aligned up to a column shift: completion token `i` of
//! row `b` is at column `layout.offset + i`, and the mask is 0 elsewhere. The trainers read and
//! write those tensors only through [`Layout::row`] and [`Layout::tensor`], so they never see which
//! model they train.
//!
//! Design note: GPT-2 keeps its causal layout (`offset = prompt_width - 1`) instead of being
//! narrowed to `[batch, max completion]`: narrowing changes the shape every masked sum runs over,
//! and with it the floating-point summation order, so the committed GPT-2 results would not be
//! reproduced bit for bit. [`Layout`] is the one place that knows the shift.

use burn::module::{AutodiffModule, Module, ModuleDisplay};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use model::{
    BeamConfig, BeamOutput, CausalBatch, CompletionScores, GPT2LMHeadModel, Generated,
    SamplingConfig, Seq2SeqBatch, Seq2SeqLM, T5ForConditionalGeneration, beam_search,
    beam_search_seq2seq, completion_logprobs, generate, generate_seq2seq, score_completions,
    score_seq2seq, seq2seq_logprobs,
};

/// Where a policy's per-token tensors `[batch, cols]` keep completion token `i` of row `b`: at
/// column `offset + i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub cols: usize,
    pub offset: usize,
}

impl Layout {
    /// Row `b`'s first `len` completion entries of a `[batch, cols]` host matrix.
    pub fn row(&self, flat: &[f32], b: usize, len: usize) -> Vec<f64> {
        let start = b * self.cols + self.offset;
        flat[start..start + len].iter().map(|&x| x as f64).collect()
    }

    /// A `[rows.len(), cols]` tensor with `rows[b][i]` at completion token `i` of row `b`, 0
    /// elsewhere.
    pub fn tensor<B: Backend>(&self, rows: &[Vec<f64>], device: &B::Device) -> Tensor<B, 2> {
        let mut flat = vec![0f32; rows.len() * self.cols];
        for (b, row) in rows.iter().enumerate() {
            for (i, &v) in row.iter().enumerate() {
                flat[b * self.cols + self.offset + i] = v as f32;
            }
        }
        Tensor::from_data(TensorData::new(flat, [rows.len(), self.cols]), device)
    }
}

/// A language-model policy `p(y | x)` over token ids. Prompts must not be empty; completions are
/// the generated tokens (EOS included when sampled, the decoder start token never).
pub trait Policy<B: Backend>: Module<B> + ModuleDisplay {
    /// The device its parameters live on.
    fn device(&self) -> B::Device;

    /// Width of the hidden states [`Self::hidden_states`] returns (the value head's input).
    fn hidden_size(&self) -> usize;

    /// Std of a fresh value head's weight: the model's own initialisation scale.
    fn value_head_std(&self) -> f64;

    /// Samples (or greedily decodes) one completion per prompt, batched.
    fn generate(&self, prompts: &[Vec<u32>], sampling: &SamplingConfig) -> Generated;

    /// Beam search (Hugging Face's `num_beams > 1` without sampling): the best hypothesis per
    /// prompt, batched.
    fn beam_search(&self, prompts: &[Vec<u32>], config: &BeamConfig) -> BeamOutput;

    /// Teacher-forced log-probabilities and entropies of `completions[b]` given `prompts[b]`, in
    /// one forward pass that keeps the autodiff graph.
    fn score(
        &self,
        prompts: &[Vec<u32>],
        completions: &[Vec<u32>],
        pad: u32,
    ) -> (Layout, CompletionScores<B>);

    /// The completion tokens' log-probabilities only (no entropy pass: what SFT needs), zero
    /// outside completions; same layout as [`Self::score`].
    fn completion_logprobs(
        &self,
        prompts: &[Vec<u32>],
        completions: &[Vec<u32>],
        pad: u32,
    ) -> Tensor<B, 2>;

    /// Last-layer hidden states `[batch, cols, hidden]` of the state before each completion token
    /// (what a value head reads), same layout as [`Self::score`].
    fn hidden_states(
        &self,
        prompts: &[Vec<u32>],
        completions: &[Vec<u32>],
        pad: u32,
    ) -> (Layout, Tensor<B, 3>);
}

/// A policy that can be trained on an autodiff backend and whose inner (no-autodiff) copy, used
/// for sampling and as the frozen reference, is a policy too.
pub trait TrainablePolicy<B: AutodiffBackend>:
    Policy<B> + AutodiffModule<B, InnerModule: Policy<B::InnerBackend>>
{
}

impl<B: AutodiffBackend, P> TrainablePolicy<B> for P where
    P: Policy<B> + AutodiffModule<B, InnerModule: Policy<B::InnerBackend>>
{
}

/// Decoder-only: prompt and completion in one left-padded sequence ([`CausalBatch`]); the target
/// at column `t` of the `[batch, seq - 1]` tensors is `input_ids[:, t + 1]`.
impl<B: Backend> Policy<B> for GPT2LMHeadModel<B> {
    fn device(&self) -> B::Device {
        self.transformer.wte.weight.device()
    }

    fn hidden_size(&self) -> usize {
        self.config.n_embd
    }

    /// TRL's value head: `N(0, initializer_range)`.
    fn value_head_std(&self) -> f64 {
        self.config.initializer_range
    }

    fn generate(&self, prompts: &[Vec<u32>], sampling: &SamplingConfig) -> Generated {
        generate(self, prompts, sampling, &Policy::device(self))
    }

    fn beam_search(&self, prompts: &[Vec<u32>], config: &BeamConfig) -> BeamOutput {
        beam_search(self, prompts, config, &Policy::device(self))
    }

    fn score(
        &self,
        prompts: &[Vec<u32>],
        completions: &[Vec<u32>],
        pad: u32,
    ) -> (Layout, CompletionScores<B>) {
        let batch = CausalBatch::new(prompts, completions, pad, &Policy::device(self));
        (causal_layout(&batch), score_completions(self, &batch))
    }

    fn completion_logprobs(
        &self,
        prompts: &[Vec<u32>],
        completions: &[Vec<u32>],
        pad: u32,
    ) -> Tensor<B, 2> {
        let batch = CausalBatch::new(prompts, completions, pad, &Policy::device(self));
        completion_logprobs(self, &batch)
    }

    /// The state before target `t` is the last layer at position `t`: positions `0..seq - 1`.
    fn hidden_states(
        &self,
        prompts: &[Vec<u32>],
        completions: &[Vec<u32>],
        pad: u32,
    ) -> (Layout, Tensor<B, 3>) {
        let batch = CausalBatch::new(prompts, completions, pad, &Policy::device(self));
        let hidden = self.forward_hidden(
            batch.input_ids.clone(),
            batch.attention_mask.clone(),
            None,
            None,
        );
        let seq = hidden.dims()[1];
        (causal_layout(&batch), hidden.narrow(1, 0, seq - 1))
    }
}

/// Completion token `i` is the target at column `prompt_width - 1 + i`.
fn causal_layout<B: Backend>(batch: &CausalBatch<B>) -> Layout {
    Layout {
        cols: batch.completion_mask.dims()[1],
        offset: batch.prompt_width - 1,
    }
}

/// Encoder-decoder: the prompt is the encoder's source, the completion the decoder's target after
/// `decoder_start_token_id` ([`Seq2SeqBatch`]); per-token tensors are `[batch, max completion]`.
impl<B: Backend> Policy<B> for T5ForConditionalGeneration<B> {
    fn device(&self) -> B::Device {
        self.shared.device()
    }

    fn hidden_size(&self) -> usize {
        self.config.d_model
    }

    /// T5's own scale for a dense layer reading the `d_model` states: `f d_model^-0.5`
    /// (`initializer_factor` f). Deviation: RL4LMs' seq2seq value head is a PyTorch `nn.Linear`
    /// (uniform, std `(3 d_model)^-0.5`); we keep one normal initialiser for both models.
    fn value_head_std(&self) -> f64 {
        self.config.initializer_factor * (self.config.d_model as f64).powf(-0.5)
    }

    fn generate(&self, prompts: &[Vec<u32>], sampling: &SamplingConfig) -> Generated {
        generate_seq2seq(self, prompts, sampling, &Policy::device(self))
    }

    fn beam_search(&self, prompts: &[Vec<u32>], config: &BeamConfig) -> BeamOutput {
        beam_search_seq2seq(self, prompts, config, &Policy::device(self))
    }

    fn score(
        &self,
        prompts: &[Vec<u32>],
        completions: &[Vec<u32>],
        pad: u32,
    ) -> (Layout, CompletionScores<B>) {
        let batch = seq2seq_batch(self, prompts, completions, pad);
        (seq2seq_layout(&batch), score_seq2seq(self, &batch))
    }

    fn completion_logprobs(
        &self,
        prompts: &[Vec<u32>],
        completions: &[Vec<u32>],
        pad: u32,
    ) -> Tensor<B, 2> {
        seq2seq_logprobs(self, &seq2seq_batch(self, prompts, completions, pad))
    }

    /// RL4LMs' seq2seq actor-critic puts the value head on the decoder: the state before target
    /// `t` is the decoder's last layer (after its final norm) at input `t`, which has read
    /// `[start, y_0, .., y_{t-1}]` and the encoded prompt.
    fn hidden_states(
        &self,
        prompts: &[Vec<u32>],
        completions: &[Vec<u32>],
        pad: u32,
    ) -> (Layout, Tensor<B, 3>) {
        let batch = seq2seq_batch(self, prompts, completions, pad);
        let states = self.encode(batch.input_ids.clone(), batch.attention_mask.clone());
        let mut cache = self.new_cache(states, batch.attention_mask.clone());
        let hidden = self.decode_hidden(batch.decoder_input_ids.clone(), &mut cache);
        (seq2seq_layout(&batch), hidden)
    }
}

/// The teacher-forced [`Seq2SeqBatch`] of prompts (sources) and completions (targets).
fn seq2seq_batch<B: Backend>(
    model: &T5ForConditionalGeneration<B>,
    prompts: &[Vec<u32>],
    completions: &[Vec<u32>],
    pad: u32,
) -> Seq2SeqBatch<B> {
    Seq2SeqBatch::new(
        prompts,
        completions,
        pad,
        model.decoder_start_token_id(),
        &Policy::device(model),
    )
}

/// Completion token `i` is the decoder's target at column `i`.
fn seq2seq_layout<B: Backend>(batch: &Seq2SeqBatch<B>) -> Layout {
    Layout {
        cols: batch.target_mask.dims()[1],
        offset: 0,
    }
}
