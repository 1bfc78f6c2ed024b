//! The pretraining loop, its cache and its resumable checkpoints.
//!
//! ```text
//! <cache_root>/<name>-<key>/          a Hugging Face checkpoint directory, written last by rename
//!     config.json                     GPT2Config / T5Config (`transformers` opens it)
//!     model.safetensors
//!     tokenizer.json, tokenizer_config.json
//!     pretrain.json                   the record: spec, corpus hash, validation loss, tokens/s,
//!                                     sha256 of model.safetensors (checked on every load)
//!     log.csv                         step, tokens, loss, learning rate, grad norm, validation loss
//! <cache_root>/<name>-<key>.partial/  the last mid-training checkpoint (model, optimiser, log),
//!                                     resumed after a kill, deleted when the model is done
//! ```
//!
//! `key` is a hash of the spec, the corpus text and the floating-point path of the backend
//! ([`model::fused::numerics`]): a different corpus, tokenizer, architecture, schedule, seed or
//! kernel arithmetic (e.g. `MODEL_FUSED=0`, or code from before a kernel change) is another entry. Every random draw is a function of `(seed, stream, step)`
//! ([`seeds`]), so a resumed run continues exactly as an uninterrupted one would.

use anyhow::{Context, Result, anyhow, bail};
use burn::module::{AutodiffModule, Module};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Int, Tensor, TensorData};
use model::{
    GPT2Config, GPT2LMHeadModel, Gpt2Tokenizer, Seq2SeqBatch, T5Config, T5ForConditionalGeneration,
    T5Tokenizer, seq2seq_logprobs, token_logprobs,
};
use rand::RngExt;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;
use trainers::optim::{OptimConfig, OptimizerKind, Schedule, Trainer};

use crate::corpus::Corpus;
use crate::span;
use crate::spec::{Architecture, PretrainSpec};

/// Bumped when the loop changes what it computes, so older cache entries are not reused.
const FORMAT: u32 = 1;

/// One row of `log.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRow {
    pub step: usize,
    /// Tokens read so far (GPT-2: windows; T5: corrupted inputs plus targets).
    pub tokens: u64,
    pub loss: f64,
    pub learning_rate: f64,
    pub grad_norm: f64,
    /// Mean validation loss per predicted token, at evaluation steps.
    pub val_loss: Option<f64>,
}

/// `pretrain.json`: what was trained and what it reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PretrainRecord {
    pub name: String,
    pub key: String,
    pub spec: PretrainSpec,
    pub corpus_sha256: String,
    /// The floating-point path it was trained with ([`model::fused::numerics`]; empty in records
    /// written before it was recorded).
    #[serde(default)]
    pub numerics: String,
    pub corpus_train_bytes: usize,
    pub corpus_train_documents: usize,
    pub corpus_validation_documents: usize,
    pub vocab_size: usize,
    pub parameters: usize,
    pub tokens: u64,
    /// Final validation loss per predicted token (nats) and its exponential.
    pub val_loss: f64,
    pub val_perplexity: f64,
    /// Training wall time (summed over resumed pieces) and throughput.
    pub seconds: f64,
    pub tokens_per_second: f64,
    pub model_sha256: String,
}

/// A finished pretraining: its checkpoint directory, its record, and whether it came from the cache.
#[derive(Debug, Clone)]
pub struct Pretrained {
    pub dir: PathBuf,
    pub record: PretrainRecord,
    pub cached: bool,
}

/// The cache key of `spec` on a corpus with hash `corpus_sha256`, trained with the floating-point
/// path `numerics` ([`model::fused::numerics`]).
pub fn cache_key(spec: &PretrainSpec, corpus_sha256: &str, numerics: &str) -> String {
    let description = serde_json::json!({
        "format": FORMAT,
        "spec": spec,
        "corpus_sha256": corpus_sha256,
        "numerics": numerics,
    });
    data::checksum::sha256_hex(description.to_string().as_bytes())[..16].to_string()
}

