//! What a pretraining is: the `pretrain:` block of a sweep file, one entry per model.
//!
//! ```yaml
//! pretrain:
//!   gpt2-mini:
//!     model: {model_type: gpt2, n_layer: 4, n_embd: 256, n_head: 4, n_positions: 256}
//!     corpus: [wikitext-2, imdb-unlabelled]
//!     tokenizer: {vocab_size: 8192, min_frequency: 2}
//!     steps: 1200
//!     batch_size: 16
//!     seq_len: 128
//!     learning_rate: 1.0e-3
//!     warmup_steps: 100
//!     seed: 0
//! ```
//!
//! Names follow Hugging Face: `model_type` and the fields of `GPT2Config` / `T5Config`;
//! `noise_density` and `mean_noise_span_length` as T5's `span_corruption`.

use crate::corpus::CorpusSource;
use serde::{Deserialize, Serialize};

/// The architecture to pretrain, with Hugging Face's config names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model_type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Architecture {
    /// A GPT-2 (causal language modelling).
    Gpt2 {
        n_layer: usize,
        n_embd: usize,
        n_head: usize,
        n_positions: usize,
    },
    /// A T5 v1.0 (span corruption).
    T5 {
        d_model: usize,
        d_kv: usize,
        d_ff: usize,
        num_layers: usize,
        num_heads: usize,
    },
}

impl Architecture {
    pub fn is_seq2seq(&self) -> bool {
        matches!(self, Architecture::T5 { .. })
    }

    /// `gpt2` or `t5`.
    pub fn model_type(&self) -> &'static str {
        match self {
            Architecture::Gpt2 { .. } => "gpt2",
            Architecture::T5 { .. } => "t5",
        }
    }
}

/// The byte-level BPE trained on the corpus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenizerSpec {
    pub vocab_size: usize,
    #[serde(default = "two")]
    pub min_frequency: u64,
    /// T5 sentinels `<extra_id_N>` (T5 only).
    #[serde(default = "hundred")]
    pub extra_ids: usize,
}

fn two() -> u64 {
    2
}
fn hundred() -> usize {
    100
}
fn one() -> f64 {
    1.0
}
fn density() -> f64 {
    0.15
}
fn span() -> f64 {
    3.0
}
fn weight_decay() -> f64 {
    0.01
}
fn every() -> usize {
    100
}
fn eval_batches() -> usize {
    8
}

/// One model to pretrain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PretrainSpec {
    pub model: Architecture,
    pub corpus: Vec<CorpusSource>,
    pub tokenizer: TokenizerSpec,
    /// Optimiser steps.
    pub steps: usize,
    /// Windows per step.
    pub batch_size: usize,
    /// Tokens per window (GPT-2: the context; T5: the window before corruption).
    pub seq_len: usize,
    /// AdamW peak learning rate, linear warm-up then linear decay to 0 at `steps`.
    pub learning_rate: f64,
    pub warmup_steps: usize,
    #[serde(default = "weight_decay")]
    pub weight_decay: f64,
    #[serde(default = "one")]
    pub max_grad_norm: f64,
    #[serde(default = "density")]
    pub noise_density: f64,
    #[serde(default = "span")]
    pub mean_noise_span_length: f64,
    /// Validation loss every this many steps (and at the end).
    #[serde(default = "every")]
    pub eval_every: usize,
    /// Batches of validation windows per evaluation.
    #[serde(default = "eval_batches")]
    pub eval_batches: usize,
    /// A resumable checkpoint every this many steps.
    #[serde(default = "every")]
    pub checkpoint_every: usize,
    pub seed: u64,
}

impl PretrainSpec {
    /// Checks the numbers; the error names the field and the fix.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("steps", self.steps),
            ("batch_size", self.batch_size),
            ("eval_every", self.eval_every),
            ("eval_batches", self.eval_batches),
            ("checkpoint_every", self.checkpoint_every),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(format!("{name} must be >= 1"));
            }
        }
        if self.seq_len < 8 {
            return Err(format!("seq_len must be >= 8, got {}", self.seq_len));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(format!(
                "learning_rate must be > 0, got {}",
                self.learning_rate
            ));
        }
        if self.warmup_steps > self.steps {
            return Err(format!(
                "warmup_steps ({}) must be <= steps ({})",
                self.warmup_steps, self.steps
            ));
        }
        match self.model {
            Architecture::Gpt2 {
                n_embd,
                n_head,
                n_positions,
                ..
            } => {
                if n_head == 0 || n_embd % n_head != 0 {
                    return Err(format!(
                        "n_embd ({n_embd}) must be a multiple of n_head ({n_head})"
                    ));
                }
                if n_positions < self.seq_len {
                    return Err(format!(
                        "n_positions ({n_positions}) must be >= seq_len ({})",
                        self.seq_len
                    ));
                }
            }
            Architecture::T5 { num_heads, .. } => {
                if num_heads == 0 {
                    return Err("num_heads must be >= 1".into());
                }
                if !(self.noise_density > 0.0 && self.noise_density < 1.0) {
                    return Err(format!(
                        "noise_density must be in (0, 1), got {}",
                        self.noise_density
                    ));
                }
                if self.mean_noise_span_length.is_nan() || self.mean_noise_span_length < 1.0 {
                    return Err(format!(
                        "mean_noise_span_length must be >= 1, got {}",
                        self.mean_noise_span_length
                    ));
                }
                let spans = (self.seq_len as f64 * self.noise_density / self.mean_noise_span_length)
                    .round() as usize
                    + 1;
                if spans > self.tokenizer.extra_ids {
                    return Err(format!(
                        "a {}-token window has up to {spans} noise spans but the tokenizer has \
                         {} sentinels; raise tokenizer.extra_ids",
                        self.seq_len, self.tokenizer.extra_ids
                    ));
                }
            }
        }
        Ok(())
    }
}
