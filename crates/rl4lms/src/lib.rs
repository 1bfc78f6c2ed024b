//! RL4LMs config files (`scripts/training/train_text_generation.py --config_path X.yml`, and the
//! `rl4lms_scripts/` files of apple/ml-rlgrad) parsed into a typed, validated [`Plan`].
//!
//! * [`load`] / [`parse_str`]: YAML text -> (overrides applied on the tree) -> [`config::Config`]
//!   -> [`Plan`]. A misspelt key is an error `PATH:LINE:COL: ...` naming the key.
//! * [`Override`]: `key.path=value` (`alg.args.learning_rate=2e-5`); the key must exist.
//! * [`Plan`]: task, model, algorithm, every hyperparameter, metrics split into supported (ids of
//!   the `rewards` registry) and skipped, and what cannot run here (NLPO).

pub mod config;
pub mod ml_rlgrad;

use config::{AlgId, Config, EvalConfig, GenerationKwargs};
use grue::TaskName;
use serde_yaml::Value;
use std::fmt;
use std::path::Path;

/// The one line with which a run of an NLPO config is refused.
pub const NLPO_REFUSAL: &str =
    "NLPO (masked PPO) is not implemented; use the ppo config of the same task";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// YAML syntax or schema error; `location` is `(line, column)` when serde_yaml knows it.
    #[error("{path}:{}{message}", location.map(|(l, c)| format!("{l}:{c}: ")).unwrap_or_else(|| " ".into()))]
    Yaml {
        path: String,
        location: Option<(usize, usize)>,
        message: String,
    },
    #[error("{path}: --override {key}: {message}")]
    Override {
        path: String,
        key: String,
        message: String,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// `key.path=value`: a dotted path of mapping keys (or sequence indices) and a YAML scalar.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    pub key: String,
    pub value: Value,
}

impl Override {
    /// Parse `key.path=value`; the value is read as YAML (`2e-5` a number, `true` a bool, `DIR` a
    /// string).
    pub fn parse(s: &str) -> Result<Override, String> {
        let (key, value) = s
            .split_once('=')
            .ok_or_else(|| format!("override '{s}' is not key.path=value"))?;
        let key = key.trim();
        if key.is_empty() || key.split('.').any(str::is_empty) {
            return Err(format!("override '{s}': empty key segment"));
        }
        let value: Value = serde_yaml::from_str(value)
            .map_err(|e| format!("override '{s}': value is not YAML: {e}"))?;
        Ok(Override {
            key: key.to_string(),
            value,
        })
    }

    /// Replace the value at `self.key` in `tree`; a key that does not exist is an error naming it.
    pub fn apply(&self, tree: &mut Value) -> Result<(), String> {
        let mut node = tree;
        let mut walked = String::new();
        for seg in self.key.split('.') {
            let here = if walked.is_empty() {
                "the top level".to_string()
            } else {
                format!("'{walked}'")
            };
            node = match node {
                Value::Mapping(m) => {
                    let keys: Vec<String> = m
                        .keys()
                        .filter_map(|k| k.as_str().map(str::to_string))
                        .collect();
                    m.get_mut(seg).ok_or_else(|| {
                        format!(
                            "key '{seg}' does not exist in {here} (keys there: {})",
                            keys.join(", ")
                        )
                    })?
                }
                Value::Sequence(s) => {
                    let n = s.len();
                    let i: usize = seg
                        .parse()
                        .map_err(|_| format!("{here} is a list; '{seg}' is not an index"))?;
                    s.get_mut(i).ok_or_else(|| {
                        format!("index {i} does not exist in {here} (it has {n} entries)")
                    })?
                }
                _ => return Err(format!("{here} is a scalar; it has no key '{seg}'")),
            };
            if !walked.is_empty() {
                walked.push('.');
            }
            walked.push_str(seg);
        }
        *node = self.value.clone();
        Ok(())
    }

    /// Set the value at `self.key` in `tree`, adding missing mapping keys on the way (what a
    /// sweep file's overrides do: a key the file lacks but the schema has, such as
    /// `alg.training_args.max_steps`, is added; a misspelt one is left to the typed schema).
    pub fn set(&self, tree: &mut Value) -> Result<(), String> {
        let mut node = tree;
        for seg in self.key.split('.') {
            if node.is_null() {
                *node = Value::Mapping(Default::default());
            }
            node = match node {
                Value::Mapping(m) => m
                    .entry(Value::String(seg.to_string()))
                    .or_insert(Value::Null),
                Value::Sequence(s) => {
                    let n = s.len();
                    let i: usize = seg
                        .parse()
                        .map_err(|_| format!("'{seg}' is not an index of a list"))?;
                    s.get_mut(i).ok_or_else(|| {
                        format!("index {i} does not exist (the list has {n} entries)")
                    })?
                }
                _ => return Err(format!("a scalar has no key '{seg}' ({})", self.key)),
            };
        }
        *node = self.value.clone();
        Ok(())
    }
}