/// The finished checkpoint of `name` under `cache_root` for this spec and corpus, if there is one
/// (checked against its record); an entry that fails the check is an error saying what to delete.
pub fn find(
    cache_root: &Path,
    name: &str,
    spec: &PretrainSpec,
    corpus: &Corpus,
    numerics: &str,
) -> Result<Option<Pretrained>> {
    let key = cache_key(spec, &corpus.sha256, numerics);
    let dir = cache_root.join(format!("{name}-{key}"));
    let record = crate::partial::read_entry::<PretrainRecord>(
        &dir,
        "pretrain.json",
        "pretrained model",
        &key,
        &["config.json", "tokenizer.json"],
        |r| (&r.key, &r.model_sha256),
    )?;
    Ok(record.map(|record| Pretrained {
        dir,
        record,
        cached: true,
    }))
}

/// How to run a pretraining.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// A progress bar (tokens/s, loss) on stderr.
    pub progress: bool,
    /// Stop after this step, leaving the mid-training checkpoint as a kill would (e.g. to
    /// pretrain in slices of a cluster's time limit); the next call resumes.
    pub stop_after_step: Option<usize>,
}

/// Pretrains `name` as `spec` says on `corpus`, or returns the cached result. `None` when
/// [`RunOptions::stop_after_step`] stopped it before the end.
pub fn pretrain<B: AutodiffBackend>(
    name: &str,
    spec: &PretrainSpec,
    corpus: &Corpus,
    cache_root: &Path,
    device: &B::Device,
    options: RunOptions,
) -> Result<Option<Pretrained>> {
    spec.validate()
        .map_err(|e| anyhow!("pretrain.{name}: {e}"))?;
    let numerics = model::fused::numerics::<B>();
    if let Some(found) = find(cache_root, name, spec, corpus, &numerics)? {
        return Ok(Some(found));
    }
    let key = cache_key(spec, &corpus.sha256, &numerics);
    let dir = cache_root.join(format!("{name}-{key}"));
    let partial = cache_root.join(format!("{name}-{key}.partial"));
    match &spec.model {
        Architecture::Gpt2 { .. } => {
            let tok = gpt2_tokenizer(spec, corpus, &partial)?;
            let eos = tok.eos_token_id();
            let data = Stream::new(corpus, eos, eos, Vec::new(), |d| {
                tok.encode(d).map_err(|e| anyhow!("{e}"))
            })?;
            let config = gpt2_config(spec, tok.vocab_size(), eos);
            let model = GPT2LMHeadModel::<B>::init(config, spec.seed, device)?;
            let save_tok = |d: &Path| -> Result<()> {
                tok.save(d.join("tokenizer.json"))
                    .map_err(|e| anyhow!("{e}"))?;
                write_tokenizer_config(d, "<|endoftext|>", "<|endoftext|>", None)
            };
            run(
                name,
                spec,
                corpus,
                &key,
                &dir,
                &partial,
                model,
                &data,
                tok.vocab_size(),
                device,
                options,
                &save_tok,
            )
        }
        Architecture::T5 { .. } => {
            let tok = t5_tokenizer(spec, corpus, &partial)?;
            let eos = tok.eos_token_id();
            let sentinels = (0..spec.tokenizer.extra_ids)
                .map(|i| {
                    tok.token_to_id(&format!("<extra_id_{i}>"))
                        .ok_or_else(|| anyhow!("the tokenizer has no <extra_id_{i}>"))
                })
                .collect::<Result<Vec<u32>>>()?;
            let data = Stream::new(corpus, eos, tok.pad_token_id(), sentinels, |d| {
                tok.encode(d, false).map_err(|e| anyhow!("{e}"))
            })?;
            let config = t5_config(spec, tok.vocab_size(), tok.pad_token_id(), eos);
            let model = T5ForConditionalGeneration::<B>::init(config, spec.seed, device)?;
            let save_tok = |d: &Path| -> Result<()> {
                tok.save(d.join("tokenizer.json"))
                    .map_err(|e| anyhow!("{e}"))?;
                write_tokenizer_config(d, "</s>", "<pad>", Some(spec.tokenizer.extra_ids))
            };
            run(
                name,
                spec,
                corpus,
                &key,
                &dir,
                &partial,
                model,
                &data,
                tok.vocab_size(),
                device,
                options,
                &save_tok,
            )
        }
    }
}

fn gpt2_config(spec: &PretrainSpec, vocab_size: usize, eos: u32) -> GPT2Config {
    let Architecture::Gpt2 {
        n_layer,
        n_embd,
        n_head,
        n_positions,
    } = spec.model
    else {
        unreachable!("a GPT-2 spec")
    };
    GPT2Config {
        vocab_size,
        n_positions,
        n_embd,
        n_layer,
        n_head,
        bos_token_id: Some(eos),
        eos_token_id: Some(eos),
        ..GPT2Config::default()
    }
}

