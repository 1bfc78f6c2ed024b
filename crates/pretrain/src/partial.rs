//! What the language-model pretraining ([`crate::train`]) and the classifier training
//! ([`crate::classifier`]) share: the mid-training checkpoint a killed run resumes from, and the
//! progress bar.
//!
//! ```text
//! <name>-<key>.partial/   model.mpk, optim.mpk (burn records, full precision), state.json, and
//!                         whatever `extra` writes (the tokenizer of a pretraining)
//! ```
//! The directory is replaced whole, by rename, so a kill leaves the previous checkpoint or the new one.
//!
//! Also shared: reading a finished entry's record and checking its weights ([`read_entry`]).

use anyhow::{Context, Result, anyhow, bail};
use burn::module::AutodiffModule;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder};
use burn::tensor::backend::AutodiffBackend;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::Path;
use trainers::optim::Trainer;

/// `state.json`: which entry the checkpoint belongs to, where it stopped, and the log so far.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Partial<L> {
    pub key: String,
    pub step: usize,
    /// Training wall time so far.
    pub seconds: f64,
    pub log: Vec<L>,
}

/// The checkpoint in `dir`, if there is one; one of another entry (`key`) or a corrupt one is an
/// error saying to delete it.
pub fn read<L: DeserializeOwned>(dir: &Path, key: &str) -> Result<Option<Partial<L>>> {
    let path = dir.join("state.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let state: Partial<L> = serde_json::from_str(&text).map_err(|e| {
        anyhow!(
            "{}: {e}; delete {} to start over",
            path.display(),
            dir.display()
        )
    })?;
    if state.key != key {
        bail!(
            "{} belongs to another training (key {}, expected {key}); delete it to start over",
            dir.display(),
            state.key
        );
    }
    Ok(Some(state))
}

/// Restores the model and optimiser of checkpoint `state` (read with [`read`]) from `dir`, and sets
/// the optimiser's step count.
pub fn restore<B: AutodiffBackend, M: AutodiffModule<B>, L>(
    dir: &Path,
    state: &Partial<L>,
    model: M,
    mut trainer: Trainer<B, M>,
    device: &B::Device,
) -> Result<(M, Trainer<B, M>)> {
    let rec = NamedMpkFileRecorder::<FullPrecisionSettings>::new();
    let model = model
        .load_file(dir.join("model"), &rec, device)
        .map_err(|e| anyhow!("{}: {e}; delete it to start over", dir.display()))?;
    trainer.optim = trainer
        .optim
        .load_state(&dir.join("optim"), device)
        .map_err(|e| anyhow!("{}: {e}; delete it to start over", dir.display()))?;
    trainer.steps = state.step;
    Ok((model, trainer))
}

/// Replaces the checkpoint in `dir` with `state`, the model, the optimiser and what `extra` writes.
pub fn write<B: AutodiffBackend, M: AutodiffModule<B>, L: Serialize>(
    dir: &Path,
    state: &Partial<L>,
    model: &M,
    trainer: &Trainer<B, M>,
    extra: &dyn Fn(&Path) -> Result<()>,
) -> Result<()> {
    atomicwrite::replace_dir(dir, |tmp| -> Result<()> {
        let rec = NamedMpkFileRecorder::<FullPrecisionSettings>::new();
        model
            .clone()
            .save_file(tmp.join("model"), &rec)
            .map_err(|e| anyhow!("{e}"))?;
        trainer
            .optim
            .save_state(&tmp.join("optim"))
            .map_err(|e| anyhow!("{e}"))?;
        extra(tmp)?;
        std::fs::write(tmp.join("state.json"), serde_json::to_string(state)?)?;
        Ok(())
    })
    .with_context(|| format!("writing the training checkpoint {}", dir.display()))
}

/// A progress bar of `steps` optimiser steps starting at `start` (hidden unless `visible`).
pub fn progress_bar(
    what: &str,
    name: &str,
    steps: usize,
    start: usize,
    visible: bool,
) -> indicatif::ProgressBar {
    if !visible {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(steps as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{what} {{prefix}} [{{bar:30}}] {{pos}}/{{len}} steps · {{msg}} [{{elapsed_precise}}<{{eta_precise}}]"
        ))
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_prefix(name.to_string());
    bar.set_position(start as u64);
    bar
}

/// The record `record_file` of the finished entry in `dir`, if there is one, checked: its key is
/// `key`, `model.safetensors` has the sha256 it states, and `files` exist. A failed check is an
/// error naming the directory and saying to delete it (`what` names the entry, e.g. "classifier").
pub fn read_entry<R: DeserializeOwned>(
    dir: &Path,
    record_file: &str,
    what: &str,
    key: &str,
    files: &[&str],
    key_and_sha256: fn(&R) -> (&str, &str),
) -> Result<Option<R>> {
    let record_path = dir.join(record_file);
    if !record_path.is_file() {
        return Ok(None);
    }
    let damaged = |why: String| {
        anyhow!(
            "{what} {} is damaged ({why}); delete that directory to train it again",
            dir.display()
        )
    };
    let record: R = serde_json::from_str(
        &std::fs::read_to_string(&record_path).map_err(|e| damaged(e.to_string()))?,
    )
    .map_err(|e| damaged(format!("{record_file}: {e}")))?;
    let weights = std::fs::read(dir.join("model.safetensors"))
        .map_err(|e| damaged(format!("model.safetensors: {e}")))?;
    let (recorded_key, sha256) = key_and_sha256(&record);
    if recorded_key != key || data::checksum::sha256_hex(&weights) != sha256 {
        return Err(damaged(
            "model.safetensors differs from the record's sha256".into(),
        ));
    }
    if let Some(f) = files.iter().find(|f| !dir.join(f).is_file()) {
        return Err(damaged(format!("{f} is missing")));
    }
    Ok(Some(record))
}
