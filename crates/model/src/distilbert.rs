//! `DistilBertForSequenceClassification` (Hugging Face `modeling_distilbert.py`): the sentiment
//! classifier RL4LMs' `learned_reward` scores IMDB continuations with (`lvwerra/distilbert-imdb`).
//!
//! ```text
//! embeddings: word + position -> LayerNorm (eps 1e-12)          (no token types)
//! n_layers post-LN blocks: h = LN(h + out_lin(attention(h))); h = LN(h + lin2(gelu(lin1 h)))
//! head: h[:, 0] -> pre_classifier -> ReLU -> classifier -> logits
//! ```
//!
//! A DistilBERT block is a BERT encoder layer under other names, so the blocks are
//! [`crate::bert::BertLayer`]s; only the embeddings (no token types) and the head (no pooler;
//! `pre_classifier` + ReLU) are DistilBERT's own. Dropout is not applied (the model runs as
//! `model.eval()`). The model is a burn [`Module`]: with an autodiff backend it trains, and
//! [`DistilBertForSequenceClassification::save`] writes a checkpoint `from_pretrained` opens.
//!
//! [`DistilBertClassifier`] pairs the model with its tokenizer (the checkpoint's `tokenizer.json`,
//! else an uncased WordPiece over `vocab.txt`) and gives class probabilities of texts in batches.

use std::collections::BTreeMap;
use std::path::Path;

use burn::module::{Module, Param};
use burn::nn::{Embedding, LayerNorm, LayerNormConfig, Linear};
use burn::tensor::activation::{relu, softmax};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::bert::{BertLayer, BertSelfAttention, attention_mask_bias};
use crate::seeded::SeededInit;
use crate::tokenizer::TokenizerError;
use crate::weights::{ModelError, SafeTensorsFile, TensorWriter, write_hf_config};

/// `DistilBertConfig`, with Hugging Face's field names and defaults (`distilbert-base-uncased`).
/// Other fields of `config.json` are kept in `extra`, so a saved config keeps them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistilBertConfig {
    #[serde(default = "defaults::vocab_size")]
    pub vocab_size: usize,
    #[serde(default = "defaults::max_position_embeddings")]
    pub max_position_embeddings: usize,
    #[serde(default)]
    pub sinusoidal_pos_embds: bool,
    #[serde(default = "defaults::n_layers")]
    pub n_layers: usize,
    #[serde(default = "defaults::n_heads")]
    pub n_heads: usize,
    #[serde(default = "defaults::dim")]
    pub dim: usize,
    #[serde(default = "defaults::hidden_dim")]
    pub hidden_dim: usize,
    #[serde(default = "defaults::activation")]
    pub activation: String,
    #[serde(default = "defaults::initializer_range")]
    pub initializer_range: f64,
    #[serde(default)]
    pub pad_token_id: usize,
    /// Label names by index (`"0": "NEGATIVE"`); their number is the number of classes. Empty
    /// means Hugging Face's default of two labels.
    #[serde(default)]
    pub id2label: BTreeMap<String, String>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

mod defaults {
    pub fn vocab_size() -> usize {
        30522
    }
    pub fn max_position_embeddings() -> usize {
        512
    }
    pub fn n_layers() -> usize {
        6
    }
    pub fn n_heads() -> usize {
        12
    }
    pub fn dim() -> usize {
        768
    }
    pub fn hidden_dim() -> usize {
        3072
    }
    pub fn activation() -> String {
        "gelu".into()
    }
    pub fn initializer_range() -> f64 {
        0.02
    }
}

impl Default for DistilBertConfig {
    fn default() -> Self {
        serde_json::from_str("{}").expect("all fields have defaults")
    }
}

/// DistilBERT's LayerNorm epsilon (fixed in `modeling_distilbert.py`).
const LAYER_NORM_EPS: f64 = 1e-12;

impl DistilBertConfig {
    /// This config with `n` labels named `LABEL_0`, ... (as `PretrainedConfig(num_labels=n)`).
    pub fn with_num_labels(mut self, n: usize) -> Self {
        self.id2label = (0..n)
            .map(|i| (i.to_string(), format!("LABEL_{i}")))
            .collect();
        self
    }

