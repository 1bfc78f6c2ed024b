//! Helpers shared by the trainers' integration tests: a tiny GPT-2, flat gradients and
//! parameter perturbations for finite differences.
#![allow(dead_code)]

use burn::module::{AutodiffModule, Module, ModuleMapper, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Tensor, TensorData};
use model::{CpuBackend, GPT2Config, GPT2LMHeadModel};

pub type B = CpuBackend;

pub fn device() -> model::CpuDevice {
    Default::default()
}

pub fn tiny_gpt2(vocab: usize, seed: u64) -> GPT2LMHeadModel<B> {
    let d = device();
    let config = GPT2Config {
        vocab_size: vocab,
        n_positions: 16,
        n_embd: 16,
        n_layer: 1,
        n_head: 2,
        bos_token_id: None,
        eos_token_id: None,
        ..GPT2Config::default()
    };
    GPT2LMHeadModel::init(config, seed, &d).unwrap()
}

struct Flatten<'a> {
    grads: &'a GradientsParams,
    out: Vec<f64>,
}

impl ModuleVisitor<B> for Flatten<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let n = param.val().shape().num_elements();
        match self
            .grads
            .get::<<B as burn::tensor::backend::AutodiffBackend>::InnerBackend, D>(param.id)
        {
            Some(g) => self
                .out
                .extend(g.into_data().iter::<f32>().map(|x| x as f64)),
            None => self.out.extend(std::iter::repeat_n(0.0, n)),
        }
    }
}

/// Gradient of `loss` w.r.t. every parameter of `model`, flattened in visit order.
pub fn flat_grad(model: &GPT2LMHeadModel<B>, loss: Tensor<B, 1>) -> Vec<f64> {
    let grads = GradientsParams::from_grads(loss.backward(), model);
    let mut v = Flatten {
        grads: &grads,
        out: Vec::new(),
    };
    model.visit(&mut v);
    v.out
}

struct Perturb {
    index: usize,
    seen: usize,
    eps: f32,
}

impl ModuleMapper<B> for Perturb {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        let n = tensor.shape().num_elements();
        let out = if (self.seen..self.seen + n).contains(&self.index) {
            let shape = tensor.shape();
            let mut data: Vec<f32> = tensor.clone().into_data().iter::<f32>().collect();
            data[self.index - self.seen] += self.eps;
            Tensor::from_data(TensorData::new(data, shape), &tensor.device())
        } else {
            tensor
        };
        self.seen += n;
        Param::from_mapped_value(id, out, mapper)
    }
}

/// A copy of `model` with flat parameter `index` moved by `eps`.
pub fn perturbed(model: &GPT2LMHeadModel<B>, index: usize, eps: f32) -> GPT2LMHeadModel<B> {
    model.clone().map(&mut Perturb {
        index,
        seen: 0,
        eps,
    })
}

pub fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// Inner-backend copy, for evaluation without the autodiff graph.
pub fn inner(
    model: &GPT2LMHeadModel<B>,
) -> GPT2LMHeadModel<<B as burn::tensor::backend::AutodiffBackend>::InnerBackend> {
    model.valid()
}
