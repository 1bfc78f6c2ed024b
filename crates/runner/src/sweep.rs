//! Running a sweep file: resolve -> shard -> skip finished -> run in parallel -> gather -> report.

use crate::config::Profile;
use crate::experiments::{RunSpec, SweepResults, report_kind};
use crate::lock;
use crate::store::Store;
use crate::sweepfile::{self, SweepFile};
use anyhow::{Context, Result, bail};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where and how to run.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    pub profile: Profile,
    /// Root of the run store (`runs/` by default).
    pub out: PathBuf,
    /// Root of figures and tables (`results/` by default).
    pub results: PathBuf,
    /// Runs executed at once.
    pub jobs: usize,
    /// `(i, n)`: run only the runs whose index modulo `n` is `i` (0-based).
    pub shard: Option<(usize, usize)>,
    pub data_dir: PathBuf,
    /// Render figures and tables once every run of the file is finished.
    pub report: bool,
}

/// A sweep file with all its runs resolved.
pub struct Plan {
    pub path: PathBuf,
    pub file: SweepFile,
    /// All runs, in resolution order (sweep by sweep, grid point by grid point, seed by seed).
    pub runs: Vec<RunSpec>,
    pub store: Store,
}

impl Plan {
    pub fn new(file: &Path, profile: Profile, out: &Path) -> Result<Self> {
        let path = sweepfile::locate(file)?;
        let parsed = sweepfile::load(&path)?;
        let mut runs = Vec::new();
        for sweep in &parsed.sweeps {
            runs.extend(sweep.resolve(profile, &path)?);
        }
        let mut ids = std::collections::HashMap::new();
        for r in &runs {
            if let Some(prev) = ids.insert((r.sweep.clone(), r.id.clone()), r) {
                bail!(
                    "{}: sweep {} resolves to the same run twice ({prev:?} and {r:?}); remove repeated grid values or seeds",
                    path.display(),
                    r.sweep
                );
            }
        }
        let store = Store::new(out, &parsed.experiment, profile);
        Ok(Self {
            path,
            file: parsed,
            runs,
            store,
        })
    }

    /// The runs of shard `i` of `n`.
    pub fn shard(&self, shard: Option<(usize, usize)>) -> Vec<&RunSpec> {
        self.runs
            .iter()
            .enumerate()
            .filter(|(k, _)| shard.is_none_or(|(i, n)| k % n == i))
            .map(|(_, r)| r)
            .collect()
    }

    /// The figure directory for a profile: `results/<experiment>` for the default profile,
    /// `results/<experiment>-<profile>` otherwise.
    pub fn results_dir(&self, results: &Path, profile: Profile) -> PathBuf {
        match profile {
            Profile::Default => results.join(&self.file.experiment),
            other => results.join(format!("{}-{other}", self.file.experiment)),
        }
    }
}

/// What a sweep did.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepSummary {
    pub total: usize,
    pub in_shard: usize,
    pub already_finished: usize,
    pub ran: usize,
    pub failed: usize,
    /// Runs skipped because another process was executing them (or finished them meanwhile).
    pub skipped: usize,
    /// Files the report wrote (empty if no report was made).
    pub report: Vec<PathBuf>,
}

/// Parse `I/N` (0-based `I < N`).
pub fn parse_shard(s: &str) -> Result<(usize, usize)> {
    let (i, n) = s.split_once('/').context("a shard is I/N, e.g. 0/4")?;
    let (i, n): (usize, usize) = (
        i.trim().parse().context("shard index I in I/N")?,
        n.trim().parse().context("shard count N in I/N")?,
    );
    if n == 0 || i >= n {
        bail!("shard {i}/{n}: need 0 <= I < N");
    }
    Ok((i, n))
}

