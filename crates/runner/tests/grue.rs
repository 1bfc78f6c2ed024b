//! The GRUE experiments end to end: the `reward_std` sweep (Figure 1) and the `grue` sweep (Table 1,
//! Figure 2) on their smoke profiles, `runner diagnose` on a task and on a user's file, and
//! diagnose's errors. Tests that read the GRUE data print SKIPPED when `RFT_DATA_DIR` does not
//! hold it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn data_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("RFT_DATA_DIR")?);
    let needed = [
        "commongen/commongen.train.src_alpha.txt",
        "dailydialog/train/dialogues_train.txt",
        "wikitext-2/valid.txt",
        "imdb/imdb_train_subset.csv",
    ];
    if needed.iter().all(|f| dir.join(f).is_file()) {
        Some(dir)
    } else {
        eprintln!("SKIPPED: RFT_DATA_DIR does not hold the GRUE data");
        None
    }
}

fn runner(args: &[&str], data: Option<&Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_runner"));
    cmd.current_dir(root()).args(args);
    if let Some(d) = data {
        cmd.env("RFT_DATA_DIR", d);
    }
    cmd.output().expect("runner starts")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `runner sweep FILE --profile smoke --jobs JOBS` into the store `dir/runs` and results
/// `dir/results`; asserts it succeeded and returns the results directory.
fn smoke_sweep(file: &str, jobs: usize, dir: &Path, data: &Path) -> PathBuf {
    let (runs, results) = (dir.join("runs"), dir.join("results"));
    let jobs = jobs.to_string();
    let o = runner(
        &[
            "sweep",
            file,
            "--profile",
            "smoke",
            "--jobs",
            &jobs,
            "--out",
            runs.to_str().unwrap(),
            "--results",
            results.to_str().unwrap(),
        ],
        Some(data),
    );
    assert!(o.status.success(), "{file}: {}", stderr(&o));
    results
}

#[test]
fn the_reward_std_smoke_sweep_measures_every_task_and_draws_figure_1() {
    let Some(data) = data_dir() else { return };
    let out = tempfile::tempdir().unwrap();
    let results = smoke_sweep("reward_std.yaml", 1, out.path(), &data);
    let dir = results.join("reward_std-smoke");
    let table = std::fs::read_to_string(dir.join("reward_std.md")).unwrap();
    for task in [
        "NarrativeQA",
        "CommonGen",
        "IWSLT 2017 en-de",
        "DailyDialog",
        "IMDB",
    ] {
        assert!(
            table.contains(&format!("| {task} |")),
            "{task} missing from\n{table}"
        );
    }
    assert!(table.contains("mini models pretrained here"));
    assert!(dir.join("reward_std.png").is_file() && dir.join("reward_std.svg").is_file());
    // Every input row has its samples' rewards, and the std is theirs.
    let inputs = std::fs::read_dir(dir.join("data"))
        .unwrap()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().contains("inputs"));
    assert!(inputs, "per-input data kept beside the figure");

    // Same seed, same numbers: two runs at a time give the tables one at a time gave.
    let results2 = smoke_sweep("reward_std.yaml", 2, &out.path().join("two"), &data);
    common::assert_identical(
        &common::result_tables(&dir.join("data")),
        &common::result_tables(&results2.join("reward_std-smoke").join("data")),
        "reward_std smoke, --jobs 1 vs --jobs 2",
    );
}

