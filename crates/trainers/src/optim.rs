//! Optimiser settings shared by every trainer (the language-model trainers and the classifiers of
//! [`crate::classify`]): the update rule ([`OptimizerKind`]), Adam(W), learning-rate schedule,
//! global-norm gradient clipping (as `torch.nn.utils.clip_grad_norm_`), and the gradient norm
//! itself ([`grad_norm`], also the per-group norms of the classifiers).

use burn::module::{AutodiffModule, ModuleVisitor, Param};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{
    Adam, AdamConfig, AdamW, AdamWConfig, GradientsParams, Optimizer, Sgd, SgdConfig,
};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{ElementConversion, Tensor};
use serde::{Deserialize, Serialize};

/// Learning rate as a function of the optimiser step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    /// `lr` at every step.
    #[default]
    Constant,
    /// Linear warm-up from 0 to `lr` over `warmup_steps`, then linear decay to 0 at `total_steps`
    /// (transformers' `get_linear_schedule_with_warmup`).
    WarmupLinear {
        warmup_steps: usize,
        total_steps: usize,
    },
    /// Linear warm-up, then half a cosine from `lr` to 0 at `total_steps` (transformers'
    /// `get_cosine_schedule_with_warmup`, `lr_scheduler_type: cosine`).
    WarmupCosine {
        warmup_steps: usize,
        total_steps: usize,
    },
}

impl Schedule {
    /// The variant's serde name (`constant`, `warmup_linear`).
    pub fn name(&self) -> &'static str {
        crate::names::serde_name(self)
    }

    /// Learning rate of step `step` (0-based).
    pub fn lr(&self, base: f64, step: usize) -> f64 {
        match *self {
            Schedule::Constant => base,
            Schedule::WarmupLinear {
                warmup_steps,
                total_steps,
            } => {
                if step < warmup_steps {
                    base * step as f64 / warmup_steps.max(1) as f64
                } else {
                    let left = total_steps.saturating_sub(step) as f64;
                    base * (left / total_steps.saturating_sub(warmup_steps).max(1) as f64).max(0.0)
                }
            }
            Schedule::WarmupCosine {
                warmup_steps,
                total_steps,
            } => {
                if step < warmup_steps {
                    base * step as f64 / warmup_steps.max(1) as f64
                } else {
                    let progress = ((step - warmup_steps) as f64
                        / total_steps.saturating_sub(warmup_steps).max(1) as f64)
                        .min(1.0);
                    base * (0.5 * (1.0 + (std::f64::consts::PI * progress).cos())).max(0.0)
                }
            }
        }
    }
}

/// Which update rule, for every trainer. [`OptimConfig`] builds it as burn's AdamW (the
/// language-model trainers); the classifiers build it with [`Optim::plain`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// Adam; with [`OptimConfig`], with decoupled weight decay (`weight_decay: 0` is plain Adam).
    #[default]
    Adam,
    /// Plain gradient descent (no momentum): the update is `-lr * grad`.
    Sgd,
}

crate::serde_names!(OptimizerKind);

/// Optimiser settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimConfig {
    #[serde(default)]
    pub optimizer: OptimizerKind,
    pub learning_rate: f64,
    #[serde(default)]
    pub weight_decay: f64,
    #[serde(default = "default_beta1")]
    pub beta1: f64,
    #[serde(default = "default_beta2")]
    pub beta2: f64,
    #[serde(default = "default_eps")]
    pub eps: f64,
    #[serde(default)]
    pub schedule: Schedule,
    /// Clip the global gradient norm to this value (none: no clipping).
    #[serde(default)]
    pub max_grad_norm: Option<f64>,
}

fn default_beta1() -> f64 {
    0.9
}
fn default_beta2() -> f64 {
    0.999
}
fn default_eps() -> f64 {
    1e-8
}

