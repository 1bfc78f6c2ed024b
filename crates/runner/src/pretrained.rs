//! The `pretrain:` block of a sweep file and `runner pretrain`: small GPT-2 / T5 models
//! pretrained here ([`pretrain`] crate), cached in the run store, and the table and figure of
//! what they reached.
//!
//! ```yaml
//! pretrain:
//!   gpt2-mini:
//!     model: {model_type: gpt2, n_layer: 4, n_embd: 256, n_head: 4, n_positions: 256}
//!     corpus: [wikitext-2, imdb-unlabelled]
//!     ...
//!     profiles:
//!       smoke: {steps: 4, model: {n_layer: 1, n_embd: 32}}
//! ```
//!
//! A profile's keys replace the entry's; nested maps (`model`, `tokenizer`) are merged key by key.
//! Experiments name a model pretrained here as `pretrained:NAME`: the entry `NAME` of the same
//! file's block, else of `experiments/pretrain.yaml`.

use crate::Profile;
use crate::sweepfile::SweepFile;
use anyhow::{Context, Result, anyhow, bail};
use plotting::{Axis, Figure, Legend, LinePanel, LineSeries, Panel, Table, format_sig};
use pretrain::{ClassifierSpec, Corpus, PretrainSpec, Pretrained, RunOptions, TrainedClassifier};
use serde_yaml::{Mapping, Value};
use std::path::{Path, PathBuf};

/// The CPU training backend (`model::CpuBackend` is already `Autodiff<Flex>`).
type Train = model::CpuBackend;

/// The prefix naming a checkpoint pretrained here.
pub const PREFIX: &str = "pretrained:";

/// The file whose block `pretrained:NAME` falls back to.
pub const SHARED_FILE: &str = "experiments/pretrain.yaml";

/// [`SHARED_FILE`] in the working directory or the nearest parent that has it.
fn shared_file() -> Result<PathBuf> {
    let cwd = std::env::current_dir()?;
    cwd.ancestors()
        .map(|d| d.join(SHARED_FILE))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            anyhow!(
                "{SHARED_FILE} not found in {} or its parents; run from the repository root",
                cwd.display()
            )
        })
}

/// Where a store keeps its pretrained models.
pub fn cache_root(store: &Path) -> PathBuf {
    store.join(".cache").join("pretrained")
}

/// One entry of a `pretrain:` block: a language model, or a text classifier (a learned reward)
/// when its `model.model_type` is `distilbert`.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Lm(PretrainSpec),
    Classifier(ClassifierSpec),
}

/// The entries of a file's `pretrain:` block under `profile`, typed and validated.
pub fn specs(file: &SweepFile, path: &Path, profile: Profile) -> Result<Vec<(String, Entry)>> {
    file.pretrain
        .iter()
        .map(|(name, entry)| Ok((name.clone(), entry_of(entry, profile, path, name)?)))
        .collect()
}

/// One entry with its profile's overrides applied.
pub fn entry_of(entry: &Value, profile: Profile, path: &Path, name: &str) -> Result<Entry> {
    let context = || format!("{}: pretrain.{name}", path.display());
    let Value::Mapping(map) = entry else {
        bail!("{}: expected a map of pretraining settings", context());
    };
    let mut base = map.clone();
    let overrides = base.remove("profiles");
    if let Some(overrides) = overrides {
        let Value::Mapping(profiles) = overrides else {
            bail!(
                "{}: `profiles` must map smoke/default/paper to overrides",
                context()
            );
        };
        for (key, value) in profiles {
            let known = ["smoke", "default", "paper"];
            let k = key.as_str().unwrap_or_default();
            if !known.contains(&k) {
                bail!(
                    "{}: unknown profile {key:?} (use smoke, default or paper)",
                    context()
                );
            }
            if k == profile.to_string() {
                let Value::Mapping(o) = value else {
                    bail!("{}: profiles.{k} must be a map", context());
                };
                merge(&mut base, o);
            }
        }
    }
    let is_classifier = base
        .get("model")
        .and_then(|m| m.get("model_type"))
        .and_then(Value::as_str)
        == Some("distilbert");
    if is_classifier {
        let spec: ClassifierSpec =
            serde_yaml::from_value(Value::Mapping(base)).with_context(context)?;
        spec.validate().map_err(|e| anyhow!("{}: {e}", context()))?;
        return Ok(Entry::Classifier(spec));
    }
    let spec: PretrainSpec = serde_yaml::from_value(Value::Mapping(base)).with_context(context)?;
    spec.validate().map_err(|e| anyhow!("{}: {e}", context()))?;
    Ok(Entry::Lm(spec))
}

