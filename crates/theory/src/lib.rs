//! Exact, sampling-free checks of the two theorems of
//! *Vanishing Gradients in Reinforcement Finetuning of Language Models* (Razin et al., ICLR 2024).
//!
//! - [`theorem1`]: the expected gradient of `V(x) = E_{y~p(.|x)}[r(x,y)]` is bounded by
//!   `6 * L * gamma(x) * STD_{y~p(.|x)}[r(x,y)]^(2/3)` ([`theorem1::theorem1_bound`]).
//!   Checked on single-step softmax policies ([`bandit`]), autoregressive tabular policies
//!   ([`sequence::TabularPolicy`]) and a small neural autoregressive policy ([`neural`]), all
//!   evaluated exactly by enumerating the output space ([`sequence`]).
//! - [`theorem2`]: linear models over orthonormal inputs trained by gradient flow ([`ode`]):
//!   reinforcement finetuning needs time `Omega(1/std^2)`, supervised finetuning `O(ln(1/std))`.
//!
//! Everything is `f64` and deterministic given a seed.

pub mod bandit;
pub mod linalg;
pub mod neural;
pub mod ode;
pub mod sequence;
pub mod softmax;
pub mod stats;
pub mod theorem1;
pub mod theorem2;

/// Errors from the theory experiments: a configuration the math does not allow.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TheoryError {
    #[error("invalid setting: {0}")]
    Invalid(String),
}

/// A deterministic random number generator for a given seed (ChaCha8, platform independent).
pub fn rng(seed: u64) -> rand_chacha::ChaCha8Rng {
    use rand::SeedableRng;
    rand_chacha::ChaCha8Rng::seed_from_u64(seed)
}

/// A standard normal draw (Box-Muller), so the crate needs no distribution crate.
pub fn standard_normal(rng: &mut impl rand::Rng) -> f64 {
    use rand::RngExt;
    let u1: f64 = 1.0 - rng.random::<f64>(); // in (0, 1]
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}
