//! A run as the sweep engine sees it: its resolved config bound to the code that executes it
//! ([`RunSpec`]), what it may use while it runs ([`RunContext`]), and the tables it returns.

use crate::config::ResolvedConfig;
use anyhow::Result;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use polars::prelude::DataFrame;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Named result tables of one run (or, gathered, of one sweep).
pub type Tables = Vec<(String, DataFrame)>;

/// The gathered tables of one sweep: every finished run's rows, with `run_id`, `seed` and the grid
/// axes added as columns.
#[derive(Debug, Clone)]
pub struct SweepResults {
    pub name: String,
    pub tables: BTreeMap<String, DataFrame>,
}

impl SweepResults {
    pub fn table(&self, name: &str) -> Result<&DataFrame> {
        self.tables.get(name).ok_or_else(|| {
            anyhow::anyhow!(
                "sweep {} has no table {name:?} (tables: {:?})",
                self.name,
                self.tables.keys().collect::<Vec<_>>()
            )
        })
    }
}

/// A resolved run bound to the code that executes it.
#[derive(Clone)]
pub struct RunSpec {
    pub sweep: String,
    pub kind: &'static str,
    pub id: String,
    pub resolved: ResolvedConfig,
    exec: RunFn,
}

/// The code of one run, with its typed config and seed captured.
type RunFn = Arc<dyn Fn(&RunContext) -> Result<Tables> + Send + Sync>;

impl RunSpec {
    /// A run called `id` of sweep `sweep` (kind `kind`) that executes `exec`.
    pub fn new(
        sweep: String,
        kind: &'static str,
        id: String,
        resolved: ResolvedConfig,
        exec: impl Fn(&RunContext) -> Result<Tables> + Send + Sync + 'static,
    ) -> Self {
        RunSpec {
            sweep,
            kind,
            id,
            resolved,
            exec: Arc::new(exec),
        }
    }

    pub fn seed(&self) -> u64 {
        self.resolved.seed
    }
    pub fn config(&self) -> &Value {
        &self.resolved.config
    }
    /// Runs it. A panic inside the run (a bug, or a library's unchecked shape) fails this run
    /// only, with its message, instead of taking the whole sweep down.
    pub fn execute(&self, ctx: &RunContext) -> Result<Tables> {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.exec)(ctx))) {
            Ok(result) => result,
            Err(payload) => {
                let msg = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "(no message)".into());
                anyhow::bail!(
                    "the run panicked: {msg} (a bug: please report it with the run's config.yaml)"
                )
            }
        }
    }
}

impl std::fmt::Debug for RunSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{} (seed {})",
            self.sweep, self.id, self.resolved.seed
        )
    }
}

/// What a run can use while it runs.
pub struct RunContext {
    /// The run's own directory (for extra artefacts such as checkpoints).
    pub dir: PathBuf,
    /// Where datasets are read from (`--data-dir`, `RFT_DATA_DIR`, default `data/`).
    pub data_dir: PathBuf,
    /// Caches shared by the runs of the store (`<store>/.cache`).
    pub cache_dir: PathBuf,
    /// The models pretrained here (`<out>/.cache/pretrained`, shared by all experiments).
    pub models_dir: PathBuf,
    log: Mutex<std::fs::File>,
    progress: Option<MultiProgress>,
}

impl RunContext {
    /// The context of a run whose directory is `dir`, logging to `log`.
    pub fn new(
        dir: PathBuf,
        data_dir: PathBuf,
        cache_dir: PathBuf,
        models_dir: PathBuf,
        log: std::fs::File,
        progress: Option<MultiProgress>,
    ) -> Self {
        RunContext {
            dir,
            data_dir,
            cache_dir,
            models_dir,
            log: Mutex::new(log),
            progress,
        }
    }

    /// What a library protocol may use while it runs.
    pub fn env(&self) -> protocols::RunEnv<'_> {
        protocols::RunEnv {
            data_dir: self.data_dir.clone(),
            cache_dir: self.cache_dir.clone(),
            observer: self,
        }
    }

    /// Append a line to the run's `log.txt`.
    pub fn log(&self, msg: impl std::fmt::Display) {
        if let Ok(mut f) = self.log.lock() {
            let _ = writeln!(f, "{msg}");
        }
    }

    /// A progress bar for work inside the run (e.g. epochs), drawn under the sweep's bar in the
    /// same style; hidden when the sweep draws no bar. Call `finish_and_clear` when done.
    pub fn progress_bar(&self, len: u64, label: &str) -> ProgressBar {
        let Some(multi) = &self.progress else {
            return ProgressBar::hidden();
        };
        let bar = multi.add(ProgressBar::new(len));
        bar.set_style(
            ProgressStyle::with_template(
                "  [{bar:30}] {pos}/{len} {prefix}  {elapsed_precise} elapsed, eta {eta}  {msg}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(label.to_string());
        bar
    }
}

impl protocols::Observer for RunContext {
    fn log(&self, line: &str) {
        RunContext::log(self, line)
    }
    fn progress_bar(&self, len: u64, label: &str) -> ProgressBar {
        RunContext::progress_bar(self, len, label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_run_is_an_error_carrying_its_message() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = RunContext::new(
            dir.path().into(),
            dir.path().into(),
            dir.path().into(),
            dir.path().into(),
            std::fs::File::create(dir.path().join("log.txt")).unwrap(),
            None,
        );
        let resolved = ResolvedConfig {
            config: Value::Null,
            grid_point: BTreeMap::new(),
            seed: 0,
        };
        let run = RunSpec::new("s".into(), "k", "id".into(), resolved, |_| {
            panic!("index 256 out of bounds")
        });
        let err = run.execute(&ctx).unwrap_err().to_string();
        assert!(
            err.contains("panicked") && err.contains("index 256"),
            "{err}"
        );
    }
}
