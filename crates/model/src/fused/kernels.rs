//! Row kernels on `f32` slices: the arithmetic of the fused ops, free of burn, each row computed
//! by one function whatever the thread count (so results are bit-identical for 1 and N threads).
//!
//! Sums and maxima run over [`LANES`] independent accumulators combined in a fixed order at the
//! end, which lets the compiler vectorise them without reassociating anything. `exp` is
//! [`exp_approx`], a branch-free polynomial that vectorises (libm's `expf` does not). Each public
//! row function is compiled three times, for AVX-512, AVX2+FMA and the baseline, and picks one at
//! run time ([`simd_level`]).

const LANES: usize = 16;

/// The widest instruction set this CPU has among those the kernels are compiled for.
#[cfg(target_arch = "x86_64")]
pub(crate) fn simd_level() -> u8 {
    use std::sync::OnceLock;
    static LEVEL: OnceLock<u8> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        if is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512dq")
            && is_x86_feature_detected!("avx512vl")
            && is_x86_feature_detected!("avx512bw")
        {
            4
        } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            3
        } else {
            0
        }
    })
}

/// The instruction set the kernels run with on this CPU (see [`super::numerics`]).
pub(crate) fn simd_name() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        match simd_level() {
            4 => "avx512",
            3 => "avx2",
            _ => "baseline",
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        "baseline"
    }
}

/// Defines `fn $name(args) -> ret` that runs `$body` compiled for the widest instruction set the
/// CPU has (the body is inlined into one `#[target_feature]` function per level).
macro_rules! multiversion {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$m])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn body($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512dq,avx512vl,avx512bw,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn v4($($arg: $ty),*) $(-> $ret)? { body($($arg),*) }
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn v3($($arg: $ty),*) $(-> $ret)? { body($($arg),*) }
                match simd_level() {
                    // SAFETY: `simd_level` saw these features on this CPU.
                    4 => unsafe { v4($($arg),*) },
                    3 => unsafe { v3($($arg),*) },
                    _ => body($($arg),*),
                }
            }
            #[cfg(not(target_arch = "x86_64"))]
            body($($arg),*)
        }
    };
}

/// `e^x` to about 2 ulp (Cephes' `expf` polynomial), 0 below -87.3 (where `e^x` is subnormal),
/// for `x <= 88.3`; branch-free, so a loop over it vectorises.
#[inline(always)]
pub(crate) fn exp_approx(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding 1.5 * 2^23 rounds to an integer, which the low mantissa bits then hold.
    const SHIFTER: f32 = 12_582_912.0;
    let lo = -87.3f32;
    let xc = if x < lo { lo } else { x };
    let xc = if xc > 88.3 { 88.3 } else { xc };
    let t = xc * LOG2E + SHIFTER;
    let n = t - SHIFTER;
    let r = xc - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_2e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    let ni = (t.to_bits() as i32).wrapping_sub(SHIFTER.to_bits() as i32);
    let scale = f32::from_bits(((ni + 127) << 23) as u32);
    if x < lo { 0.0 } else { y * scale }
}

#[inline(always)]
fn max_row(row: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = row.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..LANES {
            acc[i] = if c[i] > acc[i] { c[i] } else { acc[i] };
        }
    }
    for (i, &v) in rest.iter().enumerate() {
        acc[i] = if v > acc[i] { v } else { acc[i] };
    }
    acc.iter()
        .fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m })
}

#[inline(always)]
fn sum_lanes(acc: &[f32; LANES]) -> f32 {
    // A fixed pairwise order.
    let mut a = *acc;
    let mut width = LANES / 2;
    while width > 0 {
        for i in 0..width {
            a[i] += a[i + width];
        }
        width /= 2;
    }
    a[0]
}

multiversion! {
    /// For one row of logits `z`: `(lse, H)` where `lse = log sum_j e^z_j` and `H` is the entropy
    /// of `p = softmax(z)` (0 unless `with_entropy`), computed as
    /// `H = lse - sum_j p_j z_j = log s - sum_j e^(z_j - max) (z_j - max) / s`, `s = sum_j e^(z_j - max)`.
    pub(crate) fn logsumexp_row(z: &[f32], with_entropy: bool) -> (f32, f32) {
        let m = max_row(z);
        let mut s = [0f32; LANES];
        let mut sz = [0f32; LANES];
        let chunks = z.chunks_exact(LANES);
        let rest = chunks.remainder();
        for c in chunks {
            for i in 0..LANES {
                let d = c[i] - m;
                let e = exp_approx(d);
                s[i] += e;
                if with_entropy {
                    sz[i] += e * d;
                }
            }
        }
        for (i, &v) in rest.iter().enumerate() {
            let d = v - m;
            let e = exp_approx(d);
            s[i] += e;
            sz[i] += e * d;
        }
        let s = sum_lanes(&s);
        let log_s = s.ln();
        let entropy = if with_entropy { log_s - sum_lanes(&sz) / s } else { 0.0 };
        (m + log_s, entropy)
    }
}

