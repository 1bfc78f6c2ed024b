//! Save a training run mid-way and resume it with an identical continuation.
//!
//! A checkpoint directory holds burn records (full precision) of the trained module, the
//! optimiser state and the frozen reference policy, plus `state.json` (iteration, KL controller,
//! seed). No RNG state is stored: every random draw is a function of `(seed, stream, step)`
//! ([`seeds::step_seed`]). The directory is written under a temporary name and renamed, so a
//! killed run never leaves a half-written checkpoint.

use std::path::Path;

use burn::module::Module;
use burn::optim::Optimizer;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder};
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::kl::KlController;
use crate::optim::Optim;
use crate::policy::{Policy, TrainablePolicy};
use crate::ppo::PpoTrainer;

type Rec = NamedMpkFileRecorder<FullPrecisionSettings>;

/// `state.json` of a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    pub algorithm: String,
    pub iteration: usize,
    pub optimizer_steps: usize,
    pub seed: u64,
    pub kl: Option<KlController>,
}

fn err(path: &Path, message: impl std::fmt::Display) -> TrainError {
    TrainError::Checkpoint {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// Builds the checkpoint in a temporary directory beside `dir`, then replaces `dir` with it.
fn write_dir(
    dir: &Path,
    fill: impl FnOnce(&Path) -> Result<(), TrainError>,
) -> Result<(), TrainError> {
    let mut failed = None;
    atomicwrite::replace_dir(dir, |tmp| {
        fill(tmp).map_err(|e| {
            let io = std::io::Error::other(e.to_string());
            failed = Some(e);
            io
        })
    })
    .map_err(|e| failed.take().unwrap_or_else(|| err(dir, e)))
}

fn read_state(dir: &Path) -> Result<TrainState, TrainError> {
    let path = dir.join("state.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        err(
            &path,
            format!("{e}; is this a checkpoint directory written by `save_checkpoint`?"),
        )
    })?;
    serde_json::from_str(&text).map_err(|e| err(&path, format!("corrupt state: {e}")))
}

impl<B: AutodiffBackend, P: TrainablePolicy<B>> PpoTrainer<B, P> {
    /// Saves weights, optimiser state, reference policy, KL controller and iteration.
    pub fn save_checkpoint(&self, dir: impl AsRef<Path>) -> Result<(), TrainError> {
        let dir = dir.as_ref();
        write_dir(dir, |tmp| {
            let rec = Rec::new();
            self.model
                .clone()
                .save_file(tmp.join("model"), &rec)
                .map_err(|e| err(tmp, e))?;
            self.reference
                .clone()
                .save_file(tmp.join("reference"), &rec)
                .map_err(|e| err(tmp, e))?;
            match &self.trainer.optim {
                Optim::Adam(o) => rec.record(o.to_record(), tmp.join("optim")),
                Optim::PlainAdam(o) => rec.record(o.to_record(), tmp.join("optim")),
                Optim::Sgd(o) => rec.record(o.to_record(), tmp.join("optim")),
            }
            .map_err(|e| err(tmp, e))?;
            let state = TrainState {
                algorithm: "ppo".into(),
                iteration: self.iteration,
                optimizer_steps: self.trainer.steps,
                seed: self.seed,
                kl: Some(self.kl),
            };
            let json = serde_json::to_string_pretty(&state).expect("state serialises");
            std::fs::write(tmp.join("state.json"), json).map_err(|e| err(tmp, e))
        })
    }

    /// Restores a checkpoint into a trainer built with the same config and model shapes
    /// (`PpoTrainer::new` with any policy of the same architecture, GPT-2 or T5).
    pub fn load_checkpoint(mut self, dir: impl AsRef<Path>) -> Result<Self, TrainError> {
        let dir = dir.as_ref();
        let state = read_state(dir)?;
        if state.algorithm != "ppo" {
            return Err(err(
                dir,
                format!("holds a {} run, not ppo", state.algorithm),
            ));
        }
        let rec = Rec::new();
        let device = self.model.policy.device();
        self.model = self
            .model
            .load_file(dir.join("model"), &rec, &device)
            .map_err(|e| {
                err(
                    &dir.join("model.mpk"),
                    format!("{e}; corrupt or from another model"),
                )
            })?;
        let inner_device = self.reference.device();
        self.reference = self
            .reference
            .load_file(dir.join("reference"), &rec, &inner_device)
            .map_err(|e| err(&dir.join("reference.mpk"), e))?;
        let path = dir.join("optim");
        let bad = |e| err(&dir.join("optim.mpk"), e);
        self.trainer.optim = match self.trainer.optim {
            Optim::Adam(o) => Optim::Adam(o.load_record(rec.load(path, &device).map_err(bad)?)),
            Optim::PlainAdam(o) => {
                Optim::PlainAdam(o.load_record(rec.load(path, &device).map_err(bad)?))
            }
            Optim::Sgd(o) => Optim::Sgd(o.load_record(rec.load(path, &device).map_err(bad)?)),
        };
        self.trainer.steps = state.optimizer_steps;
        self.iteration = state.iteration;
        self.seed = state.seed;
        if let Some(kl) = state.kl {
            self.kl = kl;
        }
        Ok(self)
    }
}
