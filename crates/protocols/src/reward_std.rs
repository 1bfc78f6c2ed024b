//! Figure 1 of the paper as a sweep kind: for one GRUE task, the reward mean and std under the
//! model of each of the first `inputs` train inputs of a seed-7 permutation, from `samples`
//! samples each, with the task's sampling settings (ml-rlgrad's `extract_samples` configs).
//!
//! rows `inputs` ([`InputStatsRow`], one per input) and `fractions` ([`FractionRow`], one).

use crate::RunEnv;
use crate::grue::{
    FractionRow, InputStatsRow, Measurement, TimingRow, fractions, permutation_prefix, timing,
};
use crate::rows::Rows;
use anyhow::{Result, bail};
use grue::{Split, TaskName};
use model::DeviceKind;
use polars::prelude::DataFrame;
use std::collections::BTreeMap;
use std::path::PathBuf;

crate::sweep_params! {
    /// The reward-std measurement on one GRUE task.
    pub struct RewardStdConfig / RewardStdGrid / RewardStdPatch {
        /// narrativeqa, totto, commongen, iwslt2017, cnn_dailymail, dailydialog or imdb.
        pub task: String,
        /// The checkpoint standing in for each of the paper's models (`t5-base`, `gpt2`,
        /// `lvwerra/gpt2-imdb`, and the IMDB reward's `lvwerra/distilbert-imdb`): a hub id, a
        /// directory, or `pretrained:NAME` (a model pretrained here, `experiments/pretrain.yaml`).
        pub models: BTreeMap<String, String>,
        /// train or test.
        pub split: String,
        /// Inputs measured: the first of a seed-7 permutation of the split (the paper: 5,000).
        pub inputs: usize,
        /// Samples per input (the paper: 10).
        pub samples: usize,
        /// Inputs per batched generation.
        pub chunk: usize,
        /// "Low reward": a mean reward below this.
        pub low_reward: f64,
        /// cpu | wgpu | cuda.
        pub device: DeviceKind,
    }
}

/// The result of one run.
pub struct Outcome {
    pub inputs: Vec<InputStatsRow>,
    pub fractions: FractionRow,
    pub timing: TimingRow,
}

impl Outcome {
    pub fn tables(&self) -> Result<Vec<(String, DataFrame)>> {
        Ok(vec![
            ("inputs".into(), InputStatsRow::to_frame(&self.inputs)?),
            (
                "fractions".into(),
                FractionRow::to_frame(std::slice::from_ref(&self.fractions))?,
            ),
            (
                "timing".into(),
                TimingRow::to_frame(std::slice::from_ref(&self.timing))?,
            ),
        ])
    }
}

impl RewardStdConfig {
    pub fn task_name(&self) -> Result<TaskName> {
        Ok(TaskName::parse(&self.task)?)
    }

    pub fn split(&self) -> Result<Split> {
        match self.split.as_str() {
            "train" => Ok(Split::Train),
            "test" => Ok(Split::Test),
            other => bail!("split {other:?} must be train or test"),
        }
    }

    /// The checkpoint standing in for `paper_model`.
    pub fn model_for(&self, paper_model: &str) -> Result<&str> {
        crate::grue::model_for(&self.models, paper_model, &self.task)
    }

    pub fn validate(&self) -> Result<()> {
        let task = self.task_name()?;
        self.split()?;
        self.model_for(task.spec().model)?;
        if self.inputs == 0 || self.samples < 2 || self.chunk == 0 {
            bail!("inputs and chunk must be >= 1 and samples >= 2");
        }
        if !(0.0..=1.0).contains(&self.low_reward) {
            bail!("low_reward must be in [0, 1], got {}", self.low_reward);
        }
        Ok(())
    }

    /// Runs the measurement. `resolve` turns a model reference into a checkpoint directory
    /// (pretraining it if needed); `loader` opens `learned_reward`'s classifier.
    pub fn run(
        &self,
        seed: u64,
        env: &RunEnv<'_>,
        resolve: &dyn Fn(&str) -> Result<PathBuf>,
        loader: &dyn rewards::ClassifierLoader,
    ) -> Result<Outcome> {
        let task = self.task_name()?;
        let spec = task.spec();
        let samples = task.load(&env.data_dir, self.split()?, grue::Verify::Manifest)?;
        if samples.is_empty() {
            bail!("task {}: the {} split is empty", self.task, self.split);
        }
        let indices = permutation_prefix(samples.len(), self.inputs, spec.extract_seed);
        let checkpoint = resolve(self.model_for(spec.model)?)?;
        let reward_args =
            crate::grue::resolved_reward_args(spec, &|m| resolve(self.model_for(m)?))?;
        let bar = env
            .observer
            .progress_bar(indices.len() as u64, &format!("reward std: {}", self.task));
        let (inputs, seconds) = Measurement {
            checkpoint: &checkpoint,
            task: &self.task,
            samples: indices.iter().map(|&i| &samples[i]).collect(),
            indices: indices.clone(),
            max_prompt_length: spec.max_prompt_length,
            truncate_left: spec.prompt_truncation_side == grue::spec::Side::Left,
            reward_id: spec.reward.id,
            reward_args,
            generation: spec.extract_generation,
            k: self.samples,
            chunk: self.chunk,
            seed,
            device: self.device,
            loader: Some(loader),
        }
        .run(&bar)?;
        bar.finish_and_clear();
        let fractions = fractions(&self.task, &inputs, self.samples, self.low_reward);
        let timing = timing(&self.task, inputs.len(), seconds);
        env.observer.log(&format!(
            "{}: {} inputs x {} samples in {seconds:.1} s; small std (< 0.05) and low reward: {:.3}",
            self.task, fractions.inputs, self.samples, fractions.small_std_low_reward
        ));
        Ok(Outcome {
            inputs,
            fractions,
            timing,
        })
    }
}
