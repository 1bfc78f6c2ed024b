//! Sampling from causal (GPT-2) and encoder-decoder (T5) language models.
//!
//! [`generate`] / [`generate_seq2seq`]: batched sampling with a key/value cache (temperature,
//! top-k, top-p, min/max new tokens, EOS stop, left padding for prompts), or greedy decoding. Both
//! run one loop ([`sample`]) over a [`DecodeSession`] (the model-specific part: feed tokens, return
//! the next-token logits, follow beams), which [`crate::beam`] drives too. Token selection runs on
//! the host in f64 from the last position's logits, with a seeded ChaCha8 RNG, so runs are
//! reproducible.

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::lm::{CausalLM, Seq2SeqLM};
use crate::scoring::right_padded;

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
    /// what [`crate::scoring::score_tokens`] computes.
    pub logprobs: Vec<Vec<f32>>,
    /// Sum of `logprobs` per sequence.
    pub sequence_logprobs: Vec<f32>,
}

/// A batch of sequences decoded one token at a time: the model-specific half of generation.
/// Sampling ([`generate`], [`generate_seq2seq`]) and beam search ([`crate::beam`]) drive it.
pub trait DecodeSession<B: Backend> {
    /// Appends `tokens` (one per row; `None` on the first call, which reads the prompts) and
    /// returns the next-token logits `[rows, vocab]`.
    fn next_logits(&mut self, tokens: Option<&[u32]>) -> Tensor<B, 2>;
    /// Row i becomes old row `rows[i]` (repeats allowed), e.g. to follow beams.
    fn select_rows(&mut self, rows: &[usize]);
}

/// Decoding state of a [`CausalLM`]: prompts left-padded, host copies of ids and mask, and the
/// key/value cache (or none: then every step recomputes the whole prefix).
pub struct CausalSession<'m, B: Backend, M: CausalLM<B>> {
    model: &'m M,
    device: B::Device,
    ids: Vec<Vec<i64>>,
    mask: Vec<Vec<i64>>,
    cache: Option<M::Cache>,
    /// Columns of `ids` already in the cache.
    fed: usize,
}

impl<'m, B: Backend, M: CausalLM<B>> CausalSession<'m, B, M> {
    pub fn new(
        model: &'m M,
        prompts: &[Vec<u32>],
        pad_token_id: u32,
        use_cache: bool,
        device: &B::Device,
    ) -> Self {
        assert!(
            prompts.iter().all(|p| !p.is_empty()),
            "prompts must not be empty"
        );
        let width = prompts.iter().map(Vec::len).max().unwrap_or(0);
        let ids = prompts
            .iter()
            .map(|p| {
                let mut row = vec![pad_token_id as i64; width - p.len()];
                row.extend(p.iter().map(|&t| t as i64));
                row
            })
            .collect();
        let mask = prompts
            .iter()
            .map(|p| {
                let mut row = vec![0; width - p.len()];
                row.resize(width, 1);
                row
            })
            .collect();
        CausalSession {
            model,
            device: device.clone(),
            ids,
            mask,
            cache: use_cache.then(|| model.new_cache()),
            fed: 0,
        }
    }

    /// Width of the (left-padded) prompts plus the tokens appended so far.
    pub fn len(&self) -> usize {
        self.ids.first().map_or(0, Vec::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn columns(&self, rows: &[Vec<i64>], from: usize) -> Tensor<B, 2, Int> {
        let cols = rows[0].len() - from;
        let flat: Vec<i64> = rows
            .iter()
            .flat_map(|r| r[from..].iter().copied())
            .collect();
        Tensor::from_data(TensorData::new(flat, [rows.len(), cols]), &self.device)
    }
}

impl<B: Backend, M: CausalLM<B>> DecodeSession<B> for CausalSession<'_, B, M> {
    fn next_logits(&mut self, tokens: Option<&[u32]>) -> Tensor<B, 2> {
        if let Some(tokens) = tokens {
            for ((ids, mask), &t) in self.ids.iter_mut().zip(&mut self.mask).zip(tokens) {
                ids.push(t as i64);
                mask.push(1);
            }
        }
        // With a cache the model sees only the columns it has not seen yet.
        let from = if self.cache.is_some() { self.fed } else { 0 };
        let ids = self.columns(&self.ids, from);
        let mask = self.columns(&self.mask, 0);
        self.fed = self.len();
        self.model.last_logits(ids, mask, self.cache.as_mut())
    }

    fn select_rows(&mut self, rows: &[usize]) {
        if rows.iter().enumerate().all(|(i, &r)| i == r) && rows.len() == self.ids.len() {
            return;
        }
        self.ids = rows.iter().map(|&r| self.ids[r].clone()).collect();
        self.mask = rows.iter().map(|&r| self.mask[r].clone()).collect();
        if let Some(cache) = self.cache.as_mut() {
            M::select_cache_rows(cache, index_tensor(rows, &self.device));
        }
    }
}

/// Decoding state of a [`Seq2SeqLM`]: the encoder ran once on the right-padded sources; the
/// decoder cache holds the cross-attention inputs and (with `use_cache`) the decoded positions.
pub struct Seq2SeqSession<'m, B: Backend, M: Seq2SeqLM<B>> {
    model: &'m M,
    device: B::Device,
    /// Decoder tokens so far per row, starting with the decoder start token.
    decoded: Vec<Vec<i64>>,
    /// The cache right after encoding (no decoded positions); uncached decoding restarts from it.
    fresh: M::Cache,
    cache: Option<M::Cache>,
}

