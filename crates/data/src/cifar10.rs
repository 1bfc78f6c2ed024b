//! CIFAR-10 in the binary format: records of 3,073 bytes, one label byte (0-9) then 1,024 red,
//! 1,024 green and 1,024 blue bytes (32x32, row-major). Our copy is a subset: the first 4,000
//! images of `data_batch_1` and the first 1,000 of `test_batch` (see MANIFEST.md). Normalised as
//! ml-rlgrad does (`ToTensor` then `Normalize` with CIFAR-10's per-channel mean and std).

use crate::{DataError, ImageSet, Result, Verify, normalise, read_checked};
use std::path::Path;

pub const MEAN: [f32; 3] = [0.491, 0.482, 0.446];
pub const STD: [f32; 3] = [0.247, 0.243, 0.261];
pub const RECORD: usize = 1 + 3 * 32 * 32;

pub const TRAIN_FILE: &str = "cifar10/data_batch_1_first4000.bin";
pub const TEST_FILE: &str = "cifar10/test_batch_first1000.bin";
/// The canonical batches (Krizhevsky's `cifar-10-binary.tar.gz`, extracted by `runner data fetch`).
pub const CANONICAL_TRAIN_FILE: &str = "cifar10/data_batch_1.bin";
pub const CANONICAL_TEST_FILE: &str = "cifar10/test_batch.bin";
/// Records used from each split: the subset of the shared copy, also the prefix read from the
/// canonical batches, so both give the same data.
pub const TRAIN_RECORDS: usize = 4000;
pub const TEST_RECORDS: usize = 1000;

/// Which file to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// `cifar10/data_batch_1_first4000.bin` (4,000 images).
    Train,
    /// `cifar10/test_batch_first1000.bin` (1,000 images).
    Test,
}

pub fn file(split: Split) -> &'static str {
    match split {
        Split::Train => TRAIN_FILE,
        Split::Test => TEST_FILE,
    }
}

/// The canonical batch a split's records are the first of.
pub fn canonical_file(split: Split) -> &'static str {
    match split {
        Split::Train => CANONICAL_TRAIN_FILE,
        Split::Test => CANONICAL_TEST_FILE,
    }
}

/// Load one split, images `[n, 3, 32, 32]` normalised: the subset file if present, else the first
/// 4,000 (train) / 1,000 (test) records of the canonical batch.
pub fn load(data_dir: &Path, split: Split, verify: Verify) -> Result<ImageSet> {
    let (subset, canonical) = (file(split), canonical_file(split));
    let what = "CIFAR-10 binary records";
    if !data_dir.join(subset).exists() && data_dir.join(canonical).exists() {
        let mut bytes = read_checked(data_dir, canonical, what, verify)?;
        let keep = match split {
            Split::Train => TRAIN_RECORDS,
            Split::Test => TEST_RECORDS,
        } * RECORD;
        bytes.truncate(keep);
        return parse(&data_dir.join(canonical), &bytes);
    }
    let bytes = read_checked(data_dir, subset, what, verify)?;
    parse(&data_dir.join(subset), &bytes)
}

/// Parse binary records (`path` names the file in errors).
pub fn parse(path: &Path, bytes: &[u8]) -> Result<ImageSet> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD) {
        return Err(DataError::Format {
            path: path.to_path_buf(),
            message: format!(
                "{} bytes is not a whole number of {RECORD}-byte CIFAR-10 records",
                bytes.len()
            ),
        });
    }
    let n = bytes.len() / RECORD;
    let mut labels = Vec::with_capacity(n);
    let mut pixels = Vec::with_capacity(n * (RECORD - 1));
    for (i, rec) in bytes.chunks_exact(RECORD).enumerate() {
        if rec[0] > 9 {
            return Err(DataError::Format {
                path: path.to_path_buf(),
                message: format!("record {i} has label {} outside 0..=9", rec[0]),
            });
        }
        labels.push(rec[0] as usize);
        pixels.extend_from_slice(&rec[1..]);
    }
    Ok(ImageSet {
        images: normalise(&pixels, 32 * 32, &MEAN, &STD),
        labels,
        shape: [3, 32, 32],
        num_classes: 10,
    })
}