    pub fn num_labels(&self) -> usize {
        if self.id2label.is_empty() {
            2
        } else {
            self.id2label.len()
        }
    }

    /// Checks what this implementation supports.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.n_heads == 0 || !self.dim.is_multiple_of(self.n_heads) {
            return Err(ModelError::Config(format!(
                "DistilBERT: dim ({}) must be a multiple of n_heads ({})",
                self.dim, self.n_heads
            )));
        }
        if self.activation != "gelu" {
            return Err(ModelError::Config(format!(
                "DistilBERT: activation `{}` is not supported (gelu is)",
                self.activation
            )));
        }
        Ok(())
    }
}

/// Where the parameters come from: a checkpoint (shapes checked) or HF's random initialisation.
enum Source<'a> {
    File(&'a SafeTensorsFile),
    Init(Box<SeededInit>, f64),
}

impl Source<'_> {
    /// `nn.Linear` `name` (HF stores `[out, in]`; burn's `Linear` holds `[in, out]`).
    fn linear<B: Backend>(
        &mut self,
        name: &str,
        d_in: usize,
        d_out: usize,
        device: &B::Device,
    ) -> Result<Linear<B>, ModelError> {
        let (weight, bias) = match self {
            Source::File(w) => (
                w.tensor::<B, 2>(&format!("{name}.weight"), [d_out, d_in], device)?
                    .transpose(),
                w.tensor::<B, 1>(&format!("{name}.bias"), [d_out], device)?,
            ),
            Source::Init(init, std) => (
                init.normal::<B, 2>([d_out, d_in], *std, device).transpose(),
                Tensor::<B, 1>::zeros([d_out], device),
            ),
        };
        Ok(Linear {
            weight: Param::from_tensor(weight),
            bias: Some(Param::from_tensor(bias)),
        })
    }

    /// `nn.Embedding` `name`; at initialisation the `pad` row is zero (`padding_idx`).
    fn embedding<B: Backend>(
        &mut self,
        name: &str,
        rows: usize,
        dim: usize,
        pad: Option<usize>,
        device: &B::Device,
    ) -> Result<Embedding<B>, ModelError> {
        let weight = match self {
            Source::File(w) => w.tensor(&format!("{name}.weight"), [rows, dim], device)?,
            Source::Init(init, std) => {
                let mut t: Tensor<B, 2> = init.normal([rows, dim], *std, device);
                if let Some(p) = pad.filter(|&p| p < rows) {
                    t = t.slice_assign([p..p + 1, 0..dim], Tensor::zeros([1, dim], device));
                }
                t
            }
        };
        Ok(Embedding {
            weight: Param::from_tensor(weight),
        })
    }

    fn layer_norm<B: Backend>(
        &mut self,
        name: &str,
        dim: usize,
        device: &B::Device,
    ) -> Result<LayerNorm<B>, ModelError> {
        let mut ln = LayerNormConfig::new(dim)
            .with_epsilon(LAYER_NORM_EPS)
            .init(device);
        if let Source::File(w) = self {
            ln.gamma = w.param(&format!("{name}.weight"), [dim], device)?;
            ln.beta = Some(w.param(&format!("{name}.bias"), [dim], device)?);
        }
        Ok(ln)
    }
}

/// DistilBERT with a sequence-classification head. See the module documentation.
#[derive(Module, Debug)]
pub struct DistilBertForSequenceClassification<B: Backend> {
    pub word_embeddings: Embedding<B>,
    pub position_embeddings: Embedding<B>,
    pub embeddings_layer_norm: LayerNorm<B>,
    pub layers: Vec<BertLayer<B>>,
    pub pre_classifier: Linear<B>,
    pub classifier: Linear<B>,
    #[module(skip)]
    pub config: DistilBertConfig,
}

impl<B: Backend> DistilBertForSequenceClassification<B> {
    /// HF's `_init_weights`: linear and embedding weights `N(0, initializer_range^2)`, biases 0,
    /// the padding row 0, LayerNorm 1 and 0; drawn from a stream seeded with `seed`.
    pub fn init(
        config: DistilBertConfig,
        seed: u64,
        device: &B::Device,
    ) -> Result<Self, ModelError> {
        let std = config.initializer_range;
        Self::build(
            config,
            Source::Init(Box::new(SeededInit::new(seed)), std),
            device,
        )
    }

