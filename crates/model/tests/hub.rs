//! Hub ids resolved against a local stand-in for the Hugging Face hub ([`model::hub_server`], on
//! 127.0.0.1): download into the hub cache layout, cache reuse without requests, offline mode,
//! unknown ids and files, a transfer cut in the middle, and a `pytorch_model.bin`-only repository.
//! The settings come from Hugging Face's variables (`HF_ENDPOINT`, `HF_HUB_CACHE`,
//! `HF_HUB_OFFLINE`, ...) through a map, so that tests running in parallel share no process
//! environment; `crates/runner/tests/hub.rs` sets the real variables on a `runner` process.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::backend::Flex;
use burn::tensor::{Int, Tensor};
use model::hub::{HubConfig, HubError};
use model::hub_server::FakeHub;
use model::{DistilBertForSequenceClassification, GPT2LMHeadModel};

type B = Flex;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Settings from Hugging Face's variables: the hub at `endpoint`, the cache in `cache`.
fn config(endpoint: &str, cache: &Path, offline: bool) -> HubConfig {
    let vars: HashMap<&str, String> = HashMap::from([
        ("HF_ENDPOINT", endpoint.to_string()),
        ("HF_HUB_CACHE", cache.display().to_string()),
        (
            "HF_HUB_OFFLINE",
            if offline { "1" } else { "0" }.to_string(),
        ),
        ("HF_HUB_DISABLE_PROGRESS_BARS", "1".to_string()),
    ]);
    HubConfig {
        retries: 0,
        ..HubConfig::from_lookup(|k| vars.get(k).cloned())
    }
}

fn serve(repos: &[(&str, &str)]) -> FakeHub {
    FakeHub::serve(
        repos
            .iter()
            .map(|(id, dir)| (id.to_string(), fixtures().join(dir)))
            .collect(),
    )
    .unwrap()
}

fn gpt2_logits(dir: &Path) -> Vec<f32> {
    let device = Default::default();
    let model = GPT2LMHeadModel::<B>::load(dir, &device).unwrap();
    let ids = Tensor::<B, 2, Int>::from_data([[1, 2, 3, 4]], &device);
    let mask = Tensor::<B, 2, Int>::ones([1, 4], &device);
    model
        .forward(ids, mask, None, None)
        .into_data()
        .iter()
        .collect()
}

#[test]
fn a_hub_id_is_downloaded_into_the_hugging_face_cache_layout_and_loads() {
    let hub = serve(&[("org/tiny-gpt2", "gpt2-tiny")]);
    let cache = tempfile::tempdir().unwrap();
    let hf = config(&hub.endpoint(), cache.path(), false);
    let dir = hf.resolve("org/tiny-gpt2").unwrap();

    let repo = cache.path().join("models--org--tiny-gpt2");
    let commit = std::fs::read_to_string(repo.join("refs/main")).unwrap();
    assert_eq!(dir, repo.join("snapshots").join(&commit));
    for file in ["config.json", "model.safetensors", "generation_config.json"] {
        let link = std::fs::read_link(dir.join(file)).unwrap();
        assert!(link.starts_with("../../blobs"), "{file} -> {link:?}");
        assert_eq!(
            std::fs::read(dir.join(file)).unwrap(),
            std::fs::read(fixtures().join("gpt2-tiny").join(file)).unwrap()
        );
    }
    // What the hub lacks is recorded as huggingface_hub records it; the .bin is never asked for
    // once model.safetensors is there.
    assert!(
        repo.join(".no_exist")
            .join(&commit)
            .join("tokenizer.json")
            .exists()
    );
    assert!(
        !hub.requests()
            .iter()
            .any(|r| r.contains("pytorch_model.bin"))
    );
    assert_eq!(
        gpt2_logits(&dir),
        gpt2_logits(&fixtures().join("gpt2-tiny"))
    );
}

#[test]
fn a_cached_hub_id_resolves_without_requests_and_offline() {
    let hub = serve(&[("org/tiny-gpt2", "gpt2-tiny")]);
    let cache = tempfile::tempdir().unwrap();
    let first = config(&hub.endpoint(), cache.path(), false)
        .resolve("org/tiny-gpt2@v1")
        .unwrap();
    let requests = hub.requests().len();
    assert!(requests > 0);
    let again = config(&hub.endpoint(), cache.path(), false)
        .resolve("org/tiny-gpt2@v1")
        .unwrap();
    assert_eq!(first, again);
    assert_eq!(hub.requests().len(), requests, "the cache is reused");
    assert!(
        cache
            .path()
            .join("models--org--tiny-gpt2/refs/v1")
            .is_file()
    );
    // Offline, with the hub gone: the cache alone answers.
    drop(hub);
    let offline = config("http://127.0.0.1:9", cache.path(), true)
        .resolve("org/tiny-gpt2@v1")
        .unwrap();
    assert_eq!(offline, first);
}