/// Parse `--jobs N`: the number of runs executed at once, at least 1.
pub fn parse_jobs(s: &str) -> Result<usize> {
    let n: usize = s.trim().parse().with_context(|| {
        format!("--jobs {s}: expected a whole number of runs to execute at once")
    })?;
    if n == 0 {
        bail!(
            "--jobs 0: at least one run must execute at a time; use --jobs 1 for one after another"
        );
    }
    Ok(n)
}

/// Parse a count that must be at least 1.
pub fn parse_at_least_one(s: &str) -> Result<usize> {
    match s.trim().parse::<usize>() {
        Ok(0) => bail!("0 is not allowed here; give at least 1"),
        Ok(n) => Ok(n),
        Err(_) => bail!("{s}: expected a whole number of at least 1"),
    }
}

pub fn run_sweep(file: &Path, opts: &SweepOptions) -> Result<SweepSummary> {
    if opts.jobs == 0 {
        bail!(
            "jobs = 0: at least one run must execute at a time (jobs = 1 runs them one after another)"
        );
    }
    let plan = Plan::new(file, opts.profile, &opts.out)?;
    let mine = plan.shard(opts.shard);
    let (done, pending): (Vec<&RunSpec>, Vec<&RunSpec>) =
        mine.iter().partition(|r| plan.store.finished(r).is_some());
    let shard_note = opts
        .shard
        .map(|(i, n)| format!(" [shard {i}/{n}]"))
        .unwrap_or_default();
    eprintln!(
        "sweep {} ({}, profile {}){shard_note}: {} runs; {} already finished, {} to run -> {}",
        plan.file.experiment,
        plan.path.display(),
        opts.profile,
        mine.len(),
        done.len(),
        pending.len(),
        plan.store.root.display()
    );

    let multi = MultiProgress::new();
    let bar = multi.add(ProgressBar::new(pending.len() as u64));
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{bar:30}] {pos}/{len} runs  {elapsed_precise} elapsed, eta {eta}  {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    // `jobs` worker threads take runs from a shared queue, one at a time. (Not a rayon pool: while a
    // run waits inside a parallel library call, rayon's work stealing would start the next run
    // nested on the same thread, mixing up their timings and piling up their memory.)
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let skipped = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..opts.jobs.clamp(1, pending.len().max(1)) {
            scope.spawn(|| {
                while let Some(run) = pending.get(next.fetch_add(1, Ordering::SeqCst)) {
                    // Another process sharing the store may hold or have finished this run.
                    let _lock = match lock_run(&plan.store, run) {
                        Ok(Some(lock)) => lock,
                        Ok(None) => {
                            skipped.fetch_add(1, Ordering::SeqCst);
                            bar.inc(1);
                            continue;
                        }
                        Err(e) => {
                            failures.lock().unwrap().push(format!("{e:#}"));
                            bar.inc(1);
                            continue;
                        }
                    };
                    let progress = (!bar.is_hidden()).then_some(&multi);
                    let result = plan
                        .store
                        .execute_with_progress(run, &opts.data_dir, progress);
                    let line = match &result {
                        Ok(rec) => format!(
                            "finished {}/{} seed {} in {:.2}s",
                            run.sweep,
                            run.id,
                            run.seed(),
                            rec.seconds
                        ),
                        Err(e) => format!("FAILED {e:#}"),
                    };
                    if bar.is_hidden() {
                        eprintln!("{line}");
                    } else {
                        bar.set_message(line);
                    }
                    bar.inc(1);
                    if let Err(e) = result {
                        failures.lock().unwrap().push(format!("{e:#}"));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    let skipped = skipped.into_inner();
    bar.finish_and_clear();

    let mut summary = SweepSummary {
        total: plan.runs.len(),
        in_shard: mine.len(),
        already_finished: done.len(),
        ran: pending.len() - failures.len() - skipped,
        failed: failures.len(),
        skipped,
        report: vec![],
    };
    if !failures.is_empty() {
        bail!(
            "{} of {} runs failed (finished runs are kept; re-run the same command to retry):\n  {}",
            failures.len(),
            pending.len(),
            failures.join("\n  ")
        );
    }
    let unfinished = plan
        .runs
        .iter()
        .filter(|r| plan.store.finished(r).is_none())
        .count();
    if unfinished > 0 && skipped > 0 {
        eprintln!(
            "{unfinished} runs are not finished in {}: {skipped} of them were being executed by other processes; the last sweep to finish writes the report (or run `runner report` once they are done)",
            plan.store.root.display()
        );
    } else if unfinished > 0 {
        eprintln!(
            "{unfinished} runs of other shards are not finished in {}; once every shard is done, `runner merge` their outputs and `runner report`",
            plan.store.root.display()
        );
    } else if opts.report {
        summary.report = report_plan(&plan, opts)?;
    }
    Ok(summary)
}

/// Takes the lock of `run` before it is executed (and its unfinished directory cleared).
/// `Ok(None)`, after one line on stderr, when another process holds the run or finished it
/// meanwhile; a stale lock left by a killed process is recovered with one line.
fn lock_run(store: &Store, run: &RunSpec) -> Result<Option<lock::RunLock>> {
    let name = format!("{}/{}", run.sweep, run.id);
    match lock::try_lock(&store.run_dir(run))? {
        lock::Acquired::HeldBy { holder, path } => {
            let who = holder.map_or_else(|| "another process".to_string(), |h| h.to_string());
            eprintln!(
                "run {name} is being executed by {who}; skipped (if that process is gone, delete {})",
                path.display()
            );
            Ok(None)
        }
        lock::Acquired::Locked { lock, recovered } => {
            if let Some(dead) = recovered {
                eprintln!(
                    "run {name}: recovered the stale lock of {dead}, which is gone; running it again"
                );
            }
            if store.finished(run).is_some() {
                eprintln!("run {name} was finished by another process meanwhile; skipped");
                return Ok(None);
            }
            Ok(Some(lock))
        }
    }
}

/// Gather every sweep of the file and render its figures and tables.
pub fn report(file: &Path, opts: &SweepOptions) -> Result<Vec<PathBuf>> {
    let plan = Plan::new(file, opts.profile, &opts.out)?;
    let missing = plan
        .runs
        .iter()
        .filter(|r| plan.store.finished(r).is_none())
        .count();
    if missing > 0 {
        bail!(
            "{missing} of {} runs of {} (profile {}) are not finished in {}; run `runner sweep {} --profile {}` first",
            plan.runs.len(),
            plan.path.display(),
            opts.profile,
            plan.store.root.display(),
            plan.path.display(),
            opts.profile
        );
    }
    report_plan(&plan, opts)
}

fn report_plan(plan: &Plan, opts: &SweepOptions) -> Result<Vec<PathBuf>> {
    let dir = plan.results_dir(&opts.results, opts.profile);
    let mut by_kind: Vec<(&'static str, Vec<SweepResults>)> = Vec::new();
    for sweep in &plan.file.sweeps {
        let name = sweep.name();
        let runs: Vec<&RunSpec> = plan.runs.iter().filter(|r| r.sweep == name).collect();
        let gathered = plan.store.gather(&name, &runs)?;
        // Keep the gathered data beside the figures, so every figure can be traced to its numbers.
        for (table, df) in &gathered.tables {
            let mut df = df.clone();
            crate::store::write_parquet(
                &dir.join("data").join(format!("{name}.{table}.parquet")),
                &mut df,
            )?;
        }
        match by_kind.iter_mut().find(|(k, _)| *k == sweep.kind()) {
            Some((_, list)) => list.push(gathered),
            None => by_kind.push((sweep.kind(), vec![gathered])),
        }
    }
    let mut written = Vec::new();
    for (kind, sweeps) in &by_kind {
        written.extend(
            report_kind(kind, sweeps, &dir)
                .with_context(|| format!("report of {kind} into {}", dir.display()))?,
        );
    }
    Ok(written)
}
