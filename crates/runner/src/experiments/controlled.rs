//! `controlled`: the controlled experiments with perfect exploration (paper, Section 4.2):
//! MLP on MNIST, ResNet18 on CIFAR-10, BERT-mini on STS-B, following ml-rlgrad's experiment plans.
//!
//! One run = one seed of one finetuning method after a pretraining phase:
//!
//! 1. **Data** ([`data`]): stratified subsets of the train and test splits, normalised as
//!    ml-rlgrad; every class gets a label set of `num_labels_per_sample` labels, and
//!    `frac_modified` of the train inputs a new label outside their class's set.
//! 2. **Pretrain** (SFT on soft labels: uniform over the class's set). The weights are cached per
//!    seed and pretraining config in `<run store>/<experiment>/<profile>/.pretrained/`, so the
//!    runs of one seed (RFT, SFT, the variants) start from the same weights and pretrain once.
//! 3. **Finetune** with exact-gradient RFT or SFT on the new labels ([`trainers::classify`]),
//!    recording per epoch, apart for the modified (small reward std) and other inputs: train
//!    accuracy, reward, reward std and gradient norm; and the test accuracy.
//!
//! Tables per run: `curves` (per-group metrics per epoch, both phases), `test` (test accuracy per
//! epoch) and `summary` (one row: the protocol as run, epochs to fit, final accuracies). The report
//! (figures and the fitting table) is in [`report`].

mod report;

use super::{Experiment, SweepResults, Tables};
use crate::store::RunContext;
use anyhow::{Context, Result, bail};
use burn::module::{AutodiffModule, Module};
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor, TensorData};
use data::protocol::{self, LabelSets, Modification};
use data::{Verify, cifar10, mnist, stsb};
use model::{
    BackendTask, BertConfig, BertForSequenceClassification, BertTokenizer, DeviceKind, Mlp,
    MlpConfig, ResNet18, ResNet18Config,
};
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;
use trainers::classify::{
    EpochReport, FitConfig, Group, GroupMetrics, History, Objective, OptimizerKind, RewardKind,
    TestMetrics, TestSet, TrainSet, fit,
};

/// Which model on which dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Setting {
    /// MLP 784-250-100-10 on MNIST.
    MlpMnist,
    /// ResNet18 (torchvision) on CIFAR-10.
    Resnet18Cifar10,
    /// BERT-mini on GLUE STS-B (rounded scores, 6 classes).
    BertMiniStsb,
}

impl Setting {
    pub fn name(self) -> &'static str {
        match self {
            Setting::MlpMnist => "mlp_mnist",
            Setting::Resnet18Cifar10 => "resnet18_cifar10",
            Setting::BertMiniStsb => "bert_mini_stsb",
        }
    }
    pub fn title(self) -> &'static str {
        match self {
            Setting::MlpMnist => "MLP on MNIST",
            Setting::Resnet18Cifar10 => "ResNet18 on CIFAR-10",
            Setting::BertMiniStsb => "BERT-mini on STS-B",
        }
    }
    pub fn parse(name: &str) -> Option<Setting> {
        [
            Setting::MlpMnist,
            Setting::Resnet18Cifar10,
            Setting::BertMiniStsb,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }
}

crate::sweep_config! {
    /// One seed of one finetuning method of a controlled experiment, after (cached) pretraining.
    pub struct ControlledConfig / ControlledGrid / ControlledPatch {
        /// mlp_mnist | resnet18_cifar10 | bert_mini_stsb
        pub setting: Setting,
        /// Finetuning: rft (exact expected-reward gradient) | sft (cross-entropy on the new labels).
        pub method: Objective,
        /// adam | sgd (finetuning; pretraining always uses Adam as ml-rlgrad).
        pub optimizer: OptimizerKind,
        /// Finetuning learning rate.
        pub lr: f64,
        /// labels (+1 correct, -1 otherwise) | labels_with_custom (0.5 for an incorrect prediction
        /// on a modified input: the "high initial reward" variant).
        pub reward: RewardKind,
        pub batch_size: usize,
        /// Finetuning epochs.
        pub epochs: usize,
        pub pretrain_epochs: usize,
        pub pretrain_lr: f64,
        pub pretrain_batch_size: usize,
        /// Train inputs, drawn stratified from the train split (0 = the whole split).
        pub num_train: usize,
        /// Test inputs, drawn stratified from the test split (0 = the whole split).
        pub num_test: usize,
        /// Size of every class's label set (the class and num_labels_per_sample - 1 others).
        pub num_labels_per_sample: usize,
        /// Fraction of train inputs given a label outside their set.
        pub frac_modified: f64,
        /// Per-group train accuracy, reward and reward std every this many finetuning epochs
        /// (and the first and last); free, from the training forward pass.
        pub metrics_every: usize,
        /// Per-group gradient norms every this many finetuning epochs (and the first and last);
        /// each costs one extra forward and backward pass per group for non-decomposable models.
        pub grad_norm_every: usize,
        /// Test accuracy every this many finetuning epochs (and before and at the end).
        pub test_every: usize,
        /// Metrics and test accuracy every this many pretraining epochs.
        pub pretrain_metrics_every: usize,
        /// ResNet18 stage width (torchvision: 64); ignored by the other settings.
        pub resnet_width: usize,
        /// BERT: tokens per sentence pair, truncated longest-first; ignored by the other settings.
        pub max_length: usize,
        /// Logits are divided by this before the softmax.
        pub temperature: f64,
        /// Batch size of inference passes (test accuracy).
        pub eval_batch_size: usize,
        /// cpu | wgpu | cuda (the latter two need the runner built with that feature).
        pub device: DeviceKind,
        /// Check every data file against the sha256 of MANIFEST.md.
        pub verify_checksums: bool,
    }
}

