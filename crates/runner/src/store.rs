//! The results store: one directory per run, written so that nothing finished is ever lost.
//!
//! ```text
//! <out>/<experiment>/<profile>/<sweep>/<run id>/
//!     config.yaml      resolved config, kind and seed
//!     log.txt          what the run said
//!     <table>.parquet  one file per result table
//!     run.json         written last: its presence marks the run finished
//!     failed.json      instead of run.json when the run failed: its error
//! <out>/<experiment>/<profile>/<sweep>/<run id>.lock   while a process executes the run (see `lock`)
//! <out>/<experiment>/<profile>/<sweep>.<table>.{parquet,csv}   gathered over runs
//! ```
//!
//! Every file is written to a temporary name and renamed into place, so a run killed at any
//! moment leaves either a finished run (with `run.json`) or an unfinished directory, which the
//! next sweep clears and redoes.

use crate::config::Profile;
use crate::run::{RunContext, RunSpec, SweepResults};
use anyhow::{Context, Result, bail};
use atomicwrite::temp_path_for;
use indicatif::MultiProgress;
use polars::prelude::{Column, DataFrame, PlSmallStr};
pub use protocols::rows::{read_parquet, write_csv, write_parquet};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Written (atomically) into the directory of a run that failed, with its error; the run is not
/// finished and the next sweep redoes it.
pub const FAILED: &str = "failed.json";

/// `run.json`: the record that marks a run finished.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunRecord {
    pub id: String,
    pub sweep: String,
    pub kind: String,
    pub seed: u64,
    pub config: serde_json::Value,
    pub grid_point: BTreeMap<String, serde_json::Value>,
    pub tables: Vec<String>,
    pub seconds: f64,
    pub runner_version: String,
}

/// The runs of one experiment under one profile.
#[derive(Debug, Clone)]
pub struct Store {
    pub root: PathBuf,
}

impl Store {
    pub fn new(out: &Path, experiment: &str, profile: Profile) -> Self {
        Self {
            root: out.join(experiment).join(profile.to_string()),
        }
    }

    /// Caches shared by the runs of this store (e.g. pretrained weights).
    pub fn cache_dir(&self) -> PathBuf {
        self.root.join(".cache")
    }

    /// The models pretrained here, shared by every experiment and profile of the run store
    /// (`<out>/.cache/pretrained`, where `runner pretrain` puts them).
    pub fn models_dir(&self) -> PathBuf {
        let out = self
            .root
            .parent()
            .and_then(Path::parent)
            .unwrap_or(&self.root);
        crate::pretrained::cache_root(out)
    }

    pub fn run_dir(&self, run: &RunSpec) -> PathBuf {
        self.root.join(&run.sweep).join(&run.id)
    }

    /// The run's record, if it finished (its `run.json` parses and all its tables exist).
    pub fn finished(&self, run: &RunSpec) -> Option<RunRecord> {
        read_record(&self.run_dir(run))
    }

    /// The error of the run's last attempt, if it failed and has not been redone since.
    pub fn failed(&self, run: &RunSpec) -> Option<String> {
        let text = std::fs::read_to_string(self.run_dir(run).join(FAILED)).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        Some(v.get("error")?.as_str()?.to_string())
    }

    /// Execute a run and store its results; an unfinished directory from an earlier attempt is cleared.
    pub fn execute(&self, run: &RunSpec, data_dir: &Path) -> Result<RunRecord> {
        self.execute_with_progress(run, data_dir, None)
    }

