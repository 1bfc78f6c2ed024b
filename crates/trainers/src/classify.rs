//! Classifiers over a small label space: the controlled experiments of the paper (Section 4.2),
//! following ml-rlgrad's `SupervisedKLTrainer` and `ReinforceTrainer(expected_reinforce_updates=True)`.
//!
//! Written over any burn [`AutodiffBackend`] and any model, given as a closure
//! `forward(&model, train_indices) -> logits [batch, classes]` (the model's logits already divided
//! by its temperature). For an input `x` with label distribution `p = softmax(logits)`:
//!
//! * **SFT** ([`Objective::Sft`]): minimise the cross-entropy `-Σ_y t(x)_y log p_y` against the
//!   target distribution `t(x)`: one-hot on the input's label for finetuning, uniform over its
//!   class's label set for pretraining (soft labels). Both are [`TrainSet::targets`] rows.
//! * **Exact RFT** ([`Objective::Rft`]): maximise the expected reward
//!   `V(x) = Σ_y p_y r(x, y)` by gradient ascent on `V` itself, i.e. the expectation of the
//!   REINFORCE gradient, with no sampling (perfect exploration). `r` is ml-rlgrad's label reward
//!   ([`RewardKind`], from the `rewards` crate): +1 correct, -1 otherwise, or 0.5 for an incorrect
//!   prediction on a modified input.
//!
//! A batch's objective is the mean over its inputs. Metrics follow ml-rlgrad, which measures them
//! on each batch before its update, apart for the modified and unmodified inputs:
//!
//! * every `metrics_every` epochs, from the logits of the training forward pass: each group's train
//!   accuracy, mean reward `V`, mean reward std `sqrt(Σ_y p_y (r_y - V)^2)`
//!   (= `sqrt(Σ_y p_y r_y^2 - V^2)`), mean `p(label)` and mean objective;
//! * every `grad_norm_every` epochs, also the norm of the gradient of each group's mean objective:
//!   each group is back-propagated on its own, and the update uses the group gradients themselves,
//!   `(n_m g_m + n_u g_u) / n`, which equals the full-batch gradient. A model without coupling
//!   between the inputs of a batch ([`FitConfig::decomposable`]) forwards only the group's inputs,
//!   as ml-rlgrad does, so the norms cost nothing; a model with batch norm forwards the whole batch
//!   once per group (batch statistics of the batch it trains on, where ml-rlgrad forwards the group
//!   alone) and takes the group's rows, so its running statistics see such a batch twice.
//!
//! Epoch values are means over inputs (gradient norms: over batches).

use burn::module::AutodiffModule;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rewards::labels::{LabelsReward, LabelsRewardWithCustom};
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::optim::{Optim, OptimizerKind, grad_norm};

/// What the optimiser minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// Cross-entropy against [`TrainSet::targets`] (one-hot or soft).
    Sft,
    /// Minus the exact expected reward, `-Σ_y p_y r(x, y)`, over [`TrainSet::rewards`].
    Rft,
}

/// ml-rlgrad's label rewards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RewardKind {
    /// `LabelsReward`: +1 for the label, -1 otherwise.
    Labels,
    /// `LabelsRewardWithCustomRewardForModifiedLabels`: like `Labels`, but an incorrect prediction
    /// on a modified input earns 0.5 (the "high initial reward" variant).
    LabelsWithCustom,
}

crate::serde_names!(Objective, RewardKind);

/// Reward table `r(x_i, y)`, row-major `[n, num_classes]`, for labels `targets`.
pub fn label_rewards(
    targets: &[usize],
    modified: &[bool],
    num_classes: usize,
    kind: RewardKind,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(targets.len() * num_classes);
    for (i, &t) in targets.iter().enumerate() {
        for y in 0..num_classes {
            let r = match kind {
                RewardKind::Labels => LabelsReward::default().reward(y == t),
                RewardKind::LabelsWithCustom => {
                    LabelsRewardWithCustom::default().reward(y == t, modified[i])
                }
            };
            out.push(r as f32);
        }
    }
    out
}

/// One-hot rows `[n, num_classes]` for hard labels.
pub fn one_hot(labels: &[usize], num_classes: usize) -> Vec<f32> {
    let mut out = vec![0.0; labels.len() * num_classes];
    for (i, &y) in labels.iter().enumerate() {
        out[i * num_classes + y] = 1.0;
    }
    out
}

/// The training inputs as the trainer sees them (the inputs themselves live in the closure).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainSet {
    pub num_classes: usize,
    /// The label each input is scored against (accuracy, rewards).
    pub labels: Vec<usize>,
    /// SFT target distribution per input, `[n, num_classes]`.
    pub targets: Vec<f32>,
    /// `r(x_i, y)`, `[n, num_classes]`.
    pub rewards: Vec<f32>,
    /// Group of each input: `true` = modified (small reward std).
    pub modified: Vec<bool>,
}