/// `over`'s keys replace `base`'s; maps under the same key merge one level down.
fn merge(base: &mut Mapping, over: Mapping) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(Value::Mapping(b)), Value::Mapping(o)) => {
                for (kk, vv) in o {
                    b.insert(kk, vv);
                }
            }
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// A finished entry.
pub enum Done {
    Lm(Pretrained),
    Classifier(TrainedClassifier),
}

impl Done {
    pub fn dir(&self) -> &Path {
        match self {
            Done::Lm(p) => &p.dir,
            Done::Classifier(c) => &c.dir,
        }
    }
}

/// Trains (or finds) one entry of either kind.
pub fn ensure_entry(
    name: &str,
    entry: &Entry,
    models: &Path,
    data_dir: &Path,
    progress: bool,
) -> Result<Done> {
    match entry {
        Entry::Lm(spec) => Ok(Done::Lm(ensure(name, spec, models, data_dir, progress)?)),
        Entry::Classifier(spec) => {
            let options = RunOptions {
                progress,
                stop_after_step: None,
            };
            let done = pretrain::train_classifier::<Train>(
                name,
                spec,
                data_dir,
                models,
                &Default::default(),
                options,
            )?
            .ok_or_else(|| anyhow!("pretrain.{name} stopped before its last step"))?;
            Ok(Done::Classifier(done))
        }
    }
}

/// Pretrains (or finds) one language model into `models`, reading its corpus from `data_dir`.
pub fn ensure(
    name: &str,
    spec: &PretrainSpec,
    models: &Path,
    data_dir: &Path,
    progress: bool,
) -> Result<Pretrained> {
    let corpus = Corpus::load(data_dir, &spec.corpus)?;
    let options = RunOptions {
        progress,
        stop_after_step: None,
    };
    let device = Default::default();
    pretrain::pretrain::<Train>(name, spec, &corpus, models, &device, options)?
        .ok_or_else(|| anyhow!("pretrain.{name} stopped before its last step"))
}

/// The checkpoint directory a model reference names: `pretrained:NAME[@PROFILE]` is the entry
/// `NAME` of [`SHARED_FILE`]'s `pretrain:` block under `PROFILE` (default: `default`), pretrained
/// now into `models` (a store's `.cache/pretrained`) if it is not there yet; anything else is a directory or a
/// Hugging Face hub id ([`crate::lm::resolve_checkpoint`]). Pretrainings in one process run one at
/// a time, so parallel runs that need the same model train it once.
pub fn resolve_reference(reference: &str, models: &Path, data_dir: &Path) -> Result<PathBuf> {
    let Some(rest) = reference.strip_prefix(PREFIX) else {
        return crate::lm::resolve_checkpoint(Path::new(reference));
    };
    let (name, profile) = match rest.split_once('@') {
        Some((n, p)) => (
            n,
            <Profile as clap::ValueEnum>::from_str(p, true).map_err(|_| {
                anyhow!("{reference}: unknown profile {p:?} (use smoke, default or paper)")
            })?,
        ),
        None => (rest, Profile::Default),
    };
    let shared = shared_file()?;
    let shared = shared.as_path();
    let file = crate::sweepfile::load(shared)
        .with_context(|| format!("{reference}: the `pretrain:` entries live in {SHARED_FILE}"))?;
    let entry = file.pretrain.get(name).ok_or_else(|| {
        anyhow!(
            "{reference}: no entry `{name}` in {SHARED_FILE}'s `pretrain:` block (known: {})",
            file.pretrain.keys().cloned().collect::<Vec<_>>().join(", ")
        )
    })?;
    let entry = entry_of(entry, profile, shared, name)?;
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    Ok(ensure_entry(name, &entry, models, data_dir, true)?
        .dir()
        .to_path_buf())
}

