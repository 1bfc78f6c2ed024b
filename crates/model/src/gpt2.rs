//! GPT-2 (`GPT2LMHeadModel`), following Hugging Face's `modeling_gpt2.py`.
//!
//! Learned token (`wte`) and position (`wpe`) embeddings, `n_layer` pre-LayerNorm blocks
//! (`ln_1` -> causal self-attention -> residual, `ln_2` -> MLP with `gelu_new` -> residual), a final
//! `ln_f`, and an LM head tied to `wte`. Linear layers are HF's `Conv1D`: weight stored as
//! `[in, out]`, so `y = x @ W + b`. Names of modules and config fields follow Hugging Face, and
//! [`GPT2LMHeadModel::load`] / [`GPT2LMHeadModel::save`] read and write `config.json` +
//! `model.safetensors` in HF layout.
//!
//! Dropout (`resid_pdrop`, `embd_pdrop`, `attn_pdrop`) is not applied: the model always runs as HF's
//! `model.eval()` does. The config keeps the fields so checkpoints round-trip.

use std::path::Path;

use burn::module::{Module, Param};
use burn::tensor::activation::{gelu, relu};
use burn::tensor::backend::Backend;
use burn::tensor::{Bool, Int, Tensor};
use serde::{Deserialize, Serialize};

use crate::fused;
use crate::params::ParamSource;
use crate::weights::{ModelError, SafeTensorsFile, TensorWriter, matmul_t, write_hf_config};

/// `GPT2Config`, with Hugging Face's field names and defaults (those of `gpt2`, 124M).
/// Fields this crate does not use are kept in `extra` so that a saved `config.json` keeps them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GPT2Config {
    #[serde(default = "defaults::vocab_size")]
    pub vocab_size: usize,
    #[serde(default = "defaults::n_positions")]
    pub n_positions: usize,
    #[serde(default = "defaults::n_embd")]
    pub n_embd: usize,
    #[serde(default = "defaults::n_layer")]
    pub n_layer: usize,
    #[serde(default = "defaults::n_head")]
    pub n_head: usize,
    /// Width of the MLP; `None` means `4 * n_embd`.
    #[serde(default)]
    pub n_inner: Option<usize>,
    #[serde(default = "defaults::activation_function")]
    pub activation_function: String,
    #[serde(default = "defaults::pdrop")]
    pub resid_pdrop: f64,
    #[serde(default = "defaults::pdrop")]
    pub embd_pdrop: f64,
    #[serde(default = "defaults::pdrop")]
    pub attn_pdrop: f64,
    #[serde(default = "defaults::layer_norm_epsilon")]
    pub layer_norm_epsilon: f64,
    #[serde(default = "defaults::initializer_range")]
    pub initializer_range: f64,
    #[serde(default = "defaults::yes")]
    pub scale_attn_weights: bool,
    #[serde(default)]
    pub scale_attn_by_inverse_layer_idx: bool,
    #[serde(default = "defaults::token_id")]
    pub bos_token_id: Option<u32>,
    #[serde(default = "defaults::token_id")]
    pub eos_token_id: Option<u32>,
    #[serde(default)]
    pub pad_token_id: Option<u32>,
    #[serde(default = "defaults::yes")]
    pub tie_word_embeddings: bool,
    /// Every other field of `config.json`, kept as read.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

mod defaults {
    pub fn vocab_size() -> usize {
        50257
    }
    pub fn n_positions() -> usize {
        1024
    }
    pub fn n_embd() -> usize {
        768
    }
    pub fn n_layer() -> usize {
        12
    }
    pub fn n_head() -> usize {
        12
    }
    pub fn activation_function() -> String {
        "gelu_new".into()
    }
    pub fn pdrop() -> f64 {
        0.1
    }
    pub fn layer_norm_epsilon() -> f64 {
        1e-5
    }
    pub fn initializer_range() -> f64 {
        0.02
    }
    pub fn yes() -> bool {
        true
    }
    pub fn token_id() -> Option<u32> {
        Some(50256)
    }
}

impl Default for GPT2Config {
    fn default() -> Self {
        serde_json::from_str("{}").expect("all fields have defaults")
    }
}

