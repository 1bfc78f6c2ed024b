//! `runner rl4lms FILE`: an RL4LMs / ml-rlgrad config file run as RL4LMs'
//! `train_text_generation.py --config_path FILE` would, through a one-run `grue_rft` sweep file
//! written to `<out>/rl4lms/<stem>.yaml` (so the run has a store, resumes after a kill, and is
//! reported like every sweep; edit that file to sweep it).
//!
//! | file | runs |
//! |---|---|
//! | `alg.id: ppo` | method `rft`: PPO from `alg.policy.args.model_name` (an SFT checkpoint for `*_on_supervised`) |
//! | `alg.id: supervised` | method `sft`: SFT of `alg.model_name`, evaluated |
//! | `alg.id: nlpo` | refused ([`rl4lms::NLPO_REFUSAL`]) |
//! | ml-rlgrad `extract_samples` | refused: that is Figure 1's measurement (`runner diagnose`) |

use crate::sweep::SweepOptions;
use anyhow::{Result, bail};
use protocols::grue_rft::GrueRftConfig;
use rl4lms::{Algorithm, Override, Plan};
use serde_yaml::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The pools a run uses (RL4LMs uses whole splits; these are the first inputs of seed-7
/// permutations).
#[derive(Debug, Clone, Copy)]
pub struct Pools {
    pub train_inputs: usize,
    pub test_inputs: usize,
    pub samples: usize,
    pub seed: u64,
}

/// The `grue_rft` config that runs `plan` (whose `overrides` were applied on `file`).
pub fn config(
    file: &Path,
    plan: &Plan,
    overrides: &[Override],
    pools: Pools,
) -> Result<GrueRftConfig> {
    let name = file.display();
    let method = match plan.algorithm {
        Algorithm::Ppo => "rft",
        Algorithm::Supervised => "sft",
        Algorithm::Nlpo => bail!("{name}: {}", rl4lms::NLPO_REFUSAL),
        Algorithm::ExtractSamples => bail!(
            "{name}: an extract_samples config is the paper's Figure 1 measurement; run `runner diagnose \
             --checkpoint MODEL --task {}` (or experiments/reward_std.yaml) instead",
            plan.task.dataset_id()
        ),
    };
    if let Err(why) = plan.check_runnable() {
        bail!("{name}: {why}");
    }
    if plan.model_name.trim() == "_" {
        bail!(
            "{name}: the model_name is a placeholder (`_`, ml-rlgrad's 'REPLACE WITH SUPERVISED FINETUNED \
             MODEL'); point it at a checkpoint: --override alg.policy.args.model_name=DIR"
        );
    }
    let spec = plan.task.spec();
    let mut models = BTreeMap::new();
    // A learned reward's classifier is looked up by its hub id (or a directory given in the file).
    if let Some(m) = spec
        .reward
        .args_yaml()
        .get("model_name")
        .and_then(Value::as_str)
    {
        models.insert(m.to_string(), m.to_string());
    }
    models.insert(spec.model.to_string(), plan.model_name.clone());
    let set: BTreeMap<String, Value> = overrides
        .iter()
        .map(|o| (o.key.clone(), o.value.clone()))
        .collect();
    let (rl, sft) = if method == "rft" {
        (set, BTreeMap::new())
    } else {
        (BTreeMap::new(), set)
    };
    let file = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let config = GrueRftConfig {
        task: plan.task.dataset_id().to_string(),
        models,
        method: method.to_string(),
        train_inputs: pools.train_inputs,
        test_inputs: pools.test_inputs,
        samples: pools.samples,
        chunk: 8,
        small_std: 0.05,
        low_reward: 0.1,
        rl,
        rl_lr_scale: 1.0,
        heuristic: BTreeMap::new(),
        sft,
        sft_lr_scale: 1.0,
        sft_steps_fraction: 1.0,
        sft_samples_fraction: 1.0,
        sft_select: "random".into(),
        pg: Default::default(),
        label: String::new(),
        config_file: Some(file.display().to_string()),
        device: model::DeviceKind::Cpu,
    };
    config.validate()?;
    Ok(config)
}

/// Write the one-run sweep file for `plan` to `<out>/rl4lms/<stem>.yaml` and return its path.
pub fn write_sweep_file(
    file: &Path,
    plan: &Plan,
    overrides: &[Override],
    pools: Pools,
    out: &Path,
) -> Result<PathBuf> {
    let config = config(file, plan, overrides, pools)?;
    let stem: String = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config".into())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let sweep = serde_yaml::to_value(serde_json::json!({
        "experiment": format!("rl4lms-{stem}"),
        "description": format!("{} run as RL4LMs runs it (runner rl4lms)", file.display()),
        "sweeps": [{ "grue_rft": { "name": stem, "seeds": [pools.seed], "config": config } }],
    }))?;
    let text = format!(
        "# Written by `runner rl4lms {}`; run it again with `runner sweep THIS_FILE`.\n{}",
        file.display(),
        serde_yaml::to_string(&sweep)?
    );
    let path = out.join("rl4lms").join(format!("{stem}.yaml"));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    atomicwrite::write(&path, text.as_bytes())?;
    Ok(path)
}

/// `runner rl4lms FILE [--dry-run] [--override KEY=VALUE ...]`: print the plan, or write the
/// equivalent sweep file and run it like any sweep (store, resume, report). Returns the files the
/// report wrote.
pub fn command(
    file: &Path,
    dry_run: bool,
    overrides: &[Override],
    pools: Pools,
    opts: &SweepOptions,
) -> Result<Vec<PathBuf>> {
    let plan = rl4lms::load(file, overrides)?;
    if let Some(w) = plan.skipped_metrics_warning() {
        eprintln!("{w}");
    }
    if dry_run {
        print!("{plan}");
        return Ok(Vec::new());
    }
    let sweep = write_sweep_file(file, &plan, overrides, pools, &opts.out)?;
    eprintln!(
        "running {} as the sweep file {}",
        file.display(),
        sweep.display()
    );
    Ok(crate::run_sweep(&sweep, opts)?.report)
}
