//! `runner generate` and `runner logprobs` end to end on tiny checkpoints built here: a GPT-2 with
//! a byte-level BPE trained on a small corpus (`tokenizer.json`), and a T5 with a hand-written
//! SentencePiece model (`spiece.model`). Both are random models; the tests check determinism,
//! agreement with the library's scoring, padding invariance of batched scoring, and errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use burn::backend::Flex;
use model::{
    CausalBatch, GPT2Config, GPT2LMHeadModel, Gpt2Tokenizer, Seq2SeqBatch, T5Config,
    T5ForConditionalGeneration, T5Tokenizer, score_completions, score_seq2seq,
};
use serde_json::Value;

type B = Flex;

fn runner(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(args)
        .output()
        .expect("runner starts")
}

fn ok(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "runner failed: {stderr}");
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn err(out: &Output) -> String {
    assert!(!out.status.success(), "runner should fail");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains("panicked"),
        "a clean error, not a panic: {stderr}"
    );
    stderr
}

const CORPUS: &str = "the cat sat on the mat. the dog sat on the log. a cat and a dog met on a mat. \
                      reinforcement finetuning of language models can have vanishing gradients.";

/// A 2-layer GPT-2 whose vocabulary is a byte-level BPE trained on `CORPUS`.
fn gpt2_checkpoint(dir: &Path) {
    let tok = Gpt2Tokenizer::train(std::iter::repeat_n(CORPUS, 20), 300, 2).unwrap();
    tok.save(dir.join("tokenizer.json")).unwrap();
    let config = GPT2Config {
        vocab_size: tok.vocab_size(),
        n_positions: 64,
        n_embd: 32,
        n_layer: 2,
        n_head: 4,
        bos_token_id: Some(tok.eos_token_id()),
        eos_token_id: Some(tok.eos_token_id()),
        initializer_range: 0.3,
        ..Default::default()
    };
    GPT2LMHeadModel::<B>::init(config, 11, &Default::default())
        .unwrap()
        .save(dir)
        .unwrap();
}

/// A serialised SentencePiece `ModelProto` with the given pieces (Unigram, unk_id 2).
fn spiece_model(pieces: &[(&str, f32, u8)]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (piece, score, kind) in pieces {
        let mut p = vec![0x0a, piece.len() as u8];
        p.extend(piece.as_bytes());
        p.push(0x15);
        p.extend(score.to_le_bytes());
        p.extend([0x18, *kind]);
        bytes.extend([0x0a, p.len() as u8]);
        bytes.extend(p);
    }
    // trainer_spec: model_type 1 (Unigram), unk_id 2.
    bytes.extend([0x12, 5, 0x18, 1, 0xc0, 0x02, 2]);
    bytes
}

/// A 2+2-layer T5 with a 40-piece SentencePiece vocabulary (+100 sentinels).
fn t5_checkpoint(dir: &Path) {
    let mut pieces: Vec<(String, f32, u8)> = vec![
        ("<pad>".into(), 0.0, 3),
        ("</s>".into(), 0.0, 3),
        ("<unk>".into(), 0.0, 2),
        ("\u{2581}".into(), -2.0, 1),
    ];
    for w in ["the", "cat", "dog", "sat", "on", "mat", "a", "and"] {
        pieces.push((format!("\u{2581}{w}"), -3.0, 1));
    }
    for c in 'a'..='z' {
        pieces.push((c.to_string(), -5.0, 1));
    }
    pieces.push((".".into(), -4.0, 1));
    pieces.push((",".into(), -4.0, 1));
    let refs: Vec<(&str, f32, u8)> = pieces
        .iter()
        .map(|(p, s, k)| (p.as_str(), *s, *k))
        .collect();
    std::fs::write(dir.join("spiece.model"), spiece_model(&refs)).unwrap();
    let tok = T5Tokenizer::from_spiece(dir.join("spiece.model")).unwrap();
    let config = T5Config {
        vocab_size: tok.vocab_size(),
        d_model: 32,
        d_kv: 8,
        d_ff: 64,
        num_layers: 2,
        num_decoder_layers: Some(2),
        num_heads: 4,
        relative_attention_num_buckets: 8,
        relative_attention_max_distance: 20,
        initializer_factor: 2.0,
        ..Default::default()
    };
    T5ForConditionalGeneration::<B>::init(config, 12, &Default::default())
        .unwrap()
        .save(dir)
        .unwrap();
}

fn checkpoints() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let (gpt2, t5) = (root.path().join("gpt2"), root.path().join("t5"));
    std::fs::create_dir_all(&gpt2).unwrap();
    std::fs::create_dir_all(&t5).unwrap();
    gpt2_checkpoint(&gpt2);
    t5_checkpoint(&t5);
    (root, gpt2, t5)
}

