//! `runner data fetch` / `status` / `check` through the real registry, against a server on
//! 127.0.0.1: a mirror of the shared data folder (real bytes; SKIPPED without `RFT_DATA_DIR`),
//! upstream URLs redirected with a base URL, a wrong file, and no network.

use data::acquire::{self, Options, Outcome, State};
use data::registry;
use data::{Verify, cifar10, mnist};
use fetch::testing::{Route, Server};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The shared data folder, or `None` (the caller prints SKIPPED).
fn shared_data() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("RFT_DATA_DIR")?);
    let dir = if dir.is_relative() {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(dir)
    } else {
        dir
    };
    dir.join("MANIFEST.md").is_file().then_some(dir)
}

fn datasets(ids: &[&str]) -> Vec<&'static registry::Dataset> {
    ids.iter()
        .map(|id| registry::dataset(id).unwrap())
        .collect()
}

/// Serve the files of `ids` (the first candidate of every need) from `shared` under their paths.
fn mirror_of(shared: &Path, ids: &[&str]) -> Server {
    let mut routes = HashMap::new();
    for ds in datasets(ids) {
        for need in ds.needs {
            let rel = need.any_of[0].path;
            if let Ok(bytes) = std::fs::read(shared.join(rel)) {
                routes.insert(format!("/{rel}"), Route::file(bytes));
            }
        }
    }
    Server::start(routes, Duration::from_secs(120)).unwrap()
}

#[test]
fn a_mirror_of_the_shared_folder_fills_an_empty_data_dir_that_the_loaders_then_accept() {
    let Some(shared) = shared_data() else {
        eprintln!("SKIPPED: RFT_DATA_DIR is not set to the shared data folder");
        return;
    };
    let ids = ["mnist", "cifar10", "glue-stsb", "bert-vocab"];
    let server = mirror_of(&shared, &ids);
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        data_dir: dir.path().to_path_buf(),
        mirror: Some(server.url()),
        ..Options::default()
    };
    let report = acquire::fetch(&datasets(&ids), &opts);
    for (ds, outcome) in &report.rows {
        assert_eq!(outcome, &Outcome::Fetched, "{}: {report}", ds.id);
    }
    assert!(!dir.path().join(".downloads").exists());
    let train = mnist::load(dir.path(), mnist::Split::Train, Verify::Manifest).unwrap();
    assert_eq!(train.len(), 60_000);
    let c = cifar10::load(dir.path(), cifar10::Split::Train, Verify::Manifest).unwrap();
    assert_eq!(c.len(), 4000);
    assert!(acquire::check(&["controlled".into()], dir.path()).is_ok());
    // A second run finds everything in place and transfers nothing.
    let before = server.seen().len();
    let again = acquire::fetch(&datasets(&ids), &opts);
    assert!(
        again
            .rows
            .iter()
            .all(|(_, o)| *o == Outcome::AlreadyPresent)
    );
    assert_eq!(server.seen().len(), before);
}

#[test]
fn upstream_urls_behind_a_base_url_give_verified_files() {
    let Some(shared) = shared_data() else {
        eprintln!("SKIPPED: RFT_DATA_DIR is not set to the shared data folder");
        return;
    };
    // These upstream files are byte-identical to the shared copies, so the real registry's
    // hashes apply: serve them at /HOST/PATH of their registered URLs.
    let ids = ["bert-vocab", "gpt2-tokenizer", "t5-tokenizer"];
    let mut routes = HashMap::new();
    for ds in datasets(&ids) {
        for dl in ds.downloads {
            let registry::Unpack::Keep(rel) = dl.unpack else {
                unreachable!()
            };
            let path = dl.url.split_once("://").unwrap().1;
            routes.insert(
                format!("/{path}"),
                Route::file(std::fs::read(shared.join(rel)).unwrap()),
            );
        }
    }
    let server = Server::start(routes, Duration::from_secs(60)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        data_dir: dir.path().to_path_buf(),
        base_url: Some(server.url()),
        ..Options::default()
    };
    let report = acquire::fetch(&datasets(&ids), &opts);
    assert!(
        report.rows.iter().all(|(_, o)| *o == Outcome::Fetched),
        "{report}"
    );
    for ds in datasets(&ids) {
        assert!(acquire::state(ds, dir.path()).is_present(), "{}", ds.id);
    }
    assert!(
        server
            .seen()
            .iter()
            .any(|s| s.path
                == "/huggingface.co/google-bert/bert-base-uncased/resolve/main/vocab.txt")
    );
}