impl GPT2Config {
    /// Width of the MLP's hidden layer.
    pub fn inner_dim(&self) -> usize {
        self.n_inner.unwrap_or(4 * self.n_embd)
    }

    /// Checks what this implementation supports.
    pub fn validate(&self) -> Result<(), ModelError> {
        // A hostile or corrupt config.json must be an error, not an overflow or a huge allocation.
        for (name, value, max) in [
            ("vocab_size", self.vocab_size, 1 << 24),
            ("n_positions", self.n_positions, 1 << 24),
            ("n_embd", self.n_embd, 1 << 20),
            ("n_layer", self.n_layer, 1 << 12),
            ("n_head", self.n_head, 1 << 12),
            ("n_inner", self.n_inner.unwrap_or(0), 1 << 22),
        ] {
            if value > max {
                return Err(ModelError::Config(format!(
                    "{name} = {value} is over the limit of {max}; config.json is corrupt"
                )));
            }
        }
        if self.n_head == 0 || !self.n_embd.is_multiple_of(self.n_head) {
            return Err(ModelError::Config(format!(
                "n_embd ({}) must be a multiple of n_head ({})",
                self.n_embd, self.n_head
            )));
        }
        Activation::parse(&self.activation_function)?;
        Ok(())
    }
}

/// The MLP non-linearity named by `activation_function`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `gelu_new`: the tanh approximation GPT-2 was trained with.
    GeluNew,
    /// `gelu`: the exact, erf-based GELU.
    Gelu,
    Relu,
}

impl Activation {
    pub fn parse(name: &str) -> Result<Self, ModelError> {
        match name {
            "gelu_new" | "gelu_pytorch_tanh" => Ok(Activation::GeluNew),
            "gelu" => Ok(Activation::Gelu),
            "relu" => Ok(Activation::Relu),
            other => Err(ModelError::Config(format!(
                "activation_function `{other}` is not supported (gelu_new, gelu, relu are)"
            ))),
        }
    }

    fn forward<B: Backend, const D: usize>(self, x: Tensor<B, D>) -> Tensor<B, D> {
        match self {
            Activation::GeluNew => gelu_new(x),
            Activation::Gelu => gelu(x),
            Activation::Relu => relu(x),
        }
    }
}

/// `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`, as HF's `NewGELUActivation`: one fused
/// kernel on the CPU, `x sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3))` elsewhere ([`fused::gelu_new`]).
pub fn gelu_new<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    fused::gelu_new(x)
}

/// HF's `Conv1D`: a linear layer with weight stored as `[in, out]`.
#[derive(Module, Debug)]
pub struct Conv1D<B: Backend> {
    pub weight: Param<Tensor<B, 2>>,
    pub bias: Param<Tensor<B, 1>>,
}

impl<B: Backend> Conv1D<B> {
    /// `{name}.weight` `[n_in, n_out]` (seeded: `N(0, std)`) and `{name}.bias` (seeded: 0).
    fn new(
        src: ParamSource<'_>,
        name: &str,
        n_in: usize,
        n_out: usize,
        std: f64,
        device: &B::Device,
    ) -> Result<Self, ModelError> {
        Ok(Conv1D {
            weight: src.normal(&format!("{name}.weight"), [n_in, n_out], std, device)?,
            bias: src.constant(&format!("{name}.bias"), [n_out], 0.0, device)?,
        })
    }

    fn save(&self, out: &mut TensorWriter, name: &str) {
        out.add(format!("{name}.weight"), self.weight.val());
        out.add(format!("{name}.bias"), self.bias.val());
    }

    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [batch, seq, n_in] = x.dims();
        let n_out = self.weight.dims()[1];
        let y = x.reshape([batch * seq, n_in]).matmul(self.weight.val())
            + self.bias.val().unsqueeze::<2>();
        y.reshape([batch, seq, n_out])
    }
}

/// `nn.LayerNorm` over the last dimension.
#[derive(Module, Debug)]
pub struct LayerNorm<B: Backend> {
    pub weight: Param<Tensor<B, 1>>,
    pub bias: Param<Tensor<B, 1>>,
    #[module(skip)]
    pub eps: f64,
}

