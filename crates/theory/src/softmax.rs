//! Numerically stable softmax and log-sum-exp.

/// `log(sum_i exp(z_i))`, stable for large logits.
pub fn log_sum_exp(z: &[f64]) -> f64 {
    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + z.iter().map(|&v| (v - m).exp()).sum::<f64>().ln()
}

/// `softmax(z)_i = exp(z_i) / sum_j exp(z_j)`.
pub fn softmax(z: &[f64]) -> Vec<f64> {
    let mut p = vec![0.0; z.len()];
    softmax_into(z, &mut p);
    p
}

/// [`softmax`] into a caller-provided buffer (no allocation in hot loops).
pub fn softmax_into(z: &[f64], p: &mut [f64]) {
    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut total = 0.0;
    for (pi, &zi) in p.iter_mut().zip(z) {
        *pi = (zi - m).exp();
        total += *pi;
    }
    for pi in p.iter_mut() {
        *pi /= total;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one_and_survives_huge_logits() {
        let p = softmax(&[1000.0, 999.0, -1000.0]);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        assert!((p[0] / p[1] - 1f64.exp()).abs() < 1e-12);
        assert!(p[2] < 1e-300);
        assert!((log_sum_exp(&[1000.0, 1000.0]) - (1000.0 + 2f64.ln())).abs() < 1e-12);
    }
}
