//! The sweep file: its schema, loading with precise errors, and resolution into runs.
//!
//! ```yaml
//! experiment: theory            # results go to results/<experiment>/
//! description: ...
//! sweeps:
//!   - theorem2:                 # the experiment kind (see `experiments::SweepSpec`)
//!       name: theorem2          # optional; defaults to the kind
//!       seeds: [0, 1, 2]
//!       config: {num_inputs: 40, ...}       # fixed values
//!       grid: {method: [rft, sft]}          # list-valued: the cartesian product is run
//!       profiles:                           # smoke | default | paper overrides
//!         smoke: {seeds: [0], config: {num_inputs: 6}}
//! ```
//!
//! Every block is typed per kind with unknown keys denied, so a wrong key or value is reported by
//! serde_yaml with its line, column and the accepted keys. Each resolved run has a stable id:
//! a hash of its kind, fully resolved config and seed.

use crate::experiments::SweepSpec;
use anyhow::{Context, Result, bail};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Declare an experiment's config struct together with its `Grid` (every field an optional list)
/// and `Patch` (every field optional) companions, all denying unknown keys.
#[macro_export]
macro_rules! sweep_config {
    (
        $(#[$meta:meta])*
        pub struct $name:ident / $grid:ident / $patch:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name { $( $(#[$fmeta])* pub $field: $ty, )* }

        #[doc = concat!("List-valued fields of [`", stringify!($name), "`]: the sweep runs their cartesian product.")]
        #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $grid {
            $( #[serde(default, skip_serializing_if = "Option::is_none")] pub $field: Option<Vec<$ty>>, )*
        }

        #[doc = concat!("Fixed values of some fields of [`", stringify!($name), "`].")]
        #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $patch {
            $( #[serde(default, skip_serializing_if = "Option::is_none")] pub $field: Option<$ty>, )*
        }
    };
}

/// The three compute profiles every sweep understands.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// Seconds; used by the tests.
    Smoke,
    /// Minutes on a 2-core CPU; produces the committed results.
    Default,
    /// The paper's full protocol (meant for a GPU).
    Paper,
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Profile::Smoke => "smoke",
            Profile::Default => "default",
            Profile::Paper => "paper",
        })
    }
}

/// Overrides a profile applies on top of the sweep's `config`, `grid` and `seeds`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, bound = "")]
pub struct ProfileSpec<P: DeserializeOwned + Default, G: DeserializeOwned + Default> {
    #[serde(default)]
    pub seeds: Option<Vec<u64>>,
    #[serde(default)]
    pub config: P,
    #[serde(default)]
    pub grid: G,
}

/// One sweep: a kind's config, grid, seeds and profile overrides.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, bound = "")]
pub struct Sweep<P: DeserializeOwned + Default, G: DeserializeOwned + Default> {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    #[serde(default)]
    pub config: P,
    #[serde(default)]
    pub grid: G,
    #[serde(default)]
    pub profiles: BTreeMap<Profile, ProfileSpec<P, G>>,
}

fn default_seeds() -> Vec<u64> {
    vec![0]
}

/// A whole sweep file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepFile {
    /// Name of the experiment: results go to `results/<experiment>/`.
    pub experiment: String,
    #[serde(default)]
    pub description: String,
    /// Each entry is a one-key map: `- <kind>: {...}`.
    #[serde(with = "serde_yaml::with::singleton_map_recursive")]
    pub sweeps: Vec<SweepSpec>,
}

/// Find a sweep file: the path as given, else a bare name under `experiments/`.
pub fn locate(file: &Path) -> Result<PathBuf> {
    if file.is_file() {
        return Ok(file.to_path_buf());
    }
    let in_experiments = Path::new("experiments").join(file);
    if file.components().count() == 1 && in_experiments.is_file() {
        return Ok(in_experiments);
    }
    bail!(
        "sweep file {} not found (looked at {} and {}); pass a path or a file name from experiments/",
        file.display(),
        file.display(),
        in_experiments.display()
    )
}

/// Parse a sweep file; errors read `FILE:LINE:COLUMN: what is wrong`.
pub fn load(path: &Path) -> Result<SweepFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read sweep file {}", path.display()))?;
    parse(&text, path)
}

/// Parse sweep-file text (`path` names it in errors).
pub fn parse(text: &str, path: &Path) -> Result<SweepFile> {
    let file: SweepFile = serde_yaml::from_str(text).map_err(|e| yaml_error(path, &e))?;
    let valid_name = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    if !valid_name(&file.experiment) {
        bail!(
            "{}: experiment name {:?} must be letters, digits, '_' or '-'",
            path.display(),
            file.experiment
        );
    }
    let mut seen = std::collections::HashSet::new();
    for sweep in &file.sweeps {
        let name = sweep.name();
        if !valid_name(&name) {
            bail!(
                "{}: sweep name {name:?} must be letters, digits, '_' or '-'",
                path.display()
            );
        }
        if !seen.insert(name.clone()) {
            bail!(
                "{}: two sweeps are named {name:?}; give each a distinct `name:`",
                path.display()
            );
        }
    }
    Ok(file)
}