impl Experiment for ControlledConfig {
    const KIND: &'static str = "controlled";

    fn validate(&self) -> Result<()> {
        let positive = [
            ("batch_size", self.batch_size),
            ("pretrain_batch_size", self.pretrain_batch_size),
            ("metrics_every", self.metrics_every),
            ("grad_norm_every", self.grad_norm_every),
            ("test_every", self.test_every),
            ("pretrain_metrics_every", self.pretrain_metrics_every),
            ("resnet_width", self.resnet_width),
            ("eval_batch_size", self.eval_batch_size),
        ];
        for (name, v) in positive {
            if v == 0 {
                bail!("{name} must be at least 1");
            }
        }
        if self.epochs == 0 {
            bail!("epochs must be at least 1");
        }
        for (name, v) in [
            ("lr", self.lr),
            ("pretrain_lr", self.pretrain_lr),
            ("temperature", self.temperature),
        ] {
            if !(v.is_finite() && v > 0.0) {
                bail!("{name} = {v} must be a positive number");
            }
        }
        if !(self.frac_modified > 0.0 && self.frac_modified < 1.0) {
            bail!(
                "frac_modified = {} must be in (0, 1): the experiment compares modified and other inputs",
                self.frac_modified
            );
        }
        let classes = num_classes(self.setting);
        if self.num_labels_per_sample < 1 || self.num_labels_per_sample >= classes {
            bail!(
                "num_labels_per_sample = {} must be in 1..{classes} for {} ({classes} classes), so that a new label lies outside every set",
                self.num_labels_per_sample,
                self.setting.name()
            );
        }
        if self.setting == Setting::BertMiniStsb && !(8..=512).contains(&self.max_length) {
            bail!(
                "max_length = {} must be in 8..=512 (BERT's position table has 512 entries)",
                self.max_length
            );
        }
        if !self.device.is_compiled() {
            bail!(
                "device {} is not compiled into this runner; rebuild with `--features {}` or use device: cpu",
                self.device,
                self.device
            );
        }
        Ok(())
    }

    fn run(&self, seed: u64, ctx: &RunContext) -> Result<Tables> {
        let task = Task {
            cfg: self,
            seed,
            ctx,
        };
        model::run_on(self.device, task)?
    }

    fn report(sweeps: &[SweepResults], dir: &Path) -> Result<Vec<PathBuf>> {
        report::report(sweeps, dir)
    }
}

fn num_classes(setting: Setting) -> usize {
    match setting {
        Setting::MlpMnist | Setting::Resnet18Cifar10 => 10,
        Setting::BertMiniStsb => stsb::NUM_CLASSES,
    }
}

/// Subset of a split: `n` stratified indices (0 = all), seeded.
fn subsample(labels: &[usize], n: usize, seed: u64, stream: &str) -> Result<Vec<usize>> {
    if n == 0 {
        return Ok((0..labels.len()).collect());
    }
    Ok(protocol::stratified_subsample(
        labels,
        n,
        &mut protocol::rng(seed, stream),
    )?)
}

/// The label protocol of one seed.
struct Labels {
    num_classes: usize,
    train: Vec<usize>,
    test: Vec<usize>,
    sets: LabelSets,
    modification: Modification,
}

impl Labels {
    fn new(cfg: &ControlledConfig, seed: u64, train: Vec<usize>, test: Vec<usize>) -> Result<Self> {
        let num_classes = num_classes(cfg.setting);
        let sets = LabelSets::random(
            num_classes,
            cfg.num_labels_per_sample,
            &mut protocol::rng(seed, "label_sets"),
        )?;
        let modification = protocol::modify_labels(
            &train,
            &sets,
            cfg.frac_modified,
            &mut protocol::rng(seed, "modified_inputs"),
        )?;
        if modification.num_modified() == 0 {
            bail!(
                "frac_modified = {} of {} train inputs modifies none; use more inputs or a larger fraction",
                cfg.frac_modified,
                train.len()
            );
        }
        Ok(Labels {
            num_classes,
            train,
            test,
            sets,
            modification,
        })
    }
}

struct Task<'a> {
    cfg: &'a ControlledConfig,
    seed: u64,
    ctx: &'a RunContext,
}