impl<B: Backend> LayerNorm<B> {
    /// `{name}.weight` (seeded: 1) and `{name}.bias` (seeded: 0).
    fn new(
        src: ParamSource<'_>,
        name: &str,
        dim: usize,
        eps: f64,
        device: &B::Device,
    ) -> Result<Self, ModelError> {
        Ok(LayerNorm {
            weight: src.constant(&format!("{name}.weight"), [dim], 1.0, device)?,
            bias: src.constant(&format!("{name}.bias"), [dim], 0.0, device)?,
            eps,
        })
    }

    fn save(&self, out: &mut TensorWriter, name: &str) {
        out.add(format!("{name}.weight"), self.weight.val());
        out.add(format!("{name}.bias"), self.bias.val());
    }

    /// `(x - mean) / sqrt(var + eps) * weight + bias` ([`fused::layer_norm`]).
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        fused::layer_norm(x, self.weight.val(), self.bias.val(), self.eps)
    }
}

/// A token or position embedding table, `[num, n_embd]`.
#[derive(Module, Debug)]
pub struct Embedding<B: Backend> {
    pub weight: Param<Tensor<B, 2>>,
}

impl<B: Backend> Embedding<B> {
    /// Rows of the table for `ids` `[batch, seq]` -> `[batch, seq, n_embd]`.
    pub fn forward(&self, ids: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let [batch, seq] = ids.dims();
        let dim = self.weight.dims()[1];
        self.weight
            .val()
            .select(0, ids.reshape([batch * seq]))
            .reshape([batch, seq, dim])
    }
}

/// Keys and values of earlier positions, per layer, each `[batch, n_head, past, head_dim]`.
#[derive(Debug, Clone)]
pub struct KvCache<B: Backend> {
    layers: Vec<Option<(Tensor<B, 4>, Tensor<B, 4>)>>,
}

impl<B: Backend> KvCache<B> {
    pub fn new(n_layer: usize) -> Self {
        KvCache {
            layers: vec![None; n_layer],
        }
    }

    /// Number of cached positions.
    pub fn len(&self) -> usize {
        match self.layers.first() {
            Some(Some((k, _))) => k.dims()[2],
            _ => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keeps only the rows (batch entries) in `rows`, e.g. to drop finished sequences.
    pub fn select_rows(&mut self, rows: Tensor<B, 1, Int>) {
        for (k, v) in self.layers.iter_mut().flatten() {
            *k = k.clone().select(0, rows.clone());
            *v = v.clone().select(0, rows.clone());
        }
    }
}

/// Causal multi-head self-attention (`GPT2Attention`).
#[derive(Module, Debug)]
pub struct GPT2Attention<B: Backend> {
    /// Query, key and value projections in one `[n_embd, 3 n_embd]` matrix.
    pub c_attn: Conv1D<B>,
    pub c_proj: Conv1D<B>,
    #[module(skip)]
    pub n_head: usize,
    /// Multiplies `q k^T`: `1/sqrt(head_dim)` (if `scale_attn_weights`), further divided by
    /// `layer_idx + 1` if `scale_attn_by_inverse_layer_idx`.
    #[module(skip)]
    pub scale: f64,
}

impl<B: Backend> GPT2Attention<B> {
    /// `x` `[batch, seq, n_embd]`; `masked` `[batch, 1, seq, past + seq]`, true where a query must
    /// not see a key. With a cache, this layer's keys and values are appended to it.
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        masked: Tensor<B, 4, Bool>,
        cache: Option<&mut Option<(Tensor<B, 4>, Tensor<B, 4>)>>,
    ) -> Tensor<B, 3> {
        let qkv = self.c_attn.forward(x);
        let Some(slot) = cache else {
            // One fused node on the CPU: heads read from `qkv` in place, merged on output.
            let out = fused::attention_packed(qkv, self.n_head, Some(masked), self.scale);
            return self.c_proj.forward(out);
        };
        let [batch, seq, three_embd] = qkv.dims();
        let n_embd = three_embd / 3;
        let head_dim = n_embd / self.n_head;
        let split_heads = |t: Tensor<B, 3>| {
            t.reshape([batch, seq, self.n_head, head_dim])
                .swap_dims(1, 2)
        };
        let q = split_heads(qkv.clone().narrow(2, 0, n_embd));
        let mut k = split_heads(qkv.clone().narrow(2, n_embd, n_embd));
        let mut v = split_heads(qkv.narrow(2, 2 * n_embd, n_embd));
        if let Some((past_k, past_v)) = slot.take() {
            k = Tensor::cat(vec![past_k, k], 2);
            v = Tensor::cat(vec![past_v, v], 2);
        }
        *slot = Some((k.clone(), v.clone()));
        let out = fused::attention(q, k, v, None, Some(masked), self.scale);
        self.c_proj.forward(out)
    }
}

/// `GPT2MLP`: `c_fc` -> activation -> `c_proj`.
#[derive(Module, Debug)]
pub struct GPT2MLP<B: Backend> {
    pub c_fc: Conv1D<B>,
    pub c_proj: Conv1D<B>,
    #[module(skip)]
    pub act: Activation,
}

impl<B: Backend> GPT2MLP<B> {
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        self.c_proj.forward(self.act.forward(self.c_fc.forward(x)))
    }
}

