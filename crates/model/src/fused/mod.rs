//! Ops the models need that burn composes from several element-wise passes, each with one fused,
//! row-parallel kernel (forward and backward) on burn's CPU backend.
//!
//! The models stay generic over `B: Backend` and call these functions. On [`CpuBackend`]
//! (`Autodiff<Flex>`) and on its inner backend `Flex` (inference) they run the kernels of
//! [`flex`] through burn's extension points: a custom autodiff node ([`Backward`] in
//! `burn-autodiff`) whose forward and backward are each one pass over the rows, spread over
//! rayon's pool. Any other backend (wgpu, cuda) gets the decomposed burn ops in [`decomposed`],
//! which are also the reference the fused kernels are tested against. The backend is told apart
//! at run time by its type (`TypeId`), so no trait bound changes anywhere.
//!
//! `MODEL_FUSED=0` in the environment, or [`set_enabled`]`(false)`, selects the decomposed ops on
//! the CPU as well (for A/B measurements and tests).
//!
//! [`Backward`]: burn::backend::autodiff::ops::Backward

mod attention;
mod flex;
pub(crate) mod kernels;

use std::any::Any;
use std::sync::atomic::{AtomicU8, Ordering};

use burn::backend::Flex;
use burn::tensor::backend::Backend;
use burn::tensor::{Bool, Int, Tensor};

use crate::backend::CpuBackend;

/// 0: not read yet, 1: on, 2: off.
static ENABLED: AtomicU8 = AtomicU8::new(0);

/// Whether the fused CPU kernels are used (default: yes, unless `MODEL_FUSED=0`).
pub fn enabled() -> bool {
    match ENABLED.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            let on = std::env::var("MODEL_FUSED").map_or(true, |v| v != "0");
            ENABLED.store(if on { 1 } else { 2 }, Ordering::Relaxed);
            on
        }
    }
}

/// Turns the fused CPU kernels on or off for the whole process.
pub fn set_enabled(on: bool) {
    ENABLED.store(if on { 1 } else { 2 }, Ordering::Relaxed);
}

/// Bumped whenever a fused kernel's floating point changes (another summation order, another
/// `exp`), so that results cached under [`numerics`] are not reused across the change.
pub const KERNELS_VERSION: u32 = 1;

/// The floating-point path the language models take on backend `B`, for cache keys (e.g. the
/// pretrained models' cache): `cpu-fused-v1-avx512` (or `-avx2`, `-baseline`: the kernels pick
/// the widest instruction set at run time, and each sums in its own order), `cpu-decomposed`
/// (`MODEL_FUSED=0`), or `decomposed-<backend type>` on any other backend.
pub fn numerics<B: Backend>() -> String {
    use std::any::TypeId;
    let cpu = TypeId::of::<B>() == TypeId::of::<CpuBackend>()
        || TypeId::of::<B>() == TypeId::of::<Flex>();
    match (cpu, enabled()) {
        (true, true) => format!("cpu-fused-v{KERNELS_VERSION}-{}", kernels::simd_name()),
        (true, false) => "cpu-decomposed".into(),
        (false, _) => format!("decomposed-{}", std::any::type_name::<B>()),
    }
}

/// `t` as a `U` if it is one (same type), else `t` back.
fn downcast<T: 'static, U: 'static>(t: T) -> Result<U, T> {
    let mut slot = Some(t);
    match (&mut slot as &mut dyn Any).downcast_mut::<Option<U>>() {
        Some(u) => Ok(u.take().expect("just put there")),
        None => Err(slot.expect("not taken")),
    }
}

/// Which implementation a tensor of backend `B` gets.
enum On<B: Backend, const D: usize> {
    Autodiff(Tensor<CpuBackend, D>),
    Inner(Tensor<Flex, D>),
    Other(Tensor<B, D>),
}

fn route<B: Backend, const D: usize>(t: Tensor<B, D>) -> On<B, D> {
    if !enabled() || t.dtype() != burn::tensor::DType::F32 {
        return On::Other(t);
    }
    match downcast::<_, Tensor<CpuBackend, D>>(t) {
        Ok(t) => On::Autodiff(t),
        Err(t) => match downcast::<_, Tensor<Flex, D>>(t) {
            Ok(t) => On::Inner(t),
            Err(t) => On::Other(t),
        },
    }
}

/// Back from the backend [`route`] found to `B` (the same type).
fn back<B: Backend, C: Backend, const D: usize>(t: Tensor<C, D>) -> Tensor<B, D> {
    downcast(t).unwrap_or_else(|_| unreachable!("routed from this backend"))
}