impl TrainSet {
    /// Finetuning on hard labels with a label reward.
    pub fn finetune(
        labels: Vec<usize>,
        modified: Vec<bool>,
        num_classes: usize,
        reward: RewardKind,
    ) -> Self {
        TrainSet {
            targets: one_hot(&labels, num_classes),
            rewards: label_rewards(&labels, &modified, num_classes, reward),
            num_classes,
            labels,
            modified,
        }
    }

    /// Pretraining on soft targets (`[n, num_classes]`); `labels` (the original classes) are only
    /// used for the accuracy and reward metrics. No input is modified.
    pub fn pretrain(labels: Vec<usize>, soft_targets: Vec<f32>, num_classes: usize) -> Self {
        let modified = vec![false; labels.len()];
        TrainSet {
            rewards: label_rewards(&labels, &modified, num_classes, RewardKind::Labels),
            targets: soft_targets,
            num_classes,
            labels,
            modified,
        }
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    fn check(&self) -> Result<(), TrainError> {
        let (n, k) = (self.labels.len(), self.num_classes);
        if n == 0 || k < 2 {
            return Err(TrainError::Config(format!(
                "a train set needs inputs and at least 2 classes (has {n} inputs, {k} classes)"
            )));
        }
        if self.targets.len() != n * k || self.rewards.len() != n * k || self.modified.len() != n {
            return Err(TrainError::Config(format!(
                "train set tables disagree: {n} labels, {} target values, {} reward values, {} group flags (want {n} x {k})",
                self.targets.len(),
                self.rewards.len(),
                self.modified.len()
            )));
        }
        if let Some(&y) = self.labels.iter().find(|&&y| y >= k) {
            return Err(TrainError::Config(format!(
                "train set label {y} outside 0..{k}"
            )));
        }
        Ok(())
    }
}

/// How to train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitConfig {
    pub objective: Objective,
    /// Built with [`Optim::plain`]: `torch.optim.Adam` / `torch.optim.SGD` with their defaults, as
    /// ml-rlgrad trains its classifiers.
    pub optimizer: OptimizerKind,
    pub lr: f64,
    pub batch_size: usize,
    pub epochs: usize,
    /// Record the per-group metrics every this many epochs (and at the first and last epoch).
    pub metrics_every: usize,
    /// Also measure the per-group gradient norms every this many epochs (and at the first and
    /// last epoch); a multiple of `metrics_every` keeps every measured norm in a metrics row.
    pub grad_norm_every: usize,
    /// Evaluate the test set every this many epochs (and before training and at the last epoch).
    pub test_every: usize,
    /// Seed of the per-epoch shuffling.
    pub shuffle_seed: u64,
    /// The model treats the inputs of a batch independently (no batch norm), so a group can be
    /// forwarded alone. Must be `false` for models with batch norm.
    pub decomposable: bool,
}

impl FitConfig {
    fn check(&self) -> Result<(), TrainError> {
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(TrainError::Config(format!(
                "lr = {} must be positive",
                self.lr
            )));
        }
        if self.batch_size == 0
            || self.metrics_every == 0
            || self.grad_norm_every == 0
            || self.test_every == 0
        {
            return Err(TrainError::Config(
                "batch_size, metrics_every, grad_norm_every and test_every must be at least 1"
                    .into(),
            ));
        }
        Ok(())
    }

    fn metrics_epoch(&self, epoch: usize) -> bool {
        epoch == 1 || epoch == self.epochs || epoch.is_multiple_of(self.metrics_every)
    }

    fn grad_norm_epoch(&self, epoch: usize) -> bool {
        epoch == 1 || epoch == self.epochs || epoch.is_multiple_of(self.grad_norm_every)
    }

    fn test_epoch(&self, epoch: usize) -> bool {
        epoch == 0 || epoch == self.epochs || epoch.is_multiple_of(self.test_every)
    }
}

/// Which inputs a row of metrics is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    /// Inputs whose label was modified: small initial reward std.
    Modified,
    /// The other train inputs.
    Unmodified,
}

crate::serde_names!(Group);

/// Metrics of one group over one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupMetrics {
    /// 0 = the model before training (no update), 1.. = after the epoch's updates began.
    pub epoch: usize,
    pub group: Group,
    pub inputs: usize,
    /// Fraction of inputs whose argmax is their label.
    pub train_accuracy: f64,
    /// Mean `V(x) = Σ_y p_y r(x, y)`.
    pub reward: f64,
    /// Mean reward std `sqrt(Σ_y p_y (r(x, y) - V(x))^2)`.
    pub reward_std: f64,
    /// Mean probability of the label.
    pub p_label: f64,
    /// Mean of the objective (cross-entropy for SFT, `-V` for RFT).
    pub objective: f64,
    /// Norm of the gradient of the group's mean objective, averaged over the epoch's batches
    /// (`NaN` in epochs without gradient norms).
    pub grad_norm: f64,
}

