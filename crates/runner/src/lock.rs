//! Run locks: a run is executed by one process at a time, also when several `runner sweep`
//! processes share a run store (a sweep started twice, Slurm array tasks with the same `--out`).
//!
//! Before a run's directory is cleared and the run executed, its lock file `<run dir>.lock` is
//! created with `O_CREAT | O_EXCL` (atomic, also on NFS v3+) and holds the owner's pid, host
//! name and process start time. Another process that finds the file skips the run and says
//! who holds it. The owner deletes the file when the run is over (finished or failed).
//!
//! A process killed with the lock held leaves the file behind: a lock whose pid no longer
//! runs on this host (or now belongs to a process started later, a reused pid) is stale and is
//! removed by the next process that wants the run, which says so. Removing a stale lock is done
//! under an advisory `flock` on `<sweep dir>/.lock-recovery` (released by the kernel if its
//! holder dies), and only if the file still holds the same bytes, so two processes recovering
//! at once never remove a lock that a third has just taken. A lock held on another host cannot
//! be checked from here: it is respected, and the message names the file to delete if that
//! process is gone.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Who holds (or held) a run lock: the contents of the lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    /// Start time of the process (Linux: clock ticks after boot, `/proc/<pid>/stat` field 22),
    /// to tell a reused pid from the owner.
    #[serde(default)]
    pub start: Option<u64>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {} on {}", self.pid, self.host)
    }
}

impl Holder {
    /// This process.
    pub fn me() -> Holder {
        let pid = std::process::id();
        Holder {
            pid,
            host: hostname(),
            start: process_start(pid),
        }
    }

    /// Whether the holder is known to be gone: it was on this host and its pid runs no more,
    /// or runs a process started at another time.
    fn is_gone(&self) -> bool {
        if self.host != hostname() {
            return false;
        }
        if !pid_alive(self.pid) {
            return true;
        }
        match (self.start, process_start(self.pid)) {
            (Some(then), Some(now)) => then != now,
            _ => false,
        }
    }
}

/// The result of [`try_lock`].
#[derive(Debug)]
pub enum Acquired {
    /// This process holds the run now; `recovered` is the dead holder of a stale lock that was
    /// removed on the way.
    Locked {
        lock: RunLock,
        recovered: Option<Holder>,
    },
    /// Another process holds it (or, with `holder` `None`, is just writing the lock file).
    HeldBy {
        holder: Option<Holder>,
        path: PathBuf,
    },
}

/// A held run lock; dropping it deletes the lock file (if it is still this process's).
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
    bytes: Vec<u8>,
}

impl RunLock {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        if std::fs::read(&self.path).is_ok_and(|b| b == self.bytes) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The lock file of a run directory: `<run dir>.lock`, beside it.
pub fn lock_path(run_dir: &Path) -> PathBuf {
    let mut name = run_dir.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    run_dir.with_file_name(name)
}

/// How long a lock file may stay empty or unreadable (its creator writes it right after
/// creating it) before it counts as left by a process killed in between.
const UNREADABLE_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

/// Takes the lock of `run_dir` unless a live process holds it; recovers a stale one.
pub fn try_lock(run_dir: &Path) -> Result<Acquired> {
    let path = lock_path(run_dir);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let me = Holder::me();
    let mut bytes = serde_json::to_vec(&me)?;
    bytes.push(b'\n');
    let mut recovered = None;
    // Each pass either takes the lock, finds a live holder, or removes a stale lock; a few
    // passes only matter when other processes race for the same run.
    for _ in 0..8 {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => {
                let lock = RunLock {
                    path: path.clone(),
                    bytes: bytes.clone(),
                };
                f.write_all(&bytes)
                    .and_then(|_| f.sync_all())
                    .with_context(|| format!("cannot write the run lock {}", path.display()))?;
                return Ok(Acquired::Locked { lock, recovered });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot create the run lock {}", path.display()));
            }
        }
        let Ok(seen) = std::fs::read(&path) else {
            continue; // released meanwhile: try again
        };
        let holder: Option<Holder> = serde_json::from_slice(&seen).ok();
        let stale = match &holder {
            Some(h) => h.is_gone(),
            None => std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > UNREADABLE_GRACE)),
        };
        if !stale {
            return Ok(Acquired::HeldBy { holder, path });
        }
        if remove_if_unchanged(&path, &seen)? {
            recovered = holder.or(recovered);
        }
    }
    let holder = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    Ok(Acquired::HeldBy { holder, path })
}

