//! The two kinds of language model that scoring ([`crate::scoring`]), sampling
//! ([`crate::sampling`]) and beam search ([`crate::beam`]) are written over, and their
//! implementations for GPT-2 and T5: a causal model gives next-token logits at every position; an
//! encoder-decoder encodes its source once and decodes with a cache. Each trait also says how to
//! reorder its cache's rows, which sampling (dropping nothing) and beam search (following beams)
//! need.

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};

use crate::gpt2::{GPT2LMHeadModel, KvCache};
use crate::t5::{T5Cache, T5ForConditionalGeneration};

/// A decoder-only language model: logits of the next token at every position.
pub trait CausalLM<B: Backend> {
    type Cache;
    fn new_cache(&self) -> Self::Cache;
    /// `input_ids` `[batch, seq]`; `attention_mask` `[batch, cached + seq]` (1 real, 0 padding);
    /// positions are counted over real tokens. Returns logits `[batch, seq, vocab]`.
    fn logits(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
        cache: Option<&mut Self::Cache>,
    ) -> Tensor<B, 3>;
    /// Logits `[batch, vocab]` at the last position only: what sampling and beam search need. The
    /// default computes every position's; a model may skip the LM head elsewhere (as
    /// `transformers`' `generate` does with `logits_to_keep=1`), which matters when a long prompt
    /// is fed at once.
    fn last_logits(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
        cache: Option<&mut Self::Cache>,
    ) -> Tensor<B, 2> {
        let logits = self.logits(input_ids, attention_mask, cache);
        let [batch, seq, vocab] = logits.dims();
        logits.narrow(1, seq - 1, 1).reshape([batch, vocab])
    }
    /// Keeps cache rows `rows` (repeats allowed): row i becomes old row `rows[i]`.
    fn select_cache_rows(cache: &mut Self::Cache, rows: Tensor<B, 1, Int>);
}

impl<B: Backend> CausalLM<B> for GPT2LMHeadModel<B> {
    type Cache = KvCache<B>;
    fn new_cache(&self) -> KvCache<B> {
        GPT2LMHeadModel::new_cache(self)
    }
    fn logits(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
        cache: Option<&mut KvCache<B>>,
    ) -> Tensor<B, 3> {
        self.forward(input_ids, attention_mask, None, cache)
    }
    /// The LM head on the last position's hidden state only.
    fn last_logits(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
        cache: Option<&mut KvCache<B>>,
    ) -> Tensor<B, 2> {
        let hidden = self.forward_hidden(input_ids, attention_mask, None, cache);
        let [batch, seq, _] = hidden.dims();
        let logits = self.lm_head(hidden.narrow(1, seq - 1, 1));
        let vocab = logits.dims()[2];
        logits.reshape([batch, vocab])
    }
    fn select_cache_rows(cache: &mut KvCache<B>, rows: Tensor<B, 1, Int>) {
        cache.select_rows(rows)
    }
}

/// An encoder-decoder language model: the encoder reads the source once; the decoder, started
/// with `decoder_start_token_id`, gives next-token logits and keeps a cache of its state.
pub trait Seq2SeqLM<B: Backend> {
    type Cache: Clone;
    fn decoder_start_token_id(&self) -> u32;
    /// Encoder states `[batch, src, d]`; `attention_mask` 1 for real tokens, 0 for padding.
    fn encode(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
    ) -> Tensor<B, 3>;
    /// A decoder cache holding `encoder_states` (and what is derived from them) and no tokens.
    fn new_cache(
        &self,
        encoder_states: Tensor<B, 3>,
        attention_mask: Tensor<B, 2, Int>,
    ) -> Self::Cache;
    /// Logits `[batch, new, vocab]` of the next `decoder_input_ids` `[batch, new]`; extends `cache`.
    fn decode_logits(
        &self,
        decoder_input_ids: Tensor<B, 2, Int>,
        cache: &mut Self::Cache,
    ) -> Tensor<B, 3>;
    /// Keeps cache rows `rows` (repeats allowed): row i becomes old row `rows[i]`.
    fn select_cache_rows(cache: &mut Self::Cache, rows: Tensor<B, 1, Int>);
}

impl<B: Backend> Seq2SeqLM<B> for T5ForConditionalGeneration<B> {
    type Cache = T5Cache<B>;
    fn decoder_start_token_id(&self) -> u32 {
        self.config.decoder_start_token_id
    }
    fn encode(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
    ) -> Tensor<B, 3> {
        T5ForConditionalGeneration::encode(self, input_ids, attention_mask)
    }
    fn new_cache(
        &self,
        encoder_states: Tensor<B, 3>,
        attention_mask: Tensor<B, 2, Int>,
    ) -> T5Cache<B> {
        T5ForConditionalGeneration::new_cache(self, encoder_states, attention_mask)
    }
    fn decode_logits(
        &self,
        decoder_input_ids: Tensor<B, 2, Int>,
        cache: &mut T5Cache<B>,
    ) -> Tensor<B, 3> {
        self.decode_cached(decoder_input_ids, cache)
    }
    fn select_cache_rows(cache: &mut T5Cache<B>, rows: Tensor<B, 1, Int>) {
        cache.select_rows(rows)
    }
}
