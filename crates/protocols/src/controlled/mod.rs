//! The controlled experiments with perfect exploration (paper, Section 4.2): MLP on MNIST,
//! ResNet18 on CIFAR-10, BERT-mini on STS-B, following ml-rlgrad's experiment plans.
//!
//! One run = one seed of one finetuning method after a pretraining phase:
//!
//! 1. **Data**: stratified subsets of the train and test splits, normalised as ml-rlgrad; every
//!    class gets a label set of `num_labels_per_sample` labels, and `frac_modified` of the train
//!    inputs a new label outside their class's set ([`data::protocol`]).
//! 2. **Pretrain** (SFT on soft labels: uniform over the class's set). The weights are cached per
//!    seed and pretraining config in the store's cache ([`crate::cache`]), so the runs of one seed
//!    (RFT, SFT, the variants) start from the same weights and pretrain once.
//! 3. **Finetune** with exact-gradient RFT or SFT on the new labels ([`trainers::classify`]),
//!    recording per epoch, apart for the modified (small reward std) and other inputs: train
//!    accuracy, reward, reward std and gradient norm; and the test accuracy.
//!
//! Tables: [`rows`]. Whether the paper's finding held: [`verdict`].

pub mod rows;
mod run;
pub mod verdict;

pub use rows::Outcome;
pub use run::epochs_to_fit;

use crate::RunEnv;
use anyhow::{Result, bail};
use burn::module::{AutodiffModule, Module};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor, TensorData};
use data::protocol::{self, LabelSets, Modification};
use data::{Verify, cifar10, mnist, stsb};
use model::{
    BackendTask, BertConfig, BertForSequenceClassification, BertTokenizer, DeviceKind, Mlp,
    MlpConfig, ResNet18, ResNet18Config,
};
use run::{Prepared, experiment};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use trainers::classify::{Objective, RewardKind};
use trainers::optim::OptimizerKind;

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

crate::sweep_params! {
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

impl ControlledConfig {
    /// Checks beyond types; the message names the offending field.
    pub fn validate(&self) -> Result<()> {
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

    /// Run one seed: pretrain (or load the cached pretrained model), finetune, tabulate.
    pub fn run(&self, seed: u64, env: &RunEnv<'_>) -> Result<Outcome> {
        model::run_on(
            self.device,
            Task {
                cfg: self,
                seed,
                env,
            },
        )?
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
        &mut seeds::named(seed, stream),
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
            &mut seeds::named(seed, "label_sets"),
        )?;
        let modification = protocol::modify_labels(
            &train,
            &sets,
            cfg.frac_modified,
            &mut seeds::named(seed, "modified_inputs"),
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
    env: &'a RunEnv<'a>,
}

impl BackendTask for Task<'_> {
    type Output = Result<Outcome>;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<Outcome> {
        let (cfg, seed, env) = (self.cfg, self.seed, self.env);
        let verify = Verify::from_flag(cfg.verify_checksums);
        let dir = &env.data_dir;
        match cfg.setting {
            Setting::MlpMnist => {
                let train = mnist::load(dir, mnist::Split::Train, verify)?;
                let test = mnist::load(dir, mnist::Split::Test, verify)?;
                images::<B, _>(
                    cfg,
                    seed,
                    env,
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
                    env,
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
            Setting::BertMiniStsb => bert::<B>(cfg, seed, env, &device),
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
    env: &RunEnv<'_>,
    device: &B::Device,
    train: data::ImageSet,
    test: data::ImageSet,
    decomposable: bool,
    init: impl Fn(u64, &B::Device) -> M,
) -> Result<Outcome>
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
        env,
        device,
        Prepared {
            init: &|| init(seed, device),
            forward: &forward,
            test_logits: &test_logits,
            labels: &labels,
            decomposable,
            extra,
        },
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
    env: &RunEnv<'_>,
    device: &B::Device,
) -> Result<Outcome> {
    let verify = Verify::from_flag(cfg.verify_checksums);
    let dir = &env.data_dir;
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
    env.observer.log(&format!(
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
        env,
        device,
        Prepared {
            init: &|| bert_cfg.init::<B>(seed, device).restrict_vocab(&keep),
            forward: &forward,
            test_logits: &test_logits,
            labels: &labels,
            decomposable: true,
            extra,
        },
    )
}
