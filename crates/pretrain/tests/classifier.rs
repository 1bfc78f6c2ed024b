//! Training a tiny DistilBERT sentiment classifier on a small synthetic labelled set: it learns
//! it, the checkpoint opens with the loader `learned_reward` uses and ranks positive text above
//! negative, the cache is reused and checked, and a run stopped mid-way resumes to the same bytes.

use burn::backend::Flex;
use model::{CpuBackend, DistilBertClassifier};
use pretrain::{ClassifierSpec, LabelledData, RunOptions, train_classifier_on};
use std::path::Path;

/// Autodiff over the CPU backend.
type B = CpuBackend;

const POSITIVE: [&str; 4] = ["good", "great", "wonderful", "loved"];
const NEGATIVE: [&str; 4] = ["bad", "awful", "terrible", "hated"];
const FILLER: [&str; 8] = [
    "the movie",
    "this film",
    "the acting",
    "the plot",
    "the story",
    "it",
    "the ending",
    "i",
];
const VERBS: [&str; 4] = ["was", "is", "really was", "seemed"];

/// `n` texts per class: a neutral opening, a sentiment word, a neutral closing.
fn texts(n: usize, offset: usize) -> Vec<(String, u8)> {
    let mut rows = Vec::new();
    for i in 0..n {
        let k = i + offset;
        for (label, words) in [(1u8, POSITIVE), (0u8, NEGATIVE)] {
            rows.push((
                format!(
                    "{} {} {} and {} {} long .",
                    FILLER[k % 8],
                    VERBS[(k / 8) % 4],
                    words[(k / 2) % 4],
                    FILLER[(k * 3 + 1) % 8],
                    VERBS[(k + 1) % 4],
                ),
                label,
            ));
        }
    }
    rows
}

/// A WordPiece vocabulary with every word above, written into `dir`.
fn data(dir: &Path) -> LabelledData {
    let mut vocab: Vec<&str> = vec!["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "and"];
    vocab.extend(["long"]);
    for w in POSITIVE
        .iter()
        .chain(&NEGATIVE)
        .chain(&FILLER)
        .chain(&VERBS)
    {
        for part in w.split(' ') {
            if !vocab.contains(&part) {
                vocab.push(part);
            }
        }
    }
    let path = dir.join("vocab.txt");
    std::fs::write(&path, vocab.join("\n") + "\n").unwrap();
    LabelledData {
        train: texts(48, 0),
        test: texts(20, 100),
        test_rows: "synthetic".into(),
        vocab: path,
    }
}

fn spec() -> ClassifierSpec {
    serde_yaml::from_str(
        "model: {model_type: distilbert, dim: 32, n_layers: 1, n_heads: 2, hidden_dim: 64,
        max_position_embeddings: 32}
max_length: 24
epochs: 12
batch_size: 8
learning_rate: 1.0e-2
warmup_steps: 3
validation_examples: 16
checkpoint_every: 4
seed: 3",
    )
    .unwrap()
}

#[test]
fn a_tiny_classifier_learns_a_synthetic_sentiment_task_and_loads_as_the_learned_reward_model() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data(tmp.path());
    let cache = tmp.path().join("cache");
    let device = Default::default();
    let done = train_classifier_on::<B>(
        "toy",
        &spec(),
        &data,
        &cache,
        &device,
        RunOptions::default(),
    )
    .unwrap()
    .unwrap();
    assert!(!done.cached);
    let r = &done.record;
    assert_eq!((r.train_examples, r.validation_examples), (80, 16));
    assert_eq!(r.test_examples, 40);
    assert_eq!(r.steps, 12 * 10);
    assert!(r.test_accuracy > 0.9, "{r:?}");
    assert!(r.validation_accuracy.unwrap() > 0.9, "{r:?}");
    let log = std::fs::read_to_string(done.dir.join("log.csv")).unwrap();
    assert_eq!(log.lines().count(), 1 + 120);
    for f in [
        "config.json",
        "model.safetensors",
        "vocab.txt",
        "tokenizer_config.json",
        "classifier.json",
    ] {
        assert!(done.dir.join(f).is_file(), "{f}");
    }

    // The reward model's loader opens it and agrees with the recorded test accuracy.
    let classifier = DistilBertClassifier::<Flex>::load(&done.dir, &device).unwrap();
    assert_eq!(classifier.model.config.num_labels(), 2);
    let texts: Vec<String> = data.test.iter().map(|(t, _)| t.clone()).collect();
    let probs = classifier.probabilities(&texts, 7).unwrap();
    let correct = probs
        .iter()
        .zip(&data.test)
        .filter(|(p, (_, label))| (p[1] > p[0]) == (*label == 1))
        .count();
    assert!(
        (correct as f64 / texts.len() as f64 - r.test_accuracy).abs() < 1e-9,
        "{correct} vs {}",
        r.test_accuracy
    );
    let p = classifier
        .probabilities(
            &[
                "the plot was great and i loved it .".into(),
                "the plot was awful and i hated it .".into(),
            ],
            2,
        )
        .unwrap();
    assert!(p[0][1] > 0.8 && p[1][1] < 0.2, "{p:?}");

    // The second call finds it; another seed is another entry.
    let again = train_classifier_on::<B>(
        "toy",
        &spec(),
        &data,
        &cache,
        &device,
        RunOptions::default(),
    )
    .unwrap()
    .unwrap();
    assert!(again.cached);
    assert_eq!(again.dir, done.dir);
    assert_eq!(again.record, done.record);
    let other = ClassifierSpec { seed: 4, ..spec() };
    assert_ne!(
        pretrain::classifier_cache_key(&other, &data.sha256().unwrap()),
        done.record.key
    );

    // A damaged entry is an error naming it.
    std::fs::write(done.dir.join("model.safetensors"), b"garbage").unwrap();
    let err = train_classifier_on::<B>(
        "toy",
        &spec(),
        &data,
        &cache,
        &device,
        RunOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains(&done.dir.display().to_string()), "{err}");
    assert!(err.contains("damaged"), "{err}");
}

