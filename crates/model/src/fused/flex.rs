//! The fused ops on burn's CPU backend: forward kernels on [`FlexTensor`]s, and for
//! `Autodiff<Flex>` one autodiff node each ([`Backward`]) whose backward is one fused kernel too.
//! Rows are spread over rayon's pool (the one burn-flex's matmul uses); each row is computed by
//! the same code whatever the thread count, and the only cross-row sums (LayerNorm's weight and
//! bias gradients) add fixed blocks of rows in a fixed order, so results do not depend on the
//! number of threads.

use std::sync::Arc;

use burn::backend::Flex;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::tensor::ops::FloatTensor;
use burn::tensor::{Shape, Tensor, TensorData, TensorPrimitive};
use burn_flex::FlexTensor;
use rayon::prelude::*;

use super::attention::{self, AttentionBackward, Dims, Operand};
use super::kernels;
use crate::backend::CpuBackend;

/// Elements per rayon task (rows are grouped up to this size); does not affect results.
const TASK_ELEMS: usize = 1 << 14;
/// Rows per partial sum of LayerNorm's parameter gradients: fixed, so the sums' order is too.
const NORM_BLOCK_ROWS: usize = 32;

fn rows_per_task(len: usize) -> usize {
    (TASK_ELEMS / len.max(1)).max(1)
}

/// Elements per rayon task for rows of `len` (never 0, so empty tensors are fine).
fn task_elems(len: usize) -> usize {
    (rows_per_task(len) * len).max(1)
}

/// The tensor in a contiguous layout (copied only when its layout is not).
pub(super) fn contiguous(t: FlexTensor) -> FlexTensor {
    t.to_contiguous()
}

fn values(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>()
        .expect("fused ops take contiguous f32 tensors")
}

fn tensor(values: Vec<f32>, shape: Shape) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// Offsets of the rows (last dimension) of `t` in its storage, when its last dimension is
/// contiguous (e.g. a `narrow` of the sequence dimension), without copying anything.
fn row_offsets(t: &FlexTensor) -> Option<Vec<usize>> {
    let layout = t.layout();
    let shape = layout.shape();
    let strides = layout.strides();
    let d = shape.len();
    let len = shape[d - 1];
    if (len > 1 && strides[d - 1] != 1) || strides.iter().any(|&s| s < 0) {
        return None;
    }
    let rows = shape.num_elements() / len.max(1);
    let mut offsets = Vec::with_capacity(rows);
    let mut index = vec![0usize; d - 1];
    for _ in 0..rows {
        let off: isize = index
            .iter()
            .zip(strides)
            .map(|(&i, &s)| i as isize * s)
            .sum();
        offsets.push(layout.start_offset() + off as usize);
        for k in (0..d - 1).rev() {
            index[k] += 1;
            if index[k] < shape[k] {
                break;
            }
            index[k] = 0;
        }
    }
    Some(offsets)
}

// ---------------------------------------------------------------------------------------------
// Target log-probabilities (+ entropies)

/// What the backward of [`target_logprobs`] needs: the logits and, per row, its target, `lse`
/// and entropy.
#[derive(Debug)]
struct TargetLogprobsState {
    logits: FlexTensor,
    offsets: Vec<usize>,
    targets: Vec<usize>,
    lse: Vec<f32>,
    entropy: Vec<f32>,
}

