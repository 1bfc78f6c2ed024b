//! Downloads from a local server on 127.0.0.1 (the fetcher's base URL points at it): a good file, a
//! checksum mismatch, a cut transfer, a resumed `.part`, a 404, no network, and archives.

use fetch::testing::{Route, Server};
use fetch::{ArchiveKind, Expect, FetchError, Fetcher, Member, extract, hex, part_path};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

const UPSTREAM: &str = "https://data.example.org/sets";

fn sha(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Deterministic, poorly compressible bytes.
fn payload(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e3779b97f4a7c15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn serve(routes: &[(&str, Route)]) -> (Server, Fetcher) {
    let map: HashMap<String, Route> = routes
        .iter()
        .map(|(name, r)| (format!("/data.example.org/sets/{name}"), r.clone()))
        .collect();
    let server = Server::start(map, Duration::from_secs(60)).unwrap();
    let mut fetcher = Fetcher::with_timeouts(Duration::from_secs(5), Duration::from_secs(10))
        .with_base_url(Some(&server.url()));
    fetcher.progress = false;
    (server, fetcher)
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn a_good_download_lands_under_its_name_with_its_hash_and_no_part_file() {
    let body = payload(300_000);
    let (server, fetcher) = serve(&[("a.bin", Route::file(body.clone()))]);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("sub/a.bin");
    let got = fetcher
        .download(
            &format!("{UPSTREAM}/a.bin"),
            &dest,
            Expect {
                sha256: Some(&sha(&body)),
                size: Some(body.len() as u64),
            },
        )
        .unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), body);
    assert_eq!(got.sha256, sha(&body));
    assert_eq!(got.resumed_from, 0);
    assert_eq!(files_in(&dir.path().join("sub")), vec!["a.bin"]);
    assert_eq!(server.seen().len(), 1);
    assert_eq!(server.seen()[0].path, "/data.example.org/sets/a.bin");
}

#[test]
fn a_checksum_mismatch_is_a_clear_error_and_leaves_nothing_behind() {
    let body = payload(50_000);
    let (_server, fetcher) = serve(&[("b.bin", Route::file(body.clone()))]);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("b.bin");
    let wrong = sha(b"something else");
    let err = fetcher
        .download(
            &format!("{UPSTREAM}/b.bin"),
            &dest,
            Expect {
                sha256: Some(&wrong),
                size: None,
            },
        )
        .unwrap_err();
    assert!(matches!(err, FetchError::Checksum { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("b.bin"), "{msg}");
    assert!(msg.contains(&wrong) && msg.contains(&sha(&body)), "{msg}");
    assert!(msg.contains("nothing was written"), "{msg}");
    assert!(!msg.contains('\n'), "one line: {msg}");
    assert!(
        files_in(dir.path()).is_empty(),
        "{:?}",
        files_in(dir.path())
    );
}

#[test]
fn a_mismatch_keeps_the_previous_good_file_untouched() {
    let (_server, fetcher) = serve(&[("c.bin", Route::file(b"new and wrong".to_vec()))]);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("c.bin");
    std::fs::write(&dest, b"old and good").unwrap();
    let err = fetcher
        .download(
            &format!("{UPSTREAM}/c.bin"),
            &dest,
            Expect {
                sha256: Some(&sha(b"old and good")),
                size: None,
            },
        )
        .unwrap_err();
    assert!(matches!(err, FetchError::Checksum { .. }), "{err:?}");
    assert_eq!(std::fs::read(&dest).unwrap(), b"old and good");
    assert_eq!(files_in(dir.path()), vec!["c.bin"]);
}

#[test]
fn a_cut_transfer_resumes_with_a_range_request_from_where_it_stopped() {
    let body = payload(200_000);
    let cut_at = 70_000;
    let (server, fetcher) = serve(&[("d.bin", Route::file(body.clone()).cut(1, cut_at))]);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("d.bin");
    fetcher
        .download(
            &format!("{UPSTREAM}/d.bin"),
            &dest,
            Expect {
                sha256: Some(&sha(&body)),
                size: Some(body.len() as u64),
            },
        )
        .unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), body);
    let seen = server.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].range, None);
    assert_eq!(seen[1].range.as_deref(), Some("bytes=70000-"));
    assert_eq!(seen[1].status, 206);
    assert_eq!(files_in(dir.path()), vec!["d.bin"]);
}

#[test]
fn a_part_file_left_by_an_interrupted_run_is_continued_not_refetched() {
    let body = payload(120_000);
    let (server, fetcher) = serve(&[("e.bin", Route::file(body.clone()))]);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("e.bin");
    std::fs::File::create(part_path(&dest))
        .unwrap()
        .write_all(&body[..50_000])
        .unwrap();
    let got = fetcher
        .download(
            &format!("{UPSTREAM}/e.bin"),
            &dest,
            Expect {
                sha256: Some(&sha(&body)),
                size: Some(body.len() as u64),
            },
        )
        .unwrap();
    assert_eq!(got.resumed_from, 50_000);
    assert_eq!(std::fs::read(&dest).unwrap(), body);
    assert_eq!(server.seen()[0].range.as_deref(), Some("bytes=50000-"));
    assert!(!part_path(&dest).exists());
}

