//! The loaders on tiny fixture files written here in the real formats, their errors, and (when
//! `RFT_DATA_DIR` is set) the real files of the manifest.

use data::{DataError, Verify, cifar10, mnist, stsb};
use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write;
use std::path::{Path, PathBuf};

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
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

/// Three 2x2 MNIST images with pixel values 0, 255 and i, labels 7, 0, 3.
fn write_mnist(dir: &Path) {
    std::fs::create_dir_all(dir.join("mnist")).unwrap();
    let pixels: Vec<u8> = vec![0, 0, 0, 0, 255, 255, 255, 255, 0, 1, 2, 3];
    for prefix in ["train", "t10k"] {
        std::fs::write(
            dir.join(format!("mnist/{prefix}-images-idx3-ubyte.gz")),
            gz(&idx(2051, &[3, 2, 2], &pixels)),
        )
        .unwrap();
        std::fs::write(
            dir.join(format!("mnist/{prefix}-labels-idx1-ubyte.gz")),
            gz(&idx(2049, &[3], &[7, 0, 3])),
        )
        .unwrap();
    }
}

#[test]
fn mnist_idx_is_read_and_normalised() {
    let dir = tempfile::tempdir().unwrap();
    write_mnist(dir.path());
    let set = mnist::load(dir.path(), mnist::Split::Train, Verify::Off).unwrap();
    assert_eq!(set.shape, [1, 2, 2]);
    assert_eq!(set.labels, vec![7, 0, 3]);
    assert_eq!(set.len(), 3);
    let norm = |b: f32| (b / 255.0 - 0.1307) / 0.3081;
    assert!((set.images[0] - norm(0.0)).abs() < 1e-6);
    assert!((set.images[4] - norm(255.0)).abs() < 1e-6);
    assert!((set.images[11] - norm(3.0)).abs() < 1e-6);
    let sub = set.select(&[2, 0]);
    assert_eq!(sub.labels, vec![3, 7]);
    assert_eq!(&sub.images[..4], &set.images[8..12]);
}

#[test]
fn mnist_fixture_fails_the_manifest_checksum_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    write_mnist(dir.path());
    let err = mnist::load(dir.path(), mnist::Split::Test, Verify::Manifest).unwrap_err();
    assert!(matches!(err, DataError::Checksum { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("t10k-images-idx3-ubyte.gz"), "{msg}");
    assert!(msg.contains("MANIFEST.md"), "{msg}");
}

#[test]
fn a_corrupt_idx_header_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write_mnist(dir.path());
    // Header promises 4 images but holds 3.
    std::fs::write(
        dir.path().join("mnist/train-images-idx3-ubyte.gz"),
        gz(&idx(2051, &[4, 2, 2], &[0; 12])),
    )
    .unwrap();
    let msg = mnist::load(dir.path(), mnist::Split::Train, Verify::Off)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("train-images-idx3-ubyte.gz"), "{msg}");
    assert!(msg.contains("promises 16 values"), "{msg}");
    // Not gzip at all.
    std::fs::write(
        dir.path().join("mnist/train-images-idx3-ubyte.gz"),
        b"plain",
    )
    .unwrap();
    let msg = mnist::load(dir.path(), mnist::Split::Train, Verify::Off)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("gzip"), "{msg}");
}

#[test]
fn a_missing_file_says_where_it_looked_and_how_to_set_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    for err in [
        mnist::load(dir.path(), mnist::Split::Train, Verify::Manifest).unwrap_err(),
        cifar10::load(dir.path(), cifar10::Split::Test, Verify::Manifest).unwrap_err(),
        stsb::load(dir.path(), stsb::Split::Train, Verify::Manifest).unwrap_err(),
    ] {
        assert!(matches!(err, DataError::Missing { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains(&dir.path().display().to_string()),
            "names the path: {msg}"
        );
        assert!(
            msg.contains("--data-dir") && msg.contains("RFT_DATA_DIR"),
            "{msg}"
        );
    }
}

#[test]
fn cifar10_records_are_read_channel_planes_normalised() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("cifar10")).unwrap();
    let mut bytes = Vec::new();
    for (label, fill) in [(6u8, [10u8, 20, 30]), (9, [255, 0, 128])] {
        bytes.push(label);
        for v in fill {
            bytes.extend(std::iter::repeat_n(v, 1024));
        }
    }
    std::fs::write(dir.path().join(cifar10::TRAIN_FILE), &bytes).unwrap();
    let set = cifar10::load(dir.path(), cifar10::Split::Train, Verify::Off).unwrap();
    assert_eq!(set.labels, vec![6, 9]);
    assert_eq!(set.shape, [3, 32, 32]);
    let norm = |b: f32, c: usize| (b / 255.0 - cifar10::MEAN[c]) / cifar10::STD[c];
    let at = |img: usize, c: usize, p: usize| set.images[img * 3072 + c * 1024 + p];
    assert!((at(0, 0, 0) - norm(10.0, 0)).abs() < 1e-6);
    assert!((at(0, 1, 1023) - norm(20.0, 1)).abs() < 1e-6);
    assert!((at(0, 2, 500) - norm(30.0, 2)).abs() < 1e-6);
    assert!((at(1, 0, 7) - norm(255.0, 0)).abs() < 1e-6);
    assert!((at(1, 2, 7) - norm(128.0, 2)).abs() < 1e-6);
    // A truncated record is an error naming the file.
    std::fs::write(dir.path().join(cifar10::TRAIN_FILE), &bytes[..3000]).unwrap();
    let msg = cifar10::load(dir.path(), cifar10::Split::Train, Verify::Off)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("data_batch_1_first4000.bin") && msg.contains("3073"),
        "{msg}"
    );
}

