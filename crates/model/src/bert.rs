//! `BertForSequenceClassification` (Hugging Face `modeling_bert.py`), randomly initialised, with
//! every dropout off (ml-rlgrad sets `hidden_dropout_prob`, `attention_probs_dropout_prob` and
//! `classifier_dropout` to 0), and the logits divided by `temperature`. BERT-mini
//! (`prajjwal1/bert-mini`): 4 layers, hidden 256, 4 heads, intermediate 1024.
//!
//! ```text
//! embeddings: word + position + token_type -> LayerNorm
//! encoder layer (post-LN): h = LN(h + attention(h)); h = LN(h + W2 gelu(W1 h))
//! pooler: tanh(dense(h[:, 0]))    ([CLS])
//! classifier: dense -> logits / temperature
//! ```
//!
//! Initialisation as HF's `_init_weights`: linear and embedding weights `N(0, 0.02^2)`, biases 0, the
//! `[PAD]` row of the word embeddings 0, LayerNorm weight 1 and bias 0; drawn from a seeded stream.
//!
//! [`BertForSequenceClassification::restrict_vocab`] keeps only the word-embedding rows of tokens
//! that occur in the data (ids are then remapped to row numbers). This is exact, not an
//! approximation: a row whose token never occurs gets a zero gradient at every step, so Adam and
//! SGD (without weight decay) never change it and it never enters any output; the kept rows keep
//! the values they were drawn with in the full table.

use burn::module::{Module, Param};
use burn::nn::{Embedding, LayerNorm, LayerNormConfig, Linear};
use burn::tensor::activation::{gelu, softmax};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};

use crate::seeded::SeededInit;

/// `BertConfig` fields this model uses, with HF's names.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f64,
    pub initializer_range: f64,
    pub pad_token_id: usize,
    pub num_labels: usize,
    /// Logits are divided by this (ml-rlgrad's `logits_temperature`).
    pub temperature: f64,
}

impl BertConfig {
    /// `prajjwal1/bert-mini` with a `num_labels`-way classification head.
    pub fn mini(num_labels: usize) -> Self {
        BertConfig {
            vocab_size: 30522,
            hidden_size: 256,
            num_hidden_layers: 4,
            num_attention_heads: 4,
            intermediate_size: 1024,
            max_position_embeddings: 512,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
            initializer_range: 0.02,
            pad_token_id: 0,
            num_labels,
            temperature: 1.0,
        }
    }

    pub fn init<B: Backend>(
        &self,
        seed: u64,
        device: &B::Device,
    ) -> BertForSequenceClassification<B> {
        assert!(
            self.hidden_size.is_multiple_of(self.num_attention_heads),
            "hidden_size must be a multiple of num_attention_heads"
        );
        let mut init = SeededInit::new(seed);
        let std = self.initializer_range;
        let h = self.hidden_size;
        let linear = |init: &mut SeededInit, d_in: usize, d_out: usize| Linear {
            weight: Param::from_tensor(init.normal([d_in, d_out], std, device)),
            bias: Some(Param::from_tensor(Tensor::zeros([d_out], device))),
        };
        let layer_norm = || {
            LayerNormConfig::new(h)
                .with_epsilon(self.layer_norm_eps)
                .init(device)
        };
        // Word embeddings with the [PAD] row zeroed, as `nn.Embedding(padding_idx=pad_token_id)`.
        let mut words: Tensor<B, 2> = init.normal([self.vocab_size, h], std, device);
        if self.pad_token_id < self.vocab_size {
            let p = self.pad_token_id;
            words = words.slice_assign([p..p + 1, 0..h], Tensor::zeros([1, h], device));
        }
        let embeddings = BertEmbeddings {
            word_embeddings: Embedding {
                weight: Param::from_tensor(words),
            },
            position_embeddings: Embedding {
                weight: Param::from_tensor(init.normal(
                    [self.max_position_embeddings, h],
                    std,
                    device,
                )),
            },
            token_type_embeddings: Embedding {
                weight: Param::from_tensor(init.normal([self.type_vocab_size, h], std, device)),
            },
            layer_norm: layer_norm(),
        };
        let layers = (0..self.num_hidden_layers)
            .map(|_| BertLayer {
                attention: BertSelfAttention {
                    query: linear(&mut init, h, h),
                    key: linear(&mut init, h, h),
                    value: linear(&mut init, h, h),
                    num_attention_heads: self.num_attention_heads,
                },
                attention_output: linear(&mut init, h, h),
                attention_layer_norm: layer_norm(),
                intermediate: linear(&mut init, h, self.intermediate_size),
                output: linear(&mut init, self.intermediate_size, h),
                output_layer_norm: layer_norm(),
            })
            .collect();
        let pooler = linear(&mut init, h, h);
        let classifier = linear(&mut init, h, self.num_labels);
        BertForSequenceClassification {
            embeddings,
            layers,
            pooler,
            classifier,
            temperature: self.temperature,
        }
    }
}

