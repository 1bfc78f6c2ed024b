//! Scoring and sampling for causal language models.
//!
//! * [`score_tokens`]: teacher-forced log-probabilities and entropies of every next token, in one
//!   batched forward pass that keeps the autodiff graph (for SFT, REINFORCE and PPO losses).
//! * [`CausalBatch`]: prompts (left-padded) followed by completions (right-padded) in one batch,
//!   with the mask of completion tokens; [`score_completions`] scores the completions.
//! * [`generate`]: batched sampling with a key/value cache (temperature, top-k, top-p, min/max new
//!   tokens, EOS stop, left padding), or greedy decoding. Token selection runs on the host in f64
//!   from the last position's logits, with a seeded ChaCha8 RNG, so runs are reproducible.

use burn::tensor::activation::log_softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::gpt2::{GPT2LMHeadModel, KvCache};

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
}

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
    let [batch, seq] = input_ids.dims();
    assert!(seq >= 2, "scoring needs at least two tokens per sequence");
    let logits = model.logits(input_ids.clone(), attention_mask, None);
    let vocab = logits.dims()[2];
    let logp = log_softmax(logits.narrow(1, 0, seq - 1), 2);
    let targets = input_ids.narrow(1, 1, seq - 1).reshape([batch, seq - 1, 1]);
    let logprobs = logp.clone().gather(2, targets).reshape([batch, seq - 1]);
    let entropies = (logp.clone().exp() * logp)
        .sum_dim(2)
        .neg()
        .reshape([batch, seq - 1]);
    debug_assert!(vocab > 0);
    TokenScores {
        logprobs,
        entropies,
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

pub fn score_completions<B: Backend, M: CausalLM<B>>(
    model: &M,
    batch: &CausalBatch<B>,
) -> CompletionScores<B> {
    let scores = score_tokens(model, batch.input_ids.clone(), batch.attention_mask.clone());
    let mask = batch.completion_mask.clone();
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

/// How to pick new tokens.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SamplingConfig {
    pub max_new_tokens: usize,
    /// EOS is not allowed before this many new tokens.
    pub min_new_tokens: usize,
    /// Always pick the most likely token (temperature, top-k and top-p are then unused).
    pub greedy: bool,
    /// Sample from `softmax(logits / temperature)`; must be > 0 unless `greedy`.
    pub temperature: f64,
    /// Keep only the `k` most likely tokens.
    pub top_k: Option<usize>,
    /// Keep the smallest set of most likely tokens whose probability reaches `p` (after top-k).
    pub top_p: Option<f64>,
    /// Stop a sequence after it emits this token (which is kept in its output).
    pub eos_token_id: Option<u32>,
    /// Fills left padding and the rows that have finished.
    pub pad_token_id: u32,
    /// Reuse keys/values of earlier positions; off recomputes the whole prefix every step.
    pub use_cache: bool,
    pub seed: u64,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        SamplingConfig {
            max_new_tokens: 48,
            min_new_tokens: 0,
            greedy: false,
            temperature: 1.0,
            top_k: None,
            top_p: None,
            eos_token_id: None,
            pad_token_id: 0,
            use_cache: true,
            seed: 0,
        }
    }
}

/// Output of [`generate`], one entry per prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// New tokens, up to and including EOS if one was emitted.
    pub tokens: Vec<Vec<u32>>,
    /// `log p(token | prefix)` of each new token under the model's own distribution
    /// (`softmax(logits)`, before temperature, top-k, top-p and the min-length EOS ban), which is
    /// what [`score_tokens`] computes.
    pub logprobs: Vec<Vec<f32>>,
    /// Sum of `logprobs` per sequence.
    pub sequence_logprobs: Vec<f32>,
}

/// Samples (or greedily decodes) continuations of `prompts`, batched, left-padded.
pub fn generate<B: Backend, M: CausalLM<B>>(
    model: &M,
    prompts: &[Vec<u32>],
    config: &SamplingConfig,
    device: &B::Device,
) -> Generated {
    assert!(
        prompts.iter().all(|p| !p.is_empty()),
        "prompts must not be empty"
    );
    assert!(
        config.greedy || config.temperature > 0.0,
        "temperature must be > 0 when sampling"
    );
    let batch = prompts.len();
    let width = prompts.iter().map(Vec::len).max().unwrap_or(0);
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);

    // Host copies of the whole sequence so far; the device sees them (uncached) or the last column.
    let mut ids: Vec<Vec<i64>> = prompts
        .iter()
        .map(|p| {
            let mut row = vec![config.pad_token_id as i64; width - p.len()];
            row.extend(p.iter().map(|&t| t as i64));
            row
        })
        .collect();
    let mut mask: Vec<Vec<i64>> = prompts
        .iter()
        .map(|p| {
            let mut row = vec![0; width - p.len()];
            row.resize(width, 1);
            row
        })
        .collect();
    let to_tensor = |rows: &[Vec<i64>], from: usize| -> Tensor<B, 2, Int> {
        let cols = rows[0].len() - from;
        let flat: Vec<i64> = rows
            .iter()
            .flat_map(|r| r[from..].iter().copied())
            .collect();
        Tensor::from_data(TensorData::new(flat, [rows.len(), cols]), device)
    };

    let mut out = Generated {
        tokens: vec![Vec::new(); batch],
        logprobs: vec![Vec::new(); batch],
        sequence_logprobs: vec![0.0; batch],
    };
    let mut finished = vec![false; batch];
    let mut cache = config.use_cache.then(|| model.new_cache());
    let mut fed = 0; // columns of `ids` already in the cache
    for step in 0..config.max_new_tokens {
        let logits = match cache.as_mut() {
            Some(cache) => {
                let logits = model.logits(to_tensor(&ids, fed), to_tensor(&mask, 0), Some(cache));
                fed = ids[0].len();
                logits
            }
            None => model.logits(to_tensor(&ids, 0), to_tensor(&mask, 0), None),
        };
        let [_, seq, vocab] = logits.dims();
        let last: Vec<f32> = logits
            .narrow(1, seq - 1, 1)
            .into_data()
            .iter::<f32>()
            .collect();

        for b in 0..batch {
            let next = if finished[b] {
                config.pad_token_id
            } else {
                let row = &last[b * vocab..(b + 1) * vocab];
                let ban_eos = config.eos_token_id.filter(|_| step < config.min_new_tokens);
                let token = choose_token(row, config, ban_eos, &mut rng);
                let logprob = log_softmax_at(row, token as usize);
                out.tokens[b].push(token);
                out.logprobs[b].push(logprob as f32);
                out.sequence_logprobs[b] += logprob as f32;
                if Some(token) == config.eos_token_id {
                    finished[b] = true;
                }
                token
            };
            ids[b].push(next as i64);
            mask[b].push(1);
        }
        if finished.iter().all(|&f| f) {
            break;
        }
    }
    out
}