impl OptimConfig {
    pub fn adam(learning_rate: f64) -> Self {
        OptimConfig {
            optimizer: OptimizerKind::Adam,
            learning_rate,
            weight_decay: 0.0,
            beta1: default_beta1(),
            beta2: default_beta2(),
            eps: default_eps(),
            schedule: Schedule::Constant,
            max_grad_norm: None,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if !(self.learning_rate >= 0.0 && self.learning_rate.is_finite()) {
            return Err(format!(
                "learning_rate must be >= 0, got {}",
                self.learning_rate
            ));
        }
        if let Some(m) = self.max_grad_norm
            && m <= 0.0
        {
            return Err(format!("max_grad_norm must be > 0, got {m}"));
        }
        Ok(())
    }

    pub fn sgd(learning_rate: f64) -> Self {
        OptimConfig {
            optimizer: OptimizerKind::Sgd,
            ..Self::adam(learning_rate)
        }
    }

    pub fn init<B: AutodiffBackend, M: AutodiffModule<B>>(&self) -> Optim<B, M> {
        match self.optimizer {
            OptimizerKind::Adam => Optim::Adam(
                AdamWConfig::new()
                    .with_beta_1(self.beta1 as f32)
                    .with_beta_2(self.beta2 as f32)
                    .with_epsilon(self.eps as f32)
                    .with_weight_decay(self.weight_decay as f32)
                    .init(),
            ),
            OptimizerKind::Sgd => Optim::Sgd(SgdConfig::new().init()),
        }
    }
}

/// The optimiser a [`OptimConfig`] (or [`Optim::plain`]) builds.
#[derive(Clone)]
pub enum Optim<B: AutodiffBackend, M: AutodiffModule<B>> {
    /// burn's AdamW: [`OptimizerKind::Adam`] as [`OptimConfig`] builds it.
    Adam(OptimizerAdaptor<AdamW, M, B>),
    /// burn's `Adam` without weight decay: [`OptimizerKind::Adam`] as [`Optim::plain`] builds it
    /// for the classifiers. The same update as `Adam` with weight decay 0 up to rounding (burn
    /// applies the bias corrections in another order), kept so the controlled experiments'
    /// numbers stay as they were.
    PlainAdam(OptimizerAdaptor<Adam, M, B>),
    Sgd(OptimizerAdaptor<Sgd<B::InnerBackend>, M, B>),
}

impl<B: AutodiffBackend, M: AutodiffModule<B>> Optim<B, M> {
    /// `kind` with PyTorch's defaults and nothing else, as ml-rlgrad's classifiers use
    /// `torch.optim.Adam` (betas (0.9, 0.999), eps 1e-8, no weight decay) and `torch.optim.SGD`
    /// (no momentum, no weight decay).
    pub fn plain(kind: OptimizerKind) -> Self {
        match kind {
            OptimizerKind::Adam => Optim::PlainAdam(AdamConfig::new().with_epsilon(1e-8).init()),
            OptimizerKind::Sgd => Optim::Sgd(SgdConfig::new().init()),
        }
    }

    pub fn step(&mut self, lr: f64, module: M, grads: GradientsParams) -> M {
        match self {
            Optim::Adam(o) => o.step(lr, module, grads),
            Optim::PlainAdam(o) => o.step(lr, module, grads),
            Optim::Sgd(o) => o.step(lr, module, grads),
        }
    }
}

/// An optimiser with its config and step count: one `step` = schedule, clipping, update.
pub struct Trainer<B: AutodiffBackend, M: AutodiffModule<B>> {
    pub config: OptimConfig,
    pub optim: Optim<B, M>,
    /// Optimiser steps taken so far.
    pub steps: usize,
}

/// What one optimiser step saw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepStats {
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    pub learning_rate: f64,
}

impl<B: AutodiffBackend, M: AutodiffModule<B>> Trainer<B, M> {
    pub fn new(config: OptimConfig) -> Self {
        let optim = config.init();
        Trainer {
            config,
            optim,
            steps: 0,
        }
    }

    /// Backpropagates `loss`, clips, and updates `module`. Fails (before touching the weights) on a
    /// non-finite loss or gradient norm.
    pub fn step(
        &mut self,
        module: M,
        loss: Tensor<B, 1>,
        at: usize,
    ) -> Result<(M, StepStats), crate::TrainError> {
        let loss_value: f64 = loss.clone().into_scalar().elem();
        crate::ensure_finite(at, "loss", loss_value)?;
        let grads = GradientsParams::from_grads(loss.backward(), &module);
        self.apply(module, grads, at)
    }

    /// Clips and applies already computed gradients.
    pub fn apply(
        &mut self,
        module: M,
        mut grads: GradientsParams,
        at: usize,
    ) -> Result<(M, StepStats), crate::TrainError> {
        let grad_norm = match self.config.max_grad_norm {
            Some(max) => clip_grad_norm(&module, &mut grads, max),
            None => grad_norm(&module, &grads),
        };
        crate::ensure_finite(at, "gradient norm", grad_norm)?;
        let learning_rate = self
            .config
            .schedule
            .lr(self.config.learning_rate, self.steps);
        let module = self.optim.step(learning_rate, module, grads);
        self.steps += 1;
        Ok((
            module,
            StepStats {
                grad_norm,
                learning_rate,
            },
        ))
    }
}

/// Sum of the squares of the visited parameters' gradients, each tensor's sum added in f64.
struct SquaredNorm<'a> {
    grads: &'a GradientsParams,
    sum: f64,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for SquaredNorm<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.get::<B::InnerBackend, D>(param.id) {
            self.sum += g.square().sum().into_scalar().elem::<f64>();
        }
    }
}

