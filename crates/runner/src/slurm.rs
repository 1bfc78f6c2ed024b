//! Slurm job arrays: `runner slurm FILE --array N` writes (and with `--submit` submits) an sbatch
//! job array whose task `i` runs `runner sweep FILE --shard i/N` into its own store under the
//! shared run store (`<out>/shards/<i>`), plus a job that depends on the whole array
//! (`afterok`), merges the shards into `<out>` and renders the report.

use crate::config::Profile;
use anyhow::{Context, Result, bail};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What to write and submit. Paths should be absolute: the jobs run on other machines, from
/// `workdir`, and see the shared filesystem only.
#[derive(Debug, Clone)]
pub struct SlurmOptions {
    /// The sweep file, as `runner sweep` takes it.
    pub file: PathBuf,
    pub profile: Profile,
    /// Number of array tasks (shards).
    pub array: usize,
    pub partition: Option<String>,
    /// Extra `#SBATCH` arguments, e.g. `--time=02:00:00` or `--gres=gpu:1`, given to both jobs.
    pub sbatch_args: Vec<String>,
    /// Runs at once inside each task (`runner sweep --jobs`); also the task's `--cpus-per-task`.
    pub jobs: usize,
    /// The shared run store; shards go to `<out>/shards/<i>`.
    pub out: PathBuf,
    pub results: PathBuf,
    pub data_dir: PathBuf,
    /// The `runner` binary the jobs execute.
    pub runner: PathBuf,
    /// Working directory of the jobs (where relative sweep-file names resolve).
    pub workdir: PathBuf,
    /// Where the two scripts and the job logs go.
    pub script_dir: PathBuf,
}

/// The two sbatch scripts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scripts {
    pub array: String,
    pub merge: String,
    /// A name for the pair, e.g. `rft-theory-smoke`.
    pub name: String,
}

/// Quote a word for bash (single quotes unless it is plainly safe).
pub fn shell_quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

fn q(p: &Path) -> String {
    shell_quote(&p.display().to_string())
}

/// The job name: `rft-<sweep file stem>-<profile>`.
pub fn job_name(file: &Path, profile: Profile) -> String {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sweep".into());
    let stem: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("rft-{stem}-{profile}")
}

fn header(o: &SlurmOptions, name: &str, log: &str, extra: &[String]) -> String {
    let mut s = String::from("#!/usr/bin/env bash\n");
    let _ = writeln!(s, "#SBATCH --job-name={name}");
    for line in extra {
        let _ = writeln!(s, "#SBATCH {line}");
    }
    let _ = writeln!(
        s,
        "#SBATCH --output={}",
        o.script_dir.join("logs").join(log).display()
    );
    if let Some(p) = &o.partition {
        let _ = writeln!(s, "#SBATCH --partition={p}");
    }
    for a in &o.sbatch_args {
        let _ = writeln!(s, "#SBATCH {a}");
    }
    s.push_str("set -euo pipefail\n");
    let _ = writeln!(s, "cd {}", q(&o.workdir));
    s
}

/// The text of both scripts (no files written).
pub fn scripts(o: &SlurmOptions) -> Result<Scripts> {
    if o.array == 0 {
        bail!("--array N needs N >= 1");
    }
    for a in &o.sbatch_args {
        if a.contains('\n') || !a.starts_with('-') {
            bail!(
                "--sbatch-arg {a:?}: give one sbatch option per flag, e.g. --sbatch-arg=--time=01:00:00"
            );
        }
    }
    let name = job_name(&o.file, o.profile);
    let n = o.array;
    let runner = q(&o.runner);
    let shard_dir = o.out.join("shards");
    let common = format!(
        "--profile {} --results {} --data-dir {}",
        o.profile,
        q(&o.results),
        q(&o.data_dir)
    );

    let mut array = header(
        o,
        &name,
        "%x-%A_%a.out",
        &[
            format!("--array=0-{}", n - 1),
            format!("--cpus-per-task={}", o.jobs.max(1)),
        ],
    );
    let _ = writeln!(
        array,
        "# Task i of {n} runs shard i/{n} of the sweep into its own store; the merge job joins them."
    );
    let _ = writeln!(array, "shard={}/\"$SLURM_ARRAY_TASK_ID\"", q(&shard_dir));
    array.push_str("mkdir -p \"$shard\"\n");
    let _ = writeln!(
        array,
        "exec {runner} sweep {} {common} --out \"$shard\" --jobs {} --shard \"$SLURM_ARRAY_TASK_ID/{n}\" --no-report",
        q(&o.file),
        o.jobs.max(1)
    );

    let mut merge = header(o, &format!("{name}-merge"), "%x-%j.out", &[]);
    let _ = writeln!(
        merge,
        "# Runs after every task of the array succeeded (submitted with --dependency=afterok:ARRAY)."
    );
    let shards: Vec<String> = (0..n).map(|i| q(&shard_dir.join(i.to_string()))).collect();
    let _ = writeln!(
        merge,
        "{runner} merge --into {} {}",
        q(&o.out),
        shards.join(" ")
    );
    let _ = writeln!(
        merge,
        "{runner} report {} {common} --out {}",
        q(&o.file),
        q(&o.out)
    );
    Ok(Scripts { array, merge, name })
}

/// What [`write_and_submit`] did.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub array_script: PathBuf,
    pub merge_script: PathBuf,
    /// Job ids, when submitted.
    pub array_job: Option<String>,
    pub merge_job: Option<String>,
}