    /// Loads `config.json` and the weights (`model.safetensors` or `pytorch_model.bin`) of a
    /// checkpoint directory; for a hub id, resolve it first with [`crate::hub::resolve`].
    pub fn load(dir: impl AsRef<Path>, device: &B::Device) -> Result<Self, ModelError> {
        let dir = dir.as_ref();
        let config: DistilBertConfig = crate::checkpoint::read_config(dir, &["distilbert"])?;
        let weights = crate::checkpoint::open_weights(dir)?;
        Self::from_safetensors(config, &weights, device)
    }

    /// Builds the model from HF tensors (`distilbert.transformer.layer.0.attention.q_lin.weight`,
    /// `pre_classifier.weight`, ...); other tensors in the file are ignored.
    pub fn from_safetensors(
        config: DistilBertConfig,
        weights: &SafeTensorsFile,
        device: &B::Device,
    ) -> Result<Self, ModelError> {
        Self::build(config, Source::File(weights), device)
    }

    fn build(
        config: DistilBertConfig,
        mut src: Source<'_>,
        device: &B::Device,
    ) -> Result<Self, ModelError> {
        config.validate()?;
        let (d, h) = (config.dim, config.hidden_dim);
        let e = "distilbert.embeddings";
        let word_embeddings = src.embedding(
            &format!("{e}.word_embeddings"),
            config.vocab_size,
            d,
            Some(config.pad_token_id),
            device,
        )?;
        let position_embeddings = src.embedding(
            &format!("{e}.position_embeddings"),
            config.max_position_embeddings,
            d,
            None,
            device,
        )?;
        let embeddings_layer_norm = src.layer_norm(&format!("{e}.LayerNorm"), d, device)?;
        let mut layers = Vec::with_capacity(config.n_layers);
        for i in 0..config.n_layers {
            let p = format!("distilbert.transformer.layer.{i}");
            layers.push(BertLayer {
                attention: BertSelfAttention {
                    query: src.linear(&format!("{p}.attention.q_lin"), d, d, device)?,
                    key: src.linear(&format!("{p}.attention.k_lin"), d, d, device)?,
                    value: src.linear(&format!("{p}.attention.v_lin"), d, d, device)?,
                    num_attention_heads: config.n_heads,
                },
                attention_output: src.linear(&format!("{p}.attention.out_lin"), d, d, device)?,
                attention_layer_norm: src.layer_norm(&format!("{p}.sa_layer_norm"), d, device)?,
                intermediate: src.linear(&format!("{p}.ffn.lin1"), d, h, device)?,
                output: src.linear(&format!("{p}.ffn.lin2"), h, d, device)?,
                output_layer_norm: src.layer_norm(&format!("{p}.output_layer_norm"), d, device)?,
            });
        }
        let pre_classifier = src.linear("pre_classifier", d, d, device)?;
        let classifier = src.linear("classifier", d, config.num_labels(), device)?;
        Ok(DistilBertForSequenceClassification {
            word_embeddings,
            position_embeddings,
            embeddings_layer_norm,
            layers,
            pre_classifier,
            classifier,
            config,
        })
    }

    /// `input_ids` `[batch, seq]`, `attention_mask` `[batch, seq]` (1 = token, 0 = padding) ->
    /// logits `[batch, num_labels]`.
    pub fn forward(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2>,
    ) -> Tensor<B, 2> {
        let [batch, seq] = input_ids.dims();
        let device = input_ids.device();
        let positions = Tensor::<B, 1, Int>::arange(0..seq as i64, &device)
            .reshape([1, seq])
            .expand([batch, seq]);
        let x =
            self.word_embeddings.forward(input_ids) + self.position_embeddings.forward(positions);
        let mut h = self.embeddings_layer_norm.forward(x);
        let bias = attention_mask_bias(attention_mask);
        for layer in &self.layers {
            h = layer.forward(h, bias.clone());
        }
        let d = self.config.dim;
        let cls = h.slice([0..batch, 0..1, 0..d]).reshape([batch, d]);
        self.classifier
            .forward(relu(self.pre_classifier.forward(cls)))
    }

