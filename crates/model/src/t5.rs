//! T5 (`T5ForConditionalGeneration`, the original T5 as in `t5-base`), following Hugging Face's
//! `modeling_t5.py`.
//!
//! Shared token embedding; an encoder and a decoder of pre-norm blocks with T5's LayerNorm (RMS, no
//! bias, no mean subtraction); attention without `1/sqrt(d)` scaling and with a learned relative
//! position bias (bucketed, computed in block 0 and shared by all blocks of the stack); ReLU
//! feed-forward (`wi` -> relu -> `wo`); the decoder adds cross-attention. With tied embeddings the
//! decoder output is scaled by `d_model^-0.5` before the LM head.
//!
//! Not yet here: a key/value cache (decoding recomputes the decoder), gated-GELU (T5 v1.1)
//! feed-forward, and dropout (runs as `eval()`).

use std::path::Path;

use burn::module::{Module, Param};
use burn::tensor::activation::{relu, softmax};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::weights::{ModelError, SafeTensorsFile, TensorWriter, read_json, write_hf_config};

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
}

impl T5Config {
    pub fn decoder_layers(&self) -> usize {
        self.num_decoder_layers.unwrap_or(self.num_layers)
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
        let var = x.clone().powi_scalar(2).mean_dim(2);
        x / var.add_scalar(self.eps).sqrt() * self.weight.val().unsqueeze::<3>()
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
        x.reshape([batch * seq, n_in])
            .matmul(self.weight.val().transpose())
            .reshape([batch, seq, n_out])
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

impl<B: Backend> T5Attention<B> {
    /// `x` `[batch, q, d_model]` attends to `kv` `[batch, k, d_model]` with additive `bias`
    /// `[batch, heads, q, k]` (position bias plus mask).
    pub fn forward(&self, x: Tensor<B, 3>, kv: Tensor<B, 3>, bias: Tensor<B, 4>) -> Tensor<B, 3> {
        let [batch, q_len, _] = x.dims();
        let k_len = kv.dims()[1];
        let inner = self.q.weight.dims()[0];
        let d_kv = inner / self.num_heads;
        let heads = |t: Tensor<B, 3>, len: usize| {
            t.reshape([batch, len, self.num_heads, d_kv])
                .swap_dims(1, 2)
        };
        let q = heads(self.q.forward(x), q_len);
        let k = heads(self.k.forward(kv.clone()), k_len);
        let v = heads(self.v.forward(kv), k_len);
        let scores = q.matmul(k.swap_dims(2, 3)) + bias;
        let out = softmax(scores, 3)
            .matmul(v)
            .swap_dims(1, 2)
            .reshape([batch, q_len, inner]);
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

/// `T5DenseActDense` with ReLU.
#[derive(Module, Debug)]
pub struct T5DenseReluDense<B: Backend> {
    pub wi: Linear<B>,
    pub wo: Linear<B>,
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

impl<B: Backend> T5Stack<B> {
    /// `x` embedded tokens; `self_bias` `[batch, heads, q, q]`; `cross` = (encoder states, bias).
    fn forward(
        &self,
        mut x: Tensor<B, 3>,
        self_bias: Tensor<B, 4>,
        cross: Option<(Tensor<B, 3>, Tensor<B, 4>)>,
    ) -> Tensor<B, 3> {
        for block in &self.block {
            let h = block.self_attention_norm.forward(x.clone());
            x = x + block
                .self_attention
                .forward(h.clone(), h, self_bias.clone());
            if let (Some(attn), Some(norm), Some((enc, bias))) =
                (&block.cross_attention, &block.cross_attention_norm, &cross)
            {
                x = x.clone() + attn.forward(norm.forward(x), enc.clone(), bias.clone());
            }
            let h = block.ff_norm.forward(x.clone());
            x = x + block.ff.wo.forward(relu(block.ff.wi.forward(h)));
        }
        self.final_layer_norm.forward(x)
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
        let config: T5Config = read_json(dir.join("config.json"))?;
        let weights = SafeTensorsFile::open(dir.join("model.safetensors"))?;
        Self::from_safetensors(config, &weights, device)
    }

    pub fn from_safetensors(
        config: T5Config,
        w: &SafeTensorsFile,
        device: &B::Device,
    ) -> Result<Self, ModelError> {
        if config.feed_forward_proj != "relu" {
            return Err(ModelError::Config(format!(
                "feed_forward_proj `{}` is not supported (only the original T5's `relu`)",
                config.feed_forward_proj
            )));
        }
        let (dm, inner, heads) = (
            config.d_model,
            config.num_heads * config.d_kv,
            config.num_heads,
        );
        let eps = config.layer_norm_epsilon;
        let linear = |name: String, o: usize, i: usize| -> Result<Linear<B>, ModelError> {
            Ok(Linear {
                weight: w.param(&name, [o, i], device)?,
            })
        };
        let norm = |name: String| -> Result<T5LayerNorm<B>, ModelError> {
            Ok(T5LayerNorm {
                weight: w.param(&name, [dm], device)?,
                eps,
            })
        };
        let attention = |p: String, with_bias: bool| -> Result<T5Attention<B>, ModelError> {
            Ok(T5Attention {
                q: linear(format!("{p}.q.weight"), inner, dm)?,
                k: linear(format!("{p}.k.weight"), inner, dm)?,
                v: linear(format!("{p}.v.weight"), inner, dm)?,
                o: linear(format!("{p}.o.weight"), dm, inner)?,
                relative_attention_bias: if with_bias {
                    Some(w.param(
                        &format!("{p}.relative_attention_bias.weight"),
                        [config.relative_attention_num_buckets, heads],
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
                        wi: linear(
                            format!("{b}.{ff_layer}.DenseReluDense.wi.weight"),
                            config.d_ff,
                            dm,
                        )?,
                        wo: linear(
                            format!("{b}.{ff_layer}.DenseReluDense.wo.weight"),
                            dm,
                            config.d_ff,
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
            Some(w.param("lm_head.weight", [config.vocab_size, dm], device)?)
        };
        Ok(T5ForConditionalGeneration {
            shared: w.param("shared.weight", [config.vocab_size, dm], device)?,
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
        self.encoder.forward(self.embed(input_ids), bias, None)
    }

    /// Logits `[batch, tgt, vocab]` of the decoder on `decoder_input_ids` (which start with
    /// `decoder_start_token_id`), attending to `encoder_states` where `attention_mask` is 1.
    pub fn decode(
        &self,
        decoder_input_ids: Tensor<B, 2, Int>,
        encoder_states: Tensor<B, 3>,
        attention_mask: Tensor<B, 2, Int>,
    ) -> Tensor<B, 3> {
        let tgt = decoder_input_ids.dims()[1];
        let device = decoder_input_ids.device();
        let first = &self.decoder.block[0].self_attention;
        let causal = Tensor::<B, 2>::from_data(
            TensorData::new(
                (0..tgt * tgt)
                    .map(|i| if i % tgt > i / tgt { f32::MIN } else { 0.0 })
                    .collect::<Vec<_>>(),
                [tgt, tgt],
            ),
            &device,
        )
        .unsqueeze::<4>();
        let self_bias = first.position_bias(tgt, tgt, 0, false, &self.config) + causal;
        let cross_bias = padding_bias(attention_mask).expand([
            encoder_states.dims()[0],
            self.config.num_heads,
            tgt,
            encoder_states.dims()[1],
        ]);
        let hidden = self.decoder.forward(
            self.embed(decoder_input_ids),
            self_bias,
            Some((encoder_states, cross_bias)),
        );
        let [batch, _, dm] = hidden.dims();
        let (hidden, weight) = match &self.lm_head {
            Some(w) => (hidden, w.val()),
            None => (hidden.mul_scalar((dm as f64).powf(-0.5)), self.shared.val()),
        };
        hidden
            .reshape([batch * tgt, dm])
            .matmul(weight.transpose())
            .reshape([batch, tgt, self.config.vocab_size])
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

    /// Greedy decoding (no cache: the decoder is recomputed each step), `max_new_tokens` tokens per
    /// row, stopping early only when every row has emitted EOS (later tokens of a finished row are
    /// `pad_token_id`).
    pub fn greedy(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
        max_new_tokens: usize,
    ) -> Vec<Vec<u32>> {
        let batch = input_ids.dims()[0];
        let device = input_ids.device();
        let states = self.encode(input_ids, attention_mask.clone());
        let mut dec: Vec<Vec<i64>> = vec![vec![self.config.decoder_start_token_id as i64]; batch];
        let mut done = vec![false; batch];
        for _ in 0..max_new_tokens {
            let len = dec[0].len();
            let ids = Tensor::<B, 2, Int>::from_data(
                TensorData::new(dec.concat(), [batch, len]),
                &device,
            );
            let logits = self
                .decode(ids, states.clone(), attention_mask.clone())
                .narrow(1, len - 1, 1);
            let next: Vec<i64> = logits.argmax(2).into_data().iter::<i64>().collect();
            for b in 0..batch {
                let tok = if done[b] {
                    self.config.pad_token_id as i64
                } else {
                    next[b]
                };
                done[b] |= tok == self.config.eos_token_id as i64;
                dec[b].push(tok);
            }
            if done.iter().all(|&d| d) {
                break;
            }
        }
        dec.into_iter()
            .map(|row| row[1..].iter().map(|&t| t as u32).collect())
            .collect()
    }
}