/// `[rows..., k]`: column 0 `log softmax(logits)[target]`, column 1 (when `k == 2`) the entropy
/// of `softmax(logits)`, for logits `[rows..., vocab]` (any layout with contiguous rows).
fn target_logprobs_forward(
    logits: FlexTensor,
    targets: Vec<usize>,
    with_entropy: bool,
) -> (FlexTensor, TargetLogprobsState) {
    let (logits, offsets) = match row_offsets(&logits) {
        Some(o) => (logits, o),
        None => {
            let l = contiguous(logits);
            let o = row_offsets(&l).expect("contiguous");
            (l, o)
        }
    };
    let mut shape = logits.layout().shape().clone();
    let vocab = shape[shape.len() - 1];
    assert_eq!(offsets.len(), targets.len(), "one target per row of logits");
    if let Some(&t) = targets.iter().find(|&&t| t >= vocab) {
        panic!("target {t} is out of the vocabulary ({vocab})");
    }
    let storage: &[f32] = logits.storage();
    let k = if with_entropy { 2 } else { 1 };
    let mut out = vec![0f32; offsets.len() * k];
    let mut lse = vec![0f32; offsets.len()];
    let mut entropy = vec![0f32; if with_entropy { offsets.len() } else { 0 }];
    let per = rows_per_task(vocab);
    out.par_chunks_mut(per * k)
        .zip(lse.par_chunks_mut(per))
        .enumerate()
        .for_each(|(c, (out, lse))| {
            for (i, l) in lse.iter_mut().enumerate() {
                let r = c * per + i;
                let row = &storage[offsets[r]..offsets[r] + vocab];
                let (s, h) = kernels::logsumexp_row(row, with_entropy);
                *l = s;
                out[i * k] = row[targets[r]] - s;
                if with_entropy {
                    out[i * k + 1] = h;
                }
            }
        });
    if with_entropy {
        for (e, o) in entropy.iter_mut().zip(out.chunks_exact(2)) {
            *e = o[1];
        }
    }
    let last = shape.len() - 1;
    shape[last] = k;
    let state = TargetLogprobsState {
        logits,
        offsets,
        targets,
        lse,
        entropy,
    };
    (tensor(out, shape), state)
}

#[derive(Debug)]
struct TargetLogprobsBackward;

impl Backward<Flex, 1> for TargetLogprobsBackward {
    type State = Arc<TargetLogprobsState>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = contiguous(grads.consume::<Flex>(&ops.node));
        let [parent] = ops.parents;
        let Some(parent) = parent else { return };
        let s = &ops.state;
        let g = values(&grad);
        let k = g.len() / s.targets.len();
        let shape = s.logits.layout().shape().clone();
        let vocab = shape[shape.len() - 1];
        let storage: &[f32] = s.logits.storage();
        let mut dz = vec![0f32; s.targets.len() * vocab];
        let per = rows_per_task(vocab);
        dz.par_chunks_mut(per * vocab)
            .enumerate()
            .for_each(|(c, dz)| {
                for (i, dz) in dz.chunks_exact_mut(vocab).enumerate() {
                    let r = c * per + i;
                    let row = &storage[s.offsets[r]..s.offsets[r] + vocab];
                    let (g_lp, g_h, h) = if k == 2 {
                        (g[2 * r], g[2 * r + 1], s.entropy[r])
                    } else {
                        (g[r], 0.0, 0.0)
                    };
                    kernels::logsumexp_row_backward(row, dz, s.targets[r], s.lse[r], h, g_lp, g_h);
                }
            });
        grads.register::<Flex>(parent.id, tensor(dz, shape));
    }
}