/// `GPT2Block`: pre-LayerNorm attention and MLP, each with a residual connection.
#[derive(Module, Debug)]
pub struct GPT2Block<B: Backend> {
    pub ln_1: LayerNorm<B>,
    pub attn: GPT2Attention<B>,
    pub ln_2: LayerNorm<B>,
    pub mlp: GPT2MLP<B>,
}

impl<B: Backend> GPT2Block<B> {
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        masked: Tensor<B, 4, Bool>,
        cache: Option<&mut Option<(Tensor<B, 4>, Tensor<B, 4>)>>,
    ) -> Tensor<B, 3> {
        let x = x.clone() + self.attn.forward(self.ln_1.forward(x), masked, cache);
        x.clone() + self.mlp.forward(self.ln_2.forward(x))
    }
}

/// `GPT2Model`: embeddings, blocks and the final LayerNorm.
#[derive(Module, Debug)]
pub struct GPT2Model<B: Backend> {
    pub wte: Embedding<B>,
    pub wpe: Embedding<B>,
    pub h: Vec<GPT2Block<B>>,
    pub ln_f: LayerNorm<B>,
}

/// `GPT2LMHeadModel`: [`GPT2Model`] plus the LM head (tied to `wte` unless the config says not).
#[derive(Module, Debug)]
pub struct GPT2LMHeadModel<B: Backend> {
    pub transformer: GPT2Model<B>,
    /// Separate LM head `[vocab_size, n_embd]`, only when `tie_word_embeddings` is false.
    pub lm_head: Option<Param<Tensor<B, 2>>>,
    #[module(skip)]
    pub config: GPT2Config,
}

impl<B: Backend> GPT2LMHeadModel<B> {
    /// A randomly initialised model, as HF's `GPT2PreTrainedModel._init_weights`: weights
    /// `N(0, initializer_range)`, the residual projections (`c_proj`) scaled by `1/sqrt(2 n_layer)`,
    /// biases 0, LayerNorms 1 and 0. Every parameter is drawn from its own stream of `seed`
    /// ([`ParamSource::Seeded`]), so the weights depend on the seed alone.
    pub fn init(config: GPT2Config, seed: u64, device: &B::Device) -> Result<Self, ModelError> {
        Self::build(config, ParamSource::Seeded(seed), device)
    }

    /// Loads `config.json` and `model.safetensors` (or `pytorch_model.bin`) from a Hugging Face
    /// model directory; for a hub id, resolve it first with [`crate::hub::resolve`].
    pub fn load(dir: impl AsRef<Path>, device: &B::Device) -> Result<Self, ModelError> {
        let dir = dir.as_ref();
        let config: GPT2Config = crate::checkpoint::read_config(dir, &["gpt2"])?;
        let weights = crate::checkpoint::open_weights(dir)?;
        Self::from_safetensors(config, &weights, device)
    }