/// What the config asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Ppo,
    /// Refused when running ([`NLPO_REFUSAL`]); listed as unsupported in a dry run.
    Nlpo,
    Supervised,
    /// ml-rlgrad `extract_samples` files: generate from a model, no training.
    ExtractSamples,
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Algorithm::Ppo => "ppo",
            Algorithm::Nlpo => "nlpo",
            Algorithm::Supervised => "supervised",
            Algorithm::ExtractSamples => "extract_samples",
        })
    }
}

/// A validated config.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The file (as given).
    pub source: String,
    pub task: TaskName,
    /// RL4LMs datapool id as written (`imdb_seq2seq` maps to [`TaskName::Imdb`]).
    pub datapool_id: String,
    pub model_name: String,
    pub algorithm: Algorithm,
    /// Reward id and whether the `rewards` registry has it (RL files only).
    pub reward: Option<(String, bool)>,
    /// Every setting of the typed config, `dotted.name = value` (schema order; metrics by id).
    pub hyperparameters: Vec<(String, String)>,
    /// Evaluation metric ids we compute (`rewards::registry` ids), in file order.
    pub metrics_supported: Vec<String>,
    /// Evaluation metric ids with no implementation here (bert_score, diversity, ...).
    pub metrics_skipped: Vec<String>,
    /// Reasons this plan cannot run here (NLPO); empty when it can.
    pub unsupported: Vec<String>,
    /// The typed config (overrides applied).
    pub config: Config,
}

impl Plan {
    /// The evaluation settings (`train_evaluation` or `evaluation`).
    pub fn evaluation(&self) -> Option<&EvalConfig> {
        self.config
            .train_evaluation
            .as_ref()
            .or(self.config.evaluation.as_ref())
    }

    /// The rollout / sampling generation kwargs (policy's for RL, `alg`'s otherwise).
    pub fn generation_kwargs(&self) -> Option<&GenerationKwargs> {
        let alg = &self.config.alg;
        alg.policy
            .as_ref()
            .and_then(|p| p.args.generation_kwargs.as_ref())
            .or(alg.generation_kwargs.as_ref())
    }

    /// A hyperparameter's value as printed, by dotted name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.hyperparameters
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The one warning line naming skipped metrics, if any are skipped.
    pub fn skipped_metrics_warning(&self) -> Option<String> {
        (!self.metrics_skipped.is_empty()).then(|| {
            format!(
                "warning: skipping evaluation metrics with no implementation here: {}",
                self.metrics_skipped.join(", ")
            )
        })
    }

    /// `Ok` when the plan can be run here; else the one line saying why not.
    pub fn check_runnable(&self) -> Result<(), String> {
        match self.unsupported.first() {
            None => Ok(()),
            Some(r) => Err(r.clone()),
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "config    = {}", self.source)?;
        writeln!(
            f,
            "task      = {} (datapool {})",
            self.task, self.datapool_id
        )?;
        writeln!(f, "model     = {}", self.model_name)?;
        writeln!(f, "algorithm = {}", self.algorithm)?;
        if let Some((id, ok)) = &self.reward {
            let note = if *ok { "" } else { " (NOT IMPLEMENTED here)" };
            writeln!(f, "reward    = {id}{note}")?;
        }
        writeln!(f, "hyperparameters:")?;
        for (k, v) in &self.hyperparameters {
            writeln!(f, "  {k} = {v}")?;
        }
        writeln!(f, "metrics   = {}", list_or_none(&self.metrics_supported))?;
        writeln!(
            f,
            "skipped metrics = {}",
            list_or_none(&self.metrics_skipped)
        )?;
        for r in &self.unsupported {
            writeln!(f, "unsupported: {r}")?;
        }
        Ok(())
    }
}

fn list_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "(none)".into()
    } else {
        v.join(", ")
    }
}

/// Read `path`, apply `overrides`, type and validate it.
pub fn load(path: &Path, overrides: &[Override]) -> Result<Plan, Error> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: name.clone(),
        source,
    })?;
    parse_str(&text, &name, overrides)
}

