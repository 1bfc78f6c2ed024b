//! Beam search with Hugging Face's semantics (`transformers` 5.x `GenerationMixin._beam_search`).
//!
//! Each input keeps `num_beams` running beams. A step scores every continuation of every beam by
//! its accumulated log-probability (`log_softmax` of the logits, EOS set to `-inf` before
//! `min_new_tokens`), keeps the top `2 * num_beams` candidates, and then
//!
//! * the best `num_beams` candidates that did not just stop become the running beams;
//! * candidates among the top `num_beams` that stop (emit EOS, or reach `max_new_tokens`) enter
//!   the input's list of `num_beams` finished hypotheses with score
//!   `sum of log-probs / generated_length ^ length_penalty` (the generated length counts the EOS);
//! * an input is done when no running beam can beat its worst finished hypothesis
//!   ([`EarlyStopping`] says how that is judged) and the search ends when every input is done,
//!   every running candidate stopped, or (with [`EarlyStopping::Done`]) every input has
//!   `num_beams` finished hypotheses.
//!
//! The host arithmetic is f32 with HF's `-1e9` penalties, so ties and rounding resolve as in
//! PyTorch. Beams run as rows `input * num_beams + beam` of a [`DecodeSession`], whose caches
//! are reordered to follow their beams after each step.

use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};

use crate::lm::{CausalLM, Seq2SeqLM};
use crate::sampling::{CausalSession, DecodeSession, Seq2SeqSession, log_softmax_f32};

/// HF's `early_stopping`: when an input's beam search is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EarlyStopping {
    /// `early_stopping=False` (HF's default): stop when the best running beam, scored at the
    /// current length, cannot beat the worst finished hypothesis.
    #[default]
    Heuristic,
    /// `early_stopping=True`: stop as soon as `num_beams` hypotheses are finished.
    Done,
    /// `early_stopping="never"`: like `Heuristic`, but with a positive length penalty the best
    /// running beam is scored at the maximum length (the canonical beam search).
    Never,
}

/// Beam search settings, named as Hugging Face's `generate` arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BeamConfig {
    pub num_beams: usize,
    pub max_new_tokens: usize,
    /// EOS gets probability 0 before this many new tokens.
    pub min_new_tokens: usize,
    /// Finished hypotheses are ranked by `sum log p / length ^ length_penalty`.
    pub length_penalty: f64,
    pub early_stopping: EarlyStopping,
    pub eos_token_id: Option<u32>,
    /// Fills left padding of causal prompts and right padding of encoder inputs.
    pub pad_token_id: u32,
    pub use_cache: bool,
}

impl Default for BeamConfig {
    fn default() -> Self {
        BeamConfig {
            num_beams: 4,
            max_new_tokens: 48,
            min_new_tokens: 0,
            length_penalty: 1.0,
            early_stopping: EarlyStopping::Heuristic,
            eos_token_id: None,
            pad_token_id: 0,
            use_cache: true,
        }
    }
}

/// The best hypothesis per input.
#[derive(Debug, Clone, PartialEq)]
pub struct BeamOutput {
    /// New tokens, ending with EOS when the hypothesis finished that way.
    pub tokens: Vec<Vec<u32>>,
    /// `log p(token | prefix)` of each new token (EOS banned before `min_new_tokens`).
    pub logprobs: Vec<Vec<f32>>,
    /// Sum of `logprobs` (accumulated in f32, as the search does).
    pub sequence_logprobs: Vec<f32>,
    /// The length-penalised score the search ranked by (HF's `sequences_scores`).
    pub scores: Vec<f32>,
}

/// HF's stand-in for minus infinity in beam bookkeeping.
const PENALTY: f32 = -1.0e9;

#[derive(Debug, Clone)]
struct Hypothesis {
    tokens: Vec<u32>,
    logprobs: Vec<f32>,
    score: f32,
    finished: bool,
}

impl Hypothesis {
    fn empty(score: f32) -> Self {
        Hypothesis {
            tokens: Vec::new(),
            logprobs: Vec::new(),
            score,
            finished: false,
        }
    }
}

/// One of the top `2 * num_beams` continuations of an input.
struct Candidate {
    beam: usize,
    token: u32,
    logprob: f32,
    /// Accumulated log-probability of the beam plus this token.
    score: f32,
    stops: bool,
}

