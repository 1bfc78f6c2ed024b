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
use pretrain::{Corpus, PretrainSpec, Pretrained, RunOptions};
use serde_yaml::{Mapping, Value};
use std::path::{Path, PathBuf};

/// The CPU training backend (`model::CpuBackend` is already `Autodiff<Flex>`).
type Train = model::CpuBackend;

/// The prefix naming a checkpoint pretrained here.
pub const PREFIX: &str = "pretrained:";

/// The file whose block `pretrained:NAME` falls back to.
pub const SHARED_FILE: &str = "experiments/pretrain.yaml";

/// Where a store keeps its pretrained models.
pub fn cache_root(store: &Path) -> PathBuf {
    store.join(".cache").join("pretrained")
}

/// The entries of a file's `pretrain:` block under `profile`, typed and validated.
pub fn specs(
    file: &SweepFile,
    path: &Path,
    profile: Profile,
) -> Result<Vec<(String, PretrainSpec)>> {
    file.pretrain
        .iter()
        .map(|(name, entry)| Ok((name.clone(), spec_of(entry, profile, path, name)?)))
        .collect()
}

/// One entry with its profile's overrides applied.
pub fn spec_of(entry: &Value, profile: Profile, path: &Path, name: &str) -> Result<PretrainSpec> {
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
    let spec: PretrainSpec =
        serde_yaml::from_value(Value::Mapping(base)).with_context(|| context())?;
    spec.validate().map_err(|e| anyhow!("{}: {e}", context()))?;
    Ok(spec)
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

/// Pretrains (or finds) one entry, reading its corpus from `data_dir`.
pub fn ensure(
    name: &str,
    spec: &PretrainSpec,
    store: &Path,
    data_dir: &Path,
    progress: bool,
) -> Result<Pretrained> {
    let corpus = Corpus::load(data_dir, &spec.corpus)?;
    let options = RunOptions {
        progress,
        stop_after_step: None,
    };
    let device = Default::default();
    pretrain::pretrain::<Train>(name, spec, &corpus, &cache_root(store), &device, options)?
        .ok_or_else(|| anyhow!("pretrain.{name} stopped before its last step"))
}

/// The checkpoint directory a model reference names: `pretrained:NAME[@PROFILE]` is the entry
/// `NAME` of [`SHARED_FILE`]'s `pretrain:` block under `PROFILE` (default: `default`), pretrained
/// now into `<cache_dir>/pretrained` if it is not there yet; anything else is a directory or a
/// Hugging Face hub id ([`crate::lm::resolve_checkpoint`]). Pretrainings in one process run one at
/// a time, so parallel runs that need the same model train it once.
pub fn resolve_reference(reference: &str, cache_dir: &Path, data_dir: &Path) -> Result<PathBuf> {
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
    let shared = Path::new(SHARED_FILE);
    let file = crate::sweepfile::load(shared)
        .with_context(|| format!("{reference}: the `pretrain:` entries live in {SHARED_FILE}"))?;
    let entry = file.pretrain.get(name).ok_or_else(|| {
        anyhow!(
            "{reference}: no entry `{name}` in {SHARED_FILE}'s `pretrain:` block (known: {})",
            file.pretrain.keys().cloned().collect::<Vec<_>>().join(", ")
        )
    })?;
    let spec = spec_of(entry, profile, shared, name)?;
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let store = cache_dir.parent().unwrap_or(cache_dir);
    Ok(ensure(name, &spec, store, data_dir, true)?.dir)
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
    let mut done = Vec::new();
    for (name, spec) in &entries {
        let p = ensure(name, spec, store, data_dir, true)?;
        eprintln!(
            "pretrain.{name}: {} (validation perplexity {:.1}, {:.0} tokens/s{})",
            p.dir.display(),
            p.record.val_perplexity,
            p.record.tokens_per_second,
            if p.cached { ", cached" } else { "" }
        );
        done.push(p);
    }
    let mut dir = results.join(&file.experiment);
    if profile != Profile::Default {
        dir = dir.join(profile.to_string());
    }
    report(&done, &dir)
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
        Some("Pretraining loss of the mini models pretrained here (nats per predicted token)"),
        vec![Panel::Lines(LinePanel {
            title: "loss per step".into(),
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
