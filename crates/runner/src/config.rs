//! The parts of a sweep file every experiment kind shares (profiles, seeds, `config` / `grid`
//! blocks) and their resolution into runs. The file as a whole is [`crate::sweepfile`].
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

use anyhow::{Result, bail};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

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