#[test]
fn a_wrong_upstream_file_fails_with_both_hashes_and_installs_nothing() {
    let url = registry::dataset("bert-vocab").unwrap().downloads[0].url;
    let path = url.split_once("://").unwrap().1;
    // The right size (231,508 bytes), the wrong content.
    let routes = HashMap::from([(format!("/{path}"), Route::file(vec![b'x'; 231_508]))]);
    let server = Server::start(routes, Duration::from_secs(60)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let report = acquire::fetch(
        &datasets(&["bert-vocab"]),
        &Options {
            data_dir: dir.path().to_path_buf(),
            base_url: Some(server.url()),
            ..Options::default()
        },
    );
    let Outcome::Failed(why) = &report.rows[0].1 else {
        panic!("{report}")
    };
    assert!(
        why.contains("07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"),
        "{why}"
    );
    assert!(why.contains("nothing was written"), "{why}");
    assert_eq!(report.failed(), vec!["bert-vocab"]);
    assert!(!dir.path().join("bert-vocab").exists());
    assert!(!dir.path().join(".downloads").exists());
}

#[test]
fn without_network_every_dataset_is_reported_offline_and_the_check_names_the_fix() {
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let targets = acquire::resolve(&["controlled".into()]).unwrap();
    let report = acquire::fetch(
        &targets,
        &Options {
            data_dir: dir.path().to_path_buf(),
            base_url: Some(format!("http://127.0.0.1:{port}")),
            ..Options::default()
        },
    );
    assert_eq!(
        report.offline(),
        vec!["mnist", "cifar10", "glue-stsb", "bert-vocab"]
    );
    assert!(report.to_string().contains("no network"), "{report}");
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
    let line = acquire::check(&["controlled".into()], dir.path()).unwrap_err();
    assert!(!line.contains('\n'), "{line}");
    assert!(line.contains("MNIST (missing)"), "{line}");
    assert!(
        line.contains("runner data fetch mnist cifar10 glue-stsb bert-vocab"),
        "{line}"
    );
    assert!(acquire::check(&["theory".into()], dir.path()).is_ok());
}

#[test]
fn status_lists_per_experiment_what_is_present_missing_or_corrupt_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("bert-vocab")).unwrap();
    std::fs::write(
        dir.path().join("bert-vocab/vocab.txt"),
        b"not the vocabulary",
    )
    .unwrap();
    let text = acquire::status(
        dir.path(),
        &registry::EXPERIMENTS.iter().collect::<Vec<_>>(),
    );
    assert!(
        text.contains("theory (Theorems 1 and 2)\n  needs no data"),
        "{text}"
    );
    assert!(
        text.contains("bert-vocab       CORRUPT: bert-vocab/vocab.txt: sha256"),
        "{text}"
    );
    assert!(
        text.contains("mnist            missing: train images"),
        "{text}"
    );
    assert!(text.contains("fix: `runner data fetch mnist`"), "{text}");
    assert!(matches!(
        acquire::state(registry::dataset("bert-vocab").unwrap(), dir.path()),
        State::Corrupt { .. }
    ));
}

#[test]
fn an_unknown_target_lists_the_known_ones() {
    let err = acquire::resolve(&["controled".into()]).unwrap_err();
    assert!(
        err.contains("\"controled\"") && err.contains("controlled") && err.contains("mnist"),
        "{err}"
    );
}

#[test]
fn canonical_forms_of_the_shared_files_are_accepted_by_content() {
    let Some(shared) = shared_data() else {
        eprintln!("SKIPPED: RFT_DATA_DIR is not set to the shared data folder");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // MNIST re-compressed differently: same content, other bytes.
    std::fs::create_dir_all(dir.path().join("mnist")).unwrap();
    for name in ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"] {
        let raw = {
            use std::io::Read;
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(
                &std::fs::read(shared.join("mnist").join(name)).unwrap()[..],
            )
            .read_to_end(&mut out)
            .unwrap();
            out
        };
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(1));
        std::io::Write::write_all(&mut e, &raw).unwrap();
        std::fs::write(dir.path().join("mnist").join(name), e.finish().unwrap()).unwrap();
    }
    let test = mnist::load(dir.path(), mnist::Split::Test, Verify::Manifest).unwrap();
    let reference = mnist::load(&shared, mnist::Split::Test, Verify::Manifest).unwrap();
    assert_eq!(test, reference);
    // CIFAR-10 under the canonical name, longer than the subset: its first 1,000 records are used.
    std::fs::create_dir_all(dir.path().join("cifar10")).unwrap();
    let mut batch = std::fs::read(shared.join(cifar10::TEST_FILE)).unwrap();
    batch.extend(std::iter::repeat_n(0u8, 5 * cifar10::RECORD));
    std::fs::write(dir.path().join(cifar10::CANONICAL_TEST_FILE), &batch).unwrap();
    let c = cifar10::load(dir.path(), cifar10::Split::Test, Verify::Manifest).unwrap();
    assert_eq!(
        c,
        cifar10::load(&shared, cifar10::Split::Test, Verify::Manifest).unwrap()
    );
    // A canonical batch whose first records differ is refused.
    batch[1] ^= 1;
    std::fs::write(dir.path().join(cifar10::CANONICAL_TEST_FILE), &batch).unwrap();
    let err = cifar10::load(dir.path(), cifar10::Split::Test, Verify::Manifest).unwrap_err();
    assert!(err.to_string().contains("first 3073000 bytes"), "{err}");
}
