//! Every optimisation procedure of the paper, written once over the `model` crate's burn
//! backends, plus the instruments that make vanishing gradients visible.
//!
//! * `classify`: classifiers over a small label space (the controlled experiments, Section 4.2):
//!   SFT with (soft-label) cross-entropy and exact expected-gradient RFT.

pub mod classify;