/// Test accuracy at an epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestMetrics {
    pub epoch: usize,
    pub accuracy: f64,
}

/// Everything recorded during a fit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub train: Vec<GroupMetrics>,
    pub test: Vec<TestMetrics>,
}

/// What a fit reports after each epoch (for progress and logs).
#[derive(Debug, Clone, PartialEq)]
pub struct EpochReport<'a> {
    pub epoch: usize,
    pub epochs: usize,
    /// Metrics of this epoch, if it was a metrics epoch.
    pub train: &'a [GroupMetrics],
    pub test: Option<&'a TestMetrics>,
}

/// The test set: its labels and the model's logits on test inputs in inference mode
/// (`model.valid()`, so batch norm uses its running statistics).
pub struct TestSet<'a, B: AutodiffBackend, M: AutodiffModule<B>> {
    pub labels: &'a [usize],
    #[allow(clippy::type_complexity)]
    pub logits: &'a dyn Fn(&M::InnerModule, &[usize]) -> Tensor<B::InnerBackend, 2>,
    pub batch_size: usize,
}

/// Per-input statistics of a batch's label distributions (computed in f64 on the host).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InputStats {
    pub correct: bool,
    pub p_label: f64,
    pub value: f64,
    pub reward_std: f64,
    /// Cross-entropy `-Σ_y t_y log p_y` against the target row.
    pub cross_entropy: f64,
}

/// Accuracy, `V`, reward std, `p(label)` and cross-entropy of one input from its logits, reward
/// row and target row, with the softmax taken in f64: `std = sqrt(Σ_y p_y (r_y - V)^2)`, a sum of
/// non-negative terms, so tiny stds keep their relative precision.
pub fn input_stats(logits: &[f32], rewards: &[f32], targets: &[f32], label: usize) -> InputStats {
    let max = logits
        .iter()
        .fold(f64::NEG_INFINITY, |m, &l| m.max(l as f64));
    let exp: Vec<f64> = logits.iter().map(|&l| (l as f64 - max).exp()).collect();
    let z: f64 = exp.iter().sum();
    let log_z = z.ln() + max;
    let cross_entropy: f64 = logits
        .iter()
        .zip(targets)
        .filter(|(_, t)| **t != 0.0)
        .map(|(&l, &t)| -(t as f64) * (l as f64 - log_z))
        .sum();
    let p: Vec<f64> = exp.iter().map(|e| e / z).collect();
    let value: f64 = p.iter().zip(rewards).map(|(p, &r)| p * r as f64).sum();
    let var: f64 = p
        .iter()
        .zip(rewards)
        .map(|(p, &r)| p * (r as f64 - value).powi(2))
        .sum();
    let argmax = logits
        .iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &v)| {
            if v > bv { (i, v) } else { (bi, bv) }
        })
        .0;
    InputStats {
        correct: argmax == label,
        p_label: p[label],
        value,
        reward_std: var.sqrt(),
        cross_entropy,
    }
}

/// Rows `indices` of a row-major `[n, k]` table, as a `[len, k]` tensor.
fn rows<B: AutodiffBackend>(
    table: &[f32],
    k: usize,
    indices: &[usize],
    device: &B::Device,
) -> Tensor<B, 2> {
    let mut v = Vec::with_capacity(indices.len() * k);
    for &i in indices {
        v.extend_from_slice(&table[i * k..(i + 1) * k]);
    }
    Tensor::from_data(TensorData::new(v, [indices.len(), k]), device)
}

/// Mean objective of a batch: `-mean_i Σ_y t_iy log p_iy` (SFT) or `-mean_i Σ_y r_iy p_iy` (RFT).
pub fn batch_objective<B: AutodiffBackend>(
    logits: Tensor<B, 2>,
    data: &TrainSet,
    objective: Objective,
    indices: &[usize],
) -> Tensor<B, 1> {
    let device = logits.device();
    let k = data.num_classes;
    match objective {
        Objective::Sft => {
            let t = rows::<B>(&data.targets, k, indices, &device);
            (log_softmax(logits, 1) * t).sum_dim(1).mean().neg()
        }
        Objective::Rft => {
            let r = rows::<B>(&data.rewards, k, indices, &device);
            (softmax(logits, 1) * r).sum_dim(1).mean().neg()
        }
    }
}

/// Running sums of one group over an epoch.
#[derive(Default, Clone)]
struct Acc {
    inputs: usize,
    correct: usize,
    value: f64,
    std: f64,
    p_label: f64,
    objective: f64,
    norm_sum: f64,
    batches: usize,
}