fn t5_config(spec: &PretrainSpec, vocab_size: usize, pad: u32, eos: u32) -> T5Config {
    let Architecture::T5 {
        d_model,
        d_kv,
        d_ff,
        num_layers,
        num_heads,
    } = spec.model
    else {
        unreachable!("a T5 spec")
    };
    T5Config {
        vocab_size,
        d_model,
        d_kv,
        d_ff,
        num_layers,
        num_heads,
        pad_token_id: pad,
        eos_token_id: eos,
        decoder_start_token_id: pad,
        ..T5Config::default()
    }
}

/// The tokenizer saved in the partial checkpoint, else one trained on the training documents.
fn gpt2_tokenizer(spec: &PretrainSpec, corpus: &Corpus, partial: &Path) -> Result<Gpt2Tokenizer> {
    let saved = partial.join("tokenizer.json");
    if saved.is_file() {
        return Gpt2Tokenizer::from_tokenizer_json(&saved).map_err(|e| anyhow!("{e}"));
    }
    Gpt2Tokenizer::train(
        corpus.train.iter(),
        spec.tokenizer.vocab_size,
        spec.tokenizer.min_frequency,
    )
    .map_err(|e| anyhow!("{e}"))
}

fn t5_tokenizer(spec: &PretrainSpec, corpus: &Corpus, partial: &Path) -> Result<T5Tokenizer> {
    let saved = partial.join("tokenizer.json");
    if saved.is_file() {
        return T5Tokenizer::from_tokenizer_json(&saved).map_err(|e| anyhow!("{e}"));
    }
    T5Tokenizer::train(
        corpus.train.iter(),
        spec.tokenizer.vocab_size,
        spec.tokenizer.min_frequency,
        spec.tokenizer.extra_ids,
    )
    .map_err(|e| anyhow!("{e}"))
}

/// `tokenizer_config.json` as `transformers` reads it with `AutoTokenizer` (a fast tokenizer from
/// `tokenizer.json`).
fn write_tokenizer_config(
    dir: &Path,
    eos: &str,
    pad: &str,
    extra_ids: Option<usize>,
) -> Result<()> {
    let mut config = serde_json::json!({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "eos_token": eos,
        "pad_token": pad,
        "model_max_length": 1_000_000_000_000_000_000u64,
    });
    if let Some(n) = extra_ids {
        config["unk_token"] = "<unk>".into();
        config["additional_special_tokens"] = (0..n)
            .map(|i| format!("<extra_id_{i}>"))
            .collect::<Vec<_>>()
            .into();
    } else {
        config["bos_token"] = eos.into();
        config["unk_token"] = eos.into();
    }
    let text = serde_json::to_string_pretty(&config)?;
    std::fs::write(dir.join("tokenizer_config.json"), text)
        .with_context(|| format!("writing {}", dir.join("tokenizer_config.json").display()))
}

/// The tokenised corpus: training and validation streams (documents joined by EOS).
struct Stream {
    train: Vec<u32>,
    validation: Vec<u32>,
    eos: u32,
    /// T5's sentinels, `<extra_id_0>` first (empty for GPT-2).
    sentinels: Vec<u32>,
    pad: u32,
}

impl Stream {
    /// The corpus tokenised by `encode`, each document followed by `eos`.
    fn new(
        corpus: &Corpus,
        eos: u32,
        pad: u32,
        sentinels: Vec<u32>,
        encode: impl Fn(&str) -> Result<Vec<u32>>,
    ) -> Result<Self> {
        let join = |docs: &[String]| -> Result<Vec<u32>> {
            let mut ids = Vec::new();
            for d in docs {
                ids.extend(encode(d)?);
                ids.push(eos);
            }
            Ok(ids)
        };
        Ok(Stream {
            train: join(&corpus.train)?,
            validation: join(&corpus.validation)?,
            eos,
            sentinels,
            pad,
        })
    }
}

/// A batch of windows, laid out for one model family.
enum Batch {
    /// GPT-2: windows of `seq_len` tokens; every token after the first is predicted.
    Causal(Vec<Vec<u32>>),
    /// T5: corrupted inputs and their targets.
    Seq2Seq {
        sources: Vec<Vec<u32>>,
        targets: Vec<Vec<u32>>,
    },
}

