//! Expected-gradient RFT ("perfect exploration"): ascend
//! `V(x) = sum_y p(y|x) r(x, y)` exactly, by enumerating every output `y`, for short sequences
//! over small vocabularies (ml-rlgrad's `expected_reinforce`, here for any [`Policy`]).
//!
//! The output space is all sequences of exactly `length` tokens; the policy generates that many
//! tokens with no early stop, so `sum_y p(y|x) = 1`.

use burn::module::AutodiffModule;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::diagnostics::RewardStats;
use crate::lm::{score, to_vec};
use crate::optim::{OptimConfig, Trainer};
use crate::policy::Policy;

/// Every sequence of `length` tokens over ids `0..vocab`, in lexicographic order.
pub fn all_sequences(vocab: usize, length: usize) -> Vec<Vec<u32>> {
    let mut out: Vec<Vec<u32>> = vec![Vec::new()];
    for _ in 0..length {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                (0..vocab as u32).map(move |t| {
                    let mut s = prefix.clone();
                    s.push(t);
                    s
                })
            })
            .collect();
    }
    out
}

/// The exact objective for a set of prompts.
pub struct ExactValue<B: Backend> {
    /// `[prompts]`: `V(x)`, differentiable.
    pub value: Tensor<B, 1>,
    /// `[prompts, outputs]`: `log p(y|x)`, differentiable.
    pub logprobs: Tensor<B, 2>,
    /// Exact reward mean and std of each prompt under the model.
    pub stats: Vec<RewardStats>,
}

/// `V(x)` for each prompt, with `rewards[x][y] = r(x, outputs[y])`, in one batched pass over all
/// prompt-output pairs.
pub fn exact_value<B: Backend, P: Policy<B>>(
    model: &P,
    prompts: &[Vec<u32>],
    outputs: &[Vec<u32>],
    rewards: &[Vec<f64>],
    pad: u32,
) -> ExactValue<B> {
    let (p, y) = (prompts.len(), outputs.len());
    assert_eq!(rewards.len(), p, "one reward row per prompt");
    assert!(
        rewards.iter().all(|r| r.len() == y),
        "one reward per output"
    );
    let pairs_prompts: Vec<Vec<u32>> = prompts
        .iter()
        .flat_map(|x| std::iter::repeat_n(x.clone(), y))
        .collect();
    let pairs_outputs: Vec<Vec<u32>> = (0..p).flat_map(|_| outputs.iter().cloned()).collect();
    let (_, scores) = score(model, &pairs_prompts, &pairs_outputs, pad);
    let logprobs = scores.sequence_logprobs.reshape([p, y]);
    let device = logprobs.device();
    let flat: Vec<f32> = rewards.iter().flatten().map(|&r| r as f32).collect();
    let r = Tensor::<B, 2>::from_data(TensorData::new(flat, [p, y]), &device);
    let probs = logprobs.clone().exp();
    let value = (probs.clone() * r).sum_dim(1).reshape([p]);
    let host = to_vec(probs);
    let stats = (0..p)
        .map(|i| RewardStats::exact(&host[i * y..(i + 1) * y], &rewards[i]))
        .collect();
    ExactValue {
        value,
        logprobs,
        stats,
    }
}

/// Norm of the exact gradient of a group's objective `(1/|G|) sum_{x in G} V(x)`, the way
/// ml-rlgrad measures it for the small-std inputs and for the rest.
pub fn group_gradient_norm<B: AutodiffBackend, P: Policy<B> + AutodiffModule<B>>(
    model: &P,
    prompts: &[Vec<u32>],
    outputs: &[Vec<u32>],
    rewards: &[Vec<f64>],
    pad: u32,
) -> f64 {
    let v = exact_value(model, prompts, outputs, rewards, pad)
        .value
        .mean();
    let grads = burn::optim::GradientsParams::from_grads(v.backward(), model);
    crate::optim::grad_norm(model, &grads)
}

