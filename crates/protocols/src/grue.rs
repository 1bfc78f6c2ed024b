//! The GRUE tasks on a language-model policy: inputs tokenised as RL4LMs does, the task reward,
//! and the measurement the paper's Section 4.1 starts from (Figure 1): for each input, sample `k`
//! outputs from the model, score them, and keep the reward mean and std.
//!
//! ```text
//! grue::Sample (prompt text, references) --encode--> trainers::lm::Example (token ids)
//! policy.generate(k samples per input) --TaskReward--> rewards --> mean, std per input
//! ```
//!
//! The std is the population std (ddof 0) of the `k` sampled rewards
//! ([`trainers::diagnostics::RewardStats::from_samples`]), as the paper computes it from 10 samples.

use crate::rows;
use anyhow::{Result, anyhow, bail};
use burn::tensor::backend::Backend;
use grue::spec::{GenKwargs, Side, TaskSpec};
use indicatif::ProgressBar;
use model::LmTokenizer;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use seeds::{Stream, step_seed};
use std::sync::Arc;
use trainers::diagnostics::RewardStats;
use trainers::lm::{Example, GenerationKwargs, TaskReward, Tokens};
use trainers::policy::Policy;

/// The first `n` indices of a seeded permutation of `0..total` (the paper: seed 7, 5,000 inputs).
pub fn permutation_prefix(total: usize, n: usize, seed: u64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..total).collect();
    idx.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    idx.truncate(n.min(total));
    idx
}

/// How prompts are cut to the model's budget (RL4LMs' `max_prompt_length` and
/// `prompt_truncation_side`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PromptRule {
    pub max_prompt_length: usize,
    pub truncate_left: bool,
    /// T5: `</s>` closes every source (kept when truncating, as Hugging Face truncates the text
    /// before adding special tokens).
    pub seq2seq: bool,
}

impl PromptRule {
    pub fn of(spec: &TaskSpec) -> Self {
        PromptRule {
            max_prompt_length: spec.max_prompt_length,
            truncate_left: spec.prompt_truncation_side == Side::Left,
            seq2seq: spec.seq2seq,
        }
    }
}

fn cut(mut ids: Vec<u32>, keep: usize, left: bool) -> Vec<u32> {
    if ids.len() > keep {
        if left {
            ids.drain(..ids.len() - keep);
        } else {
            ids.truncate(keep);
        }
    }
    ids
}

/// Token ids of one prompt text: T5 gets `</s>` appended after truncation; an empty GPT-2 prompt
/// becomes `<|endoftext|>` (GPT-2's BOS).
pub fn encode_prompt(tok: &LmTokenizer, text: &str, rule: PromptRule) -> Result<Vec<u32>> {
    let eos = tok.eos_token_id();
    let raw = match tok {
        LmTokenizer::Gpt2(t) => t.encode(text),
        LmTokenizer::T5(t) => t.encode(text, false),
    }
    .map_err(|e| anyhow!("{e}"))?;
    if rule.seq2seq {
        let mut ids = cut(
            raw,
            rule.max_prompt_length.saturating_sub(1).max(1),
            rule.truncate_left,
        );
        ids.push(eos);
        return Ok(ids);
    }
    let ids = cut(raw, rule.max_prompt_length.max(1), rule.truncate_left);
    Ok(if ids.is_empty() { vec![eos] } else { ids })
}

/// `samples` as trainer examples: prompt = the task's prefix + the sample's text, tokenised and
/// cut by `rule`; SFT target = the first reference followed by EOS.
pub fn encode(
    samples: &[&grue::Sample],
    prefix: &str,
    tok: &LmTokenizer,
    rule: PromptRule,
) -> Result<Vec<Example>> {
    let eos = tok.eos_token_id();
    samples
        .iter()
        .map(|s| {
            let prompt = format!("{prefix}{}", s.prompt_or_context);
            let prompt_ids = encode_prompt(tok, &prompt, rule)?;
            let first = s.references.first().map(String::as_str).unwrap_or("");
            let mut target_ids = match tok {
                LmTokenizer::Gpt2(t) => t.encode(first),
                LmTokenizer::T5(t) => t.encode(first, false),
            }
            .map_err(|e| anyhow!("{e}"))?;
            target_ids.push(eos);
            Ok(Example {
                prompt_ids,
                prompt,
                references: s.references.clone(),
                target_ids,
            })
        })
        .collect()
}

