//! One run of a controlled experiment: pretrain on soft labels (or load the cached pretrained
//! model), finetune on the modified labels, and tabulate.

use super::rows::{CurveRow, Outcome, Phase, RunIds, SummaryRow, TestRow, TimingRow};
use super::{ControlledConfig, Labels, Setting};
use crate::RunEnv;
use crate::cache::{Trained, WeightsCache};
use crate::rows::Rows;
use anyhow::{Context, Result, anyhow};
use burn::module::AutodiffModule;
use burn::tensor::Tensor;
use burn::tensor::backend::AutodiffBackend;
use indicatif::ProgressBar;
use seeds::Stream;
use std::time::Instant;
use trainers::classify::{
    EpochReport, FitConfig, Group, GroupMetrics, History, Objective, TestMetrics, TestSet,
    TrainSet, fit,
};
use trainers::optim::OptimizerKind;

/// Logits of test inputs from the model in inference mode.
pub(super) type InferenceLogits<'a, B, M> = dyn Fn(
        &<M as AutodiffModule<B>>::InnerModule,
        &[usize],
    ) -> Tensor<<B as AutodiffBackend>::InnerBackend, 2>
    + 'a;

/// The model and data of one run, prepared by the setting's loader.
pub(super) struct Prepared<'a, B: AutodiffBackend, M: AutodiffModule<B>> {
    pub init: &'a dyn Fn() -> M,
    pub forward: &'a dyn Fn(&M, &[usize]) -> Tensor<B, 2>,
    pub test_logits: &'a InferenceLogits<'a, B, M>,
    pub labels: &'a Labels,
    /// Whether per-group gradients can be had from one backward pass per group (no batch norm).
    pub decomposable: bool,
    /// What else the pretrained weights depend on (input shape, vocabulary rows).
    pub extra: serde_json::Value,
}

/// Pretrain (or load), finetune, and tabulate one run.
pub(super) fn experiment<B: AutodiffBackend, M: AutodiffModule<B>>(
    cfg: &ControlledConfig,
    seed: u64,
    env: &RunEnv<'_>,
    device: &B::Device,
    p: Prepared<'_, B, M>,
) -> Result<Outcome> {
    let labels = p.labels;
    env.observer.log(&format!(
        "{} seed {seed}: {} train inputs ({} modified), {} test inputs; label sets {:?}",
        cfg.setting.name(),
        labels.train.len(),
        labels.modification.num_modified(),
        labels.test.len(),
        labels.sets.sets
    ));
    let test = TestSet::<B, M> {
        labels: &labels.test,
        logits: p.test_logits,
        batch_size: cfg.eval_batch_size,
    };
    let bar = env.observer.progress_bar(
        (cfg.pretrain_epochs + cfg.epochs) as u64,
        &format!(
            "epochs {} {} seed {seed}",
            cfg.setting.name(),
            cfg.method.name()
        ),
    );
    let pretrained = pretrain(cfg, seed, env, device, &p, &test, &bar)?;

    let start = Instant::now();
    let data = TrainSet::finetune(
        labels.modification.targets.clone(),
        labels.modification.modified.clone(),
        labels.num_classes,
        cfg.reward,
    );
    let fit_cfg = FitConfig {
        objective: cfg.method,
        optimizer: cfg.optimizer,
        lr: cfg.lr,
        batch_size: cfg.batch_size,
        epochs: cfg.epochs,
        metrics_every: cfg.metrics_every,
        grad_norm_every: cfg.grad_norm_every,
        test_every: cfg.test_every,
        shuffle_seed: seeds::step_seed(seed, Stream::ClassifierFinetune, 0),
        decomposable: p.decomposable,
    };
    let mut on_epoch = |r: &EpochReport| report_finetune_epoch(cfg, env, &bar, r);
    let (_model, history) = fit(
        pretrained.model,
        p.forward,
        Some(&test),
        &data,
        &fit_cfg,
        &mut on_epoch,
    )
    .context("finetuning")?;
    bar.finish_and_clear();
    let timing = TimingRow {
        pretrain_seconds: pretrained.seconds,
        pretrain_cached: pretrained.cached,
        finetune_seconds: start.elapsed().as_secs_f64(),
    };
    let outcome = tabulate(cfg, labels, &pretrained.history, &history, timing);
    let s = &outcome.summary;
    env.observer.log(&format!(
        "finished: final train accuracy modified {:.3}, other {:.3}, test {:.3}; pretraining {:.1}s{}, finetuning {:.1}s",
        s.final_train_accuracy_modified,
        s.final_train_accuracy_unmodified,
        s.final_test_accuracy,
        timing.pretrain_seconds,
        if timing.pretrain_cached { " (cached)" } else { "" },
        timing.finetune_seconds,
    ));
    Ok(outcome)
}

/// A pretrained model with what its pretraining recorded.
struct Pretrained<M> {
    model: M,
    history: History,
    seconds: f64,
    cached: bool,
}

