//! T5 (`T5ForConditionalGeneration`, the original T5 as in `t5-base`), following Hugging Face's
//! `modeling_t5.py`.
//!
//! Shared token embedding; an encoder and a decoder of pre-norm blocks with T5's LayerNorm (RMS, no
//! bias, no mean subtraction); attention without `1/sqrt(d)` scaling and with a learned relative
//! position bias (bucketed, computed in block 0 and shared by all blocks of the stack); ReLU
//! feed-forward (`wi` -> relu -> `wo`); the decoder adds cross-attention. With tied embeddings the
//! decoder output is scaled by `d_model^-0.5` before the LM head.
//!
//! Decoding keeps a [`T5Cache`]: the self-attention keys/values of the tokens decoded so far and
//! the cross-attention keys/values of the encoder states, computed once. Sampling, beam search and
//! teacher-forced scoring live in [`crate::sampling`], [`crate::scoring`] and [`crate::beam`], through the
//! [`crate::Seq2SeqLM`] trait.
//!
//! Not here: gated-GELU (T5 v1.1) feed-forward, and dropout (the model runs as `eval()`).

use std::path::Path;

use burn::module::{Module, Param};
use burn::tensor::activation::relu;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::fused;
use crate::params::ParamSource;
use crate::weights::{ModelError, SafeTensorsFile, TensorWriter, matmul_t, write_hf_config};

/// `T5Config`, with Hugging Face's field names and defaults (those of `t5-small`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct T5Config {
    #[serde(default = "d::vocab_size")]
    pub vocab_size: usize,
    #[serde(default = "d::d_model")]
    pub d_model: usize,
    #[serde(default = "d::d_kv")]
    pub d_kv: usize,
    #[serde(default = "d::d_ff")]
    pub d_ff: usize,
    #[serde(default = "d::num_layers")]
    pub num_layers: usize,
    /// `None` means `num_layers`.
    #[serde(default)]
    pub num_decoder_layers: Option<usize>,
    #[serde(default = "d::num_heads")]
    pub num_heads: usize,
    #[serde(default = "d::buckets")]
    pub relative_attention_num_buckets: usize,
    #[serde(default = "d::max_distance")]
    pub relative_attention_max_distance: usize,
    #[serde(default = "d::eps")]
    pub layer_norm_epsilon: f64,
    #[serde(default = "d::relu")]
    pub feed_forward_proj: String,
    #[serde(default = "d::yes")]
    pub tie_word_embeddings: bool,
    #[serde(default)]
    pub pad_token_id: u32,
    #[serde(default = "d::eos")]
    pub eos_token_id: u32,
    #[serde(default)]
    pub decoder_start_token_id: u32,
    /// Scales the random initialisation ([`T5ForConditionalGeneration::init`]).
    #[serde(default = "d::factor")]
    pub initializer_factor: f64,
    /// Every other field of `config.json`, kept as read.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

mod d {
    pub fn vocab_size() -> usize {
        32128
    }
    pub fn d_model() -> usize {
        512
    }
    pub fn d_kv() -> usize {
        64
    }
    pub fn d_ff() -> usize {
        2048
    }
    pub fn num_layers() -> usize {
        6
    }
    pub fn num_heads() -> usize {
        8
    }
    pub fn buckets() -> usize {
        32
    }
    pub fn max_distance() -> usize {
        128
    }
    pub fn eps() -> f64 {
        1e-6
    }
    pub fn relu() -> String {
        "relu".into()
    }
    pub fn yes() -> bool {
        true
    }
    pub fn eos() -> u32 {
        1
    }
    pub fn factor() -> f64 {
        1.0
    }
}

impl Default for T5Config {
    fn default() -> Self {
        serde_json::from_str("{}").expect("all fields have defaults")
    }
}

impl T5Config {
    pub fn decoder_layers(&self) -> usize {
        self.num_decoder_layers.unwrap_or(self.num_layers)
    }

