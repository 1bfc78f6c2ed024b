//! Seeded parameter initialisation for the classifiers (`mlp`, `resnet`, `bert`).
//!
//! burn's `Tensor::random` draws from one backend-wide generator, so two runs initialising models
//! at the same time (the runner's `--jobs 2`) would interleave draws and lose reproducibility.
//! These helpers draw from a run's own ChaCha stream instead: same seed, same weights, whatever
//! else runs in the process.

use burn::module::Param;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A seeded source of initial parameter values.
pub struct SeededInit {
    rng: ChaCha8Rng,
}

impl SeededInit {
    pub fn new(seed: u64) -> Self {
        SeededInit {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// `U(-bound, bound)`.
    pub fn uniform<B: Backend, const D: usize>(
        &mut self,
        shape: [usize; D],
        bound: f64,
        device: &B::Device,
    ) -> Tensor<B, D> {
        let n: usize = shape.iter().product();
        let values: Vec<f32> = (0..n)
            .map(|_| ((self.rng.random::<f64>() * 2.0 - 1.0) * bound) as f32)
            .collect();
        Tensor::from_data(TensorData::new(values, shape), device)
    }

    /// `N(0, std^2)` (Box-Muller).
    pub fn normal<B: Backend, const D: usize>(
        &mut self,
        shape: [usize; D],
        std: f64,
        device: &B::Device,
    ) -> Tensor<B, D> {
        let n: usize = shape.iter().product();
        let mut values = Vec::with_capacity(n);
        while values.len() < n {
            let u1: f64 = 1.0 - self.rng.random::<f64>(); // (0, 1]
            let u2: f64 = self.rng.random::<f64>();
            let r = (-2.0 * u1.ln()).sqrt();
            let t = 2.0 * std::f64::consts::PI * u2;
            values.push((r * t.cos() * std) as f32);
            if values.len() < n {
                values.push((r * t.sin() * std) as f32);
            }
        }
        Tensor::from_data(TensorData::new(values, shape), device)
    }

    /// PyTorch's default for `nn.Linear` / `nn.Conv2d` weights and biases:
    /// `U(-1/sqrt(fan_in), 1/sqrt(fan_in))` (kaiming_uniform with a = sqrt(5)).
    pub fn torch_default<B: Backend, const D: usize>(
        &mut self,
        shape: [usize; D],
        fan_in: usize,
        device: &B::Device,
    ) -> Param<Tensor<B, D>> {
        Param::from_tensor(self.uniform(shape, 1.0 / (fan_in as f64).sqrt(), device))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CpuBackend;

    #[test]
    fn same_seed_same_values_and_the_right_moments() {
        let dev = Default::default();
        let a: Tensor<CpuBackend, 2> = SeededInit::new(7).normal([200, 100], 0.5, &dev);
        let b: Tensor<CpuBackend, 2> = SeededInit::new(7).normal([200, 100], 0.5, &dev);
        let c: Tensor<CpuBackend, 2> = SeededInit::new(8).normal([200, 100], 0.5, &dev);
        let (a, b, c) = (
            a.into_data().to_vec::<f32>().unwrap(),
            b.into_data().to_vec::<f32>().unwrap(),
            c.into_data().to_vec::<f32>().unwrap(),
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
        let n = a.len() as f64;
        let mean = a.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = a.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
        assert!(mean.abs() < 0.02, "{mean}");
        assert!((var.sqrt() - 0.5).abs() < 0.01, "{}", var.sqrt());
        let u: Tensor<CpuBackend, 1> = SeededInit::new(1).uniform([10_000], 0.3, &dev);
        let u = u.into_data().to_vec::<f32>().unwrap();
        assert!(u.iter().all(|&x| x.abs() <= 0.3));
        assert!(u.iter().any(|&x| x > 0.29) && u.iter().any(|&x| x < -0.29));
    }
}