/// A parameter of the same backend as a routed tensor.
fn same<B: Backend, C: Backend, const D: usize>(t: Tensor<B, D>) -> Tensor<C, D> {
    downcast(t).unwrap_or_else(|_| unreachable!("same backend as the routed tensor"))
}

/// `nn.LayerNorm` over the last dimension: `(x - mean) / sqrt(var + eps) * weight + bias`.
pub fn layer_norm<B: Backend, const D: usize>(
    x: Tensor<B, D>,
    weight: Tensor<B, 1>,
    bias: Tensor<B, 1>,
    eps: f64,
) -> Tensor<B, D> {
    match route(x) {
        On::Autodiff(x) => back::<B, _, D>(flex::norm_autodiff(
            x,
            same(weight),
            Some(same(bias)),
            eps as f32,
            true,
        )),
        On::Inner(x) => back::<B, _, D>(flex::norm_inner(
            x,
            same(weight),
            Some(same(bias)),
            eps as f32,
            true,
        )),
        On::Other(x) => decomposed::layer_norm(x, weight, bias, eps),
    }
}

/// T5's LayerNorm (RMS norm) over the last dimension: `x / sqrt(mean(x^2) + eps) * weight`.
pub fn rms_norm<B: Backend, const D: usize>(
    x: Tensor<B, D>,
    weight: Tensor<B, 1>,
    eps: f64,
) -> Tensor<B, D> {
    match route(x) {
        On::Autodiff(x) => back::<B, _, D>(flex::norm_autodiff(
            x,
            same(weight),
            None,
            eps as f32,
            false,
        )),
        On::Inner(x) => back::<B, _, D>(flex::norm_inner(x, same(weight), None, eps as f32, false)),
        On::Other(x) => decomposed::rms_norm(x, weight, eps),
    }
}

/// Softmax over the last dimension (attention probabilities).
pub fn softmax_last<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    match route(x) {
        On::Autodiff(x) => back::<B, _, D>(flex::softmax_autodiff(x)),
        On::Inner(x) => back::<B, _, D>(flex::softmax_inner(x)),
        On::Other(x) => burn::tensor::activation::softmax(x, D - 1),
    }
}

/// HF's `gelu_new` (`0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`), element-wise.
pub fn gelu_new<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    match route(x) {
        On::Autodiff(x) => back::<B, _, D>(flex::gelu_new_autodiff(x)),
        On::Inner(x) => back::<B, _, D>(flex::gelu_new_inner(x)),
        On::Other(x) => decomposed::gelu_new(x),
    }
}

/// `log softmax(logits)[targets]` `[batch, len]` for logits `[batch, len, vocab]` and targets
/// `[batch, len]`, and with `with_entropy` the entropy (nats) of each row's `softmax(logits)`.
/// On the CPU one pass over the vocabulary per row (two with the entropy's gradient), with no
/// `[batch, len, vocab]` log-softmax tensor kept for the backward.
pub fn target_logprobs<B: Backend>(
    logits: Tensor<B, 3>,
    targets: Tensor<B, 2, Int>,
    with_entropy: bool,
) -> (Tensor<B, 2>, Option<Tensor<B, 2>>) {
    let [batch, len, _] = logits.dims();
    assert_eq!(targets.dims(), [batch, len], "one target per row of logits");
    let host_targets = || -> Vec<usize> {
        targets
            .clone()
            .into_data()
            .iter::<i64>()
            .map(|t| usize::try_from(t).expect("targets are token ids"))
            .collect()
    };
    let out = match route(logits) {
        On::Autodiff(l) => back::<B, _, 3>(flex::target_logprobs_autodiff(
            l,
            host_targets(),
            with_entropy,
        )),
        On::Inner(l) => {
            back::<B, _, 3>(flex::target_logprobs_inner(l, host_targets(), with_entropy))
        }
        On::Other(l) => return decomposed::target_logprobs(l, targets, with_entropy),
    };
    // `out` is `[batch, len, 1 or 2]`: log-prob, then entropy.
    let logprobs = out.clone().narrow(2, 0, 1).reshape([batch, len]);
    let entropies = with_entropy.then(|| out.narrow(2, 1, 1).reshape([batch, len]));
    (logprobs, entropies)
}

/// `x @ w^T` for `x` `[n, in]` and a weight `w` `[out, in]` in `nn.Linear`'s layout. On the CPU
/// one node calling gemm on `w` in place, whose weight gradient `dy^T x` comes out in the
/// weight's own row-major layout (burn's `x.matmul(w.transpose())` hands AdamW a transposed,
/// strided gradient, and every AdamW op on it then walks it element by element).
pub fn linear_t<B: Backend>(x: Tensor<B, 2>, w: Tensor<B, 2>) -> Tensor<B, 2> {
    match route(x) {
        On::Autodiff(x) => back::<B, _, 2>(flex::linear_t_autodiff(x, same(w))),
        On::Inner(x) => back::<B, _, 2>(flex::linear_t_inner(x, same(w))),
        On::Other(x) => x.matmul(w.transpose()),
    }
}