    /// Checks what this implementation supports.
    pub fn validate(&self) -> Result<(), ModelError> {
        // A hostile or corrupt config.json must be an error, not an overflow or a huge allocation.
        for (name, value, max) in [
            ("vocab_size", self.vocab_size, 1 << 24),
            ("d_model", self.d_model, 1 << 20),
            ("d_kv", self.d_kv, 1 << 16),
            ("d_ff", self.d_ff, 1 << 22),
            ("num_layers", self.num_layers, 1 << 12),
            ("num_decoder_layers", self.decoder_layers(), 1 << 12),
            ("num_heads", self.num_heads, 1 << 12),
            (
                "relative_attention_num_buckets",
                self.relative_attention_num_buckets,
                1 << 16,
            ),
        ] {
            if value > max {
                return Err(ModelError::Config(format!(
                    "{name} = {value} is over the limit of {max}; config.json is corrupt"
                )));
            }
        }
        if self.feed_forward_proj != "relu" {
            return Err(ModelError::Config(format!(
                "feed_forward_proj `{}` is not supported (only the original T5's `relu`)",
                self.feed_forward_proj
            )));
        }
        if self.num_heads == 0
            || self.d_kv == 0
            || self.num_layers == 0
            || self.decoder_layers() == 0
        {
            return Err(ModelError::Config(
                "num_heads, d_kv, num_layers and num_decoder_layers must be positive".into(),
            ));
        }
        Ok(())
    }
}

/// T5's LayerNorm: `weight * x / sqrt(mean(x^2) + eps)`.
#[derive(Module, Debug)]
pub struct T5LayerNorm<B: Backend> {
    pub weight: Param<Tensor<B, 1>>,
    #[module(skip)]
    pub eps: f64,
}

impl<B: Backend> T5LayerNorm<B> {
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        fused::rms_norm(x, self.weight.val(), self.eps)
    }
}

/// A bias-free `nn.Linear`, weight `[out, in]`.
#[derive(Module, Debug)]
pub struct Linear<B: Backend> {
    pub weight: Param<Tensor<B, 2>>,
}

impl<B: Backend> Linear<B> {
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [batch, seq, n_in] = x.dims();
        let n_out = self.weight.dims()[0];
        matmul_t(x.reshape([batch * seq, n_in]), self.weight.val()).reshape([batch, seq, n_out])
    }
}

/// `T5Attention` (self- or cross-attention); block 0 of each stack owns the relative position bias.
#[derive(Module, Debug)]
pub struct T5Attention<B: Backend> {
    pub q: Linear<B>,
    pub k: Linear<B>,
    pub v: Linear<B>,
    pub o: Linear<B>,
    /// `[num_buckets, num_heads]`, only in block 0's self-attention.
    pub relative_attention_bias: Option<Param<Tensor<B, 2>>>,
    #[module(skip)]
    pub num_heads: usize,
}

/// Keys and values of one attention layer, `[batch, heads, len, d_kv]` each.
pub type KeyValue<B> = (Tensor<B, 4>, Tensor<B, 4>);

impl<B: Backend> T5Attention<B> {
    /// `[batch, len, heads * d_kv]` -> `[batch, heads, len, d_kv]`.
    fn split_heads(&self, t: Tensor<B, 3>) -> Tensor<B, 4> {
        let [batch, len, inner] = t.dims();
        t.reshape([batch, len, self.num_heads, inner / self.num_heads])
            .swap_dims(1, 2)
    }

    /// Keys and values of `kv` `[batch, k, d_model]`.
    pub fn key_value(&self, kv: Tensor<B, 3>) -> KeyValue<B> {
        (
            self.split_heads(self.k.forward(kv.clone())),
            self.split_heads(self.v.forward(kv)),
        )
    }