impl BackendTask for Task<'_> {
    type Output = Result<Tables>;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<Tables> {
        let (cfg, seed, ctx) = (self.cfg, self.seed, self.ctx);
        let verify = Verify::from_flag(cfg.verify_checksums);
        let dir = &ctx.data_dir;
        match cfg.setting {
            Setting::MlpMnist => {
                let train = mnist::load(dir, mnist::Split::Train, verify)?;
                let test = mnist::load(dir, mnist::Split::Test, verify)?;
                images::<B, _>(
                    cfg,
                    seed,
                    ctx,
                    &device,
                    train,
                    test,
                    true,
                    |seed, device| {
                        let mut m = MlpConfig::mnist();
                        m.temperature = cfg.temperature;
                        m.init::<B>(seed, device)
                    },
                )
            }
            Setting::Resnet18Cifar10 => {
                let train = cifar10::load(dir, cifar10::Split::Train, verify)?;
                let test = cifar10::load(dir, cifar10::Split::Test, verify)?;
                images::<B, _>(
                    cfg,
                    seed,
                    ctx,
                    &device,
                    train,
                    test,
                    false,
                    |seed, device| {
                        ResNet18Config {
                            width: cfg.resnet_width,
                            temperature: cfg.temperature,
                            ..ResNet18Config::cifar10()
                        }
                        .init::<B>(seed, device)
                    },
                )
            }
            Setting::BertMiniStsb => bert::<B>(cfg, seed, ctx, &device),
        }
    }
}

/// A model that classifies image rows: the MLP takes them flattened, the ResNet as `[c, h, w]`.
trait ImageClassifier<B: Backend>: Module<B> {
    fn logits(&self, images: Tensor<B, 2>, shape: [usize; 3]) -> Tensor<B, 2>;
}

impl<B: Backend> ImageClassifier<B> for Mlp<B> {
    fn logits(&self, images: Tensor<B, 2>, _shape: [usize; 3]) -> Tensor<B, 2> {
        self.forward(images)
    }
}

impl<B: Backend> ImageClassifier<B> for ResNet18<B> {
    fn logits(&self, images: Tensor<B, 2>, [c, h, w]: [usize; 3]) -> Tensor<B, 2> {
        let n = images.dims()[0];
        self.forward(images.reshape([n, c, h, w]))
    }
}

fn index_tensor<B: Backend>(indices: &[usize], device: &B::Device) -> Tensor<B, 1, Int> {
    Tensor::from_data(
        TensorData::new(indices.iter().map(|&i| i as i64).collect(), [indices.len()]),
        device,
    )
}

/// MNIST and CIFAR-10: subsets, label protocol, image tensors, then [`experiment`].
#[allow(clippy::too_many_arguments)]
fn images<B, M>(
    cfg: &ControlledConfig,
    seed: u64,
    ctx: &RunContext,
    device: &B::Device,
    train: data::ImageSet,
    test: data::ImageSet,
    decomposable: bool,
    init: impl Fn(u64, &B::Device) -> M,
) -> Result<Tables>
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + ImageClassifier<B>,
    M::InnerModule: ImageClassifier<B::InnerBackend>,
{
    let train = train.select(&subsample(
        &train.labels,
        cfg.num_train,
        seed,
        "train_subset",
    )?);
    let test = test.select(&subsample(&test.labels, cfg.num_test, seed, "test_subset")?);
    let shape = train.shape;
    let d = train.dim();
    let train_x: Tensor<B, 2> = Tensor::from_data(
        TensorData::new(train.images.clone(), [train.len(), d]),
        device,
    );
    let test_x: Tensor<B::InnerBackend, 2> = Tensor::from_data(
        TensorData::new(test.images.clone(), [test.len(), d]),
        device,
    );
    let labels = Labels::new(cfg, seed, train.labels.clone(), test.labels.clone())?;
    let forward = |m: &M, idx: &[usize]| {
        m.logits(
            train_x.clone().select(0, index_tensor::<B>(idx, device)),
            shape,
        )
    };
    let test_logits = |m: &M::InnerModule, idx: &[usize]| {
        m.logits(
            test_x
                .clone()
                .select(0, index_tensor::<B::InnerBackend>(idx, device)),
            shape,
        )
    };
    let extra = serde_json::json!({ "input_shape": shape });
    experiment::<B, M>(
        cfg,
        seed,
        ctx,
        device,
        &|| init(seed, device),
        &forward,
        &test_logits,
        &labels,
        decomposable,
        extra,
    )
}

/// Tokenised sentence pairs (ids already mapped to the kept vocabulary rows).
struct Pairs {
    ids: Vec<Vec<i64>>,
    types: Vec<Vec<i64>>,
}

