//! A stand-in for the Hugging Face hub on `127.0.0.1`, for tests: serves local directories under
//! the hub's URL layout (`GET /<id>/resolve/<revision>/<file>`) with the headers `huggingface_hub`
//! and [`hf_hub`] read (`X-Repo-Commit`, a SHA-256 `ETag`/`X-Linked-Etag`, `Content-Range` for
//! range requests), answers 404 for a missing file and 401 for an unknown repository as the hub
//! does, and can break off the next transfer of a file halfway (to test resuming).
//!
//! The server binds only `127.0.0.1`, answers one request per connection, and stops when the
//! [`FakeHub`] is dropped or after ten minutes, whichever comes first.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

const LIFETIME: Duration = Duration::from_secs(600);

#[derive(Default)]
struct State {
    /// `(method, path, range header)` of every request, in order.
    log: Vec<(String, String, Option<String>)>,
    /// File name -> bytes after which its next (non-probe) transfer is cut.
    cuts: HashMap<String, usize>,
}

/// A local hub serving `repos` (id -> directory). See the module documentation.
pub struct FakeHub {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    state: Arc<Mutex<State>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeHub {
    /// Serves each `(id, dir)`: every file in `dir` is a file of repository `id` at any revision.
    pub fn serve(repos: Vec<(String, PathBuf)>) -> std::io::Result<FakeHub> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let state = Arc::new(Mutex::new(State::default()));
        let repos: HashMap<String, PathBuf> = repos.into_iter().collect();
        let thread = {
            let (stop, state) = (stop.clone(), state.clone());
            std::thread::spawn(move || {
                let started = Instant::now();
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) || started.elapsed() > LIFETIME {
                        break;
                    }
                    if let Ok(conn) = conn {
                        let _ = handle(conn, &repos, &state);
                    }
                }
            })
        };
        Ok(FakeHub {
            addr,
            stop,
            state,
            thread: Some(thread),
        })
    }

    /// The value for `HF_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next transfer of `file` (a request for more than `after` bytes) sends the full
    /// `Content-Length` but only `after` bytes, then closes the connection.
    pub fn cut_next_transfer(&self, file: &str, after: usize) {
        self.state.lock().unwrap().cuts.insert(file.into(), after);
    }

    /// `"GET /id/resolve/rev/file"` plus `" Range: bytes=.."` when one was sent, per request.
    pub fn requests(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .log
            .iter()
            .map(|(m, p, r)| match r {
                Some(r) => format!("{m} {p} Range: {r}"),
                None => format!("{m} {p}"),
            })
            .collect()
    }
}

impl Drop for FakeHub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr); // wake the accept loop
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn handle(
    mut conn: TcpStream,
    repos: &HashMap<String, PathBuf>,
    state: &Mutex<State>,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut range = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.trim().eq_ignore_ascii_case("range")
        {
            range = Some(v.trim().to_string());
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    state
        .lock()
        .unwrap()
        .log
        .push((method.clone(), path.clone(), range.clone()));

    // /<id (one or two segments)>/resolve/<revision>/<file>
    let Some((id, rest)) = path.trim_start_matches('/').split_once("/resolve/") else {
        return respond(&mut conn, "400 Bad Request", &[], b"bad path", None);
    };
    let Some(dir) = repos.get(id) else {
        let headers = [("X-Error-Code", "RepositoryNotFound".to_string())];
        return respond(
            &mut conn,
            "401 Unauthorized",
            &headers,
            b"Repository not found",
            None,
        );
    };
    let commit = hex(&Sha256::digest(id.as_bytes()))[..40].to_string();
    let file = rest.split_once('/').map(|(_, f)| f).unwrap_or("");
    let body = match std::fs::read(dir.join(file)) {
        Ok(b) if !file.is_empty() && !file.contains("..") => b,
        _ => {
            let headers = [
                ("X-Error-Code", "EntryNotFound".to_string()),
                ("X-Repo-Commit", commit),
            ];
            return respond(
                &mut conn,
                "404 Not Found",
                &headers,
                b"Entry not found",
                None,
            );
        }
    };
    let etag = format!("\"{}\"", hex(&Sha256::digest(&body)));
    let total = body.len();
    let (status, start, end) = match range.as_deref().and_then(parse_range) {
        Some((start, _)) if start >= total => {
            let headers = [("Content-Range", format!("bytes */{total}"))];
            return respond(&mut conn, "416 Range Not Satisfiable", &headers, b"", None);
        }
        Some((start, end)) => (
            "206 Partial Content",
            start,
            end.map_or(total, |e| (e + 1).min(total)),
        ),
        None => ("200 OK", 0, total),
    };
    let mut headers = vec![
        ("X-Repo-Commit", commit),
        ("ETag", etag.clone()),
        ("X-Linked-Etag", etag),
        ("Accept-Ranges", "bytes".to_string()),
    ];
    if status.starts_with("206") {
        headers.push((
            "Content-Range",
            format!("bytes {start}-{}/{total}", end - 1),
        ));
    }
    let cut = {
        let mut s = state.lock().unwrap();
        match s.cuts.get(file) {
            Some(&after) if end - start > after => {
                s.cuts.remove(file);
                Some(after)
            }
            _ => None,
        }
    };
    respond(&mut conn, status, &headers, &body[start..end], cut)
}

/// `bytes=a-` or `bytes=a-b`.
fn parse_range(v: &str) -> Option<(usize, Option<usize>)> {
    let (a, b) = v.strip_prefix("bytes=")?.split_once('-')?;
    let end = if b.is_empty() {
        None
    } else {
        Some(b.parse().ok()?)
    };
    Some((a.parse().ok()?, end))
}

fn respond(
    conn: &mut TcpStream,
    status: &str,
    headers: &[(&str, String)],
    body: &[u8],
    cut_after: Option<usize>,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes())?;
    conn.write_all(&body[..cut_after.unwrap_or(body.len()).min(body.len())])?;
    conn.flush()?;
    conn.shutdown(std::net::Shutdown::Both)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
