//! Verified downloads and archive extraction, for datasets and other large files.
//!
//! * [`Fetcher::download`]: HTTP(S) GET into `<dest>.part`, resumed with an HTTP `Range` request
//!   when a `.part` file is already there (a cut transfer is retried, from where it stopped, up to
//!   [`Fetcher::attempts`] times), checked against an expected sha256 and size, then renamed to
//!   `dest`. A file that fails its check is deleted: nothing half-written or unverified is ever left
//!   under its final name. Progress bars go to stderr when it is a terminal.
//! * [`extract`]: members of a `.tar.gz`, `.zip` or `.gz` file to paths of one's choosing, each
//!   written to a temporary file beside its destination, checked by a caller's function, then
//!   renamed.
//! * [`Fetcher::with_base_url`]: fetch from a mirror (or a test server) instead of the upstream
//!   hosts: `https://HOST/PATH` is requested as `BASE/HOST/PATH`.
//!
//! Errors are [`FetchError`]s whose message names the URL or file and what to do; an unreachable
//! host is [`FetchError::Offline`], so callers can tell "no network" from a broken download.

pub mod testing;

use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a download or an extraction failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The host could not be reached (no network, DNS failure, connection refused, timeout).
    #[error("cannot reach {url}: {reason} (no network? run the same command again once online)")]
    Offline { url: String, reason: String },
    /// The server answered with an error status.
    #[error(
        "{url}: HTTP {status} from the server; the file may have moved (check the URL in the dataset registry)"
    )]
    Status { url: String, status: u16 },
    /// The transfer stopped before the end, more than the allowed number of times.
    #[error(
        "{url}: the transfer was cut {attempts} times ({got} bytes kept in {part}); run the same command again to resume: {reason}",
        part = part.display()
    )]
    Cut {
        url: String,
        attempts: usize,
        got: u64,
        part: PathBuf,
        reason: String,
    },
    /// The bytes served are not the expected ones.
    #[error(
        "{url}: sha256 {found}, expected {expected}; the download was deleted and nothing was written to {dest}. \
         A proxy or mirror may serve another file, or upstream changed it: retry, and if it persists, \
         check the URL and hash in the dataset registry",
        dest = dest.display()
    )]
    Checksum {
        url: String,
        dest: PathBuf,
        expected: String,
        found: String,
    },
    /// The size served is not the expected one.
    #[error(
        "{url}: {found} bytes, expected {expected}; the download was deleted and nothing was written to {dest}",
        dest = dest.display()
    )]
    Size {
        url: String,
        dest: PathBuf,
        expected: u64,
        found: u64,
    },
    #[error("{path}: {source}", path = path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// An archive is damaged, lacks a member, or an extracted file failed its check.
    #[error("{archive}: {message}", archive = archive.display())]
    Archive { archive: PathBuf, message: String },
    #[error("{url}: {message}")]
    Other { url: String, message: String },
}

impl FetchError {
    /// Whether the error means "no network" rather than a broken file or server.
    pub fn is_offline(&self) -> bool {
        matches!(self, FetchError::Offline { .. })
    }
}

pub type Result<T, E = FetchError> = std::result::Result<T, E>;

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> FetchError + '_ {
    move |source| FetchError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What a download is expected to be.
#[derive(Debug, Clone, Copy, Default)]
pub struct Expect<'a> {
    /// Lower-case hex sha256 of the whole file; `None` when it is not known (the caller then
    /// checks the content in another way).
    pub sha256: Option<&'a str>,
    /// Size in bytes, when known.
    pub size: Option<u64>,
}

/// What [`Fetcher::download`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    pub path: PathBuf,
    pub bytes: u64,
    /// Bytes that were already in the `.part` file and not transferred again.
    pub resumed_from: u64,
    /// Lower-case hex sha256 of the file.
    pub sha256: String,
}

/// A blocking HTTP(S) client for verified downloads.
#[derive(Debug, Clone)]
pub struct Fetcher {
    agent: ureq::Agent,
    base_url: Option<String>,
    /// Requests per download: a transfer cut short is resumed this many times minus one.
    pub attempts: usize,
    /// Draw progress bars (on stderr, only when it is a terminal).
    pub progress: bool,
}

impl Default for Fetcher {
    fn default() -> Self {
        Self::new()
    }
}

