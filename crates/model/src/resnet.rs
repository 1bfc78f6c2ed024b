//! ResNet18 as torchvision builds it (`torchvision.models.resnet18`), with the final linear layer
//! replaced for `num_classes` outputs (ml-rlgrad's `create_modified_model`), and the logits
//! divided by `temperature`.
//!
//! ```text
//! conv1 7x7/2 (64) -> bn1 -> relu -> maxpool 3x3/2
//! layer1..layer4: two BasicBlocks each, widths 64, 128, 256, 512 (stride 2 from layer2 on,
//!                 with a 1x1/2 conv + bn `downsample` on the shortcut)
//! BasicBlock: conv3x3 -> bn -> relu -> conv3x3 -> bn, + shortcut, relu
//! avgpool (global) -> fc
//! ```
//!
//! Initialisation as torchvision: convolutions `kaiming_normal_(mode="fan_out", nonlinearity="relu")`,
//! batch norms weight 1 and bias 0, `fc` PyTorch's `nn.Linear` default; drawn from a seeded stream.
//! `width` scales every stage (64 = torchvision; smaller values give a narrower network with the
//! same depth, which the CPU profile uses). Batch norm is burn's (`eps` 1e-5, momentum 0.1): batch
//! statistics on an autodiff backend (training), running statistics otherwise (`model.valid()`);
//! its running variance is updated with the biased batch variance where PyTorch uses the unbiased
//! one, a factor n/(n-1) over the n = batch x height x width values per channel.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, BatchNormConfig, Linear, PaddingConfig2d};
use burn::tensor::Tensor;
use burn::tensor::activation::relu;
use burn::tensor::backend::Backend;
use burn::tensor::module::max_pool2d;

use crate::seeded::SeededInit;

/// Shape of a [`ResNet18`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ResNet18Config {
    pub in_channels: usize,
    pub num_classes: usize,
    /// Channels of the first stage (torchvision: 64); stages use width x 1, 2, 4, 8.
    pub width: usize,
    pub temperature: f64,
}

impl ResNet18Config {
    /// torchvision's ResNet18 with a 10-class `fc`: the paper's CIFAR-10 model.
    pub fn cifar10() -> Self {
        ResNet18Config {
            in_channels: 3,
            num_classes: 10,
            width: 64,
            temperature: 1.0,
        }
    }

    pub fn init<B: Backend>(&self, seed: u64, device: &B::Device) -> ResNet18<B> {
        let mut init = SeededInit::new(seed);
        let w = self.width;
        let conv1 = conv(&mut init, self.in_channels, w, 7, 2, 3, device);
        let bn1 = BatchNormConfig::new(w).init(device);
        let mut in_planes = w;
        let mut stage = |planes: usize, stride: usize, init: &mut SeededInit| {
            let first = BasicBlock::new(init, in_planes, planes, stride, device);
            let second = BasicBlock::new(init, planes, planes, 1, device);
            in_planes = planes;
            vec![first, second]
        };
        let layer1 = stage(w, 1, &mut init);
        let layer2 = stage(2 * w, 2, &mut init);
        let layer3 = stage(4 * w, 2, &mut init);
        let layer4 = stage(8 * w, 2, &mut init);
        let fc = Linear {
            weight: init.torch_default([8 * w, self.num_classes], 8 * w, device),
            bias: Some(init.torch_default([self.num_classes], 8 * w, device)),
        };
        ResNet18 {
            conv1,
            bn1,
            layer1,
            layer2,
            layer3,
            layer4,
            fc,
            temperature: self.temperature,
        }
    }
}

/// A `k x k` convolution without bias, `kaiming_normal_(mode="fan_out", nonlinearity="relu")`.
fn conv<B: Backend>(
    init: &mut SeededInit,
    c_in: usize,
    c_out: usize,
    k: usize,
    stride: usize,
    padding: usize,
    device: &B::Device,
) -> Conv2d<B> {
    let fan_out = c_out * k * k;
    let std = (2.0 / fan_out as f64).sqrt();
    Conv2d {
        weight: burn::module::Param::from_tensor(init.normal([c_out, c_in, k, k], std, device)),
        bias: None,
        stride: [stride, stride],
        kernel_size: [k, k],
        dilation: [1, 1],
        groups: 1,
        padding: PaddingConfig2d::Explicit(padding, padding, padding, padding),
    }
}

/// The shortcut of a block that changes resolution or width: 1x1 conv with stride, then bn.
#[derive(Module, Debug)]
pub struct Downsample<B: Backend> {
    pub conv: Conv2d<B>,
    pub bn: BatchNorm<B>,
}