#[test]
fn stsb_tsv_is_read_by_column_name_with_rounded_labels() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("glue-stsb")).unwrap();
    let tsv = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n\
               0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\tA plane is taking off.\tAn air plane is taking off.\t5.000\n\
               1\tmain-captions\tMSRvid\t2012test\t0004\tnone\tnone\tA man plays.\tA man sings.\t2.500\n\
               2\tmain-news\tx\t2012\t0005\tnone\tnone\tOne.\tTwo.\t0.600\n";
    std::fs::write(dir.path().join(stsb::DEV_FILE), tsv).unwrap();
    let set = stsb::load(dir.path(), stsb::Split::Dev, Verify::Off).unwrap();
    assert_eq!(set.labels, vec![5, 2, 1]);
    assert_eq!(set.sentence1[1], "A man plays.");
    assert_eq!(set.sentence2[0], "An air plane is taking off.");
    assert_eq!(set.scores[2], 0.6);
    // A row with a missing field, and a bad score, are errors with the line number.
    std::fs::write(
        dir.path().join(stsb::DEV_FILE),
        format!("{tsv}3\tx\tx\tx\tx\tx\tx\tonly one sentence\t1.0\n"),
    )
    .unwrap();
    let msg = stsb::load(dir.path(), stsb::Split::Dev, Verify::Off)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("dev.tsv") && msg.contains("line 5"), "{msg}");
    std::fs::write(
        dir.path().join(stsb::DEV_FILE),
        format!("{tsv}3\tx\tx\tx\tx\tx\tx\ta\tb\tsimilar\n"),
    )
    .unwrap();
    let msg = stsb::load(dir.path(), stsb::Split::Dev, Verify::Off)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("not a number"), "{msg}");
}

/// The real data directory, or `None` (the caller prints SKIPPED).
fn real_data_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("RFT_DATA_DIR")?);
    // Relative paths are relative to the workspace root (CI sets RFT_DATA_DIR=../shared/data).
    let dir = if dir.is_relative() {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(dir)
    } else {
        dir
    };
    dir.join("MANIFEST.md").is_file().then_some(dir)
}

#[test]
fn real_files_match_the_manifest_and_known_values() {
    let Some(dir) = real_data_dir() else {
        eprintln!("SKIPPED: RFT_DATA_DIR is not set to the shared data folder");
        return;
    };
    let train = mnist::load(&dir, mnist::Split::Train, Verify::Manifest).unwrap();
    let test = mnist::load(&dir, mnist::Split::Test, Verify::Manifest).unwrap();
    assert_eq!((train.len(), test.len()), (60_000, 10_000));
    assert_eq!(&train.labels[..5], &[5, 0, 4, 1, 9]);
    assert_eq!(&test.labels[..5], &[7, 2, 1, 0, 4]);
    let ctrain = cifar10::load(&dir, cifar10::Split::Train, Verify::Manifest).unwrap();
    let ctest = cifar10::load(&dir, cifar10::Split::Test, Verify::Manifest).unwrap();
    assert_eq!((ctrain.len(), ctest.len()), (4000, 1000));
    assert_eq!(&ctrain.labels[..10], &[6, 9, 9, 4, 1, 1, 2, 7, 8, 3]);
    assert_eq!(&ctest.labels[..10], &[3, 8, 8, 0, 6, 6, 1, 6, 3, 1]);
    // MANIFEST.md spot check: train image 0 has R[0:3] = 59, 43, 50.
    let red = |v: f32| ((v * cifar10::STD[0] + cifar10::MEAN[0]) * 255.0).round();
    assert_eq!(
        [
            red(ctrain.images[0]),
            red(ctrain.images[1]),
            red(ctrain.images[2])
        ],
        [59.0, 43.0, 50.0]
    );
    let s_train = stsb::load(&dir, stsb::Split::Train, Verify::Manifest).unwrap();
    let s_dev = stsb::load(&dir, stsb::Split::Dev, Verify::Manifest).unwrap();
    assert_eq!((s_train.len(), s_dev.len()), (5749, 1500));
    assert!(s_train.labels.iter().all(|&l| l < 6));
    for c in 0..6 {
        assert!(s_train.labels.contains(&c), "class {c} occurs in train");
    }
    data::checksum::checked_path(&dir, "bert-vocab/vocab.txt", "BERT vocab", Verify::Manifest)
        .unwrap();
}