/// See [`super::target_logprobs`]; `targets` has one entry per row of `logits`.
pub(super) fn target_logprobs_autodiff<const D: usize>(
    logits: Tensor<CpuBackend, D>,
    targets: Vec<usize>,
    with_entropy: bool,
) -> Tensor<CpuBackend, D> {
    let logits = autodiff_primitive(logits);
    let out = match TargetLogprobsBackward
        .prepare::<NoCheckpointing>([logits.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let (out, state) = target_logprobs_forward(logits.primitive, targets, with_entropy);
            prep.finish(Arc::new(state), out)
        }
        OpsKind::UnTracked(prep) => {
            prep.finish(target_logprobs_forward(logits.primitive, targets, with_entropy).0)
        }
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

pub(super) fn target_logprobs_inner<const D: usize>(
    logits: Tensor<Flex, D>,
    targets: Vec<usize>,
    with_entropy: bool,
) -> Tensor<Flex, D> {
    let logits = logits.into_primitive().tensor();
    let (out, _) = target_logprobs_forward(logits, targets, with_entropy);
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

// ---------------------------------------------------------------------------------------------
// LayerNorm / T5's RMS norm

#[derive(Debug)]
struct NormState {
    x: FlexTensor,
    weight: FlexTensor,
    has_bias: bool,
    mean: Vec<f32>,
    rstd: Vec<f32>,
    center: bool,
}

fn norm_forward(
    x: FlexTensor,
    weight: FlexTensor,
    bias: Option<FlexTensor>,
    eps: f32,
    center: bool,
) -> (FlexTensor, NormState) {
    let x = contiguous(x);
    let weight = contiguous(weight);
    let bias = bias.map(contiguous);
    let shape = x.layout().shape().clone();
    let len = shape[shape.len() - 1];
    let xs = values(&x);
    let w = values(&weight);
    let b: &[f32] = bias.as_ref().map_or(&[], values);
    assert_eq!(w.len(), len, "norm weight must match the last dimension");
    let rows = xs.len() / len;
    let mut y = vec![0f32; xs.len()];
    let mut mean = vec![0f32; rows];
    let mut rstd = vec![0f32; rows];
    let per = rows_per_task(len);
    y.par_chunks_mut(task_elems(len))
        .zip(xs.par_chunks(task_elems(len)))
        .zip(mean.par_chunks_mut(per).zip(rstd.par_chunks_mut(per)))
        .for_each(|((y, x), (mean, rstd))| {
            for (((y, x), m), r) in y
                .chunks_exact_mut(len)
                .zip(x.chunks_exact(len))
                .zip(mean.iter_mut())
                .zip(rstd.iter_mut())
            {
                (*m, *r) = kernels::norm_row(x, y, w, b, eps, center);
            }
        });
    let state = NormState {
        x,
        weight,
        has_bias: bias.is_some(),
        mean,
        rstd,
        center,
    };
    (tensor(y, shape), state)
}

/// `(dx, dw, db)`; `db` is empty without a bias.
fn norm_backward(s: &NormState, dy: &[f32]) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let xs = values(&s.x);
    let w = values(&s.weight);
    let len = w.len();
    let rows = xs.len() / len;
    let mut dx = vec![0f32; xs.len()];
    let blocks = rows.div_ceil(NORM_BLOCK_ROWS);
    let mut partial_w = vec![0f32; blocks * len];
    let mut partial_b = vec![0f32; blocks * len];
    dx.par_chunks_mut(NORM_BLOCK_ROWS * len)
        .zip(
            partial_w
                .par_chunks_mut(len)
                .zip(partial_b.par_chunks_mut(len)),
        )
        .enumerate()
        .for_each(|(c, (dx, (dw, db)))| {
            let db: &mut [f32] = if s.has_bias { db } else { &mut [] };
            for (i, dx) in dx.chunks_exact_mut(len).enumerate() {
                let r = c * NORM_BLOCK_ROWS + i;
                let x = &xs[r * len..(r + 1) * len];
                let g = &dy[r * len..(r + 1) * len];
                kernels::norm_row_backward(x, g, dx, w, dw, db, s.mean[r], s.rstd[r], s.center);
            }
        });
    let sum_blocks = |partial: &[f32], n: usize| {
        let mut total = vec![0f32; n];
        for p in partial.chunks_exact(n.max(1)) {
            for (t, &v) in total.iter_mut().zip(p) {
                *t += v;
            }
        }
        total
    };
    let dw = sum_blocks(&partial_w, len);
    let db = if s.has_bias {
        sum_blocks(&partial_b, len)
    } else {
        Vec::new()
    };
    (dx, dw, db)
}

#[derive(Debug)]
struct NormBackward;

impl<const N: usize> Backward<Flex, N> for NormBackward {
    type State = Arc<NormState>;

    fn backward(self, ops: Ops<Self::State, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = contiguous(grads.consume::<Flex>(&ops.node));
        let s = &ops.state;
        let (dx, dw, db) = norm_backward(s, values(&grad));
        let shape = s.x.layout().shape().clone();
        let wshape = s.weight.layout().shape().clone();
        let mut parents = ops.parents.into_iter();
        if let Some(Some(p)) = parents.next() {
            grads.register::<Flex>(p.id, tensor(dx, shape));
        }
        if let Some(Some(p)) = parents.next() {
            grads.register::<Flex>(p.id, tensor(dw, wshape.clone()));
        }
        if let Some(Some(p)) = parents.next() {
            grads.register::<Flex>(p.id, tensor(db, wshape));
        }
    }
}

fn autodiff_primitive<const D: usize>(t: Tensor<CpuBackend, D>) -> FloatTensor<CpuBackend> {
    t.into_primitive().tensor()
}

pub(super) fn primitive<const D: usize>(t: Tensor<CpuBackend, D>) -> FloatTensor<CpuBackend> {
    autodiff_primitive(t)
}

/// See [`super::layer_norm`] / [`super::rms_norm`].
pub(super) fn norm_autodiff<const D: usize>(
    x: Tensor<CpuBackend, D>,
    weight: Tensor<CpuBackend, 1>,
    bias: Option<Tensor<CpuBackend, 1>>,
    eps: f32,
    center: bool,
) -> Tensor<CpuBackend, D> {
    let x = autodiff_primitive(x);
    let w = autodiff_primitive(weight);
    let out = match bias {
        Some(bias) => {
            let b = autodiff_primitive(bias);
            match <NormBackward as Backward<Flex, 3>>::prepare::<NoCheckpointing>(
                NormBackward,
                [x.node.clone(), w.node.clone(), b.node.clone()],
            )
            .compute_bound()
            .stateful()
            {
                OpsKind::Tracked(prep) => {
                    let (y, s) =
                        norm_forward(x.primitive, w.primitive, Some(b.primitive), eps, center);
                    prep.finish(Arc::new(s), y)
                }
                OpsKind::UnTracked(prep) => prep.finish(
                    norm_forward(x.primitive, w.primitive, Some(b.primitive), eps, center).0,
                ),
            }
        }
        None => match <NormBackward as Backward<Flex, 2>>::prepare::<NoCheckpointing>(
            NormBackward,
            [x.node.clone(), w.node.clone()],
        )
        .compute_bound()
        .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (y, s) = norm_forward(x.primitive, w.primitive, None, eps, center);
                prep.finish(Arc::new(s), y)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(norm_forward(x.primitive, w.primitive, None, eps, center).0)
            }
        },
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

pub(super) fn norm_inner<const D: usize>(
    x: Tensor<Flex, D>,
    weight: Tensor<Flex, 1>,
    bias: Option<Tensor<Flex, 1>>,
    eps: f32,
    center: bool,
) -> Tensor<Flex, D> {
    let (y, _) = norm_forward(
        x.into_primitive().tensor(),
        weight.into_primitive().tensor(),
        bias.map(|b| b.into_primitive().tensor()),
        eps,
        center,
    );
    Tensor::from_primitive(TensorPrimitive::Float(y))
}

// ---------------------------------------------------------------------------------------------
// Softmax over the last dimension

fn softmax_forward(x: FlexTensor) -> FlexTensor {
    let x = contiguous(x);
    let shape = x.layout().shape().clone();
    let len = shape[shape.len() - 1];
    let xs = values(&x);
    let mut y = vec![0f32; xs.len()];
    let per = task_elems(len);
    y.par_chunks_mut(per)
        .zip(xs.par_chunks(per))
        .for_each(|(y, x)| kernels::softmax_rows(x, y, len));
    tensor(y, shape)
}

#[derive(Debug)]
struct SoftmaxBackward;

impl Backward<Flex, 1> for SoftmaxBackward {
    type State = FlexTensor;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = contiguous(grads.consume::<Flex>(&ops.node));
        let [parent] = ops.parents;
        let Some(parent) = parent else { return };
        let y = &ops.state;
        let shape = y.layout().shape().clone();
        let len = shape[shape.len() - 1];
        let ys = values(y);
        let gs = values(&grad);
        let mut dx = vec![0f32; ys.len()];
        let per = task_elems(len);
        dx.par_chunks_mut(per)
            .zip(ys.par_chunks(per).zip(gs.par_chunks(per)))
            .for_each(|(dx, (y, g))| kernels::softmax_rows_backward(y, g, dx, len));
        grads.register::<Flex>(parent.id, tensor(dx, shape));
    }
}

pub(super) fn softmax_autodiff<const D: usize>(x: Tensor<CpuBackend, D>) -> Tensor<CpuBackend, D> {
    let x = autodiff_primitive(x);
    let out = match SoftmaxBackward
        .prepare::<NoCheckpointing>([x.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let y = softmax_forward(x.primitive);
            prep.finish(y.clone(), y)
        }
        OpsKind::UnTracked(prep) => prep.finish(softmax_forward(x.primitive)),
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

pub(super) fn softmax_inner<const D: usize>(x: Tensor<Flex, D>) -> Tensor<Flex, D> {
    let y = softmax_forward(x.into_primitive().tensor());
    Tensor::from_primitive(TensorPrimitive::Float(y))
}

// ---------------------------------------------------------------------------------------------
// gelu_new

fn gelu_forward(x: &FlexTensor) -> FlexTensor {
    let xs = values(x);
    let mut y = vec![0f32; xs.len()];
    y.par_chunks_mut(TASK_ELEMS)
        .zip(xs.par_chunks(TASK_ELEMS))
        .for_each(|(y, x)| kernels::gelu_new_slice(x, y));
    tensor(y, x.layout().shape().clone())
}

#[derive(Debug)]
struct GeluBackward;

impl Backward<Flex, 1> for GeluBackward {
    type State = FlexTensor;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = contiguous(grads.consume::<Flex>(&ops.node));
        let [parent] = ops.parents;
        let Some(parent) = parent else { return };
        let x = &ops.state;
        let xs = values(x);
        let gs = values(&grad);
        let mut dx = vec![0f32; xs.len()];
        dx.par_chunks_mut(TASK_ELEMS)
            .zip(xs.par_chunks(TASK_ELEMS).zip(gs.par_chunks(TASK_ELEMS)))
            .for_each(|(dx, (x, g))| kernels::gelu_new_backward_slice(x, g, dx));
        grads.register::<Flex>(parent.id, tensor(dx, x.layout().shape().clone()));
    }
}

pub(super) fn gelu_new_autodiff<const D: usize>(x: Tensor<CpuBackend, D>) -> Tensor<CpuBackend, D> {
    let x = autodiff_primitive(x);
    let out = match GeluBackward
        .prepare::<NoCheckpointing>([x.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let input = contiguous(x.primitive);
            let y = gelu_forward(&input);
            prep.finish(input, y)
        }
        OpsKind::UnTracked(prep) => prep.finish(gelu_forward(&contiguous(x.primitive))),
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

pub(super) fn gelu_new_inner<const D: usize>(x: Tensor<Flex, D>) -> Tensor<Flex, D> {
    let y = gelu_forward(&contiguous(x.into_primitive().tensor()));
    Tensor::from_primitive(TensorPrimitive::Float(y))
}

// ---------------------------------------------------------------------------------------------
// Attention (see `attention.rs`)

/// How an attention source is laid out before the kernels read it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Prepare {
    /// Made contiguous (a no-op when it is).
    Contiguous,
    /// A `[batch, heads, len, d]` view read in place when its layout allows (and it does not sit
    /// in a much larger buffer); else made contiguous.
    View,
}

fn prepare_source(t: FlexTensor, how: Prepare) -> FlexTensor {
    match how {
        Prepare::Contiguous => contiguous(t),
        Prepare::View => {
            let numel = t.layout().shape().num_elements();
            if Operand::of_view(0, &t).is_some() && attention::reach(&t) <= 2 * numel {
                t
            } else {
                contiguous(t)
            }
        }
    }
}

type Operands = (Operand, Operand, Operand, Option<usize>);

pub(super) fn attention_autodiff<const N: usize>(
    inputs: [FloatTensor<CpuBackend>; N],
    prepare: &[Prepare],
    operands: impl FnOnce(&[FlexTensor]) -> Operands,
    mask: Option<Vec<bool>>,
    scale: f32,
    dims: Dims,
) -> Tensor<CpuBackend, 3> {
    let nodes = inputs.each_ref().map(|t| t.node.clone());
    let sources: Vec<FlexTensor> = inputs
        .into_iter()
        .zip(prepare)
        .map(|(t, &how)| prepare_source(t.primitive, how))
        .collect();
    let (q, k, v, bias) = operands(&sources);
    let mask = mask.map(Arc::new);
    let out = match <AttentionBackward as Backward<Flex, N>>::prepare::<NoCheckpointing>(
        AttentionBackward,
        nodes,
    )
    .compute_bound()
    .stateful()
    {
        OpsKind::Tracked(prep) => {
            let (out, state) = attention::forward(sources, q, k, v, bias, mask, scale, dims);
            prep.finish(Arc::new(state), out)
        }
        OpsKind::UnTracked(prep) => {
            prep.finish(attention::forward(sources, q, k, v, bias, mask, scale, dims).0)
        }
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

pub(super) fn attention_inner(
    sources: Vec<FlexTensor>,
    prepare: &[Prepare],
    operands: impl FnOnce(&[FlexTensor]) -> Operands,
    mask: Option<Vec<bool>>,
    scale: f32,
    dims: Dims,
) -> Tensor<Flex, 3> {
    let sources: Vec<FlexTensor> = sources
        .into_iter()
        .zip(prepare)
        .map(|(t, &how)| prepare_source(t, how))
        .collect();
    let (q, k, v, bias) = operands(&sources);
    let (out, _) = attention::forward(sources, q, k, v, bias, mask.map(Arc::new), scale, dims);
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

// ---------------------------------------------------------------------------------------------
// x @ w^T with the weight in `nn.Linear`'s layout

fn gemm_parallelism(work: usize) -> gemm::Parallelism {
    let threads = rayon::current_num_threads();
    // burn-flex's threshold for a parallel matmul (192^3 multiply-adds).
    if threads > 1 && work >= 192 * 192 * 192 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    }
}

/// `dst [m, n] = lhs [m, k] @ rhs [k, n]`, each given by (row stride, column stride).
#[allow(clippy::too_many_arguments)]
fn matmul_into(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    lhs: &[f32],
    (lhs_rs, lhs_cs): (usize, usize),
    rhs: &[f32],
    (rhs_rs, rhs_cs): (usize, usize),
) {
    assert_eq!(dst.len(), m * n);
    assert!(m == 0 || k == 0 || (m - 1) * lhs_rs + (k - 1) * lhs_cs < lhs.len());
    assert!(k == 0 || n == 0 || (k - 1) * rhs_rs + (n - 1) * rhs_cs < rhs.len());
    // SAFETY: the asserts above keep every index gemm reads or writes inside the slices.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            false,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm_parallelism(m * n * k),
        );
    }
}

/// `x [n, in] @ w^T` for `w [out, in]`: `[n, out]`.
fn linear_t_forward(x: &FlexTensor, w: &FlexTensor) -> FlexTensor {
    let [n, inp] = x.layout().shape().dims::<2>();
    let out = w.layout().shape()[0];
    let mut y = vec![0f32; n * out];
    matmul_into(
        n,
        out,
        inp,
        &mut y,
        values(x),
        (inp, 1),
        values(w),
        (1, inp),
    );
    tensor(y, Shape::new([n, out]))
}

#[derive(Debug)]
struct LinearTBackward;

impl Backward<Flex, 2> for LinearTBackward {
    type State = (FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = contiguous(grads.consume::<Flex>(&ops.node));
        let [px, pw] = ops.parents;
        let (x, w) = &ops.state;
        let [n, inp] = x.layout().shape().dims::<2>();
        let out = w.layout().shape()[0];
        let g = values(&dy);
        if let Some(px) = px {
            // dx = dy @ w   [n, in]
            let mut dx = vec![0f32; n * inp];
            matmul_into(n, inp, out, &mut dx, g, (out, 1), values(w), (inp, 1));
            grads.register::<Flex>(px.id, tensor(dx, Shape::new([n, inp])));
        }
        if let Some(pw) = pw {
            // dw = dy^T @ x   [out, in], in the weight's own (row-major) layout
            let mut dw = vec![0f32; out * inp];
            matmul_into(out, inp, n, &mut dw, g, (1, out), values(x), (inp, 1));
            grads.register::<Flex>(pw.id, tensor(dw, Shape::new([out, inp])));
        }
    }
}

pub(super) fn linear_t_autodiff(
    x: Tensor<CpuBackend, 2>,
    w: Tensor<CpuBackend, 2>,
) -> Tensor<CpuBackend, 2> {
    let (x, w) = (autodiff_primitive(x), autodiff_primitive(w));
    let out = match LinearTBackward
        .prepare::<NoCheckpointing>([x.node.clone(), w.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let (xc, wc) = (contiguous(x.primitive), contiguous(w.primitive));
            let y = linear_t_forward(&xc, &wc);
            prep.finish((xc, wc), y)
        }
        OpsKind::UnTracked(prep) => prep.finish(linear_t_forward(
            &contiguous(x.primitive),
            &contiguous(w.primitive),
        )),
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

pub(super) fn linear_t_inner(x: Tensor<Flex, 2>, w: Tensor<Flex, 2>) -> Tensor<Flex, 2> {
    let y = linear_t_forward(
        &contiguous(x.into_primitive().tensor()),
        &contiguous(w.into_primitive().tensor()),
    );
    Tensor::from_primitive(TensorPrimitive::Float(y))
}
