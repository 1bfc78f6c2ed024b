//! Atomic writes: the one place in the workspace that writes a file or a directory under its final
//! name. Everything is first written beside the target under a unique temporary name (same
//! directory, so the same file system), then renamed into place; a failure removes the temporary.
//! A process killed at any moment leaves either the old content or the new, never a mixture, and at
//! worst a stray `*.tmp-*` file that no reader looks at.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A unique temporary path beside `path` that keeps its extension (`NAME.tmp-PID-N.EXT`), so that
/// writers which pick a format from the extension (PNG, Parquet) still do.
pub fn temp_path_for(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}.tmp-{pid}-{n}.{}", ext.to_string_lossy()),
        None => format!("{stem}.tmp-{pid}-{n}"),
    };
    path.with_file_name(name)
}

fn create_parent(path: &Path) -> io::Result<()> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => std::fs::create_dir_all(dir),
        None => Ok(()),
    }
}

/// Write `bytes` to `path` atomically, creating the parent directory if needed.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with(path, |tmp| std::fs::write(tmp, bytes))
}

/// Let `fill` write the file at a temporary path beside `path`, then rename it to `path`.
/// For writers that want a path (safetensors, image encoders) or a file handle of their own.
/// The error of `fill` is returned as it is; a failed rename becomes `E` through `From<io::Error>`.
pub fn write_with<E: From<io::Error>>(
    path: &Path,
    fill: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), E> {
    create_parent(path)?;
    let tmp = temp_path_for(path);
    let result = fill(&tmp).and_then(|()| std::fs::rename(&tmp, path).map_err(E::from));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Let `fill` build a directory at a temporary path beside `dir`, then replace `dir` with it.
/// Between the removal of an old `dir` and the rename there is a moment without `dir`: readers
/// must treat a missing directory as "not there yet", never as damage.
pub fn replace_dir<E: From<io::Error>>(
    dir: &Path,
    fill: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), E> {
    create_parent(dir)?;
    let tmp = temp_path_for(dir);
    let result = std::fs::create_dir_all(&tmp)
        .map_err(E::from)
        .and_then(|()| fill(&tmp))
        .and_then(|()| {
            if dir.exists() {
                std::fs::remove_dir_all(dir)?;
            }
            std::fs::rename(&tmp, dir).map_err(E::from)
        });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn write_creates_the_parent_and_leaves_no_temporary() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("a/b/table.csv");
        write(&path, b"x,y\n").unwrap();
        write(&path, b"x,y\n1,2\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"x,y\n1,2\n");
        assert_eq!(names(&root.path().join("a/b")), vec!["table.csv"]);
    }

    #[test]
    fn a_failing_writer_leaves_the_old_file_and_no_temporary() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("weights.bin");
        write(&path, b"old").unwrap();
        let err = write_with(&path, |tmp| {
            std::fs::write(tmp, b"half")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(names(root.path()), vec!["weights.bin"]);
    }

    #[test]
    fn temporaries_keep_the_extension_and_never_repeat() {
        let a = temp_path_for(Path::new("out/fig.png"));
        let b = temp_path_for(Path::new("out/fig.png"));
        assert_ne!(a, b);
        assert_eq!(a.extension().unwrap(), "png");
        assert_eq!(a.parent().unwrap(), Path::new("out"));
    }

    #[test]
    fn replace_dir_swaps_in_the_new_content_or_keeps_the_old() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("checkpoint");
        replace_dir(&dir, |d| std::fs::write(d.join("step"), b"1")).unwrap();
        let failed: io::Result<()> = replace_dir(&dir, |d| {
            std::fs::write(d.join("step"), b"2")?;
            Err(io::Error::other("killed"))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read(dir.join("step")).unwrap(), b"1");
        replace_dir(&dir, |d| std::fs::write(d.join("step"), b"3")).unwrap();
        assert_eq!(std::fs::read(dir.join("step")).unwrap(), b"3");
        assert_eq!(names(root.path()), vec!["checkpoint"]);
    }
}
