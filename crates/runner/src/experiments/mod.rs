//! The experiment registry: every kind a sweep file can name, with its config, run and report.
//!
//! To add a kind: write a module with a `sweep_config!` struct implementing [`Experiment`], then
//! add one line to the `registry!` invocation below.

pub mod controlled;
pub mod selftest;
pub mod synthetic;
pub mod theorem1;
pub mod theorem2;

use crate::config::{Profile, ResolvedConfig, Sweep, resolve, run_id};
use crate::store::RunContext;
use anyhow::Result;
use polars::prelude::DataFrame;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

/// An experiment kind: a typed config that knows how to run one seed and how to report a sweep.
pub trait Experiment: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// The key that names this kind in a sweep file.
    const KIND: &'static str;
    /// Checks beyond types (ranges, combinations); the message names the offending field.
    fn validate(&self) -> Result<()>;
    /// Run one seed; return named tables.
    fn run(&self, seed: u64, ctx: &RunContext) -> Result<Tables>;
    /// Draw figures and write tables for all sweeps of this kind in a file into `dir`.
    /// Returns the files written.
    fn report(sweeps: &[SweepResults], dir: &Path) -> Result<Vec<PathBuf>>;
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
    pub fn seed(&self) -> u64 {
        self.resolved.seed
    }
    pub fn config(&self) -> &Value {
        &self.resolved.config
    }
    pub fn execute(&self, ctx: &RunContext) -> Result<Tables> {
        (self.exec)(ctx)
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

fn resolve_kind<E, P, G>(
    sweep: &Sweep<P, G>,
    name: &str,
    profile: Profile,
    file: &Path,
) -> Result<Vec<RunSpec>>
where
    E: Experiment,
    P: Serialize + DeserializeOwned + Default,
    G: Serialize + DeserializeOwned + Default,
{
    let context = format!("{}: sweep {name} ({})", file.display(), E::KIND);
    resolve::<E, P, G>(sweep, profile, &context)?
        .into_iter()
        .map(|(config, resolved)| {
            config
                .validate()
                .map_err(|e| anyhow::anyhow!("{context}: {e:#}"))?;
            let seed = resolved.seed;
            Ok(RunSpec {
                sweep: name.to_string(),
                kind: E::KIND,
                id: run_id(E::KIND, &resolved.config, seed),
                resolved,
                exec: Arc::new(move |ctx| config.run(seed, ctx)),
            })
        })
        .collect()
}

macro_rules! registry {
    ($( $variant:ident => $module:ident :: $config:ident ($patch:ident, $grid:ident) ),* $(,)?) => {
        /// One entry of a sweep file's `sweeps:` list, keyed by its kind.
        #[allow(clippy::large_enum_variant)] // parsed once per file; size does not matter
        #[derive(Debug, Clone, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum SweepSpec {
            $( $variant(Sweep<$module::$patch, $module::$grid>), )*
        }

        impl SweepSpec {
            pub fn kind(&self) -> &'static str {
                match self { $( SweepSpec::$variant(_) => <$module::$config as Experiment>::KIND, )* }
            }

            /// The sweep's name (its `name:`, else its kind).
            pub fn name(&self) -> String {
                match self { $( SweepSpec::$variant(s) => s.name.clone().unwrap_or_else(|| self.kind().to_string()), )* }
            }

            /// Resolve into runs under `profile`; `file` names the sweep file in errors.
            pub fn resolve(&self, profile: Profile, file: &Path) -> Result<Vec<RunSpec>> {
                let name = self.name();
                match self { $( SweepSpec::$variant(s) => resolve_kind::<$module::$config, _, _>(s, &name, profile, file), )* }
            }
        }

        /// Report all sweeps of one kind.
        pub fn report_kind(kind: &str, sweeps: &[SweepResults], dir: &Path) -> Result<Vec<PathBuf>> {
            $( if kind == <$module::$config as Experiment>::KIND { return <$module::$config as Experiment>::report(sweeps, dir); } )*
            anyhow::bail!("no experiment kind {kind:?}")
        }
    };
}

registry! {
    Theorem1 => theorem1::Theorem1Config(Theorem1Patch, Theorem1Grid),
    Theorem2 => theorem2::Theorem2Config(Theorem2Patch, Theorem2Grid),
    Selftest => selftest::SelftestConfig(SelftestPatch, SelftestGrid),
    RftSynthetic => synthetic::SyntheticConfig(SyntheticPatch, SyntheticGrid),
    Controlled => controlled::ControlledConfig(ControlledPatch, ControlledGrid),
}
