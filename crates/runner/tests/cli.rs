//! The runner binary end to end: errors, resume after SIGKILL, shards and merge, failures, and the
//! theory experiment's smoke profile.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn runner() -> Command {
    Command::new(env!("CARGO_BIN_EXE_runner"))
}

fn run(args: &[&str]) -> Output {
    runner().args(args).output().expect("runner starts")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn selftest_file(dir: &Path, millis: u64, seeds: usize, fail_seed: i64) -> PathBuf {
    let seeds: Vec<String> = (0..seeds).map(|s| s.to_string()).collect();
    let path = dir.join("selftest.yaml");
    std::fs::write(
        &path,
        format!(
            "experiment: selftest\nsweeps:\n  - selftest:\n      seeds: [{}]\n      config: {{millis: {millis}, fail_seed: {fail_seed}}}\n      grid: {{x: [1.0, 2.5]}}\n",
            seeds.join(", ")
        ),
    )
    .unwrap();
    path
}

/// Finished runs: run id -> (run.json bytes, modification time).
fn finished_runs(
    store: &Path,
) -> std::collections::BTreeMap<String, (Vec<u8>, std::time::SystemTime)> {
    let mut out = std::collections::BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(store) else {
        return out;
    };
    for entry in entries.flatten() {
        let run_json = entry.path().join("run.json");
        if let Ok(bytes) = std::fs::read(&run_json) {
            let mtime = std::fs::metadata(&run_json).unwrap().modified().unwrap();
            out.insert(entry.file_name().into_string().unwrap(), (bytes, mtime));
        }
    }
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        }
        out.push(e.path());
    }
    out
}

#[test]
fn a_wrong_key_is_a_one_line_error_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "experiment: x\nsweeps:\n  - selftest:\n      config: {milis: 3}\n",
    )
    .unwrap();
    let out = run(&[
        "sweep",
        path.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("bad.yaml:4:")
            && err.contains("unknown field `milis`")
            && err.contains("`millis`"),
        "{err}"
    );
}

#[test]
fn a_missing_sweep_file_says_where_it_looked() {
    let out = run(&["sweep", "no-such-sweep.yaml"]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.contains("no-such-sweep.yaml not found")
            && err.contains("experiments/no-such-sweep.yaml"),
        "{err}"
    );
}

#[test]
fn a_sweep_killed_with_sigkill_resumes_without_losing_or_redoing_finished_runs() {
    let dir = tempfile::tempdir().unwrap();
    let file = selftest_file(dir.path(), 300, 6, -1); // 12 runs of 0.3 s
    let out = dir.path().join("runs");
    let store = out.join("selftest/default/selftest");
    let results = dir.path().join("results");
    let args = [
        "sweep",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--results",
        results.to_str().unwrap(),
    ];

    let mut child = runner()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while finished_runs(&store).len() < 4 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "runs never finished"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL on unix
    child.wait().unwrap();
    let before = finished_runs(&store);
    assert!(
        before.len() >= 4 && before.len() < 12,
        "killed too late: {} finished",
        before.len()
    );

    let out2 = run(&args);
    let (stdout, stderr) = text(&out2);
    assert!(out2.status.success(), "{stderr}");
    let k = before.len();
    assert!(
        stdout.contains(&format!("{k} were already finished, {} ran now", 12 - k)),
        "{stdout}"
    );
    let after = finished_runs(&store);
    assert_eq!(after.len(), 12);
    for (id, rec) in &before {
        assert_eq!(after.get(id), Some(rec), "finished run {id} was rewritten");
    }
    let listing = format!("{:?}", walk(&out));
    assert!(
        !listing.contains(".tmp-"),
        "temporary files left: {listing}"
    );
    let csv = std::fs::read_to_string(out.join("selftest/default/selftest.values.csv")).unwrap();
    assert_eq!(csv.lines().count(), 13, "header + 12 runs: {csv}");
}

