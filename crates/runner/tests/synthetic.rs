//! `rft_synthetic` end to end: the smoke profile of `experiments/synthetic.yaml` trains a tiny
//! GPT-2 with SFT then PPO and GRPO, writes its tables and figure, and reruns identically.

use std::path::PathBuf;
use std::process::Command;

fn yaml() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../experiments/synthetic.yaml")
}

#[test]
fn synthetic_smoke_runs_end_to_end_reproducibly() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    for out in ["runs1", "runs2"] {
        let o = Command::new(env!("CARGO_BIN_EXE_runner"))
            .args([
                "sweep",
                yaml().to_str().unwrap(),
                "--profile",
                "smoke",
                "--jobs",
                "2",
            ])
            .args(["--out", dir.path().join(out).to_str().unwrap()])
            .args(["--results", results.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let figs = results.join("synthetic-smoke");
    for f in [
        "synthetic_rft.png",
        "synthetic_rft.svg",
        "synthetic_rft.md",
        "synthetic_rft.tex",
    ] {
        assert!(figs.join(f).exists(), "missing {f}");
    }
    // Same seed, same backend: the gathered step tables of the two runs are identical.
    let a = std::fs::read(dir.path().join("runs1/synthetic/smoke/reverse.steps.csv")).unwrap();
    let b = std::fs::read(dir.path().join("runs2/synthetic/smoke/reverse.steps.csv")).unwrap();
    assert!(!a.is_empty());
    assert_eq!(a, b, "reruns differ");
    let table = std::fs::read_to_string(figs.join("synthetic_rft.md")).unwrap();
    assert!(table.contains("PPO") && table.contains("GRPO"), "{table}");
}