    /// Builds the model from HF tensors. Accepts both `GPT2LMHeadModel` names
    /// (`transformer.h.0...`) and bare `GPT2Model` names (`h.0...`, as in OpenAI's `gpt2` upload).
    pub fn from_safetensors(
        config: GPT2Config,
        w: &SafeTensorsFile,
        device: &B::Device,
    ) -> Result<Self, ModelError> {
        Self::build(config, ParamSource::File(w), device)
    }

    /// The module tree, from a file or a seed: the one place that names every parameter.
    fn build(
        config: GPT2Config,
        src: ParamSource<'_>,
        device: &B::Device,
    ) -> Result<Self, ModelError> {
        config.validate()?;
        let p = if src.contains("wte.weight") && !src.contains("transformer.wte.weight") {
            ""
        } else {
            "transformer."
        };
        let std = config.initializer_range;
        let proj_std = std / (2.0 * config.n_layer as f64).sqrt();
        let (d, eps, inner) = (config.n_embd, config.layer_norm_epsilon, config.inner_dim());
        let act = Activation::parse(&config.activation_function)?;
        let mut h = Vec::with_capacity(config.n_layer);
        for i in 0..config.n_layer {
            let b = format!("{p}h.{i}");
            h.push(GPT2Block {
                ln_1: LayerNorm::new(src, &format!("{b}.ln_1"), d, eps, device)?,
                attn: GPT2Attention {
                    c_attn: Conv1D::new(src, &format!("{b}.attn.c_attn"), d, 3 * d, std, device)?,
                    c_proj: Conv1D::new(src, &format!("{b}.attn.c_proj"), d, d, proj_std, device)?,
                    n_head: config.n_head,
                    scale: attention_scale(&config, i),
                },
                ln_2: LayerNorm::new(src, &format!("{b}.ln_2"), d, eps, device)?,
                mlp: GPT2MLP {
                    c_fc: Conv1D::new(src, &format!("{b}.mlp.c_fc"), d, inner, std, device)?,
                    c_proj: Conv1D::new(
                        src,
                        &format!("{b}.mlp.c_proj"),
                        inner,
                        d,
                        proj_std,
                        device,
                    )?,
                    act,
                },
            });
        }
        let lm_head = if config.tie_word_embeddings {
            None
        } else {
            Some(src.normal("lm_head.weight", [config.vocab_size, d], std, device)?)
        };
        let embedding = |name: &str, n: usize| -> Result<Embedding<B>, ModelError> {
            Ok(Embedding {
                weight: src.normal(&format!("{p}{name}"), [n, d], std, device)?,
            })
        };
        Ok(GPT2LMHeadModel {
            transformer: GPT2Model {
                wte: embedding("wte.weight", config.vocab_size)?,
                wpe: embedding("wpe.weight", config.n_positions)?,
                h,
                ln_f: LayerNorm::new(src, &format!("{p}ln_f"), d, eps, device)?,
            },
            lm_head,
            config,
        })
    }

    /// Writes `config.json` and `model.safetensors` in `dir` (created if needed), in the layout
    /// `GPT2LMHeadModel.from_pretrained` reads (tied `lm_head.weight` omitted, as HF does).
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<(), ModelError> {
        let dir = dir.as_ref();
        write_hf_config(dir, &self.config, "gpt2", "GPT2LMHeadModel")?;

        let mut out = TensorWriter::new();
        let t = &self.transformer;
        out.add("transformer.wte.weight", t.wte.weight.val());
        out.add("transformer.wpe.weight", t.wpe.weight.val());
        for (i, block) in t.h.iter().enumerate() {
            let b = format!("transformer.h.{i}");
            block.ln_1.save(&mut out, &format!("{b}.ln_1"));
            block
                .attn
                .c_attn
                .save(&mut out, &format!("{b}.attn.c_attn"));
            block
                .attn
                .c_proj
                .save(&mut out, &format!("{b}.attn.c_proj"));
            block.ln_2.save(&mut out, &format!("{b}.ln_2"));
            block.mlp.c_fc.save(&mut out, &format!("{b}.mlp.c_fc"));
            block.mlp.c_proj.save(&mut out, &format!("{b}.mlp.c_proj"));
        }
        t.ln_f.save(&mut out, "transformer.ln_f");
        if let Some(lm_head) = &self.lm_head {
            out.add("lm_head.weight", lm_head.val());
        }
        out.write(dir.join("model.safetensors"))
    }

