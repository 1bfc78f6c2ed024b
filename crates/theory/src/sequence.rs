//! Exact evaluation of autoregressive policies over a small output space.
//!
//! A policy emits `length` tokens from a vocabulary of `vocab` tokens; at every prefix `s`
//! (including the empty one) it has logits `z_s` and picks the next token with `softmax(z_s)`.
//! Enumerating all `vocab^length` sequences gives, with no sampling:
//! - the expected reward `V(x) = sum_y p(y|x) r(x,y)`,
//! - the reward standard deviation `STD_{y~p(.|x)}[r(x,y)]` (two-pass, so it stays accurate at 1e-9),
//! - the gradient of `V` with respect to every prefix's logits,
//!   `dV/dz_s = P(s) * p(.|s) * (Q(s,.) - V(s))`, where `P(s)` is the probability of reaching `s`,
//!   `Q(s,a)` the expected reward after appending `a` and `V(s) = sum_a p(a|s) Q(s,a)`.
//!
//! [`TabularPolicy`] uses the logits themselves as parameters (Theorem 1's `gamma = 1`);
//! [`crate::neural::MlpPolicy`] computes the logits with a network and chains the same
//! logit gradients through its Jacobians.

use crate::softmax::softmax_into;

/// All sequences of `length` tokens over `vocab` tokens, and their prefixes.
///
/// Prefixes are numbered level by level: the empty prefix is 0, then the `vocab` prefixes of
/// length 1, and so on; within a level, a prefix's index is its tokens read as a base-`vocab`
/// number (first token most significant). A full sequence's index is numbered the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequenceSpace {
    pub vocab: usize,
    pub length: usize,
}

impl SequenceSpace {
    pub fn new(vocab: usize, length: usize) -> Self {
        assert!(vocab >= 2 && length >= 1, "need vocab >= 2 and length >= 1");
        Self { vocab, length }
    }

    /// `vocab^length`.
    pub fn num_sequences(&self) -> usize {
        self.vocab.pow(self.length as u32)
    }

    /// Number of prefixes at which the policy acts: `sum_{l < length} vocab^l`.
    pub fn num_prefixes(&self) -> usize {
        (0..self.length).map(|l| self.vocab.pow(l as u32)).sum()
    }

    /// Global id of the first prefix of length `level`.
    pub fn level_offset(&self, level: usize) -> usize {
        (0..level).map(|l| self.vocab.pow(l as u32)).sum()
    }

    /// The tokens of prefix `index` of length `level` (first token first).
    pub fn tokens(&self, level: usize, mut index: usize) -> Vec<usize> {
        let mut t = vec![0; level];
        for slot in t.iter_mut().rev() {
            *slot = index % self.vocab;
            index /= self.vocab;
        }
        t
    }
}

/// Everything an exact evaluation of a policy yields.
#[derive(Debug, Clone)]
pub struct ExactEvaluation {
    /// `V(x) = E_{y~p(.|x)}[r(x,y)]`.
    pub value: f64,
    /// `STD_{y~p(.|x)}[r(x,y)]`.
    pub reward_std: f64,
    /// `dV/dz_s`, prefix-major (`num_prefixes * vocab` entries).
    pub logit_grads: Vec<f64>,
    /// `p(y|x)` for every full sequence.
    pub sequence_probs: Vec<f64>,
}

/// Evaluate exactly the policy whose logits at every prefix are `logits`
/// (`num_prefixes * vocab`, prefix-major) against `rewards` (one per full sequence).
pub fn evaluate(space: SequenceSpace, logits: &[f64], rewards: &[f64]) -> ExactEvaluation {
    let (v, len) = (space.vocab, space.length);
    assert_eq!(
        logits.len(),
        space.num_prefixes() * v,
        "one logit vector per prefix"
    );
    assert_eq!(
        rewards.len(),
        space.num_sequences(),
        "one reward per sequence"
    );

    // Forward: next-token probabilities p(.|s) and reach probabilities P(s).
    let mut cond = vec![0.0; logits.len()];
    for (z, p) in logits.chunks_exact(v).zip(cond.chunks_exact_mut(v)) {
        softmax_into(z, p);
    }
    let mut reach = vec![0.0; space.num_prefixes()];
    reach[0] = 1.0;
    let mut sequence_probs = vec![0.0; space.num_sequences()];
    for level in 0..len {
        let off = space.level_offset(level);
        for idx in 0..v.pow(level as u32) {
            let s = off + idx;
            for a in 0..v {
                let child = reach[s] * cond[s * v + a];
                if level + 1 < len {
                    reach[space.level_offset(level + 1) + idx * v + a] = child;
                } else {
                    sequence_probs[idx * v + a] = child;
                }
            }
        }
    }

    // Backward: Q(s, a) = value of the child; V(s) = sum_a p(a|s) Q(s, a);
    // dV/dz_{s,a} = P(s) p(a|s) (Q(s,a) - V(s)).
    let mut logit_grads = vec![0.0; logits.len()];
    let mut child_values = rewards.to_vec();
    for level in (0..len).rev() {
        let off = space.level_offset(level);
        let mut values = vec![0.0; v.pow(level as u32)];
        for (idx, value) in values.iter_mut().enumerate() {
            let s = off + idx;
            let q = &child_values[idx * v..(idx + 1) * v];
            let p = &cond[s * v..(s + 1) * v];
            *value = p.iter().zip(q).map(|(pa, qa)| pa * qa).sum();
            for a in 0..v {
                logit_grads[s * v + a] = reach[s] * p[a] * (q[a] - *value);
            }
        }
        child_values = values;
    }
    let value = child_values[0];
    let variance: f64 = sequence_probs
        .iter()
        .zip(rewards)
        .map(|(p, r)| p * (r - value).powi(2))
        .sum();
    ExactEvaluation {
        value,
        reward_std: variance.sqrt(),
        logit_grads,
        sequence_probs,
    }
}