impl Acc {
    /// Add the inputs `indices` whose logits (row-major, `k` per row) are `host`.
    fn add(&mut self, data: &TrainSet, objective: Objective, indices: &[usize], host: &[f32]) {
        let k = data.num_classes;
        for (row, &i) in indices.iter().enumerate() {
            let s = input_stats(
                &host[row * k..(row + 1) * k],
                &data.rewards[i * k..(i + 1) * k],
                &data.targets[i * k..(i + 1) * k],
                data.labels[i],
            );
            self.correct += s.correct as usize;
            self.value += s.value;
            self.std += s.reward_std;
            self.p_label += s.p_label;
            self.objective += match objective {
                Objective::Sft => s.cross_entropy,
                Objective::Rft => -s.value,
            };
        }
        self.inputs += indices.len();
    }

    fn finish(&self, epoch: usize, group: Group) -> Option<GroupMetrics> {
        (self.inputs > 0).then(|| {
            let n = self.inputs as f64;
            GroupMetrics {
                epoch,
                group,
                inputs: self.inputs,
                train_accuracy: self.correct as f64 / n,
                reward: self.value / n,
                reward_std: self.std / n,
                p_label: self.p_label / n,
                objective: self.objective / n,
                grad_norm: if self.batches == 0 {
                    f64::NAN
                } else {
                    self.norm_sum / self.batches as f64
                },
            }
        })
    }
}

/// Forward one group, accumulate its metrics, and return its gradient scaled by its share of
/// the batch (so that the groups' gradients sum to the batch gradient). A decomposable model
/// forwards only the group's inputs; otherwise the whole batch is forwarded (so that batch norm
/// sees the batch it trains on) and the objective is taken over the group's rows.
#[allow(clippy::too_many_arguments)]
fn group_pass<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
    forward: &dyn Fn(&M, &[usize]) -> Tensor<B, 2>,
    data: &TrainSet,
    objective: Objective,
    indices: &[usize],
    batch: &[usize],
    decomposable: bool,
    acc: &mut Acc,
    epoch: usize,
) -> Result<GradientsParams, TrainError> {
    let logits = if decomposable {
        forward(model, indices)
    } else {
        let rows: Vec<i64> = batch
            .iter()
            .enumerate()
            .filter(|(_, i)| indices.contains(i))
            .map(|(r, _)| r as i64)
            .collect();
        let full = forward(model, batch);
        let device = full.device();
        full.select(
            0,
            Tensor::from_data(TensorData::new(rows, [indices.len()]), &device),
        )
    };
    let host = host_logits(&logits, epoch)?;
    acc.add(data, objective, indices, &host);
    let loss = batch_objective(logits, data, objective, indices);
    let share = indices.len() as f64 / batch.len() as f64;
    let grads = GradientsParams::from_grads(loss.mul_scalar(share).backward(), model);
    let norm = grad_norm(model, &grads) / share;
    if !norm.is_finite() {
        return Err(TrainError::NonFinite {
            step: epoch,
            unit: "epoch",
            quantity: "gradient norm",
            value: norm,
        });
    }
    acc.norm_sum += norm;
    acc.batches += 1;
    Ok(grads)
}

/// The logits on the host, refusing non-finite values (a diverged model).
fn host_logits<B: AutodiffBackend>(
    logits: &Tensor<B, 2>,
    epoch: usize,
) -> Result<Vec<f32>, TrainError> {
    let host: Vec<f32> = logits
        .clone()
        .detach()
        .into_data()
        .convert::<f32>()
        .to_vec()
        .expect("f32 logits");
    if let Some(&bad) = host.iter().find(|v| !v.is_finite()) {
        return Err(TrainError::NonFinite {
            step: epoch,
            unit: "epoch",
            quantity: "logits",
            value: bad as f64,
        });
    }
    Ok(host)
}

fn test_accuracy<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
    test: &TestSet<B, M>,
    epoch: usize,
) -> TestMetrics {
    let inner = model.valid();
    let idx: Vec<usize> = (0..test.labels.len()).collect();
    let mut correct = 0;
    for chunk in idx.chunks(test.batch_size.max(1)) {
        let pred: Vec<i64> = (test.logits)(&inner, chunk)
            .argmax(1)
            .into_data()
            .convert::<i64>()
            .to_vec()
            .expect("int predictions");
        correct += chunk
            .iter()
            .zip(&pred)
            .filter(|(i, p)| test.labels[**i] as i64 == **p)
            .count();
    }
    TestMetrics {
        epoch,
        accuracy: correct as f64 / test.labels.len().max(1) as f64,
    }
}