/// Logits of pairs `idx`, padded per length bucket: the pairs are sorted by length and run in
/// chunks of `chunk`, each padded to its own longest pair, then put back in `idx` order. With the
/// attention mask this equals one batch padded to the longest pair, at a fraction of the cost.
fn bert_logits<B: Backend>(
    m: &BertForSequenceClassification<B>,
    pairs: &Pairs,
    idx: &[usize],
    chunk: usize,
    device: &B::Device,
) -> Tensor<B, 2> {
    let mut order: Vec<usize> = (0..idx.len()).collect();
    order.sort_by_key(|&r| (pairs.ids[idx[r]].len(), r));
    let mut parts = Vec::new();
    for rows in order.chunks(chunk) {
        let len = rows
            .iter()
            .map(|&r| pairs.ids[idx[r]].len())
            .max()
            .unwrap_or(1);
        let (mut ids, mut types, mut mask) = (vec![], vec![], vec![]);
        for &r in rows {
            let (i, t) = (&pairs.ids[idx[r]], &pairs.types[idx[r]]);
            ids.extend(
                i.iter()
                    .copied()
                    .chain(std::iter::repeat_n(0, len - i.len())),
            );
            types.extend(
                t.iter()
                    .copied()
                    .chain(std::iter::repeat_n(0, len - t.len())),
            );
            mask.extend((0..len).map(|k| if k < i.len() { 1.0f32 } else { 0.0 }));
        }
        let shape = [rows.len(), len];
        parts.push(m.forward(
            Tensor::from_data(TensorData::new(ids, shape), device),
            Tensor::from_data(TensorData::new(types, shape), device),
            Tensor::from_data(TensorData::new(mask, shape), device),
        ));
    }
    let sorted = Tensor::cat(parts, 0);
    // Row r of the batch sits at position inverse[r] of the sorted logits.
    let mut inverse = vec![0; idx.len()];
    for (pos, &r) in order.iter().enumerate() {
        inverse[r] = pos;
    }
    sorted.select(0, index_tensor::<B>(&inverse, device))
}

/// STS-B: subsets, tokenisation, vocabulary rows in use, label protocol, then [`experiment`].
fn bert<B: AutodiffBackend>(
    cfg: &ControlledConfig,
    seed: u64,
    ctx: &RunContext,
    device: &B::Device,
) -> Result<Tables> {
    let verify = Verify::from_flag(cfg.verify_checksums);
    let dir = &ctx.data_dir;
    let train = stsb::load(dir, stsb::Split::Train, verify)?;
    let test = stsb::load(dir, stsb::Split::Dev, verify)?;
    let train = train.select(&subsample(
        &train.labels,
        cfg.num_train,
        seed,
        "train_subset",
    )?);
    let test = test.select(&subsample(&test.labels, cfg.num_test, seed, "test_subset")?);
    let vocab = data::checksum::checked_path(
        dir,
        "bert-vocab/vocab.txt",
        "BERT WordPiece vocabulary",
        verify,
    )?;
    let tok = BertTokenizer::from_vocab(&vocab, cfg.max_length)?;
    let encode = |set: &stsb::PairSet| -> Result<Vec<model::PairEncoding>> {
        set.sentence1
            .iter()
            .zip(&set.sentence2)
            .map(|(a, b)| Ok(tok.encode_pair(a, b)?))
            .collect()
    };
    let (train_enc, test_enc) = (encode(&train)?, encode(&test)?);
    // The word-embedding rows in use (exact: see `BertForSequenceClassification::restrict_vocab`).
    let mut keep: Vec<u32> = vec![
        tok.pad_token_id,
        tok.unk_token_id,
        tok.cls_token_id,
        tok.sep_token_id,
    ];
    for e in train_enc.iter().chain(&test_enc) {
        keep.extend(&e.input_ids);
    }
    keep.sort_unstable();
    keep.dedup();
    let row: HashMap<u32, i64> = keep
        .iter()
        .enumerate()
        .map(|(i, &t)| (t, i as i64))
        .collect();
    let pairs = |enc: &[model::PairEncoding]| Pairs {
        ids: enc
            .iter()
            .map(|e| e.input_ids.iter().map(|t| row[t]).collect())
            .collect(),
        types: enc
            .iter()
            .map(|e| e.token_type_ids.iter().map(|&t| t as i64).collect())
            .collect(),
    };
    let (train_pairs, test_pairs) = (pairs(&train_enc), pairs(&test_enc));
    let mean_len = train_pairs.ids.iter().map(Vec::len).sum::<usize>() as f64
        / train_pairs.ids.len().max(1) as f64;
    let truncated = train_enc
        .iter()
        .chain(&test_enc)
        .filter(|e| e.input_ids.len() >= cfg.max_length)
        .count();
    ctx.log(format!(
        "STS-B: {} train / {} test pairs, mean {:.1} tokens, {truncated} pairs at the max_length of {}; {} of {} vocabulary rows in use",
        train.len(),
        test.len(),
        mean_len,
        cfg.max_length,
        keep.len(),
        tok.vocab_size
    ));
    let labels = Labels::new(cfg, seed, train.labels.clone(), test.labels.clone())?;
    let mut bert_cfg = BertConfig::mini(stsb::NUM_CLASSES);
    bert_cfg.temperature = cfg.temperature;
    bert_cfg.pad_token_id = tok.pad_token_id as usize;
    bert_cfg.vocab_size = tok.vocab_size;
    let chunk = 32;
    let forward = |m: &BertForSequenceClassification<B>, idx: &[usize]| {
        bert_logits(m, &train_pairs, idx, chunk, device)
    };
    let test_logits = |m: &BertForSequenceClassification<B::InnerBackend>, idx: &[usize]| {
        bert_logits(m, &test_pairs, idx, chunk, device)
    };
    let extra = serde_json::json!({
        "max_length": cfg.max_length,
        "vocab_rows": keep.len(),
        "vocab_sha": data::checksum::sha256_hex(
            &keep.iter().flat_map(|t| t.to_le_bytes()).collect::<Vec<u8>>()
        ),
    });
    experiment::<B, BertForSequenceClassification<B>>(
        cfg,
        seed,
        ctx,
        device,
        &|| bert_cfg.init::<B>(seed, device).restrict_vocab(&keep),
        &forward,
        &test_logits,
        &labels,
        true,
        extra,
    )
}