impl Fetcher {
    /// A client with a 30 s connect timeout and a 60 s timeout per read, following redirects.
    pub fn new() -> Self {
        Self::with_timeouts(Duration::from_secs(30), Duration::from_secs(60))
    }

    pub fn with_timeouts(connect: Duration, per_read: Duration) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_connect(Some(connect))
            .timeout_resolve(Some(connect))
            .timeout_recv_response(Some(per_read))
            .timeout_per_read(Some(per_read))
            .http_status_as_error(false)
            .user_agent(concat!("rft-fetch/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Self {
            agent,
            base_url: None,
            attempts: 4,
            progress: true,
        }
    }

    /// Request `https://HOST/PATH` as `BASE/HOST/PATH` (a mirror of the upstream files, or a
    /// local test server). `None` or an empty string means the upstream hosts.
    pub fn with_base_url(mut self, base: Option<&str>) -> Self {
        self.base_url = base
            .map(|b| b.trim_end_matches('/').to_string())
            .filter(|b| !b.is_empty());
        self
    }

    /// The URL actually requested for `url` (see [`Fetcher::with_base_url`]).
    pub fn resolve(&self, url: &str) -> String {
        match &self.base_url {
            None => url.to_string(),
            Some(base) => {
                let rest = url.split_once("://").map_or(url, |(_, r)| r);
                format!("{base}/{rest}")
            }
        }
    }

    /// Download `url` to `dest` (see the crate documentation). An existing `dest` is replaced
    /// only once the new file has passed its checks.
    pub fn download(&self, url: &str, dest: &Path, expect: Expect<'_>) -> Result<Downloaded> {
        let url = self.resolve(url);
        let part = part_path(dest);
        if let Some(dir) = dest.parent() {
            fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        let mut resumed_from = None;
        let mut last_cut = String::new();
        for _ in 0..self.attempts.max(1) {
            let have = fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
            if expect.size.is_some_and(|s| have > s) {
                // A stale part from another file: start over.
                remove_quietly(&part);
                continue;
            }
            resumed_from.get_or_insert(have);
            match self.transfer(&url, &part, have, expect.size)? {
                Transfer::Complete => {
                    return finish(&url, &part, dest, expect, resumed_from.unwrap_or(0));
                }
                Transfer::Cut(reason) => last_cut = reason,
            }
        }
        Err(FetchError::Cut {
            url,
            attempts: self.attempts.max(1),
            got: fs::metadata(&part).map(|m| m.len()).unwrap_or(0),
            part,
            reason: last_cut,
        })
    }

    /// One request: append to `part` from byte `have` on.
    fn transfer(&self, url: &str, part: &Path, have: u64, size: Option<u64>) -> Result<Transfer> {
        let mut request = self.agent.get(url);
        if have > 0 {
            request = request.header("Range", format!("bytes={have}-"));
        }
        let response = match request.call() {
            Ok(r) => r,
            Err(e) => return Err(classify(url, e)),
        };
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (mut file, start) = match status {
            206 if have > 0 => {
                let range = header("content-range").unwrap_or_default();
                if !range.starts_with(&format!("bytes {have}-")) {
                    return Err(FetchError::Other {
                        url: url.to_string(),
                        message: format!(
                            "asked for bytes {have}- and got range {range:?}; delete {} and retry",
                            part.display()
                        ),
                    });
                }
                let f = OpenOptions::new()
                    .append(true)
                    .open(part)
                    .map_err(io_err(part))?;
                (f, have)
            }
            200 => (File::create(part).map_err(io_err(part))?, 0),
            416 if have > 0 && size == Some(have) => return Ok(Transfer::Complete),
            416 if have > 0 => {
                // The part is not a prefix the server can continue: start again.
                remove_quietly(part);
                return Ok(Transfer::Cut(format!(
                    "the server refused to resume at byte {have} (HTTP 416)"
                )));
            }
            _ => {
                return Err(FetchError::Status {
                    url: url.to_string(),
                    status,
                });
            }
        };
        let length = header("content-length").and_then(|v| v.parse::<u64>().ok());
        let total = length.map(|l| start + l).or(size);
        let bar = self.bar(url, total, start);
        let mut reader = response.into_body().into_reader();
        let mut buf = vec![0u8; 1 << 16];
        let mut written = start;
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    file.write_all(&buf[..n]).map_err(io_err(part))?;
                    written += n as u64;
                    bar.set_position(written);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    file.flush().map_err(io_err(part))?;
                    bar.abandon();
                    return Ok(Transfer::Cut(e.to_string()));
                }
            }
        }
        file.sync_all().map_err(io_err(part))?;
        bar.finish_and_clear();
        if let Some(t) = total
            && written < t
        {
            return Ok(Transfer::Cut(format!(
                "the connection closed after {written} of {t} bytes"
            )));
        }
        Ok(Transfer::Complete)
    }

    fn bar(&self, url: &str, total: Option<u64>, start: u64) -> indicatif::ProgressBar {
        if !self.progress {
            return indicatif::ProgressBar::hidden();
        }
        let name = url.rsplit('/').next().unwrap_or(url).to_string();
        let bar = match total {
            Some(t) => indicatif::ProgressBar::new(t),
            None => indicatif::ProgressBar::no_length(),
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg:30!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_message(name);
        bar.set_position(start);
        bar
    }
}