impl Batch {
    fn tokens(&self) -> u64 {
        match self {
            Batch::Causal(w) => w.iter().map(Vec::len).sum::<usize>() as u64,
            Batch::Seq2Seq { sources, targets } => {
                (sources.iter().chain(targets).map(Vec::len).sum::<usize>()) as u64
            }
        }
    }
}

/// What the loop needs of a model: its loss on a batch and how to save it for `transformers`.
pub trait Objective<B: Backend>: Module<B> {
    /// Summed negative log-likelihood of the predicted tokens, and how many there are.
    fn nll(&self, batch: &BatchRef<'_>, pad: u32, device: &B::Device) -> (Tensor<B, 1>, usize);
    fn save_hf(&self, dir: &Path) -> Result<(), model::ModelError>;
    fn is_seq2seq() -> bool;
}

/// A borrowed batch (the public face of the loop's batches, for [`Objective`]).
pub enum BatchRef<'a> {
    Causal(&'a [Vec<u32>]),
    Seq2Seq {
        sources: &'a [Vec<u32>],
        targets: &'a [Vec<u32>],
    },
}

impl Batch {
    fn as_ref(&self) -> BatchRef<'_> {
        match self {
            Batch::Causal(w) => BatchRef::Causal(w),
            Batch::Seq2Seq { sources, targets } => BatchRef::Seq2Seq { sources, targets },
        }
    }
}

impl<B: Backend> Objective<B> for GPT2LMHeadModel<B> {
    fn nll(&self, batch: &BatchRef<'_>, _pad: u32, device: &B::Device) -> (Tensor<B, 1>, usize) {
        let BatchRef::Causal(windows) = batch else {
            unreachable!("GPT-2 batches are causal")
        };
        let (b, t) = (windows.len(), windows[0].len());
        let flat: Vec<i64> = windows.iter().flatten().map(|&x| x as i64).collect();
        let ids = Tensor::<B, 2, Int>::from_data(TensorData::new(flat, [b, t]), device);
        let mask = Tensor::<B, 2, Int>::ones([b, t], device);
        let logp = token_logprobs(self, ids, mask);
        (logp.sum().neg(), b * (t - 1))
    }
    fn save_hf(&self, dir: &Path) -> Result<(), model::ModelError> {
        self.save(dir)
    }
    fn is_seq2seq() -> bool {
        false
    }
}

impl<B: Backend> Objective<B> for T5ForConditionalGeneration<B> {
    fn nll(&self, batch: &BatchRef<'_>, pad: u32, device: &B::Device) -> (Tensor<B, 1>, usize) {
        let BatchRef::Seq2Seq { sources, targets } = batch else {
            unreachable!("T5 batches are seq2seq")
        };
        let n: usize = targets.iter().map(Vec::len).sum();
        let batch = Seq2SeqBatch::new(
            sources,
            targets,
            pad,
            self.config.decoder_start_token_id,
            device,
        );
        (seq2seq_logprobs(self, &batch).sum().neg(), n)
    }
    fn save_hf(&self, dir: &Path) -> Result<(), model::ModelError> {
        self.save(dir)
    }
    fn is_seq2seq() -> bool {
        true
    }
}

/// Windows starting at `starts`, as a batch for a causal or a seq2seq model.
fn make_batch(
    stream: &[u32],
    starts: &[usize],
    seq_len: usize,
    data: &Stream,
    spec: &PretrainSpec,
    seq2seq: bool,
    corruption: &mut impl rand::Rng,
) -> Batch {
    let windows: Vec<Vec<u32>> = starts
        .iter()
        .map(|&s| stream[s..s + seq_len].to_vec())
        .collect();
    if !seq2seq {
        return Batch::Causal(windows);
    }
    let (mut sources, mut targets) = (Vec::new(), Vec::new());
    for w in &windows {
        let mask = span::noise_mask(
            w.len(),
            spec.noise_density,
            spec.mean_noise_span_length,
            corruption,
        );
        let (s, t) = span::corrupt(w, &mask, &data.sentinels, data.eos);
        sources.push(s);
        targets.push(t);
    }
    Batch::Seq2Seq { sources, targets }
}

