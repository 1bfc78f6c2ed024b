//! Hostile inputs and concurrent runs (issue 17): each test below failed before the fix.
//! - TER on two 200,000-word texts: scored in bounded memory (was: a 320 GB allocation, abort);
//! - a JSONL line without `references`, or with an empty list: an error naming file, line and
//!   field (was: a silent 0.0);
//! - `--jobs 0`: an error (was: accepted);
//! - two `runner sweep` processes on one run store: every run executed once, nothing fails
//!   (was: runs executed twice, runs clearing each other's directories); stale locks of killed
//!   processes are recovered, live ones respected.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn runner() -> Command {
    Command::new(env!("CARGO_BIN_EXE_runner"))
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
#[cfg(unix)]
fn ter_scores_two_200000_word_texts_within_4_gib_of_address_space() {
    let dir = tempfile::tempdir().unwrap();
    let n = 200_000;
    let hyp: Vec<String> = (0..n).map(|i| format!("w{}", i % 5000)).collect();
    let mut rf = hyp.clone();
    for w in rf.iter_mut().skip(n - 3) {
        *w = "new".into();
    }
    let line = serde_json::json!({"prediction": hyp.join(" "), "references": [rf.join(" ")]});
    let input = dir.path().join("long.jsonl");
    std::fs::write(&input, format!("{line}\n")).unwrap();
    // `ulimit -v`: the whole process gets 4 GiB of address space (the full matrix was 320 GB).
    let o = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 4194304 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_runner"))
        .args(["score", "--metric", "ter", "--input"])
        .arg(&input)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let score = v["score"].as_f64().unwrap();
    assert!((score - 100.0 * 3.0 / n as f64).abs() < 1e-12, "{score}");
}

fn score_error(metric: &str, content: &str) -> (String, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pairs.jsonl");
    std::fs::write(&input, content).unwrap();
    let o = runner()
        .args(["score", "--metric", metric, "--input"])
        .arg(&input)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        stdout.is_empty(),
        "scores printed before the error: {stdout}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    (stderr, input, dir)
}

#[test]
fn a_jsonl_line_without_references_is_an_error_naming_the_file_line_and_field() {
    let (err, input, _dir) = score_error(
        "sacre_bleu",
        "{\"prediction\": \"a\", \"references\": [\"a\"]}\n{\"prediction\": \"the cat\"}\n",
    );
    assert!(
        err.contains(input.to_str().unwrap())
            && err.contains("line 2")
            && err.contains("missing field \"references\""),
        "{err}"
    );
}

#[test]
fn an_empty_references_list_is_an_error_not_a_zero_score() {
    let (err, input, _dir) = score_error(
        "rouge_l_max",
        "\n{\"prediction\": \"the cat\", \"references\": []}\n",
    );
    assert!(
        err.contains(input.to_str().unwrap())
            && err.contains("line 2")
            && err.contains("\"references\" is an empty list"),
        "{err}"
    );
}

fn selftest_file(dir: &Path, millis: u64, seeds: usize) -> PathBuf {
    let seeds: Vec<String> = (0..seeds).map(|s| s.to_string()).collect();
    let path = dir.join("selftest.yaml");
    std::fs::write(
        &path,
        format!(
            "experiment: selftest\nsweeps:\n  - selftest:\n      seeds: [{}]\n      config: {{millis: {millis}, x: 1.5, fail_seed: -1}}\n",
            seeds.join(", ")
        ),
    )
    .unwrap();
    path
}

