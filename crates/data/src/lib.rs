//! Datasets of the controlled experiments (paper, Section 4.2), read from the data directory
//! (`--data-dir`, `RFT_DATA_DIR`, default `data/`):
//!
//! * [`mnist`]: MNIST in IDX format (gzip), `mnist/*-ubyte.gz`;
//! * [`cifar10`]: CIFAR-10 binary records, our subset `cifar10/data_batch_1_first4000.bin` and
//!   `cifar10/test_batch_first1000.bin`;
//! * [`imdb_subset`]: builds the IMDB CSV subsets the GRUE loaders read from Maas et al.'s archive;
//! * [`stsb`]: GLUE STS-B TSV (`glue-stsb/train.tsv`, `glue-stsb/dev.tsv`), label = rounded score;
//! * [`protocol`]: stratified subsampling and ml-rlgrad's label protocol (label sets per class,
//!   soft pretraining targets, which train inputs get a modified label and which label).
//!
//! Every file read is checked against the dataset registry ([`registry`]: the sha256 of the shared
//! folder's `MANIFEST.md`, or the content of the canonical files where they differ) unless the
//! caller asks for [`Verify::Off`] (own files, test fixtures). A missing or wrong file is a
//! [`DataError`] that names the path, what was expected there and how to get it.
//! [`acquire`] downloads what an experiment needs (`runner data fetch`) and reports what is
//! present (`runner data status`).

pub mod acquire;
pub mod checksum;
pub mod cifar10;
pub mod imdb_subset;
pub mod mnist;
pub mod protocol;
pub mod registry;
pub mod stsb;

use std::path::{Path, PathBuf};

pub use checksum::Verify;
pub use protocol::{LabelSets, Modification, modify_labels, stratified_subsample};

/// Where to point the data directory, appended to every "not found" error.
pub const DATA_DIR_HINT: &str = "download it with `runner data fetch` (into the data directory), or point \
     `--data-dir DIR` or the environment variable `RFT_DATA_DIR=DIR` at a copy (default `data/`; \
     `runner data status` lists what is where)";

/// Why a dataset could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{what}: {path} not found; {DATA_DIR_HINT}", path = path.display())]
    Missing { what: String, path: PathBuf },
    #[error("cannot read {path}: {source}", path = path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} has sha256 {found}, but the dataset registry (MANIFEST.md's hashes, or the canonical \
         file's) expects {expected}: the file is corrupt or not the dataset this loader expects; \
         `runner data status` names the fix (`runner data fetch` replaces it), or turn checksum \
         verification off to use your own files",
        path = path.display()
    )]
    Checksum {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("{path}: {message}", path = path.display())]
    Format { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = DataError> = std::result::Result<T, E>;

/// Read a whole file, turning "not found" into [`DataError::Missing`] and checking its sha256
/// (by its path relative to `data_dir`) when `verify` asks for it.
pub fn read_checked(data_dir: &Path, rel: &str, what: &str, verify: Verify) -> Result<Vec<u8>> {
    let path = data_dir.join(rel);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(DataError::Missing {
                what: what.to_string(),
                path,
            });
        }
        Err(source) => return Err(DataError::Io { path, source }),
    };
    checksum::verify(&path, rel, &bytes, verify)?;
    Ok(bytes)
}

/// A labelled image dataset, normalised per channel, stored `[n, channels, height, width]` row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSet {
    pub images: Vec<f32>,
    pub labels: Vec<usize>,
    /// `[channels, height, width]`.
    pub shape: [usize; 3],
    pub num_classes: usize,
}

impl ImageSet {
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    /// Values per image (`channels * height * width`).
    pub fn dim(&self) -> usize {
        self.shape.iter().product()
    }
    /// The images at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> ImageSet {
        let d = self.dim();
        let mut images = Vec::with_capacity(indices.len() * d);
        for &i in indices {
            images.extend_from_slice(&self.images[i * d..(i + 1) * d]);
        }
        ImageSet {
            images,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            shape: self.shape,
            num_classes: self.num_classes,
        }
    }
}

/// `(x / 255 - mean[c]) / std[c]` for bytes laid out image by image, each `[channels, plane]`
/// (`plane` = height * width), as torchvision's `ToTensor` + `Normalize`.
pub(crate) fn normalise(bytes: &[u8], plane: usize, mean: &[f32], std: &[f32]) -> Vec<f32> {
    let channels = mean.len();
    bytes
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            let c = (i / plane) % channels;
            (b as f32 / 255.0 - mean[c]) / std[c]
        })
        .collect()
}