/// `[batch, 1, q, k]` (or broadcastable) mask as host booleans `[batch, q, k]`.
fn host_mask<B: Backend>(mask: Tensor<B, 4, Bool>, batch: usize, q: usize, k: usize) -> Vec<bool> {
    mask.expand([batch, 1, q, k])
        .into_data()
        .iter::<bool>()
        .collect()
}

/// GPT-2's attention from `c_attn`'s output `qkv` `[batch, seq, 3 width]` (queries, keys and
/// values side by side), `n_head` heads: `softmax(scale q k^T, masked) v` with heads merged,
/// `[batch, seq, width]`; `mask` `[batch, 1, seq, seq]` is true where a query must not see a key
/// (its score is set to `f32::MIN`, as `mask_fill` does). On the CPU one fused node reading the
/// heads in place; elsewhere [`decomposed::attention`] on split heads.
pub fn attention_packed<B: Backend>(
    qkv: Tensor<B, 3>,
    n_head: usize,
    mask: Option<Tensor<B, 4, Bool>>,
    scale: f64,
) -> Tensor<B, 3> {
    let [batch, seq, three_width] = qkv.dims();
    let width = three_width / 3;
    let d = width / n_head;
    let dims = attention::Dims {
        batch,
        heads: n_head,
        q_len: seq,
        k_len: seq,
        d,
    };
    let host = |m: Option<Tensor<B, 4, Bool>>| m.map(|m| host_mask(m, batch, seq, seq));
    let operands = |sources: &[burn_flex::FlexTensor]| {
        let _ = sources;
        let op = |col: usize| attention::Operand {
            src: 0,
            offset: col,
            sb: seq * three_width,
            sh: d,
            ss: three_width,
        };
        (op(0), op(width), op(2 * width), None)
    };
    match route(qkv) {
        On::Autodiff(qkv) => {
            let m = host(mask);
            back::<B, _, 3>(flex::attention_autodiff(
                [flex::primitive(qkv)],
                &[flex::Prepare::Contiguous],
                operands,
                m,
                scale as f32,
                dims,
            ))
        }
        On::Inner(qkv) => {
            let m = host(mask);
            back::<B, _, 3>(flex::attention_inner(
                vec![qkv.into_primitive().tensor()],
                &[flex::Prepare::Contiguous],
                operands,
                m,
                scale as f32,
                dims,
            ))
        }
        On::Other(qkv) => {
            let split = |t: Tensor<B, 3>| t.reshape([batch, seq, n_head, d]).swap_dims(1, 2);
            let q = split(qkv.clone().narrow(2, 0, width));
            let k = split(qkv.clone().narrow(2, width, width));
            let v = split(qkv.narrow(2, 2 * width, width));
            decomposed::attention(q, k, v, None, mask, scale)
        }
    }
}

/// `softmax(scale q k^T + bias, masked) v` with heads merged, `[batch, q, heads d]`, for `q`
/// `[batch, heads, q, d]`, `k` and `v` `[batch, heads, k, d]` (any strided views), `bias`
/// broadcastable to `[batch, heads, q, k]` and `mask` `[batch, 1, q, k]` (true: not attended,
/// score set to `f32::MIN`). On the CPU one fused node (gradients to q, k, v and the bias);
/// elsewhere [`decomposed::attention`].
pub fn attention<B: Backend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    bias: Option<Tensor<B, 4>>,
    mask: Option<Tensor<B, 4, Bool>>,
    scale: f64,
) -> Tensor<B, 3> {
    let [batch, heads, q_len, d] = q.dims();
    let k_len = k.dims()[2];
    let dims = attention::Dims {
        batch,
        heads,
        q_len,
        k_len,
        d,
    };
    let shape = [batch, heads, q_len, k_len];
    let host = |m: Option<Tensor<B, 4, Bool>>| m.map(|m| host_mask(m, batch, q_len, k_len));
    let with_bias = bias.is_some();
    let operands = move |sources: &[burn_flex::FlexTensor]| {
        let op = |i: usize| attention::Operand::of_view(i, &sources[i]).expect("prepared view");
        (op(0), op(1), op(2), with_bias.then_some(3))
    };
    let mut prepare = vec![flex::Prepare::View; 3];
    if with_bias {
        prepare.push(flex::Prepare::Contiguous);
    }
    match route(q) {
        On::Autodiff(q) => {
            let m = host(mask);
            let (k, v) = (flex::primitive(same(k)), flex::primitive(same(v)));
            let q = flex::primitive(q);
            let out = match bias {
                Some(bias) => {
                    let bias = flex::primitive(same::<B, CpuBackend, 4>(bias).expand(shape));
                    flex::attention_autodiff(
                        [q, k, v, bias],
                        &prepare,
                        operands,
                        m,
                        scale as f32,
                        dims,
                    )
                }
                None => {
                    flex::attention_autodiff([q, k, v], &prepare, operands, m, scale as f32, dims)
                }
            };
            back::<B, _, 3>(out)
        }
        On::Inner(q) => {
            let m = host(mask);
            let mut sources = vec![
                q.into_primitive().tensor(),
                same::<B, Flex, 4>(k).into_primitive().tensor(),
                same::<B, Flex, 4>(v).into_primitive().tensor(),
            ];
            if let Some(bias) = bias {
                sources.push(
                    same::<B, Flex, 4>(bias)
                        .expand(shape)
                        .into_primitive()
                        .tensor(),
                );
            }
            back::<B, _, 3>(flex::attention_inner(
                sources,
                &prepare,
                operands,
                m,
                scale as f32,
                dims,
            ))
        }
        On::Other(q) => decomposed::attention(q, k, v, bias, mask, scale),
    }
}