    /// [`Store::execute`], letting the run draw progress bars under `progress`.
    pub fn execute_with_progress(
        &self,
        run: &RunSpec,
        data_dir: &Path,
        progress: Option<&MultiProgress>,
    ) -> Result<RunRecord> {
        let dir = self.run_dir(run);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("cannot clear unfinished run {}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let header = serde_json::json!({ "kind": run.kind, "sweep": run.sweep, "seed": run.seed(), "config": run.config() });
        atomicwrite::write(
            &dir.join("config.yaml"),
            serde_yaml::to_string(&header)?.as_bytes(),
        )?;
        let log = std::fs::File::create(dir.join("log.txt"))?;
        let ctx = RunContext::new(
            dir.clone(),
            data_dir.to_path_buf(),
            self.cache_dir(),
            self.models_dir(),
            log,
            progress.cloned(),
        );
        let start = Instant::now();
        let tables = match run.execute(&ctx) {
            Ok(t) => t,
            Err(e) => {
                ctx.log(format!("error: {e:#}"));
                // Marks the run failed (it stays unfinished: the next sweep clears and redoes it).
                let failed = serde_json::json!({
                    "error": format!("{e:#}"),
                    "seconds": start.elapsed().as_secs_f64(),
                });
                let _ = atomicwrite::write(
                    &dir.join(FAILED),
                    serde_json::to_string_pretty(&failed)?.as_bytes(),
                );
                bail!(
                    "run {}/{} (seed {}) failed: {e:#} (log: {})",
                    run.sweep,
                    run.id,
                    run.seed(),
                    dir.join("log.txt").display()
                );
            }
        };
        let mut names = Vec::new();
        for (name, mut df) in tables {
            write_parquet(&dir.join(format!("{name}.parquet")), &mut df)?;
            names.push(name);
        }
        let seconds = start.elapsed().as_secs_f64();
        ctx.log(format!("finished in {seconds:.2}s"));
        let record = RunRecord {
            id: run.id.clone(),
            sweep: run.sweep.clone(),
            kind: run.kind.to_string(),
            seed: run.seed(),
            config: run.config().clone(),
            grid_point: run.resolved.grid_point.clone(),
            tables: names,
            seconds,
            runner_version: env!("CARGO_PKG_VERSION").to_string(),
        };
        atomicwrite::write(
            &dir.join("run.json"),
            serde_json::to_string_pretty(&record)?.as_bytes(),
        )?;
        Ok(record)
    }

    /// Gather the finished runs of one sweep (in `runs` order) into one table per name, adding
    /// `run_id`, `seed` and the grid axes as columns; writes `<sweep>.<table>.{parquet,csv}`.
    pub fn gather(&self, sweep: &str, runs: &[&RunSpec]) -> Result<SweepResults> {
        let mut tables: BTreeMap<String, DataFrame> = BTreeMap::new();
        for run in runs {
            let dir = self.run_dir(run);
            let Some(record) = read_record(&dir) else {
                continue;
            };
            for name in &record.tables {
                let path = dir.join(format!("{name}.parquet"));
                let mut df = read_parquet(&path)?;
                annotate(&mut df, &record)
                    .with_context(|| format!("annotating {}", path.display()))?;
                match tables.get_mut(name) {
                    Some(all) => {
                        all.vstack_mut(&df).with_context(|| {
                            format!(
                                "{} does not match the schema of the other runs",
                                path.display()
                            )
                        })?;
                    }
                    None => {
                        tables.insert(name.clone(), df);
                    }
                }
            }
        }
        for (name, df) in tables.iter_mut() {
            df.rechunk_mut();
            write_parquet(&self.root.join(format!("{sweep}.{name}.parquet")), df)?;
            write_csv(&self.root.join(format!("{sweep}.{name}.csv")), df)?;
        }
        Ok(SweepResults {
            name: sweep.to_string(),
            tables,
        })
    }
}

fn read_record(dir: &Path) -> Option<RunRecord> {
    let text = std::fs::read_to_string(dir.join("run.json")).ok()?;
    let record: RunRecord = serde_json::from_str(&text).ok()?;
    record
        .tables
        .iter()
        .all(|t| dir.join(format!("{t}.parquet")).is_file())
        .then_some(record)
}

/// Add `run_id`, `seed` and grid-axis columns (unless the table already has a column of that name).
fn annotate(df: &mut DataFrame, record: &RunRecord) -> Result<()> {
    let n = df.height();
    let mut extra: Vec<Column> = vec![
        Column::new("run_id".into(), vec![record.id.as_str(); n]),
        Column::new("seed".into(), vec![record.seed as i64; n]),
    ];
    for (key, value) in &record.grid_point {
        let name: PlSmallStr = key.as_str().into();
        extra.push(match value {
            serde_json::Value::Bool(b) => Column::new(name, vec![*b; n]),
            serde_json::Value::Number(x) if x.is_i64() => {
                Column::new(name, vec![x.as_i64().unwrap(); n])
            }
            serde_json::Value::Number(x) => {
                Column::new(name, vec![x.as_f64().unwrap_or(f64::NAN); n])
            }
            serde_json::Value::String(s) => Column::new(name, vec![s.as_str(); n]),
            other => Column::new(name, vec![other.to_string(); n]),
        });
    }
    for col in extra {
        if df.column(col.name()).is_err() {
            df.with_column(col)?;
        }
    }
    Ok(())
}

/// Copy every finished run found under the `sources` (output directories of shards) into `into`,
/// skipping runs already there. Returns how many runs were copied.
pub fn merge(into: &Path, sources: &[PathBuf]) -> Result<usize> {
    let mut copied = 0;
    for src in sources {
        if !src.is_dir() {
            bail!("merge source {} is not a directory", src.display());
        }
        for run_json in find_files(src, "run.json")? {
            let dir = run_json.parent().unwrap();
            if read_record(dir).is_none() {
                continue;
            }
            let rel = dir.strip_prefix(src).unwrap();
            let dest = into.join(rel);
            if read_record(&dest).is_some() {
                continue;
            }
            // A sweep executing this run in `into` holds its lock: leave the run to it.
            let _lock = match crate::lock::try_lock(&dest)? {
                crate::lock::Acquired::Locked { lock, .. } => lock,
                crate::lock::Acquired::HeldBy { holder, path } => {
                    let who = holder.map_or_else(|| "another process".into(), |h| h.to_string());
                    eprintln!(
                        "{} is being executed by {who}; not merged (if that process is gone, delete {})",
                        dest.display(),
                        path.display()
                    );
                    continue;
                }
            };
            let tmp = temp_path_for(&dest);
            copy_dir(dir, &tmp)?;
            if dest.exists() {
                std::fs::remove_dir_all(&dest)?;
            }
            std::fs::rename(&tmp, &dest)
                .with_context(|| format!("cannot move run into {}", dest.display()))?;
            copied += 1;
        }
    }
    Ok(copied)
}

fn find_files(dir: &Path, name: &str) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(find_files(&path, name)?);
        } else if path.file_name().is_some_and(|n| n == name) {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("cannot copy {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Column helpers for reports.
pub mod cols {
    use anyhow::{Result, anyhow};
    use polars::prelude::*;

    /// A numeric column as `f64` (nulls become `NaN`).
    pub fn f64s(df: &DataFrame, name: &str) -> Result<Vec<f64>> {
        let col = df
            .column(name)
            .map_err(|e| anyhow!("missing column {name:?}: {e}"))?;
        let cast = col.cast(&DataType::Float64)?;
        Ok(cast.f64()?.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
    }

    /// A string column (nulls become "").
    pub fn strs(df: &DataFrame, name: &str) -> Result<Vec<String>> {
        let col = df
            .column(name)
            .map_err(|e| anyhow!("missing column {name:?}: {e}"))?;
        let cast = col.cast(&DataType::String)?;
        Ok(cast
            .str()?
            .iter()
            .map(|v| v.unwrap_or("").to_string())
            .collect())
    }
}
