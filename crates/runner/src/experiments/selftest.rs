//! `selftest`: exercises the runner itself (resume, shards, merge, failures) without any science.
//! Each run waits `millis`, then records `x * (seed + 1)`. Handy to check a cluster set-up too.

use super::{Experiment, SweepResults, Tables};
use crate::run::RunContext;
use crate::store::cols;
use anyhow::{Result, bail};
use plotting::Table;
use polars::prelude::*;
use std::path::{Path, PathBuf};

protocols::sweep_params! {
    /// Runner self-test: sleep, then record a deterministic value.
    pub struct SelftestConfig / SelftestGrid / SelftestPatch {
        /// How long each run takes, in milliseconds.
        pub millis: u64,
        /// A value to record (and to put on a grid).
        pub x: f64,
        /// Fail on purpose when the seed equals this; -1 never fails.
        pub fail_seed: i64,
    }
}

impl Experiment for SelftestConfig {
    const KIND: &'static str = "selftest";

    fn validate(&self) -> Result<()> {
        if self.millis > 600_000 {
            bail!(
                "millis = {} is over the 10-minute limit of a self-test run",
                self.millis
            );
        }
        Ok(())
    }

    fn run(&self, seed: u64, ctx: &RunContext) -> Result<Tables> {
        ctx.log(format!(
            "selftest x={} seed={seed}: sleeping {} ms",
            self.x, self.millis
        ));
        std::thread::sleep(std::time::Duration::from_millis(self.millis));
        if self.fail_seed == seed as i64 {
            bail!("selftest failed on purpose (fail_seed = {seed})");
        }
        let df = df!("x" => [self.x], "value" => [self.x * (seed + 1) as f64])?;
        Ok(vec![("values".into(), df)])
    }

    fn report(sweeps: &[SweepResults], dir: &Path) -> Result<Vec<PathBuf>> {
        let mut table = Table::new(
            "Self-test: recorded values per sweep.",
            &["sweep", "runs", "sum of values"],
        );
        for s in sweeps {
            let values = cols::f64s(s.table("values")?, "value")?;
            table.push(vec![
                s.name.clone(),
                values.len().to_string(),
                format!("{}", values.iter().sum::<f64>()),
            ]);
        }
        let stem = dir.join("selftest");
        table.save(&stem)?;
        Ok(vec![stem.with_extension("md")])
    }
}