/// Beam search continuations of causal-LM `prompts` (left-padded, as HF expects for GPT-2).
pub fn beam_search<B: Backend, M: CausalLM<B>>(
    model: &M,
    prompts: &[Vec<u32>],
    config: &BeamConfig,
    device: &B::Device,
) -> BeamOutput {
    let beams = config.num_beams;
    let repeated: Vec<Vec<u32>> = prompts
        .iter()
        .flat_map(|p| std::iter::repeat_n(p.clone(), beams))
        .collect();
    let mut session = CausalSession::new(
        model,
        &repeated,
        config.pad_token_id,
        config.use_cache,
        device,
    );
    run(&mut session, prompts.len(), config)
}

/// Beam search targets for `sources` with an encoder-decoder; the encoder runs once per source
/// and its states are shared by that source's beams.
pub fn beam_search_seq2seq<B: Backend, M: Seq2SeqLM<B>>(
    model: &M,
    sources: &[Vec<u32>],
    config: &BeamConfig,
    device: &B::Device,
) -> BeamOutput {
    let mut session = Seq2SeqSession::new(
        model,
        sources,
        config.pad_token_id,
        config.use_cache,
        device,
    );
    let expand: Vec<usize> = (0..sources.len())
        .flat_map(|b| std::iter::repeat_n(b, config.num_beams))
        .collect();
    session.select_rows(&expand);
    run(&mut session, sources.len(), config)
}