    /// Writes `config.json` and `model.safetensors` in `dir` (created if needed), in the layout
    /// `DistilBertForSequenceClassification.from_pretrained` reads.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<(), ModelError> {
        let dir = dir.as_ref();
        let mut out = TensorWriter::new();
        let linear = |out: &mut TensorWriter, name: &str, l: &Linear<B>| {
            out.add(format!("{name}.weight"), l.weight.val().transpose());
            if let Some(b) = &l.bias {
                out.add(format!("{name}.bias"), b.val());
            }
        };
        let layer_norm = |out: &mut TensorWriter, name: &str, ln: &LayerNorm<B>| {
            out.add(format!("{name}.weight"), ln.gamma.val());
            if let Some(b) = &ln.beta {
                out.add(format!("{name}.bias"), b.val());
            }
        };
        let e = "distilbert.embeddings";
        out.add(
            format!("{e}.word_embeddings.weight"),
            self.word_embeddings.weight.val(),
        );
        out.add(
            format!("{e}.position_embeddings.weight"),
            self.position_embeddings.weight.val(),
        );
        layer_norm(
            &mut out,
            &format!("{e}.LayerNorm"),
            &self.embeddings_layer_norm,
        );
        for (i, l) in self.layers.iter().enumerate() {
            let p = format!("distilbert.transformer.layer.{i}");
            linear(
                &mut out,
                &format!("{p}.attention.q_lin"),
                &l.attention.query,
            );
            linear(&mut out, &format!("{p}.attention.k_lin"), &l.attention.key);
            linear(
                &mut out,
                &format!("{p}.attention.v_lin"),
                &l.attention.value,
            );
            linear(
                &mut out,
                &format!("{p}.attention.out_lin"),
                &l.attention_output,
            );
            layer_norm(
                &mut out,
                &format!("{p}.sa_layer_norm"),
                &l.attention_layer_norm,
            );
            linear(&mut out, &format!("{p}.ffn.lin1"), &l.intermediate);
            linear(&mut out, &format!("{p}.ffn.lin2"), &l.output);
            layer_norm(
                &mut out,
                &format!("{p}.output_layer_norm"),
                &l.output_layer_norm,
            );
        }
        linear(&mut out, "pre_classifier", &self.pre_classifier);
        linear(&mut out, "classifier", &self.classifier);
        let mut config = self.config.clone();
        if config.id2label.is_empty() {
            config = config.with_num_labels(2);
        }
        let label2id: serde_json::Map<String, serde_json::Value> = config
            .id2label
            .iter()
            .filter_map(|(i, name)| {
                let i = i.parse::<u64>().ok()?;
                Some((name.clone(), serde_json::json!(i)))
            })
            .collect();
        config
            .extra
            .insert("label2id".into(), serde_json::Value::Object(label2id));
        write_hf_config(
            dir,
            &config,
            "distilbert",
            "DistilBertForSequenceClassification",
        )?;
        out.write(dir.join("model.safetensors"))
    }
}

/// A DistilBERT checkpoint with its tokenizer: class probabilities of texts, in batches.
pub struct DistilBertClassifier<B: Backend> {
    pub model: DistilBertForSequenceClassification<B>,
    tokenizer: tokenizers::Tokenizer,
    pad_token_id: u32,
    device: B::Device,
}

