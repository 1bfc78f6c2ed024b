//! `runner` with hub ids, against a local stand-in for the Hugging Face hub on 127.0.0.1
//! ([`model::hub_server::FakeHub`]), configured the way a user configures `transformers`: the
//! process environment (`HF_ENDPOINT`, `HF_HOME`, `HF_HUB_OFFLINE`) of a `runner` child process.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use burn::backend::Flex;
use model::hub_server::FakeHub;
use model::{GPT2Config, GPT2LMHeadModel, Gpt2Tokenizer};

type B = Flex;

/// `runner args` with the hub at `endpoint` and the Hugging Face home `hf_home`.
fn runner(args: &[&str], endpoint: &str, hf_home: &Path, offline: bool) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_runner"));
    cmd.args(args)
        .env("HF_ENDPOINT", endpoint)
        .env("HF_HOME", hf_home)
        .env("HF_HUB_OFFLINE", if offline { "1" } else { "0" })
        .env("HF_HUB_DISABLE_PROGRESS_BARS", "1");
    // The local hub must be reached directly.
    for proxy in [
        "ALL_PROXY",
        "all_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "HF_HUB_CACHE",
        "HUGGINGFACE_HUB_CACHE",
        "TRANSFORMERS_CACHE",
        "HF_TOKEN",
    ] {
        cmd.env_remove(proxy);
    }
    cmd.output().expect("runner starts")
}

fn ok(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "runner failed: {stderr}");
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn model_fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../model/tests/fixtures")
}

/// A 2-layer GPT-2 with a byte-level BPE trained on a few sentences.
fn gpt2_checkpoint(dir: &Path) {
    let corpus = "the cat sat on the mat. the dog sat on the log. a cat and a dog met.";
    let tok = Gpt2Tokenizer::train(std::iter::repeat_n(corpus, 20), 300, 2).unwrap();
    tok.save(dir.join("tokenizer.json")).unwrap();
    let config = GPT2Config {
        vocab_size: tok.vocab_size(),
        n_positions: 64,
        n_embd: 16,
        n_layer: 2,
        n_head: 2,
        bos_token_id: Some(tok.eos_token_id()),
        eos_token_id: Some(tok.eos_token_id()),
        ..Default::default()
    };
    GPT2LMHeadModel::<B>::init(config, 5, &Default::default())
        .unwrap()
        .save(dir)
        .unwrap();
}

#[test]
fn logprobs_of_a_hub_id_equal_those_of_its_directory_online_and_then_offline() {
    let checkpoint = tempfile::tempdir().unwrap();
    gpt2_checkpoint(checkpoint.path());
    let input = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        input.path(),
        "{\"prompt\": \"the cat\", \"completion\": \" sat on the mat\"}\n",
    )
    .unwrap();
    let input = input.path().to_str().unwrap();
    let hf_home = tempfile::tempdir().unwrap();
    let local = ok(&runner(
        &[
            "logprobs",
            "--checkpoint",
            checkpoint.path().to_str().unwrap(),
            "--input",
            input,
        ],
        "http://127.0.0.1:9",
        hf_home.path(),
        true,
    ));

    let hub = FakeHub::serve(vec![("org/tiny-gpt2".into(), checkpoint.path().into())]).unwrap();
    let args = [
        "logprobs",
        "--checkpoint",
        "org/tiny-gpt2",
        "--input",
        input,
    ];
    let online = ok(&runner(&args, &hub.endpoint(), hf_home.path(), false));
    assert_eq!(online, local);
    assert!(
        hf_home
            .path()
            .join("hub/models--org--tiny-gpt2/refs/main")
            .is_file()
    );
    drop(hub);
    let offline = ok(&runner(&args, "http://127.0.0.1:9", hf_home.path(), true));
    assert_eq!(offline, local);

    // Not cached, offline: one clear line naming the id and the fix.
    let other = ["logprobs", "--checkpoint", "org/other", "--input", input];
    let out = runner(&other, "http://127.0.0.1:9", hf_home.path(), true);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`org/other`")
            && stderr.contains("HF_HUB_OFFLINE")
            && !stderr.contains("panicked"),
        "{stderr}"
    );
}

/// `runner score --metric learned_reward` with the classifier from the hub equals RL4LMs'
/// `LearnedBatchedRewardFunction` run with `transformers` on the same model.
#[test]
fn learned_reward_from_a_hub_classifier_matches_rl4lms() {
    let hub = FakeHub::serve(vec![(
        "lvwerra/distilbert-tiny".into(),
        model_fixtures().join("distilbert-tiny"),
    )])
    .unwrap();
    let text =
        std::fs::read_to_string(model_fixtures().join("distilbert-tiny-reward.json")).unwrap();
    let fixture: serde_json::Value = serde_json::from_str(&text).unwrap();
    let prompts = fixture["prompts"].as_array().unwrap();
    let generations = fixture["generations"].as_array().unwrap();
    let input = tempfile::NamedTempFile::new().unwrap();
    let lines: Vec<String> = prompts
        .iter()
        .zip(generations)
        .map(|(p, g)| serde_json::json!({"prediction": g, "prompt": p}).to_string())
        .collect();
    std::fs::write(input.path(), lines.join("\n") + "\n").unwrap();
    let hf_home = tempfile::tempdir().unwrap();
    let case = fixture["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["label_ix"] == 1 && c["include_prompt_for_eval"] == true)
        .unwrap();
    let out = ok(&runner(
        &[
            "score",
            "--metric",
            "learned_reward",
            "--args",
            "{model_name: lvwerra/distilbert-tiny, label_ix: 1, batch_size: 2}",
            "--input",
            input.path().to_str().unwrap(),
        ],
        &hub.endpoint(),
        hf_home.path(),
        false,
    ));
    let scores: Vec<f64> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["score"]
                .as_f64()
                .unwrap()
        })
        .collect();
    let expected: Vec<f64> = case["rewards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_f64().unwrap())
        .collect();
    assert_eq!(scores.len(), expected.len());
    let diff = scores
        .iter()
        .zip(&expected)
        .fold(0f64, |m, (a, b)| m.max((a - b).abs()));
    println!("runner score learned_reward: max |diff| vs RL4LMs = {diff:e}");
    assert!(diff <= 1e-4, "{scores:?} vs {expected:?}");
}
