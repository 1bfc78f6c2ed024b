//! Errors of the loaders: each names the file (and line, where there is one) and, for a missing
//! file, the data directory and how to get the file.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum GrueError {
    #[error("unknown GRUE task '{name}'; known tasks: {known}")]
    UnknownTask { name: String, known: String },
    #[error(
        "{what}: {path} not found (data directory {data_dir}); fetch it with `runner data fetch {dataset}`, \
         or set RFT_DATA_DIR (or --data-dir) to a directory that holds it (`runner data status` lists what is where)",
        path = path.display(),
        data_dir = data_dir.display()
    )]
    Missing {
        what: String,
        path: PathBuf,
        data_dir: PathBuf,
        dataset: &'static str,
    },
    #[error("cannot read {path}: {source}", path = path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} has sha256 {found}, but the dataset registry (MANIFEST.md's hash) expects {expected}: the file \
         is corrupt or not the dataset this loader expects; `runner data fetch {dataset}` replaces it, or load \
         with `Verify::Off` to use your own files",
        path = path.display()
    )]
    Checksum {
        path: PathBuf,
        found: String,
        expected: String,
        dataset: &'static str,
    },
    #[error("{path}{at}: {message}", path = path.display(), at = line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Format {
        path: PathBuf,
        /// 1-based line of the file, where the problem has one.
        line: Option<usize>,
        message: String,
    },
}

pub type Result<T, E = GrueError> = std::result::Result<T, E>;

pub(crate) fn format_err(
    path: &std::path::Path,
    line: Option<usize>,
    message: impl Into<String>,
) -> GrueError {
    GrueError::Format {
        path: path.to_path_buf(),
        line,
        message: message.into(),
    }
}