#[test]
fn jobs_zero_is_an_error_that_says_what_to_use() {
    let dir = tempfile::tempdir().unwrap();
    let file = selftest_file(dir.path(), 0, 1);
    let out = dir.path().join("runs");
    let o = runner()
        .args(["sweep", file.to_str().unwrap(), "--jobs", "0", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--jobs") && err.contains("--jobs 1"), "{err}");
    assert!(!out.exists(), "a run was started");
}

/// Run id -> (run.json bytes, modification time) of the finished runs in a sweep directory.
fn finished_runs(
    store: &Path,
) -> std::collections::BTreeMap<String, (Vec<u8>, std::time::SystemTime)> {
    let mut out = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(store).into_iter().flatten().flatten() {
        let run_json = entry.path().join("run.json");
        if let Ok(bytes) = std::fs::read(&run_json) {
            let mtime = std::fs::metadata(&run_json).unwrap().modified().unwrap();
            out.insert(entry.file_name().into_string().unwrap(), (bytes, mtime));
        }
    }
    out
}

fn sweep_args(file: &Path, out: &Path, results: &Path, jobs: &str) -> Vec<String> {
    [
        "sweep",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--results",
        results.to_str().unwrap(),
        "--jobs",
        jobs,
    ]
    .map(str::to_string)
    .to_vec()
}

/// Lines `finished selftest/<id> ...` a sweep printed: the runs it executed.
fn executed(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("finished selftest/"))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect()
}

#[test]
fn two_sweeps_on_one_store_execute_every_run_once_and_both_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let file = selftest_file(dir.path(), 300, 7); // 7 runs of 0.3 s
    let out = dir.path().join("runs");
    let results = dir.path().join("results");
    let spawn = |jobs: &str| {
        runner()
            .args(sweep_args(&file, &out, &results, jobs))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn("2"), spawn("1"));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let ((_, ea), (_, eb)) = (text(&a), text(&b));
    assert!(
        a.status.success() && b.status.success(),
        "A:\n{ea}\nB:\n{eb}"
    );
    let mut all = executed(&ea);
    all.extend(executed(&eb));
    all.sort();
    let n = all.len();
    all.dedup();
    assert_eq!(
        n, 7,
        "runs executed (some twice?): {all:?}\nA:\n{ea}\nB:\n{eb}"
    );
    assert_eq!(all.len(), 7);
    // Each process accounts for every run: executed it, skipped it (held by the other, or
    // finished by it meanwhile), or found it finished when it started.
    for (o, e) in [(&a, &ea), (&b, &eb)] {
        let stdout = text(o).0;
        let already: usize = stdout
            .split(" were already finished")
            .next()
            .and_then(|s| s.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{stdout}"));
        let skipped = e.matches("; skipped").count();
        assert_eq!(executed(e).len() + skipped + already, 7, "{stdout}\n{e}");
    }
    let store = out.join("selftest/default/selftest");
    let finished = finished_runs(&store);
    assert_eq!(finished.len(), 7);
    let leftovers: Vec<_> = std::fs::read_dir(&store)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".lock") || n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // The last process to finish wrote the report.
    assert!(results.join("selftest/selftest.md").is_file());

    // A third sweep finds everything finished and rewrites nothing.
    let o = runner()
        .args(sweep_args(&file, &out, &results, "1"))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stdout.contains("7 were already finished, 0 ran now"),
        "{stdout}"
    );
    assert_eq!(finished_runs(&store), finished);
}

fn write_lock(store: &Path, run_id: &str, pid: u32, host: &str) -> PathBuf {
    std::fs::create_dir_all(store).unwrap();
    let path = store.join(format!("{run_id}.lock"));
    std::fs::write(
        &path,
        serde_json::json!({"pid": pid, "host": host}).to_string(),
    )
    .unwrap();
    path
}

fn run_ids(file: &Path, out: &Path) -> Vec<String> {
    let o = runner()
        .args([
            "list",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    text(&o)
        .0
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect()
}

#[test]
fn a_stale_lock_of_a_killed_process_is_recovered_and_a_live_one_respected() {
    let dir = tempfile::tempdir().unwrap();
    let file = selftest_file(dir.path(), 0, 3);
    let out = dir.path().join("runs");
    let results = dir.path().join("results");
    let store = out.join("selftest/default/selftest");
    let ids = run_ids(&file, &out);
    assert_eq!(ids.len(), 3);
    let host = runner::lock::hostname();
    // Run 0: a lock left by a dead pid (above any pid_max) on this host; run 1: a lock held by
    // this live test process.
    write_lock(&store, &ids[0], 4_194_999, &host);
    let live = write_lock(&store, &ids[1], std::process::id(), &host);
    let o = runner()
        .args(sweep_args(&file, &out, &results, "1"))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "run selftest/{}: recovered the stale lock of pid 4194999 on {host}",
            ids[0]
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "run selftest/{} is being executed by pid {} on {host}; skipped",
            ids[1],
            std::process::id()
        )),
        "{stderr}"
    );
    assert!(stdout.contains("2 ran now, 1 skipped"), "{stdout}");
    let finished = finished_runs(&store);
    assert!(finished.contains_key(&ids[0]) && !finished.contains_key(&ids[1]));
    assert!(
        !results.join("selftest").exists(),
        "reported before every run finished"
    );

    // Once the holder lets go, the next sweep runs it and reports.
    std::fs::remove_file(live).unwrap();
    let o = runner()
        .args(sweep_args(&file, &out, &results, "1"))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stdout.contains("2 were already finished, 1 ran now."),
        "{stdout}"
    );
    assert_eq!(finished_runs(&store).len(), 3);
}

#[test]
fn a_failed_run_is_marked_failed_and_listed_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fail.yaml");
    std::fs::write(
        &path,
        "experiment: selftest\nsweeps:\n  - selftest:\n      seeds: [0, 1]\n      config: {millis: 0, x: 1.0, fail_seed: 1}\n",
    )
    .unwrap();
    let out = dir.path().join("runs");
    let o = runner()
        .args([
            "sweep",
            path.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = runner()
        .args([
            "list",
            path.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let (stdout, _) = text(&o);
    let status: Vec<&str> = stdout
        .lines()
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(status, ["finished", "failed"], "{stdout}");
    let store = out.join("selftest/default/selftest");
    let failed: Vec<PathBuf> = std::fs::read_dir(&store)
        .unwrap()
        .flatten()
        .map(|e| e.path().join("failed.json"))
        .filter(|p| p.is_file())
        .collect();
    assert_eq!(failed.len(), 1);
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&failed[0]).unwrap()).unwrap();
    assert!(
        record["error"]
            .as_str()
            .unwrap()
            .contains("failed on purpose"),
        "{record}"
    );
}
