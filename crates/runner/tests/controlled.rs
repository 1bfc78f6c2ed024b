//! The `controlled` experiment end to end: the smoke profile of `experiments/controlled.yaml` on
//! tiny fixture files written here in the real formats (MNIST IDX gzip, CIFAR-10 binary, GLUE
//! STS-B TSV, a WordPiece vocabulary), with checksum verification off since they are not the
//! manifest's files; then the errors a user meets (missing data, wrong files, a damaged cache).

use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn runner() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_runner"));
    c.env_remove("RFT_DATA_DIR");
    c
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn idx(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = magic.to_be_bytes().to_vec();
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

/// A deterministic byte pattern per (class, example, position).
fn pixel(class: usize, example: usize, p: usize) -> u8 {
    ((class * 37 + p * (class + 3) + example * 11) % 256) as u8
}

/// MNIST (6 train / 3 test images per class), CIFAR-10 (5 / 3 per class), STS-B (7 / 3 pairs per
/// rounded score) and a vocabulary covering the sentences.
fn write_fixture_data(dir: &Path) {
    std::fs::create_dir_all(dir.join("mnist")).unwrap();
    for (prefix, per_class) in [("train", 6), ("t10k", 3)] {
        let (mut pixels, mut labels) = (vec![], vec![]);
        for e in 0..per_class {
            for c in 0..10 {
                labels.push(c as u8);
                pixels.extend((0..784).map(|p| pixel(c, e, p)));
            }
        }
        let n = labels.len() as u32;
        std::fs::write(
            dir.join(format!("mnist/{prefix}-images-idx3-ubyte.gz")),
            gz(&idx(2051, &[n, 28, 28], &pixels)),
        )
        .unwrap();
        std::fs::write(
            dir.join(format!("mnist/{prefix}-labels-idx1-ubyte.gz")),
            gz(&idx(2049, &[n], &labels)),
        )
        .unwrap();
    }
    std::fs::create_dir_all(dir.join("cifar10")).unwrap();
    for (file, per_class) in [
        ("data_batch_1_first4000.bin", 5),
        ("test_batch_first1000.bin", 3),
    ] {
        let mut bytes = vec![];
        for e in 0..per_class {
            for c in 0..10 {
                bytes.push(c as u8);
                bytes.extend((0..3072).map(|p| pixel(c, e, p)));
            }
        }
        std::fs::write(dir.join("cifar10").join(file), bytes).unwrap();
    }
    std::fs::create_dir_all(dir.join("glue-stsb")).unwrap();
    let words = [
        "a", "man", "woman", "is", "playing", "the", "guitar", "piano", "dog", "runs", "cat",
        "sleeps", "on", "grass", "sofa", "quickly", "slowly",
    ];
    for (file, per_score) in [("train.tsv", 7), ("dev.tsv", 3)] {
        let mut tsv = String::from(
            "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n",
        );
        let mut row = 0;
        for e in 0..per_score {
            for score in 0..6 {
                let s1: Vec<&str> = (0..4 + e % 3)
                    .map(|k| words[(score + e + k) % words.len()])
                    .collect();
                let s2: Vec<&str> = (0..3 + score % 4)
                    .map(|k| words[(2 * score + k * 3 + e) % words.len()])
                    .collect();
                // A score that rounds to `score`, within [0, 5].
                let value = (score as f64 + [0.0, 0.2, -0.2, 0.4][e % 4]).clamp(0.0, 5.0);
                tsv.push_str(&format!(
                    "{row}\tmain-captions\tMSRvid\t2012test\t{row:04}\tnone\tnone\t{}.\t{}.\t{value:.3}\n",
                    s1.join(" "),
                    s2.join(" "),
                ));
                row += 1;
            }
        }
        std::fs::write(dir.join("glue-stsb").join(file), tsv).unwrap();
    }
    std::fs::create_dir_all(dir.join("bert-vocab")).unwrap();
    let mut vocab: Vec<&str> = vec!["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "."];
    vocab.extend(words);
    std::fs::write(dir.join("bert-vocab/vocab.txt"), vocab.join("\n") + "\n").unwrap();
}

/// `experiments/controlled.yaml` with checksum verification off (the fixtures are not the
/// manifest's files).
fn sweep_file(dir: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let yaml = std::fs::read_to_string(root.join("experiments/controlled.yaml")).unwrap();
    assert!(yaml.contains("verify_checksums: true"));
    let path = dir.join("controlled.yaml");
    std::fs::write(
        &path,
        yaml.replace("verify_checksums: true", "verify_checksums: false"),
    )
    .unwrap();
    path
}

fn sweep(file: &Path, dir: &Path, data: &Path) -> Output {
    runner()
        .args([
            "sweep",
            file.to_str().unwrap(),
            "--profile",
            "smoke",
            "--out",
            dir.join("runs").to_str().unwrap(),
            "--results",
            dir.join("results").to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
        ])
        .output()
        .expect("runner starts")
}

/// Rows of a gathered CSV as header -> value maps.
fn csv_rows(path: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    lines
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(String::from))
                .collect()
        })
        .collect()
}

mod common;

#[test]
fn the_controlled_sweep_gives_identical_tables_whatever_jobs_and_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_fixture_data(&data);
    let file = sweep_file(tmp.path());
    let configs = [(1, 1), (2, 2)];
    let mut tables = Vec::new();
    for (i, &(jobs, threads)) in configs.iter().enumerate() {
        let out = tmp.path().join(format!("run{i}"));
        common::sweep(&file, &out, Some(&data), jobs, threads);
        tables.push(common::result_tables(&out.join("runs/controlled/smoke")));
    }
    common::assert_identical(
        &tables[0],
        &tables[1],
        "--jobs 2 with 2 threads vs --jobs 1 with 1 thread",
    );
}

