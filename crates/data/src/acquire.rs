//! Getting the datasets into the data directory and saying what is there: the library side of
//! `runner data fetch`, `runner data status` and `runner data check`.
//!
//! Downloads go to `<data dir>/.downloads/<dataset>/` (a `.part` file while transferring, resumed
//! on the next run); every file is checked against the registry before it is renamed to its final
//! path, and archives are deleted once extracted.

use crate::checksum::check_file;
use crate::registry::{self, Check, Dataset, EXPERIMENTS, Experiment, Need, Unpack};
use fetch::{ArchiveKind, Expect, FetchError, Fetcher, Member};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A check run on an extracted file before it is renamed into place.
type FileCheck = Box<dyn Fn(&Path) -> Result<(), String>>;

/// Where to put the data and where to get it from.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub data_dir: PathBuf,
    /// Request upstream `https://HOST/PATH` as `BASE/HOST/PATH` (a mirror of the upstream files, or
    /// a local test server).
    pub base_url: Option<String>,
    /// A served copy of a data directory (e.g. the shared data folder over HTTP): every needed file
    /// is requested as `MIRROR/<path in the data directory>` and checked like a local file.
    pub mirror: Option<String>,
    /// Progress bars on stderr (when it is a terminal).
    pub progress: bool,
}

/// Whether a dataset is usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Every need is met; `unverified` lists files that have no registered hash.
    Present { unverified: Vec<&'static str> },
    /// Needs without any file (each "what: path or path").
    Missing(Vec<String>),
    /// Files that are there but fail their check (each "path: reason"); `missing` as above.
    Corrupt {
        corrupt: Vec<String>,
        missing: Vec<String>,
    },
}

impl State {
    pub fn is_present(&self) -> bool {
        matches!(self, State::Present { .. })
    }
}

fn need_state(need: &Need, data_dir: &Path) -> Result<Option<&'static str>, Option<String>> {
    let mut corrupt = None;
    for spec in need.any_of {
        let path = data_dir.join(spec.path);
        if !path.is_file() {
            continue;
        }
        match check_file(&path, spec.check) {
            Ok(()) => {
                return Ok((spec.check == Check::Unverified).then_some(spec.path));
            }
            Err(why) => {
                corrupt.get_or_insert(format!("{}: {why}", spec.path));
            }
        }
    }
    Err(corrupt)
}

fn need_label(need: &Need) -> String {
    let paths: Vec<&str> = need.any_of.iter().map(|f| f.path).collect();
    format!("{} ({})", need.what, paths.join(" or "))
}

/// Check every file a dataset needs.
pub fn state(ds: &Dataset, data_dir: &Path) -> State {
    let (mut unverified, mut missing, mut corrupt) = (vec![], vec![], vec![]);
    for need in ds.needs {
        match need_state(need, data_dir) {
            Ok(Some(path)) => unverified.push(path),
            Ok(None) => {}
            Err(Some(why)) => corrupt.push(why),
            Err(None) => missing.push(need_label(need)),
        }
    }
    if !corrupt.is_empty() {
        State::Corrupt { corrupt, missing }
    } else if !missing.is_empty() {
        State::Missing(missing)
    } else {
        State::Present { unverified }
    }
}

/// The datasets named by `targets`: experiment names (`controlled`), dataset ids (`mnist`) or
/// `all`; none means all. An unknown name is an error listing the known ones.
pub fn resolve(targets: &[String]) -> Result<Vec<&'static Dataset>, String> {
    if targets.is_empty() || targets.iter().any(|t| t == "all") {
        return Ok(registry::DATASETS.iter().collect());
    }
    let mut out: Vec<&'static Dataset> = Vec::new();
    for t in targets {
        let ids: Vec<&str> = if let Some(e) = registry::experiment(t) {
            e.datasets.to_vec()
        } else if registry::dataset(t).is_some() {
            vec![t.as_str()]
        } else {
            let experiments: Vec<&str> = EXPERIMENTS.iter().map(|e| e.name).collect();
            let datasets: Vec<&str> = registry::DATASETS.iter().map(|d| d.id).collect();
            return Err(format!(
                "unknown experiment or dataset {t:?}; experiments: {}; datasets: {}",
                experiments.join(", "),
                datasets.join(", ")
            ));
        };
        for id in ids {
            let ds = registry::dataset(id).expect("registry experiments name registered datasets");
            if !out.iter().any(|d| d.id == ds.id) {
                out.push(ds);
            }
        }
    }
    Ok(out)
}

/// What `fetch` did with one dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    AlreadyPresent,
    Fetched,
    /// No network (or the mirror is down): the dataset stays missing.
    Offline(String),
    Failed(String),
}

