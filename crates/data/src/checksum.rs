//! sha256 of every file the loaders read, as listed in the data folder's `MANIFEST.md`.

use crate::{DataError, Result};
use sha2::{Digest, Sha256};
use std::path::Path;

/// Whether to check the files read against [`MANIFEST`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verify {
    /// Refuse a file whose sha256 differs from `MANIFEST.md` (the default).
    #[default]
    Manifest,
    /// Read any file in the right format (own data, test fixtures).
    Off,
}

impl Verify {
    pub fn from_flag(verify: bool) -> Verify {
        if verify {
            Verify::Manifest
        } else {
            Verify::Off
        }
    }
}

/// `(path relative to the data directory, sha256)` as `MANIFEST.md` lists them.
pub const MANIFEST: &[(&str, &str)] = &[
    (
        "mnist/train-images-idx3-ubyte.gz",
        "0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971",
    ),
    (
        "mnist/train-labels-idx1-ubyte.gz",
        "ec02e7948609e5754d47881c09b8afdd8dfa60600b9e5388c8c54a67069ec772",
    ),
    (
        "mnist/t10k-images-idx3-ubyte.gz",
        "167310007f03058885c7e95e6c0b19c20de5c7fd3031f4cbdadc9014a523d80b",
    ),
    (
        "mnist/t10k-labels-idx1-ubyte.gz",
        "fc607395669ec21321ea83e4b82c0544b7e8e63ff5b34337c06bc0a17cc0da3c",
    ),
    (
        "cifar10/data_batch_1_first4000.bin",
        "0993cf8b8e43bc207603aef9787006995746513f5e3fa5a52e06d1b069926330",
    ),
    (
        "cifar10/test_batch_first1000.bin",
        "8314c96d7cd65618193bab23acdd5d4c4af15bf6dd00a1781d55beedf3be1ef5",
    ),
    (
        "glue-stsb/train.tsv",
        "41c4d978b6162abdcada7e49a982211954cca5459c228db478af333124b257a2",
    ),
    (
        "glue-stsb/dev.tsv",
        "fe7dc0632a5033562f3cadff991f6e8d9b9b6311861660e78c3c82eb7db67f59",
    ),
    (
        "bert-vocab/vocab.txt",
        "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    ),
];

/// The manifest's sha256 of a file (path relative to the data directory).
pub fn expected(rel: &str) -> Option<&'static str> {
    MANIFEST.iter().find(|(p, _)| *p == rel).map(|(_, h)| *h)
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Check `bytes` (read from `path`, `rel` relative to the data directory) against the manifest.
pub fn verify(path: &Path, rel: &str, bytes: &[u8], verify: Verify) -> Result<()> {
    if verify == Verify::Off {
        return Ok(());
    }
    let Some(expected) = expected(rel) else {
        return Err(DataError::Invalid(format!(
            "no manifest checksum for {rel}; the loader can only verify the files of MANIFEST.md"
        )));
    };
    let found = sha256_hex(bytes);
    if found != expected {
        return Err(DataError::Checksum {
            path: path.to_path_buf(),
            found,
            expected: expected.to_string(),
        });
    }
    Ok(())
}

/// Check a file on disk (e.g. a vocabulary another crate reads) and return its path.
pub fn checked_path(
    data_dir: &Path,
    rel: &str,
    what: &str,
    verify: Verify,
) -> Result<std::path::PathBuf> {
    crate::read_checked(data_dir, rel, what, verify)?;
    Ok(data_dir.join(rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_input() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn manifest_entries_are_hex_digests() {
        for (p, h) in MANIFEST {
            assert_eq!(h.len(), 64, "{p}");
            assert!(h.chars().all(|c| c.is_ascii_hexdigit()), "{p}");
        }
    }

    #[test]
    fn a_wrong_file_is_refused_with_both_digests() {
        let err = verify(
            Path::new("/d/mnist/t10k-labels-idx1-ubyte.gz"),
            "mnist/t10k-labels-idx1-ubyte.gz",
            b"not mnist",
            Verify::Manifest,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("/d/mnist/t10k-labels-idx1-ubyte.gz"), "{err}");
        assert!(err.contains("fc607395669ec21321ea"), "{err}");
        assert!(err.contains(&sha256_hex(b"not mnist")), "{err}");
        assert!(verify(Path::new("x"), "x", b"", Verify::Off).is_ok());
    }
}