fn generate_json(dir: &Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "generate",
        "--checkpoint",
        dir.to_str().unwrap(),
        "--prompt",
        "the cat sat on",
        "--max-new-tokens",
        "6",
        "--json",
    ];
    args.extend(extra);
    serde_json::from_str(ok(&runner(&args)).trim()).unwrap()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

#[test]
fn generate_is_seeded_and_reports_consistent_logprobs() {
    let (_root, gpt2, t5) = checkpoints();
    for dir in [&gpt2, &t5] {
        for extra in [
            &["--temperature", "0"][..],
            &["--temperature", "0.9", "--seed", "4", "--top-k", "20"][..],
            &["--num-beams", "3"][..],
        ] {
            let a = generate_json(dir, extra);
            let b = generate_json(dir, extra);
            assert_eq!(a, b, "{dir:?} {extra:?} is deterministic");
            let ids = a["token_ids"].as_array().unwrap();
            assert!(!ids.is_empty() && ids.len() <= 6, "{a}");
            let lp = floats(&a["logprobs"]);
            assert_eq!(lp.len(), ids.len());
            assert!(lp.iter().all(|x| *x <= 0.0 && x.is_finite()));
            let sum = a["sum"].as_f64().unwrap() as f32;
            assert!((lp.iter().sum::<f32>() - sum).abs() < 1e-4);
            assert_eq!(a["beam_score"].is_number(), extra.contains(&"--num-beams"));
        }
        // Plain output is the completion text.
        let text = ok(&runner(&[
            "generate",
            "--checkpoint",
            dir.to_str().unwrap(),
            "--prompt",
            "the cat sat on",
            "--max-new-tokens",
            "6",
            "--temperature",
            "0",
        ]));
        let json = generate_json(dir, &["--temperature", "0"]);
        assert_eq!(
            text.trim_end_matches('\n'),
            json["completion"].as_str().unwrap()
        );
    }
}

/// The CLI's scores equal the library's, and batching (with padding) changes nothing.
#[test]
fn logprobs_match_the_library_and_do_not_depend_on_batching() {
    let (root, gpt2, t5) = checkpoints();
    let lines = [
        ("the cat sat on", " the mat."),
        ("a dog", " and a cat met on a log"),
        ("", "the"),
        ("reinforcement finetuning", ""),
    ];
    let input = root.path().join("pairs.jsonl");
    let text: String = lines
        .iter()
        .map(|(p, c)| serde_json::json!({"prompt": p, "completion": c}).to_string() + "\n")
        .collect();
    std::fs::write(&input, text + "\n").unwrap();
    for dir in [&gpt2, &t5] {
        let run = |batch: &str| -> Vec<Value> {
            ok(&runner(&[
                "logprobs",
                "--checkpoint",
                dir.to_str().unwrap(),
                "--input",
                input.to_str().unwrap(),
                "--batch-size",
                batch,
            ]))
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
        };
        let (batched, single) = (run("4"), run("1"));
        assert_eq!(batched.len(), 4);
        for (a, b) in batched.iter().zip(&single) {
            assert_eq!(a["token_ids"], b["token_ids"]);
            let (x, y) = (floats(&a["logprobs"]), floats(&b["logprobs"]));
            assert!(
                x.iter().zip(&y).all(|(p, q)| (p - q).abs() < 1e-4),
                "{a} vs {b}"
            );
        }
        for (i, row) in batched.iter().enumerate() {
            assert_eq!(row["line"], i + 1);
            let lp = floats(&row["logprobs"]);
            assert!((lp.iter().sum::<f32>() - row["sum"].as_f64().unwrap() as f32).abs() < 1e-4);
        }
        // Against the library on line 1, encoded the same way.
        let device = Default::default();
        let expected: Vec<f32> = if dir == &gpt2 {
            let tok = Gpt2Tokenizer::from_tokenizer_json(dir.join("tokenizer.json")).unwrap();
            let model = GPT2LMHeadModel::<B>::load(dir, &device).unwrap();
            let (p, c) = (
                tok.encode(lines[0].0).unwrap(),
                tok.encode(lines[0].1).unwrap(),
            );
            let batch = CausalBatch::<B>::new(
                std::slice::from_ref(&p),
                std::slice::from_ref(&c),
                0,
                &device,
            );
            let s: Vec<f32> = score_completions(&model, &batch)
                .token_logprobs
                .into_data()
                .iter::<f32>()
                .collect();
            s[p.len() - 1..p.len() - 1 + c.len()].to_vec()
        } else {
            let tok = T5Tokenizer::from_spiece(dir.join("spiece.model")).unwrap();
            let model = T5ForConditionalGeneration::<B>::load(dir, &device).unwrap();
            let (p, c) = (
                tok.encode(lines[0].0, true).unwrap(),
                tok.encode(lines[0].1, true).unwrap(),
            );
            assert_eq!(
                *c.last().unwrap(),
                tok.eos_token_id(),
                "T5 targets end in </s>"
            );
            let batch = Seq2SeqBatch::<B>::new(&[p], &[c], 0, 0, &device);
            score_seq2seq(&model, &batch)
                .token_logprobs
                .into_data()
                .iter::<f32>()
                .collect()
        };
        let got = floats(&batched[0]["logprobs"]);
        assert_eq!(got.len(), expected.len());
        let worst = got
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        let scale = expected.iter().map(|x| x.abs()).fold(1.0f32, f32::max);
        assert!(
            worst <= 1e-5 * scale,
            "{}: max difference {worst} (log-probs up to {scale})",
            dir.display()
        );
        // An empty GPT-2 completion scores nothing; T5's still scores `</s>`.
        let empty = batched[3]["token_ids"].as_array().unwrap().len();
        assert_eq!(empty, if dir == &gpt2 { 0 } else { 1 });
    }
}

