//! Adaptive Dormand-Prince 5(4) integration of `dy/dt = f(t, y)`, used to follow gradient flows.
//!
//! Each accepted step keeps the local error estimate below
//! `atol + rtol * max(|y|, |y_new|)` (RMS norm over the state). Between two accepted states,
//! [`DormandPrince::step_from`] takes a single shorter step from the earlier one, which is at
//! least as accurate as the accepted step; [`DormandPrince::locate`] bisects on that to find the
//! time an event function changes sign.

/// Error tolerances of the integrator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    pub rtol: f64,
    pub atol: f64,
}

// Butcher tableau of Dormand & Prince (1980).
const C: [f64; 7] = [0.0, 1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0, 1.0, 1.0];
const A: [[f64; 6]; 7] = [
    [0.0; 6],
    [1.0 / 5.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [3.0 / 40.0, 9.0 / 40.0, 0.0, 0.0, 0.0, 0.0],
    [44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0, 0.0, 0.0, 0.0],
    [
        19372.0 / 6561.0,
        -25360.0 / 2187.0,
        64448.0 / 6561.0,
        -212.0 / 729.0,
        0.0,
        0.0,
    ],
    [
        9017.0 / 3168.0,
        -355.0 / 33.0,
        46732.0 / 5247.0,
        49.0 / 176.0,
        -5103.0 / 18656.0,
        0.0,
    ],
    [
        35.0 / 384.0,
        0.0,
        500.0 / 1113.0,
        125.0 / 192.0,
        -2187.0 / 6784.0,
        11.0 / 84.0,
    ],
];
/// Fifth-order weights (the last row of `A`, "first same as last").
const B5: [f64; 7] = [
    35.0 / 384.0,
    0.0,
    500.0 / 1113.0,
    125.0 / 192.0,
    -2187.0 / 6784.0,
    11.0 / 84.0,
    0.0,
];
/// Fifth- minus fourth-order weights: the local error estimate.
const E: [f64; 7] = [
    71.0 / 57600.0,
    0.0,
    -71.0 / 16695.0,
    71.0 / 1920.0,
    -17253.0 / 339200.0,
    22.0 / 525.0,
    -1.0 / 40.0,
];

/// An adaptive Dormand-Prince integrator holding the current time and state.
pub struct DormandPrince<F: Fn(f64, &[f64], &mut [f64])> {
    f: F,
    pub tol: Tolerance,
    pub t: f64,
    pub y: Vec<f64>,
    /// Step size the next attempt uses.
    pub h: f64,
    pub accepted_steps: usize,
    pub rejected_steps: usize,
}

impl<F: Fn(f64, &[f64], &mut [f64])> DormandPrince<F> {
    pub fn new(f: F, t0: f64, y0: Vec<f64>, h0: f64, tol: Tolerance) -> Self {
        Self {
            f,
            tol,
            t: t0,
            y: y0,
            h: h0,
            accepted_steps: 0,
            rejected_steps: 0,
        }
    }

    /// One Dormand-Prince step of size `h` from `(t, y)`: the fifth-order solution and the error estimate.
    fn attempt(&self, t: f64, y: &[f64], h: f64) -> (Vec<f64>, Vec<f64>) {
        let n = y.len();
        let mut k = vec![vec![0.0; n]; 7];
        let mut stage = vec![0.0; n];
        for s in 0..7 {
            for i in 0..n {
                stage[i] = y[i] + h * (0..s).map(|j| A[s][j] * k[j][i]).sum::<f64>();
            }
            (self.f)(t + C[s] * h, &stage, &mut k[s]);
        }
        let y5 = (0..n)
            .map(|i| y[i] + h * (0..7).map(|s| B5[s] * k[s][i]).sum::<f64>())
            .collect();
        let err = (0..n)
            .map(|i| h * (0..7).map(|s| E[s] * k[s][i]).sum::<f64>())
            .collect();
        (y5, err)
    }

    /// The state a single step of size `h` from `(t, y)` reaches (no error control).
    pub fn step_from(&self, t: f64, y: &[f64], h: f64) -> Vec<f64> {
        self.attempt(t, y, h).0
    }

    /// Take one accepted step, never past `t_end`. Returns the `(t, y)` it started from.
    pub fn advance(&mut self, t_end: f64) -> (f64, Vec<f64>) {
        loop {
            let h = self.h.min(t_end - self.t);
            let (y_new, err) = self.attempt(self.t, &self.y, h);
            let norm = (err
                .iter()
                .zip(&self.y)
                .zip(&y_new)
                .map(|((e, a), b)| {
                    (e / (self.tol.atol + self.tol.rtol * a.abs().max(b.abs()))).powi(2)
                })
                .sum::<f64>()
                / err.len() as f64)
                .sqrt();
            let factor = if norm == 0.0 {
                5.0
            } else {
                (0.9 * norm.powf(-0.2)).clamp(0.2, 5.0)
            };
            if norm <= 1.0 && y_new.iter().all(|v| v.is_finite()) {
                let start = (self.t, std::mem::replace(&mut self.y, y_new));
                self.t += h;
                self.h = h * factor;
                self.accepted_steps += 1;
                return start;
            }
            self.rejected_steps += 1;
            self.h = h * factor.min(0.5);
            assert!(
                self.h > 1e-300,
                "step size underflow: the flow is not integrable here"
            );
        }
    }

    /// Given that `event(y)` is negative at `(t0, y0)` and non-negative at the current state,
    /// find the crossing time to a relative precision `1e-12` by bisecting single steps from `t0`.
    pub fn locate(&self, t0: f64, y0: &[f64], event: impl Fn(&[f64]) -> f64) -> f64 {
        let (mut lo, mut hi) = (0.0, self.t - t0);
        while hi - lo > 1e-12 * (t0 + hi).abs().max(1e-300) {
            let mid = 0.5 * (lo + hi);
            if event(&self.step_from(t0, y0, mid)) >= 0.0 {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        t0 + hi
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_decay_is_accurate() {
        let tol = Tolerance {
            rtol: 1e-10,
            atol: 1e-12,
        };
        let mut ode = DormandPrince::new(|_, y, dy| dy[0] = -y[0], 0.0, vec![1.0], 1e-3, tol);
        while ode.t < 5.0 {
            ode.advance(5.0);
        }
        assert!((ode.y[0] - (-5f64).exp()).abs() < 1e-9, "{}", ode.y[0]);
    }

    #[test]
    fn locates_the_blow_up_time_of_a_riccati_equation() {
        // dy/dt = y^2, y(0) = 1  =>  y = 1/(1 - t); y reaches 10 at t = 0.9.
        let tol = Tolerance {
            rtol: 1e-10,
            atol: 1e-12,
        };
        let mut ode = DormandPrince::new(|_, y, dy| dy[0] = y[0] * y[0], 0.0, vec![1.0], 1e-3, tol);
        loop {
            let (t0, y0) = ode.advance(0.99);
            if ode.y[0] >= 10.0 {
                let t = ode.locate(t0, &y0, |y| y[0] - 10.0);
                assert!((t - 0.9).abs() < 1e-8, "{t}");
                break;
            }
        }
    }
}