impl<'m, B: Backend, M: Seq2SeqLM<B>> Seq2SeqSession<'m, B, M> {
    pub fn new(
        model: &'m M,
        sources: &[Vec<u32>],
        pad_token_id: u32,
        use_cache: bool,
        device: &B::Device,
    ) -> Self {
        let (ids, mask) = right_padded::<B>(sources, pad_token_id, device);
        let states = model.encode(ids, mask.clone());
        let fresh = model.new_cache(states, mask);
        let start = model.decoder_start_token_id() as i64;
        Seq2SeqSession {
            model,
            device: device.clone(),
            decoded: vec![vec![start]; sources.len()],
            cache: use_cache.then(|| fresh.clone()),
            fresh,
        }
    }
}

impl<B: Backend, M: Seq2SeqLM<B>> DecodeSession<B> for Seq2SeqSession<'_, B, M> {
    fn next_logits(&mut self, tokens: Option<&[u32]>) -> Tensor<B, 2> {
        if let Some(tokens) = tokens {
            for (row, &t) in self.decoded.iter_mut().zip(tokens) {
                row.push(t as i64);
            }
        }
        let rows = self.decoded.len();
        let len = self.decoded[0].len();
        let logits = match self.cache.as_mut() {
            Some(cache) => {
                // The cache holds all but the newest token.
                let last: Vec<i64> = self.decoded.iter().map(|r| r[len - 1]).collect();
                let ids = Tensor::from_data(TensorData::new(last, [rows, 1]), &self.device);
                self.model.decode_logits(ids, cache)
            }
            None => {
                let ids = Tensor::from_data(
                    TensorData::new(self.decoded.concat(), [rows, len]),
                    &self.device,
                );
                self.model.decode_logits(ids, &mut self.fresh.clone())
            }
        };
        last_position(logits)
    }

    fn select_rows(&mut self, rows: &[usize]) {
        if rows.iter().enumerate().all(|(i, &r)| i == r) && rows.len() == self.decoded.len() {
            return;
        }
        self.decoded = rows.iter().map(|&r| self.decoded[r].clone()).collect();
        let index = index_tensor(rows, &self.device);
        M::select_cache_rows(&mut self.fresh, index.clone());
        if let Some(cache) = self.cache.as_mut() {
            M::select_cache_rows(cache, index);
        }
    }
}

fn index_tensor<B: Backend>(rows: &[usize], device: &B::Device) -> Tensor<B, 1, Int> {
    let rows: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
    let n = rows.len();
    Tensor::from_data(TensorData::new(rows, [n]), device)
}

/// `[batch, seq, vocab]` -> the last position's `[batch, vocab]`.
fn last_position<B: Backend>(logits: Tensor<B, 3>) -> Tensor<B, 2> {
    let [batch, seq, vocab] = logits.dims();
    logits.narrow(1, seq - 1, 1).reshape([batch, vocab])
}

/// Samples (or greedily decodes) continuations of `prompts`, batched, left-padded.
pub fn generate<B: Backend, M: CausalLM<B>>(
    model: &M,
    prompts: &[Vec<u32>],
    config: &SamplingConfig,
    device: &B::Device,
) -> Generated {
    let mut session = CausalSession::new(
        model,
        prompts,
        config.pad_token_id,
        config.use_cache,
        device,
    );
    sample(&mut session, prompts.len(), config)
}