/// Word, position and token-type embeddings, summed, then LayerNorm.
#[derive(Module, Debug)]
pub struct BertEmbeddings<B: Backend> {
    pub word_embeddings: Embedding<B>,
    pub position_embeddings: Embedding<B>,
    pub token_type_embeddings: Embedding<B>,
    pub layer_norm: LayerNorm<B>,
}

impl<B: Backend> BertEmbeddings<B> {
    pub fn forward(
        &self,
        input_ids: Tensor<B, 2, Int>,
        token_type_ids: Tensor<B, 2, Int>,
    ) -> Tensor<B, 3> {
        let [batch, seq] = input_ids.dims();
        let device = input_ids.device();
        let positions = Tensor::<B, 1, Int>::arange(0..seq as i64, &device)
            .reshape([1, seq])
            .expand([batch, seq]);
        let x = self.word_embeddings.forward(input_ids)
            + self.position_embeddings.forward(positions)
            + self.token_type_embeddings.forward(token_type_ids);
        self.layer_norm.forward(x)
    }
}

/// Multi-head scaled dot-product self-attention (`BertSelfAttention`).
#[derive(Module, Debug)]
pub struct BertSelfAttention<B: Backend> {
    pub query: Linear<B>,
    pub key: Linear<B>,
    pub value: Linear<B>,
    #[module(skip)]
    pub num_attention_heads: usize,
}

impl<B: Backend> BertSelfAttention<B> {
    /// `x` `[batch, seq, hidden]`, `mask_bias` `[batch, 1, 1, seq]` (0 or a large negative number).
    pub fn forward(&self, x: Tensor<B, 3>, mask_bias: Tensor<B, 4>) -> Tensor<B, 3> {
        let [batch, seq, hidden] = x.dims();
        let heads = self.num_attention_heads;
        let head_dim = hidden / heads;
        let split = |t: Tensor<B, 3>| t.reshape([batch, seq, heads, head_dim]).swap_dims(1, 2);
        let q = split(self.query.forward(x.clone()));
        let k = split(self.key.forward(x.clone()));
        let v = split(self.value.forward(x));
        let scores = q
            .matmul(k.swap_dims(2, 3))
            .div_scalar((head_dim as f64).sqrt())
            + mask_bias;
        let probs = softmax(scores, 3);
        probs
            .matmul(v)
            .swap_dims(1, 2)
            .reshape([batch, seq, hidden])
    }
}

/// One post-LayerNorm encoder layer (`BertLayer`: attention, `BertSelfOutput`, `BertIntermediate`,
/// `BertOutput`).
#[derive(Module, Debug)]
pub struct BertLayer<B: Backend> {
    pub attention: BertSelfAttention<B>,
    pub attention_output: Linear<B>,
    pub attention_layer_norm: LayerNorm<B>,
    pub intermediate: Linear<B>,
    pub output: Linear<B>,
    pub output_layer_norm: LayerNorm<B>,
}

impl<B: Backend> BertLayer<B> {
    pub fn forward(&self, h: Tensor<B, 3>, mask_bias: Tensor<B, 4>) -> Tensor<B, 3> {
        let attended = self
            .attention_output
            .forward(self.attention.forward(h.clone(), mask_bias));
        let h = self.attention_layer_norm.forward(attended + h);
        let ff = self
            .output
            .forward(gelu(self.intermediate.forward(h.clone())));
        self.output_layer_norm.forward(ff + h)
    }
}

/// HF's extended attention mask: `(1 - mask) * finfo(float32).min` on the keys, `[batch, 1, 1,
/// seq]` from a `[batch, seq]` mask (1 = token, 0 = padding). Shared with DistilBERT.
pub fn attention_mask_bias<B: Backend>(attention_mask: Tensor<B, 2>) -> Tensor<B, 4> {
    let [batch, seq] = attention_mask.dims();
    attention_mask
        .neg()
        .add_scalar(1.0)
        .mul_scalar(f32::MIN)
        .reshape([batch, 1, 1, seq])
}

/// BERT encoder with the pooler and a linear classification head.
#[derive(Module, Debug)]
pub struct BertForSequenceClassification<B: Backend> {
    pub embeddings: BertEmbeddings<B>,
    pub layers: Vec<BertLayer<B>>,
    pub pooler: Linear<B>,
    pub classifier: Linear<B>,
    #[module(skip)]
    pub temperature: f64,
}

