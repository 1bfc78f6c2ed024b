//! Multi-head attention as one autodiff node on burn's CPU backend:
//! `out[b, :, h] = softmax(scale q k^T + bias, masked) v` for every batch row `b` and head `h`,
//! forward and backward each one task per `(b, h)` on rayon's pool, calling `gemm` (the crate
//! burn-flex's matmul uses) single-threaded on strided views. Queries, keys and values are read
//! where they lie (GPT-2's fused `c_attn` output `[batch, seq, 3 n_embd]`, or T5's split-head
//! views), the output is written with the heads already merged, and their gradients go back in
//! the same layouts: no head split/merge copies, and the only `[batch, heads, q, k]` tensor kept
//! is the probabilities.
//!
//! Each `(b, h)` is computed by the same code whatever the thread count (and `gemm` is called
//! without parallelism), so results do not depend on it.

use std::sync::Arc;

use burn::backend::Flex;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::tensor::{Shape, TensorData};
use burn_flex::FlexTensor;
use gemm::{Parallelism, gemm};

/// `dst = alpha dst + beta lhs rhs` for `[m, n, k]` = `[rows, columns, inner]`, each operand
/// `(pointer, column stride, row stride)` in elements; `dst` is read (scaled by `alpha`) only when
/// `accumulate`. One thread: every task owns its output region.
///
/// # Safety
/// As [`gemm::gemm`]: every operand must be valid for its shape and strides.
#[allow(clippy::too_many_arguments)]
unsafe fn mm(
    [m, n, k]: [usize; 3],
    dst: (*mut f32, isize, isize),
    accumulate: bool,
    lhs: (*const f32, isize, isize),
    rhs: (*const f32, isize, isize),
    alpha: f32,
    beta: f32,
) {
    // SAFETY: the caller's.
    unsafe {
        gemm(
            m,
            n,
            k,
            dst.0,
            dst.1,
            dst.2,
            accumulate,
            lhs.0,
            lhs.1,
            lhs.2,
            rhs.0,
            rhs.1,
            rhs.2,
            alpha,
            beta,
            false,
            false,
            false,
            Parallelism::None,
        )
    }
}
use rayon::prelude::*;

use super::kernels;

/// Where one operand's heads lie in the storage of source tensor `src`: element `(b, h, s, d)`
/// is at `offset + b sb + h sh + s ss + d`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Operand {
    pub src: usize,
    pub offset: usize,
    pub sb: usize,
    pub sh: usize,
    pub ss: usize,
}

impl Operand {
    fn at(&self, b: usize, h: usize) -> usize {
        self.offset + b * self.sb + h * self.sh
    }

    /// A `[batch, heads, len, d]` tensor read through its own layout (last stride 1, no
    /// negative strides), or `None` if its layout is not such.
    pub(super) fn of_view(src: usize, t: &FlexTensor) -> Option<Self> {
        let layout = t.layout();
        let s = layout.strides();
        if s.len() != 4 || s.iter().any(|&x| x < 0) || (s[3] != 1 && layout.shape()[3] > 1) {
            return None;
        }
        Some(Operand {
            src,
            offset: layout.start_offset(),
            sb: s[0] as usize,
            sh: s[1] as usize,
            ss: s[2] as usize,
        })
    }
}

/// Sizes: batch, heads, query length, key length, head width.
#[derive(Debug, Clone, Copy)]
pub(super) struct Dims {
    pub batch: usize,
    pub heads: usize,
    pub q_len: usize,
    pub k_len: usize,
    pub d: usize,
}

/// What the backward needs.
#[derive(Debug)]
pub(super) struct AttentionState {
    sources: Vec<FlexTensor>,
    q: Operand,
    k: Operand,
    v: Operand,
    /// Source index of a contiguous `[batch, heads, q, k]` additive bias.
    bias: Option<usize>,
    /// `[batch, q, k]`, true where a key is not attended (score set to `f32::MIN`).
    mask: Option<Arc<Vec<bool>>>,
    scale: f32,
    dims: Dims,
    /// `[batch, heads, q, k]`
    probs: Vec<f32>,
}

/// A raw pointer handed to the tasks; each task touches its own `(b, h)` region only.
#[derive(Clone, Copy)]
struct SharedMut(*mut f32);
// SAFETY: the tasks write disjoint regions (see each use).
unsafe impl Send for SharedMut {}
unsafe impl Sync for SharedMut {}

impl SharedMut {
    fn ptr(&self) -> *mut f32 {
        self.0
    }
}

#[derive(Clone, Copy)]
struct Shared(*const f32);
// SAFETY: read-only.
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