#[test]
fn offline_and_not_cached_is_an_error_that_names_the_id_and_the_fix() {
    let hub = serve(&[("org/tiny-gpt2", "gpt2-tiny")]);
    let cache = tempfile::tempdir().unwrap();
    let err = config(&hub.endpoint(), cache.path(), true)
        .resolve("org/tiny-gpt2")
        .unwrap_err();
    assert!(matches!(err, HubError::OfflineNotCached { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("`org/tiny-gpt2`") && msg.contains("HF_HUB_OFFLINE"),
        "{msg}"
    );
    assert!(hub.requests().is_empty(), "offline mode sends nothing");
}

#[test]
fn an_unknown_id_or_a_missing_file_is_an_error_that_names_the_id() {
    let readme_only = tempfile::tempdir().unwrap();
    std::fs::write(readme_only.path().join("README.md"), "no model here\n").unwrap();
    let hub = FakeHub::serve(vec![
        ("org/tiny-gpt2".into(), fixtures().join("gpt2-tiny")),
        ("org/no-config".into(), readme_only.path().into()),
    ])
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let hf = config(&hub.endpoint(), cache.path(), false);
    // The hub answers 401 for a repository it does not know (or may not show).
    let msg = hf.resolve("org/nope").unwrap_err().to_string();
    assert!(msg.contains("`org/nope`") && msg.contains("401"), "{msg}");
    // A known repository without config.json: 404, naming the id, the file and the URL.
    let err = hf.resolve("org/no-config").unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, HubError::NotFound { .. }), "{msg}");
    assert!(
        msg.contains("`org/no-config`")
            && msg.contains("config.json")
            && msg.contains("/org/no-config/resolve/main/config.json"),
        "{msg}"
    );
}

#[test]
fn a_repository_without_weights_is_an_error_that_names_the_id() {
    let weightless = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixtures().join("gpt2-tiny/config.json"),
        weightless.path().join("config.json"),
    )
    .unwrap();
    let hub = FakeHub::serve(vec![("org/empty".into(), weightless.path().into())]).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let msg = config(&hub.endpoint(), cache.path(), false)
        .resolve("org/empty")
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("`org/empty`")
            && msg.contains("neither model.safetensors nor pytorch_model.bin"),
        "{msg}"
    );
}

#[test]
fn a_transfer_cut_in_the_middle_leaves_no_corrupt_file_and_resumes() {
    let hub = serve(&[("org/tiny-gpt2", "gpt2-tiny")]);
    let cache = tempfile::tempdir().unwrap();
    let hf = config(&hub.endpoint(), cache.path(), false);
    let cut = 50_000;
    hub.cut_next_transfer("model.safetensors", cut);
    let err = hf.resolve("org/tiny-gpt2").unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, HubError::Download { .. }), "{msg}");
    assert!(
        msg.contains("`org/tiny-gpt2`")
            && msg.contains("model.safetensors")
            && msg.contains("again"),
        "{msg}"
    );
    // Nothing under the real names: only the partial blob beside them.
    let repo = cache.path().join("models--org--tiny-gpt2");
    let commit = std::fs::read_to_string(repo.join("refs/main")).unwrap();
    assert!(
        !repo
            .join("snapshots")
            .join(&commit)
            .join("model.safetensors")
            .exists()
    );
    let blobs: Vec<(String, u64)> = std::fs::read_dir(repo.join("blobs"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().len(),
            )
        })
        .collect();
    assert!(
        blobs
            .iter()
            .any(|(name, len)| name.ends_with(".part") && *len == cut as u64),
        "{blobs:?}"
    );

    // The next run asks only for the rest and ends with the right bytes.
    let dir = hf.resolve("org/tiny-gpt2").unwrap();
    let resumed = format!("Range: bytes={cut}-");
    assert!(
        hub.requests()
            .iter()
            .any(|r| r.contains("model.safetensors") && r.ends_with(&resumed)),
        "{:?}",
        hub.requests()
    );
    assert_eq!(
        std::fs::read(dir.join("model.safetensors")).unwrap(),
        std::fs::read(fixtures().join("gpt2-tiny/model.safetensors")).unwrap()
    );
    assert!(
        !std::fs::read_dir(repo.join("blobs")).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".part"))
    );
}

#[test]
fn a_repository_with_only_pytorch_model_bin_is_downloaded_and_loads() {
    let hub = serve(&[("lvwerra/distilbert-tiny", "distilbert-tiny-bin")]);
    let cache = tempfile::tempdir().unwrap();
    let dir = config(&hub.endpoint(), cache.path(), false)
        .resolve("lvwerra/distilbert-tiny")
        .unwrap();
    assert!(dir.join("pytorch_model.bin").is_file());
    let commit = dir.file_name().unwrap();
    let no_exist = cache
        .path()
        .join("models--lvwerra--distilbert-tiny/.no_exist")
        .join(commit);
    assert!(no_exist.join("model.safetensors").exists());
    let device = Default::default();
    let from_hub = DistilBertForSequenceClassification::<B>::load(&dir, &device).unwrap();
    let local =
        DistilBertForSequenceClassification::<B>::load(fixtures().join("distilbert-tiny"), &device)
            .unwrap();
    let ids = Tensor::<B, 2, Int>::from_data([[2, 10, 20, 3]], &device);
    let mask = Tensor::<B, 2>::ones([1, 4], &device);
    let a: Vec<f32> = from_hub
        .forward(ids.clone(), mask.clone())
        .into_data()
        .iter()
        .collect();
    let b: Vec<f32> = local.forward(ids, mask).into_data().iter().collect();
    assert_eq!(a, b);
}
