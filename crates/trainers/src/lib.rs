//! Every optimisation procedure of the paper, written once over the `model` crate's burn
//! backends, plus the instruments that make vanishing gradients visible.
//!
//! * [`policy`]: the one policy abstraction ([`policy::Policy`]) every trainer is generic over,
//!   implemented for GPT-2 and T5.
//! * [`sft`]: supervised finetuning (token cross-entropy), with the partial-SFT knobs.
//! * [`exact`]: expected-gradient RFT, `V(x) = sum_y p(y|x) r(x, y)` by enumeration.
//! * [`pg`]: sample-based policy gradients: REINFORCE (optional group-mean baseline, KL penalty),
//!   GRPO (group / batch / no std scaling, i.e. Dr. GRPO), RLOO, and DAPO-style dynamic sampling.
//! * [`ppo`]: PPO as RL4LMs runs it (the paper's RFT), with its adaptive KL controller ([`kl`]),
//!   value model and GAE ([`gae`]).
//! * [`diagnostics`]: per-input reward mean and std, the fraction of small-std inputs.
//! * [`optim`]: the optimiser kind, Adam(W), schedules, global-norm clipping and the one gradient
//!   norm every trainer reports.
//! * [`names`]: config enums' names, read from their serde names ([`serde_names!`]).
//! * [`error`]: [`TrainError`], the one error type of every trainer.
//! * [`checkpoint`]: save and resume mid-training with identical continuation.
//! * [`synthetic`]: a tiny generation task (reverse a string) for tests and demos.
//! * [`classify`]: classifiers over a small label space (the controlled experiments, Section 4.2):
//!   SFT with (soft-label) cross-entropy and exact expected-gradient RFT.

// `!(x > 0.0)` on purpose: it also rejects NaN.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub mod checkpoint;
pub mod classify;
pub mod diagnostics;
pub mod error;
pub mod exact;
pub mod gae;
pub mod kl;
pub mod lm;
pub mod names;
pub mod optim;
pub mod pg;
pub mod policy;
pub mod ppo;
pub mod sft;
pub mod synthetic;

pub use error::{TrainError, ensure_finite};