/// Samples (or greedily decodes) targets for `sources` with an encoder-decoder, batched; sources
/// are right-padded, the decoder starts from the model's decoder start token (not returned).
pub fn generate_seq2seq<B: Backend, M: Seq2SeqLM<B>>(
    model: &M,
    sources: &[Vec<u32>],
    config: &SamplingConfig,
    device: &B::Device,
) -> Generated {
    let mut session = Seq2SeqSession::new(
        model,
        sources,
        config.pad_token_id,
        config.use_cache,
        device,
    );
    sample(&mut session, sources.len(), config)
}

/// The sampling loop over any [`DecodeSession`] of `rows` sequences. Finished rows (after EOS) are
/// fed `pad_token_id` until every row has finished or `max_new_tokens` is reached.
pub fn sample<B: Backend, S: DecodeSession<B>>(
    session: &mut S,
    rows: usize,
    config: &SamplingConfig,
) -> Generated {
    assert!(
        config.greedy || config.temperature > 0.0,
        "temperature must be > 0 when sampling"
    );
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut out = Generated {
        tokens: vec![Vec::new(); rows],
        logprobs: vec![Vec::new(); rows],
        sequence_logprobs: vec![0.0; rows],
    };
    let mut finished = vec![false; rows];
    let mut fed: Option<Vec<u32>> = None;
    for step in 0..config.max_new_tokens {
        let logits = session.next_logits(fed.as_deref());
        let vocab = logits.dims()[1];
        let last: Vec<f32> = logits.into_data().iter::<f32>().collect();
        let mut next = vec![config.pad_token_id; rows];
        for b in 0..rows {
            if finished[b] {
                continue;
            }
            let row = &last[b * vocab..(b + 1) * vocab];
            let ban_eos = config.eos_token_id.filter(|_| step < config.min_new_tokens);
            let (token, logprob) = sample_row(row, config, ban_eos, &mut rng);
            out.tokens[b].push(token);
            out.logprobs[b].push(logprob as f32);
            out.sequence_logprobs[b] += logprob as f32;
            finished[b] = Some(token) == config.eos_token_id;
            next[b] = token;
        }
        if finished.iter().all(|&f| f) {
            break;
        }
        fed = Some(next);
    }
    out
}

/// `log softmax(row)`, computed in f64 and rounded to f32 (what beam search accumulates).
pub(crate) fn log_softmax_f32(row: &[f32]) -> Vec<f32> {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let log_z = max
        + row
            .iter()
            .map(|&x| (x as f64 - max).exp())
            .sum::<f64>()
            .ln();
    row.iter().map(|&x| (x as f64 - log_z) as f32).collect()
}