/// Pretraining on soft labels (uniform over the class's set), cached per seed and pretraining config.
fn pretrain<B: AutodiffBackend, M: AutodiffModule<B>>(
    cfg: &ControlledConfig,
    seed: u64,
    env: &RunEnv<'_>,
    device: &B::Device,
    p: &Prepared<'_, B, M>,
    test: &TestSet<B, M>,
    bar: &ProgressBar,
) -> Result<Pretrained<M>> {
    let description = serde_json::json!({
        "version": 3,
        "setting": cfg.setting,
        "seed": seed,
        "num_train": cfg.num_train,
        "num_test": cfg.num_test,
        "num_labels_per_sample": cfg.num_labels_per_sample,
        "pretrain_epochs": cfg.pretrain_epochs,
        "pretrain_lr": cfg.pretrain_lr,
        "pretrain_batch_size": cfg.pretrain_batch_size,
        "pretrain_metrics_every": cfg.pretrain_metrics_every,
        "resnet_width": (cfg.setting == Setting::Resnet18Cifar10).then_some(cfg.resnet_width),
        "temperature": cfg.temperature,
        "device": cfg.device,
        "verify_checksums": cfg.verify_checksums,
        "extra": p.extra,
    });
    let cache = WeightsCache::new(&env.cache_dir, "pretrained_classifiers");
    let train = || -> Result<Trained<M>> {
        let start = Instant::now();
        let labels = p.labels;
        let data = TrainSet::pretrain(
            labels.train.clone(),
            labels.sets.soft_targets(&labels.train),
            labels.num_classes,
        );
        let fit_cfg = FitConfig {
            objective: Objective::Sft,
            optimizer: OptimizerKind::Adam,
            lr: cfg.pretrain_lr,
            batch_size: cfg.pretrain_batch_size,
            epochs: cfg.pretrain_epochs,
            metrics_every: cfg.pretrain_metrics_every,
            grad_norm_every: cfg.pretrain_metrics_every,
            test_every: cfg.pretrain_metrics_every,
            shuffle_seed: seeds::step_seed(seed, Stream::ClassifierPretrain, 0),
            decomposable: p.decomposable,
        };
        let mut on_epoch = |r: &EpochReport| report_pretrain_epoch(cfg, env, bar, r);
        let (m, history) = if cfg.pretrain_epochs == 0 {
            ((p.init)(), History::default())
        } else {
            fit(
                (p.init)(),
                p.forward,
                Some(test),
                &data,
                &fit_cfg,
                &mut on_epoch,
            )
            .context("pretraining")?
        };
        let tables = vec![
            (
                "metrics".to_string(),
                GroupMetrics::to_frame(&history.train)?,
            ),
            ("test".to_string(), TestMetrics::to_frame(&history.test)?),
        ];
        Ok((m, tables, start.elapsed().as_secs_f64()))
    };
    let (entry, cached) = cache.get_or_train::<B, M>(&description, p.init, device, train)?;
    if cached {
        env.observer.log(&format!(
            "pretrained weights loaded from {} ({:.1}s when trained)",
            cache.entry_dir(&entry.record.key).display(),
            entry.record.seconds
        ));
        bar.inc(cfg.pretrain_epochs as u64);
    }
    let table = |name: &str| {
        entry.tables.get(name).ok_or_else(|| {
            anyhow!(
                "cached pretraining {} lacks its {name} table; delete that directory to pretrain again",
                cache.entry_dir(&entry.record.key).display()
            )
        })
    };
    let history = History {
        train: GroupMetrics::from_frame(table("metrics")?)?,
        test: TestMetrics::from_frame(table("test")?)?,
    };
    Ok(Pretrained {
        model: entry.model,
        history,
        seconds: entry.record.seconds,
        cached,
    })
}

fn report_pretrain_epoch(
    cfg: &ControlledConfig,
    env: &RunEnv<'_>,
    bar: &ProgressBar,
    r: &EpochReport,
) {
    if r.epoch > 0 {
        bar.inc(1);
    }
    let Some(m) = r.train.first() else { return };
    bar.set_message(format!("pretrain loss {:.4}", m.objective));
    if r.epoch.is_multiple_of((cfg.pretrain_epochs / 10).max(1)) {
        env.observer.log(&format!(
            "pretrain epoch {}: soft cross-entropy {:.5} (optimum ln {} = {:.5})",
            r.epoch,
            m.objective,
            cfg.num_labels_per_sample,
            (cfg.num_labels_per_sample as f64).ln()
        ));
    }
}