/// What `fetch` did.
#[derive(Debug, Clone)]
pub struct FetchReport {
    pub data_dir: PathBuf,
    pub rows: Vec<(&'static Dataset, Outcome)>,
}

impl FetchReport {
    /// Datasets that could not be fetched for lack of network.
    pub fn offline(&self) -> Vec<&'static str> {
        self.rows
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::Offline(_)))
            .map(|(d, _)| d.id)
            .collect()
    }
    /// Datasets whose download or check failed for another reason.
    pub fn failed(&self) -> Vec<&'static str> {
        self.rows
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::Failed(_)))
            .map(|(d, _)| d.id)
            .collect()
    }
}

impl std::fmt::Display for FetchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (ds, outcome) in &self.rows {
            let line = match outcome {
                Outcome::AlreadyPresent => "present".to_string(),
                Outcome::Fetched => "fetched and verified".to_string(),
                Outcome::Offline(why) => format!("NOT FETCHED, no network: {why}"),
                Outcome::Failed(why) => format!("FAILED: {why}"),
            };
            writeln!(f, "{:<16} {line}", ds.id)?;
        }
        write!(f, "data directory: {}", self.data_dir.display())
    }
}

/// Fetch every dataset of `datasets` that is not present and valid yet (see the module docs).
/// Never fails as a whole: each dataset's outcome is in the report.
pub fn fetch(datasets: &[&'static Dataset], opts: &Options) -> FetchReport {
    let mut fetcher = Fetcher::new().with_base_url(opts.base_url.as_deref());
    fetcher.progress = opts.progress;
    let rows = datasets
        .iter()
        .map(|ds| {
            let outcome = if state(ds, &opts.data_dir).is_present() {
                Outcome::AlreadyPresent
            } else if opts.mirror.is_none() && ds.downloads.is_empty() {
                Outcome::Failed(format!(
                    "no upstream download is registered: {}; fetch it from a copy of the data folder \
                     with --mirror URL (RFT_DATA_MIRROR)",
                    ds.provenance
                ))
            } else {
                let result = match &opts.mirror {
                    Some(m) => fetch_from_mirror(ds, &fetcher, m, &opts.data_dir),
                    None => fetch_upstream(ds, &fetcher, &opts.data_dir),
                };
                // Empty staging folders go; `.part` files stay, to resume next time.
                let _ = std::fs::remove_dir(staging(&opts.data_dir, ds));
                let _ = std::fs::remove_dir(opts.data_dir.join(".downloads"));
                match result {
                    Err(e) if e.is_offline() => Outcome::Offline(e.to_string()),
                    Err(e) => Outcome::Failed(e.to_string()),
                    Ok(()) => match state(ds, &opts.data_dir) {
                        State::Present { .. } => Outcome::Fetched,
                        other => Outcome::Failed(format!(
                            "downloaded, but the data directory still fails its checks: {}",
                            describe(&other)
                        )),
                    },
                }
            };
            (*ds, outcome)
        })
        .collect();
    FetchReport {
        data_dir: opts.data_dir.clone(),
        rows,
    }
}

fn staging(data_dir: &Path, ds: &Dataset) -> PathBuf {
    data_dir.join(".downloads").join(ds.id)
}

fn file_name(url: &str) -> &str {
    url.rsplit('/')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or("download")
}

/// Check `from` as the registry's file `rel`, then rename it there.
fn install(from: &Path, data_dir: &Path, rel: &str) -> Result<(), FetchError> {
    if let Some(spec) = registry::file_spec(rel)
        && let Err(why) = check_file(from, spec.check)
    {
        let _ = std::fs::remove_file(from);
        return Err(FetchError::Archive {
            archive: from.to_path_buf(),
            message: format!("is not the registered {rel} ({why}); deleted, nothing was installed"),
        });
    }
    let dest = data_dir.join(rel);
    let io = |source| FetchError::Io {
        path: dest.clone(),
        source,
    };
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    std::fs::rename(from, &dest).map_err(io)
}

fn fetch_upstream(ds: &Dataset, fetcher: &Fetcher, data_dir: &Path) -> Result<(), FetchError> {
    let stage = staging(data_dir, ds);
    for dl in ds.downloads {
        let done = dl.unpack.outputs().iter().all(|rel| {
            registry::file_spec(rel).is_some_and(|spec| {
                let p = data_dir.join(rel);
                p.is_file() && check_file(&p, spec.check).is_ok()
            })
        });
        if done {
            continue;
        }
        let archive = stage.join(file_name(dl.url));
        fetcher.download(
            dl.url,
            &archive,
            Expect {
                sha256: dl.sha256,
                size: dl.size,
            },
        )?;
        match dl.unpack {
            Unpack::Keep(rel) => install(&archive, data_dir, rel)?,
            Unpack::Build { outputs, build } => {
                // Built into the staging folder, then each is checked and renamed into place.
                let built: Vec<PathBuf> = outputs
                    .iter()
                    .map(|rel| stage.join(format!("built-{}", rel.replace('/', "_"))))
                    .collect();
                build(&archive, &built).map_err(|message| FetchError::Archive {
                    archive: archive.clone(),
                    message: format!("cannot build {} from it: {message}", outputs.join(", ")),
                })?;
                for (tmp, rel) in built.iter().zip(outputs) {
                    install(tmp, data_dir, rel)?;
                }
                let _ = std::fs::remove_file(&archive);
            }
            Unpack::TarGz(members) | Unpack::Zip(members) => {
                let kind = match dl.unpack {
                    Unpack::TarGz(_) => ArchiveKind::TarGz,
                    _ => ArchiveKind::Zip,
                };
                let checks: Vec<FileCheck> = members
                    .iter()
                    .map(|(_, rel)| {
                        let check = registry::file_spec(rel).map_or(Check::Unverified, |s| s.check);
                        Box::new(move |p: &Path| check_file(p, check)) as FileCheck
                    })
                    .collect();
                let list: Vec<Member<'_>> = members
                    .iter()
                    .zip(&checks)
                    .map(|((name, rel), check)| Member {
                        name,
                        dest: data_dir.join(rel),
                        check: check.as_ref(),
                    })
                    .collect();
                fetch::extract(&archive, kind, &list)?;
                let _ = std::fs::remove_file(&archive);
            }
        }
    }
    let _ = std::fs::remove_dir(&stage);
    let _ = std::fs::remove_dir(data_dir.join(".downloads"));
    Ok(())
}

fn fetch_from_mirror(
    ds: &Dataset,
    fetcher: &Fetcher,
    mirror: &str,
    data_dir: &Path,
) -> Result<(), FetchError> {
    let stage = staging(data_dir, ds);
    let mirror = mirror.trim_end_matches('/');
    for need in ds.needs {
        if need_state(need, data_dir).is_ok() {
            continue;
        }
        let mut last = None;
        for spec in need.any_of {
            let tmp = stage.join(spec.path);
            let expect = Expect {
                sha256: match spec.check {
                    Check::Sha256(h) => Some(h),
                    _ => None,
                },
                size: None,
            };
            // The mirror URL is used as is (no base-URL rewriting).
            match Fetcher::download(
                &fetcher.clone().with_base_url(None),
                &format!("{mirror}/{}", spec.path),
                &tmp,
                expect,
            ) {
                Ok(_) => {
                    install(&tmp, data_dir, spec.path)?;
                    last = None;
                    break;
                }
                Err(e @ FetchError::Status { status: 404, .. }) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        if let Some(e) = last {
            return Err(e);
        }
    }
    let _ = std::fs::remove_dir_all(&stage);
    let _ = std::fs::remove_dir(data_dir.join(".downloads"));
    Ok(())
}

fn describe(state: &State) -> String {
    match state {
        State::Present { unverified } if unverified.is_empty() => "present".into(),
        State::Present { unverified } => {
            format!("present ({} has no registered hash)", unverified.join(", "))
        }
        State::Missing(m) => format!("missing: {}", m.join("; ")),
        State::Corrupt { corrupt, missing } => {
            let mut s = format!("CORRUPT: {}", corrupt.join("; "));
            if !missing.is_empty() {
                let _ = write!(s, "; missing: {}", missing.join("; "));
            }
            s
        }
    }
}

/// The fix for a dataset that is not present, as a command.
pub fn fix_command(ds: &Dataset) -> String {
    format!("runner data fetch {}", ds.id)
}

/// `runner data status`: per experiment, each dataset present, missing or corrupt, with the fix.
pub fn status(data_dir: &Path, experiments: &[&Experiment]) -> String {
    let mut out = format!("data directory: {}\n", data_dir.display());
    for e in experiments {
        let _ = writeln!(out, "\n{} ({})", e.name, e.note);
        if e.datasets.is_empty() {
            let _ = writeln!(out, "  needs no data");
        }
        for id in e.datasets {
            let ds = registry::dataset(id).expect("registered");
            let st = state(ds, data_dir);
            let _ = write!(out, "  {:<16} {}", ds.id, describe(&st));
            if !st.is_present() {
                let _ = write!(out, "\n  {:<16} fix: `{}`", "", fix_command(ds));
            }
            out.push('\n');
        }
    }
    out
}

/// `runner data check`: `Ok` when every dataset of `targets` is present, else one line naming the
/// targets, what is missing or corrupt and the command that fixes it.
pub fn check(targets: &[String], data_dir: &Path) -> Result<(), String> {
    let datasets = resolve(targets)?;
    let bad: Vec<(&Dataset, State)> = datasets
        .iter()
        .map(|d| (*d, state(d, data_dir)))
        .filter(|(_, s)| !s.is_present())
        .collect();
    if bad.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = bad
        .iter()
        .map(|(d, s)| {
            let kind = match s {
                State::Corrupt { .. } => "corrupt",
                _ => "missing",
            };
            format!("{} ({kind})", d.title)
        })
        .collect();
    let ids: Vec<&str> = bad.iter().map(|(d, _)| d.id).collect();
    Err(format!(
        "{} needs {} in {}; fix: `runner data fetch {}`",
        targets.join(" "),
        names.join(", "),
        data_dir.display(),
        ids.join(" ")
    ))
}