fn yaml_error(path: &str, e: serde_yaml::Error) -> Error {
    let location = e.location().map(|l| (l.line(), l.column()));
    let mut message = e.to_string();
    if let Some((l, c)) = location {
        // serde_yaml appends " at line L column C"; the location is printed in front instead
        let suffix = format!(" at line {l} column {c}");
        if let Some(i) = message.rfind(&suffix) {
            message.replace_range(i..i + suffix.len(), "");
        }
    }
    Error::Yaml {
        path: path.to_string(),
        location,
        message,
    }
}

/// Parse config text; `path` names it in errors. Each override's key must exist in the text.
pub fn parse_str(text: &str, path: &str, overrides: &[Override]) -> Result<Plan, Error> {
    parse_with(text, path, overrides, Override::apply)
}

/// Parse config text with `sets` applied by [`Override::set`] (missing keys are added).
pub fn parse_str_set(text: &str, path: &str, sets: &[Override]) -> Result<Plan, Error> {
    parse_with(text, path, sets, Override::set)
}

fn parse_with(
    text: &str,
    path: &str,
    overrides: &[Override],
    put: fn(&Override, &mut Value) -> Result<(), String>,
) -> Result<Plan, Error> {
    let mut tree: Value = serde_yaml::from_str(text).map_err(|e| yaml_error(path, e))?;
    for o in overrides {
        put(o, &mut tree).map_err(|message| Error::Override {
            path: path.to_string(),
            key: o.key.clone(),
            message,
        })?;
    }
    let config: Config = match serde_yaml::from_value(tree) {
        Ok(c) => c,
        Err(e) => {
            // from_value has no positions: re-read the text itself for LINE:COL; if the text
            // alone is fine, an override made the error.
            return Err(match serde_yaml::from_str::<Config>(text) {
                Err(e0) => yaml_error(path, e0),
                Ok(_) => {
                    let given: Vec<String> = overrides
                        .iter()
                        .map(|o| format!("{}={}", o.key, scalar(&o.value)))
                        .collect();
                    invalid(path, format!("after --override {}: {e}", given.join(" ")))
                }
            });
        }
    };
    plan(config, path)
}

fn invalid(path: &str, message: impl Into<String>) -> Error {
    Error::Invalid {
        path: path.to_string(),
        message: message.into(),
    }
}

/// RL4LMs datapool id -> GRUE task.
pub fn task_of_datapool(id: &str) -> Result<TaskName, String> {
    match id {
        // ml-rlgrad's IMDB pool for T5 models; the same data
        "imdb_seq2seq" => Ok(TaskName::Imdb),
        _ => TaskName::parse(id).map_err(|e| e.to_string()),
    }
}

/// Whether an evaluation metric / reward id is computed here (the `rewards` registry).
pub fn is_supported_metric(id: &str) -> bool {
    rewards::registry::IDS.contains(&id) || rewards::registry::MODEL_IDS.contains(&id)
}