impl<B: Backend> DistilBertClassifier<B> {
    /// Model and tokenizer of the checkpoint in `dir` (a directory; resolve hub ids first). The
    /// tokenizer is `tokenizer.json` when present, else an uncased WordPiece over `vocab.txt`;
    /// texts longer than `model_max_length` (from `tokenizer_config.json`, at most
    /// `max_position_embeddings`) lose tokens on the left, as RL4LMs sets `truncation_side="left"`.
    pub fn load(dir: &Path, device: &B::Device) -> Result<Self, ModelError> {
        let model = DistilBertForSequenceClassification::load(dir, device)?;
        let tokenizer_config = tokenizer_config(dir)?;
        let max_length = tokenizer_config
            .get("model_max_length")
            .and_then(|m| m.as_f64())
            .filter(|&m| m > 0.0 && m < 1e9) // HF writes a huge sentinel for "no limit"
            .map_or(usize::MAX, |m| m as usize)
            .min(model.config.max_position_embeddings);
        let tok_err = |e: TokenizerError| {
            ModelError::Checkpoint(format!("checkpoint {}: tokenizer: {e}", dir.display()))
        };
        let mut tokenizer = if dir.join("tokenizer.json").is_file() {
            tokenizers::Tokenizer::from_file(dir.join("tokenizer.json")).map_err(|e| {
                ModelError::Checkpoint(format!("checkpoint {}: tokenizer.json: {e}", dir.display()))
            })?
        } else if tokenizer_config.get("do_lower_case") == Some(&serde_json::Value::Bool(false)) {
            return Err(ModelError::Checkpoint(format!(
                "checkpoint {}: a cased WordPiece vocabulary without tokenizer.json is not \
                 supported; write one with `python -c \"from transformers import AutoTokenizer; \
                 AutoTokenizer.from_pretrained('{0}').save_pretrained('{0}')\"`",
                dir.display()
            )));
        } else if dir.join("vocab.txt").is_file() {
            crate::bert_tokenizer::BertTokenizer::from_vocab(&dir.join("vocab.txt"), max_length)
                .map_err(tok_err)?
                .into_inner()
        } else {
            return Err(ModelError::Checkpoint(format!(
                "checkpoint {}: no tokenizer (tokenizer.json or vocab.txt); copy the tokenizer \
                 files of the model it was trained from into it",
                dir.display()
            )));
        };
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(tokenizers::TruncationParams {
                max_length,
                direction: tokenizers::TruncationDirection::Left,
                strategy: tokenizers::TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(|e| ModelError::Checkpoint(format!("{}: {e}", dir.display())))?;
        let pad_token_id = model.config.pad_token_id as u32;
        Ok(DistilBertClassifier {
            model,
            tokenizer,
            pad_token_id,
            device: device.clone(),
        })
    }

    /// Token ids of `text` as the classifier sees it (`[CLS] ... [SEP]`, truncated on the left).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, ModelError> {
        let enc = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| ModelError::Checkpoint(format!("tokenizing {text:?}: {e}")))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Softmax class probabilities of each text, `batch_size` texts per forward pass (each batch
    /// right-padded to its longest text and masked, as `padding=True`).
    pub fn probabilities(
        &self,
        texts: &[String],
        batch_size: usize,
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        let labels = self.model.config.num_labels();
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(batch_size.max(1)) {
            let ids = chunk
                .iter()
                .map(|t| self.encode(t))
                .collect::<Result<Vec<_>, _>>()?;
            let width = ids.iter().map(Vec::len).max().unwrap_or(0).max(1);
            let (mut flat, mut mask) = (Vec::new(), Vec::new());
            for row in &ids {
                for j in 0..width {
                    flat.push(row.get(j).copied().unwrap_or(self.pad_token_id) as i64);
                    mask.push(if j < row.len() { 1.0f32 } else { 0.0 });
                }
            }
            let n = chunk.len();
            let input =
                Tensor::<B, 2, Int>::from_data(TensorData::new(flat, [n, width]), &self.device);
            let mask = Tensor::<B, 2>::from_data(TensorData::new(mask, [n, width]), &self.device);
            let probs = softmax(self.model.forward(input, mask), 1);
            let values: Vec<f32> = probs.into_data().iter::<f32>().collect();
            out.extend(values.chunks(labels).map(<[f32]>::to_vec));
        }
        Ok(out)
    }
}

/// `tokenizer_config.json` of the checkpoint, or an empty object when there is none.
fn tokenizer_config(dir: &Path) -> Result<serde_json::Value, ModelError> {
    let path = dir.join("tokenizer_config.json");
    if !path.is_file() {
        return Ok(serde_json::json!({}));
    }
    crate::weights::read_json(&path)
}