/// A lock per pretraining key, so that two runs of one process needing the same pretrained
/// weights train them once (the second waits, then loads them).
fn key_lock(key: &str) -> Arc<Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<String, Arc<Mutex<()>>>>> = OnceLock::new();
    LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap()
        .entry(key.to_string())
        .or_default()
        .clone()
}

/// The sidecar of a cached pretrained model: written after the weights, it marks them complete.
#[derive(Serialize, Deserialize)]
struct PretrainRecord {
    key: String,
    weights_sha256: String,
    seconds: f64,
    /// The pretraining history as text ([`history_to_text`]): serde_json's float parser may be off
    /// by one ulp, Rust's `f64` parsing and shortest formatting round-trip exactly.
    history: String,
}

/// One line per record: `train epoch group inputs acc reward std p_label objective grad_norm` or
/// `test epoch accuracy`, tab-separated, floats in Rust's shortest round-trip form.
fn history_to_text(h: &History) -> String {
    let mut out = String::new();
    for m in &h.train {
        out.push_str(&format!(
            "train\t{}\t{}\t{}\t{:?}\t{:?}\t{:?}\t{:?}\t{:?}\t{:?}\n",
            m.epoch,
            m.group.name(),
            m.inputs,
            m.train_accuracy,
            m.reward,
            m.reward_std,
            m.p_label,
            m.objective,
            m.grad_norm
        ));
    }
    for t in &h.test {
        out.push_str(&format!("test\t{}\t{:?}\n", t.epoch, t.accuracy));
    }
    out
}

fn history_from_text(text: &str) -> Option<History> {
    let mut h = History::default();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let num = |i: usize| f.get(i)?.parse::<f64>().ok();
        let int = |i: usize| f.get(i)?.parse::<usize>().ok();
        match (f.first(), f.len()) {
            (Some(&"train"), 10) => h.train.push(GroupMetrics {
                epoch: int(1)?,
                group: match f[2] {
                    "modified" => Group::Modified,
                    "unmodified" => Group::Unmodified,
                    _ => return None,
                },
                inputs: int(3)?,
                train_accuracy: num(4)?,
                reward: num(5)?,
                reward_std: num(6)?,
                p_label: num(7)?,
                objective: num(8)?,
                grad_norm: num(9)?,
            }),
            (Some(&"test"), 3) => h.test.push(TestMetrics {
                epoch: int(1)?,
                accuracy: num(2)?,
            }),
            _ => return None,
        }
    }
    Some(h)
}

fn recorder() -> NamedMpkBytesRecorder<FullPrecisionSettings> {
    NamedMpkBytesRecorder::default()
}

/// Load cached pretrained weights, or `None` if there are none. A damaged cache is an error that
/// names the file and says to delete it.
fn load_pretrained<B: AutodiffBackend, M: AutodiffModule<B>>(
    dir: &Path,
    key: &str,
    fresh: M,
    device: &B::Device,
) -> Result<Option<(M, PretrainRecord)>> {
    let (bin, json) = (
        dir.join(format!("{key}.mpk")),
        dir.join(format!("{key}.json")),
    );
    let Ok(text) = std::fs::read_to_string(&json) else {
        return Ok(None);
    };
    let damaged = |why: String| {
        anyhow::anyhow!(
            "cached pretrained weights {} are damaged ({why}); delete {} and {} to pretrain again",
            bin.display(),
            bin.display(),
            json.display()
        )
    };
    let record: PretrainRecord =
        serde_json::from_str(&text).map_err(|e| damaged(format!("{}: {e}", json.display())))?;
    let bytes = std::fs::read(&bin).map_err(|e| damaged(e.to_string()))?;
    if data::checksum::sha256_hex(&bytes) != record.weights_sha256 || record.key != key {
        return Err(damaged("sha256 differs from the record".into()));
    }
    let weights: M::Record =
        Recorder::<B>::load(&recorder(), bytes, device).map_err(|e| damaged(format!("{e:?}")))?;
    Ok(Some((fresh.load_record(weights), record)))
}

fn save_pretrained<B: AutodiffBackend, M: AutodiffModule<B>>(
    dir: &Path,
    key: &str,
    model: &M,
    seconds: f64,
    history: &History,
) -> Result<()> {
    let bytes = Recorder::<B>::record(&recorder(), model.clone().into_record(), ())
        .map_err(|e| anyhow::anyhow!("cannot serialise pretrained weights: {e:?}"))?;
    let bin = dir.join(format!("{key}.mpk"));
    plotting::write_atomic(&bin, &bytes)
        .with_context(|| format!("cannot write {}", bin.display()))?;
    let record = PretrainRecord {
        key: key.to_string(),
        weights_sha256: data::checksum::sha256_hex(&bytes),
        seconds,
        history: history_to_text(history),
    };
    let json = dir.join(format!("{key}.json"));
    plotting::write_atomic(&json, serde_json::to_string(&record)?.as_bytes())
        .with_context(|| format!("cannot write {}", json.display()))?;
    Ok(())
}