impl Shared {
    fn ptr(&self) -> *const f32 {
        self.0
    }
}

/// Elements of storage a view of `t` reaches (from 0).
pub(super) fn reach(t: &FlexTensor) -> usize {
    let l = t.layout();
    if l.shape().num_elements() == 0 {
        return 0;
    }
    l.start_offset()
        + l.shape()
            .iter()
            .zip(l.strides())
            .map(|(&n, &s)| (n - 1) * s.max(0) as usize)
            .sum::<usize>()
        + 1
}

/// `[batch, q, heads * d]`, heads merged; the state for the backward.
#[allow(clippy::too_many_arguments)]
pub(super) fn forward(
    sources: Vec<FlexTensor>,
    q: Operand,
    k: Operand,
    v: Operand,
    bias: Option<usize>,
    mask: Option<Arc<Vec<bool>>>,
    scale: f32,
    dims: Dims,
) -> (FlexTensor, AttentionState) {
    let Dims {
        batch,
        heads,
        q_len,
        k_len,
        d,
    } = dims;
    let width = heads * d;
    if batch * heads * q_len * k_len * d == 0 {
        // Nothing to attend (or to attend to): zeros of the output's shape, as `p v` would give.
        let out = FlexTensor::from_data(TensorData::new(
            vec![0f32; batch * q_len * width],
            [batch, q_len, width],
        ));
        let state = AttentionState {
            sources,
            q,
            k,
            v,
            bias,
            mask,
            scale,
            dims,
            probs: Vec::new(),
        };
        return (out, state);
    }
    for (op, len) in [(q, q_len), (k, k_len), (v, k_len)] {
        let src = &sources[op.src];
        let needed =
            op.offset + (batch - 1) * op.sb + (heads - 1) * op.sh + (len.max(1) - 1) * op.ss + d;
        assert!(
            needed <= src.storage::<f32>().len(),
            "attention operand out of bounds"
        );
    }
    let ptrs: Vec<Shared> = sources
        .iter()
        .map(|s| Shared(s.storage::<f32>().as_ptr()))
        .collect();
    let bias_values: Option<&[f32]> = bias.map(|i| {
        let b = sources[i].as_slice::<f32>().expect("contiguous bias");
        assert_eq!(b.len(), batch * heads * q_len * k_len, "bias shape");
        b
    });
    let mut probs = vec![0f32; batch * heads * q_len * k_len];
    let mut out = vec![0f32; batch * q_len * width];
    let out_ptr = SharedMut(out.as_mut_ptr());
    let area = q_len * k_len;
    probs
        .par_chunks_mut(area.max(1))
        .enumerate()
        .for_each(|(bh, p)| {
            let (b, h) = (bh / heads, bh % heads);
            let read_bias = if let Some(bias) = bias_values {
                p.copy_from_slice(&bias[bh * area..(bh + 1) * area]);
                true
            } else {
                false
            };
            // SAFETY: operands were bounds-checked above; `p` is this task's own chunk; the
            // output region (rows of batch b, columns of head h) is this task's alone.
            unsafe {
                // p = bias + scale q k^T   [q, k]
                mm(
                    [q_len, k_len, d],
                    (p.as_mut_ptr(), 1, k_len as isize),
                    read_bias,
                    (ptrs[q.src].ptr().add(q.at(b, h)), 1, q.ss as isize),
                    (ptrs[k.src].ptr().add(k.at(b, h)), k.ss as isize, 1),
                    1.0,
                    scale,
                );
            }
            if let Some(mask) = &mask {
                let m = &mask[b * area..(b + 1) * area];
                for (s, &masked) in p.iter_mut().zip(m) {
                    if masked {
                        *s = f32::MIN;
                    }
                }
            }
            kernels::softmax_rows_inplace(p, k_len);
            // SAFETY: as above.
            unsafe {
                // out[b, :, h d..(h + 1) d] = p v
                mm(
                    [q_len, d, k_len],
                    (
                        out_ptr.ptr().add(b * q_len * width + h * d),
                        1,
                        width as isize,
                    ),
                    false,
                    (p.as_ptr(), 1, k_len as isize),
                    (ptrs[v.src].ptr().add(v.at(b, h)), 1, v.ss as isize),
                    0.0,
                    1.0,
                );
            }
        });
    let out = FlexTensor::from_data(TensorData::new(out, [batch, q_len, width]));
    let state = AttentionState {
        sources,
        q,
        k,
        v,
        bias,
        mask,
        scale,
        dims,
        probs,
    };
    (out, state)
}

