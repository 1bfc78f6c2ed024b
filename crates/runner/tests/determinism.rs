//! Same seed, same numbers: a sweep's result tables are bit-identical whatever `--jobs` and the
//! thread count (runs executing at once in one process share no random state). Timing tables
//! (`*.timing.parquet`: wall times, whether a cache was hit) are the only ones allowed to differ.

mod common;

use common::{assert_identical, result_tables, sweep};
use std::path::{Path, PathBuf};

fn synthetic_yaml() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/synthetic.yaml")
}

#[test]
fn the_synthetic_sweep_gives_identical_tables_whatever_jobs_and_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let configs = [(1, 1), (2, 2), (2, 1), (1, 2)];
    let mut tables = Vec::new();
    for (i, &(jobs, threads)) in configs.iter().enumerate() {
        let out = tmp.path().join(format!("run{i}"));
        sweep(&synthetic_yaml(), &out, None, jobs, threads);
        tables.push(result_tables(&out.join("runs/synthetic/smoke")));
    }
    for (i, t) in tables.iter().enumerate().skip(1) {
        let (jobs, threads) = configs[i];
        assert_identical(
            &tables[0],
            t,
            &format!("--jobs {jobs} with {threads} threads vs --jobs 1 with 1 thread"),
        );
    }
}
