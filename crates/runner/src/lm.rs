//! `runner generate` and `runner logprobs`: sampling from, and scoring with, a language-model
//! checkpoint.
//!
//! A checkpoint is a Hugging Face model directory, or a hub id resolved to one in the Hugging Face
//! cache ([`resolve_checkpoint`]): `config.json` (its `model_type` says `gpt2` or `t5`),
//! `model.safetensors` (or `pytorch_model.bin`), and tokenizer files (`tokenizer.json`; or GPT-2's `vocab.json` +
//! `merges.txt`; or T5's `spiece.model`). Both commands run on the device asked for
//! (`cpu|wgpu|cuda`, see [`model::DeviceKind`]) without autodiff.
//!
//! Tokenization follows Hugging Face: GPT-2 texts are encoded as they are (an empty GPT-2 prompt
//! is replaced by `<|endoftext|>`, GPT-2's BOS); T5 sources and completions get `</s>` appended,
//! so a T5 completion's log-probability includes that of `</s>`.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use burn::tensor::backend::{AutodiffBackend, Backend};
use model::{
    BackendTask, BeamConfig, CausalBatch, DeviceKind, GPT2LMHeadModel, LmTokenizer, SamplingConfig,
    Seq2SeqBatch, T5ForConditionalGeneration, beam_search, beam_search_seq2seq, generate,
    generate_seq2seq, run_on, score_completions, score_seq2seq,
};
use serde::{Deserialize, Serialize};

/// The architectures a checkpoint can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `GPT2LMHeadModel` (`model_type: gpt2`).
    Gpt2,
    /// `T5ForConditionalGeneration` (`model_type: t5`).
    T5,
}

/// A checkpoint directory whose config and tokenizer have been read (weights are loaded by the
/// backend task).
pub struct Checkpoint {
    pub dir: PathBuf,
    pub family: Family,
    pub tokenizer: LmTokenizer,
    /// GPT-2's `n_positions` (prompt plus new tokens may not exceed it); `None` for T5.
    pub max_positions: Option<usize>,
    /// The model's `vocab_size`: every token id must be below it.
    pub vocab_size: usize,
}

/// The directory of a checkpoint spec: a hub id (`gpt2`, `lvwerra/gpt2-imdb@main`, see
/// [`model::hub`]) becomes its snapshot in the Hugging Face cache, downloaded if missing (unless
/// `HF_HUB_OFFLINE`); a path stays as it is.
pub fn resolve_checkpoint(spec: &Path) -> Result<PathBuf> {
    if let Some(s) = spec.to_str()
        && let model::hub::CheckpointSource::Hub { .. } = model::hub::CheckpointSource::parse(s)
    {
        return Ok(model::hub::resolve(s)?);
    }
    Ok(spec.to_path_buf())
}

impl Checkpoint {
    /// Opens a checkpoint directory or hub id (see [`resolve_checkpoint`]).
    pub fn open(spec: &Path) -> Result<Self> {
        let dir = &resolve_checkpoint(spec)?;
        if !dir.is_dir() {
            bail!(
                "checkpoint directory {} does not exist (it should hold config.json, \
                 model.safetensors and tokenizer files)",
                dir.display()
            );
        }
        let config_path = dir.join("config.json");
        let text = std::fs::read_to_string(&config_path).with_context(|| {
            format!(
                "cannot read {} (a checkpoint directory holds a Hugging Face config.json, \
                 model.safetensors and tokenizer files)",
                config_path.display()
            )
        })?;
        let config: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{}: invalid JSON", config_path.display()))?;
        let family = match config.get("model_type").and_then(|v| v.as_str()) {
            Some("gpt2") => Family::Gpt2,
            Some("t5") => Family::T5,
            Some(other) => bail!(
                "{}: model_type `{other}` is not supported (gpt2 and t5 are)",
                config_path.display()
            ),
            None => bail!(
                "{}: no `model_type` field; expected \"gpt2\" or \"t5\"",
                config_path.display()
            ),
        };
        let max_positions = match family {
            Family::Gpt2 => Some(
                config
                    .get("n_positions")
                    .and_then(|v| v.as_u64())
                    .unwrap_or(1024) as usize,
            ),
            Family::T5 => None,
        };
        let vocab_size = config
            .get("vocab_size")
            .and_then(|v| v.as_u64())
            .ok_or_else(|| anyhow!("{}: no `vocab_size` field", config_path.display()))?
            as usize;
        let tokenizer = LmTokenizer::from_checkpoint(dir, family == Family::T5)
            .with_context(|| format!("loading the tokenizer of {}", dir.display()))?;
        Ok(Checkpoint {
            dir: dir.to_path_buf(),
            family,
            tokenizer,
            max_positions,
            vocab_size,
        })
    }