#[test]
fn diagnose_writes_the_table_the_figure_and_an_actionable_summary() {
    let Some(data) = data_dir() else { return };
    let out = tempfile::tempdir().unwrap();
    let store = out.path().join("runs");
    let diag = out.path().join("diag");
    let o = runner(
        &[
            "diagnose",
            "--checkpoint",
            "pretrained:gpt2-mini@smoke",
            "--task",
            "dailydialog",
            "--inputs",
            "4",
            "--samples",
            "3",
            "--store",
            store.to_str().unwrap(),
            "--out",
            diag.to_str().unwrap(),
        ],
        Some(&data),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    for f in [
        "per_input.parquet",
        "per_input.csv",
        "per_input_by_std.csv",
        "reward_std.png",
        "reward_std.svg",
        "summary.md",
    ] {
        assert!(diag.join(f).is_file(), "{f}");
    }
    let csv = std::fs::read_to_string(diag.join("per_input.csv")).unwrap();
    assert_eq!(
        csv.lines().count(),
        5,
        "a header and one row per input:\n{csv}"
    );
    // The same rows, smallest reward std first: the order targeted SFT labels inputs in.
    let by_std = std::fs::read_to_string(diag.join("per_input_by_std.csv")).unwrap();
    let std_col = |text: &str| -> Vec<f64> {
        let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
        let col = header.iter().position(|h| *h == "reward_std").unwrap();
        text.lines()
            .skip(1)
            .map(|l| l.split(',').nth(col).unwrap().parse().unwrap())
            .collect()
    };
    let stds = std_col(&by_std);
    assert_eq!(stds.len(), 4, "{by_std}");
    assert!(stds.windows(2).all(|w| w[0] <= w[1]), "{by_std}");
    let mut unsorted = std_col(&csv);
    unsorted.sort_by(f64::total_cmp);
    assert_eq!(unsorted, stds);
    let summary = std::fs::read_to_string(diag.join("summary.md")).unwrap();
    assert!(
        summary.contains("4 inputs x 3 samples") && summary.contains("SFT"),
        "{summary}"
    );

    // A user's own inputs with a reference-based reward.
    let input = out.path().join("prompts.jsonl");
    std::fs::write(&input, "{\"prompt\": \"The cat\", \"references\": [\"sat on the mat\"]}\n\n{\"prompt\": \"Hello\", \"references\": [\"world\"]}\n").unwrap();
    let diag2 = out.path().join("diag2");
    let o = runner(
        &[
            "diagnose",
            "--checkpoint",
            "pretrained:gpt2-mini@smoke",
            "--input",
            input.to_str().unwrap(),
            "--reward",
            "meteor",
            "--samples",
            "2",
            "--max-new-tokens",
            "4",
            "--store",
            store.to_str().unwrap(),
            "--out",
            diag2.to_str().unwrap(),
        ],
        Some(&data),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(diag2.join("per_input.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
}

#[test]
fn diagnose_errors_say_what_is_wrong_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let check = |args: &[&str], expect: &str| {
        let o = runner(args, None);
        assert!(!o.status.success());
        let err = stderr(&o);
        assert!(err.contains(expect), "expected {expect:?} in {err}");
        assert!(!err.contains("panicked"), "{err}");
    };
    check(
        &["diagnose", "--checkpoint", "x", "--task", "squad"],
        "known tasks: narrative_qa",
    );
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "\n").unwrap();
    check(
        &[
            "diagnose",
            "--checkpoint",
            "x",
            "--input",
            empty.to_str().unwrap(),
            "--reward",
            "meteor",
        ],
        "no input lines",
    );
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"prompt\": \"a\"}\n{\"prompt\": 3}\n").unwrap();
    check(
        &[
            "diagnose",
            "--checkpoint",
            "x",
            "--input",
            bad.to_str().unwrap(),
            "--reward",
            "meteor",
        ],
        "bad.jsonl:2",
    );
    check(
        &[
            "diagnose",
            "--checkpoint",
            "x",
            "--input",
            bad.to_str().unwrap(),
        ],
        "--reward",
    );
    check(&["diagnose", "--checkpoint", "x"], "--task TASK or --input");
    check(
        &[
            "diagnose",
            "--checkpoint",
            "pretrained:nope",
            "--input",
            bad.to_str().unwrap(),
            "--reward",
            "meteor",
        ],
        "bad.jsonl:2",
    );
}

#[test]
fn the_grue_smoke_sweep_writes_table_1_and_figure_2_and_is_the_same_with_two_jobs() {
    let Some(data) = data_dir() else { return };
    let out = tempfile::tempdir().unwrap();
    let dir = smoke_sweep("grue.yaml", 1, &out.path().join("one"), &data).join("grue-smoke");
    let table = std::fs::read_to_string(dir.join("table1.md")).unwrap();
    for task in ["CommonGen", "DailyDialog"] {
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("| {task} |")))
            .unwrap_or_else(|| panic!("{task} missing from\n{table}"));
        // every model's train and test reward is there, as mean ± std
        assert_eq!(row.matches(" ± ").count(), 1 + 8, "{row}");
    }
    assert!(table.contains("Mini models pretrained here") && table.contains("Spearman"));
    for f in [
        "figure2.png",
        "figure2.svg",
        "figure2.md",
        "track.png",
        "speed.md",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let fig2 = std::fs::read_to_string(dir.join("figure2.md")).unwrap();
    assert!(
        fig2.contains("| CommonGen | pretrained |") && fig2.contains("| CommonGen | SFT |"),
        "{fig2}"
    );

    let dir2 = smoke_sweep("grue.yaml", 2, &out.path().join("two"), &data).join("grue-smoke");
    common::assert_identical(
        &common::result_tables(&dir.join("data")),
        &common::result_tables(&dir2.join("data")),
        "grue smoke, --jobs 1 vs --jobs 2",
    );
}