/// Train `model` for `cfg.epochs` epochs of shuffled mini-batches. Epoch 0 records the model as
/// given (metrics over the whole train set in batches, no update); metrics epochs record each
/// group's metrics measured during that epoch, before each batch's update.
pub fn fit<B: AutodiffBackend, M: AutodiffModule<B>>(
    mut model: M,
    forward: &dyn Fn(&M, &[usize]) -> Tensor<B, 2>,
    test: Option<&TestSet<B, M>>,
    data: &TrainSet,
    cfg: &FitConfig,
    on_epoch: &mut dyn FnMut(&EpochReport),
) -> Result<(M, History), TrainError> {
    data.check()?;
    cfg.check()?;
    let n = data.len();
    let mut history = History::default();
    let mut opt = Optim::<B, M>::plain(cfg.optimizer);
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.shuffle_seed);
    let mut order: Vec<usize> = (0..n).collect();

    for epoch in 0..=cfg.epochs {
        let measuring = epoch == 0 || cfg.metrics_epoch(epoch);
        if epoch > 0 {
            order.shuffle(&mut rng);
        }
        let mut accs = [Acc::default(), Acc::default()];
        if epoch == 0 {
            // The model as given: metrics only, in the same batches as an epoch, no update.
            for batch in order.chunks(cfg.batch_size) {
                let (m, u): (Vec<usize>, Vec<usize>) =
                    batch.iter().partition(|&&i| data.modified[i]);
                for (g, idx) in [(0, m), (1, u)] {
                    if !idx.is_empty() {
                        group_pass(
                            &model,
                            forward,
                            data,
                            cfg.objective,
                            &idx,
                            batch,
                            cfg.decomposable,
                            &mut accs[g],
                            0,
                        )?;
                    }
                }
            }
        } else {
            let norms = measuring && cfg.grad_norm_epoch(epoch);
            for batch in order.chunks(cfg.batch_size) {
                let grads = if norms {
                    let (m, u): (Vec<usize>, Vec<usize>) =
                        batch.iter().partition(|&&i| data.modified[i]);
                    let mut sum = GradientsAccumulator::<M>::new();
                    for (g, idx) in [(0, m), (1, u)] {
                        if !idx.is_empty() {
                            let grads = group_pass(
                                &model,
                                forward,
                                data,
                                cfg.objective,
                                &idx,
                                batch,
                                cfg.decomposable,
                                &mut accs[g],
                                epoch,
                            )?;
                            sum.accumulate(&model, grads);
                        }
                    }
                    Some(sum.grads())
                } else {
                    None
                };
                let grads = match grads {
                    Some(g) => g,
                    None => {
                        let logits = forward(&model, batch);
                        if measuring && !norms {
                            // Metrics from the training forward pass, split by group on the host.
                            let host = host_logits(&logits, epoch)?;
                            let k = data.num_classes;
                            for (g, modified) in [(0, true), (1, false)] {
                                let (rows, idx): (Vec<usize>, Vec<usize>) = batch
                                    .iter()
                                    .enumerate()
                                    .filter(|(_, i)| data.modified[**i] == modified)
                                    .map(|(r, &i)| (r, i))
                                    .unzip();
                                let sub: Vec<f32> = rows
                                    .iter()
                                    .flat_map(|&r| host[r * k..(r + 1) * k].iter().copied())
                                    .collect();
                                accs[g].add(data, cfg.objective, &idx, &sub);
                            }
                        }
                        let loss = batch_objective(logits, data, cfg.objective, batch);
                        let grads = GradientsParams::from_grads(loss.backward(), &model);
                        if !norms {
                            // Cheap divergence check when no group pass checked the gradients.
                            let norm = grad_norm(&model, &grads);
                            if !norm.is_finite() {
                                return Err(TrainError::NonFinite {
                                    step: epoch,
                                    unit: "epoch",
                                    quantity: "gradient norm",
                                    value: norm,
                                });
                            }
                        }
                        grads
                    }
                };
                model = opt.step(cfg.lr, model, grads);
            }
        }
        let start = history.train.len();
        if measuring {
            for (g, group) in [(0, Group::Modified), (1, Group::Unmodified)] {
                if let Some(m) = accs[g].finish(epoch, group) {
                    history.train.push(m);
                }
            }
        }
        let tested = match test {
            Some(t) if cfg.test_epoch(epoch) => {
                history.test.push(test_accuracy(&model, t, epoch));
                true
            }
            _ => false,
        };
        on_epoch(&EpochReport {
            epoch,
            epochs: cfg.epochs,
            train: &history.train[start..],
            test: if tested { history.test.last() } else { None },
        });
    }
    Ok((model, history))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::{Module, Param};
    use burn::nn::Linear;
    use model::CpuBackend;

    type B = CpuBackend;

    /// A linear softmax policy `logits = x W` over fixed inputs (rows of `x`).
    #[derive(Module, Debug)]
    struct LinearModel<B: burn::tensor::backend::Backend> {
        w: Linear<B>,
    }

    fn linear(w: Vec<f32>, d: usize, k: usize) -> LinearModel<B> {
        let dev = Default::default();
        LinearModel {
            w: Linear {
                weight: Param::from_tensor(Tensor::from_data(TensorData::new(w, [d, k]), &dev)),
                bias: None,
            },
        }
    }

    fn inputs(x: &[f32], d: usize) -> Tensor<B, 2> {
        Tensor::from_data(
            TensorData::new(x.to_vec(), [x.len() / d, d]),
            &Default::default(),
        )
    }

    fn forward_rows(x: Tensor<B, 2>) -> impl Fn(&LinearModel<B>, &[usize]) -> Tensor<B, 2> {
        move |m: &LinearModel<B>, idx: &[usize]| {
            let rows = Tensor::from_data(
                TensorData::new(idx.iter().map(|&i| i as i64).collect(), [idx.len()]),
                &Default::default(),
            );
            m.w.forward(x.clone().select(0, rows))
        }
    }

    /// V averaged over inputs, in f64 on the host, for weights `w`.
    fn value(w: &[f64], x: &[f32], d: usize, k: usize, rewards: &[f32]) -> f64 {
        let n = x.len() / d;
        let mut total = 0.0;
        for i in 0..n {
            let logits: Vec<f64> = (0..k)
                .map(|y| (0..d).map(|j| x[i * d + j] as f64 * w[j * k + y]).sum())
                .collect();
            let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = logits.iter().map(|l| (l - max).exp()).sum();
            total += (0..k)
                .map(|y| (logits[y] - max).exp() / z * rewards[i * k + y] as f64)
                .sum::<f64>();
        }
        total / n as f64
    }

    #[test]
    fn objective_reward_and_group_names_are_their_serde_names() {
        use crate::names::assert_serde_names;
        assert_serde_names(
            &[(Objective::Sft, "sft"), (Objective::Rft, "rft")],
            Objective::name,
            Some(Objective::parse),
        );
        assert_serde_names(
            &[
                (RewardKind::Labels, "labels"),
                (RewardKind::LabelsWithCustom, "labels_with_custom"),
            ],
            RewardKind::name,
            Some(RewardKind::parse),
        );
        assert_serde_names(
            &[
                (Group::Modified, "modified"),
                (Group::Unmodified, "unmodified"),
            ],
            Group::name,
            Some(Group::parse),
        );
    }

    #[test]
    fn exact_rft_gradient_equals_finite_differences_of_v() {
        let (d, k) = (3, 4);
        let w: Vec<f32> = (0..d * k)
            .map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.3)
            .collect();
        let x: Vec<f32> = vec![1.0, -0.5, 0.3, 0.2, 0.9, -1.2];
        let labels = vec![2, 0];
        let modified = vec![true, false];
        for kind in [RewardKind::Labels, RewardKind::LabelsWithCustom] {
            let data = TrainSet::finetune(labels.clone(), modified.clone(), k, kind);
            let model = linear(w.clone(), d, k);
            let fwd = forward_rows(inputs(&x, d));
            let loss = batch_objective(fwd(&model, &[0, 1]), &data, Objective::Rft, &[0, 1]);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let g: Vec<f32> = grads
                .get::<<B as AutodiffBackend>::InnerBackend, 2>(model.w.weight.id)
                .unwrap()
                .into_data()
                .to_vec()
                .unwrap();
            let w64: Vec<f64> = w.iter().map(|&v| v as f64).collect();
            let h = 1e-5;
            for p in 0..d * k {
                let (mut plus, mut minus) = (w64.clone(), w64.clone());
                plus[p] += h;
                minus[p] -= h;
                let fd = (value(&plus, &x, d, k, &data.rewards)
                    - value(&minus, &x, d, k, &data.rewards))
                    / (2.0 * h);
                // The objective is -V, so its gradient is -dV/dw.
                assert!(
                    (g[p] as f64 + fd).abs() < 1e-4,
                    "{kind:?} parameter {p}: autodiff {} vs finite differences {}",
                    g[p],
                    -fd
                );
            }
        }
    }

    #[test]
    fn a_confidently_wrong_input_gets_a_tiny_rft_gradient_but_a_large_sft_gradient() {
        // One input, 5 labels; the model puts almost all mass on label 0 while the label is 3.
        let (d, k) = (1, 5);
        let w = vec![12.0f32, 0.0, 0.0, 0.0, 0.0];
        let x = vec![1.0f32];
        let data = TrainSet::finetune(vec![3], vec![true], k, RewardKind::Labels);
        let s = input_stats(&[12.0, 0.0, 0.0, 0.0, 0.0], &data.rewards, &data.targets, 3);
        assert!(s.p_label < 1e-5 && s.reward_std < 1e-2, "{s:?}");
        let norm = |objective| {
            let model = linear(w.clone(), d, k);
            let fwd = forward_rows(inputs(&x, d));
            let loss = batch_objective(fwd(&model, &[0]), &data, objective, &[0]);
            grad_norm(
                &model,
                &GradientsParams::from_grads(loss.backward(), &model),
            )
        };
        let (rft, sft) = (norm(Objective::Rft), norm(Objective::Sft));
        assert!(rft < 1e-4, "RFT gradient {rft}");
        assert!(sft > 0.9, "SFT gradient {sft}");
        // Theorem 1 flavour: the RFT gradient is within a constant of the reward std.
        assert!(rft <= 2.0 * s.reward_std, "{rft} vs std {}", s.reward_std);
        // A uniform model has a large reward std and a large RFT gradient.
        let u = input_stats(&[0.0; 5], &data.rewards, &data.targets, 3);
        assert!(u.reward_std > 0.7, "{u:?}");
    }

    #[test]
    fn reward_std_formula_matches_brute_force_over_outcomes() {
        let logits = [0.3f32, -1.2, 2.0, 0.0, -0.7, 5.0];
        for (label, modified) in [(2, false), (4, true), (0, true)] {
            let r = label_rewards(&[label], &[modified], 6, RewardKind::LabelsWithCustom);
            let s = input_stats(&logits, &r, &one_hot(&[label], 6), label);
            // Brute force: enumerate outcomes y with probability p_y, E[r] and E[r^2].
            let z: f64 = logits.iter().map(|&l| (l as f64).exp()).sum();
            let p: Vec<f64> = logits.iter().map(|&l| (l as f64).exp() / z).collect();
            let mean: f64 = (0..6).map(|y| p[y] * r[y] as f64).sum();
            let second: f64 = (0..6).map(|y| p[y] * (r[y] as f64).powi(2)).sum();
            let std = (second - mean * mean).sqrt();
            assert!((s.value - mean).abs() < 1e-12);
            assert!(
                (s.reward_std - std).abs() < 1e-9,
                "{} vs {std}",
                s.reward_std
            );
            assert!((s.p_label - p[label]).abs() < 1e-12);
            assert!((s.cross_entropy + p[label].ln()).abs() < 1e-9);
            assert_eq!(s.correct, label == 5);
        }
        // Rewards per ml-rlgrad: correct 1, incorrect -1, incorrect on a modified input 0.5.
        let r = label_rewards(&[1, 1], &[false, true], 3, RewardKind::LabelsWithCustom);
        assert_eq!(r, vec![-1.0, 1.0, -1.0, 0.5, 1.0, 0.5]);
        assert_eq!(
            label_rewards(&[0], &[true], 2, RewardKind::Labels),
            vec![1.0, -1.0]
        );
    }

    #[test]
    fn group_gradients_sum_to_the_batch_gradient_and_training_is_reproducible() {
        let (d, k) = (3, 4);
        let w: Vec<f32> = (0..d * k)
            .map(|i| ((i * 13 % 7) as f32 - 3.0) * 0.2)
            .collect();
        let x: Vec<f32> = (0..6 * d)
            .map(|i| ((i * 29 % 17) as f32 - 8.0) * 0.1)
            .collect();
        let labels = vec![0, 1, 2, 3, 0, 1];
        let modified = vec![true, false, false, true, false, false];
        let data = TrainSet::finetune(labels, modified, k, RewardKind::Labels);
        let train = |decomposable: bool, grad_norm_every: usize, seed: u64| {
            let cfg = FitConfig {
                objective: Objective::Rft,
                optimizer: OptimizerKind::Adam,
                lr: 0.05,
                batch_size: 4,
                epochs: 6,
                metrics_every: 1,
                grad_norm_every,
                test_every: 2,
                shuffle_seed: seed,
                decomposable,
            };
            let fwd = forward_rows(inputs(&x, d));
            let test_labels = [0usize, 1, 2];
            let test_x = inputs(&x[..3 * d], d).inner();
            let test_logits = move |m: &LinearModel<<B as AutodiffBackend>::InnerBackend>,
                                    idx: &[usize]| {
                let rows = Tensor::from_data(
                    TensorData::new(idx.iter().map(|&i| i as i64).collect(), [idx.len()]),
                    &Default::default(),
                );
                m.w.forward(test_x.clone().select(0, rows))
            };
            let test = TestSet::<B, LinearModel<B>> {
                labels: &test_labels,
                logits: &test_logits,
                batch_size: 2,
            };
            let mut epochs_seen = vec![];
            let (m, h) = fit(
                linear(w.clone(), d, k),
                &fwd,
                Some(&test),
                &data,
                &cfg,
                &mut |r| epochs_seen.push(r.epoch),
            )
            .unwrap();
            assert_eq!(epochs_seen, (0..=6).collect::<Vec<_>>());
            let w: Vec<f32> = m.w.weight.val().into_data().to_vec().unwrap();
            (w, h)
        };
        // Assembled from group gradients (norms every epoch) vs plain full-batch updates (norms
        // only at epochs 0, 1 and 6, metrics from the training forward pass in between).
        let (w1, h1) = train(true, 1, 0);
        let (w2, h2) = train(false, 1000, 0);
        for (a, b) in w1.iter().zip(&w2) {
            assert!((a - b).abs() < 1e-5, "{w1:?} vs {w2:?}");
        }
        assert_eq!(h1.train.len(), 7 * 2);
        assert_eq!(h2.train.len(), 7 * 2);
        for (a, b) in h1.train.iter().zip(&h2.train) {
            assert_eq!((a.epoch, a.group, a.inputs), (b.epoch, b.group, b.inputs));
            for (x, y) in [
                (a.train_accuracy, b.train_accuracy),
                (a.reward, b.reward),
                (a.reward_std, b.reward_std),
                (a.p_label, b.p_label),
                (a.objective, b.objective),
            ] {
                assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
            }
            assert!(a.grad_norm.is_finite() && a.grad_norm > 0.0);
            assert_eq!(
                b.grad_norm.is_finite(),
                [0, 1, 6].contains(&b.epoch),
                "{b:?}"
            );
            if b.grad_norm.is_finite() && b.epoch == 0 {
                assert!((a.grad_norm - b.grad_norm).abs() < 1e-5);
            }
        }
        // The recorded objective is the mean of the loss the optimiser sees (RFT: -V).
        assert!(
            h1.train
                .iter()
                .all(|m| (m.objective + m.reward).abs() < 1e-12)
        );
        assert_eq!(
            h1.test.iter().map(|t| t.epoch).collect::<Vec<_>>(),
            vec![0, 2, 4, 6]
        );
        assert_eq!(h1.train[0].inputs, 2);
        assert_eq!(h1.train[1].inputs, 4);
        // Same seed, same numbers; another shuffle seed, other numbers.
        let (w3, h3) = train(true, 1, 0);
        assert_eq!(w1, w3);
        assert_eq!(h1, h3);
        let (w4, _) = train(true, 1, 1);
        assert_ne!(w1, w4);
    }

    #[test]
    fn coupled_models_compose_group_gradients_from_whole_batch_passes() {
        // Logits centred over the batch: every input's logits depend on the whole batch, as with
        // batch norm. Gradient-norm epochs (group gradients) and plain epochs (one full-batch
        // gradient) must give the same updates.
        let (d, k) = (3, 4);
        let w: Vec<f32> = (0..d * k)
            .map(|i| ((i * 5 % 9) as f32 - 4.0) * 0.2)
            .collect();
        let x: Vec<f32> = (0..8 * d)
            .map(|i| ((i * 31 % 13) as f32 - 6.0) * 0.15)
            .collect();
        let labels = vec![0, 1, 2, 3, 0, 1, 2, 3];
        let modified = vec![true, false, false, true, false, false, true, false];
        let data = TrainSet::finetune(labels, modified, k, RewardKind::Labels);
        let rows = forward_rows(inputs(&x, d));
        let centred = move |m: &LinearModel<B>, idx: &[usize]| {
            let l = rows(m, idx);
            l.clone() - l.mean_dim(0)
        };
        let train = |grad_norm_every: usize| {
            let cfg = FitConfig {
                objective: Objective::Sft,
                optimizer: OptimizerKind::Sgd,
                lr: 0.3,
                batch_size: 5,
                epochs: 4,
                metrics_every: 1,
                grad_norm_every,
                test_every: 100,
                shuffle_seed: 3,
                decomposable: false,
            };
            let (m, h) = fit(
                linear(w.clone(), d, k),
                &centred,
                None,
                &data,
                &cfg,
                &mut |_| {},
            )
            .unwrap();
            (m.w.weight.val().into_data().to_vec::<f32>().unwrap(), h)
        };
        let ((w1, h1), (w2, h2)) = (train(1), train(1000));
        for (a, b) in w1.iter().zip(&w2) {
            assert!((a - b).abs() < 1e-5, "{w1:?} vs {w2:?}");
        }
        assert_ne!(w1, w, "training moved the weights");
        for (a, b) in h1.train.iter().zip(&h2.train) {
            assert!((a.train_accuracy - b.train_accuracy).abs() < 1e-9);
            assert!((a.objective - b.objective).abs() < 1e-5, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn divergence_is_an_error_not_a_nan_table() {
        let (d, k) = (1, 3);
        let data = TrainSet::finetune(vec![0], vec![false], k, RewardKind::Labels);
        let fwd = forward_rows(inputs(&[f32::NAN], d));
        let cfg = FitConfig {
            objective: Objective::Sft,
            optimizer: OptimizerKind::Sgd,
            lr: 0.1,
            batch_size: 1,
            epochs: 1,
            metrics_every: 1,
            grad_norm_every: 1,
            test_every: 1,
            shuffle_seed: 0,
            decomposable: true,
        };
        let err = fit(
            linear(vec![0.0; 3], d, k),
            &fwd,
            None,
            &data,
            &cfg,
            &mut |_| {},
        )
        .unwrap_err();
        assert!(err.to_string().contains("lower the learning rate"), "{err}");
        let bad = TrainSet {
            targets: vec![1.0],
            ..data.clone()
        };
        assert!(matches!(
            fit(
                linear(vec![0.0; 3], d, k),
                &fwd,
                None,
                &bad,
                &cfg,
                &mut |_| {}
            ),
            Err(TrainError::Config(_))
        ));
    }
}