fn report_finetune_epoch(
    cfg: &ControlledConfig,
    env: &RunEnv<'_>,
    bar: &ProgressBar,
    r: &EpochReport,
) {
    if r.epoch > 0 {
        bar.inc(1);
    }
    let group = |g| r.train.iter().find(|m| m.group == g);
    let (Some(m), Some(u)) = (group(Group::Modified), group(Group::Unmodified)) else {
        return;
    };
    bar.set_message(format!(
        "train acc modified {:.3}, other {:.3}",
        m.train_accuracy, u.train_accuracy
    ));
    if r.epoch.is_multiple_of((cfg.epochs / 20).max(1)) || r.epoch == cfg.epochs {
        env.observer.log(&format!(
            "epoch {}: modified acc {:.3} reward {:.4} std {:.2e} grad {:.2e} | other acc {:.3} reward {:.4} std {:.2e} grad {:.2e}{}",
            r.epoch,
            m.train_accuracy,
            m.reward,
            m.reward_std,
            m.grad_norm,
            u.train_accuracy,
            u.reward,
            u.reward_std,
            u.grad_norm,
            r.test.map(|t| format!(" | test acc {:.3}", t.accuracy)).unwrap_or_default()
        ));
    }
}

/// First epoch at which a group's train accuracy reaches `level`.
pub fn epochs_to_fit(curve: &[GroupMetrics], group: Group, level: f64) -> Option<usize> {
    curve
        .iter()
        .filter(|m| m.group == group)
        .find(|m| m.train_accuracy >= level)
        .map(|m| m.epoch)
}

/// The run's tables from its two histories.
fn tabulate(
    cfg: &ControlledConfig,
    labels: &Labels,
    pre: &History,
    fine: &History,
    timing: TimingRow,
) -> Outcome {
    let ids = RunIds::of(cfg);
    let mut curves = CurveRow::of(&ids, Phase::Pretrain, &pre.train);
    curves.extend(CurveRow::of(&ids, Phase::Finetune, &fine.train));
    let mut test = TestRow::of(&ids, Phase::Pretrain, &pre.test);
    test.extend(TestRow::of(&ids, Phase::Finetune, &fine.test));

    let at = |epoch: usize, group: Group| {
        fine.train
            .iter()
            .find(|m| m.epoch == epoch && m.group == group)
    };
    let last = fine.train.iter().map(|m| m.epoch).max().unwrap_or(0);
    let (m0, u0) = (at(0, Group::Modified), at(0, Group::Unmodified));
    let (m1, u1) = (at(last, Group::Modified), at(last, Group::Unmodified));
    let val = |m: Option<&GroupMetrics>, f: fn(&GroupMetrics) -> f64| m.map_or(f64::NAN, f);
    let final_train_accuracy = match (m1, u1) {
        (Some(m), Some(u)) => {
            (m.train_accuracy * m.inputs as f64 + u.train_accuracy * u.inputs as f64)
                / (m.inputs + u.inputs) as f64
        }
        _ => f64::NAN,
    };
    let fit = |g, level| epochs_to_fit(&fine.train, g, level).map(|e| e as i64);
    let summary = SummaryRow {
        setting: cfg.setting,
        method: cfg.method,
        optimizer: cfg.optimizer,
        lr: cfg.lr,
        reward_fn: cfg.reward,
        num_train: labels.train.len(),
        num_test: labels.test.len(),
        num_modified: labels.modification.num_modified(),
        num_labels_per_sample: cfg.num_labels_per_sample,
        epochs: cfg.epochs,
        pretrain_epochs: cfg.pretrain_epochs,
        batch_size: cfg.batch_size,
        pretrain_batch_size: cfg.pretrain_batch_size,
        pretrain_lr: cfg.pretrain_lr,
        metrics_every: cfg.metrics_every,
        grad_norm_every: cfg.grad_norm_every,
        resnet_width: cfg.resnet_width,
        max_length: cfg.max_length,
        pretrain_objective: pre.train.last().map_or(f64::NAN, |m| m.objective),
        pretrain_objective_optimum: (cfg.num_labels_per_sample as f64).ln(),
        pretrain_test_accuracy: pre.test.last().map_or(f64::NAN, |t| t.accuracy),
        init_reward_std_modified: val(m0, |m| m.reward_std),
        init_reward_std_unmodified: val(u0, |m| m.reward_std),
        init_reward_modified: val(m0, |m| m.reward),
        init_reward_unmodified: val(u0, |m| m.reward),
        init_grad_norm_modified: val(m0, |m| m.grad_norm),
        init_grad_norm_unmodified: val(u0, |m| m.grad_norm),
        init_test_accuracy: fine.test.first().map_or(f64::NAN, |t| t.accuracy),
        final_train_accuracy_modified: val(m1, |m| m.train_accuracy),
        final_train_accuracy_unmodified: val(u1, |m| m.train_accuracy),
        final_train_accuracy,
        final_test_accuracy: fine.test.last().map_or(f64::NAN, |t| t.accuracy),
        fit50_modified: fit(Group::Modified, 0.5),
        fit90_modified: fit(Group::Modified, 0.9),
        fit50_unmodified: fit(Group::Unmodified, 0.5),
        fit90_unmodified: fit(Group::Unmodified, 0.9),
        device: cfg.device.name().to_string(),
    };
    Outcome {
        curves,
        test,
        summary,
        timing,
    }
}