/// The task reward: registry metric `id` with `args`, on the decoded generation.
pub fn task_reward(
    id: &str,
    args: &serde_yaml::Value,
    tok: Arc<LmTokenizer>,
    loader: Option<&dyn rewards::ClassifierLoader>,
) -> Result<TaskReward> {
    let reward = rewards::build_with(id, args, loader).map_err(|e| anyhow!("reward {id}: {e}"))?;
    Ok(TaskReward {
        reward,
        decode: Box::new(move |ids: &[u32]| tok.decode(ids).unwrap_or_default()),
    })
}

/// Hugging Face `generate` kwargs as a config sets them, with Hugging Face's defaults where it
/// does not (`top_k` 50, temperature 1; `top_k: 0` disables top-k). `min_length` counts decoder
/// tokens including the start token for T5 (so `min_length - 1` new tokens) and new tokens for
/// GPT-2 (RL4LMs adds the prompt length); a missing `max_new_tokens` is Hugging Face's
/// `max_length` 20 ([`GenKwargs::effective_max_new_tokens`]).
pub fn generation_kwargs(g: &GenKwargs, seq2seq: bool) -> GenerationKwargs {
    let min = g.min_length.unwrap_or(0);
    GenerationKwargs {
        do_sample: g.do_sample.unwrap_or(false),
        temperature: g.temperature.unwrap_or(1.0),
        top_k: match g.top_k {
            None => Some(50),
            Some(0) => None,
            Some(k) => Some(k as usize),
        },
        top_p: None,
        min_new_tokens: if seq2seq { min.saturating_sub(1) } else { min },
        max_new_tokens: g.effective_max_new_tokens(seq2seq, 0).max(1),
    }
}

/// The checkpoint a sweep's `models` map gives for `paper_model` (an error naming the missing
/// entry otherwise).
pub fn model_for<'a>(
    models: &'a std::collections::BTreeMap<String, String>,
    paper_model: &str,
    task: &str,
) -> Result<&'a str> {
    models.get(paper_model).map(String::as_str).ok_or_else(|| {
        anyhow!(
            "models: no entry for {paper_model:?} (the paper's model for task {task}); add \
             `{paper_model}: DIR-or-hub-id-or-pretrained:NAME` (have: {})",
            models.keys().cloned().collect::<Vec<_>>().join(", ")
        )
    })
}

/// The task reward's arguments, with a learned reward's `model_name` (a paper model id) replaced
/// by the checkpoint directory `resolve` gives for it.
pub fn resolved_reward_args(
    spec: &TaskSpec,
    resolve: &dyn Fn(&str) -> Result<std::path::PathBuf>,
) -> Result<serde_yaml::Value> {
    let mut args = spec.reward.args_yaml();
    if let Some(name) = args.get("model_name").and_then(|v| v.as_str()) {
        let dir = resolve(name)?;
        args["model_name"] = serde_yaml::Value::String(dir.display().to_string());
    }
    Ok(args)
}

/// EOS and pad ids as the policies use them: T5's `<pad>`, and for GPT-2 (which has no pad token)
/// `<|endoftext|>`, as RL4LMs sets `pad_token_as_eos_token`.
pub fn tokens_of(tok: &LmTokenizer) -> Tokens {
    let pad = match tok {
        LmTokenizer::T5(t) => t.pad_token_id(),
        LmTokenizer::Gpt2(t) => t.eos_token_id(),
    };
    Tokens {
        eos: Some(tok.eos_token_id()),
        pad,
    }
}

