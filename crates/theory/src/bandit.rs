//! Setting (a) of the Theorem 1 check: a single-step softmax policy whose parameters are its logits.
//!
//! `p = softmax(z)`, `V = sum_k p_k r_k`, and `dV/dz_k = p_k (r_k - V)`, so
//! `||grad V|| <= sqrt(max_k p_k) * STD[r] <= STD[r]`: the gradient vanishes with the reward std.

use crate::softmax::softmax;

/// A one-step policy over `K = rewards.len()` outputs.
#[derive(Debug, Clone)]
pub struct SoftmaxBandit {
    pub logits: Vec<f64>,
    pub rewards: Vec<f64>,
}

impl SoftmaxBandit {
    /// Expected reward `V = E_{y~softmax(z)}[r(y)]`.
    pub fn value(&self) -> f64 {
        softmax(&self.logits)
            .iter()
            .zip(&self.rewards)
            .map(|(p, r)| p * r)
            .sum()
    }

    /// Reward standard deviation under the policy.
    pub fn reward_std(&self) -> f64 {
        let (p, v) = (softmax(&self.logits), self.value());
        p.iter()
            .zip(&self.rewards)
            .map(|(p, r)| p * (r - v).powi(2))
            .sum::<f64>()
            .sqrt()
    }

    /// The exact policy gradient `dV/dz_k = p_k (r_k - V)`.
    pub fn gradient(&self) -> Vec<f64> {
        let (p, v) = (softmax(&self.logits), self.value());
        p.iter()
            .zip(&self.rewards)
            .map(|(p, r)| p * (r - v))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sequence::{SequenceSpace, evaluate};

    #[test]
    fn closed_form_agrees_with_the_sequence_evaluator_at_length_one() {
        let bandit = SoftmaxBandit {
            logits: vec![0.3, -1.2, 2.0, 0.0],
            rewards: vec![1.0, -1.0, -0.2, 0.7],
        };
        let eval = evaluate(SequenceSpace::new(4, 1), &bandit.logits, &bandit.rewards);
        assert!((eval.value - bandit.value()).abs() < 1e-15);
        assert!((eval.reward_std - bandit.reward_std()).abs() < 1e-15);
        for (a, b) in eval.logit_grads.iter().zip(bandit.gradient()) {
            assert!((a - b).abs() < 1e-15);
        }
    }

    #[test]
    fn gradient_norm_is_at_most_the_reward_std() {
        let bandit = SoftmaxBandit {
            logits: vec![5.0, 0.0, -3.0],
            rewards: vec![-1.0, 1.0, 0.5],
        };
        let norm = bandit.gradient().iter().map(|g| g * g).sum::<f64>().sqrt();
        assert!(norm <= bandit.reward_std());
        assert!(norm > 0.0);
    }
}
