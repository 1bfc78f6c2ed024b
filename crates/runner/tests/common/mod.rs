//! Helpers shared by the end-to-end tests: running a sweep with given parallelism, and comparing
//! the result tables of two stores.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// Run `file`'s smoke profile into `out` with `jobs` runs at a time and `threads` rayon threads.
pub fn sweep(file: &Path, out: &Path, data: Option<&Path>, jobs: usize, threads: usize) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_runner"));
    cmd.args(["sweep", file.to_str().unwrap(), "--profile", "smoke"])
        .args(["--jobs", &jobs.to_string()])
        .args(["--out", out.join("runs").to_str().unwrap()])
        .args(["--results", out.join("results").to_str().unwrap()])
        .env("RAYON_NUM_THREADS", threads.to_string());
    if let Some(data) = data {
        cmd.args(["--data-dir", data.to_str().unwrap()]);
    }
    let res = cmd.output().expect("runner starts");
    assert!(
        res.status.success(),
        "jobs {jobs}, {threads} threads: {}{}",
        String::from_utf8_lossy(&res.stdout),
        String::from_utf8_lossy(&res.stderr)
    );
}

/// The gathered result tables of a store (`<sweep>.<table>.parquet`), timing tables excluded.
pub fn result_tables(store: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(store)
        .unwrap_or_else(|e| panic!("{}: {e}", store.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.ends_with(".parquet") && !name.ends_with(".timing.parquet")
        })
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

pub fn assert_identical(a: &[(String, Vec<u8>)], b: &[(String, Vec<u8>)], what: &str) {
    assert!(!a.is_empty(), "no result tables in {what}");
    let names = |t: &[(String, Vec<u8>)]| t.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(a), names(b), "{what}: different tables");
    for ((name, x), (_, y)) in a.iter().zip(b) {
        assert!(x == y, "{what}: {name} differs");
    }
}