fn plan(config: Config, path: &str) -> Result<Plan, Error> {
    let task = task_of_datapool(&config.datapool.id)
        .map_err(|e| invalid(path, format!("datapool.id: {e}")))?;
    let alg = &config.alg;
    let algorithm = match alg.id {
        Some(AlgId::Ppo) => Algorithm::Ppo,
        Some(AlgId::Nlpo) => Algorithm::Nlpo,
        Some(AlgId::Supervised) => Algorithm::Supervised,
        None => Algorithm::ExtractSamples,
    };
    let need = |ok: bool, what: &str| -> Result<(), Error> {
        if ok {
            Ok(())
        } else {
            Err(invalid(path, format!("a {algorithm} config needs {what}")))
        }
    };
    let not = |present: bool, what: &str| -> Result<(), Error> {
        if present {
            Err(invalid(
                path,
                format!("{what} does not belong in a {algorithm} config"),
            ))
        } else {
            Ok(())
        }
    };
    let model_name = match algorithm {
        Algorithm::Ppo | Algorithm::Nlpo => {
            need(alg.args.is_some(), "alg.args")?;
            need(alg.kl_div.is_some(), "alg.kl_div")?;
            need(config.env.is_some(), "env")?;
            need(config.reward_fn.is_some(), "reward_fn")?;
            need(config.train_evaluation.is_some(), "train_evaluation")?;
            not(alg.training_args.is_some(), "alg.training_args")?;
            not(
                alg.model_name.is_some(),
                "alg.model_name (RL configs name the model in alg.policy.args.model_name)",
            )?;
            not(
                alg.generation_kwargs.is_some(),
                "alg.generation_kwargs (RL configs use alg.policy.args.generation_kwargs)",
            )?;
            let Some(policy) = alg.policy.as_ref() else {
                return Err(invalid(
                    path,
                    format!("a {algorithm} config needs alg.policy"),
                ));
            };
            if policy.id.is_maskable() != (algorithm == Algorithm::Nlpo) {
                return Err(invalid(
                    path,
                    format!(
                        "alg.policy.id {:?} does not go with alg.id {algorithm}",
                        policy.id
                    ),
                ));
            }
            policy.args.model_name.clone()
        }
        Algorithm::Supervised | Algorithm::ExtractSamples => {
            if algorithm == Algorithm::Supervised {
                need(alg.training_args.is_some(), "alg.training_args")?;
                need(config.train_evaluation.is_some(), "train_evaluation")?;
            } else {
                need(config.evaluation.is_some(), "evaluation")?;
                not(config.train_evaluation.is_some(), "train_evaluation")?;
            }
            need(alg.model_type.is_some(), "alg.model_type")?;
            not(alg.args.is_some(), "alg.args")?;
            not(alg.kl_div.is_some(), "alg.kl_div")?;
            not(alg.policy.is_some(), "alg.policy")?;
            not(config.env.is_some(), "env")?;
            alg.model_name.clone().ok_or_else(|| {
                invalid(path, format!("a {algorithm} config needs alg.model_name"))
            })?
        }
    };
    if config.train_evaluation.is_some() && config.evaluation.is_some() {
        return Err(invalid(
            path,
            "both train_evaluation and evaluation are given",
        ));
    }
    let gens = [
        alg.generation_kwargs.as_ref(),
        alg.policy
            .as_ref()
            .and_then(|p| p.args.generation_kwargs.as_ref()),
        config
            .train_evaluation
            .as_ref()
            .and_then(|e| e.generation_kwargs.as_ref()),
        config
            .evaluation
            .as_ref()
            .and_then(|e| e.generation_kwargs.as_ref()),
    ];
    if let Some(fun) = gens
        .iter()
        .flatten()
        .find_map(|g| g.post_processing_fn.as_ref())
    {
        return Err(invalid(
            path,
            format!("generation_kwargs.post_processing_fn '{fun}' is not supported (only null)"),
        ));
    }

    let eval = config
        .train_evaluation
        .as_ref()
        .or(config.evaluation.as_ref());
    let (mut metrics_supported, mut metrics_skipped) = (Vec::new(), Vec::new());
    for m in eval.map(|e| e.metrics.as_slice()).unwrap_or_default() {
        let bucket = if is_supported_metric(&m.id) {
            &mut metrics_supported
        } else {
            &mut metrics_skipped
        };
        if !bucket.contains(&m.id) {
            bucket.push(m.id.clone());
        }
    }
    let reward = config
        .reward_fn
        .as_ref()
        .map(|r| (r.id.clone(), is_supported_metric(&r.id)));
    let mut unsupported = Vec::new();
    if algorithm == Algorithm::Nlpo {
        unsupported.push(NLPO_REFUSAL.to_string());
    }
    if let Some((id, false)) = &reward {
        unsupported.push(format!("reward_fn.id '{id}' is not implemented"));
    }

    let mut hyperparameters = Vec::new();
    let tree = serde_yaml::to_value(&config).expect("a typed config serialises");
    flatten("", &tree, &mut hyperparameters);
    Ok(Plan {
        source: path.to_string(),
        task,
        datapool_id: config.datapool.id.clone(),
        model_name,
        algorithm,
        reward,
        hyperparameters,
        metrics_supported,
        metrics_skipped,
        unsupported,
        config,
    })
}

/// Every scalar leaf of `v` as `dotted.path = value`; list entries with an `id` are named by it
/// (`train_evaluation.metrics.rouge.use_single_ref`).
fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    let join = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        Value::Mapping(m) if !m.is_empty() => {
            for (k, x) in m {
                flatten(&join(&scalar(k)), x, out);
            }
        }
        Value::Sequence(s) if !s.is_empty() => {
            for (i, x) in s.iter().enumerate() {
                let id = x.get("id").and_then(Value::as_str);
                match (id, x) {
                    (Some(id), Value::Mapping(m)) => {
                        let rest: Vec<_> =
                            m.iter().filter(|(k, _)| k.as_str() != Some("id")).collect();
                        if rest.is_empty() {
                            out.push((join(id), "{}".into()));
                        }
                        for (k, xx) in rest {
                            flatten(&join(&format!("{id}.{}", scalar(k))), xx, out);
                        }
                    }
                    _ => flatten(&join(&i.to_string()), x, out),
                }
            }
        }
        _ => out.push((prefix.to_string(), scalar(v))),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Mapping(m) if m.is_empty() => "{}".into(),
        Value::Sequence(s) if s.is_empty() => "[]".into(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}
