//! A small HTTP/1.1 file server for tests: binds 127.0.0.1 only, serves in-memory files with
//! `Range` support, can cut a transfer short, records every request, and stops when dropped or
//! after a deadline (so a failing test never leaves it running).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How the server answers one path.
#[derive(Debug, Clone)]
pub struct Route {
    pub body: Vec<u8>,
    /// For the first this-many requests, send the headers of the whole answer but only the first
    /// `cut_at` bytes of it, then close the connection.
    pub cut_times: usize,
    pub cut_at: usize,
}

impl Route {
    pub fn file(body: Vec<u8>) -> Self {
        Self {
            body,
            cut_times: 0,
            cut_at: 0,
        }
    }
    /// Cut the first `times` answers after `at` bytes.
    pub fn cut(mut self, times: usize, at: usize) -> Self {
        self.cut_times = times;
        self.cut_at = at;
        self
    }
}

/// One request the server saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub path: String,
    /// The `Range` header, if any.
    pub range: Option<String>,
    pub status: u16,
}

/// A running server; stops when dropped.
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Seen>>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Serve `routes` (path -> route, paths start with `/`) on 127.0.0.1 for at most `deadline`.
    pub fn start(routes: HashMap<String, Route>, deadline: Duration) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (stop2, seen2) = (stop.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            let end = Instant::now() + deadline;
            let mut routes = routes;
            while !stop2.load(Ordering::SeqCst) && Instant::now() < end {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let _ = serve(stream, &mut routes, &seen2);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Ok(Self {
            addr,
            stop,
            seen,
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The requests seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(
    stream: TcpStream,
    routes: &mut HashMap<String, Route>,
    seen: &Mutex<Vec<Seen>>,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut range = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.trim().eq_ignore_ascii_case("range")
        {
            range = Some(v.trim().to_string());
        }
    }
    let mut out = stream;
    let Some(route) = routes.get_mut(&path) else {
        seen.lock().unwrap().push(Seen {
            path,
            range,
            status: 404,
        });
        let body = b"not found";
        write!(
            out,
            "HTTP/1.1 404 Not Found\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )?;
        return out.write_all(body);
    };
    let total = route.body.len();
    let start = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|s| s.parse::<usize>().ok());
    let (status, head, slice) = match start {
        Some(s) if s >= total => (
            416,
            format!(
                "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{total}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            ),
            &route.body[0..0],
        ),
        Some(s) => (
            206,
            format!(
                "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {s}-{}/{total}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                total - 1,
                total - s
            ),
            &route.body[s..],
        ),
        None => (
            200,
            format!("HTTP/1.1 200 OK\r\nContent-Length: {total}\r\nConnection: close\r\n\r\n"),
            &route.body[..],
        ),
    };
    seen.lock().unwrap().push(Seen {
        path,
        range,
        status,
    });
    out.write_all(head.as_bytes())?;
    if route.cut_times > 0 && status != 416 {
        route.cut_times -= 1;
        let n = route.cut_at.min(slice.len());
        out.write_all(&slice[..n])?;
        out.flush()?;
        return out.shutdown(std::net::Shutdown::Both);
    }
    out.write_all(slice)?;
    out.flush()
}
