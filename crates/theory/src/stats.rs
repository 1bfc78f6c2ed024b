//! Small statistics helpers: mean/std and least-squares line fits (used for fitted slopes).

use serde::Serialize;

/// Arithmetic mean; `NaN` for an empty slice.
pub fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Population standard deviation (divides by `n`), computed in two passes.
pub fn std(x: &[f64]) -> f64 {
    let m = mean(x);
    (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

/// A fitted line `y = slope * x + intercept` with its coefficient of determination.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LineFit {
    pub slope: f64,
    pub intercept: f64,
    pub r2: f64,
    pub n: usize,
}

impl LineFit {
    pub fn predict(&self, x: f64) -> f64 {
        self.slope * x + self.intercept
    }
}

/// Ordinary least squares of `y` on `x`. Returns `None` with fewer than two distinct `x`.
pub fn fit_line(x: &[f64], y: &[f64]) -> Option<LineFit> {
    assert_eq!(x.len(), y.len(), "fit_line: x and y differ in length");
    let n = x.len();
    if n < 2 {
        return None;
    }
    let (mx, my) = (mean(x), mean(y));
    let sxx: f64 = x.iter().map(|v| (v - mx).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let syy: f64 = y.iter().map(|v| (v - my).powi(2)).sum();
    let slope = sxy / sxx;
    let r2 = if syy > 0.0 {
        sxy * sxy / (sxx * syy)
    } else {
        1.0
    };
    Some(LineFit {
        slope,
        intercept: my - slope * mx,
        r2,
        n,
    })
}

/// Fit `log10 y = slope * log10 x + intercept` over the points where both are positive and finite:
/// the slope is the power-law exponent.
pub fn fit_power_law(x: &[f64], y: &[f64]) -> Option<LineFit> {
    let (lx, ly): (Vec<f64>, Vec<f64>) = x
        .iter()
        .zip(y)
        .filter(|(a, b)| **a > 0.0 && **b > 0.0 && a.is_finite() && b.is_finite())
        .map(|(a, b)| (a.log10(), b.log10()))
        .unzip();
    fit_line(&lx, &ly)
}

/// `n` points spaced evenly in log space from `lo` to `hi` (both included).
pub fn logspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    assert!(lo > 0.0 && hi > 0.0, "logspace needs positive bounds");
    if n == 1 {
        return vec![lo];
    }
    let (a, b) = (lo.ln(), hi.ln());
    (0..n)
        .map(|i| (a + (b - a) * i as f64 / (n - 1) as f64).exp())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_an_exact_power_law() {
        let x = logspace(1e-6, 1.0, 13);
        let y: Vec<f64> = x.iter().map(|v| 3.0 * v.powf(-2.0)).collect();
        let fit = fit_power_law(&x, &y).unwrap();
        assert!((fit.slope + 2.0).abs() < 1e-12);
        assert!((fit.intercept - 3f64.log10()).abs() < 1e-12);
        assert!((fit.r2 - 1.0).abs() < 1e-12);
    }

    #[test]
    fn degenerate_fits_are_none() {
        assert!(fit_line(&[1.0], &[2.0]).is_none());
        assert!(fit_line(&[1.0, 1.0], &[2.0, 3.0]).is_none());
    }

    #[test]
    fn mean_and_population_std() {
        assert_eq!(mean(&[1.0, 2.0, 3.0]), 2.0);
        assert!((std(&[1.0, 3.0]) - 1.0).abs() < 1e-15);
    }
}
