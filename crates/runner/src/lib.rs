//! The experiment runner: a sweep file (YAML) -> resolved runs -> results store -> figures and tables.
//!
//! - [`sweepfile`]: a sweep file as a whole, located and loaded with precise errors;
//! - [`config`]: the blocks every sweep shares (profiles, seeds, config, grid), resolution and run ids;
//! - [`experiments`]: the registry of experiment kinds (each one a typed config that runs a seed
//!   and reports a sweep); the science itself lives in the library crates (`theory`, ...);
//! - [`run`]: a run bound to its code, and what it may use while it runs;
//! - [`store`]: one directory per run, atomic writes, resume, gathering into Parquet/CSV, merging shards;
//! - [`pretrained`]: the `pretrain:` block of sweep files and `runner pretrain` (models pretrained here);
//! - [`lock`]: per-run lock files, so that processes sharing a run store never execute a run twice;
//! - [`sweep`]: running a file in parallel, sharded, with progress, then reporting;
//! - [`datasets`]: `runner data fetch|status|check` over the `data` crate's registry;
//! - [`slurm`]: sbatch job arrays of sharded sweeps with a dependent merge-and-report job.

pub mod config;
pub mod datasets;
pub mod diagnose;
pub mod experiments;
pub mod learned;
pub mod lm;
pub mod lock;
pub mod pretrained;
pub mod rl4lms_run;
pub mod run;
pub mod slurm;
pub mod store;
pub mod sweep;
pub mod sweepfile;

pub use config::Profile;
pub use sweep::{SweepOptions, SweepSummary, report, run_sweep};
