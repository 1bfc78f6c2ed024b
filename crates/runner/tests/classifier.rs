//! `learned_reward` built through the runner's classifier loader on a sentiment classifier
//! trained by `pretrain::train_classifier_on` (the default profile's path, on a tiny synthetic
//! task): positive text scores above negative text.

use pretrain::{ClassifierSpec, LabelledData, RunOptions, train_classifier_on};
use rewards::Sample;

const POSITIVE: [&str; 3] = ["good", "great", "loved"];
const NEGATIVE: [&str; 3] = ["bad", "awful", "hated"];
const FILLER: [&str; 4] = ["the movie", "the plot", "it", "i"];

fn texts(n: usize) -> Vec<(String, u8)> {
    let mut rows = Vec::new();
    for k in 0..n {
        for (label, words) in [(1u8, POSITIVE), (0u8, NEGATIVE)] {
            rows.push((
                format!(
                    "{} was {} and {} .",
                    FILLER[k % 4],
                    words[k % 3],
                    FILLER[(k + 1) % 4]
                ),
                label,
            ));
        }
    }
    rows
}

#[test]
fn learned_reward_on_a_classifier_trained_here_prefers_positive_text() {
    let tmp = tempfile::tempdir().unwrap();
    let mut vocab = vec![
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "was", "and",
    ];
    vocab.extend(POSITIVE.iter().chain(&NEGATIVE));
    vocab.extend(["the", "movie", "plot", "it", "i"]);
    std::fs::write(tmp.path().join("vocab.txt"), vocab.join("\n") + "\n").unwrap();
    let data = LabelledData {
        train: texts(36),
        test: texts(6),
        test_rows: "synthetic".into(),
        vocab: tmp.path().join("vocab.txt"),
    };
    let spec: ClassifierSpec = serde_yaml::from_str(
        "model: {model_type: distilbert, dim: 32, n_layers: 1, n_heads: 2, hidden_dim: 64,
        max_position_embeddings: 16}
max_length: 16
epochs: 12
batch_size: 8
learning_rate: 1.0e-2
warmup_steps: 3
seed: 1",
    )
    .unwrap();
    let trained = train_classifier_on::<model::CpuBackend>(
        "toy",
        &spec,
        &data,
        &tmp.path().join("cache"),
        &Default::default(),
        RunOptions::default(),
    )
    .unwrap()
    .unwrap();
    assert!(trained.record.test_accuracy > 0.9, "{:?}", trained.record);

    let args: serde_yaml::Value = serde_yaml::from_str(&format!(
        "{{model_name: '{}', label_ix: 1, include_prompt_for_eval: true}}",
        trained.dir.display()
    ))
    .unwrap();
    let reward = rewards::build_with(
        "learned_reward",
        &args,
        Some(&runner::learned::ModelClassifierLoader),
    )
    .unwrap();
    let sample = |prompt: &str, prediction: &str| Sample {
        prompt: Some(prompt.into()),
        ..Sample::new(prediction, vec![])
    };
    let scores = reward
        .try_score_batch(&[
            sample("the movie was ", "great and i loved it ."),
            sample("the movie was ", "awful and i hated it ."),
        ])
        .unwrap();
    assert!(
        scores[0] > 0.8 && scores[1] < 0.2,
        "P(positive): {scores:?}"
    );
}