/// The training batch of `step`: uniformly drawn window starts, and (T5) their corruption.
fn train_batch(step: usize, data: &Stream, spec: &PretrainSpec, seq2seq: bool) -> Batch {
    let mut rng = seeds::rng(spec.seed, seeds::Stream::PretrainBatch, step as u64);
    let last = data.train.len() - spec.seq_len;
    let starts: Vec<usize> = (0..spec.batch_size)
        .map(|_| rng.random_range(0..=last))
        .collect();
    let mut corruption = seeds::rng(spec.seed, seeds::Stream::SpanCorruption, step as u64);
    make_batch(
        &data.train,
        &starts,
        spec.seq_len,
        data,
        spec,
        seq2seq,
        &mut corruption,
    )
}

/// The fixed validation batches: consecutive non-overlapping windows of the validation stream,
/// corrupted (T5) by one seeded draw.
fn validation_batches(data: &Stream, spec: &PretrainSpec, seq2seq: bool) -> Vec<Batch> {
    let available = data.validation.len() / spec.seq_len;
    let windows = available.min(spec.eval_batches * spec.batch_size);
    let starts: Vec<usize> = (0..windows).map(|i| i * spec.seq_len).collect();
    let mut corruption = seeds::named(spec.seed, "pretrain_validation_corruption");
    starts
        .chunks(spec.batch_size)
        .map(|c| {
            make_batch(
                &data.validation,
                c,
                spec.seq_len,
                data,
                spec,
                seq2seq,
                &mut corruption,
            )
        })
        .collect()
}

/// Mean validation loss per predicted token.
fn validation_loss<B: AutodiffBackend, M>(
    model: &M,
    batches: &[Batch],
    pad: u32,
    device: &B::Device,
) -> f64
where
    M: AutodiffModule<B>,
    M::InnerModule: Objective<B::InnerBackend>,
{
    let inner = model.valid();
    let (mut sum, mut n) = (0.0f64, 0usize);
    for b in batches {
        let (nll, count) = inner.nll(&b.as_ref(), pad, device);
        sum += nll.into_scalar().elem::<f64>();
        n += count;
    }
    sum / n.max(1) as f64
}

fn parameters<B: Backend, M: Module<B>>(model: &M) -> usize {
    model.num_params()
}

