//! The MLP of the MNIST controlled experiment (ml-rlgrad's `MultiLayerPerceptron` with hidden
//! sizes `[250, 100]`): inputs flattened, `Linear -> ReLU` per hidden layer, a linear output
//! layer, and the logits divided by `temperature` (ml-rlgrad's `ScaleByConstant(1/temperature)`
//! before the softmax). PyTorch's default initialisation, drawn from a seeded stream.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::Tensor;
use burn::tensor::activation::relu;
use burn::tensor::backend::Backend;

use crate::seeded::SeededInit;

/// Sizes and temperature of an [`Mlp`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MlpConfig {
    pub input_size: usize,
    pub hidden_layer_sizes: Vec<usize>,
    pub output_size: usize,
    pub temperature: f64,
}

impl MlpConfig {
    /// 784-250-100-10, temperature 1: the paper's MNIST model.
    pub fn mnist() -> Self {
        MlpConfig {
            input_size: 784,
            hidden_layer_sizes: vec![250, 100],
            output_size: 10,
            temperature: 1.0,
        }
    }

    /// Weights and biases `U(-1/sqrt(fan_in), 1/sqrt(fan_in))` as `nn.Linear`, from `seed`.
    pub fn init<B: Backend>(&self, seed: u64, device: &B::Device) -> Mlp<B> {
        let mut init = SeededInit::new(seed);
        let mut sizes = vec![self.input_size];
        sizes.extend(&self.hidden_layer_sizes);
        sizes.push(self.output_size);
        let layers = sizes
            .windows(2)
            .map(|w| Linear {
                weight: init.torch_default([w[0], w[1]], w[0], device),
                bias: Some(init.torch_default([w[1]], w[0], device)),
            })
            .collect();
        Mlp {
            layers,
            temperature: self.temperature,
        }
    }
}

/// A ReLU MLP classifier returning `logits / temperature`.
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    /// Hidden layers then the output layer.
    pub layers: Vec<Linear<B>>,
    #[module(skip)]
    pub temperature: f64,
}

impl<B: Backend> Mlp<B> {
    /// `x` `[batch, input_size]` -> scaled logits `[batch, output_size]`.
    pub fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let last = self.layers.len() - 1;
        let mut h = x;
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(h);
            if i < last {
                h = relu(h);
            }
        }
        h.div_scalar(self.temperature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CpuBackend;
    use burn::tensor::TensorData;

    #[test]
    fn shapes_parameter_count_and_temperature() {
        let dev = Default::default();
        let cfg = MlpConfig::mnist();
        let mlp: Mlp<CpuBackend> = cfg.init(0, &dev);
        assert_eq!(
            mlp.num_params(),
            784 * 250 + 250 + 250 * 100 + 100 + 100 * 10 + 10
        );
        let x = Tensor::<CpuBackend, 2>::ones([3, 784], &dev);
        let logits = mlp.forward(x.clone());
        assert_eq!(logits.dims(), [3, 10]);
        let hot: Mlp<CpuBackend> = MlpConfig {
            temperature: 0.5,
            ..cfg.clone()
        }
        .init(0, &dev);
        let doubled = hot.forward(x);
        let (a, b) = (
            logits.into_data().to_vec::<f32>().unwrap(),
            doubled.into_data().to_vec::<f32>().unwrap(),
        );
        for (a, b) in a.iter().zip(&b) {
            assert!((2.0 * a - b).abs() < 1e-5);
        }
        // Same seed, same weights; another seed, other weights.
        let w = |m: &Mlp<CpuBackend>| m.layers[0].weight.val().into_data();
        assert_eq!(w(&mlp), w(&cfg.init::<CpuBackend>(0, &dev)));
        assert_ne!(w(&mlp), w(&cfg.init::<CpuBackend>(1, &dev)));
    }

    #[test]
    fn relu_between_layers_and_not_after_the_last() {
        let dev = Default::default();
        // 1-1-1 with weights 1 and -1 and zero biases: logit = -relu(x).
        let mut mlp: Mlp<CpuBackend> = MlpConfig {
            input_size: 1,
            hidden_layer_sizes: vec![1],
            output_size: 1,
            temperature: 1.0,
        }
        .init(0, &dev);
        let set = |v: f32| {
            burn::module::Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![v], [1, 1]),
                &dev,
            ))
        };
        let zero = || burn::module::Param::from_tensor(Tensor::zeros([1], &dev));
        mlp.layers[0].weight = set(1.0);
        mlp.layers[0].bias = Some(zero());
        mlp.layers[1].weight = set(-1.0);
        mlp.layers[1].bias = Some(zero());
        let x =
            Tensor::<CpuBackend, 2>::from_data(TensorData::new(vec![2.0f32, -3.0], [2, 1]), &dev);
        let y = mlp.forward(x).into_data().to_vec::<f32>().unwrap();
        assert_eq!(y, vec![-2.0, 0.0]);
    }
}
