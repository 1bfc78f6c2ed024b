//! Pretraining tiny models on a tiny corpus: the loss falls, the result is a Hugging Face
//! checkpoint our loaders open, the cache is reused, and a run killed mid-way resumes to the same
//! bytes as an uninterrupted one.

use model::{CpuBackend, GPT2LMHeadModel, LmTokenizer, T5ForConditionalGeneration};
use pretrain::{Corpus, PretrainSpec, RunOptions, pretrain};

type B = CpuBackend;

/// 60 short "documents" of repetitive English, so a tiny model learns something in a few steps.
fn corpus() -> Corpus {
    let subjects = ["the cat", "a dog", "the model", "my friend", "the river"];
    let verbs = [
        "runs to",
        "looks at",
        "learns from",
        "walks past",
        "sings for",
    ];
    let objects = [
        "the house.",
        "a tree.",
        "the data.",
        "the city.",
        "an old song.",
    ];
    let docs = (0..60)
        .map(|i| {
            (0..12)
                .map(|j| {
                    let k = i * 7 + j * 3;
                    format!(
                        "{} {} {}",
                        subjects[k % 5],
                        verbs[(k / 5) % 5],
                        objects[(k / 2) % 5]
                    )
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    Corpus::from_documents(docs)
}

fn gpt2_spec(steps: usize) -> PretrainSpec {
    serde_yaml::from_str(&format!(
        "model: {{model_type: gpt2, n_layer: 1, n_embd: 32, n_head: 2, n_positions: 32}}
corpus: [wikitext-2]
tokenizer: {{vocab_size: 300}}
steps: {steps}
batch_size: 4
seq_len: 16
learning_rate: 3.0e-3
warmup_steps: 2
eval_every: 4
eval_batches: 2
checkpoint_every: 3
seed: 5"
    ))
    .unwrap()
}

fn t5_spec(steps: usize) -> PretrainSpec {
    serde_yaml::from_str(&format!(
        "model: {{model_type: t5, d_model: 32, d_kv: 8, d_ff: 64, num_layers: 1, num_heads: 2}}
corpus: [wikitext-2]
tokenizer: {{vocab_size: 320, extra_ids: 8}}
steps: {steps}
batch_size: 4
seq_len: 24
learning_rate: 3.0e-3
warmup_steps: 2
eval_every: 4
eval_batches: 2
checkpoint_every: 3
seed: 5"
    ))
    .unwrap()
}

#[test]
fn a_tiny_gpt2_pretrains_into_a_checkpoint_that_loads_and_is_cached() {
    let dir = tempfile::tempdir().unwrap();
    let device = Default::default();
    let spec = gpt2_spec(16);
    let done = pretrain::<B>(
        "gpt2-tiny",
        &spec,
        &corpus(),
        dir.path(),
        &device,
        RunOptions::default(),
    )
    .unwrap()
    .unwrap();
    assert!(!done.cached);
    let log = std::fs::read_to_string(done.dir.join("log.csv")).unwrap();
    let losses: Vec<f64> = log
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap().parse().unwrap())
        .collect();
    assert_eq!(losses.len(), 16);
    let first: f64 = losses[..3].iter().sum::<f64>() / 3.0;
    let last: f64 = losses[13..].iter().sum::<f64>() / 3.0;
    assert!(last < first - 0.5, "training loss {first:.3} -> {last:.3}");
    // Validation perplexity below the uniform guess over the vocabulary.
    assert!(
        done.record.val_perplexity < done.record.vocab_size as f64 / 2.0,
        "{:?}",
        done.record
    );
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "pretrain.json",
    ] {
        assert!(done.dir.join(f).is_file(), "{f}");
    }
    GPT2LMHeadModel::<CpuBackend>::load(&done.dir, &device).unwrap();
    let LmTokenizer::Gpt2(tok) = LmTokenizer::from_checkpoint(&done.dir, false).unwrap() else {
        panic!("GPT-2 tokenizer")
    };
    assert_eq!(tok.vocab_size(), done.record.vocab_size);
    // The second call finds it.
    let again = pretrain::<B>(
        "gpt2-tiny",
        &spec,
        &corpus(),
        dir.path(),
        &device,
        RunOptions::default(),
    )
    .unwrap()
    .unwrap();
    assert!(again.cached);
    assert_eq!(again.dir, done.dir);
    // Another seed is another entry.
    let other = PretrainSpec {
        seed: 6,
        ..spec.clone()
    };
    let numerics = model::fused::numerics::<B>();
    assert_eq!(done.record.numerics, numerics);
    assert!(numerics.starts_with("cpu-"), "{numerics}");
    assert_eq!(
        done.record.key,
        pretrain::cache_key(&spec, &corpus().sha256, &numerics)
    );
    assert_ne!(
        pretrain::cache_key(&other, &corpus().sha256, &numerics),
        pretrain::cache_key(&spec, &corpus().sha256, &numerics)
    );
    // So is other kernel arithmetic (e.g. the decomposed ops, or kernels from before a change).
    assert_ne!(
        pretrain::cache_key(&spec, &corpus().sha256, "cpu-decomposed"),
        pretrain::cache_key(&spec, &corpus().sha256, &numerics)
    );
    // A damaged entry is an error naming it.
    std::fs::write(done.dir.join("model.safetensors"), b"garbage").unwrap();
    let err = pretrain::<B>(
        "gpt2-tiny",
        &spec,
        &corpus(),
        dir.path(),
        &device,
        RunOptions::default(),
    )
    .unwrap_err();
    assert!(
        format!("{err:#}").contains("delete that directory"),
        "{err:#}"
    );
}

#[test]
fn a_killed_t5_pretraining_resumes_to_the_same_bytes_as_an_uninterrupted_one() {
    let device = Default::default();
    let spec = t5_spec(8);
    let whole = tempfile::tempdir().unwrap();
    let a = pretrain::<B>(
        "t5-tiny",
        &spec,
        &corpus(),
        whole.path(),
        &device,
        RunOptions::default(),
    )
    .unwrap()
    .unwrap();
    let sliced = tempfile::tempdir().unwrap();
    let stop = RunOptions {
        progress: false,
        stop_after_step: Some(3),
    };
    assert!(
        pretrain::<B>("t5-tiny", &spec, &corpus(), sliced.path(), &device, stop)
            .unwrap()
            .is_none()
    );
    let partial = sliced
        .path()
        .join(format!("t5-tiny-{}.partial", a.record.key));
    assert!(partial.join("state.json").is_file());
    let b = pretrain::<B>(
        "t5-tiny",
        &spec,
        &corpus(),
        sliced.path(),
        &device,
        RunOptions::default(),
    )
    .unwrap()
    .unwrap();
    assert!(
        !partial.exists(),
        "the partial checkpoint is removed when done"
    );
    assert_eq!(
        std::fs::read(a.dir.join("model.safetensors")).unwrap(),
        std::fs::read(b.dir.join("model.safetensors")).unwrap()
    );
    assert_eq!(a.record.val_loss, b.record.val_loss);
    T5ForConditionalGeneration::<CpuBackend>::load(&b.dir, &device).unwrap();
    let LmTokenizer::T5(tok) = LmTokenizer::from_checkpoint(&b.dir, true).unwrap() else {
        panic!("T5 tokenizer")
    };
    assert_eq!((tok.pad_token_id(), tok.eos_token_id()), (0, 1));
}

#[test]
fn bad_specs_are_errors_that_name_the_field() {
    let mut spec = t5_spec(4);
    spec.tokenizer.extra_ids = 1;
    let dir = tempfile::tempdir().unwrap();
    let err = pretrain::<B>(
        "t5",
        &spec,
        &corpus(),
        dir.path(),
        &Default::default(),
        RunOptions::default(),
    )
    .unwrap_err();
    assert!(format!("{err}").contains("extra_ids"), "{err}");
    let mut spec = gpt2_spec(4);
    spec.seq_len = 64;
    assert!(spec.validate().unwrap_err().contains("n_positions"));
    assert!(serde_yaml::from_str::<PretrainSpec>("model: {model_type: bert}\n").is_err());
}
