//! The experiment registry: every kind a sweep file can name, with its config, run and report.
//!
//! To add a kind: write a module with a `protocols::sweep_params!` struct implementing [`Experiment`], then
//! add one line to the `registry!` invocation below.

pub mod controlled;
pub mod grue_remedies;
pub mod grue_rft;
pub mod grue_sec5;
pub mod reward_std;
pub mod selftest;
pub mod synthetic;
pub mod theorem1;
pub mod theorem2;

use crate::config::{Profile, Sweep, resolve, run_id};
pub use crate::run::{RunContext, RunSpec, SweepResults, Tables};
use anyhow::Result;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

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
            Ok(RunSpec::new(
                name.to_string(),
                E::KIND,
                run_id(E::KIND, &resolved.config, seed),
                resolved,
                move |ctx| config.run(seed, ctx),
            ))
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
    RewardStd => reward_std::RewardStdConfig(RewardStdPatch, RewardStdGrid),
    GrueRft => grue_rft::GrueRftConfig(GrueRftPatch, GrueRftGrid),
    GrueHeuristics => grue_sec5::HeuristicsConfig(GrueRftPatch, GrueRftGrid),
    GruePartialSft => grue_sec5::PartialSftConfig(GrueRftPatch, GrueRftGrid),
    GrueRemedies => grue_remedies::RemediesConfig(GrueRftPatch, GrueRftGrid),
}
