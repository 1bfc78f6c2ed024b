//! A scalar value head for PPO's critic, kept separate from the language model's weights.
//!
//! Named as TRL's `ValueHead`: `v_head.summary` is a linear map `n_embd -> 1` (weight `[1, n_embd]`,
//! bias `[1]`, PyTorch `nn.Linear` layout) applied to the LM's final hidden states (for GPT-2, the
//! output of [`crate::GPT2LMHeadModel::forward_hidden`]). It is saved in its own
//! `value_head.safetensors`, so the LM checkpoint stays loadable by `transformers`.

use std::path::Path;

use burn::module::{Module, Param};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use crate::params::ParamSource;
use crate::weights::{ModelError, SafeTensorsFile, TensorWriter};

/// File name of a saved value head.
pub const VALUE_HEAD_FILE: &str = "value_head.safetensors";

#[derive(Module, Debug)]
pub struct ValueHead<B: Backend> {
    /// `[1, hidden]`
    pub weight: Param<Tensor<B, 2>>,
    /// `[1]`
    pub bias: Param<Tensor<B, 1>>,
}

impl<B: Backend> ValueHead<B> {
    /// Weight `N(0, std)` (TRL uses the LM's `initializer_range`), bias 0, drawn from `seed`'s
    /// streams of the saved names (`v_head.summary.*`).
    pub fn init(hidden: usize, std: f64, seed: u64, device: &B::Device) -> Self {
        let src = ParamSource::Seeded(seed);
        ValueHead {
            weight: src
                .normal("v_head.summary.weight", [1, hidden], std, device)
                .expect("a seeded source has every parameter"),
            bias: src
                .constant("v_head.summary.bias", [1], 0.0, device)
                .expect("a seeded source has every parameter"),
        }
    }

    /// Values `[batch, seq]` of hidden states `[batch, seq, hidden]`.
    pub fn forward(&self, hidden: Tensor<B, 3>) -> Tensor<B, 2> {
        let [batch, seq, dim] = hidden.dims();
        let values = hidden
            .reshape([batch * seq, dim])
            .matmul(self.weight.val().transpose())
            + self.bias.val().unsqueeze::<2>();
        values.reshape([batch, seq])
    }

    /// Loads `value_head.safetensors` from `dir`, checking the hidden size.
    pub fn load(
        dir: impl AsRef<Path>,
        hidden: usize,
        device: &B::Device,
    ) -> Result<Self, ModelError> {
        let file = SafeTensorsFile::open(dir.as_ref().join(VALUE_HEAD_FILE))?;
        Ok(ValueHead {
            weight: file.param("v_head.summary.weight", [1, hidden], device)?,
            bias: file.param("v_head.summary.bias", [1], device)?,
        })
    }

    /// Writes `value_head.safetensors` in `dir`.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<(), ModelError> {
        let mut out = TensorWriter::new();
        out.add("v_head.summary.weight", self.weight.val());
        out.add("v_head.summary.bias", self.bias.val());
        out.write(dir.as_ref().join(VALUE_HEAD_FILE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::CpuBackend;
    use burn::tensor::TensorData;

    #[test]
    fn values_are_a_linear_map_of_hidden_states_and_get_gradients() {
        let device = Default::default();
        let head = ValueHead::<CpuBackend> {
            weight: Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![1.0f32, -2.0], [1, 2]),
                &device,
            )),
            bias: Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![0.5f32], [1]),
                &device,
            )),
        };
        let hidden = Tensor::<CpuBackend, 3>::from_data(
            TensorData::new(vec![1.0f32, 1.0, 2.0, 0.0, 0.0, 3.0], [1, 3, 2]),
            &device,
        );
        let values = head.forward(hidden);
        let got: Vec<f32> = values.clone().into_data().iter::<f32>().collect();
        assert_eq!(got, [-0.5, 2.5, -5.5]);
        let grads = values.sum().backward();
        let g: Vec<f32> = head
            .weight
            .val()
            .grad(&grads)
            .unwrap()
            .into_data()
            .iter::<f32>()
            .collect();
        assert_eq!(g, [3.0, 4.0]); // sum of hidden states per feature
    }

    #[test]
    fn save_then_load_round_trips_and_checks_the_width() {
        let device = Default::default();
        let head = ValueHead::<CpuBackend>::init(8, 0.2, 0, &device);
        let dir = tempfile::tempdir().unwrap();
        head.save(dir.path()).unwrap();
        let back = ValueHead::<CpuBackend>::load(dir.path(), 8, &device).unwrap();
        let a: Vec<f32> = head.weight.val().into_data().iter::<f32>().collect();
        let b: Vec<f32> = back.weight.val().into_data().iter::<f32>().collect();
        assert_eq!(a, b);
        let err = ValueHead::<CpuBackend>::load(dir.path(), 16, &device).unwrap_err();
        assert!(err.to_string().contains("v_head.summary.weight"), "{err}");
    }
}
