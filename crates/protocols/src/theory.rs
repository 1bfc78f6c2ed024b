//! The tables of the theory experiments (Theorems 1 and 2), whose science is the `theory` crate.

use theory::theorem1::{InstanceKind, Setting};
use theory::theorem2::{Method, RewardKind};

crate::serde_cells!(Setting, InstanceKind, Method, RewardKind);

crate::rows! {
    /// Theorem 1: one exact (policy, reward) instance.
    pub struct InstanceRow {
        pub setting: Setting,
        pub vocab: usize,
        pub length: usize,
        pub instance: usize,
        pub kind: InstanceKind,
        pub reward_mean: f64,
        pub reward_std: f64,
        pub reward_max: f64,
        pub grad_norm: f64,
        pub gamma: f64,
        pub bound: f64,
        pub ratio: f64,
    }
}

crate::rows! {
    /// Theorem 2: one input's time to fit under one gradient flow.
    pub struct FitRow {
        pub method: Method,
        pub reward: RewardKind,
        pub input: usize,
        pub init_p_correct: f64,
        pub init_reward_std: f64,
        /// Time until the correct label is the argmax (null: not within `max_time`).
        pub time_to_fit: Option<f64>,
    }
}

crate::rows! {
    /// Theorem 2: one input at one recorded time of a gradient flow.
    pub struct TrajectoryRow {
        pub method: Method,
        pub reward: RewardKind,
        pub input: usize,
        pub init_reward_std: f64,
        pub time: f64,
        pub p_correct: f64,
        pub reward_std: f64,
    }
}