fn yaml_error(path: &Path, e: &serde_yaml::Error) -> anyhow::Error {
    let msg = e.to_string();
    match e.location() {
        Some(loc) => {
            let suffix = format!(" at line {} column {}", loc.line(), loc.column());
            let msg = msg.split(&suffix).collect::<Vec<_>>().join("");
            anyhow::anyhow!(
                "{}:{}:{}: {}",
                path.display(),
                loc.line(),
                loc.column(),
                msg
            )
        }
        None => anyhow::anyhow!("{}: {}", path.display(), msg),
    }
}

/// A fully resolved run, before it is bound to its experiment code.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedConfig {
    /// The resolved config as a JSON object (keys sorted).
    pub config: Value,
    /// Values of the grid axes at this point (column name -> value).
    pub grid_point: BTreeMap<String, Value>,
    pub seed: u64,
}

fn to_object<T: Serialize>(v: &T) -> Map<String, Value> {
    match serde_json::to_value(v).expect("configs serialise to JSON") {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Resolve a sweep under a profile: config <- profile config; grid <- profile grid (per axis);
/// seeds <- profile seeds; then one run per grid point and seed, deserialised into `C` to check it.
pub fn resolve<C, P, G>(
    sweep: &Sweep<P, G>,
    profile: Profile,
    context: &str,
) -> Result<Vec<(C, ResolvedConfig)>>
where
    C: DeserializeOwned + Clone,
    P: Serialize + DeserializeOwned + Default,
    G: Serialize + DeserializeOwned + Default,
{
    let mut base = to_object(&sweep.config);
    let mut grid = to_object(&sweep.grid);
    let mut seeds = sweep.seeds.clone();
    if let Some(p) = sweep.profiles.get(&profile) {
        base.extend(to_object(&p.config));
        grid.extend(to_object(&p.grid));
        if let Some(s) = &p.seeds {
            seeds = s.clone();
        }
    }
    if seeds.is_empty() {
        bail!("{context}: `seeds` is empty under profile {profile}; give at least one seed");
    }
    // Axes in key order; the last axis varies fastest.
    let axes: Vec<(String, Vec<Value>)> = grid
        .into_iter()
        .map(|(k, v)| match v {
            Value::Array(values) => (k, values),
            other => (k, vec![other]),
        })
        .collect();
    if let Some((k, _)) = axes.iter().find(|(_, v)| v.is_empty()) {
        bail!("{context}: grid axis `{k}` has no values");
    }
    let mut points: Vec<BTreeMap<String, Value>> = vec![BTreeMap::new()];
    for (key, values) in &axes {
        points = points
            .into_iter()
            .flat_map(|p| {
                values.iter().map(move |v| {
                    let mut q = p.clone();
                    q.insert(key.clone(), v.clone());
                    q
                })
            })
            .collect();
    }
    let mut runs = Vec::new();
    for point in points {
        let mut obj = base.clone();
        obj.extend(point.iter().map(|(k, v)| (k.clone(), v.clone())));
        let resolved = Value::Object(obj);
        let config: C = serde_json::from_value(resolved.clone()).map_err(|e| {
            anyhow::anyhow!("{context}: {e} (give every field under `config:` or `grid:`)")
        })?;
        for &seed in &seeds {
            let rc = ResolvedConfig {
                config: resolved.clone(),
                grid_point: point.clone(),
                seed,
            };
            runs.push((config.clone(), rc));
        }
    }
    Ok(runs)
}

/// The stable id of a run: 16 hex digits of SHA-256 over its kind, resolved config and seed.
pub fn run_id(kind: &str, config: &Value, seed: u64) -> String {
    use sha2::{Digest, Sha256};
    let canonical = serde_json::json!({ "kind": kind, "config": config, "seed": seed }).to_string();
    let digest = Sha256::digest(canonical.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::theorem1::Theorem1Config;

    const FILE: &str = "
experiment: t
sweeps:
  - theorem1:
      name: a
      seeds: [0, 1]
      config: {setting: tabular, vocab: 3, length: 2, instances: 5}
      grid: {vocab: [2, 3], length: [1, 2]}
      profiles:
        smoke: {seeds: [7], grid: {length: [1]}, config: {instances: 2}}
";

    fn sweep(
        file: &SweepFile,
    ) -> &Sweep<
        crate::experiments::theorem1::Theorem1Patch,
        crate::experiments::theorem1::Theorem1Grid,
    > {
        match &file.sweeps[0] {
            SweepSpec::Theorem1(s) => s,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn grid_is_a_cartesian_product_with_the_last_axis_fastest() {
        let file = parse(FILE, Path::new("f.yaml")).unwrap();
        let runs = resolve::<Theorem1Config, _, _>(sweep(&file), Profile::Default, "ctx").unwrap();
        let points: Vec<(usize, usize, u64)> = runs
            .iter()
            .map(|(c, r)| (c.length, c.vocab, r.seed))
            .collect();
        // Axes in key order (length, vocab); seeds innermost.
        assert_eq!(
            points,
            vec![
                (1, 2, 0),
                (1, 2, 1),
                (1, 3, 0),
                (1, 3, 1),
                (2, 2, 0),
                (2, 2, 1),
                (2, 3, 0),
                (2, 3, 1)
            ]
        );
        assert!(runs.iter().all(|(c, _)| c.instances == 5 && c.hidden == 16));
    }

    #[test]
    fn a_profile_overrides_seeds_config_and_grid_axes() {
        let file = parse(FILE, Path::new("f.yaml")).unwrap();
        let runs = resolve::<Theorem1Config, _, _>(sweep(&file), Profile::Smoke, "ctx").unwrap();
        let points: Vec<(usize, usize, u64, usize)> = runs
            .iter()
            .map(|(c, r)| (c.length, c.vocab, r.seed, c.instances))
            .collect();
        assert_eq!(points, vec![(1, 2, 7, 2), (1, 3, 7, 2)]);
    }

    #[test]
    fn run_ids_are_stable_and_depend_on_config_and_seed() {
        let cfg = serde_json::json!({"a": 1, "b": [1, 2]});
        let id = run_id("theorem1", &cfg, 0);
        assert_eq!(id.len(), 16);
        assert_eq!(
            id,
            run_id("theorem1", &serde_json::json!({"b": [1, 2], "a": 1}), 0),
            "key order must not matter"
        );
        assert_ne!(id, run_id("theorem1", &cfg, 1));
        assert_ne!(
            id,
            run_id("theorem1", &serde_json::json!({"a": 2, "b": [1, 2]}), 0)
        );
        assert_ne!(id, run_id("theorem2", &cfg, 0));
    }

    fn error_of(text: &str) -> String {
        format!("{:#}", parse(text, Path::new("exp.yaml")).unwrap_err())
    }

    #[test]
    fn unknown_keys_are_reported_with_line_column_and_accepted_keys() {
        let e = error_of(&FILE.replace("instances: 5", "instancs: 5"));
        assert!(e.starts_with("exp.yaml:7:"), "{e}");
        assert!(
            e.contains("unknown field `instancs`")
                && e.contains("`instances`")
                && e.contains("`setting`"),
            "{e}"
        );
        assert!(!e.contains('\n'), "one line: {e}");

        let e = error_of(&FILE.replace("grid: {vocab", "grid: {vocabulary"));
        assert!(
            e.starts_with("exp.yaml:8:") && e.contains("unknown field `vocabulary`"),
            "{e}"
        );

        let e = error_of(&FILE.replace("- theorem1:", "- theorm1:"));
        assert!(
            e.starts_with("exp.yaml:4:")
                && e.contains("unknown variant `theorm1`")
                && e.contains("`theorem2`"),
            "{e}"
        );

        let e = error_of(&FILE.replace("smoke:", "fast:"));
        assert!(
            e.starts_with("exp.yaml:10:")
                && e.contains("unknown variant `fast`")
                && e.contains("`paper`"),
            "{e}"
        );

        let e = error_of(&FILE.replace("setting: tabular", "setting: tabula"));
        assert!(
            e.starts_with("exp.yaml:7:")
                && e.contains("unknown variant `tabula`")
                && e.contains("`neural`"),
            "{e}"
        );

        let e = error_of(&FILE.replace("experiment: t", "experiment: t\nseeds: [1]"));
        assert!(
            e.starts_with("exp.yaml:3:") && e.contains("unknown field `seeds`"),
            "{e}"
        );
    }

    #[test]
    fn a_missing_field_names_the_sweep_and_where_to_put_it() {
        let text = FILE.replace("setting: tabular, ", "");
        let file = parse(&text, Path::new("exp.yaml")).unwrap();
        let e =
            resolve::<Theorem1Config, _, _>(sweep(&file), Profile::Default, "exp.yaml: sweep a")
                .unwrap_err()
                .to_string();
        assert!(
            e.contains("exp.yaml: sweep a")
                && e.contains("missing field `setting`")
                && e.contains("grid:"),
            "{e}"
        );
    }

    #[test]
    fn duplicate_sweep_names_are_rejected() {
        let text = format!("{FILE}  - theorem1:\n      name: a\n");
        assert!(error_of(&text).contains("two sweeps are named \"a\""));
    }
}