/// The `k` sampled rewards of one input and their mean and std.
#[derive(Debug, Clone, PartialEq)]
pub struct InputRewards {
    pub rewards: Vec<f64>,
    pub stats: RewardStats,
}

/// Samples `k` outputs for every example (`chunk` inputs per batched generation, each chunk
/// seeded by `(seed, Diagnostics, chunk index)`), scores them, and returns each input's rewards.
/// A non-finite reward is an error naming the input.
#[allow(clippy::too_many_arguments)]
pub fn reward_stats<B: Backend, P: Policy<B>>(
    policy: &P,
    examples: &[Example],
    reward: &TaskReward,
    k: usize,
    kwargs: &GenerationKwargs,
    tokens: Tokens,
    seed: u64,
    chunk: usize,
    bar: &ProgressBar,
) -> Result<Vec<InputRewards>> {
    if k == 0 || chunk == 0 {
        bail!("samples per input and inputs per batch must be >= 1");
    }
    let mut out = Vec::with_capacity(examples.len());
    for (c, part) in examples.chunks(chunk).enumerate() {
        let prompts: Vec<Vec<u32>> = part
            .iter()
            .flat_map(|x| std::iter::repeat_n(x.prompt_ids.clone(), k))
            .collect();
        let sampling = kwargs.sampling(
            tokens.eos,
            tokens.pad,
            step_seed(seed, Stream::Diagnostics, c as u64),
        );
        let generated = policy.generate(&prompts, &sampling);
        let refs: Vec<&Example> = part
            .iter()
            .flat_map(|x| std::iter::repeat_n(x, k))
            .collect();
        let r = reward.score(&refs, &generated.tokens);
        for (i, rs) in r.chunks(k).enumerate() {
            if let Some(bad) = rs.iter().find(|x| !x.is_finite()) {
                bail!(
                    "the reward returned {bad} for input {} ({:?}); a reward must be a finite number",
                    c * chunk + i,
                    part[i].prompt.chars().take(80).collect::<String>()
                );
            }
            out.push(InputRewards {
                rewards: rs.to_vec(),
                stats: RewardStats::from_samples(rs),
            });
        }
        bar.inc(part.len() as u64);
    }
    Ok(out)
}

/// Positions of the inputs ordered by reward std, smallest first (ties: lower mean reward
/// first, then position), from their `(std, mean)`: the inputs RFT gives the least gradient
/// (Theorem 1), in the order targeted SFT labels them. `runner diagnose` writes its inputs in
/// this order to `per_input_by_std.csv`.
pub fn smallest_std_first(std_mean: &[(f64, f64)]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..std_mean.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (std_mean[a], std_mean[b]);
        x.0.total_cmp(&y.0)
            .then(x.1.total_cmp(&y.1))
            .then(a.cmp(&b))
    });
    order
}

rows! {
    /// One input of a reward-std measurement (Figure 1, `runner diagnose`).
    pub struct InputStatsRow {
        pub task: String,
        /// Position in the measured order (the seeded permutation).
        pub position: usize,
        /// Index of the input in its split.
        pub index: usize,
        pub reward_mean: f64,
        pub reward_std: f64,
        /// The `k` sampled rewards, as a JSON array.
        pub rewards: String,
        /// The prompt text (first 300 characters).
        pub prompt: String,
    }
}

rows! {
    /// Per task: how many inputs have a small reward std (and a low mean reward).
    pub struct FractionRow {
        pub task: String,
        pub inputs: usize,
        pub samples: usize,
        pub mean_reward: f64,
        pub std_below_0_01: f64,
        pub std_below_0_05: f64,
        pub std_below_0_1: f64,
        /// Std below 0.05 and mean below `low_reward`.
        pub small_std_low_reward: f64,
        pub low_reward: f64,
    }
}

