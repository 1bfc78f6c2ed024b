//! Generalised advantage estimation over one episode (SB3's `compute_returns_and_advantage`,
//! which RL4LMs calls on its flattened buffer of whole episodes).

/// Advantages and returns of one episode of `rewards[t]` with critic `values[t]`:
/// `delta_t = r_t + gamma V_{t+1} - V_t`, `A_t = delta_t + gamma lambda A_{t+1}`, `R_t = A_t + V_t`,
/// where `V_T = next_value` (0 when the episode terminated, the critic's value when it was cut).
pub fn gae(
    rewards: &[f64],
    values: &[f64],
    next_value: f64,
    gamma: f64,
    lambda: f64,
) -> (Vec<f64>, Vec<f64>) {
    assert_eq!(rewards.len(), values.len(), "one value per reward");
    let n = rewards.len();
    let mut advantages = vec![0.0; n];
    let mut last = 0.0;
    for t in (0..n).rev() {
        let next = if t + 1 < n { values[t + 1] } else { next_value };
        let delta = rewards[t] + gamma * next - values[t];
        last = delta + gamma * lambda * last;
        advantages[t] = last;
    }
    let returns = advantages.iter().zip(values).map(|(a, v)| a + v).collect();
    (advantages, returns)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand computation, gamma 0.99, lambda 0.95, rewards [0, 0, 1], values [0.5, 0.2, 0.4]:
    /// delta = [0 + .99*.2 - .5, 0 + .99*.4 - .2, 1 - .4] = [-0.302, 0.196, 0.6];
    /// A_2 = 0.6, A_1 = 0.196 + .9405*0.6 = 0.7603, A_0 = -0.302 + .9405*0.7603 = 0.41306215.
    #[test]
    fn hand_computed_trajectory() {
        let (a, r) = gae(&[0.0, 0.0, 1.0], &[0.5, 0.2, 0.4], 0.0, 0.99, 0.95);
        let want = [0.41306215, 0.7603, 0.6];
        for (x, w) in a.iter().zip(want) {
            assert!((x - w).abs() < 1e-12, "{a:?}");
        }
        assert!((r[0] - 0.91306215).abs() < 1e-12);
        assert!((r[2] - 1.0).abs() < 1e-12);
        // lambda 1, gamma 1: advantage = return-to-go minus value.
        let (a, _) = gae(&[1.0, 2.0], &[0.0, 0.0], 0.5, 1.0, 1.0);
        assert_eq!(a, vec![3.5, 2.5]);
    }
}