#[test]
fn smoke_profile_runs_every_setting_end_to_end_on_fixture_files() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_fixture_data(&data);
    let file = sweep_file(tmp.path());
    let out = sweep(&file, tmp.path(), &data);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("9 runs in the sweep"), "{log}");

    let results = tmp.path().join("results/controlled-smoke");
    for f in [
        "controlled_curves.png",
        "controlled_curves.svg",
        "controlled_variants.png",
        "controlled_summary.md",
        "controlled_summary.tex",
        "controlled_finding.md",
        "data/mlp_mnist.curves.parquet",
        "data/bert_mini_stsb.summary.parquet",
    ] {
        assert!(results.join(f).is_file(), "missing {f}: {log}");
    }
    let table = std::fs::read_to_string(results.join("controlled_summary.md")).unwrap();
    for s in [
        "MLP on MNIST",
        "ResNet18 on CIFAR-10",
        "BERT-mini on STS-B",
        "RFT",
        "SFT",
    ] {
        assert!(table.contains(s), "{s} not in the table:\n{table}");
    }
    // The smoke profile cuts everything; the caption says so.
    assert!(
        table.contains("finetuning 4 epochs instead of 5,000"),
        "{table}"
    );

    let store = tmp.path().join("runs/controlled/smoke");
    let mut trained = std::collections::BTreeMap::<String, usize>::new();
    for sweep in [
        "mlp_mnist",
        "mlp_mnist_sgd",
        "mlp_mnist_high_reward",
        "resnet18_cifar10",
        "bert_mini_stsb",
    ] {
        let timing = csv_rows(&store.join(format!("{sweep}.timing.csv")));
        let summary = csv_rows(&store.join(format!("{sweep}.summary.csv")));
        assert_eq!(timing.len(), summary.len());
        for (row, timing) in summary.iter().zip(&timing) {
            assert_eq!(row["run_id"], timing["run_id"]);
            // 10% of the train inputs are modified: 4 of 40 (MNIST), 4 of 40, 3 of 30 (STS-B).
            let want = if row["setting"] == "bert_mini_stsb" {
                "3"
            } else {
                "4"
            };
            assert_eq!(row["num_modified"], want, "{row:?}");
            // Modified labels are outside the set: the pretrained model gives them a small
            // reward std compared with the other inputs, whose label is in the set.
            let (m, u): (f64, f64) = (
                row["init_reward_std_modified"].parse().unwrap(),
                row["init_reward_std_unmodified"].parse().unwrap(),
            );
            assert!(
                m.is_finite() && u.is_finite() && m >= 0.0 && u > 0.0,
                "{row:?}"
            );
            if timing["pretrain_cached"] == "false" {
                *trained.entry(row["setting"].clone()).or_default() += 1;
            }
        }
    }
    // Pretraining ran once per setting and seed; every other run of that seed loaded it.
    assert_eq!(
        trained,
        [
            ("bert_mini_stsb", 1),
            ("mlp_mnist", 1),
            ("resnet18_cifar10", 1)
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    );
    let curves = csv_rows(&store.join("mlp_mnist.curves.csv"));
    let finetune: Vec<_> = curves.iter().filter(|r| r["phase"] == "finetune").collect();
    // Metrics at epochs 0..=4 for both groups, for RFT and SFT; gradient norms (every 2 epochs in
    // the smoke profile, and at the first and last) at epochs 0, 1, 2 and 4.
    assert_eq!(finetune.len(), 5 * 2 * 2, "{finetune:?}");
    for r in &finetune {
        let norm: f64 = r["grad_norm"].parse().unwrap();
        let measured = r["epoch"] != "3";
        assert_eq!(norm.is_finite(), measured, "{r:?}");
        assert!(
            r["train_accuracy"].parse::<f64>().unwrap().is_finite(),
            "{r:?}"
        );
    }

    // Running again finds everything finished.
    let out = sweep(&file, tmp.path(), &data);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("9 already finished, 0 to run"),
        "{}",
        text(&out)
    );

    // A damaged pretraining cache is a clear error, not a panic.
    let cache = store.join(".cache/pretrained_classifiers");
    let mut damaged = 0;
    for e in std::fs::read_dir(&cache).unwrap().flatten() {
        let weights = e.path().join("weights.mpk");
        if weights.is_file() {
            std::fs::write(weights, b"not weights").unwrap();
            damaged += 1;
        }
    }
    assert_eq!(damaged, 3, "one cached model per setting");
    std::fs::remove_dir_all(store.join("mlp_mnist_high_reward")).unwrap();
    let out = sweep(&file, tmp.path(), &data);
    let log = text(&out);
    assert!(!out.status.success());
    assert!(
        log.contains("are damaged") && log.contains("delete"),
        "{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn missing_or_wrong_data_files_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let real = root.join("experiments/controlled.yaml");
    // No data at all: the error names the path it looked at and how to set the data directory.
    let empty = tmp.path().join("nodata");
    std::fs::create_dir_all(&empty).unwrap();
    let out = sweep(&real, tmp.path(), &empty);
    let log = text(&out);
    assert!(!out.status.success());
    assert!(
        log.contains(&empty.join("mnist").display().to_string()),
        "{log}"
    );
    assert!(
        log.contains("--data-dir") && log.contains("RFT_DATA_DIR"),
        "{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
    // Fixture files under manifest verification: refused, naming MANIFEST.md.
    let data = tmp.path().join("data");
    write_fixture_data(&data);
    let out = sweep(&real, tmp.path(), &data);
    let log = text(&out);
    assert!(!out.status.success());
    assert!(
        log.contains("MANIFEST.md") && log.contains("sha256"),
        "{log}"
    );
}
