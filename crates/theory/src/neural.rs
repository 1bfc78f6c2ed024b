//! Setting (c) of the Theorem 1 check: a small neural autoregressive policy.
//!
//! At a prefix `s` of the output, the network reads the features
//! `u(x, s) = [x ; one-hot(s_1) ; ... ; one-hot(s_{L-1}) ; one-hot(|s|)]`
//! (unused token slots are zero) and computes the next-token logits
//! `f_theta(x, s) = W2 tanh(W1 u + b1) + b2`, with `theta = (W1, b1, W2, b2)`.
//!
//! The expected gradient chains the exact logit gradients of [`crate::sequence::evaluate`]
//! through each prefix's Jacobian: `grad V = sum_s J_s^T dV/dz_s`. Theorem 1's
//! `gamma(x) = max_s ||J_s||_2` is computed from the rows of `J_s` (one vector-Jacobian product
//! per logit).

use crate::linalg::spectral_norm;
use crate::sequence::{ExactEvaluation, SequenceSpace, evaluate};

/// A two-layer tanh MLP policy over a [`SequenceSpace`] for one input `x`.
#[derive(Debug, Clone)]
pub struct MlpPolicy {
    pub space: SequenceSpace,
    /// The input `x` (its features are fixed; only `theta` is trained).
    pub input: Vec<f64>,
    pub hidden: usize,
    /// `hidden x feature_dim`, row-major.
    pub w1: Vec<f64>,
    pub b1: Vec<f64>,
    /// `vocab x hidden`, row-major.
    pub w2: Vec<f64>,
    pub b2: Vec<f64>,
}

impl MlpPolicy {
    /// A policy with Gaussian weights: `W1 ~ N(0, 1/feature_dim)`, `W2 ~ N(0, scale^2/hidden)`,
    /// biases zero. `scale` controls how peaked the policy is.
    pub fn random(
        space: SequenceSpace,
        input: Vec<f64>,
        hidden: usize,
        scale: f64,
        rng: &mut impl rand::Rng,
    ) -> Self {
        let feature_dim = input.len() + (space.length - 1) * space.vocab + space.length;
        let mut normal = |n: usize, std: f64| -> Vec<f64> {
            (0..n).map(|_| std * crate::standard_normal(rng)).collect()
        };
        let w1 = normal(hidden * feature_dim, (1.0 / feature_dim as f64).sqrt());
        let w2 = normal(space.vocab * hidden, scale / (hidden as f64).sqrt());
        Self {
            space,
            input,
            hidden,
            w1,
            b1: vec![0.0; hidden],
            w2,
            b2: vec![0.0; space.vocab],
        }
    }

    pub fn feature_dim(&self) -> usize {
        self.input.len() + (self.space.length - 1) * self.space.vocab + self.space.length
    }

    /// Number of parameters in `theta`.
    pub fn num_params(&self) -> usize {
        self.w1.len() + self.b1.len() + self.w2.len() + self.b2.len()
    }

    /// `theta` flattened in the order `W1, b1, W2, b2`.
    pub fn params(&self) -> Vec<f64> {
        [&self.w1[..], &self.b1, &self.w2, &self.b2].concat()
    }

    /// Replace `theta` (same order as [`Self::params`]).
    pub fn set_params(&mut self, theta: &[f64]) {
        assert_eq!(theta.len(), self.num_params());
        let (a, rest) = theta.split_at(self.w1.len());
        let (b, rest) = rest.split_at(self.b1.len());
        let (c, d) = rest.split_at(self.w2.len());
        self.w1.copy_from_slice(a);
        self.b1.copy_from_slice(b);
        self.w2.copy_from_slice(c);
        self.b2.copy_from_slice(d);
    }

    /// The features `u(x, s)` of prefix `index` of length `level`.
    fn features(&self, level: usize, index: usize) -> Vec<f64> {
        let v = self.space.vocab;
        let mut u = vec![0.0; self.feature_dim()];
        u[..self.input.len()].copy_from_slice(&self.input);
        let tokens_at = self.input.len();
        for (pos, tok) in self.space.tokens(level, index).into_iter().enumerate() {
            u[tokens_at + pos * v + tok] = 1.0;
        }
        u[tokens_at + (self.space.length - 1) * v + level] = 1.0;
        u
    }

    /// Hidden activations `h = tanh(W1 u + b1)` and logits `z = W2 h + b2`.
    fn forward(&self, u: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let d = u.len();
        let h: Vec<f64> = (0..self.hidden)
            .map(|j| {
                let row = &self.w1[j * d..(j + 1) * d];
                (row.iter().zip(u).map(|(w, x)| w * x).sum::<f64>() + self.b1[j]).tanh()
            })
            .collect();
        let z = (0..self.space.vocab)
            .map(|a| {
                let row = &self.w2[a * self.hidden..(a + 1) * self.hidden];
                row.iter().zip(&h).map(|(w, x)| w * x).sum::<f64>() + self.b2[a]
            })
            .collect();
        (h, z)
    }