    pub fn new_cache(&self) -> KvCache<B> {
        KvCache::new(self.config.n_layer)
    }

    /// Final hidden states `[batch, seq, n_embd]` (after `ln_f`) of `input_ids` `[batch, seq]`.
    ///
    /// `attention_mask` `[batch, past + seq]` has 1 for real tokens and 0 for padding; it covers the
    /// cached positions too. `position_ids` `[batch, seq]` default to the count of real tokens
    /// before each position (so left padding does not shift positions, as HF's `generate` does).
    /// With `cache`, attention also sees the cached positions and the new keys/values are added.
    pub fn forward_hidden(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
        position_ids: Option<Tensor<B, 2, Int>>,
        mut cache: Option<&mut KvCache<B>>,
    ) -> Tensor<B, 3> {
        let [batch, seq] = input_ids.dims();
        let past = cache.as_ref().map_or(0, |c| c.len());
        let keys = past + seq;
        assert_eq!(
            attention_mask.dims(),
            [batch, keys],
            "attention_mask must be [batch, past + seq]"
        );
        let position_ids = position_ids.unwrap_or_else(|| {
            (attention_mask.clone().cumsum(1) - 1)
                .clamp_min(0)
                .narrow(1, past, seq)
        });
        let masked = attention_masked(attention_mask, past, seq);

        let t = &self.transformer;
        let mut x = t.wte.forward(input_ids) + t.wpe.forward(position_ids);
        for (i, block) in t.h.iter().enumerate() {
            let slot = cache.as_deref_mut().map(|c| &mut c.layers[i]);
            x = block.forward(x, masked.clone(), slot);
        }
        t.ln_f.forward(x)
    }

    /// Next-token logits `[batch, seq, vocab_size]` from hidden states.
    pub fn lm_head(&self, hidden: Tensor<B, 3>) -> Tensor<B, 3> {
        let [batch, seq, d] = hidden.dims();
        let weight = match &self.lm_head {
            Some(w) => w.val(),
            None => self.transformer.wte.weight.val(),
        };
        let vocab = weight.dims()[0];
        matmul_t(hidden.reshape([batch * seq, d]), weight).reshape([batch, seq, vocab])
    }

    /// Logits `[batch, seq, vocab_size]`; see [`Self::forward_hidden`] for the arguments.
    pub fn forward(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
        position_ids: Option<Tensor<B, 2, Int>>,
        cache: Option<&mut KvCache<B>>,
    ) -> Tensor<B, 3> {
        self.lm_head(self.forward_hidden(input_ids, attention_mask, position_ids, cache))
    }
}

fn attention_scale(config: &GPT2Config, layer_idx: usize) -> f64 {
    let head_dim = (config.n_embd / config.n_head) as f64;
    let mut scale = if config.scale_attn_weights {
        1.0 / head_dim.sqrt()
    } else {
        1.0
    };
    if config.scale_attn_by_inverse_layer_idx {
        scale /= (layer_idx + 1) as f64;
    }
    scale
}

/// `[batch, 1, seq, past + seq]`, true where query `i` (at absolute position `past + i`) must not
/// attend to key `j`: keys in its future, and padding keys (`attention_mask == 0`).
fn attention_masked<B: Backend>(
    attention_mask: Tensor<B, 2, Int>,
    past: usize,
    seq: usize,
) -> Tensor<B, 4, Bool> {
    let device = attention_mask.device();
    let [batch, keys] = attention_mask.dims();
    let shape = [batch, 1, seq, keys];
    let key_pos = Tensor::<B, 1, Int>::arange(0..keys as i64, &device)
        .reshape([1, 1, 1, keys])
        .expand(shape);
    let query_pos = Tensor::<B, 1, Int>::arange(past as i64..keys as i64, &device)
        .reshape([1, 1, seq, 1])
        .expand(shape);
    let future = key_pos.greater(query_pos);
    let padding = attention_mask
        .equal_elem(0)
        .reshape([batch, 1, 1, keys])
        .expand(shape);
    future.bool_or(padding)
}