/// Gradients for each source (laid out as the source is), given `d out` `[batch, q, heads d]`.
fn backward(s: &AttentionState, grad_out: &[f32]) -> Vec<FlexTensor> {
    let Dims {
        batch,
        heads,
        q_len,
        k_len,
        d,
    } = s.dims;
    let width = heads * d;
    let area = q_len * k_len;
    let mut bufs: Vec<Vec<f32>> = s
        .sources
        .iter()
        .map(|t| vec![0f32; t.storage::<f32>().len()])
        .collect();
    let dst: Vec<SharedMut> = bufs.iter_mut().map(|b| SharedMut(b.as_mut_ptr())).collect();
    let src: Vec<Shared> = s
        .sources
        .iter()
        .map(|t| Shared(t.storage::<f32>().as_ptr()))
        .collect();
    let (q, k, v) = (s.q, s.k, s.v);
    let dout = Shared(grad_out.as_ptr());
    let empty = s.probs.is_empty();
    (0..if empty { 0 } else { batch * heads })
        .into_par_iter()
        .for_each(|bh| {
            let (b, h) = (bh / heads, bh % heads);
            let p = &s.probs[bh * area..(bh + 1) * area];
            let mut dp = vec![0f32; area];
            let mut ds = vec![0f32; area];
            let dout_bh = unsafe { dout.ptr().add(b * q_len * width + h * d) };
            // SAFETY: reads of bounds-checked operands; writes to this (b, h)'s own regions of the
            // gradient buffers (heads are disjoint columns, batch rows disjoint rows; q, k and v
            // are disjoint regions of their sources).
            unsafe {
                // dp = dout v^T   [q, k]
                mm(
                    [q_len, k_len, d],
                    (dp.as_mut_ptr(), 1, k_len as isize),
                    false,
                    (dout_bh, 1, width as isize),
                    (src[v.src].ptr().add(v.at(b, h)), v.ss as isize, 1),
                    0.0,
                    1.0,
                );
            }
            kernels::softmax_rows_backward(p, &dp, &mut ds, k_len);
            if let Some(mask) = &s.mask {
                let m = &mask[b * area..(b + 1) * area];
                for (g, &masked) in ds.iter_mut().zip(m) {
                    if masked {
                        *g = 0.0;
                    }
                }
            }
            unsafe {
                if let Some(bias) = s.bias {
                    std::ptr::copy_nonoverlapping(
                        ds.as_ptr(),
                        dst[bias].ptr().add(bh * area),
                        area,
                    );
                }
                // dq = scale ds k   [q, d]
                mm(
                    [q_len, d, k_len],
                    (dst[q.src].ptr().add(q.at(b, h)), 1, q.ss as isize),
                    false,
                    (ds.as_ptr(), 1, k_len as isize),
                    (src[k.src].ptr().add(k.at(b, h)), 1, k.ss as isize),
                    0.0,
                    s.scale,
                );
                // dk = scale ds^T q   [k, d]
                mm(
                    [k_len, d, q_len],
                    (dst[k.src].ptr().add(k.at(b, h)), 1, k.ss as isize),
                    false,
                    (ds.as_ptr(), k_len as isize, 1),
                    (src[q.src].ptr().add(q.at(b, h)), 1, q.ss as isize),
                    0.0,
                    s.scale,
                );
                // dv = p^T dout   [k, d]
                mm(
                    [k_len, d, q_len],
                    (dst[v.src].ptr().add(v.at(b, h)), 1, v.ss as isize),
                    false,
                    (p.as_ptr(), k_len as isize, 1),
                    (dout_bh, 1, width as isize),
                    0.0,
                    1.0,
                );
            }
        });
    bufs.into_iter()
        .zip(&s.sources)
        .map(|(buf, t)| {
            let n = buf.len();
            FlexTensor::from_data(TensorData::new(buf, Shape::new([n])))
                .with_layout(t.layout().clone())
        })
        .collect()
}

#[derive(Debug)]
pub(super) struct AttentionBackward;

impl<const N: usize> Backward<Flex, N> for AttentionBackward {
    type State = Arc<AttentionState>;

    fn backward(self, ops: Ops<Self::State, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Flex>(&ops.node).to_contiguous();
        if ops.parents.iter().all(Option::is_none) {
            return;
        }
        let g = grad.as_slice::<f32>().expect("contiguous");
        let dsrc = backward(&ops.state, g);
        for (parent, d) in ops.parents.iter().zip(dsrc) {
            if let Some(parent) = parent {
                grads.register::<Flex>(parent.id, d);
            }
        }
    }
}
