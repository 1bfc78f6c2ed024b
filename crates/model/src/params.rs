//! One parameter source for a module tree, as candle's `VarBuilder`: the same builder code makes a
//! model from a Hugging Face checkpoint or from a seed.
//!
//! ```text
//! ParamSource::File(&safetensors)   parameter `name` is the tensor `name`, its shape checked
//! ParamSource::Seeded(seed)         parameter `name` is drawn from its own stream seeds::named(seed, name)
//! ```
//!
//! A seeded parameter depends on the seed and its name only: not on the order in which modules are
//! built, nor on burn's backend-wide generator (which every run of a `--jobs 2` sweep shares), so two
//! runs initialising models at the same time in one process get the weights they would get alone.

use burn::module::Param;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use crate::seeded::SeededInit;
use crate::weights::{ModelError, SafeTensorsFile};

/// Where a module tree takes its parameters from.
#[derive(Clone, Copy)]
pub enum ParamSource<'a> {
    /// A Hugging Face `model.safetensors`; names and shapes are checked.
    File(&'a SafeTensorsFile),
    /// Random initialisation from this seed, one stream per parameter name.
    Seeded(u64),
}

impl ParamSource<'_> {
    /// Parameter `name` of `shape`; seeded: `N(0, std^2)`.
    pub fn normal<B: Backend, const D: usize>(
        &self,
        name: &str,
        shape: [usize; D],
        std: f64,
        device: &B::Device,
    ) -> Result<Param<Tensor<B, D>>, ModelError> {
        match self {
            ParamSource::File(w) => w.param(name, shape, device),
            ParamSource::Seeded(seed) => Ok(Param::from_tensor(
                SeededInit::new(seeds::named_seed(*seed, name)).normal(shape, std, device),
            )),
        }
    }

    /// Parameter `name` of `shape`; seeded: every entry `value` (biases 0, norm scales 1).
    pub fn constant<B: Backend, const D: usize>(
        &self,
        name: &str,
        shape: [usize; D],
        value: f64,
        device: &B::Device,
    ) -> Result<Param<Tensor<B, D>>, ModelError> {
        match self {
            ParamSource::File(w) => w.param(name, shape, device),
            ParamSource::Seeded(_) => Ok(Param::from_tensor(Tensor::full(shape, value, device))),
        }
    }

    /// Whether a file holds `name` (a seeded source holds every name).
    pub fn contains(&self, name: &str) -> bool {
        match self {
            ParamSource::File(w) => w.contains(name),
            ParamSource::Seeded(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CpuBackend;

    fn values(p: Param<Tensor<CpuBackend, 2>>) -> Vec<f32> {
        p.val().into_data().into_vec::<f32>().unwrap()
    }

    #[test]
    fn a_seeded_parameter_depends_on_the_seed_and_its_name_only() {
        let d = Default::default();
        let draw = |seed, name: &str| {
            values(
                ParamSource::Seeded(seed)
                    .normal::<CpuBackend, 2>(name, [4, 8], 0.02, &d)
                    .unwrap(),
            )
        };
        let a = draw(1, "h.0.attn.c_attn.weight");
        // Drawing other parameters in between (another module, another run) changes nothing.
        let _ = draw(1, "wte.weight");
        let _ = draw(2, "h.0.attn.c_attn.weight");
        assert_eq!(a, draw(1, "h.0.attn.c_attn.weight"));
        assert_ne!(a, draw(2, "h.0.attn.c_attn.weight"));
        assert_ne!(a, draw(1, "h.1.attn.c_attn.weight"));
        let std = (a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>() / a.len() as f64).sqrt();
        assert!(std > 0.01 && std < 0.03, "std {std}");
    }

    #[test]
    fn constants_are_constant() {
        let d = Default::default();
        let p = ParamSource::Seeded(3)
            .constant::<CpuBackend, 2>("ln.weight", [2, 3], 1.0, &d)
            .unwrap();
        assert_eq!(values(p), vec![1.0; 6]);
    }
}
