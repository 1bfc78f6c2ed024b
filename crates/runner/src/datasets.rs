//! `runner data fetch|status|check`: sweep-file names become experiment names, then the `data`
//! crate does the work ([`data::acquire`]).

use anyhow::{Result, anyhow, bail};
use data::acquire::{self, Options};
use data::registry;
use std::path::{Path, PathBuf};

/// Turn targets into experiment names or dataset ids: a sweep file (`controlled.yaml`, a path)
/// becomes its `experiment:`; other words pass through.
pub fn targets(raw: &[String]) -> Result<Vec<String>> {
    raw.iter()
        .map(|t| {
            let looks_like_file = t.ends_with(".yaml") || t.ends_with(".yml") || t.contains('/');
            if !looks_like_file {
                return Ok(t.clone());
            }
            let path = crate::sweepfile::locate(Path::new(t))?;
            Ok(crate::sweepfile::load(&path)?.experiment)
        })
        .collect()
}

/// `runner data fetch`: download and verify; prints one line per dataset. Without `keep_going`,
/// a dataset left missing is an error; with it, the report is printed and the call succeeds
/// (`runner data check` then tells which experiments can run).
pub fn fetch(raw: &[String], opts: &Options, keep_going: bool) -> Result<()> {
    let names = targets(raw)?;
    let datasets = acquire::resolve(&names).map_err(|e| anyhow!(e))?;
    if datasets.is_empty() {
        println!("{} needs no data", names.join(" "));
        return Ok(());
    }
    let report = acquire::fetch(&datasets, opts);
    println!("{report}");
    let (offline, failed) = (report.offline(), report.failed());
    if keep_going || (offline.is_empty() && failed.is_empty()) {
        return Ok(());
    }
    let mut why = Vec::new();
    if !offline.is_empty() {
        why.push(format!(
            "no network for {} (run the same command again once online, or point --mirror/--base-url at a copy)",
            offline.join(", ")
        ));
    }
    if !failed.is_empty() {
        why.push(format!("failed: {}", failed.join(", ")));
    }
    bail!("{}", why.join("; "))
}

/// `runner data status`: per experiment (all, or those of `raw`), what is present.
pub fn status(raw: &[String], data_dir: &Path) -> Result<String> {
    let names = targets(raw)?;
    let experiments: Vec<&registry::Experiment> = if names.is_empty() {
        registry::EXPERIMENTS.iter().collect()
    } else {
        names
            .iter()
            .map(|n| {
                registry::experiment(n).ok_or_else(|| {
                    let known: Vec<&str> = registry::EXPERIMENTS.iter().map(|e| e.name).collect();
                    anyhow!(
                        "unknown experiment {n:?}; experiments: {}",
                        known.join(", ")
                    )
                })
            })
            .collect::<Result<_>>()?
    };
    Ok(acquire::status(data_dir, &experiments))
}

/// `runner data check`: `Ok` when the targets' data is all present, else the one-line reason.
pub fn check(raw: &[String], data_dir: &Path) -> Result<std::result::Result<(), String>> {
    let names = targets(raw)?;
    Ok(acquire::check(&names, data_dir).map_err(|line| {
        // Name what the user typed (the sweep file), not only the experiment.
        if raw != names.as_slice() {
            line.replacen(&names.join(" "), &raw.join(" "), 1)
        } else {
            line
        }
    }))
}

/// An absolute version of `p` (relative to the current directory), for job scripts.
pub fn absolute(p: &Path) -> Result<PathBuf> {
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    })
}