#[test]
fn a_classifier_stopped_mid_way_resumes_to_the_same_bytes_as_an_uninterrupted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data(tmp.path());
    let device = Default::default();
    let spec = ClassifierSpec {
        epochs: 2,
        ..spec()
    };
    let whole = train_classifier_on::<B>(
        "toy",
        &spec,
        &data,
        &tmp.path().join("a"),
        &device,
        RunOptions::default(),
    )
    .unwrap()
    .unwrap();
    // Stopped at step 7 (after the checkpoint at 4, inside the first epoch's end at 10) and
    // again at 13 (after the epoch's validation and the checkpoint at 12).
    let b = tmp.path().join("b");
    for stop in [7, 13] {
        let stopped = train_classifier_on::<B>(
            "toy",
            &spec,
            &data,
            &b,
            &device,
            RunOptions {
                progress: false,
                stop_after_step: Some(stop),
            },
        )
        .unwrap();
        assert!(stopped.is_none());
    }
    let resumed = train_classifier_on::<B>("toy", &spec, &data, &b, &device, RunOptions::default())
        .unwrap()
        .unwrap();
    assert!(!resumed.cached);
    let bytes = |d: &Path| std::fs::read(d.join("model.safetensors")).unwrap();
    assert_eq!(bytes(&whole.dir), bytes(&resumed.dir));
    assert_eq!(whole.record.model_sha256, resumed.record.model_sha256);
    assert_eq!(whole.record.test_accuracy, resumed.record.test_accuracy);
    let log = |d: &Path| std::fs::read_to_string(d.join("log.csv")).unwrap();
    assert_eq!(log(&whole.dir), log(&resumed.dir));
    assert!(!b.join(format!("toy-{}.partial", whole.record.key)).exists());
}

#[test]
fn bad_classifier_specs_are_errors_that_name_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data(tmp.path());
    let device = Default::default();
    let err = |s: ClassifierSpec| {
        train_classifier_on::<B>("toy", &s, &data, tmp.path(), &device, RunOptions::default())
            .unwrap_err()
            .to_string()
    };
    assert!(
        err(ClassifierSpec {
            epochs: 0,
            ..spec()
        })
        .contains("epochs must be >= 1")
    );
    assert!(
        err(ClassifierSpec {
            max_length: 64,
            ..spec()
        })
        .contains("max_position_embeddings (32) must be >= max_length (64)")
    );
    assert!(
        err(ClassifierSpec {
            validation_examples: 96,
            ..spec()
        })
        .contains("too few")
    );
    let unknown = serde_yaml::from_str::<ClassifierSpec>(
        "model: {model_type: distilbert, dim: 32, n_layers: 1, n_heads: 2, hidden_dim: 64,
        max_position_embeddings: 32}
max_length: 24
epochs: 1
batch_size: 8
learning_rate: 1.0e-3
warmup_steps: 0
seed: 0
lr: 3",
    )
    .unwrap_err()
    .to_string();
    assert!(unknown.contains("unknown field `lr`"), "{unknown}");
    // The default profile's spec is valid and round-trips through YAML.
    let default = ClassifierSpec::default_imdb();
    default.validate().unwrap();
    let yaml = serde_yaml::to_string(&default).unwrap();
    assert_eq!(
        serde_yaml::from_str::<ClassifierSpec>(&yaml).unwrap(),
        default
    );
}