#[test]
fn shards_split_the_sweep_and_merge_joins_them() {
    let dir = tempfile::tempdir().unwrap();
    let file = selftest_file(dir.path(), 0, 3, -1); // 6 runs
    let f = file.to_str().unwrap();
    let (a, b, merged) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("merged"),
    );
    let results = dir.path().join("results");
    for (shard, out) in [("0/2", &a), ("1/2", &b)] {
        let o = run(&[
            "sweep",
            f,
            "--shard",
            shard,
            "--out",
            out.to_str().unwrap(),
            "--results",
            results.to_str().unwrap(),
        ]);
        let (stdout, stderr) = text(&o);
        assert!(o.status.success(), "{stderr}");
        assert!(
            stdout.contains("6 runs in the sweep, 3 in this shard"),
            "{stdout}"
        );
        assert!(
            stderr.contains("runner merge"),
            "an incomplete sweep must say how to finish: {stderr}"
        );
    }
    assert!(!results.exists(), "no report before every shard is merged");
    let a_ids: Vec<String> = finished_runs(&a.join("selftest/default/selftest"))
        .into_keys()
        .collect();
    let b_ids: Vec<String> = finished_runs(&b.join("selftest/default/selftest"))
        .into_keys()
        .collect();
    assert_eq!(a_ids.len() + b_ids.len(), 6);
    assert!(a_ids.iter().all(|id| !b_ids.contains(id)), "shards overlap");

    let o = run(&[
        "merge",
        "--into",
        merged.to_str().unwrap(),
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    assert!(
        text(&o).0.contains("merged 6 finished runs"),
        "{:?}",
        text(&o)
    );
    let o = run(&[
        "report",
        f,
        "--out",
        merged.to_str().unwrap(),
        "--results",
        results.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{:?}", text(&o));
    // values = x * (seed + 1) for x in {1, 2.5} and seeds 0..3: 3.5 * (1 + 2 + 3) = 21.
    let md = std::fs::read_to_string(results.join("selftest/selftest.md")).unwrap();
    assert!(md.contains("| selftest | 6 | 21 |"), "{md}");
}

#[test]
fn report_refuses_unfinished_sweeps_and_says_what_to_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = selftest_file(dir.path(), 0, 2, -1);
    let o = run(&[
        "report",
        file.to_str().unwrap(),
        "--out",
        dir.path().join("empty").to_str().unwrap(),
    ]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err.contains("4 of 4 runs") && err.contains("runner sweep"),
        "{err}"
    );
}

#[test]
fn a_failing_run_fails_the_sweep_but_keeps_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let file = selftest_file(dir.path(), 0, 3, 1); // seed 1 fails for both values of x
    let out = dir.path().join("runs");
    let o = run(&[
        "sweep",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--jobs",
        "2",
    ]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err.contains("2 of 6 runs failed")
            && err.contains("failed on purpose")
            && err.contains("log.txt"),
        "{err}"
    );
    assert_eq!(
        finished_runs(&out.join("selftest/default/selftest")).len(),
        4
    );
}

fn theory_yaml() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/theory.yaml")
}

fn read_csv(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

#[test]
fn theory_smoke_profile_end_to_end_reproducibly() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    for out in ["runs1", "runs2"] {
        let o = run(&[
            "sweep",
            theory_yaml().to_str().unwrap(),
            "--profile",
            "smoke",
            "--jobs",
            "2",
            "--out",
            dir.path().join(out).to_str().unwrap(),
            "--results",
            results.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{:?}", text(&o));
    }
    let fig_dir = results.join("theory-smoke");
    for stem in [
        "theorem1_gradient_vs_std",
        "theorem1_ratio_and_optimality",
        "theorem2_time_to_fit",
        "theorem2_trajectories",
    ] {
        for ext in ["png", "svg"] {
            let p = fig_dir.join(format!("{stem}.{ext}"));
            assert!(
                std::fs::metadata(&p)
                    .map(|m| m.len() > 10_000)
                    .unwrap_or(false),
                "{} missing or tiny",
                p.display()
            );
        }
    }
    // Theorem 1: every setting's largest ratio to the bound is at most 1.
    let t1 = read_csv(&fig_dir.join("theorem1_bound.csv"));
    let col = t1[0].iter().position(|h| h == "max ratio").unwrap();
    assert_eq!(t1.len(), 4, "header + three settings");
    for row in &t1[1..] {
        let ratio: f64 = row[col].parse().unwrap();
        assert!(ratio > 0.0 && ratio <= 1.0, "{row:?}");
    }
    // Theorem 2: the RFT exponent is near -2.
    let t2 = read_csv(&fig_dir.join("theorem2_rates.csv"));
    let col = t2[0]
        .iter()
        .position(|h| h.starts_with("exponent"))
        .unwrap();
    let rft: Vec<&Vec<String>> = t2[1..].iter().filter(|r| r[0] == "RFT").collect();
    assert_eq!(rft.len(), 2);
    for row in rft {
        let exponent: f64 = row[col].parse().unwrap();
        assert!((exponent + 2.0).abs() < 0.2, "{row:?}");
    }
    // Same seed, same backend: the same numbers in two independent stores.
    for table in ["theorem2.fits.csv", "theorem1_neural.instances.csv"] {
        let a = std::fs::read(dir.path().join("runs1/theory/smoke").join(table)).unwrap();
        let b = std::fs::read(dir.path().join("runs2/theory/smoke").join(table)).unwrap();
        assert_eq!(a, b, "{table} differs between two identical sweeps");
    }
}

#[test]
fn score_prints_one_json_line_per_input_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(
        &input,
        "{\"prediction\": \"the cat sat on the mat\", \"references\": [\"the cat sat on the mat\"]}\n\
         {\"prediction\": \"a dog\", \"references\": [\"the cat sat on the mat\"]}\n",
    )
    .unwrap();
    let o = run(&[
        "score",
        "--metric",
        "f1",
        "--input",
        input.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    let scores: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(scores.len(), 2);
    assert_eq!(scores[0]["score"], 1.0);
    assert_eq!(scores[1]["score"], 0.0);

    let o = run(&[
        "score",
        "--metric",
        "blue",
        "--input",
        input.to_str().unwrap(),
    ]);
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr.contains("blue") && stderr.contains("sacre_bleu"),
        "{stderr}"
    );
}