    /// Ids of a prompt (GPT-2: `<|endoftext|>` when empty) or of a completion.
    fn encode(&self, text: &str, is_prompt: bool) -> Result<Vec<u32>> {
        let mut ids = self.tokenizer.encode(text)?;
        if is_prompt && ids.is_empty() {
            ids.push(self.tokenizer.eos_token_id());
        }
        if let Some(&bad) = ids.iter().find(|&&id| id as usize >= self.vocab_size) {
            bail!(
                "the tokenizer in {} gives token id {bad}, outside the model's vocab_size {}; \
                 the tokenizer files do not belong to this model",
                self.dir.display(),
                self.vocab_size
            );
        }
        Ok(ids)
    }
}

/// How `runner generate` decodes.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    /// More than 1: beam search (deterministic; temperature, top-k/p unused).
    pub num_beams: usize,
    pub max_new_tokens: usize,
    pub min_new_tokens: usize,
    /// 0: greedy decoding.
    pub temperature: f64,
    pub top_k: Option<usize>,
    pub top_p: Option<f64>,
    pub length_penalty: f64,
    pub seed: u64,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            num_beams: 1,
            max_new_tokens: 48,
            min_new_tokens: 0,
            temperature: 1.0,
            top_k: None,
            top_p: None,
            length_penalty: 1.0,
            seed: 0,
        }
    }
}

/// What `runner generate` prints (as JSON with `--json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    pub prompt: String,
    pub completion: String,
    pub token_ids: Vec<u32>,
    pub tokens: Vec<String>,
    /// `log p(token | prefix)` under the model (before temperature / top-k / top-p).
    pub logprobs: Vec<f32>,
    pub sum: f32,
    /// Beam search's length-penalised score (HF's `sequences_scores`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beam_score: Option<f32>,
}

/// Generates a continuation of `prompt`.
pub fn generate_text(
    dir: &Path,
    prompt: &str,
    options: &GenerateOptions,
    device: DeviceKind,
) -> Result<Generation> {
    if options.num_beams == 0 {
        bail!("--num-beams must be at least 1");
    }
    if options.max_new_tokens == 0 {
        bail!("--max-new-tokens must be at least 1");
    }
    if !(options.temperature >= 0.0 && options.temperature.is_finite()) {
        bail!("--temperature must be a finite number >= 0 (0 is greedy)");
    }
    let checkpoint = Checkpoint::open(dir)?;
    let ids = checkpoint.encode(prompt, true)?;
    if let Some(max) = checkpoint.max_positions
        && ids.len() + options.max_new_tokens > max
    {
        bail!(
            "the prompt ({} tokens) plus --max-new-tokens {} exceeds the model's n_positions {max}",
            ids.len(),
            options.max_new_tokens
        );
    }
    let task = GenerateTask {
        dir: checkpoint.dir.clone(),
        family: checkpoint.family,
        prompt: ids,
        eos: checkpoint.tokenizer.eos_token_id(),
        options: options.clone(),
    };
    let (token_ids, logprobs, sum, beam_score) = run_on(device, task)??;
    if !sum.is_finite() {
        bail!(
            "the model produced non-finite log-probabilities ({sum}); the weights in {} may be \
             corrupt",
            dir.display()
        );
    }
    Ok(Generation {
        prompt: prompt.to_string(),
        completion: checkpoint.tokenizer.decode(&token_ids)?,
        tokens: token_ids
            .iter()
            .map(|&id| checkpoint.tokenizer.id_to_token(id).unwrap_or_default())
            .collect(),
        token_ids,
        logprobs,
        sum,
        beam_score,
    })
}

type Decoded = (Vec<u32>, Vec<f32>, f32, Option<f32>);