/// Picks the next token from one row of logits and returns it with its log-probability under
/// `softmax(row)`. Plain sampling (temperature 1, no top-k/top-p, nothing banned) takes one pass
/// of exponentials for both; otherwise the token comes from [`sampling_distribution`].
fn sample_row(
    row: &[f32],
    config: &SamplingConfig,
    ban: Option<u32>,
    rng: &mut ChaCha8Rng,
) -> (u32, f64) {
    let plain = !config.greedy
        && config.temperature == 1.0
        && config.top_k.is_none()
        && config.top_p.is_none()
        && ban.is_none();
    if !plain {
        let token = choose_token(row, config, ban, rng);
        return (token, log_softmax_at(row, token as usize));
    }
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let exps: Vec<f64> = row.iter().map(|&x| (x as f64 - max).exp()).collect();
    let z: f64 = exps.iter().sum();
    let target = rng.random::<f64>() * z;
    let (mut acc, mut token) = (0.0, 0);
    for (i, &e) in exps.iter().enumerate() {
        if e > 0.0 {
            acc += e;
            token = i;
            if target < acc {
                break;
            }
        }
    }
    (token as u32, row[token] as f64 - max - z.ln())
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
///
/// Only as much of the vocabulary is sorted as top-k / top-p need (none without them); the order
/// is by descending logit with ties broken by the lower index.
pub fn sampling_distribution(row: &[f32], config: &SamplingConfig, ban: Option<u32>) -> Vec<f64> {
    let t = config.temperature;
    let mut scaled: Vec<f64> = row.iter().map(|&x| x as f64 / t).collect();
    if let Some(ban) = ban {
        scaled[ban as usize] = f64::NEG_INFINITY;
    }
    let max = scaled.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let by_logit = |a: &usize, b: &usize| scaled[*b].total_cmp(&scaled[*a]).then(a.cmp(b));
    let mut probs = vec![0.0; row.len()];
    let Some(k) = config.top_k.map(|k| k.clamp(1, row.len())) else {
        if config.top_p.is_none() {
            for (p, &x) in probs.iter_mut().zip(&scaled) {
                *p = (x - max).exp();
            }
            let z: f64 = probs.iter().sum();
            probs.iter_mut().for_each(|p| *p /= z);
            return probs;
        }
        return nucleus(
            &scaled,
            (0..row.len()).collect(),
            max,
            config.top_p,
            by_logit,
        );
    };
    // The k most likely tokens, then top-p among them.
    let mut order: Vec<usize> = (0..row.len()).collect();
    if k < order.len() {
        order.select_nth_unstable_by(k - 1, by_logit);
        order.truncate(k);
    }
    nucleus(&scaled, order, max, config.top_p, by_logit)
}

/// `softmax` over the candidates `order`, then (with `top_p`) the smallest prefix of them, by
/// descending logit, whose probability reaches `top_p`, renormalised. Sorts lazily: a growing
/// prefix at a time, until the mass is reached.
fn nucleus(
    scaled: &[f64],
    mut order: Vec<usize>,
    max: f64,
    top_p: Option<f64>,
    by_logit: impl Fn(&usize, &usize) -> std::cmp::Ordering + Copy,
) -> Vec<f64> {
    let mut probs = vec![0.0; scaled.len()];
    let z: f64 = order.iter().map(|&i| (scaled[i] - max).exp()).sum();
    for &i in &order {
        probs[i] = (scaled[i] - max).exp() / z;
    }
    let Some(top_p) = top_p else {
        return probs;
    };
    let (mut acc, mut cut, mut start, mut chunk) = (0.0, order.len(), 0, 64);
    'outer: while start < order.len() {
        let end = (start + chunk).min(order.len());
        let rest = &mut order[start..];
        if end - start < rest.len() {
            rest.select_nth_unstable_by(end - start - 1, by_logit);
        }
        order[start..end].sort_by(by_logit);
        for (rank, &i) in order.iter().enumerate().take(end).skip(start) {
            acc += probs[i];
            if acc >= top_p {
                cut = rank + 1;
                break 'outer;
            }
        }
        start = end;
        chunk *= 4;
    }
    for &i in &order[cut..] {
        probs[i] = 0.0;
    }
    let z: f64 = probs.iter().sum();
    probs.iter_mut().for_each(|p| *p /= z);
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

    /// The lazily sorted top-k / top-p equal a full stable sort, on a row with many ties.
    #[test]
    fn partial_sorting_equals_full_sorting() {
        let row: Vec<f32> = (0..1000).map(|i| ((i * 7919) % 97) as f32 / 9.0).collect();
        for (top_k, top_p) in [
            (None, Some(0.9)),
            (Some(50), Some(0.5)),
            (Some(300), None),
            (None, Some(0.999)),
        ] {
            let c = SamplingConfig {
                top_k,
                top_p,
                temperature: 0.7,
                ..config()
            };
            let got = sampling_distribution(&row, &c, Some(3));
            // Reference: full stable sort by descending logit.
            let scaled: Vec<f64> = row.iter().map(|&x| x as f64 / 0.7).collect();
            let mut order: Vec<usize> = (0..row.len()).filter(|&i| i != 3).collect();
            order.sort_by(|&a, &b| scaled[b].total_cmp(&scaled[a]));
            order.truncate(top_k.unwrap_or(order.len()));
            let max = scaled[order[0]];
            let z: f64 = order.iter().map(|&i| (scaled[i] - max).exp()).sum();
            let mut keep = order.len();
            if let Some(p) = top_p {
                let mut acc = 0.0;
                for (r, &i) in order.iter().enumerate() {
                    acc += (scaled[i] - max).exp() / z;
                    if acc >= p {
                        keep = r + 1;
                        break;
                    }
                }
            }
            let kept = &order[..keep];
            let z2: f64 = kept.iter().map(|&i| (scaled[i] - max).exp()).sum();
            let mut want = vec![0.0; row.len()];
            for &i in kept {
                want[i] = (scaled[i] - max).exp() / z2;
            }
            for (a, b) in got.iter().zip(&want) {
                assert!((a - b).abs() < 1e-12, "{top_k:?} {top_p:?}");
            }
        }
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