/// First epoch at which a group's train accuracy reaches `level`.
fn epochs_to_fit(curve: &[GroupMetrics], group: Group, level: f64) -> Option<usize> {
    curve
        .iter()
        .filter(|m| m.group == group)
        .find(|m| m.train_accuracy >= level)
        .map(|m| m.epoch)
}

/// Logits of test inputs from the model in inference mode.
type InferenceLogits<'a, B, M> = dyn Fn(
        &<M as AutodiffModule<B>>::InnerModule,
        &[usize],
    ) -> Tensor<<B as AutodiffBackend>::InnerBackend, 2>
    + 'a;

/// Pretrain (or load), finetune, and tabulate one run.
#[allow(clippy::too_many_arguments)]
fn experiment<B: AutodiffBackend, M: AutodiffModule<B>>(
    cfg: &ControlledConfig,
    seed: u64,
    ctx: &RunContext,
    device: &B::Device,
    init: &dyn Fn() -> M,
    forward: &dyn Fn(&M, &[usize]) -> Tensor<B, 2>,
    test_logits: &InferenceLogits<'_, B, M>,
    labels: &Labels,
    decomposable: bool,
    extra: serde_json::Value,
) -> Result<Tables> {
    let k = labels.num_classes;
    let n = labels.train.len();
    let n_mod = labels.modification.num_modified();
    ctx.log(format!(
        "{} seed {seed}: {n} train inputs ({n_mod} modified), {} test inputs; label sets {:?}",
        cfg.setting.name(),
        labels.test.len(),
        labels.sets.sets
    ));
    let test = TestSet::<B, M> {
        labels: &labels.test,
        logits: test_logits,
        batch_size: cfg.eval_batch_size,
    };
    let total = (cfg.pretrain_epochs + cfg.epochs) as u64;
    let bar = ctx.progress_bar(
        total,
        &format!(
            "epochs {} {} seed {seed}",
            cfg.setting.name(),
            method_name(cfg.method)
        ),
    );

    // 1. Pretraining on soft labels, cached per seed and pretraining config.
    let key_json = serde_json::json!({
        "version": 2,
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
        "extra": extra,
    });
    let key = data::checksum::sha256_hex(key_json.to_string().as_bytes())[..16].to_string();
    let cache = ctx
        .dir
        .parent()
        .and_then(Path::parent)
        .map(|p| p.join(".pretrained"))
        .unwrap_or_else(|| ctx.dir.join(".pretrained"));
    let (pretrained, pre_history, pre_seconds, cached) = {
        let lock = key_lock(&key);
        let _guard = lock.lock().unwrap();
        match load_pretrained::<B, M>(&cache, &key, init(), device)? {
            Some((m, rec)) => {
                ctx.log(format!(
                    "pretrained weights loaded from {} ({:.1}s when trained)",
                    cache.join(format!("{key}.mpk")).display(),
                    rec.seconds
                ));
                bar.inc(cfg.pretrain_epochs as u64);
                let history = history_from_text(&rec.history).ok_or_else(|| {
                    anyhow::anyhow!(
                        "cached pretraining history {} is damaged; delete it and {} to pretrain again",
                        cache.join(format!("{key}.json")).display(),
                        cache.join(format!("{key}.mpk")).display()
                    )
                })?;
                (m, history, rec.seconds, true)
            }
            None => {
                let start = Instant::now();
                let data = TrainSet::pretrain(
                    labels.train.clone(),
                    labels.sets.soft_targets(&labels.train),
                    k,
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
                    shuffle_seed: seed ^ 0x5052_4554,
                    decomposable,
                };
                let mut on_epoch = |r: &EpochReport| {
                    if r.epoch > 0 {
                        bar.inc(1);
                    }
                    if let Some(m) = r.train.first() {
                        bar.set_message(format!("pretrain loss {:.4}", m.objective));
                        if r.epoch.is_multiple_of((cfg.pretrain_epochs / 10).max(1)) {
                            ctx.log(format!(
                                "pretrain epoch {}: soft cross-entropy {:.5} (optimum ln {} = {:.5})",
                                r.epoch,
                                m.objective,
                                cfg.num_labels_per_sample,
                                (cfg.num_labels_per_sample as f64).ln()
                            ));
                        }
                    }
                };
                let (m, history) = if cfg.pretrain_epochs == 0 {
                    (init(), History::default())
                } else {
                    fit(init(), forward, Some(&test), &data, &fit_cfg, &mut on_epoch)
                        .context("pretraining")?
                };
                let seconds = start.elapsed().as_secs_f64();
                save_pretrained::<B, M>(&cache, &key, &m, seconds, &history)?;
                (m, history, seconds, false)
            }
        }
    };

    // 2. Finetuning on the modified labels.
    let start = Instant::now();
    let data = TrainSet::finetune(
        labels.modification.targets.clone(),
        labels.modification.modified.clone(),
        k,
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
        shuffle_seed: seed ^ 0x4649_4e45,
        decomposable,
    };
    let mut on_epoch = |r: &EpochReport| {
        if r.epoch > 0 {
            bar.inc(1);
        }
        let acc = |g| r.train.iter().find(|m| m.group == g);
        if let (Some(m), Some(u)) = (acc(Group::Modified), acc(Group::Unmodified)) {
            bar.set_message(format!(
                "train acc modified {:.3}, other {:.3}",
                m.train_accuracy, u.train_accuracy
            ));
            if r.epoch.is_multiple_of((cfg.epochs / 20).max(1)) || r.epoch == cfg.epochs {
                ctx.log(format!(
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
    };
    let (_model, history) = fit(
        pretrained,
        forward,
        Some(&test),
        &data,
        &fit_cfg,
        &mut on_epoch,
    )
    .context("finetuning")?;
    let seconds = start.elapsed().as_secs_f64();
    bar.finish_and_clear();

    // 3. Tables.
    let ids = RunIds::new(cfg);
    let mut curves = curves_frame(&ids, "pretrain", &pre_history.train)?;
    curves.vstack_mut(&curves_frame(&ids, "finetune", &history.train)?)?;
    let mut test_df = test_frame(&ids, "pretrain", &pre_history)?;
    test_df.vstack_mut(&test_frame(&ids, "finetune", &history)?)?;

    let at = |epoch: usize, group: Group| {
        history
            .train
            .iter()
            .find(|m| m.epoch == epoch && m.group == group)
    };
    let last = history.train.iter().map(|m| m.epoch).max().unwrap_or(0);
    let (m0, u0) = (at(0, Group::Modified), at(0, Group::Unmodified));
    let (m1, u1) = (at(last, Group::Modified), at(last, Group::Unmodified));
    let val = |m: Option<&GroupMetrics>, f: fn(&GroupMetrics) -> f64| m.map_or(f64::NAN, f);
    let final_all = match (m1, u1) {
        (Some(m), Some(u)) => {
            (m.train_accuracy * m.inputs as f64 + u.train_accuracy * u.inputs as f64)
                / (m.inputs + u.inputs) as f64
        }
        _ => f64::NAN,
    };
    let pre_last = pre_history.train.last();
    let fit_epoch = |g, level| epochs_to_fit(&history.train, g, level).map(|e| e as i64);
    let final_test = history.test.last().map_or(f64::NAN, |t| t.accuracy);
    let init_test = history.test.first().map_or(f64::NAN, |t| t.accuracy);
    let summary = df!(
        "setting" => [ids.setting.as_str()],
        "method" => [ids.method.as_str()],
        "optimizer" => [ids.optimizer.as_str()],
        "lr" => [cfg.lr],
        "reward_fn" => [ids.reward.as_str()],
        "num_train" => [n as i64],
        "num_test" => [labels.test.len() as i64],
        "num_modified" => [n_mod as i64],
        "num_labels_per_sample" => [cfg.num_labels_per_sample as i64],
        "epochs" => [cfg.epochs as i64],
        "pretrain_epochs" => [cfg.pretrain_epochs as i64],
        "batch_size" => [cfg.batch_size as i64],
        "pretrain_batch_size" => [cfg.pretrain_batch_size as i64],
        "pretrain_lr" => [cfg.pretrain_lr],
        "metrics_every" => [cfg.metrics_every as i64],
        "grad_norm_every" => [cfg.grad_norm_every as i64],
        "resnet_width" => [cfg.resnet_width as i64],
        "max_length" => [cfg.max_length as i64],
        "pretrain_objective" => [pre_last.map_or(f64::NAN, |m| m.objective)],
        "pretrain_objective_optimum" => [(cfg.num_labels_per_sample as f64).ln()],
        "pretrain_test_accuracy" => [pre_history.test.last().map_or(f64::NAN, |t| t.accuracy)],
        "pretrain_cached" => [cached],
        "pretrain_seconds" => [pre_seconds],
        "init_reward_std_modified" => [val(m0, |m| m.reward_std)],
        "init_reward_std_unmodified" => [val(u0, |m| m.reward_std)],
        "init_reward_modified" => [val(m0, |m| m.reward)],
        "init_reward_unmodified" => [val(u0, |m| m.reward)],
        "init_grad_norm_modified" => [val(m0, |m| m.grad_norm)],
        "init_grad_norm_unmodified" => [val(u0, |m| m.grad_norm)],
        "init_test_accuracy" => [init_test],
        "final_train_accuracy_modified" => [val(m1, |m| m.train_accuracy)],
        "final_train_accuracy_unmodified" => [val(u1, |m| m.train_accuracy)],
        "final_train_accuracy" => [final_all],
        "final_test_accuracy" => [final_test],
        "fit50_modified" => [fit_epoch(Group::Modified, 0.5)],
        "fit90_modified" => [fit_epoch(Group::Modified, 0.9)],
        "fit50_unmodified" => [fit_epoch(Group::Unmodified, 0.5)],
        "fit90_unmodified" => [fit_epoch(Group::Unmodified, 0.9)],
        "finetune_seconds" => [seconds],
        "device" => [cfg.device.name()],
    )?;
    ctx.log(format!(
        "finished: final train accuracy modified {:.3}, other {:.3}, test {:.3}; pretraining {:.1}s{}, finetuning {seconds:.1}s",
        val(m1, |m| m.train_accuracy),
        val(u1, |m| m.train_accuracy),
        final_test,
        pre_seconds,
        if cached { " (cached)" } else { "" }
    ));
    Ok(vec![
        ("curves".into(), curves),
        ("test".into(), test_df),
        ("summary".into(), summary),
    ])
}

fn method_name(m: Objective) -> &'static str {
    match m {
        Objective::Rft => "rft",
        Objective::Sft => "sft",
    }
}

fn optimizer_name(o: OptimizerKind) -> &'static str {
    match o {
        OptimizerKind::Adam => "adam",
        OptimizerKind::Sgd => "sgd",
    }
}

fn reward_name(r: RewardKind) -> &'static str {
    match r {
        RewardKind::Labels => "labels",
        RewardKind::LabelsWithCustom => "labels_with_custom",
    }
}

/// The columns that say which run a row belongs to.
struct RunIds {
    setting: String,
    method: String,
    optimizer: String,
    lr: f64,
    reward: String,
}

impl RunIds {
    fn new(cfg: &ControlledConfig) -> Self {
        RunIds {
            setting: cfg.setting.name().into(),
            method: method_name(cfg.method).into(),
            optimizer: optimizer_name(cfg.optimizer).into(),
            lr: cfg.lr,
            reward: reward_name(cfg.reward).into(),
        }
    }

    fn columns(&self, n: usize, phase: &str) -> Vec<Column> {
        vec![
            Column::new("setting".into(), vec![self.setting.as_str(); n]),
            Column::new("method".into(), vec![self.method.as_str(); n]),
            Column::new("optimizer".into(), vec![self.optimizer.as_str(); n]),
            Column::new("lr".into(), vec![self.lr; n]),
            Column::new("reward_fn".into(), vec![self.reward.as_str(); n]),
            Column::new("phase".into(), vec![phase; n]),
        ]
    }
}

fn curves_frame(ids: &RunIds, phase: &str, rows: &[GroupMetrics]) -> Result<DataFrame> {
    let n = rows.len();
    let mut cols = ids.columns(n, phase);
    let f = |name: &str, get: fn(&GroupMetrics) -> f64| {
        Column::new(name.into(), rows.iter().map(get).collect::<Vec<f64>>())
    };
    cols.extend([
        Column::new(
            "epoch".into(),
            rows.iter().map(|m| m.epoch as i64).collect::<Vec<_>>(),
        ),
        Column::new(
            "group".into(),
            rows.iter().map(|m| m.group.name()).collect::<Vec<_>>(),
        ),
        Column::new(
            "inputs".into(),
            rows.iter().map(|m| m.inputs as i64).collect::<Vec<_>>(),
        ),
        f("train_accuracy", |m| m.train_accuracy),
        f("reward", |m| m.reward),
        f("reward_std", |m| m.reward_std),
        f("p_label", |m| m.p_label),
        f("objective", |m| m.objective),
        f("grad_norm", |m| m.grad_norm),
    ]);
    Ok(DataFrame::new(n, cols)?)
}

fn test_frame(ids: &RunIds, phase: &str, history: &History) -> Result<DataFrame> {
    let n = history.test.len();
    let mut cols = ids.columns(n, phase);
    cols.push(Column::new(
        "epoch".into(),
        history
            .test
            .iter()
            .map(|t| t.epoch as i64)
            .collect::<Vec<_>>(),
    ));
    cols.push(Column::new(
        "test_accuracy".into(),
        history.test.iter().map(|t| t.accuracy).collect::<Vec<_>>(),
    ));
    Ok(DataFrame::new(n, cols)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_history_round_trips_exactly() {
        let h = History {
            train: vec![GroupMetrics {
                epoch: 3,
                group: Group::Modified,
                inputs: 7,
                train_accuracy: 0.1 + 0.2,
                reward: -0.4595009645266578,
                reward_std: 1.7e-300,
                p_label: f64::MIN_POSITIVE,
                objective: 1.1417517475222,
                grad_norm: f64::NAN,
            }],
            test: vec![TestMetrics {
                epoch: 10,
                accuracy: 2.0 / 3.0,
            }],
        };
        let back = history_from_text(&history_to_text(&h)).unwrap();
        let (a, b) = (&h.train[0], &back.train[0]);
        for (x, y) in [
            (a.train_accuracy, b.train_accuracy),
            (a.reward, b.reward),
            (a.reward_std, b.reward_std),
            (a.p_label, b.p_label),
            (a.objective, b.objective),
            (a.grad_norm, b.grad_norm),
        ] {
            if x.is_nan() {
                assert!(y.is_nan());
            } else {
                assert_eq!(x.to_bits(), y.to_bits());
            }
        }
        assert_eq!((b.epoch, b.group, b.inputs), (3, Group::Modified, 7));
        assert_eq!(back.test, h.test);
        assert!(history_from_text("train\t1\tx").is_none());
    }
}