#[test]
fn bad_checkpoints_and_inputs_are_clear_errors() {
    let (root, gpt2, _t5) = checkpoints();
    let generate_hi = |dir: &Path| {
        runner(&[
            "generate",
            "--checkpoint",
            dir.to_str().unwrap(),
            "--prompt",
            "hi",
        ])
    };
    let missing = root.path().join("nope");
    assert!(err(&generate_hi(&missing)).contains("does not exist"));

    let broken = root.path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    let e = err(&generate_hi(&broken));
    assert!(e.contains("config.json"), "{e}");

    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(gpt2.join(f), broken.join(f)).unwrap();
    }
    std::fs::write(broken.join("model.safetensors"), b"not a safetensors file").unwrap();
    let e = err(&generate_hi(&broken));
    assert!(
        e.contains("model.safetensors") && e.contains("invalid safetensors"),
        "{e}"
    );

    let mut config: Value =
        serde_json::from_str(&std::fs::read_to_string(gpt2.join("config.json")).unwrap()).unwrap();
    config["n_layer"] = 3.into();
    std::fs::write(broken.join("config.json"), config.to_string()).unwrap();
    std::fs::copy(
        gpt2.join("model.safetensors"),
        broken.join("model.safetensors"),
    )
    .unwrap();
    let e = err(&generate_hi(&broken));
    assert!(
        e.contains("transformer.h.2") && e.contains("missing"),
        "{e}"
    );

    config["model_type"] = "llama".into();
    std::fs::write(broken.join("config.json"), config.to_string()).unwrap();
    assert!(err(&generate_hi(&broken)).contains("model_type `llama` is not supported"));

    std::fs::write(broken.join("config.json"), "{ not json").unwrap();
    assert!(err(&generate_hi(&broken)).contains("invalid JSON"));

    // A tokenizer from another model: ids beyond the model's vocabulary.
    let mut small = config.clone();
    small["model_type"] = "gpt2".into();
    small["vocab_size"] = 200.into();
    small["n_layer"] = 2.into();
    std::fs::write(broken.join("config.json"), small.to_string()).unwrap();
    let e = err(&runner(&[
        "generate",
        "--checkpoint",
        broken.to_str().unwrap(),
        "--prompt",
        "reinforcement finetuning",
    ]));
    assert!(e.contains("outside the model's vocab_size 200"), "{e}");

    std::fs::remove_file(broken.join("tokenizer.json")).unwrap();
    std::fs::copy(gpt2.join("config.json"), broken.join("config.json")).unwrap();
    assert!(err(&generate_hi(&broken)).contains("no tokenizer found"));

    let input = root.path().join("bad.jsonl");
    std::fs::write(
        &input,
        "{\"prompt\": \"a\", \"completion\": \"b\"}\n{\"prompt\": 3}\n",
    )
    .unwrap();
    let e = err(&runner(&[
        "logprobs",
        "--checkpoint",
        gpt2.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
    ]));
    assert!(e.contains("bad.jsonl:2"), "{e}");

    let e = err(&runner(&[
        "generate",
        "--checkpoint",
        gpt2.to_str().unwrap(),
        "--prompt",
        "hi",
        "--max-new-tokens",
        "100",
    ]));
    assert!(e.contains("n_positions 64"), "{e}");

    if !model::DeviceKind::Wgpu.is_compiled() {
        let e = err(&runner(&[
            "generate",
            "--checkpoint",
            gpt2.to_str().unwrap(),
            "--prompt",
            "hi",
            "--device",
            "wgpu",
        ]));
        assert!(e.contains("not compiled"), "{e}");
    }
}