multiversion! {
    /// Gradient of `g_lp * log p_target + g_h * H` with respect to the logits `z` of one row:
    /// `dz_j = g_lp [j == target] - p_j (g_lp + g_h (z_j - lse + H))`, `p_j = e^(z_j - lse)`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn logsumexp_row_backward(
        z: &[f32],
        dz: &mut [f32],
        target: usize,
        lse: f32,
        entropy: f32,
        g_lp: f32,
        g_h: f32,
    ) {
        let c = entropy - lse;
        for (d, &v) in dz.iter_mut().zip(z) {
            let p = exp_approx(v - lse);
            *d = -p * (g_lp + g_h * (v + c));
        }
        dz[target] += g_lp;
    }
}

multiversion! {
    /// `y = (x - mean) * rstd * w + b` over one row (`mean = 0` unless `center`: T5's RMS norm),
    /// `b` optional (empty slice); returns `(mean, rstd)`, `rstd = 1 / sqrt(var + eps)`.
    pub(crate) fn norm_row(x: &[f32], y: &mut [f32], w: &[f32], b: &[f32], eps: f32, center: bool) -> (f32, f32) {
        let n = x.len() as f32;
        let mean = if center {
            let mut acc = [0f32; LANES];
            let chunks = x.chunks_exact(LANES);
            let rest = chunks.remainder();
            for c in chunks {
                for i in 0..LANES {
                    acc[i] += c[i];
                }
            }
            for (i, &v) in rest.iter().enumerate() {
                acc[i] += v;
            }
            sum_lanes(&acc) / n
        } else {
            0.0
        };
        let mut acc = [0f32; LANES];
        let chunks = x.chunks_exact(LANES);
        let rest = chunks.remainder();
        for c in chunks {
            for i in 0..LANES {
                let d = c[i] - mean;
                acc[i] += d * d;
            }
        }
        for (i, &v) in rest.iter().enumerate() {
            let d = v - mean;
            acc[i] += d * d;
        }
        let var = sum_lanes(&acc) / n;
        let rstd = 1.0 / (var + eps).sqrt();
        if b.is_empty() {
            for ((o, &v), &w) in y.iter_mut().zip(x).zip(w) {
                *o = (v - mean) * rstd * w;
            }
        } else {
            for (((o, &v), &w), &b) in y.iter_mut().zip(x).zip(w).zip(b) {
                *o = (v - mean) * rstd * w + b;
            }
        }
        (mean, rstd)
    }
}

multiversion! {
    /// Backward of [`norm_row`] for one row: `dx = rstd (dy w - mean(dy w) - xhat mean(dy w xhat))`
    /// (without the `mean(dy w)` term unless `center`), `xhat = (x - mean) rstd`; adds
    /// `dy xhat` to `dw` (and `dy` to `db` when it is not empty).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn norm_row_backward(
        x: &[f32],
        dy: &[f32],
        dx: &mut [f32],
        w: &[f32],
        dw: &mut [f32],
        db: &mut [f32],
        mean: f32,
        rstd: f32,
        center: bool,
    ) {
        let n = x.len() as f32;
        let mut a = [0f32; LANES]; // sum dy w
        let mut bsum = [0f32; LANES]; // sum dy w xhat
        let len = x.len() - x.len() % LANES;
        for j in (0..len).step_by(LANES) {
            for i in 0..LANES {
                let g = dy[j + i] * w[j + i];
                a[i] += g;
                bsum[i] += g * ((x[j + i] - mean) * rstd);
            }
        }
        for j in len..x.len() {
            let g = dy[j] * w[j];
            a[j - len] += g;
            bsum[j - len] += g * ((x[j] - mean) * rstd);
        }
        let mean_g = if center { sum_lanes(&a) / n } else { 0.0 };
        let mean_gx = sum_lanes(&bsum) / n;
        for j in 0..x.len() {
            let xhat = (x[j] - mean) * rstd;
            dx[j] = rstd * (dy[j] * w[j] - mean_g - xhat * mean_gx);
            dw[j] += dy[j] * xhat;
        }
        if !db.is_empty() {
            for (d, &g) in db.iter_mut().zip(dy) {
                *d += g;
            }
        }
    }
}

multiversion! {
    /// Softmax of each row of `x` (rows of `len`) into `y`.
    pub(crate) fn softmax_rows(x: &[f32], y: &mut [f32], len: usize) {
        for (xr, yr) in x.chunks_exact(len).zip(y.chunks_exact_mut(len)) {
            let m = max_row(xr);
            let mut s = [0f32; LANES];
            let mut j = 0;
            while j + LANES <= len {
                for i in 0..LANES {
                    let e = exp_approx(xr[j + i] - m);
                    yr[j + i] = e;
                    s[i] += e;
                }
                j += LANES;
            }
            for i in j..len {
                let e = exp_approx(xr[i] - m);
                yr[i] = e;
                s[i - j] += e;
            }
            let inv = 1.0 / sum_lanes(&s);
            for v in yr.iter_mut() {
                *v *= inv;
            }
        }
    }
}