rows! {
    /// Wall time of a measurement: kept out of [`FractionRow`], so result tables depend on the
    /// seed alone (a sweep's `timing` tables are the only ones that may differ between runs).
    pub struct TimingRow {
        pub task: String,
        pub seconds: f64,
        pub inputs_per_second: f64,
    }
}

/// The fractions of `rows` under the Figure 1 thresholds.
pub fn fractions(
    task: &str,
    rows: &[InputStatsRow],
    samples: usize,
    low_reward: f64,
) -> FractionRow {
    let n = rows.len().max(1) as f64;
    let frac = |f: &dyn Fn(&InputStatsRow) -> bool| rows.iter().filter(|r| f(r)).count() as f64 / n;
    FractionRow {
        task: task.to_string(),
        inputs: rows.len(),
        samples,
        mean_reward: rows.iter().map(|r| r.reward_mean).sum::<f64>() / n,
        std_below_0_01: frac(&|r| r.reward_std < 0.01),
        std_below_0_05: frac(&|r| r.reward_std < 0.05),
        std_below_0_1: frac(&|r| r.reward_std < 0.1),
        small_std_low_reward: frac(&|r| r.reward_std < 0.05 && r.reward_mean < low_reward),
        low_reward,
    }
}

/// The timing row of a measurement of `inputs` inputs that took `seconds`.
pub fn timing(task: &str, inputs: usize, seconds: f64) -> TimingRow {
    TimingRow {
        task: task.to_string(),
        seconds,
        inputs_per_second: inputs as f64 / seconds.max(1e-9),
    }
}

/// Rows of measured inputs.
pub fn input_rows(
    task: &str,
    indices: &[usize],
    examples: &[Example],
    measured: &[InputRewards],
) -> Vec<InputStatsRow> {
    measured
        .iter()
        .enumerate()
        .map(|(i, m)| InputStatsRow {
            task: task.to_string(),
            position: i,
            index: indices[i],
            reward_mean: m.stats.mean,
            reward_std: m.stats.std,
            rewards: serde_json::to_string(&m.rewards).expect("numbers serialise"),
            prompt: examples[i].prompt.chars().take(300).collect(),
        })
        .collect()
}

/// What one reward-std measurement needs: a checkpoint, the inputs, the reward and the sampling.
pub struct Measurement<'a> {
    /// A Hugging Face checkpoint directory (GPT-2 or T5; `config.json` says which).
    pub checkpoint: &'a std::path::Path,
    /// Names the task in rows and errors.
    pub task: &'a str,
    pub samples: Vec<&'a grue::Sample>,
    /// Each sample's index in its split.
    pub indices: Vec<usize>,
    pub max_prompt_length: usize,
    pub truncate_left: bool,
    pub reward_id: &'a str,
    pub reward_args: serde_yaml::Value,
    pub generation: GenKwargs,
    /// Samples per input.
    pub k: usize,
    /// Inputs per batched generation.
    pub chunk: usize,
    pub seed: u64,
    pub device: model::DeviceKind,
    pub loader: Option<&'a dyn rewards::ClassifierLoader>,
}

/// Whether a checkpoint directory holds a T5 (`model_type: t5`) or a GPT-2 (`gpt2`).
pub fn is_seq2seq(dir: &std::path::Path) -> Result<bool> {
    let path = dir.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        anyhow!(
            "cannot read {} ({e}); a checkpoint directory holds config.json, model.safetensors and \
             tokenizer files",
            path.display()
        )
    })?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    match v.get("model_type").and_then(|m| m.as_str()) {
        Some("t5") => Ok(true),
        Some("gpt2") => Ok(false),
        other => bail!(
            "{}: model_type {other:?} is not supported (gpt2 and t5 are)",
            path.display()
        ),
    }
}

