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

/// The rows of an RFC 4180 CSV (quoted fields may hold commas, doubled quotes and line breaks).
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (vec![], vec![], String::new());
    let (mut quoted, mut chars) = (false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}

/// A stand-in for `aclImdb_v1.tar.gz` holding the shared subsets' reviews as review files (in
/// reverse id order, so that ids must be sorted numerically), plus a review of a larger id per
/// class and files the builder must skip.
fn aclimdb_standin(shared: &Path) -> Vec<u8> {
    let mut files: Vec<(String, String)> = vec![
        (
            "aclImdb/README".into(),
            "Large Movie Review Dataset v1.0".into(),
        ),
        ("aclImdb/train/unsup/0_0.txt".into(), "unlabelled".into()),
        ("aclImdb/train/labeledBow.feat".into(), "9 0:9 1:1".into()),
    ];
    for split in ["train", "test"] {
        let text =
            std::fs::read_to_string(shared.join(format!("imdb/imdb_{split}_subset.csv"))).unwrap();
        let rows = csv_rows(&text);
        assert_eq!(rows[0], ["id", "rating", "label", "review"]);
        for r in rows[1..].iter().rev() {
            let pol = if r[2] == "1" { "pos" } else { "neg" };
            files.push((
                format!("aclImdb/{split}/{pol}/{}_{}.txt", r[0], r[1]),
                r[3].clone(),
            ));
        }
        for pol in ["pos", "neg"] {
            files.push((
                format!("aclImdb/{split}/{pol}/12499_7.txt"),
                "not kept".into(),
            ));
        }
    }
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (path, text) in &files {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, path, text.as_bytes()).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

#[test]
fn the_imdb_subsets_built_from_the_review_archive_equal_the_shared_csvs_byte_for_byte() {
    let Some(shared) = shared_data() else {
        eprintln!("SKIPPED: RFT_DATA_DIR is not set to the shared data folder");
        return;
    };
    let archive = aclimdb_standin(&shared);
    let real = registry::dataset("imdb").unwrap();
    let [download] = real.downloads else {
        panic!("imdb has one download")
    };
    // The registry's dataset with the stand-in archive's hash: the build, the checks of the built
    // files (the registry's sha256 of the shared CSVs) and the install are the real ones.
    let sha = fetch::hex(&<sha2::Sha256 as sha2::Digest>::digest(&archive));
    let downloads: &'static [registry::Download] = Box::leak(Box::new([registry::Download {
        sha256: Some(Box::leak(sha.into_boxed_str())),
        ..*download
    }]));
    let standin: &'static registry::Dataset =
        Box::leak(Box::new(registry::Dataset { downloads, ..*real }));
    let path = download.url.split_once("://").unwrap().1;
    let routes = HashMap::from([(format!("/{path}"), Route::file(archive))]);
    let server = Server::start(routes, Duration::from_secs(60)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let report = acquire::fetch(
        &[standin],
        &Options {
            data_dir: dir.path().to_path_buf(),
            base_url: Some(server.url()),
            ..Options::default()
        },
    );
    assert_eq!(report.rows[0].1, Outcome::Fetched, "{report}");
    for split in ["train", "test"] {
        let rel = format!("imdb/imdb_{split}_subset.csv");
        assert!(
            std::fs::read(dir.path().join(&rel)).unwrap()
                == std::fs::read(shared.join(&rel)).unwrap(),
            "{rel} differs from the shared copy"
        );
    }
    assert!(acquire::state(real, dir.path()).is_present());
    // The archive is gone once built; nothing else was left in the data directory.
    assert!(!dir.path().join(".downloads").exists());
    let mut left: Vec<String> = walk(dir.path());
    left.sort();
    assert_eq!(
        left,
        ["imdb/imdb_test_subset.csv", "imdb/imdb_train_subset.csv"]
    );
}

/// Files under `dir`, relative to it.
fn walk(dir: &Path) -> Vec<String> {
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            for f in walk(&p) {
                out.push(format!("{}/{f}", p.file_name().unwrap().to_string_lossy()));
            }
        } else {
            out.push(p.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    out
}