    /// Vector-Jacobian product `J_s^T g` for a logit-space vector `g`, accumulated into `out`.
    fn add_vjp(&self, u: &[f64], h: &[f64], g: &[f64], out: &mut [f64]) {
        let (d, hid, v) = (u.len(), self.hidden, self.space.vocab);
        let (o_w1, o_b1, o_w2, o_b2) = (0, hid * d, hid * d + hid, hid * d + hid + v * hid);
        // z = W2 h + b2
        for a in 0..v {
            out[o_b2 + a] += g[a];
            for j in 0..hid {
                out[o_w2 + a * hid + j] += g[a] * h[j];
            }
        }
        // h = tanh(W1 u + b1): back through W2 and tanh'
        for j in 0..hid {
            let dh: f64 = (0..v).map(|a| self.w2[a * hid + j] * g[a]).sum();
            let da = dh * (1.0 - h[j] * h[j]);
            out[o_b1 + j] += da;
            for k in 0..d {
                out[o_w1 + j * d + k] += da * u[k];
            }
        }
    }

    /// Logits at every prefix, prefix-major, in [`SequenceSpace`] order.
    pub fn logits(&self) -> Vec<f64> {
        let mut z = Vec::with_capacity(self.space.num_prefixes() * self.space.vocab);
        for level in 0..self.space.length {
            for index in 0..self.space.vocab.pow(level as u32) {
                z.extend(self.forward(&self.features(level, index)).1);
            }
        }
        z
    }

    /// Exact value, reward std and the gradient of `V` with respect to `theta`.
    pub fn value_and_gradient(&self, rewards: &[f64]) -> (ExactEvaluation, Vec<f64>) {
        let eval = evaluate(self.space, &self.logits(), rewards);
        let v = self.space.vocab;
        let mut grad = vec![0.0; self.num_params()];
        let mut s = 0;
        for level in 0..self.space.length {
            for index in 0..v.pow(level as u32) {
                let u = self.features(level, index);
                let (h, _) = self.forward(&u);
                self.add_vjp(&u, &h, &eval.logit_grads[s * v..(s + 1) * v], &mut grad);
                s += 1;
            }
        }
        (eval, grad)
    }

    /// Theorem 1's `gamma(x; theta) = max_s ||J_{f_theta(x, s)}||_2` over every prefix `s`.
    pub fn gamma(&self) -> f64 {
        let v = self.space.vocab;
        let mut gamma: f64 = 0.0;
        for level in 0..self.space.length {
            for index in 0..v.pow(level as u32) {
                let u = self.features(level, index);
                let (h, _) = self.forward(&u);
                let rows: Vec<Vec<f64>> = (0..v)
                    .map(|a| {
                        let mut e = vec![0.0; v];
                        e[a] = 1.0;
                        let mut row = vec![0.0; self.num_params()];
                        self.add_vjp(&u, &h, &e, &mut row);
                        row
                    })
                    .collect();
                gamma = gamma.max(spectral_norm(&rows));
            }
        }
        gamma
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    fn policy_and_rewards(seed: u64) -> (MlpPolicy, Vec<f64>) {
        let mut rng = crate::rng(seed);
        let space = SequenceSpace::new(3, 2);
        let input = (0..4).map(|_| crate::standard_normal(&mut rng)).collect();
        let mut policy = MlpPolicy::random(space, input, 5, 2.0, &mut rng);
        policy
            .b1
            .iter_mut()
            .for_each(|b| *b = 0.3 * crate::standard_normal(&mut rng));
        let rewards = (0..space.num_sequences())
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        (policy, rewards)
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let (mut policy, rewards) = policy_and_rewards(5);
        let (_, grad) = policy.value_and_gradient(&rewards);
        let theta = policy.params();
        let eps = 1e-6;
        for i in 0..theta.len() {
            let mut t = theta.clone();
            t[i] = theta[i] + eps;
            policy.set_params(&t);
            let up = policy.value_and_gradient(&rewards).0.value;
            t[i] = theta[i] - eps;
            policy.set_params(&t);
            let down = policy.value_and_gradient(&rewards).0.value;
            let fd = (up - down) / (2.0 * eps);
            assert!(
                (fd - grad[i]).abs() < 1e-7,
                "param {i}: fd {fd} vs analytic {}",
                grad[i]
            );
        }
    }

    #[test]
    fn gamma_is_the_largest_spectral_norm_of_the_finite_difference_jacobians() {
        let (mut policy, _) = policy_and_rewards(9);
        let gamma = policy.gamma();
        let theta = policy.params();
        let v = policy.space.vocab;
        let eps = 1e-6;
        // Column i of every prefix's Jacobian, by central differences.
        let columns: Vec<Vec<f64>> = (0..theta.len())
            .map(|i| {
                let mut t = theta.clone();
                t[i] = theta[i] + eps;
                policy.set_params(&t);
                let up = policy.logits();
                t[i] = theta[i] - eps;
                policy.set_params(&t);
                let down = policy.logits();
                up.iter()
                    .zip(&down)
                    .map(|(a, b)| (a - b) / (2.0 * eps))
                    .collect()
            })
            .collect();
        let fd_gamma = (0..policy.space.num_prefixes())
            .map(|s| {
                let rows: Vec<Vec<f64>> = (0..v)
                    .map(|a| columns.iter().map(|c| c[s * v + a]).collect())
                    .collect();
                spectral_norm(&rows)
            })
            .fold(0.0, f64::max);
        assert!(
            (fd_gamma - gamma).abs() < 1e-6 * gamma,
            "fd {fd_gamma} vs {gamma}"
        );
    }
}
