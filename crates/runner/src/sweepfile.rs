//! A sweep file as a whole: its list of typed sweeps, located and loaded with precise errors.

use crate::experiments::SweepSpec;
use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A whole sweep file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepFile {
    /// Name of the experiment: results go to `results/<experiment>/`.
    pub experiment: String,
    #[serde(default)]
    pub description: String,
    /// Models to pretrain here, by name (see [`crate::pretrained`]); runs refer to them as
    /// `pretrained:NAME`.
    #[serde(default)]
    pub pretrain: std::collections::BTreeMap<String, serde_yaml::Value>,
    /// Each entry is a one-key map: `- <kind>: {...}`.
    #[serde(with = "serde_yaml::with::singleton_map_recursive", default)]
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::*;
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