/// `runner pretrain FILE`: pretrains every entry of the file's block, then writes
/// `results/<experiment>/pretrain.{md,tex,csv}` and the loss curves `pretrain_loss.{png,svg}`
/// (under `results/<experiment>/<profile>/` for profiles other than default).
pub fn run_file(
    path: &Path,
    profile: Profile,
    store: &Path,
    results: &Path,
    data_dir: &Path,
) -> Result<Vec<PathBuf>> {
    let file = crate::sweepfile::load(path)?;
    let entries = specs(&file, path, profile)?;
    if entries.is_empty() {
        bail!(
            "{}: no `pretrain:` block; nothing to pretrain",
            path.display()
        );
    }
    let (mut lms, mut classifiers) = (Vec::new(), Vec::new());
    for (name, entry) in &entries {
        match ensure_entry(name, entry, &cache_root(store), data_dir, true)? {
            Done::Lm(p) => {
                eprintln!(
                    "pretrain.{name}: {} (validation perplexity {:.1}, {:.0} tokens/s{})",
                    p.dir.display(),
                    p.record.val_perplexity,
                    p.record.tokens_per_second,
                    if p.cached { ", cached" } else { "" }
                );
                lms.push(p);
            }
            Done::Classifier(c) => {
                eprintln!(
                    "pretrain.{name}: {} (test accuracy {:.3}{})",
                    c.dir.display(),
                    c.record.test_accuracy,
                    if c.cached { ", cached" } else { "" }
                );
                classifiers.push(c);
            }
        }
    }
    let mut dir = results.join(&file.experiment);
    if profile != Profile::Default {
        dir = dir.join(profile.to_string());
    }
    let mut written = report(&lms, &dir)?;
    if !classifiers.is_empty() {
        written.push(classifier_report(&classifiers, &dir)?);
    }
    Ok(written)
}

/// The table of classifiers trained here.
pub fn classifier_report(done: &[TrainedClassifier], dir: &Path) -> Result<PathBuf> {
    let mut table = Table::new(
        "Sentiment classifier trained here from scratch (DistilBERT-shaped, uncased WordPiece) on the IMDB train \
         subset, standing in for lvwerra/distilbert-imdb as the IMDB task's learned reward (P(positive)). Test \
         rows: the IMDB test subset's even rows minus reviews duplicated in the odd rows (the odd rows are \
         pretraining text of gpt2-mini). Mini models trained here; time measured on this machine's CPU.",
        &[
            "model",
            "parameters",
            "train examples",
            "steps",
            "validation accuracy",
            "test accuracy",
            "test examples",
            "examples/s",
            "minutes",
        ],
    );
    for c in done {
        let r = &c.record;
        table.push(vec![
            r.name.clone(),
            format!("{:.2}M", r.parameters as f64 / 1e6),
            r.train_examples.to_string(),
            r.steps.to_string(),
            r.validation_accuracy
                .map_or("-".into(), |a| format!("{a:.3}")),
            format!("{:.3}", r.test_accuracy),
            r.test_examples.to_string(),
            format!("{:.1}", r.examples_per_second),
            format!("{:.1}", r.seconds / 60.0),
        ]);
    }
    let stem = dir.join("classifier");
    table.save(&stem)?;
    Ok(stem.with_extension("md"))
}

/// The table and loss-curve figure of finished pretrainings.
pub fn report(done: &[Pretrained], dir: &Path) -> Result<Vec<PathBuf>> {
    let mut table = Table::new(
        "Small models pretrained here (mini models pretrained here, not the paper's hub \
         checkpoints): corpus = WikiText-2 validation+test and the IMDB test split's odd rows, 1 \
         document in 20 held out. GPT-2: causal LM loss; T5: span-corruption loss (15% noise, mean \
         span 3), so the two perplexities are not comparable. Tokens/s on this machine's CPU.",
        &[
            "model",
            "type",
            "parameters",
            "vocab",
            "steps",
            "tokens seen",
            "val loss",
            "val perplexity",
            "tokens/s",
            "minutes",
        ],
    );
    let mut series = Vec::new();
    for p in done {
        let r = &p.record;
        table.push(vec![
            r.name.clone(),
            r.spec.model.model_type().to_string(),
            format!("{:.2}M", r.parameters as f64 / 1e6),
            r.vocab_size.to_string(),
            r.spec.steps.to_string(),
            format!("{:.2}M", r.tokens as f64 / 1e6),
            format_sig(r.val_loss, 4),
            format_sig(r.val_perplexity, 4),
            format!("{:.0}", r.tokens_per_second),
            format!("{:.1}", r.seconds / 60.0),
        ]);
        let log = read_log(&p.dir.join("log.csv"))?;
        let (x, y): (Vec<f64>, Vec<f64>) = log.iter().map(|(s, l, _)| (*s as f64, *l)).unzip();
        series.push(LineSeries {
            label: format!("{} train", r.name),
            x,
            runs: vec![y],
        });
        let (x, y): (Vec<f64>, Vec<f64>) = log
            .iter()
            .filter_map(|(s, _, v)| v.map(|v| (*s as f64, v)))
            .unzip();
        series.push(LineSeries {
            label: format!("{} validation", r.name),
            x,
            runs: vec![y],
        });
    }
    let mut written = Vec::new();
    let stem = dir.join("pretrain");
    table.save(&stem)?;
    written.push(stem.with_extension("md"));
    let figure = Figure::row(
        Some("Pretraining loss (mini models pretrained here)"),
        vec![Panel::Lines(LinePanel {
            title: "nats per predicted token".into(),
            x: Axis::linear("optimiser step"),
            y: Axis::linear("loss (nats/token)"),
            series,
            legend: Legend::UpperRight,
        })],
    );
    let stem = dir.join("pretrain_loss");
    figure.save(&stem)?;
    written.push(stem.with_extension("png"));
    Ok(written)
}