#[allow(clippy::too_many_arguments)]
fn run<B, M>(
    name: &str,
    spec: &PretrainSpec,
    corpus: &Corpus,
    key: &str,
    dir: &Path,
    partial: &Path,
    mut model: M,
    data: &Stream,
    vocab_size: usize,
    device: &B::Device,
    options: RunOptions,
    save_tokenizer: &dyn Fn(&Path) -> Result<()>,
) -> Result<Option<Pretrained>>
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + Objective<B>,
    M::InnerModule: Objective<B::InnerBackend>,
{
    let seq2seq = M::is_seq2seq();
    if data.train.len() <= spec.seq_len || data.validation.len() < spec.seq_len {
        bail!(
            "pretrain.{name}: the corpus has {} training and {} validation tokens, too few for \
             {}-token windows; add sources to `corpus:` or lower seq_len",
            data.train.len(),
            data.validation.len(),
            spec.seq_len
        );
    }
    let optim = OptimConfig {
        optimizer: OptimizerKind::Adam,
        learning_rate: spec.learning_rate,
        weight_decay: spec.weight_decay,
        schedule: Schedule::WarmupLinear {
            warmup_steps: spec.warmup_steps,
            total_steps: spec.steps,
        },
        max_grad_norm: Some(spec.max_grad_norm),
        ..OptimConfig::adam(spec.learning_rate)
    };
    let mut trainer = Trainer::<B, M>::new(optim);
    let (mut start, mut seconds_before, mut log) = (0usize, 0.0f64, Vec::<LogRow>::new());
    if let Some(state) = crate::partial::read::<LogRow>(partial, key)? {
        (model, trainer) = crate::partial::restore(partial, &state, model, trainer, device)?;
        start = state.step;
        seconds_before = state.seconds;
        log = state.log;
    }
    let validation = validation_batches(data, spec, seq2seq);
    let bar = crate::partial::progress_bar("pretrain", name, spec.steps, start, options.progress);
    let clock = Instant::now();
    let mut tokens = log.last().map_or(0, |r| r.tokens);
    let tokens_at_start = tokens;
    for step in start..spec.steps {
        let batch = train_batch(step, data, spec, seq2seq);
        tokens += batch.tokens();
        let (nll, count) = model.nll(&batch.as_ref(), data.pad, device);
        let loss = nll.div_scalar(count.max(1) as f64);
        let loss_value: f64 = loss.clone().into_scalar().elem();
        let (next, stats) = trainer
            .step(model, loss, step)
            .map_err(|e| anyhow!("pretrain.{name}: {e}"))?;
        model = next;
        let done = step + 1;
        let val_loss = (done % spec.eval_every == 0 || done == spec.steps)
            .then(|| validation_loss::<B, M>(&model, &validation, data.pad, device));
        log.push(LogRow {
            step: done,
            tokens,
            loss: loss_value,
            learning_rate: stats.learning_rate,
            grad_norm: stats.grad_norm,
            val_loss,
        });
        let elapsed = clock.elapsed().as_secs_f64();
        if let Some(v) = val_loss
            && options.progress
            && !std::io::IsTerminal::is_terminal(&std::io::stderr())
        {
            // No bar is drawn into a log file: one line per evaluation instead.
            eprintln!(
                "pretrain {name}: step {done}/{} · loss {loss_value:.3} · val {v:.3} · {:.0} tok/s",
                spec.steps,
                (tokens - tokens_at_start) as f64 / elapsed.max(1e-9)
            );
        }
        bar.set_position(done as u64);
        bar.set_message(format!(
            "loss {loss_value:.3}{} · {:.0} tok/s",
            val_loss.map_or(String::new(), |v| format!(" · val {v:.3}")),
            (tokens - tokens_at_start) as f64 / elapsed.max(1e-9)
        ));
        if done % spec.checkpoint_every == 0 && done < spec.steps {
            crate::partial::write(
                partial,
                &crate::partial::Partial {
                    key: key.to_string(),
                    step: done,
                    seconds: seconds_before + elapsed,
                    log: log.clone(),
                },
                &model,
                &trainer,
                save_tokenizer,
            )?;
        }
        if options.stop_after_step == Some(done) && done < spec.steps {
            bar.abandon();
            return Ok(None);
        }
    }
    bar.finish_and_clear();
    let seconds = seconds_before + clock.elapsed().as_secs_f64();
    let val_loss = log
        .iter()
        .rev()
        .find_map(|r| r.val_loss)
        .unwrap_or_else(|| validation_loss::<B, M>(&model, &validation, data.pad, device));
    let mut record = PretrainRecord {
        name: name.to_string(),
        key: key.to_string(),
        spec: spec.clone(),
        corpus_sha256: corpus.sha256.clone(),
        numerics: model::fused::numerics::<B>(),
        corpus_train_bytes: corpus.train_bytes(),
        corpus_train_documents: corpus.train.len(),
        corpus_validation_documents: corpus.validation.len(),
        vocab_size,
        parameters: parameters::<B, M>(&model),
        tokens,
        val_loss,
        val_perplexity: val_loss.exp(),
        seconds,
        tokens_per_second: tokens as f64 / seconds.max(1e-9),
        model_sha256: String::new(),
    };
    atomicwrite::replace_dir(dir, |tmp| -> Result<()> {
        model.save_hf(tmp).map_err(|e| anyhow!("{e}"))?;
        save_tokenizer(tmp)?;
        record.model_sha256 =
            data::checksum::sha256_hex(&std::fs::read(tmp.join("model.safetensors"))?);
        std::fs::write(tmp.join("log.csv"), log_csv(&log))?;
        std::fs::write(
            tmp.join("pretrain.json"),
            serde_json::to_string_pretty(&record)?,
        )?;
        Ok(())
    })
    .with_context(|| format!("writing the pretrained model {}", dir.display()))?;
    let _ = std::fs::remove_dir_all(partial);
    Ok(Some(Pretrained {
        dir: dir.to_path_buf(),
        record,
        cached: false,
    }))
}

/// `log.csv`: one row per step.
fn log_csv(log: &[LogRow]) -> String {
    let mut s = String::from("step,tokens,loss,learning_rate,grad_norm,val_loss\n");
    for r in log {
        s.push_str(&format!(
            "{},{},{},{},{},{}\n",
            r.step,
            r.tokens,
            r.loss,
            r.learning_rate,
            r.grad_norm,
            r.val_loss.map_or(String::new(), |v| v.to_string())
        ));
    }
    s
}