    /// `x` `[batch, q, d_model]` attends to `keys`/`values` `[batch, heads, k, d_kv]` with additive
    /// `bias` broadcastable to `[batch, heads, q, k]` (position bias plus mask). T5 does not scale
    /// `q k^T` by `1/sqrt(d_kv)`.
    pub fn attend(
        &self,
        x: Tensor<B, 3>,
        (keys, values): KeyValue<B>,
        bias: Tensor<B, 4>,
    ) -> Tensor<B, 3> {
        let q = self.split_heads(self.q.forward(x));
        // `softmax(q k^T + bias) v`, heads merged: one fused node on the CPU.
        let out = fused::attention(q, keys, values, Some(bias), None, 1.0);
        self.o.forward(out)
    }

    /// Position bias `[1, heads, q, k]` for query positions `offset..offset+q` and keys `0..k`.
    pub fn position_bias(
        &self,
        q_len: usize,
        k_len: usize,
        offset: usize,
        bidirectional: bool,
        config: &T5Config,
    ) -> Tensor<B, 4> {
        let table = self
            .relative_attention_bias
            .as_ref()
            .expect("block 0 owns the position bias")
            .val();
        let device = table.device();
        let mut buckets = Vec::with_capacity(q_len * k_len);
        for i in 0..q_len {
            for j in 0..k_len {
                let relative = j as i64 - (i + offset) as i64;
                buckets.push(relative_position_bucket(
                    relative,
                    bidirectional,
                    config.relative_attention_num_buckets,
                    config.relative_attention_max_distance,
                ) as i64);
            }
        }
        let idx =
            Tensor::<B, 1, Int>::from_data(TensorData::new(buckets, [q_len * k_len]), &device);
        table
            .select(0, idx)
            .reshape([q_len, k_len, self.num_heads])
            .permute([2, 0, 1])
            .unsqueeze::<4>()
    }
}

/// HF's `_relative_position_bucket` (`relative = key - query`), with the same f32 arithmetic.
pub fn relative_position_bucket(
    relative: i64,
    bidirectional: bool,
    num_buckets: usize,
    max_distance: usize,
) -> usize {
    let mut num_buckets = num_buckets as i64;
    let mut bucket = 0i64;
    let mut n = relative;
    if bidirectional {
        num_buckets /= 2;
        if n > 0 {
            bucket += num_buckets;
        }
        n = n.abs();
    } else {
        n = -n.min(0);
    }
    let max_exact = num_buckets / 2;
    if n < max_exact {
        bucket += n;
    } else {
        let large = max_exact
            + ((n as f32 / max_exact as f32).ln() / (max_distance as f32 / max_exact as f32).ln()
                * (num_buckets - max_exact) as f32) as i64;
        bucket += large.min(num_buckets - 1);
    }
    bucket as usize
}

/// `T5DenseActDense` with ReLU: `wo(relu(wi(x)))`.
#[derive(Module, Debug)]
pub struct T5DenseReluDense<B: Backend> {
    pub wi: Linear<B>,
    pub wo: Linear<B>,
}

impl<B: Backend> T5DenseReluDense<B> {
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        self.wo.forward(relu(self.wi.forward(x)))
    }
}

/// One block: self-attention, (decoder only) cross-attention, feed-forward; each pre-norm + residual.
#[derive(Module, Debug)]
pub struct T5Block<B: Backend> {
    pub self_attention: T5Attention<B>,
    pub self_attention_norm: T5LayerNorm<B>,
    pub cross_attention: Option<T5Attention<B>>,
    pub cross_attention_norm: Option<T5LayerNorm<B>>,
    pub ff: T5DenseReluDense<B>,
    pub ff_norm: T5LayerNorm<B>,
}

#[derive(Module, Debug)]
pub struct T5Stack<B: Backend> {
    pub block: Vec<T5Block<B>>,
    pub final_layer_norm: T5LayerNorm<B>,
}

/// The decoder's state while generating: every decoder layer's self-attention keys/values of the
/// tokens decoded so far, and its cross-attention keys/values of the encoder states, computed once.
#[derive(Debug, Clone)]
pub struct T5Cache<B: Backend> {
    /// Per decoder layer, `[batch, heads, past, d_kv]` each; `None` before the first token.
    pub self_attention: Vec<Option<KeyValue<B>>>,
    /// Per decoder layer, `[batch, heads, src, d_kv]` each.
    pub cross_attention: Vec<KeyValue<B>>,
    /// Additive encoder padding mask `[batch, 1, 1, src]` (0 real, `f32::MIN` padding).
    pub cross_bias: Tensor<B, 4>,
}