/// `(step, loss, val_loss)` rows of a `log.csv`.
fn read_log(path: &Path) -> Result<Vec<(usize, f64, Option<f64>)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .skip(1)
        .enumerate()
        .map(|(i, line)| {
            let f: Vec<&str> = line.split(',').collect();
            let bad = || anyhow!("{}:{}: malformed row {line:?}", path.display(), i + 2);
            if f.len() != 6 {
                return Err(bad());
            }
            let val = if f[5].is_empty() {
                None
            } else {
                Some(f[5].parse().map_err(|_| bad())?)
            };
            Ok((
                f[0].parse().map_err(|_| bad())?,
                f[2].parse().map_err(|_| bad())?,
                val,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCK: &str = "
gpt2-mini:
  model: {model_type: gpt2, n_layer: 4, n_embd: 256, n_head: 4, n_positions: 256}
  corpus: [wikitext-2]
  tokenizer: {vocab_size: 8192}
  steps: 100
  batch_size: 16
  seq_len: 128
  learning_rate: 1.0e-3
  warmup_steps: 10
  seed: 0
  profiles:
    smoke: {steps: 4, warmup_steps: 1, model: {n_layer: 1}}
clf:
  model: {model_type: distilbert, dim: 16, n_layers: 1, n_heads: 2, hidden_dim: 32, max_position_embeddings: 64}
  data: imdb
  max_length: 64
  epochs: 1
  batch_size: 8
  learning_rate: 1.0e-3
  warmup_steps: 1
  seed: 0
";

    fn block() -> std::collections::BTreeMap<String, Value> {
        serde_yaml::from_str(BLOCK).unwrap()
    }

    #[test]
    fn a_profile_overrides_keys_and_merges_nested_maps() {
        let b = block();
        let path = Path::new("f.yaml");
        let Entry::Lm(default) =
            entry_of(&b["gpt2-mini"], Profile::Default, path, "gpt2-mini").unwrap()
        else {
            panic!("a language model")
        };
        let Entry::Lm(smoke) =
            entry_of(&b["gpt2-mini"], Profile::Smoke, path, "gpt2-mini").unwrap()
        else {
            panic!("a language model")
        };
        assert_eq!((default.steps, smoke.steps), (100, 4));
        let layers = |s: &PretrainSpec| match s.model {
            pretrain::Architecture::Gpt2 {
                n_layer, n_embd, ..
            } => (n_layer, n_embd),
            _ => panic!("gpt2"),
        };
        assert_eq!(layers(&default), (4, 256));
        assert_eq!(layers(&smoke), (1, 256), "n_embd kept from the entry");
    }

    #[test]
    fn a_distilbert_entry_is_a_classifier() {
        let b = block();
        assert!(matches!(
            entry_of(&b["clf"], Profile::Default, Path::new("f.yaml"), "clf").unwrap(),
            Entry::Classifier(_)
        ));
    }

    #[test]
    fn bad_entries_name_the_file_entry_and_field() {
        let mut b = block();
        b.get_mut("gpt2-mini").unwrap()["stepz"] = Value::from(3);
        let err = entry_of(
            &b["gpt2-mini"],
            Profile::Default,
            Path::new("f.yaml"),
            "gpt2-mini",
        )
        .unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("f.yaml: pretrain.gpt2-mini") && msg.contains("stepz"),
            "{msg}"
        );
        let mut b = block();
        b.get_mut("gpt2-mini").unwrap()["profiles"]["fast"] = Value::Mapping(Default::default());
        let err = entry_of(
            &b["gpt2-mini"],
            Profile::Default,
            Path::new("f.yaml"),
            "gpt2-mini",
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown profile"), "{err}");
        let err = resolve_reference(
            "pretrained:nope",
            Path::new("/nonexistent"),
            Path::new("data"),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("no entry `nope`"), "{err:#}");
        let err = resolve_reference(
            "pretrained:gpt2-mini@fast",
            Path::new("/x"),
            Path::new("data"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown profile"), "{err}");
    }
}