impl Measurement<'_> {
    /// Samples `k` outputs per input and returns one row per input and the wall time (seconds).
    pub fn run(self, bar: &ProgressBar) -> Result<(Vec<InputStatsRow>, f64)> {
        let seq2seq = is_seq2seq(self.checkpoint)?;
        let tok = Arc::new(
            LmTokenizer::from_checkpoint(self.checkpoint, seq2seq).map_err(|e| {
                anyhow!(
                    "loading the tokenizer of {}: {e}",
                    self.checkpoint.display()
                )
            })?,
        );
        let rule = PromptRule {
            max_prompt_length: self.max_prompt_length,
            truncate_left: self.truncate_left,
            seq2seq,
        };
        // The pools put each task's prefix into the text already (`TaskSpec::prompt_prefix`).
        let examples = encode(&self.samples, "", &tok, rule)?;
        let reward = task_reward(self.reward_id, &self.reward_args, tok.clone(), self.loader)?;
        let kwargs = GenerationKwargs {
            do_sample: true,
            ..generation_kwargs(&self.generation, seq2seq)
        };
        let tokens = tokens_of(&tok);
        let start = std::time::Instant::now();
        let task = Sample {
            m: &self,
            seq2seq,
            examples: &examples,
            reward: &reward,
            kwargs: &kwargs,
            tokens,
            bar,
        };
        let measured = model::run_on(self.device, task)??;
        let seconds = start.elapsed().as_secs_f64();
        Ok((
            input_rows(self.task, &self.indices, &examples, &measured),
            seconds,
        ))
    }
}

/// The measurement on one backend ([`model::run_on`] picks it).
struct Sample<'a> {
    m: &'a Measurement<'a>,
    seq2seq: bool,
    examples: &'a [Example],
    reward: &'a TaskReward,
    kwargs: &'a GenerationKwargs,
    tokens: Tokens,
    bar: &'a ProgressBar,
}

