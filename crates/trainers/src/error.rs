//! What can stop a training run, each with a message that says what to do. One error type for
//! every trainer, the language-model ones and the classifiers of [`crate::classify`] alike.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// NaN or infinity in a loss, reward, logit or gradient: the run stops at once. `step`
    /// counts `unit`s: optimiser steps or iterations ("step"), or epochs ("epoch").
    #[error(
        "non-finite {quantity} ({value}) at {unit} {step}; the optimisation diverged or an input \
         is NaN: lower the learning rate, clip the gradient norm (max_grad_norm, where the trainer \
         has it) or check the rewards and inputs for NaN"
    )]
    NonFinite {
        step: usize,
        unit: &'static str,
        quantity: &'static str,
        value: f64,
    },
    /// A config or training set the trainer cannot run with.
    #[error("invalid config: {0}")]
    Config(String),
    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: PathBuf, message: String },
    #[error(transparent)]
    Model(#[from] model::ModelError),
}

/// Fails with [`TrainError::NonFinite`] at step `step` unless `value` is finite.
pub fn ensure_finite(step: usize, quantity: &'static str, value: f64) -> Result<f64, TrainError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(TrainError::NonFinite {
            step,
            unit: "step",
            quantity,
            value,
        })
    }
}