#[test]
fn the_section_5_smoke_sweeps_write_table_2_beside_the_paper_and_the_partial_sft_heatmap() {
    let Some(data) = data_dir() else { return };
    let out = tempfile::tempdir().unwrap();
    let mut results = PathBuf::new();
    for file in ["heuristics.yaml", "partial_sft.yaml"] {
        results = smoke_sweep(file, 1, out.path(), &data);
    }
    let table =
        std::fs::read_to_string(results.join("heuristics-smoke/table2_commongen.md")).unwrap();
    for (row, paper) in [
        ("RFT", "0.101 ± 0.009"),
        ("SFT + RFT", "0.537 ± 0.005"),
        ("RFT, learning rate x10", "0.012"),
        ("RFT, learning rate x1000", "0.039"),
        ("RFT, temperature 2.5", "0.044"),
        ("RFT, entropy coefficient 0.1", "0.024"),
    ] {
        let line = table
            .lines()
            .find(|l| l.starts_with(&format!("| {row} |")))
            .unwrap_or_else(|| panic!("{row} missing from\n{table}"));
        assert!(line.contains(paper), "{line}");
    }
    assert!(table.contains("Verdict"), "{table}");
    let heat = results.join("partial_sft-smoke");
    for f in [
        "partial_sft_commongen.png",
        "partial_sft_commongen.svg",
        "partial_sft_commongen.md",
    ] {
        assert!(heat.join(f).is_file(), "{f} missing");
    }
    let md = std::fs::read_to_string(heat.join("partial_sft_commongen.md")).unwrap();
    assert!(
        md.contains("| train | 50 |") && md.contains("| test | 100 |"),
        "{md}"
    );
    // Both splits' references are in the caption: a test row of dashes must be explainable.
    let references = md
        .split("Reference, RFT after full SFT: train ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("no references in\n{md}"));
    assert!(references.contains(", test "), "{references}");
}

#[test]
fn the_remedies_smoke_sweep_runs_every_remedy_and_draws_one_table_and_one_figure() {
    let Some(data) = data_dir() else { return };
    let out = tempfile::tempdir().unwrap();
    let results = smoke_sweep("remedies.yaml", 2, out.path(), &data);
    let dir = results.join("remedies-smoke");
    for f in [
        "remedies_commongen.png",
        "remedies_commongen.svg",
        "remedies_commongen.md",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let md = std::fs::read_to_string(dir.join("remedies_commongen.md")).unwrap();
    for (remedy, labels) in [
        ("RFT (PPO)", "0"),
        ("SFT → RFT", "4 of 4"),
        ("GRPO", "0"),
        ("Dr. GRPO", "0"),
        ("RLOO", "0"),
        ("DAPO (dynamic sampling)", "0"),
        ("partial SFT (1% of labels) → RFT", "1 of 4"),
        ("targeted SFT (25%, smallest std) → RFT", "1 of 4"),
        ("random SFT (25%) → RFT", "1 of 4"),
    ] {
        let line = md
            .lines()
            .find(|l| l.starts_with(&format!("| {remedy} |")))
            .unwrap_or_else(|| panic!("{remedy} missing from\n{md}"));
        assert!(
            line.starts_with(&format!("| {remedy} | {labels} |")),
            "{line}"
        );
    }
    // One seed: no comparison can be made, and the caption says so.
    assert!(
        md.contains("Targeted SFT (labels for the 1 inputs")
            && md.contains("not comparable (fewer than two seeds)"),
        "{md}"
    );
    assert!(md.contains("DAPO's dynamic sampling against GRPO"), "{md}");
    // The group policy gradients log how many groups they sampled; PPO does not.
    let groups = |remedy: &str| -> f64 {
        let line = md
            .lines()
            .find(|l| l.starts_with(&format!("| {remedy} |")))
            .unwrap();
        line.split('|').nth(8).unwrap().trim().parse().unwrap()
    };
    assert_eq!(groups("GRPO"), 2.0, "{md}");
    // DAPO refills the batch when a group's rewards are all equal (every smoke group is).
    assert!(groups("DAPO (dynamic sampling)") > 2.0, "{md}");
    // Targeted SFT measures the pretrained model to choose its labels; random SFT does not.
    let store = out.path().join("runs/remedies/smoke");
    let phases =
        |sweep: &str| std::fs::read_to_string(store.join(format!("{sweep}.track.csv"))).unwrap();
    assert!(phases("targeted_sft").contains(",pretrained,0"));
    assert!(!phases("random_sft").contains(",pretrained,"));

    // Same seed, same numbers: one run at a time gives the tables two at a time gave.
    let one = smoke_sweep("remedies.yaml", 1, &out.path().join("one"), &data);
    common::assert_identical(
        &common::result_tables(&dir.join("data")),
        &common::result_tables(&one.join("remedies-smoke").join("data")),
        "remedies smoke, --jobs 2 vs --jobs 1",
    );
}

#[test]
fn runner_rl4lms_runs_a_papers_ppo_and_supervised_config_and_refuses_what_it_cannot_run() {
    let Some(data) = data_dir() else { return };
    let out = tempfile::tempdir().unwrap();
    let cfg = |p: &str| format!("crates/rl4lms/ml-rlgrad/training/{p}");
    let run = |file: &str, extra: &[&str]| -> Output {
        let mut args = vec![
            "rl4lms".to_string(),
            cfg(file),
            "--train-inputs".into(),
            "3".into(),
            "--test-inputs".into(),
            "2".into(),
            "--samples".into(),
            "2".into(),
            "--out".into(),
            out.path().join("runs").display().to_string(),
            "--results".into(),
            out.path().join("results").display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        runner(&refs, Some(&data))
    };
    let o = run(
        "dialog/gpt2_ppo.yml",
        &[
            "--override",
            "alg.policy.args.model_name=pretrained:gpt2-mini@smoke",
            "--override",
            "train_evaluation.n_iters=2",
            "--override",
            "env.n_envs=2",
            "--override",
            "alg.args.n_steps=2",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let table =
        std::fs::read_to_string(out.path().join("results/rl4lms-gpt2_ppo/table1.md")).unwrap();
    assert!(table.contains("| DailyDialog |"), "{table}");
    let sweep = std::fs::read_to_string(out.path().join("runs/rl4lms/gpt2_ppo.yaml")).unwrap();
    assert!(
        sweep.contains("method: rft") && sweep.contains("config_file:"),
        "{sweep}"
    );

    let o = run(
        "common_gen/t5_supervised.yml",
        &[
            "--override",
            "alg.model_name=pretrained:t5-mini@smoke",
            "--override",
            "alg.training_args.num_train_epochs=1",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let table =
        std::fs::read_to_string(out.path().join("results/rl4lms-t5_supervised/table1.md")).unwrap();
    let row = table
        .lines()
        .find(|l| l.starts_with("| CommonGen |"))
        .unwrap();
    assert_eq!(
        row.matches(" ± ").count(),
        2,
        "SFT train and test only: {row}"
    );

    for (file, why) in [
        ("dialog/gpt2_nlpo.yml", "NLPO"),
        ("common_gen/t5_ppo_on_supervised.yml", "placeholder"),
    ] {
        let o = run(file, &[]);
        assert!(!o.status.success());
        let err = stderr(&o);
        // one error line (after the warning naming the metrics it would skip)
        let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
        assert!(errors.len() == 1 && errors[0].contains(why), "{err}");
    }
}