/// Euclidean norm of all of `module`'s gradients in `grads`, as one vector:
/// `sqrt(Σ_params ||grad||^2)`, each parameter's sum of squares taken on the device and added on
/// the host in f64. Parameters without a gradient in `grads` count as zero.
pub fn grad_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    grads: &GradientsParams,
) -> f64 {
    let mut v = SquaredNorm { grads, sum: 0.0 };
    module.visit(&mut v);
    v.sum.sqrt()
}

/// Multiplies the visited parameters' gradients by `factor`.
struct Scale<'a> {
    grads: &'a mut GradientsParams,
    factor: f64,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.remove::<B::InnerBackend, D>(param.id) {
            self.grads.register(param.id, g.mul_scalar(self.factor));
        }
    }
}

/// Scales the gradients so their global norm is at most `max_norm` (PyTorch's
/// `clip_grad_norm_`: factor `max_norm / (norm + 1e-6)` when below 1). Returns the norm before.
pub fn clip_grad_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    grads: &mut GradientsParams,
    max_norm: f64,
) -> f64 {
    let norm = grad_norm(module, grads);
    let factor = max_norm / (norm + 1e-6);
    if factor < 1.0 {
        module.visit(&mut Scale { grads, factor });
    }
    norm
}

/// Saving and restoring an optimiser's state (burn's named MessagePack, full precision), for
/// trainings that resume after a kill.
impl<B: AutodiffBackend, M: AutodiffModule<B>> Optim<B, M> {
    /// Writes the state to `path` (`.mpk` is appended).
    pub fn save_state(&self, path: &std::path::Path) -> Result<(), String> {
        use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder};
        let rec = NamedMpkFileRecorder::<FullPrecisionSettings>::new();
        let path = path.to_path_buf();
        match self {
            Optim::Adam(o) => rec.record(o.to_record(), path),
            Optim::PlainAdam(o) => rec.record(o.to_record(), path),
            Optim::Sgd(o) => rec.record(o.to_record(), path),
        }
        .map_err(|e| e.to_string())
    }

    /// Restores the state [`Optim::save_state`] wrote to `path` into an optimiser of the same kind.
    pub fn load_state(self, path: &std::path::Path, device: &B::Device) -> Result<Self, String> {
        use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder};
        let rec = NamedMpkFileRecorder::<FullPrecisionSettings>::new();
        let path = path.to_path_buf();
        let e = |e: burn::record::RecorderError| e.to_string();
        Ok(match self {
            Optim::Adam(o) => Optim::Adam(o.load_record(rec.load(path, device).map_err(e)?)),
            Optim::PlainAdam(o) => {
                Optim::PlainAdam(o.load_record(rec.load(path, device).map_err(e)?))
            }
            Optim::Sgd(o) => Optim::Sgd(o.load_record(rec.load(path, device).map_err(e)?)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_linear_rises_then_decays_to_zero() {
        let s = Schedule::WarmupLinear {
            warmup_steps: 10,
            total_steps: 110,
        };
        assert_eq!(s.lr(1.0, 0), 0.0);
        assert!((s.lr(1.0, 5) - 0.5).abs() < 1e-12);
        assert!((s.lr(1.0, 10) - 1.0).abs() < 1e-12);
        assert!((s.lr(1.0, 60) - 0.5).abs() < 1e-12);
        assert_eq!(s.lr(1.0, 110), 0.0);
        assert_eq!(s.lr(1.0, 500), 0.0);
        assert_eq!(Schedule::Constant.lr(0.3, 99), 0.3);
    }

    #[test]
    fn warmup_cosine_is_half_way_at_the_middle_and_zero_at_the_end() {
        let s = Schedule::WarmupCosine {
            warmup_steps: 10,
            total_steps: 110,
        };
        assert!((s.lr(2.0, 5) - 1.0).abs() < 1e-12);
        assert!((s.lr(2.0, 10) - 2.0).abs() < 1e-12);
        assert!((s.lr(2.0, 60) - 1.0).abs() < 1e-12);
        assert!(s.lr(2.0, 110).abs() < 1e-12);
        assert!(s.lr(2.0, 500).abs() < 1e-12);
    }

    #[test]
    fn optimizer_kind_names_are_its_serde_names() {
        crate::names::assert_serde_names(
            &[(OptimizerKind::Adam, "adam"), (OptimizerKind::Sgd, "sgd")],
            OptimizerKind::name,
            Some(OptimizerKind::parse),
        );
        assert_eq!(OptimizerKind::Sgd.to_string(), "sgd");
    }

    #[test]
    fn schedule_names_are_its_serde_names() {
        crate::names::assert_serde_names(
            &[
                (Schedule::Constant, "constant"),
                (
                    Schedule::WarmupLinear {
                        warmup_steps: 2,
                        total_steps: 9,
                    },
                    "warmup_linear",
                ),
            ],
            Schedule::name,
            None,
        );
    }
}