impl model::BackendTask for Sample<'_> {
    type Output = Result<Vec<InputRewards>>;

    fn run<B: burn::tensor::backend::AutodiffBackend>(self, device: B::Device) -> Self::Output {
        let m = self.m;
        let dir = m.checkpoint;
        let go = |p: &dyn Fn() -> Result<Vec<InputRewards>>| p();
        if self.seq2seq {
            let policy = model::T5ForConditionalGeneration::<B::InnerBackend>::load(dir, &device)
                .map_err(|e| anyhow!("{}: {e}", dir.display()))?;
            go(&|| {
                reward_stats(
                    &policy,
                    self.examples,
                    self.reward,
                    m.k,
                    self.kwargs,
                    self.tokens,
                    m.seed,
                    m.chunk,
                    self.bar,
                )
            })
        } else {
            let policy = model::GPT2LMHeadModel::<B::InnerBackend>::load(dir, &device)
                .map_err(|e| anyhow!("{}: {e}", dir.display()))?;
            go(&|| {
                reward_stats(
                    &policy,
                    self.examples,
                    self.reward,
                    m.k,
                    self.kwargs,
                    self.tokens,
                    m.seed,
                    m.chunk,
                    self.bar,
                )
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smallest_std_first_orders_by_std_then_by_low_reward_then_by_position() {
        let inputs = [(0.2, 0.5), (0.0, 0.3), (0.0, 0.1), (0.05, 0.0), (0.0, 0.1)];
        assert_eq!(smallest_std_first(&inputs), vec![2, 4, 1, 3, 0]);
        assert!(smallest_std_first(&[]).is_empty());
    }

    #[test]
    fn the_permutation_prefix_is_seeded_and_distinct() {
        let a = permutation_prefix(100, 10, 7);
        assert_eq!(a, permutation_prefix(100, 10, 7));
        assert_ne!(a, permutation_prefix(100, 10, 8));
        let mut s = a.clone();
        s.sort_unstable();
        s.dedup();
        assert_eq!(s.len(), 10);
        assert_eq!(permutation_prefix(3, 10, 7).len(), 3);
    }

    #[test]
    fn prompts_are_cut_on_the_configured_side() {
        assert_eq!(cut(vec![1, 2, 3, 4], 2, true), vec![3, 4]);
        assert_eq!(cut(vec![1, 2, 3, 4], 2, false), vec![1, 2]);
        assert_eq!(cut(vec![1, 2], 5, true), vec![1, 2]);
    }

    #[test]
    fn hugging_face_defaults_fill_unset_generation_kwargs() {
        let g = GenKwargs {
            do_sample: Some(true),
            min_length: Some(5),
            max_new_tokens: Some(20),
            ..GenKwargs::default()
        };
        let t5 = generation_kwargs(&g, true);
        assert_eq!(
            (t5.top_k, t5.min_new_tokens, t5.max_new_tokens),
            (Some(50), 4, 20)
        );
        let gpt2 = generation_kwargs(&g, false);
        assert_eq!(gpt2.min_new_tokens, 5);
        let no_topk = GenKwargs {
            top_k: Some(0),
            ..g
        };
        assert_eq!(generation_kwargs(&no_topk, true).top_k, None);
        // NarrativeQA sets no max_new_tokens: HF's max_length 20 leaves 19 for T5.
        let unset = GenKwargs {
            max_new_tokens: None,
            ..g
        };
        assert_eq!(generation_kwargs(&unset, true).max_new_tokens, 19);
    }

    #[test]
    fn fractions_count_small_std_and_low_reward_inputs() {
        let row = |m: f64, s: f64| InputStatsRow {
            task: "t".into(),
            position: 0,
            index: 0,
            reward_mean: m,
            reward_std: s,
            rewards: "[]".into(),
            prompt: String::new(),
        };
        let rows = vec![
            row(0.0, 0.0),
            row(0.05, 0.03),
            row(0.5, 0.03),
            row(0.5, 0.3),
        ];
        let f = fractions("t", &rows, 10, 0.1);
        assert_eq!(f.std_below_0_01, 0.25);
        assert_eq!(f.std_below_0_05, 0.75);
        assert_eq!(f.small_std_low_reward, 0.5);
        assert_eq!(timing("t", 4, 2.0).inputs_per_second, 2.0);
    }

    /// A reward that returns `value` for every sample.
    struct Constant(f64);

    impl rewards::Reward for Constant {
        fn id(&self) -> &str {
            "constant"
        }
        fn score(&self, _: &rewards::Sample) -> f64 {
            self.0
        }
    }

    fn measure(value: f64) -> Result<Vec<InputRewards>> {
        let task = trainers::synthetic::ReverseTask {
            alphabet: 2,
            length: 2,
        };
        let device = Default::default();
        let model = task
            .model::<model::CpuBackend>(1, 8, 2, 0, &device)
            .unwrap();
        let reward = TaskReward {
            reward: Box::new(Constant(value)),
            decode: Box::new(|ids: &[u32]| trainers::synthetic::ReverseTask::decode(ids)),
        };
        let kwargs = GenerationKwargs {
            do_sample: true,
            temperature: 1.0,
            top_k: None,
            top_p: None,
            min_new_tokens: 0,
            max_new_tokens: 3,
        };
        reward_stats(
            &model,
            &task.examples(),
            &reward,
            3,
            &kwargs,
            task.tokens(),
            0,
            2,
            &ProgressBar::hidden(),
        )
    }

    #[test]
    fn a_constant_reward_has_zero_std_and_a_nan_reward_is_an_error_naming_the_input() {
        let ok = measure(0.25).unwrap();
        assert_eq!(ok.len(), 4, "one entry per input");
        assert!(
            ok.iter()
                .all(|m| m.rewards.len() == 3 && m.stats.std == 0.0 && m.stats.mean == 0.25)
        );
        let err = measure(f64::NAN).unwrap_err().to_string();
        assert!(err.contains("input 0") && err.contains("finite"), "{err}");
    }
}
