//! The tables of a controlled run: `curves` (per group and epoch, both phases), `test` (test
//! accuracy per epoch), `summary` (one row: the protocol as run, epochs to fit, final accuracies)
//! and `timing` (wall times and whether the pretrained model came from the cache: everything that
//! may differ between two runs of the same seed, kept apart from the results).

use super::{ControlledConfig, Setting};
use crate::rows::Rows;
use anyhow::Result;
use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};
use trainers::classify::{Group, GroupMetrics, Objective, RewardKind, TestMetrics};
use trainers::optim::OptimizerKind;

/// Pretraining on soft labels, or finetuning on the modified labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Pretrain,
    Finetune,
}

crate::serde_cells!(Setting, Objective, OptimizerKind, RewardKind, Group, Phase);

/// What distinguishes the runs of a sweep, repeated on every row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunIds {
    pub setting: Setting,
    pub method: Objective,
    pub optimizer: OptimizerKind,
    pub lr: f64,
    pub reward_fn: RewardKind,
}

impl RunIds {
    pub fn of(cfg: &ControlledConfig) -> Self {
        RunIds {
            setting: cfg.setting,
            method: cfg.method,
            optimizer: cfg.optimizer,
            lr: cfg.lr,
            reward_fn: cfg.reward,
        }
    }
}

crate::rows! {
    /// Metrics of one group over one epoch of one phase.
    pub struct CurveRow {
        pub setting: Setting,
        pub method: Objective,
        pub optimizer: OptimizerKind,
        pub lr: f64,
        pub reward_fn: RewardKind,
        pub phase: Phase,
        pub epoch: usize,
        pub group: Group,
        pub inputs: usize,
        pub train_accuracy: f64,
        pub reward: f64,
        pub reward_std: f64,
        pub p_label: f64,
        pub objective: f64,
        pub grad_norm: f64,
    }
}

impl CurveRow {
    pub fn of(ids: &RunIds, phase: Phase, metrics: &[GroupMetrics]) -> Vec<CurveRow> {
        metrics
            .iter()
            .map(|m| CurveRow {
                setting: ids.setting,
                method: ids.method,
                optimizer: ids.optimizer,
                lr: ids.lr,
                reward_fn: ids.reward_fn,
                phase,
                epoch: m.epoch,
                group: m.group,
                inputs: m.inputs,
                train_accuracy: m.train_accuracy,
                reward: m.reward,
                reward_std: m.reward_std,
                p_label: m.p_label,
                objective: m.objective,
                grad_norm: m.grad_norm,
            })
            .collect()
    }
}

crate::rows! {
    /// Test accuracy at one epoch of one phase.
    pub struct TestRow {
        pub setting: Setting,
        pub method: Objective,
        pub optimizer: OptimizerKind,
        pub lr: f64,
        pub reward_fn: RewardKind,
        pub phase: Phase,
        pub epoch: usize,
        pub test_accuracy: f64,
    }
}

impl TestRow {
    pub fn of(ids: &RunIds, phase: Phase, test: &[TestMetrics]) -> Vec<TestRow> {
        test.iter()
            .map(|t| TestRow {
                setting: ids.setting,
                method: ids.method,
                optimizer: ids.optimizer,
                lr: ids.lr,
                reward_fn: ids.reward_fn,
                phase,
                epoch: t.epoch,
                test_accuracy: t.accuracy,
            })
            .collect()
    }
}

crate::rows! {
    /// One run: the protocol as run, the start and end of finetuning, epochs to fit.
    pub struct SummaryRow {
        pub setting: Setting,
        pub method: Objective,
        pub optimizer: OptimizerKind,
        pub lr: f64,
        pub reward_fn: RewardKind,
        pub num_train: usize,
        pub num_test: usize,
        pub num_modified: usize,
        pub num_labels_per_sample: usize,
        pub epochs: usize,
        pub pretrain_epochs: usize,
        pub batch_size: usize,
        pub pretrain_batch_size: usize,
        pub pretrain_lr: f64,
        pub metrics_every: usize,
        pub grad_norm_every: usize,
        pub resnet_width: usize,
        pub max_length: usize,
        pub pretrain_objective: f64,
        pub pretrain_objective_optimum: f64,
        pub pretrain_test_accuracy: f64,
        pub init_reward_std_modified: f64,
        pub init_reward_std_unmodified: f64,
        pub init_reward_modified: f64,
        pub init_reward_unmodified: f64,
        pub init_grad_norm_modified: f64,
        pub init_grad_norm_unmodified: f64,
        pub init_test_accuracy: f64,
        pub final_train_accuracy_modified: f64,
        pub final_train_accuracy_unmodified: f64,
        pub final_train_accuracy: f64,
        pub final_test_accuracy: f64,
        /// First finetuning epoch at which 50% / 90% of the group is fitted (null: never).
        pub fit50_modified: Option<i64>,
        pub fit90_modified: Option<i64>,
        pub fit50_unmodified: Option<i64>,
        pub fit90_unmodified: Option<i64>,
        pub device: String,
    }
}

crate::rows! {
    /// Wall times of one run.
    #[derive(Copy)]
    pub struct TimingRow {
        pub pretrain_seconds: f64,
        /// Whether the pretrained model came from the store's cache (then `pretrain_seconds` is
        /// the time it took when it was made).
        pub pretrain_cached: bool,
        pub finetune_seconds: f64,
    }
}

// The weights cache stores a pretraining history as these tables.
crate::impl_rows!(GroupMetrics {
    epoch: usize,
    group: Group,
    inputs: usize,
    train_accuracy: f64,
    reward: f64,
    reward_std: f64,
    p_label: f64,
    objective: f64,
    grad_norm: f64,
});
crate::impl_rows!(TestMetrics {
    epoch: usize,
    accuracy: f64,
});

/// Everything one run produces.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub curves: Vec<CurveRow>,
    pub test: Vec<TestRow>,
    pub summary: SummaryRow,
    pub timing: TimingRow,
}

impl Outcome {
    /// The named tables of the run store.
    pub fn tables(&self) -> Result<Vec<(String, DataFrame)>> {
        Ok(vec![
            ("curves".into(), CurveRow::to_frame(&self.curves)?),
            ("test".into(), TestRow::to_frame(&self.test)?),
            (
                "summary".into(),
                SummaryRow::to_frame(std::slice::from_ref(&self.summary))?,
            ),
            ("timing".into(), TimingRow::to_frame(&[self.timing])?),
        ])
    }
}
