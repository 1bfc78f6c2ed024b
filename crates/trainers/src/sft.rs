//! Supervised finetuning: token-level cross-entropy of the reference continuation given the
//! prompt, for any [`Policy`]. The paper's partial-SFT grid turns two knobs: `max_steps` and `frac_train_samples`.

use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{ElementConversion, Tensor};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::lm::Example;
use crate::optim::{OptimConfig, Trainer};
use crate::policy::Policy;
use seeds::{Stream, step_seed};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SftConfig {
    pub optim: OptimConfig,
    /// Optimiser steps.
    pub max_steps: usize,
    /// Examples per step.
    pub batch_size: usize,
    /// Fraction of the training examples SFT may see (a seeded subset, at least one example).
    #[serde(default = "one")]
    pub frac_train_samples: f64,
    pub seed: u64,
}

fn one() -> f64 {
    1.0
}

impl SftConfig {
    pub fn validate(&self) -> Result<(), TrainError> {
        self.optim.validate().map_err(TrainError::Config)?;
        if self.batch_size == 0 {
            return Err(TrainError::Config("sft batch_size must be >= 1".into()));
        }
        if !(self.frac_train_samples > 0.0 && self.frac_train_samples <= 1.0) {
            return Err(TrainError::Config(format!(
                "frac_train_samples must be in (0, 1], got {}",
                self.frac_train_samples
            )));
        }
        Ok(())
    }
}

/// The seeded subset of `n` training examples that SFT uses: `ceil(frac * n)` of them (>= 1).
pub fn train_subset(n: usize, frac: f64, seed: u64) -> Vec<usize> {
    let keep = ((frac * n as f64).ceil() as usize).clamp(1.min(n), n);
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    idx.truncate(keep);
    idx.sort_unstable();
    idx
}

/// Mean negative log-likelihood per target token: `-(1/T) sum_t log p(y_t | x, y_<t)`.
pub fn sft_loss<B: AutodiffBackend, P: Policy<B>>(
    model: &P,
    examples: &[&Example],
    pad: u32,
) -> Tensor<B, 1> {
    let prompts: Vec<Vec<u32>> = examples.iter().map(|x| x.prompt_ids.clone()).collect();
    let targets: Vec<Vec<u32>> = examples.iter().map(|x| x.target_ids.clone()).collect();
    let tokens: usize = targets.iter().map(Vec::len).sum();
    model
        .completion_logprobs(&prompts, &targets, pad)
        .sum()
        .neg()
        .div_scalar(tokens.max(1) as f64)
}

/// One logged SFT step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SftLog {
    pub step: usize,
    pub loss: f64,
    pub grad_norm: f64,
    pub learning_rate: f64,
}

/// Runs `config.max_steps` SFT steps on the seeded subset of `examples`, batches drawn by a
/// seeded shuffle per epoch; calls `log` after every step.
pub fn train_sft<B: AutodiffBackend, P: Policy<B> + AutodiffModule<B>>(
    mut model: P,
    examples: &[Example],
    pad: u32,
    config: &SftConfig,
    mut log: impl FnMut(&SftLog),
) -> Result<P, TrainError> {
    config.validate()?;
    if examples.is_empty() {
        return Err(TrainError::Config("SFT needs at least one example".into()));
    }
    let subset = train_subset(examples.len(), config.frac_train_samples, config.seed);
    let mut trainer = Trainer::<B, P>::new(config.optim.clone());
    let mut order: Vec<usize> = Vec::new();
    let mut epoch = 0u64;
    for step in 0..config.max_steps {
        let mut batch = Vec::with_capacity(config.batch_size);
        while batch.len() < config.batch_size.min(subset.len()) {
            if order.is_empty() {
                order = subset.clone();
                order.shuffle(&mut ChaCha8Rng::seed_from_u64(step_seed(
                    config.seed,
                    Stream::SftShuffle,
                    epoch,
                )));
                epoch += 1;
            }
            batch.push(&examples[order.pop().expect("refilled above")]);
        }
        let loss = sft_loss(&model, &batch, pad);
        let loss_value: f64 = loss.clone().into_scalar().elem();
        let (next, stats) = trainer.step(model, loss, step)?;
        model = next;
        log(&SftLog {
            step,
            loss: loss_value,
            grad_norm: stats.grad_norm,
            learning_rate: stats.learning_rate,
        });
    }
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subset_is_seeded_sized_and_sorted() {
        let a = train_subset(200, 0.01, 3);
        assert_eq!(a.len(), 2);
        assert_eq!(a, train_subset(200, 0.01, 3));
        assert_ne!(train_subset(200, 0.1, 3), train_subset(200, 0.1, 4));
        assert_eq!(train_subset(5, 1.0, 0), vec![0, 1, 2, 3, 4]);
        assert_eq!(train_subset(5, 1e-9, 0).len(), 1);
    }
}