enum Transfer {
    Complete,
    Cut(String),
}

/// Where a download to `dest` keeps its bytes until verified: `dest` + `.part`.
pub fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    dest.with_file_name(name)
}

fn remove_quietly(path: &Path) {
    let _ = fs::remove_file(path);
}

fn finish(
    url: &str,
    part: &Path,
    dest: &Path,
    expect: Expect<'_>,
    resumed_from: u64,
) -> Result<Downloaded> {
    let bytes = fs::metadata(part).map_err(io_err(part))?.len();
    if let Some(size) = expect.size
        && size != bytes
    {
        remove_quietly(part);
        return Err(FetchError::Size {
            url: url.to_string(),
            dest: dest.to_path_buf(),
            expected: size,
            found: bytes,
        });
    }
    let sha256 = sha256_file(part)?;
    if let Some(expected) = expect.sha256
        && !expected.eq_ignore_ascii_case(&sha256)
    {
        remove_quietly(part);
        return Err(FetchError::Checksum {
            url: url.to_string(),
            dest: dest.to_path_buf(),
            expected: expected.to_string(),
            found: sha256,
        });
    }
    fs::rename(part, dest).map_err(io_err(dest))?;
    Ok(Downloaded {
        path: dest.to_path_buf(),
        bytes,
        resumed_from,
        sha256,
    })
}

fn classify(url: &str, e: ureq::Error) -> FetchError {
    let offline = |reason: String| FetchError::Offline {
        url: url.to_string(),
        reason,
    };
    match e {
        ureq::Error::HostNotFound => offline("host not found".into()),
        ureq::Error::ConnectionFailed => offline("connection failed".into()),
        ureq::Error::Timeout(t) => offline(format!("timed out ({t})")),
        // An I/O error before any response is a connection-level failure: DNS lookup (whose
        // error has no specific kind), refused, reset or unreachable.
        ureq::Error::Io(io) => offline(io.to_string()),
        other => FetchError::Other {
            url: url.to_string(),
            message: other.to_string(),
        },
    }
}

/// Lower-case hex sha256 of a file, read in chunks.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(io_err(path))?;
    sha256_reader(&mut file).map_err(io_err(path))
}

/// Lower-case hex sha256 of everything `reader` yields.
pub fn sha256_reader(reader: &mut impl Read) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(hex(&hasher.finalize()))
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Archive formats [`extract`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    /// gzip-compressed tar.
    TarGz,
    Zip,
    /// A single gzip-compressed file (member names are ignored; use one member).
    Gzip,
}

/// One file to take out of an archive.
pub struct Member<'a> {
    /// Path inside the archive (`dir/file`).
    pub name: &'a str,
    /// Where it goes.
    pub dest: PathBuf,
    /// Checks the extracted file (still under a temporary name) before it is renamed to `dest`;
    /// an `Err(message)` deletes it and fails the extraction.
    pub check: &'a dyn Fn(&Path) -> std::result::Result<(), String>,
}