/// `log softmax(row)[index]`, in f64.
fn log_softmax_at(row: &[f32], index: usize) -> f64 {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let log_z = max
        + row
            .iter()
            .map(|&x| (x as f64 - max).exp())
            .sum::<f64>()
            .ln();
    row[index] as f64 - log_z
}

/// Picks the next token from one row of logits.
fn choose_token(
    row: &[f32],
    config: &SamplingConfig,
    ban: Option<u32>,
    rng: &mut ChaCha8Rng,
) -> u32 {
    let allowed = |i: usize| Some(i as u32) != ban;
    if config.greedy {
        // First maximum, as torch.argmax.
        let mut best = None::<(usize, f32)>;
        for (i, &x) in row.iter().enumerate() {
            if allowed(i) && best.is_none_or(|(_, bx)| x > bx) {
                best = Some((i, x));
            }
        }
        return best.expect("vocabulary has an allowed token").0 as u32;
    }
    let probs = sampling_distribution(row, config, ban);
    let u: f64 = rng.random::<f64>();
    let mut acc = 0.0;
    let mut last_nonzero = 0;
    for (i, &p) in probs.iter().enumerate() {
        if p > 0.0 {
            acc += p;
            last_nonzero = i;
            if u < acc {
                return i as u32;
            }
        }
    }
    last_nonzero as u32
}

/// The distribution sampling draws from: `softmax(logits / T)` restricted by the banned token,
/// top-k and top-p, renormalised. Public for tests and for callers that need the exact policy.
pub fn sampling_distribution(row: &[f32], config: &SamplingConfig, ban: Option<u32>) -> Vec<f64> {
    let t = config.temperature;
    let mut scaled: Vec<f64> = row.iter().map(|&x| x as f64 / t).collect();
    if let Some(ban) = ban {
        scaled[ban as usize] = f64::NEG_INFINITY;
    }
    // Indices sorted by descending logit (stable, so ties keep the lower index first).
    let mut order: Vec<usize> = (0..row.len()).collect();
    order.sort_by(|&a, &b| scaled[b].total_cmp(&scaled[a]));
    let mut keep = order.len();
    if let Some(k) = config.top_k {
        keep = keep.min(k.max(1));
    }
    let max = scaled[order[0]];
    let mut probs = vec![0.0; row.len()];
    for &i in &order[..keep] {
        probs[i] = (scaled[i] - max).exp();
    }
    let z: f64 = probs.iter().sum();
    probs.iter_mut().for_each(|p| *p /= z);
    if let Some(top_p) = config.top_p {
        let mut acc = 0.0;
        let mut cut = keep;
        for (rank, &i) in order[..keep].iter().enumerate() {
            acc += probs[i];
            if acc >= top_p {
                cut = rank + 1;
                break;
            }
        }
        for &i in &order[cut..keep] {
            probs[i] = 0.0;
        }
        let z: f64 = probs.iter().sum();
        probs.iter_mut().for_each(|p| *p /= z);
    }
    probs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SamplingConfig {
        SamplingConfig::default()
    }

    #[test]
    fn top_k_and_top_p_keep_the_most_likely_tokens() {
        let row = [0.0f32, 3.0, 1.0, 2.0];
        let p = sampling_distribution(
            &row,
            &SamplingConfig {
                top_k: Some(2),
                ..config()
            },
            None,
        );
        assert_eq!(p[0], 0.0);
        assert_eq!(p[2], 0.0);
        let e = 1f64.exp();
        assert!((p[1] - e / (e + 1.0)).abs() < 1e-12);
        // softmax([0,3,1,2]) = [.032, .644, .087, .237]: top_p 0.7 keeps tokens 1 and 3.
        let p = sampling_distribution(
            &row,
            &SamplingConfig {
                top_p: Some(0.7),
                ..config()
            },
            None,
        );
        assert!(p[1] > 0.0 && p[3] > 0.0 && p[0] == 0.0 && p[2] == 0.0);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn banned_token_gets_no_mass_and_greedy_skips_it() {
        let row = [0.0f32, 3.0, 1.0];
        let p = sampling_distribution(&row, &config(), Some(1));
        assert_eq!(p[1], 0.0);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let greedy = SamplingConfig {
            greedy: true,
            ..config()
        };
        assert_eq!(choose_token(&row, &greedy, None, &mut rng), 1);
        assert_eq!(choose_token(&row, &greedy, Some(1), &mut rng), 2);
    }
}