#[test]
fn a_transfer_cut_every_time_keeps_its_part_file_and_says_to_rerun() {
    let body = payload(100_000);
    let (_server, mut fetcher) = serve(&[("f.bin", Route::file(body.clone()).cut(10, 10_000))]);
    fetcher.attempts = 2;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("f.bin");
    let err = fetcher
        .download(
            &format!("{UPSTREAM}/f.bin"),
            &dest,
            Expect {
                sha256: Some(&sha(&body)),
                size: Some(body.len() as u64),
            },
        )
        .unwrap_err();
    assert!(matches!(err, FetchError::Cut { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("run the same command again to resume")
    );
    assert!(!dest.exists());
    // Two cuts of 10,000 bytes each: the part holds 20,000 bytes, a prefix of the file.
    let part = std::fs::read(part_path(&dest)).unwrap();
    assert_eq!(part, body[..20_000]);
}

#[test]
fn a_404_names_the_url_and_writes_nothing() {
    let (_server, fetcher) = serve(&[]);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("g.bin");
    let err = fetcher
        .download(&format!("{UPSTREAM}/g.bin"), &dest, Expect::default())
        .unwrap_err();
    assert!(
        matches!(err, FetchError::Status { status: 404, .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("HTTP 404") && msg.contains("/g.bin"), "{msg}");
    assert!(!err.is_offline());
    assert!(files_in(dir.path()).is_empty());
}

#[test]
fn no_server_listening_is_reported_as_offline() {
    // Take a free port, then close it: connections to it are refused.
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut fetcher = Fetcher::with_timeouts(Duration::from_secs(5), Duration::from_secs(5))
        .with_base_url(Some(&format!("http://127.0.0.1:{port}")));
    fetcher.progress = false;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("h.bin");
    let err = fetcher
        .download(&format!("{UPSTREAM}/h.bin"), &dest, Expect::default())
        .unwrap_err();
    assert!(err.is_offline(), "{err:?}");
    assert!(err.to_string().contains("no network"), "{err}");
    assert!(files_in(dir.path()).is_empty());
}

fn tar_gz(files: &[(&str, &[u8])]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, name, *data).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in files {
        zip.start_file(*name, opts).unwrap();
        zip.write_all(data).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn accept(_: &Path) -> Result<(), String> {
    Ok(())
}

#[test]
fn a_downloaded_tar_gz_and_zip_give_the_asked_members_under_their_new_names() {
    let (a, b) = (payload(5_000), payload(7_000));
    let archive = tar_gz(&[("top/a.bin", &a), ("top/b.bin", &b), ("top/skip", b"x")]);
    let zipped = zip_of(&[("Z/a.txt", b"alpha"), ("Z/b.txt", b"beta")]);
    let (_server, fetcher) = serve(&[
        ("t.tar.gz", Route::file(archive.clone())),
        ("z.zip", Route::file(zipped.clone())),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let tgz = dir.path().join("t.tar.gz");
    fetcher
        .download(
            &format!("{UPSTREAM}/t.tar.gz"),
            &tgz,
            Expect {
                sha256: Some(&sha(&archive)),
                size: None,
            },
        )
        .unwrap();
    let check_b = |p: &Path| {
        (std::fs::read(p).unwrap() == b)
            .then_some(())
            .ok_or("differs".to_string())
    };
    extract(
        &tgz,
        ArchiveKind::TarGz,
        &[
            Member {
                name: "top/a.bin",
                dest: dir.path().join("out/first.bin"),
                check: &accept,
            },
            Member {
                name: "top/b.bin",
                dest: dir.path().join("out/second.bin"),
                check: &check_b,
            },
        ],
    )
    .unwrap();
    assert_eq!(std::fs::read(dir.path().join("out/first.bin")).unwrap(), a);
    assert_eq!(std::fs::read(dir.path().join("out/second.bin")).unwrap(), b);
    assert_eq!(
        files_in(&dir.path().join("out")),
        ["first.bin", "second.bin"]
    );

    let z = dir.path().join("z.zip");
    fetcher
        .download(&format!("{UPSTREAM}/z.zip"), &z, Expect::default())
        .unwrap();
    extract(
        &z,
        ArchiveKind::Zip,
        &[Member {
            name: "Z/b.txt",
            dest: dir.path().join("zout/b.txt"),
            check: &accept,
        }],
    )
    .unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("zout/b.txt")).unwrap(),
        b"beta"
    );
}

#[test]
fn an_extracted_member_that_fails_its_check_is_not_left_under_its_name() {
    let archive = tar_gz(&[("x/data", b"corrupt content")]);
    let dir = tempfile::tempdir().unwrap();
    let tgz = dir.path().join("x.tar.gz");
    std::fs::write(&tgz, &archive).unwrap();
    let reject = |_: &Path| Err("sha256 differs from the registry".to_string());
    let err = extract(
        &tgz,
        ArchiveKind::TarGz,
        &[Member {
            name: "x/data",
            dest: dir.path().join("out/data"),
            check: &reject,
        }],
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("x/data failed its check"), "{msg}");
    assert!(msg.contains("sha256 differs from the registry"), "{msg}");
    assert!(files_in(&dir.path().join("out")).is_empty());
}

#[test]
fn a_member_missing_from_the_archive_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let tgz = dir.path().join("y.tar.gz");
    std::fs::write(&tgz, tar_gz(&[("y/one", b"1")])).unwrap();
    let err = extract(
        &tgz,
        ArchiveKind::TarGz,
        &[Member {
            name: "y/two",
            dest: dir.path().join("two"),
            check: &accept,
        }],
    )
    .unwrap_err();
    assert!(err.to_string().contains("does not contain y/two"), "{err}");
    assert!(!dir.path().join("two").exists());
}