/// What the exact objective is regularised towards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum KlTarget {
    #[default]
    None,
    /// `KL(p(.|x) || p_0(.|x))`, the policy before training.
    Initial,
    /// `KL(p(.|x) || uniform)`, i.e. an entropy bonus.
    Uniform,
}

crate::serde_names!(KlTarget);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExactRftConfig {
    pub optim: OptimConfig,
    pub steps: usize,
    #[serde(default)]
    pub kl_coeff: f64,
    #[serde(default)]
    pub kl_target: KlTarget,
}

/// Loss `-(1/|X|) sum_x [V(x) - kl_coeff KL(p(.|x) || q(.|x))]`; `initial_logprobs` `[prompts,
/// outputs]` is `log p_0` (needed for [`KlTarget::Initial`]).
pub fn exact_rft_loss<B: Backend>(
    exact: &ExactValue<B>,
    kl_coeff: f64,
    kl_target: KlTarget,
    initial_logprobs: Option<&Tensor<B, 2>>,
) -> Tensor<B, 1> {
    let objective = exact.value.clone().mean();
    let [_, y] = exact.logprobs.dims();
    let kl = match kl_target {
        KlTarget::None => None,
        KlTarget::Initial => {
            let q = initial_logprobs.expect("KlTarget::Initial needs the initial log-probs");
            Some(exact.logprobs.clone() - q.clone())
        }
        KlTarget::Uniform => Some(exact.logprobs.clone().add_scalar((y as f64).ln())),
    };
    match kl {
        Some(log_ratio) if kl_coeff != 0.0 => {
            let kl = (exact.logprobs.clone().exp() * log_ratio).sum_dim(1).mean();
            (objective - kl.mul_scalar(kl_coeff)).neg()
        }
        _ => objective.neg(),
    }
}

/// One logged step of exact RFT.
#[derive(Debug, Clone, PartialEq)]
pub struct ExactLog {
    pub step: usize,
    pub mean_value: f64,
    pub grad_norm: f64,
    pub stats: Vec<RewardStats>,
}

/// Exact expected-gradient ascent on `V` for `config.steps` steps (full batch).
pub fn train_exact_rft<B: AutodiffBackend, P: Policy<B> + AutodiffModule<B>>(
    mut model: P,
    prompts: &[Vec<u32>],
    outputs: &[Vec<u32>],
    rewards: &[Vec<f64>],
    pad: u32,
    config: &ExactRftConfig,
    mut log: impl FnMut(&ExactLog),
) -> Result<P, TrainError> {
    config.optim.validate().map_err(TrainError::Config)?;
    let initial = (config.kl_target == KlTarget::Initial).then(|| {
        exact_value(&model, prompts, outputs, rewards, pad)
            .logprobs
            .detach()
    });
    let mut trainer = Trainer::<B, P>::new(config.optim.clone());
    for step in 0..config.steps {
        let exact = exact_value(&model, prompts, outputs, rewards, pad);
        let mean_value: f64 = exact.value.clone().mean().into_scalar().elem();
        let loss = exact_rft_loss(&exact, config.kl_coeff, config.kl_target, initial.as_ref());
        let stats = exact.stats.clone();
        let (next, s) = trainer.step(model, loss, step)?;
        model = next;
        log(&ExactLog {
            step,
            mean_value,
            grad_norm: s.grad_norm,
            stats,
        });
    }
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kl_target_names_are_its_serde_names() {
        crate::names::assert_serde_names(
            &[
                (KlTarget::None, "none"),
                (KlTarget::Initial, "initial"),
                (KlTarget::Uniform, "uniform"),
            ],
            KlTarget::name,
            Some(KlTarget::parse),
        );
    }

    #[test]
    fn enumerates_in_lexicographic_order() {
        let s = all_sequences(3, 2);
        assert_eq!(s.len(), 9);
        assert_eq!(s[0], vec![0, 0]);
        assert_eq!(s[5], vec![1, 2]);
        assert_eq!(all_sequences(2, 0), vec![Vec::<u32>::new()]);
    }
}