multiversion! {
    /// Softmax of each row (of `len`) of `x`, in place.
    pub(crate) fn softmax_rows_inplace(x: &mut [f32], len: usize) {
        for xr in x.chunks_exact_mut(len) {
            let m = max_row(xr);
            let mut s = [0f32; LANES];
            let mut j = 0;
            while j + LANES <= len {
                for i in 0..LANES {
                    let e = exp_approx(xr[j + i] - m);
                    xr[j + i] = e;
                    s[i] += e;
                }
                j += LANES;
            }
            for i in j..len {
                let e = exp_approx(xr[i] - m);
                xr[i] = e;
                s[i - j] += e;
            }
            let inv = 1.0 / sum_lanes(&s);
            for v in xr.iter_mut() {
                *v *= inv;
            }
        }
    }
}

multiversion! {
    /// Backward of [`softmax_rows`]: `dx = y (dy - sum_j dy_j y_j)` per row.
    pub(crate) fn softmax_rows_backward(y: &[f32], dy: &[f32], dx: &mut [f32], len: usize) {
        for ((yr, gr), dr) in y.chunks_exact(len).zip(dy.chunks_exact(len)).zip(dx.chunks_exact_mut(len)) {
            let mut s = [0f32; LANES];
            let mut j = 0;
            while j + LANES <= len {
                for i in 0..LANES {
                    s[i] += yr[j + i] * gr[j + i];
                }
                j += LANES;
            }
            for i in j..len {
                s[i - j] += yr[i] * gr[i];
            }
            let dot = sum_lanes(&s);
            for ((d, &y), &g) in dr.iter_mut().zip(yr).zip(gr) {
                *d = y * (g - dot);
            }
        }
    }
}

/// `2 sqrt(2/pi)` and `2 sqrt(2/pi) 0.044715`: `gelu_new(x) = x sigmoid(x (C1 + C3 x^2))`.
const GELU_C1: f32 = 1.595_769;
const GELU_C3: f32 = GELU_C1 * 0.044_715;

multiversion! {
    /// `y = x sigmoid(x (C1 + C3 x^2))`, HF's `gelu_new` (tanh approximation) in sigmoid form.
    pub(crate) fn gelu_new_slice(x: &[f32], y: &mut [f32]) {
        for (o, &v) in y.iter_mut().zip(x) {
            let s = 1.0 / (1.0 + exp_approx(-(v * (GELU_C1 + GELU_C3 * v * v))));
            *o = v * s;
        }
    }
}

multiversion! {
    /// Backward of [`gelu_new_slice`]: `dx = dy (s + x s (1 - s) (C1 + 3 C3 x^2))`.
    pub(crate) fn gelu_new_backward_slice(x: &[f32], dy: &[f32], dx: &mut [f32]) {
        for ((d, &v), &g) in dx.iter_mut().zip(x).zip(dy) {
            let v2 = v * v;
            let s = 1.0 / (1.0 + exp_approx(-(v * (GELU_C1 + GELU_C3 * v2))));
            *d = g * (s + v * s * (1.0 - s) * (GELU_C1 + 3.0 * GELU_C3 * v2));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_approx_is_within_a_few_ulp_of_libm() {
        let mut worst = 0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let want = (x as f64).exp();
            let got = exp_approx(x) as f64;
            worst = worst.max(((got - want) / want).abs());
            x += 0.001_37;
        }
        assert!(
            worst < 3.0 * f32::EPSILON as f64,
            "worst relative error {worst:e}"
        );
        assert_eq!(exp_approx(f32::MIN), 0.0);
        assert_eq!(exp_approx(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_approx(-100.0), 0.0);
        assert_eq!(exp_approx(0.0), 1.0);
    }

    #[test]
    fn logsumexp_and_entropy_match_f64() {
        let z: Vec<f32> = (0..1037)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.13)
            .collect();
        let m = z
            .iter()
            .cloned()
            .fold(f64::NEG_INFINITY, |a, b| a.max(b as f64));
        let s: f64 = z.iter().map(|&v| (v as f64 - m).exp()).sum();
        let lse = m + s.ln();
        let h: f64 = -z
            .iter()
            .map(|&v| {
                let lp = v as f64 - lse;
                lp.exp() * lp
            })
            .sum::<f64>();
        let (got_lse, got_h) = logsumexp_row(&z, true);
        let got_h = got_h as f64;
        assert!((got_lse as f64 - lse).abs() < 1e-5, "{got_lse} vs {lse}");
        assert!((got_h - h).abs() < 1e-5, "{got_h} vs {h}");
    }
}