struct GenerateTask {
    dir: PathBuf,
    family: Family,
    prompt: Vec<u32>,
    eos: u32,
    options: GenerateOptions,
}

impl BackendTask for GenerateTask {
    type Output = Result<Decoded>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<Decoded> {
        let o = &self.options;
        let prompts = vec![self.prompt];
        let beam = BeamConfig {
            num_beams: o.num_beams,
            max_new_tokens: o.max_new_tokens,
            min_new_tokens: o.min_new_tokens,
            length_penalty: o.length_penalty,
            eos_token_id: Some(self.eos),
            pad_token_id: self.eos,
            ..Default::default()
        };
        let sampling = SamplingConfig {
            max_new_tokens: o.max_new_tokens,
            min_new_tokens: o.min_new_tokens,
            greedy: o.temperature == 0.0,
            temperature: if o.temperature == 0.0 {
                1.0
            } else {
                o.temperature
            },
            top_k: o.top_k,
            top_p: o.top_p,
            eos_token_id: Some(self.eos),
            pad_token_id: self.eos,
            use_cache: true,
            seed: o.seed,
        };
        type Inner<B> = <B as AutodiffBackend>::InnerBackend;
        let out = match self.family {
            Family::Gpt2 => {
                let model = GPT2LMHeadModel::<Inner<B>>::load(&self.dir, &device)?;
                if o.num_beams > 1 {
                    let b = beam_search(&model, &prompts, &beam, &device);
                    first_beam(b)
                } else {
                    first_sample(generate(&model, &prompts, &sampling, &device))
                }
            }
            Family::T5 => {
                let model = T5ForConditionalGeneration::<Inner<B>>::load(&self.dir, &device)?;
                let beam = BeamConfig {
                    pad_token_id: model.config.pad_token_id,
                    ..beam
                };
                let sampling = SamplingConfig {
                    pad_token_id: model.config.pad_token_id,
                    ..sampling
                };
                if o.num_beams > 1 {
                    first_beam(beam_search_seq2seq(&model, &prompts, &beam, &device))
                } else {
                    first_sample(generate_seq2seq(&model, &prompts, &sampling, &device))
                }
            }
        };
        Ok(out)
    }
}

fn first_beam(out: model::BeamOutput) -> Decoded {
    let mut it = out.tokens.into_iter().zip(out.logprobs).zip(out.scores);
    let ((tokens, logprobs), score) = it.next().expect("one prompt");
    let sum = logprobs.iter().sum();
    (tokens, logprobs, sum, Some(score))
}

fn first_sample(out: model::Generated) -> Decoded {
    let tokens = out.tokens.into_iter().next().expect("one prompt");
    let logprobs = out.logprobs.into_iter().next().expect("one prompt");
    (tokens, logprobs, out.sequence_logprobs[0], None)
}

/// One input line of `runner logprobs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Pair {
    prompt: String,
    completion: String,
}

/// Parses one non-empty input line of `runner logprobs`: `{"prompt": str, "completion": str}`
/// and nothing else; the error says what a line must hold.
pub fn parse_logprobs_line(line: &str) -> Result<(String, String)> {
    let pair: Pair = serde_json::from_str(line)
        .map_err(|e| anyhow!("expected {{\"prompt\": string, \"completion\": string}}: {e}"))?;
    Ok((pair.prompt, pair.completion))
}

/// One output line of `runner logprobs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    /// 1-based line number in the input.
    pub line: usize,
    pub token_ids: Vec<u32>,
    pub tokens: Vec<String>,
    /// `log p(completion token | prompt, earlier completion tokens)`.
    pub logprobs: Vec<f32>,
    pub sum: f32,
}

