//! What can stop a training run, each with a message that says what to do.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// NaN or infinity in a loss, reward or gradient: the run stops at once.
    #[error(
        "non-finite {quantity} ({value}) at step {step}; lower the learning rate, enable \
         gradient clipping (max_grad_norm) or check the rewards for NaN"
    )]
    NonFinite {
        step: usize,
        quantity: &'static str,
        value: f64,
    },
    #[error("invalid config: {0}")]
    Config(String),
    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: PathBuf, message: String },
    #[error(transparent)]
    Model(#[from] model::ModelError),
}

/// Fails with [`TrainError::NonFinite`] unless `value` is finite.
pub fn ensure_finite(step: usize, quantity: &'static str, value: f64) -> Result<f64, TrainError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(TrainError::NonFinite {
            step,
            quantity,
            value,
        })
    }
}