/// Write both scripts under `script_dir`; with `submit`, submit the array and the merge job that
/// depends on it (`sbatch` must be on the PATH).
pub fn write_and_submit(o: &SlurmOptions, submit: bool) -> Result<Submitted> {
    let s = scripts(o)?;
    std::fs::create_dir_all(o.script_dir.join("logs"))
        .with_context(|| format!("cannot create {}", o.script_dir.display()))?;
    let array_script = o.script_dir.join(format!("{}.sbatch", s.name));
    let merge_script = o.script_dir.join(format!("{}-merge.sbatch", s.name));
    for (path, text) in [(&array_script, &s.array), (&merge_script, &s.merge)] {
        fetch::write_atomic(path, text.as_bytes())?;
    }
    let mut out = Submitted {
        array_script,
        merge_script,
        array_job: None,
        merge_job: None,
    };
    if submit {
        let array = sbatch(&[], &out.array_script)?;
        let merge = sbatch(
            &[format!("--dependency=afterok:{array}")],
            &out.merge_script,
        )?;
        out.array_job = Some(array);
        out.merge_job = Some(merge);
    }
    Ok(out)
}

fn sbatch(args: &[String], script: &Path) -> Result<String> {
    let output = std::process::Command::new("sbatch")
        .arg("--parsable")
        .args(args)
        .arg(script)
        .output()
        .context("cannot run sbatch (is Slurm installed and on the PATH?)")?;
    if !output.status.success() {
        bail!(
            "sbatch {} failed: {}",
            script.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    // `--parsable` prints `JOBID` or `JOBID;CLUSTER`.
    let text = String::from_utf8_lossy(&output.stdout);
    let id = text.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        bail!(
            "sbatch {} printed {:?}, not a job id",
            script.display(),
            text.trim()
        );
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> SlurmOptions {
        SlurmOptions {
            file: PathBuf::from("theory.yaml"),
            profile: Profile::Smoke,
            array: 4,
            partition: Some("gpu".into()),
            sbatch_args: vec!["--time=01:00:00".into()],
            jobs: 2,
            out: PathBuf::from("/shared/runs"),
            results: PathBuf::from("/shared/results"),
            data_dir: PathBuf::from("/shared/my data"),
            runner: PathBuf::from("/opt/rft/runner"),
            workdir: PathBuf::from("/home/me/rft"),
            script_dir: PathBuf::from("/shared/runs/slurm"),
        }
    }

    #[test]
    fn the_array_script_runs_one_shard_per_task_into_its_own_store() {
        let s = scripts(&opts()).unwrap();
        assert_eq!(s.name, "rft-theory-smoke");
        assert_eq!(
            s.array,
            "#!/usr/bin/env bash
#SBATCH --job-name=rft-theory-smoke
#SBATCH --array=0-3
#SBATCH --cpus-per-task=2
#SBATCH --output=/shared/runs/slurm/logs/%x-%A_%a.out
#SBATCH --partition=gpu
#SBATCH --time=01:00:00
set -euo pipefail
cd /home/me/rft
# Task i of 4 runs shard i/4 of the sweep into its own store; the merge job joins them.
shard=/shared/runs/shards/\"$SLURM_ARRAY_TASK_ID\"
mkdir -p \"$shard\"
exec /opt/rft/runner sweep theory.yaml --profile smoke --results /shared/results --data-dir '/shared/my data' --out \"$shard\" --jobs 2 --shard \"$SLURM_ARRAY_TASK_ID/4\" --no-report
"
        );
    }

    #[test]
    fn the_merge_script_joins_every_shard_then_reports() {
        let s = scripts(&opts()).unwrap();
        assert_eq!(
            s.merge,
            "#!/usr/bin/env bash
#SBATCH --job-name=rft-theory-smoke-merge
#SBATCH --output=/shared/runs/slurm/logs/%x-%j.out
#SBATCH --partition=gpu
#SBATCH --time=01:00:00
set -euo pipefail
cd /home/me/rft
# Runs after every task of the array succeeded (submitted with --dependency=afterok:ARRAY).
/opt/rft/runner merge --into /shared/runs /shared/runs/shards/0 /shared/runs/shards/1 /shared/runs/shards/2 /shared/runs/shards/3
/opt/rft/runner report theory.yaml --profile smoke --results /shared/results --data-dir '/shared/my data' --out /shared/runs
"
        );
    }

    #[test]
    fn no_partition_means_no_partition_line_and_a_bad_sbatch_arg_is_refused() {
        let mut o = opts();
        o.partition = None;
        o.sbatch_args.clear();
        let s = scripts(&o).unwrap();
        assert!(!s.array.contains("--partition") && !s.merge.contains("--partition"));
        o.sbatch_args = vec!["time=1".into()];
        let err = scripts(&o).unwrap_err().to_string();
        assert!(err.contains("--sbatch-arg \"time=1\""), "{err}");
        o.sbatch_args.clear();
        o.array = 0;
        assert!(scripts(&o).unwrap_err().to_string().contains("N >= 1"));
    }

    #[test]
    fn shell_quoting_keeps_plain_words_and_quotes_the_rest() {
        assert_eq!(shell_quote("/a/b-c_d.yaml"), "/a/b-c_d.yaml");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn scripts_are_written_without_submitting() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = opts();
        o.script_dir = dir.path().join("slurm");
        let w = write_and_submit(&o, false).unwrap();
        assert!(w.array_job.is_none());
        assert_eq!(
            std::fs::read_to_string(&w.array_script).unwrap(),
            scripts(&o).unwrap().array
        );
        assert!(w.merge_script.ends_with("rft-theory-smoke-merge.sbatch"));
        assert!(dir.path().join("slurm/logs").is_dir());
    }
}