/// Scores every `{"prompt", "completion"}` line of `input` (named `input_name` in errors) with
/// the checkpoint, `batch_size` lines per forward pass, and writes one [`Scored`] JSON line each.
/// Returns the number of lines scored.
pub fn logprobs_jsonl(
    dir: &Path,
    input: impl BufRead,
    input_name: &str,
    mut out: impl Write,
    device: DeviceKind,
    batch_size: usize,
) -> Result<usize> {
    let checkpoint = Checkpoint::open(dir)?;
    let mut items: Vec<(usize, Vec<u32>, Vec<u32>)> = Vec::new();
    for (i, line) in input.lines().enumerate() {
        let n = i + 1;
        let line = line.with_context(|| format!("{input_name}:{n}: cannot read"))?;
        if line.trim().is_empty() {
            continue;
        }
        let pair = parse_logprobs_line(&line).map_err(|e| anyhow!("{input_name}:{n}: {e}"))?;
        let prompt = checkpoint.encode(&pair.0, true)?;
        let completion = checkpoint.encode(&pair.1, false)?;
        if let Some(max) = checkpoint.max_positions
            && prompt.len() + completion.len() > max
        {
            bail!(
                "{input_name}:{n}: prompt + completion is {} tokens, more than the model's \
                 n_positions {max}",
                prompt.len() + completion.len()
            );
        }
        items.push((n, prompt, completion));
    }
    let task = ScoreTask {
        dir: checkpoint.dir.clone(),
        family: checkpoint.family,
        pad: checkpoint.tokenizer.eos_token_id(),
        items: items.clone(),
        batch_size: batch_size.max(1),
    };
    let scores = run_on(device, task)??;
    for ((n, _, completion), logprobs) in items.iter().zip(scores) {
        let sum: f32 = logprobs.iter().sum();
        if logprobs.iter().any(|x| !x.is_finite()) {
            bail!(
                "{input_name}:{n}: the model produced non-finite log-probabilities; the weights \
                 in {} may be corrupt",
                dir.display()
            );
        }
        let scored = Scored {
            line: *n,
            tokens: completion
                .iter()
                .map(|&id| checkpoint.tokenizer.id_to_token(id).unwrap_or_default())
                .collect(),
            token_ids: completion.clone(),
            logprobs,
            sum,
        };
        serde_json::to_writer(&mut out, &scored)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(items.len())
}

struct ScoreTask {
    dir: PathBuf,
    family: Family,
    pad: u32,
    items: Vec<(usize, Vec<u32>, Vec<u32>)>,
    batch_size: usize,
}

impl BackendTask for ScoreTask {
    type Output = Result<Vec<Vec<f32>>>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<Vec<Vec<f32>>> {
        type Inner<B> = <B as AutodiffBackend>::InnerBackend;
        let mut all = Vec::with_capacity(self.items.len());
        match self.family {
            Family::Gpt2 => {
                let model = GPT2LMHeadModel::<Inner<B>>::load(&self.dir, &device)?;
                for chunk in self.items.chunks(self.batch_size) {
                    let (prompts, completions) = split(chunk);
                    let batch = CausalBatch::new(&prompts, &completions, self.pad, &device);
                    let scores = score_completions(&model, &batch);
                    let start = batch.prompt_width - 1;
                    all.extend(rows(scores.token_logprobs, &completions, start));
                }
            }
            Family::T5 => {
                let model = T5ForConditionalGeneration::<Inner<B>>::load(&self.dir, &device)?;
                let (pad, start) = (
                    model.config.pad_token_id,
                    model.config.decoder_start_token_id,
                );
                for chunk in self.items.chunks(self.batch_size) {
                    let (sources, targets) = split(chunk);
                    let batch = Seq2SeqBatch::new(&sources, &targets, pad, start, &device);
                    let scores = score_seq2seq(&model, &batch);
                    all.extend(rows(scores.token_logprobs, &targets, 0));
                }
            }
        }
        Ok(all)
    }
}

#[allow(clippy::type_complexity)]
fn split(chunk: &[(usize, Vec<u32>, Vec<u32>)]) -> (Vec<Vec<u32>>, Vec<Vec<u32>>) {
    chunk.iter().map(|(_, p, c)| (p.clone(), c.clone())).unzip()
}

/// Row b's `lens[b].len()` log-probs starting at column `start` of `[batch, cols]`.
fn rows<B: Backend>(
    logprobs: burn::tensor::Tensor<B, 2>,
    lens: &[Vec<u32>],
    start: usize,
) -> Vec<Vec<f32>> {
    let cols = logprobs.dims()[1];
    let flat: Vec<f32> = logprobs.into_data().iter::<f32>().collect();
    lens.iter()
        .enumerate()
        .map(|(b, c)| flat[b * cols + start..b * cols + start + c.len()].to_vec())
        .collect()
}
