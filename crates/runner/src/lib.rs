//! The experiment runner: a sweep file (YAML) -> resolved runs -> results store -> figures and tables.
//!
//! - [`config`]: the sweep-file schema, precise errors, grid resolution and run ids;
//! - [`experiments`]: the registry of experiment kinds (each one a typed config that runs a seed
//!   and reports a sweep); the science itself lives in the library crates (`theory`, ...);
//! - [`store`]: one directory per run, atomic writes, resume, gathering into Parquet/CSV, merging shards;
//! - [`lock`]: per-run lock files, so that processes sharing a run store never execute a run twice;
//! - [`sweep`]: running a file in parallel, sharded, with progress, then reporting.

pub mod config;
pub mod experiments;
pub mod lm;
pub mod lock;
pub mod store;
pub mod sweep;

pub use config::Profile;
pub use sweep::{SweepOptions, SweepSummary, report, run_sweep};