/// Removes the stale lock `path` if it still holds `seen`, under the sweep directory's
/// recovery `flock`. Returns whether it removed it.
fn remove_if_unchanged(path: &Path, seen: &[u8]) -> Result<bool> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let guard_path = dir.join(".lock-recovery");
    let guard = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&guard_path)
        .with_context(|| format!("cannot open {}", guard_path.display()))?;
    let _held = flock(&guard);
    match std::fs::read(path) {
        Ok(now) if now == seen => {
            std::fs::remove_file(path)
                .with_context(|| format!("cannot remove the stale lock {}", path.display()))?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// An exclusive advisory `flock` on a file, released when dropped (or by the kernel when the
/// process dies). Best effort: where the file system has no `flock`, it holds nothing.
struct FlockGuard<'a> {
    #[cfg_attr(not(unix), allow(dead_code))]
    file: &'a std::fs::File,
    locked: bool,
}

impl Drop for FlockGuard<'_> {
    fn drop(&mut self) {
        #[cfg(unix)]
        if self.locked {
            use std::os::fd::AsRawFd;
            // SAFETY: a valid open descriptor for the guard's lifetime.
            unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_UN) };
        }
    }
}

fn flock(file: &std::fs::File) -> FlockGuard<'_> {
    #[cfg(unix)]
    let locked = {
        use std::os::fd::AsRawFd;
        // SAFETY: a valid open descriptor; flock has no memory effects.
        unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) == 0 }
    };
    #[cfg(not(unix))]
    let locked = false;
    FlockGuard { file, locked }
}

/// This machine's host name ("unknown" if it cannot be read).
pub fn hostname() -> String {
    #[cfg(unix)]
    {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for its length; gethostname writes at most that much.
        if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0 {
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            if end > 0 {
                return String::from_utf8_lossy(&buf[..end]).into_owned();
            }
        }
    }
    std::env::var("HOSTNAME").unwrap_or_else(|_| "unknown".into())
}

/// Whether a process with this pid exists on this host.
fn pid_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return false;
        };
        if pid <= 0 {
            return false;
        }
        // SAFETY: signal 0 only checks that the process exists and may be signalled.
        if unsafe { libc::kill(pid, 0) } == 0 {
            return true;
        }
        // EPERM: it exists but belongs to another user.
        std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// Linux: the start time of a process in clock ticks after boot; `None` elsewhere.
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_a_held_run_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("sweep").join("run1");
        let Acquired::Locked { lock, recovered } = try_lock(&run).unwrap() else {
            panic!("first lock not taken");
        };
        assert!(recovered.is_none());
        assert_eq!(lock.path(), dir.path().join("sweep").join("run1.lock"));
        match try_lock(&run).unwrap() {
            Acquired::HeldBy {
                holder: Some(h), ..
            } => assert_eq!(h, Holder::me()),
            other => panic!("{other:?}"),
        }
        drop(lock);
        assert!(!dir.path().join("sweep").join("run1.lock").exists());
        assert!(matches!(try_lock(&run).unwrap(), Acquired::Locked { .. }));
    }

    #[test]
    fn a_lock_of_a_dead_pid_on_this_host_is_recovered() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        // A pid above the kernel's pid_max (4194304 at most) cannot run.
        let dead = Holder {
            pid: 4_194_999,
            host: hostname(),
            start: None,
        };
        std::fs::write(lock_path(&run), serde_json::to_vec(&dead).unwrap()).unwrap();
        match try_lock(&run).unwrap() {
            Acquired::Locked {
                recovered: Some(h), ..
            } => assert_eq!(h, dead),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_reused_pid_does_not_keep_a_stale_lock_alive() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let mut old = Holder::me();
        let Some(start) = old.start else {
            return; // no /proc: nothing to check
        };
        old.start = Some(start + 1);
        std::fs::write(lock_path(&run), serde_json::to_vec(&old).unwrap()).unwrap();
        assert!(matches!(
            try_lock(&run).unwrap(),
            Acquired::Locked {
                recovered: Some(_),
                ..
            }
        ));
    }

    #[test]
    fn a_lock_from_another_host_is_respected() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let other = Holder {
            pid: 4_194_999,
            host: format!("{}-elsewhere", hostname()),
            start: None,
        };
        std::fs::write(lock_path(&run), serde_json::to_vec(&other).unwrap()).unwrap();
        assert!(matches!(
            try_lock(&run).unwrap(),
            Acquired::HeldBy { holder: Some(h), .. } if h == other
        ));
    }
}