/// torchvision's `BasicBlock` (expansion 1).
#[derive(Module, Debug)]
pub struct BasicBlock<B: Backend> {
    pub conv1: Conv2d<B>,
    pub bn1: BatchNorm<B>,
    pub conv2: Conv2d<B>,
    pub bn2: BatchNorm<B>,
    pub downsample: Option<Downsample<B>>,
}

impl<B: Backend> BasicBlock<B> {
    fn new(
        init: &mut SeededInit,
        in_planes: usize,
        planes: usize,
        stride: usize,
        device: &B::Device,
    ) -> Self {
        let conv1 = conv(init, in_planes, planes, 3, stride, 1, device);
        let bn1 = BatchNormConfig::new(planes).init(device);
        let conv2 = conv(init, planes, planes, 3, 1, 1, device);
        let bn2 = BatchNormConfig::new(planes).init(device);
        let downsample = (stride != 1 || in_planes != planes).then(|| Downsample {
            conv: conv(init, in_planes, planes, 1, stride, 0, device),
            bn: BatchNormConfig::new(planes).init(device),
        });
        BasicBlock {
            conv1,
            bn1,
            conv2,
            bn2,
            downsample,
        }
    }

    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let identity = match &self.downsample {
            Some(d) => d.bn.forward(d.conv.forward(x.clone())),
            None => x.clone(),
        };
        let out = relu(self.bn1.forward(self.conv1.forward(x)));
        let out = self.bn2.forward(self.conv2.forward(out));
        relu(out + identity)
    }
}

/// ResNet18 classifier returning `logits / temperature`.
#[derive(Module, Debug)]
pub struct ResNet18<B: Backend> {
    pub conv1: Conv2d<B>,
    pub bn1: BatchNorm<B>,
    pub layer1: Vec<BasicBlock<B>>,
    pub layer2: Vec<BasicBlock<B>>,
    pub layer3: Vec<BasicBlock<B>>,
    pub layer4: Vec<BasicBlock<B>>,
    pub fc: Linear<B>,
    #[module(skip)]
    pub temperature: f64,
}

impl<B: Backend> ResNet18<B> {
    /// Images `[batch, channels, height, width]` -> scaled logits `[batch, num_classes]`.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        let x = relu(self.bn1.forward(self.conv1.forward(x)));
        let mut x = max_pool2d(x, [3, 3], [2, 2], [1, 1], [1, 1], false);
        for block in self
            .layer1
            .iter()
            .chain(&self.layer2)
            .chain(&self.layer3)
            .chain(&self.layer4)
        {
            x = block.forward(x);
        }
        // Global average pooling (`AdaptiveAvgPool2d((1, 1))` + flatten).
        let [batch, channels, _, _] = x.dims();
        let pooled = x.mean_dim(3).mean_dim(2).reshape([batch, channels]);
        self.fc.forward(pooled).div_scalar(self.temperature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CpuBackend;
    use burn::module::AutodiffModule;

    #[test]
    fn torchvision_parameter_count_and_shapes() {
        let dev = Default::default();
        let net: ResNet18<CpuBackend> = ResNet18Config::cifar10().init(0, &dev);
        // torchvision resnet18 has 11,689,512 parameters with a 1000-class fc (512*1000 + 1000);
        // with 10 classes: 11,689,512 - 513,000 + 5,130. burn also counts the batch norms' running
        // mean and variance (PyTorch buffers): 2 x 4,800 channels.
        assert_eq!(net.num_params(), 11_689_512 - 513_000 + 5_130 + 2 * 4_800);
        assert!(net.layer1[0].downsample.is_none());
        assert!(net.layer2[0].downsample.is_some() && net.layer2[1].downsample.is_none());
        let small: ResNet18<CpuBackend> = ResNet18Config {
            width: 8,
            ..ResNet18Config::cifar10()
        }
        .init(0, &dev);
        let x = Tensor::<CpuBackend, 4>::ones([2, 3, 32, 32], &dev);
        assert_eq!(small.forward(x.clone()).dims(), [2, 10]);
        // Inference (running statistics) runs on the inner backend.
        assert_eq!(small.valid().forward(x.inner()).dims(), [2, 10]);
    }

    #[test]
    fn conv_init_has_torchvisions_fan_out_std() {
        let dev = Default::default();
        let net: ResNet18<CpuBackend> = ResNet18Config::cifar10().init(3, &dev);
        let w = net.layer3[1]
            .conv2
            .weight
            .val()
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        let n = w.len() as f64;
        let var = w.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / n;
        let want = 2.0 / (256.0 * 9.0);
        assert!((var / want - 1.0).abs() < 0.02, "{var} vs {want}");
    }
}