impl<B: Backend> BertForSequenceClassification<B> {
    /// `input_ids`, `token_type_ids` `[batch, seq]`, `attention_mask` `[batch, seq]` (1 = token,
    /// 0 = padding) -> scaled logits `[batch, num_labels]`.
    pub fn forward(
        &self,
        input_ids: Tensor<B, 2, Int>,
        token_type_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2>,
    ) -> Tensor<B, 2> {
        let batch = input_ids.dims()[0];
        let mask_bias = attention_mask_bias(attention_mask);
        let mut h = self.embeddings.forward(input_ids, token_type_ids);
        for layer in &self.layers {
            h = layer.forward(h, mask_bias.clone());
        }
        let hidden = h.dims()[2];
        let cls = h
            .slice([0..batch, 0..1, 0..hidden])
            .reshape([batch, hidden]);
        let pooled = self.pooler.forward(cls).tanh();
        self.classifier.forward(pooled).div_scalar(self.temperature)
    }

    /// Keep only the word-embedding rows `keep` (in that order); token `keep[i]` becomes id `i`.
    /// Exact for training without weight decay (see the module documentation).
    pub fn restrict_vocab(mut self, keep: &[u32]) -> Self {
        let weight = self.embeddings.word_embeddings.weight.val();
        let device = weight.device();
        let rows = Tensor::<B, 1, Int>::from_data(
            TensorData::new(keep.iter().map(|&i| i as i64).collect(), [keep.len()]),
            &device,
        );
        self.embeddings.word_embeddings.weight =
            Param::from_tensor(weight.select(0, rows).detach());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CpuBackend;

    fn tiny() -> BertConfig {
        BertConfig {
            vocab_size: 50,
            hidden_size: 16,
            num_hidden_layers: 2,
            num_attention_heads: 4,
            intermediate_size: 32,
            max_position_embeddings: 20,
            ..BertConfig::mini(6)
        }
    }

    fn ids(v: Vec<i64>, shape: [usize; 2]) -> Tensor<CpuBackend, 2, Int> {
        Tensor::from_data(TensorData::new(v, shape), &Default::default())
    }

    #[test]
    fn bert_mini_parameter_count() {
        let dev = Default::default();
        let m: BertForSequenceClassification<CpuBackend> = BertConfig::mini(6).init(0, &dev);
        // prajjwal1/bert-mini's BertModel has 11,170,560 parameters (embeddings, 4 layers, pooler);
        // the head adds 256 * 6 + 6.
        assert_eq!(m.num_params(), 11_170_560 + 256 * 6 + 6);
        let pad_row = m
            .embeddings
            .word_embeddings
            .weight
            .val()
            .slice([0..1, 0..256])
            .abs()
            .sum()
            .into_scalar();
        assert_eq!(pad_row, 0.0);
    }

    #[test]
    fn padding_is_masked_and_shapes_hold() {
        let dev = Default::default();
        let m: BertForSequenceClassification<CpuBackend> = tiny().init(1, &dev);
        // The same pair, once unpadded and once with three padding tokens: equal logits.
        let a = m.forward(
            ids(vec![2, 7, 8, 3, 9, 3], [1, 6]),
            ids(vec![0, 0, 0, 0, 1, 1], [1, 6]),
            Tensor::ones([1, 6], &dev),
        );
        let mask = Tensor::from_data(
            TensorData::new(vec![1.0f32, 1., 1., 1., 1., 1., 0., 0., 0.], [1, 9]),
            &dev,
        );
        let b = m.forward(
            ids(vec![2, 7, 8, 3, 9, 3, 0, 0, 0], [1, 9]),
            ids(vec![0, 0, 0, 0, 1, 1, 0, 0, 0], [1, 9]),
            mask,
        );
        assert_eq!(a.dims(), [1, 6]);
        let (a, b) = (
            a.into_data().to_vec::<f32>().unwrap(),
            b.into_data().to_vec::<f32>().unwrap(),
        );
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
        }
        // Token types matter.
        let c = m
            .forward(
                ids(vec![2, 7, 8, 3, 9, 3], [1, 6]),
                ids(vec![0, 0, 0, 0, 0, 0], [1, 6]),
                Tensor::ones([1, 6], &dev),
            )
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        assert!(a.iter().zip(&c).any(|(x, y)| (x - y).abs() > 1e-6));
    }

    #[test]
    fn restricting_the_vocabulary_keeps_outputs() {
        let dev = Default::default();
        let full: BertForSequenceClassification<CpuBackend> = tiny().init(2, &dev);
        let logits = |m: &BertForSequenceClassification<CpuBackend>, v: Vec<i64>| {
            m.forward(
                ids(v, [1, 5]),
                ids(vec![0; 5], [1, 5]),
                Tensor::ones([1, 5], &dev),
            )
            .into_data()
            .to_vec::<f32>()
            .unwrap()
        };
        let want = logits(&full, vec![2, 40, 11, 3, 17]);
        let keep = [0u32, 2, 3, 11, 17, 40];
        let small = full.restrict_vocab(&keep);
        // 40 -> 5, 11 -> 3, 17 -> 4, 2 -> 1, 3 -> 2.
        let got = logits(&small, vec![1, 5, 3, 2, 4]);
        assert_eq!(want, got);
    }
}
