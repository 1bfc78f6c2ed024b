//! The little linear algebra the theory needs: spectral norms and orthonormal bases.

/// Eigenvalues of a symmetric `n x n` matrix (row-major) by cyclic Jacobi rotations.
pub fn symmetric_eigenvalues(a: &[f64], n: usize) -> Vec<f64> {
    assert_eq!(a.len(), n * n);
    let mut m = a.to_vec();
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| m[i * n + j].powi(2))
            .sum();
        let scale: f64 = m.iter().map(|v| v * v).sum();
        if off <= 1e-30 * scale.max(f64::MIN_POSITIVE) {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = m[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (m[q * n + q] - m[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (m[k * n + p], m[k * n + q]);
                    m[k * n + p] = c * akp - s * akq;
                    m[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (m[p * n + k], m[q * n + k]);
                    m[p * n + k] = c * apk - s * aqk;
                    m[q * n + k] = s * apk + c * aqk;
                }
            }
        }
    }
    (0..n).map(|i| m[i * n + i]).collect()
}

/// Spectral norm (largest singular value) of a matrix given by its rows:
/// `sqrt(lambda_max(J J^T))`, exact up to rounding for the small row counts used here.
pub fn spectral_norm(rows: &[Vec<f64>]) -> f64 {
    let n = rows.len();
    let mut gram = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            gram[i * n + j] = rows[i].iter().zip(&rows[j]).map(|(a, b)| a * b).sum();
        }
    }
    symmetric_eigenvalues(&gram, n)
        .into_iter()
        .fold(0.0, f64::max)
        .sqrt()
}

/// `n` orthonormal vectors in `R^d` (`n <= d`): Gram-Schmidt (twice, for accuracy) on Gaussian draws.
pub fn random_orthonormal(n: usize, d: usize, rng: &mut impl rand::Rng) -> Vec<Vec<f64>> {
    assert!(n <= d, "cannot have {n} orthonormal vectors in R^{d}");
    let mut basis: Vec<Vec<f64>> = Vec::with_capacity(n);
    while basis.len() < n {
        let mut v: Vec<f64> = (0..d).map(|_| crate::standard_normal(rng)).collect();
        for _ in 0..2 {
            for b in &basis {
                let dot: f64 = v.iter().zip(b).map(|(x, y)| x * y).sum();
                v.iter_mut().zip(b).for_each(|(x, y)| *x -= dot * y);
            }
        }
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm > 1e-8 {
            basis.push(v.into_iter().map(|x| x / norm).collect());
        }
    }
    basis
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eigenvalues_of_a_known_matrix() {
        // [[2,1],[1,2]] has eigenvalues 1 and 3.
        let mut ev = symmetric_eigenvalues(&[2.0, 1.0, 1.0, 2.0], 2);
        ev.sort_by(f64::total_cmp);
        assert!((ev[0] - 1.0).abs() < 1e-12 && (ev[1] - 3.0).abs() < 1e-12);
    }

    #[test]
    fn spectral_norm_matches_singular_value() {
        // rows (3,0) and (4,5): singular values are sqrt(45) and sqrt(5).
        let s = spectral_norm(&[vec![3.0, 0.0], vec![4.0, 5.0]]);
        assert!((s - 45f64.sqrt()).abs() < 1e-12, "{s}");
        // A selection matrix has spectral norm 1.
        assert!((spectral_norm(&[vec![0.0, 1.0, 0.0]]) - 1.0).abs() < 1e-15);
    }

    #[test]
    fn orthonormal_vectors_are_orthonormal() {
        let b = random_orthonormal(5, 7, &mut crate::rng(3));
        for i in 0..5 {
            for j in 0..5 {
                let dot: f64 = b[i].iter().zip(&b[j]).map(|(x, y)| x * y).sum();
                assert!((dot - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
    }
}