/// An autoregressive policy whose parameters are the logits at every prefix.
/// The Jacobian of each prefix's logits with respect to the parameters selects a block of the
/// parameter vector, so Theorem 1's `gamma` is exactly 1.
#[derive(Debug, Clone)]
pub struct TabularPolicy {
    pub space: SequenceSpace,
    /// `num_prefixes * vocab` logits, prefix-major.
    pub logits: Vec<f64>,
}

impl TabularPolicy {
    /// Exact value, reward std and gradient (`gradient == logit_grads` for this parameterisation).
    pub fn evaluate(&self, rewards: &[f64]) -> ExactEvaluation {
        evaluate(self.space, &self.logits, rewards)
    }

    /// Theorem 1's `gamma`: the largest spectral norm of a prefix's logit Jacobian, here 1.
    pub fn gamma(&self) -> f64 {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    fn random_policy(space: SequenceSpace, seed: u64) -> (TabularPolicy, Vec<f64>) {
        let mut rng = crate::rng(seed);
        let logits = (0..space.num_prefixes() * space.vocab)
            .map(|_| 2.0 * crate::standard_normal(&mut rng))
            .collect();
        let rewards = (0..space.num_sequences())
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        (TabularPolicy { space, logits }, rewards)
    }

    /// Brute force: product of per-step softmax probabilities along each sequence.
    fn brute_force_value(space: SequenceSpace, logits: &[f64], rewards: &[f64]) -> f64 {
        let v = space.vocab;
        (0..space.num_sequences())
            .map(|seq| {
                let toks = space.tokens(space.length, seq);
                let mut p = 1.0;
                for level in 0..space.length {
                    let idx = toks[..level].iter().fold(0, |acc, t| acc * v + t);
                    let s = space.level_offset(level) + idx;
                    let probs = crate::softmax::softmax(&logits[s * v..(s + 1) * v]);
                    p *= probs[toks[level]];
                }
                p * rewards[seq]
            })
            .sum()
    }

    #[test]
    fn value_matches_brute_force_enumeration() {
        let space = SequenceSpace::new(3, 3);
        let (policy, rewards) = random_policy(space, 7);
        let eval = policy.evaluate(&rewards);
        let brute = brute_force_value(space, &policy.logits, &rewards);
        assert!(
            (eval.value - brute).abs() < 1e-14,
            "{} vs {}",
            eval.value,
            brute
        );
        assert!((eval.sequence_probs.iter().sum::<f64>() - 1.0).abs() < 1e-14);
    }

    #[test]
    fn logit_gradient_matches_finite_differences() {
        let space = SequenceSpace::new(3, 2);
        let (policy, rewards) = random_policy(space, 11);
        let eval = policy.evaluate(&rewards);
        let eps = 1e-6;
        for i in 0..policy.logits.len() {
            let (mut up, mut down) = (policy.logits.clone(), policy.logits.clone());
            up[i] += eps;
            down[i] -= eps;
            let fd = (brute_force_value(space, &up, &rewards)
                - brute_force_value(space, &down, &rewards))
                / (2.0 * eps);
            assert!(
                (fd - eval.logit_grads[i]).abs() < 1e-8,
                "param {i}: fd {fd} vs {}",
                eval.logit_grads[i]
            );
        }
    }

    #[test]
    fn deterministic_policy_has_zero_std_and_zero_gradient() {
        let space = SequenceSpace::new(2, 2);
        let mut logits = vec![0.0; space.num_prefixes() * 2];
        for s in 0..space.num_prefixes() {
            logits[s * 2] = 800.0; // always token 0
        }
        let rewards = vec![-0.5, 0.25, 1.0, 0.0];
        let eval = evaluate(space, &logits, &rewards);
        assert_eq!(eval.value, -0.5);
        assert_eq!(eval.reward_std, 0.0);
        assert!(eval.logit_grads.iter().all(|g| *g == 0.0));
    }

    #[test]
    fn prefix_numbering_round_trips() {
        let space = SequenceSpace::new(3, 4);
        assert_eq!(space.num_prefixes(), 1 + 3 + 9 + 27);
        assert_eq!(space.level_offset(2), 4);
        assert_eq!(space.tokens(3, 2 * 9 + 3 + 2), vec![2, 1, 2]);
    }
}