impl<B: Backend> T5Cache<B> {
    /// Number of decoder positions already cached.
    pub fn len(&self) -> usize {
        match self.self_attention.first() {
            Some(Some((k, _))) => k.dims()[2],
            _ => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keeps rows `rows` (batch entries, repeats allowed), e.g. to follow beams or drop rows.
    pub fn select_rows(&mut self, rows: Tensor<B, 1, Int>) {
        let pick = |t: &mut Tensor<B, 4>| *t = t.clone().select(0, rows.clone());
        for (k, v) in self.self_attention.iter_mut().flatten() {
            pick(k);
            pick(v);
        }
        for (k, v) in self.cross_attention.iter_mut() {
            pick(k);
            pick(v);
        }
        pick(&mut self.cross_bias);
    }
}

/// `T5ForConditionalGeneration`.
#[derive(Module, Debug)]
pub struct T5ForConditionalGeneration<B: Backend> {
    /// `shared.weight` `[vocab_size, d_model]`, the token embedding of both stacks.
    pub shared: Param<Tensor<B, 2>>,
    pub encoder: T5Stack<B>,
    pub decoder: T5Stack<B>,
    /// Separate LM head `[vocab_size, d_model]`, only when `tie_word_embeddings` is false.
    pub lm_head: Option<Param<Tensor<B, 2>>>,
    #[module(skip)]
    pub config: T5Config,
}

/// Additive mask `[batch, 1, 1, k]`: 0 for real keys, `f32::MIN` for padding.
fn padding_bias<B: Backend>(mask: Tensor<B, 2, Int>) -> Tensor<B, 4> {
    let [batch, k] = mask.dims();
    (mask.float().neg().add_scalar(1.0) * f32::MIN).reshape([batch, 1, 1, k])
}

impl<B: Backend> T5ForConditionalGeneration<B> {
    pub fn load(dir: impl AsRef<Path>, device: &B::Device) -> Result<Self, ModelError> {
        let dir = dir.as_ref();
        let config: T5Config = crate::checkpoint::read_config(dir, &["t5"])?;
        let weights = crate::checkpoint::open_weights(dir)?;
        Self::from_safetensors(config, &weights, device)
    }

    /// Builds the model from HF tensors (`shared.weight`, `encoder.block.0.layer.0.SelfAttention.q.weight`, ...).
    pub fn from_safetensors(
        config: T5Config,
        w: &SafeTensorsFile,
        device: &B::Device,
    ) -> Result<Self, ModelError> {
        Self::build(config, ParamSource::File(w), device)
    }

    /// A randomly initialised model, as HF's `T5PreTrainedModel._init_weights` with
    /// `initializer_factor` f: embeddings `N(0, f)`, `q` `N(0, f (d_model d_kv)^-0.5)`, `k`/`v`
    /// `N(0, f d_model^-0.5)`, `o` `N(0, f (heads d_kv)^-0.5)`, position bias `N(0, f d_model^-0.5)`,
    /// `wi` `N(0, f d_model^-0.5)`, `wo` `N(0, f d_ff^-0.5)`, layer norms `f`. Every parameter is
    /// drawn from its own stream of `seed` ([`ParamSource::Seeded`]).
    pub fn init(config: T5Config, seed: u64, device: &B::Device) -> Result<Self, ModelError> {
        Self::build(config, ParamSource::Seeded(seed), device)
    }

    fn build(
        config: T5Config,
        src: ParamSource<'_>,
        device: &B::Device,
    ) -> Result<Self, ModelError> {
        config.validate()?;
        let (dm, d_kv, heads, d_ff) = (config.d_model, config.d_kv, config.num_heads, config.d_ff);
        let inner = heads * d_kv;
        let (f, eps) = (config.initializer_factor, config.layer_norm_epsilon);
        let linear =
            |name: String, o: usize, i: usize, std: f64| -> Result<Linear<B>, ModelError> {
                Ok(Linear {
                    weight: src.normal(&name, [o, i], f * std, device)?,
                })
            };
        let norm = |name: String| -> Result<T5LayerNorm<B>, ModelError> {
            Ok(T5LayerNorm {
                weight: src.constant(&name, [dm], f, device)?,
                eps,
            })
        };
        let (dm_f, inner_f) = (dm as f64, inner as f64);
        let attention = |p: String, with_bias: bool| -> Result<T5Attention<B>, ModelError> {
            Ok(T5Attention {
                q: linear(
                    format!("{p}.q.weight"),
                    inner,
                    dm,
                    (dm_f * d_kv as f64).powf(-0.5),
                )?,
                k: linear(format!("{p}.k.weight"), inner, dm, dm_f.powf(-0.5))?,
                v: linear(format!("{p}.v.weight"), inner, dm, dm_f.powf(-0.5))?,
                o: linear(format!("{p}.o.weight"), dm, inner, inner_f.powf(-0.5))?,
                relative_attention_bias: if with_bias {
                    Some(src.normal(
                        &format!("{p}.relative_attention_bias.weight"),
                        [config.relative_attention_num_buckets, heads],
                        f * dm_f.powf(-0.5),
                        device,
                    )?)
                } else {
                    None
                },
                num_heads: heads,
            })
        };
        let stack = |name: &str, layers: usize, decoder: bool| -> Result<T5Stack<B>, ModelError> {
            let mut block = Vec::with_capacity(layers);
            for i in 0..layers {
                let b = format!("{name}.block.{i}.layer");
                let ff_layer = if decoder { 2 } else { 1 };
                let ff = format!("{b}.{ff_layer}.DenseReluDense");
                block.push(T5Block {
                    self_attention: attention(format!("{b}.0.SelfAttention"), i == 0)?,
                    self_attention_norm: norm(format!("{b}.0.layer_norm.weight"))?,
                    cross_attention: if decoder {
                        Some(attention(format!("{b}.1.EncDecAttention"), false)?)
                    } else {
                        None
                    },
                    cross_attention_norm: if decoder {
                        Some(norm(format!("{b}.1.layer_norm.weight"))?)
                    } else {
                        None
                    },
                    ff: T5DenseReluDense {
                        wi: linear(format!("{ff}.wi.weight"), d_ff, dm, dm_f.powf(-0.5))?,
                        wo: linear(
                            format!("{ff}.wo.weight"),
                            dm,
                            d_ff,
                            (d_ff as f64).powf(-0.5),
                        )?,
                    },
                    ff_norm: norm(format!("{b}.{ff_layer}.layer_norm.weight"))?,
                });
            }
            Ok(T5Stack {
                block,
                final_layer_norm: norm(format!("{name}.final_layer_norm.weight"))?,
            })
        };
        let lm_head = if config.tie_word_embeddings {
            None
        } else {
            Some(src.normal("lm_head.weight", [config.vocab_size, dm], f, device)?)
        };
        Ok(T5ForConditionalGeneration {
            shared: src.normal("shared.weight", [config.vocab_size, dm], f, device)?,
            encoder: stack("encoder", config.num_layers, false)?,
            decoder: stack("decoder", config.decoder_layers(), true)?,
            lm_head,
            config,
        })
    }

    /// Writes `config.json` and `model.safetensors` in HF layout (tied `lm_head.weight` omitted).
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<(), ModelError> {
        let dir = dir.as_ref();
        write_hf_config(dir, &self.config, "t5", "T5ForConditionalGeneration")?;
        let mut out = TensorWriter::new();
        out.add("shared.weight", self.shared.val());
        for (name, stack) in [("encoder", &self.encoder), ("decoder", &self.decoder)] {
            for (i, block) in stack.block.iter().enumerate() {
                let b = format!("{name}.block.{i}.layer");
                let save_attn = |out: &mut TensorWriter, p: String, a: &T5Attention<B>| {
                    for (n, l) in [("q", &a.q), ("k", &a.k), ("v", &a.v), ("o", &a.o)] {
                        out.add(format!("{p}.{n}.weight"), l.weight.val());
                    }
                    if let Some(bias) = &a.relative_attention_bias {
                        out.add(format!("{p}.relative_attention_bias.weight"), bias.val());
                    }
                };
                save_attn(
                    &mut out,
                    format!("{b}.0.SelfAttention"),
                    &block.self_attention,
                );
                out.add(
                    format!("{b}.0.layer_norm.weight"),
                    block.self_attention_norm.weight.val(),
                );
                let mut ff_layer = 1;
                if let (Some(a), Some(n)) = (&block.cross_attention, &block.cross_attention_norm) {
                    save_attn(&mut out, format!("{b}.1.EncDecAttention"), a);
                    out.add(format!("{b}.1.layer_norm.weight"), n.weight.val());
                    ff_layer = 2;
                }
                out.add(
                    format!("{b}.{ff_layer}.DenseReluDense.wi.weight"),
                    block.ff.wi.weight.val(),
                );
                out.add(
                    format!("{b}.{ff_layer}.DenseReluDense.wo.weight"),
                    block.ff.wo.weight.val(),
                );
                out.add(
                    format!("{b}.{ff_layer}.layer_norm.weight"),
                    block.ff_norm.weight.val(),
                );
            }
            out.add(
                format!("{name}.final_layer_norm.weight"),
                stack.final_layer_norm.weight.val(),
            );
        }
        if let Some(lm_head) = &self.lm_head {
            out.add("lm_head.weight", lm_head.val());
        }
        out.write(dir.join("model.safetensors"))
    }

    fn embed(&self, ids: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let [batch, seq] = ids.dims();
        self.shared
            .val()
            .select(0, ids.reshape([batch * seq]))
            .reshape([batch, seq, self.config.d_model])
    }

    /// Encoder states `[batch, src, d_model]`; `attention_mask` 1 for real tokens, 0 for padding.
    pub fn encode(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
    ) -> Tensor<B, 3> {
        let src = input_ids.dims()[1];
        let first = &self.encoder.block[0].self_attention;
        let bias =
            first.position_bias(src, src, 0, true, &self.config) + padding_bias(attention_mask);
        let mut x = self.embed(input_ids);
        for block in &self.encoder.block {
            let h = block.self_attention_norm.forward(x.clone());
            let kv = block.self_attention.key_value(h.clone());
            x = x + block.self_attention.attend(h, kv, bias.clone());
            x = x.clone() + block.ff.forward(block.ff_norm.forward(x));
        }
        self.encoder.final_layer_norm.forward(x)
    }

    /// A decoder cache for `encoder_states` `[batch, src, d_model]` with encoder `attention_mask`:
    /// the cross-attention keys/values of every decoder layer, and no decoded positions yet.
    pub fn new_cache(
        &self,
        encoder_states: Tensor<B, 3>,
        attention_mask: Tensor<B, 2, Int>,
    ) -> T5Cache<B> {
        let cross_attention = self
            .decoder
            .block
            .iter()
            .map(|block| {
                block
                    .cross_attention
                    .as_ref()
                    .expect("decoder blocks have cross-attention")
                    .key_value(encoder_states.clone())
            })
            .collect();
        T5Cache {
            self_attention: vec![None; self.decoder.block.len()],
            cross_attention,
            cross_bias: padding_bias(attention_mask),
        }
    }

    /// Decoder hidden states `[batch, new, d_model]` (after the final layer norm) of
    /// `decoder_input_ids` `[batch, new]`, the tokens after the `cache.len()` already decoded ones;
    /// their keys/values are added to `cache`.
    pub fn decode_hidden(
        &self,
        decoder_input_ids: Tensor<B, 2, Int>,
        cache: &mut T5Cache<B>,
    ) -> Tensor<B, 3> {
        let new = decoder_input_ids.dims()[1];
        let past = cache.len();
        let device = decoder_input_ids.device();
        let first = &self.decoder.block[0].self_attention;
        let mut self_bias = first.position_bias(new, past + new, past, false, &self.config);
        if new > 1 {
            // Query i (at position past + i) must not see keys after it.
            let keys = past + new;
            let causal = Tensor::<B, 2>::from_data(
                TensorData::new(
                    (0..new * keys)
                        .map(|i| {
                            if i % keys > past + i / keys {
                                f32::MIN
                            } else {
                                0.0
                            }
                        })
                        .collect::<Vec<_>>(),
                    [new, keys],
                ),
                &device,
            );
            self_bias = self_bias + causal.unsqueeze::<4>();
        }
        let mut x = self.embed(decoder_input_ids);
        for (i, block) in self.decoder.block.iter().enumerate() {
            let h = block.self_attention_norm.forward(x.clone());
            let (mut k, mut v) = block.self_attention.key_value(h.clone());
            if let Some((past_k, past_v)) = cache.self_attention[i].take() {
                k = Tensor::cat(vec![past_k, k], 2);
                v = Tensor::cat(vec![past_v, v], 2);
            }
            cache.self_attention[i] = Some((k.clone(), v.clone()));
            x = x + block.self_attention.attend(h, (k, v), self_bias.clone());

            let (attn, norm) = (
                block.cross_attention.as_ref().expect("decoder block"),
                block.cross_attention_norm.as_ref().expect("decoder block"),
            );
            let h = norm.forward(x.clone());
            x = x + attn.attend(
                h,
                cache.cross_attention[i].clone(),
                cache.cross_bias.clone(),
            );
            x = x.clone() + block.ff.forward(block.ff_norm.forward(x));
        }
        self.decoder.final_layer_norm.forward(x)
    }

    /// Logits `[batch, len, vocab]` of decoder hidden states; with tied embeddings the states are
    /// first scaled by `d_model^-0.5`.
    pub fn lm_head(&self, hidden: Tensor<B, 3>) -> Tensor<B, 3> {
        let [batch, len, dm] = hidden.dims();
        let (hidden, weight) = match &self.lm_head {
            Some(w) => (hidden, w.val()),
            None => (hidden.mul_scalar((dm as f64).powf(-0.5)), self.shared.val()),
        };
        matmul_t(hidden.reshape([batch * len, dm]), weight).reshape([
            batch,
            len,
            self.config.vocab_size,
        ])
    }

    /// Logits `[batch, new, vocab]` of the decoder on the next `decoder_input_ids` `[batch, new]`,
    /// reusing and extending `cache`.
    pub fn decode_cached(
        &self,
        decoder_input_ids: Tensor<B, 2, Int>,
        cache: &mut T5Cache<B>,
    ) -> Tensor<B, 3> {
        self.lm_head(self.decode_hidden(decoder_input_ids, cache))
    }

    /// Logits `[batch, tgt, vocab]` of the decoder on `decoder_input_ids` (which start with
    /// `decoder_start_token_id`), attending to `encoder_states` where `attention_mask` is 1.
    pub fn decode(
        &self,
        decoder_input_ids: Tensor<B, 2, Int>,
        encoder_states: Tensor<B, 3>,
        attention_mask: Tensor<B, 2, Int>,
    ) -> Tensor<B, 3> {
        let mut cache = self.new_cache(encoder_states, attention_mask);
        self.decode_cached(decoder_input_ids, &mut cache)
    }

    /// Encoder then decoder: logits `[batch, tgt, vocab]`.
    pub fn forward(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
        decoder_input_ids: Tensor<B, 2, Int>,
    ) -> Tensor<B, 3> {
        let states = self.encode(input_ids, attention_mask.clone());
        self.decode(decoder_input_ids, states, attention_mask)
    }
}