/// The search over a session whose rows are `batch * num_beams` beams, input-major.
pub fn run<B: Backend, S: DecodeSession<B>>(
    session: &mut S,
    batch: usize,
    config: &BeamConfig,
) -> BeamOutput {
    let nb = config.num_beams;
    assert!(nb >= 1, "num_beams must be at least 1");
    assert!(
        config.max_new_tokens >= 1,
        "max_new_tokens must be at least 1"
    );
    let keep = 2 * nb; // HF: max(2, 1 + number of EOS ids) * num_beams, with at most one EOS id.
    let lp = config.length_penalty;

    // Only beam 0 starts live, so the first step does not pick the same token num_beams times.
    let mut running: Vec<Vec<Hypothesis>> = (0..batch)
        .map(|_| {
            (0..nb)
                .map(|j| Hypothesis::empty(if j == 0 { 0.0 } else { PENALTY }))
                .collect()
        })
        .collect();
    let mut finished: Vec<Vec<Hypothesis>> = (0..batch)
        .map(|_| (0..nb).map(|_| Hypothesis::empty(PENALTY)).collect())
        .collect();
    let mut improvable = vec![true; batch];
    let mut fed: Option<Vec<u32>> = None;

    for step in 0..config.max_new_tokens {
        let logits = session.next_logits(fed.as_deref());
        let vocab = logits.dims()[1];
        let logits: Vec<f32> = logits.into_data().iter::<f32>().collect();
        let generated = step + 1;
        let last_step = generated == config.max_new_tokens;

        let mut all_stop = true;
        let mut reorder = Vec::with_capacity(batch * nb);
        for b in 0..batch {
            // Accumulated scores of every (beam, token), `[nb * vocab]`.
            let mut logp_rows = Vec::with_capacity(nb);
            let mut acc = Vec::with_capacity(nb * vocab);
            for (j, beam) in running[b].iter().enumerate() {
                let row = (b * nb + j) * vocab;
                let mut logp = log_softmax_f32(&logits[row..row + vocab]);
                if let Some(eos) = config.eos_token_id
                    && step < config.min_new_tokens
                {
                    logp[eos as usize] = f32::NEG_INFINITY;
                }
                acc.extend(logp.iter().map(|&x| x + beam.score));
                logp_rows.push(logp);
            }
            let candidates: Vec<Candidate> = top_indices(&acc, keep)
                .into_iter()
                .map(|i| {
                    let (beam, token) = (i / vocab, (i % vocab) as u32);
                    Candidate {
                        beam,
                        token,
                        logprob: logp_rows[beam][token as usize],
                        score: acc[i],
                        stops: last_step || Some(token) == config.eos_token_id,
                    }
                })
                .collect();
            all_stop &= candidates.iter().all(|c| c.stops);

            // Next running beams: the best candidates that did not stop.
            let running_scores: Vec<f32> = candidates
                .iter()
                .map(|c| c.score + if c.stops { PENALTY } else { 0.0 })
                .collect();
            let next: Vec<Hypothesis> = top_indices(&running_scores, nb)
                .into_iter()
                .map(|k| {
                    let c = &candidates[k];
                    reorder.push(b * nb + c.beam);
                    extend(&running[b][c.beam], c, running_scores[k], false)
                })
                .collect();

            // Finished hypotheses: the old ones and the top-num_beams candidates that stopped.
            let full = config.early_stopping == EarlyStopping::Done
                && finished[b].iter().all(|h| h.finished);
            let divisor = (generated as f64).powf(lp) as f32;
            let mut merged = std::mem::take(&mut finished[b]);
            for (k, c) in candidates.iter().enumerate() {
                let just_finished = c.stops && k < nb;
                let mut score = c.score / divisor;
                if full {
                    score += PENALTY;
                }
                if !improvable[b] {
                    score += PENALTY;
                }
                if !just_finished {
                    score += PENALTY;
                }
                merged.push(extend(&running[b][c.beam], c, score, just_finished));
            }
            let scores: Vec<f32> = merged.iter().map(|h| h.score).collect();
            finished[b] = top_indices(&scores, nb)
                .into_iter()
                .map(|i| merged[i].clone())
                .collect();
            running[b] = next;

            // Can a running beam still beat the worst finished hypothesis?
            let best_length = if config.early_stopping == EarlyStopping::Never && lp > 0.0 {
                config.max_new_tokens
            } else {
                generated
            };
            let best_possible = running[b][0].score / (best_length as f64).powf(lp) as f32;
            let worst_finished = if finished[b].iter().all(|h| h.finished) {
                finished[b]
                    .iter()
                    .map(|h| h.score)
                    .fold(f32::INFINITY, f32::min)
            } else {
                PENALTY
            };
            improvable[b] &= best_possible > worst_finished;
        }

        let all_full = config.early_stopping == EarlyStopping::Done
            && finished.iter().flatten().all(|h| h.finished);
        if !improvable.iter().any(|&i| i) || all_full || all_stop {
            break;
        }
        session.select_rows(&reorder);
        fed = Some(
            running
                .iter()
                .flatten()
                .map(|h| *h.tokens.last().expect("a running beam has a token"))
                .collect(),
        );
    }

    let mut out = BeamOutput {
        tokens: Vec::with_capacity(batch),
        logprobs: Vec::with_capacity(batch),
        sequence_logprobs: Vec::with_capacity(batch),
        scores: Vec::with_capacity(batch),
    };
    for hyps in finished {
        let best = hyps.into_iter().next().expect("num_beams >= 1");
        out.sequence_logprobs.push(best.logprobs.iter().sum());
        out.scores.push(best.score);
        out.tokens.push(best.tokens);
        out.logprobs.push(best.logprobs);
    }
    out
}

/// `parent` followed by the candidate's token.
fn extend(parent: &Hypothesis, c: &Candidate, score: f32, finished: bool) -> Hypothesis {
    let mut tokens = parent.tokens.clone();
    tokens.push(c.token);
    let mut logprobs = parent.logprobs.clone();
    logprobs.push(c.logprob);
    Hypothesis {
        tokens,
        logprobs,
        score,
        finished,
    }
}

/// Indices of the `k` largest values, largest first; equal values keep index order.
fn top_indices(values: &[f32], k: usize) -> Vec<usize> {
    let k = k.min(values.len());
    let order = |a: &usize, b: &usize| values[*b].total_cmp(&values[*a]).then(a.cmp(b));
    let mut idx: Vec<usize> = (0..values.len()).collect();
    if k < idx.len() {
        idx.select_nth_unstable_by(k, order);
        idx.truncate(k);
    }
    idx.sort_by(order);
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_indices_are_sorted_and_stable_on_ties() {
        let v = [0.5f32, 2.0, -1.0, 2.0, 7.0, f32::NEG_INFINITY];
        assert_eq!(top_indices(&v, 3), [4, 1, 3]);
        assert_eq!(top_indices(&v, 10), [4, 1, 3, 0, 2, 5]);
    }
}