/// Extract `members` from `archive`. Each is written to a temporary file beside its destination,
/// checked, then renamed; a member missing from the archive is an error naming it.
pub fn extract(archive: &Path, kind: ArchiveKind, members: &[Member<'_>]) -> Result<()> {
    let bad = |message: String| FetchError::Archive {
        archive: archive.to_path_buf(),
        message,
    };
    let open = || File::open(archive).map_err(io_err(archive));
    let mut done = vec![false; members.len()];
    match kind {
        ArchiveKind::Gzip => {
            let [member] = members else {
                return Err(bad(format!(
                    "a .gz file holds one file, {} were asked for",
                    members.len()
                )));
            };
            let mut reader = flate2::read::GzDecoder::new(io::BufReader::new(open()?));
            write_member(archive, member, &mut reader)?;
            done[0] = true;
        }
        ArchiveKind::TarGz => {
            let gz = flate2::read::GzDecoder::new(io::BufReader::new(open()?));
            let mut tar = tar::Archive::new(gz);
            let entries = tar
                .entries()
                .map_err(|e| bad(format!("not a tar.gz archive ({e})")))?;
            for entry in entries {
                let mut entry = entry.map_err(|e| bad(format!("damaged archive ({e})")))?;
                let path = entry
                    .path()
                    .map_err(|e| bad(format!("damaged archive ({e})")))?
                    .to_string_lossy()
                    .trim_start_matches("./")
                    .to_string();
                if let Some(i) = members.iter().position(|m| m.name == path) {
                    write_member(archive, &members[i], &mut entry)?;
                    done[i] = true;
                    if done.iter().all(|&d| d) {
                        break;
                    }
                }
            }
        }
        ArchiveKind::Zip => {
            let mut zip = zip::ZipArchive::new(io::BufReader::new(open()?))
                .map_err(|e| bad(format!("not a zip archive ({e})")))?;
            for (i, member) in members.iter().enumerate() {
                let mut entry = match zip.by_name(member.name) {
                    Ok(e) => e,
                    Err(zip::result::ZipError::FileNotFound) => continue,
                    Err(e) => return Err(bad(format!("{}: {e}", member.name))),
                };
                write_member(archive, member, &mut entry)?;
                done[i] = true;
            }
        }
    }
    let missing: Vec<&str> = members
        .iter()
        .zip(&done)
        .filter(|(_, d)| !**d)
        .map(|(m, _)| m.name)
        .collect();
    if !missing.is_empty() {
        return Err(bad(format!(
            "does not contain {} (is it the right archive?)",
            missing.join(", ")
        )));
    }
    Ok(())
}

fn write_member(archive: &Path, member: &Member<'_>, reader: &mut impl Read) -> Result<()> {
    let dir = member
        .dest
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".extract-")
        .tempfile_in(dir)
        .map_err(io_err(dir))?;
    io::copy(reader, &mut tmp).map_err(|e| FetchError::Archive {
        archive: archive.to_path_buf(),
        message: format!("{}: cannot decompress ({e})", member.name),
    })?;
    tmp.as_file_mut().sync_all().map_err(io_err(&member.dest))?;
    tmp.as_file_mut().rewind().map_err(io_err(&member.dest))?;
    (member.check)(tmp.path()).map_err(|message| FetchError::Archive {
        archive: archive.to_path_buf(),
        message: format!(
            "{} failed its check ({message}); nothing was written to {}",
            member.name,
            member.dest.display()
        ),
    })?;
    tmp.persist(&member.dest)
        .map_err(|e| io_err(&member.dest)(e.error))?;
    Ok(())
}

/// Write `bytes` to `dest` through a temporary file and a rename.
pub fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<()> {
    let dir = dest
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".write-")
        .tempfile_in(dir)
        .map_err(io_err(dir))?;
    tmp.write_all(bytes).map_err(io_err(dest))?;
    tmp.as_file_mut().sync_all().map_err(io_err(dest))?;
    tmp.persist(dest).map_err(|e| io_err(dest)(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_url_replaces_the_scheme_and_keeps_host_and_path() {
        let f = Fetcher::new().with_base_url(Some("http://127.0.0.1:8000/"));
        assert_eq!(
            f.resolve("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"),
            "http://127.0.0.1:8000/www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
        );
        let f = Fetcher::new().with_base_url(Some(""));
        assert_eq!(f.resolve("https://a/b"), "https://a/b");
    }

    #[test]
    fn the_part_file_sits_beside_its_destination() {
        assert_eq!(
            part_path(Path::new("d/mnist/x.gz")),
            PathBuf::from("d/mnist/x.gz.part")
        );
    }

    #[test]
    fn sha256_of_a_reader_is_the_known_digest() {
        assert_eq!(
            sha256_reader(&mut &b"abc"[..]).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
