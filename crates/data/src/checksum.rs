//! Checks of the files the loaders read, as the dataset registry ([`crate::registry`]) lists them.

use crate::registry::{self, Check};
use crate::{DataError, Result};
use sha2::{Digest, Sha256};
use std::io::Read;
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

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Check `bytes` (read from `path`, `rel` relative to the data directory) against the dataset
/// registry ([`crate::registry`]: MANIFEST.md's sha256 for the shared copies, the content of the
/// canonical files where they differ, e.g. MNIST decompressed, CIFAR-10's first records).
pub fn verify(path: &Path, rel: &str, bytes: &[u8], verify: Verify) -> Result<()> {
    if verify == Verify::Off {
        return Ok(());
    }
    let Some(spec) = registry::file_spec(rel) else {
        return Err(DataError::Invalid(format!(
            "no registered checksum for {rel}; the loader can only verify the files of the dataset registry \
             (crates/data/src/registry.rs), or turn checksum verification off to use your own files"
        )));
    };
    check_bytes(spec.check, bytes).map_err(|(found, expected)| DataError::Checksum {
        path: path.to_path_buf(),
        found,
        expected,
    })
}

/// Apply a registry check to a file's bytes; on failure `(found, expected)`, each with what was hashed.
pub fn check_bytes(check: Check, bytes: &[u8]) -> std::result::Result<(), (String, String)> {
    match check {
        Check::Unverified => Ok(()),
        Check::Sha256(expected) => {
            let found = sha256_hex(bytes);
            if found == expected {
                Ok(())
            } else {
                Err((found, expected.to_string()))
            }
        }
        Check::GunzipSha256(expected) => {
            let mut out = Vec::new();
            let found = match flate2::read::GzDecoder::new(bytes).read_to_end(&mut out) {
                Ok(_) => sha256_hex(&out),
                Err(e) => format!("(not a valid gzip file: {e})"),
            };
            if found == expected {
                Ok(())
            } else {
                Err((
                    format!("{found} (decompressed)"),
                    format!("{expected} (decompressed)"),
                ))
            }
        }
        Check::PrefixSha256 { len, sha256 } => {
            let found = if (bytes.len() as u64) < len {
                format!("(only {} bytes, fewer than the {len} checked)", bytes.len())
            } else {
                sha256_hex(&bytes[..len as usize])
            };
            if found == sha256 {
                Ok(())
            } else {
                Err((
                    format!("{found} (first {len} bytes)"),
                    format!("{sha256} (first {len} bytes)"),
                ))
            }
        }
    }
}

/// Apply a registry check to a file on disk; `Err` is a one-line reason.
pub fn check_file(path: &Path, check: Check) -> std::result::Result<(), String> {
    let bytes = match check {
        Check::Unverified => return Ok(()),
        Check::PrefixSha256 { len, .. } => {
            let mut buf = Vec::new();
            std::fs::File::open(path)
                .and_then(|f| f.take(len).read_to_end(&mut buf))
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            buf
        }
        _ => std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?,
    };
    check_bytes(check, &bytes)
        .map_err(|(found, expected)| format!("sha256 {found}, expected {expected}"))
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
    fn a_recompressed_gzip_passes_when_its_content_is_the_registered_one() {
        let content = b"idx bytes";
        let gz = |level| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
            std::io::Write::write_all(&mut e, content).unwrap();
            e.finish().unwrap()
        };
        let (fast, best) = (gz(1), gz(9));
        let check = Check::GunzipSha256(Box::leak(sha256_hex(content).into_boxed_str()));
        assert!(check_bytes(check, &fast).is_ok());
        assert!(check_bytes(check, &best).is_ok());
        let (found, _) = check_bytes(check, b"not gzip").unwrap_err();
        assert!(found.contains("not a valid gzip"), "{found}");
    }

    #[test]
    fn a_longer_canonical_file_passes_by_its_prefix() {
        let check = Check::PrefixSha256 {
            len: 3,
            sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        };
        assert!(check_bytes(check, b"abc").is_ok());
        assert!(check_bytes(check, b"abcdef").is_ok());
        assert!(check_bytes(check, b"abd").is_err());
        let (found, _) = check_bytes(check, b"ab").unwrap_err();
        assert!(found.contains("only 2 bytes"), "{found}");
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
        assert!(err.contains("ff7bcfd416de33731a30"), "{err}");
        assert!(err.contains("not a valid gzip"), "{err}");
        assert!(verify(Path::new("x"), "x", b"", Verify::Off).is_ok());
    }
}
