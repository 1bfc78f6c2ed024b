//! RL4LMs' adaptive KL coefficient (`kl_controllers.KLController`).

use serde::{Deserialize, Serialize};

/// `beta <- beta * (1 + 0.1 * clip((KL - target_kl) / target_kl, -0.2, 0.2))` after each rollout,
/// where KL is the mean per-token log-ratio to the initial policy; fixed when `target_kl` is none.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KlController {
    pub kl_coeff: f64,
    pub target_kl: Option<f64>,
}

impl KlController {
    pub fn new(kl_coeff: f64, target_kl: Option<f64>) -> Self {
        KlController {
            kl_coeff,
            target_kl,
        }
    }

    pub fn step(&mut self, kl: f64) {
        if let Some(target) = self.target_kl {
            let e_t = ((kl - target) / target).clamp(-0.2, 0.2);
            self.kl_coeff *= 1.0 + 0.1 * e_t;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sequence RL4LMs' own `__main__` prints for kl_coeff 0.1, target 0.1 and KLs
    /// -0.2, 0.3, 0.4: 0.098, 0.09996, 0.1019592.
    #[test]
    fn matches_rl4lms_sequence() {
        let mut c = KlController::new(0.1, Some(0.1));
        let expected = [0.098, 0.09996, 0.1019592];
        for (kl, want) in [-0.2, 0.3, 0.4].into_iter().zip(expected) {
            c.step(kl);
            assert!(
                (c.kl_coeff - want).abs() < 1e-12,
                "{} vs {want}",
                c.kl_coeff
            );
        }
        let mut fixed = KlController::new(0.1, None);
        fixed.step(5.0);
        assert_eq!(fixed.kl_coeff, 0.1);
    }
}