/// The same ops composed from burn's tensor ops: what other backends run, and the reference the
/// fused kernels are tested against.
pub mod decomposed {
    use burn::tensor::activation::{log_softmax, sigmoid, softmax};
    use burn::tensor::backend::Backend;
    use burn::tensor::{Bool, Int, Tensor};

    /// `softmax(scale q k^T + bias, masked) v`, heads merged: see [`super::attention`].
    pub fn attention<B: Backend>(
        q: Tensor<B, 4>,
        k: Tensor<B, 4>,
        v: Tensor<B, 4>,
        bias: Option<Tensor<B, 4>>,
        mask: Option<Tensor<B, 4, Bool>>,
        scale: f64,
    ) -> Tensor<B, 3> {
        let [batch, heads, q_len, d] = q.dims();
        let k_len = k.dims()[2];
        let mut scores = q.matmul(k.swap_dims(2, 3));
        if scale != 1.0 {
            scores = scores.mul_scalar(scale);
        }
        if let Some(bias) = bias {
            scores = scores + bias;
        }
        if let Some(mask) = mask {
            scores = scores.mask_fill(mask.expand([batch, heads, q_len, k_len]), f32::MIN);
        }
        softmax(scores, 3)
            .matmul(v)
            .swap_dims(1, 2)
            .reshape([batch, q_len, heads * d])
    }

    pub fn layer_norm<B: Backend, const D: usize>(
        x: Tensor<B, D>,
        weight: Tensor<B, 1>,
        bias: Tensor<B, 1>,
        eps: f64,
    ) -> Tensor<B, D> {
        let mean = x.clone().mean_dim(D - 1);
        let centered = x - mean;
        let var = centered.clone().powi_scalar(2).mean_dim(D - 1);
        let normed = centered / var.add_scalar(eps).sqrt();
        normed * weight.unsqueeze::<D>() + bias.unsqueeze::<D>()
    }

    pub fn rms_norm<B: Backend, const D: usize>(
        x: Tensor<B, D>,
        weight: Tensor<B, 1>,
        eps: f64,
    ) -> Tensor<B, D> {
        let var = x.clone().powi_scalar(2).mean_dim(D - 1);
        x / var.add_scalar(eps).sqrt() * weight.unsqueeze::<D>()
    }

    /// `x sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3))`, equal to the tanh form: burn's sigmoid is one
    /// op with its own backward, where `tanh` plus the affine map around it are four.
    pub fn gelu_new<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
        let c = 2.0 * (2.0f64 / std::f64::consts::PI).sqrt();
        let inner = x.clone()
            * (x.clone() * x.clone())
                .mul_scalar(c * 0.044715)
                .add_scalar(c);
        sigmoid(inner) * x
    }

    pub fn target_logprobs<B: Backend>(
        logits: Tensor<B, 3>,
        targets: Tensor<B, 2, Int>,
        with_entropy: bool,
    ) -> (Tensor<B, 2>, Option<Tensor<B, 2>>) {
        let [batch, len, _] = logits.dims();
        let logp = log_softmax(logits, 2);
        let logprobs = logp
            .clone()
            .gather(2, targets.reshape([batch, len, 1]))
            .reshape([batch, len]);
        let entropies = with_entropy.then(|| {
            (logp.clone().exp() * logp)
                .sum_dim(2)
                .neg()
                .reshape([batch, len])
        });
        (logprobs, entropies)
    }
}
