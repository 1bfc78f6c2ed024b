//! `runner diagnose`: the paper's Figure-1 measurement as a tool to run before an RFT job. For
//! each input, sample `K` outputs from the checkpoint, score them with the task's reward, and
//! report which inputs have a small reward std (they will get almost no gradient from RFT,
//! Theorem 1) and a low reward (they need it most).
//!
//! ```text
//! runner diagnose --checkpoint pretrained:t5-mini --task narrativeqa --inputs 200 --out diag/
//! runner diagnose --checkpoint DIR --input prompts.jsonl --reward meteor --out diag/
//! ```
//!
//! Writes `per_input.parquet` and `per_input.csv` (position, split index, reward mean, reward
//! std, the K rewards, prompt), `per_input_by_std.csv` (the same rows, smallest std first: the
//! inputs to label first for targeted SFT), `reward_std.png`/`.svg` (reward mean against std, the small-std /
//! low-reward corner in red, and the histogram of the std) and `summary.md`.

use crate::pretrained::resolve_reference;
use anyhow::{Context, Result, anyhow, bail};
use grue::spec::GenKwargs;
use plotting::{Axis, Figure, HistogramPanel, MeanStdPanel, Panel, PointGroup};
use protocols::grue::{
    FractionRow, InputStatsRow, Measurement, fractions, permutation_prefix, smallest_std_first,
};
use protocols::rows::Rows;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What to measure and where to write it.
#[derive(Debug, Clone)]
pub struct DiagnoseOptions {
    /// Directory, hub id or `pretrained:NAME`.
    pub checkpoint: String,
    /// A GRUE task (its data, prompt rules, reward and sampling settings)...
    pub task: Option<String>,
    /// ...or a JSONL file of `{"prompt", "references"}` lines with `reward` and `reward_args`.
    pub input: Option<PathBuf>,
    pub reward: Option<String>,
    pub reward_args: Option<String>,
    /// `learned_reward`'s classifier instead of the task's (directory, hub id or `pretrained:NAME`).
    pub classifier: Option<String>,
    pub split: grue::Split,
    pub inputs: usize,
    pub samples: usize,
    pub chunk: usize,
    pub seed: u64,
    /// Sampling for `--input` files (tasks use their own settings).
    pub max_new_tokens: usize,
    pub top_k: Option<usize>,
    pub temperature: f64,
    pub small_std: f64,
    pub low_reward: f64,
    pub device: model::DeviceKind,
    pub out: PathBuf,
    pub data_dir: PathBuf,
    /// Where the models pretrained here are cached (`<store>/.cache/pretrained`).
    pub models_dir: PathBuf,
}

/// A user's input line.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    prompt: String,
    #[serde(default)]
    references: Vec<String>,
}

/// Reads `{"prompt", "references"}` lines; errors name the file and line.
fn read_jsonl(path: &Path) -> Result<Vec<grue::Sample>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the input file {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let l: Line = serde_json::from_str(line).map_err(|e| {
            anyhow!(
                "{}:{}: {e}; each line must be {{\"prompt\": \"...\", \"references\": [\"...\"]}}",
                path.display(),
                i + 1
            )
        })?;
        out.push(grue::Sample {
            id: format!("line_{}", i + 1),
            prompt_or_context: l.prompt,
            references: l.references,
            meta_data: serde_json::Value::Null,
        });
    }
    if out.is_empty() {
        bail!(
            "{}: no input lines; give one JSON object per line",
            path.display()
        );
    }
    Ok(out)
}

/// Runs the measurement and writes its files; returns them.
pub fn diagnose(o: &DiagnoseOptions) -> Result<Vec<PathBuf>> {
    if o.inputs == 0 || o.samples < 2 || o.chunk == 0 {
        bail!("--inputs and --chunk must be >= 1 and --samples >= 2");
    }
    let resolve = |r: &str| resolve_reference(r, &o.models_dir, &o.data_dir);
    let (label, samples, max_prompt, left, reward_id, mut reward_args, generation, seed) =
        match (&o.task, &o.input) {
            (Some(task), None) => {
                let name = grue::TaskName::parse(task)?;
                let spec = name.spec();
                let samples = name.load(&o.data_dir, o.split, grue::Verify::Manifest)?;
                (
                    name.as_str().to_string(),
                    samples,
                    spec.max_prompt_length,
                    spec.prompt_truncation_side == grue::spec::Side::Left,
                    spec.reward.id.to_string(),
                    spec.reward.args_yaml(),
                    spec.extract_generation,
                    spec.extract_seed,
                )
            }
            (None, Some(path)) => {
                let id = o.reward.clone().ok_or_else(|| {
                anyhow!(
                    "--input needs --reward (e.g. meteor, rouge_l_max, sacre_bleu, learned_reward)"
                )
            })?;
                let args = match &o.reward_args {
                    Some(a) => serde_yaml::from_str(a)
                        .map_err(|e| anyhow!("--args is not valid YAML: {e}"))?,
                    None => serde_yaml::Value::Mapping(Default::default()),
                };
                let generation = GenKwargs {
                    do_sample: Some(true),
                    top_k: Some(o.top_k.unwrap_or(0) as u32),
                    temperature: Some(o.temperature),
                    max_new_tokens: Some(o.max_new_tokens),
                    ..GenKwargs::default()
                };
                (
                    path.display().to_string(),
                    read_jsonl(path)?,
                    1024,
                    true,
                    id,
                    args,
                    generation,
                    o.seed,
                )
            }
            _ => bail!("give either --task TASK or --input FILE.jsonl (with --reward)"),
        };
    if let Some(c) = &o.classifier {
        reward_args["model_name"] = serde_yaml::Value::String(c.clone());
    }
    if let Some(name) = reward_args.get("model_name").and_then(|v| v.as_str()) {
        let dir = resolve(name)?;
        reward_args["model_name"] = serde_yaml::Value::String(dir.display().to_string());
    }
    let checkpoint = resolve(&o.checkpoint)?;
    let indices = if o.input.is_some() {
        (0..samples.len().min(o.inputs)).collect()
    } else {
        permutation_prefix(samples.len(), o.inputs, seed)
    };
    let bar = indicatif::ProgressBar::new(indices.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "diagnose [{bar:30}] {pos}/{len} inputs · {per_sec} [{elapsed_precise}<{eta_precise}]",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    let loader = crate::learned::ModelClassifierLoader;
    let (rows, seconds) = Measurement {
        checkpoint: &checkpoint,
        task: &label,
        samples: indices.iter().map(|&i| &samples[i]).collect(),
        indices: indices.clone(),
        max_prompt_length: max_prompt,
        truncate_left: left,
        reward_id: &reward_id,
        reward_args,
        generation,
        k: o.samples,
        chunk: o.chunk,
        seed: o.seed,
        device: o.device,
        loader: Some(&loader),
    }
    .run(&bar)?;
    bar.finish_and_clear();
    let summary = fractions(&label, &rows, o.samples, o.low_reward);
    let rate = rows.len() as f64 / seconds.max(1e-9);
    write(o, &label, &reward_id, &checkpoint, &rows, &summary, rate)
}

fn write(
    o: &DiagnoseOptions,
    label: &str,
    reward_id: &str,
    checkpoint: &Path,
    rows: &[InputStatsRow],
    f: &FractionRow,
    inputs_per_second: f64,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(&o.out)
        .with_context(|| format!("cannot create {}", o.out.display()))?;
    let mut df = InputStatsRow::to_frame(rows)?;
    let parquet = o.out.join("per_input.parquet");
    protocols::rows::write_parquet(&parquet, &mut df)?;
    let csv = o.out.join("per_input.csv");
    protocols::rows::write_csv(&csv, &mut df)?;
    // The order targeted SFT labels inputs in: smallest reward std first.
    let std_mean: Vec<(f64, f64)> = rows.iter().map(|r| (r.reward_std, r.reward_mean)).collect();
    let by_std: Vec<InputStatsRow> = smallest_std_first(&std_mean)
        .into_iter()
        .map(|i| rows[i].clone())
        .collect();
    let by_std_csv = o.out.join("per_input_by_std.csv");
    protocols::rows::write_csv(&by_std_csv, &mut InputStatsRow::to_frame(&by_std)?)?;
    let figure = Figure::row(
        Some(&format!(
            "{label}: reward under {} ({} samples per input)",
            checkpoint.display(),
            o.samples
        )),
        vec![
            Panel::MeanStd(MeanStdPanel {
                title: "reward mean vs std per input".into(),
                groups: vec![PointGroup {
                    label: "inputs".into(),
                    points: rows.iter().map(|r| (r.reward_std, r.reward_mean)).collect(),
                }],
                small_std: o.small_std,
                reward_label: reward_id.to_string(),
                reward_range: None,
                low_reward: Some(o.low_reward),
            }),
            Panel::Histogram(HistogramPanel {
                title: "reward std per input".into(),
                x: Axis::linear("reward std under the model"),
                bins: 20,
                groups: vec![("inputs".into(), rows.iter().map(|r| r.reward_std).collect())],
            }),
        ],
    );
    let stem = o.out.join("reward_std");
    figure.save(&stem)?;
    let summary = o.out.join("summary.md");
    atomicwrite::write(
        &summary,
        summary_text(o, label, reward_id, checkpoint, rows, f, inputs_per_second).as_bytes(),
    )
    .with_context(|| format!("writing {}", summary.display()))?;
    Ok(vec![
        parquet,
        csv,
        by_std_csv,
        stem.with_extension("png"),
        summary,
    ])
}

/// What a practitioner can act on: how many inputs will get almost no gradient, which, and what helps.
fn summary_text(
    o: &DiagnoseOptions,
    label: &str,
    reward_id: &str,
    checkpoint: &Path,
    rows: &[InputStatsRow],
    f: &FractionRow,
    inputs_per_second: f64,
) -> String {
    let n = rows.len();
    let small = rows.iter().filter(|r| r.reward_std < o.small_std).count();
    let corner: Vec<&InputStatsRow> = rows
        .iter()
        .filter(|r| r.reward_std < o.small_std && r.reward_mean < o.low_reward)
        .collect();
    let mut s = String::new();
    let _ = writeln!(s, "# Reward-std diagnosis: {label}\n");
    let _ = writeln!(
        s,
        "Checkpoint `{}`, reward `{reward_id}`, {n} inputs x {} samples ({:.2} inputs/s).\n",
        checkpoint.display(),
        o.samples,
        inputs_per_second
    );
    let _ = writeln!(
        s,
        "- mean reward over inputs: {:.4}\n- inputs with reward std < {}: **{small} of {n} ({:.1}%)**\n\
         - of those, with mean reward < {}: **{} ({:.1}%)**\n- std < 0.01 / 0.05 / 0.1: {:.3} / {:.3} / {:.3}\n",
        f.mean_reward,
        o.small_std,
        100.0 * small as f64 / n.max(1) as f64,
        o.low_reward,
        corner.len(),
        100.0 * corner.len() as f64 / n.max(1) as f64,
        f.std_below_0_01,
        f.std_below_0_05,
        f.std_below_0_1
    );
    let _ = writeln!(
        s,
        "## What this means\n\nThe expected RFT gradient for an input is bounded by its reward std under the \
         model to the power 2/3 (Razin et al., ICLR 2024, Theorem 1): inputs with a small std get almost no \
         gradient, however poor their reward. The paper found that higher learning rates, temperature or an \
         entropy bonus do not fix this, and that a short SFT phase does, even a few steps on 1% of the labelled \
         inputs. If many inputs sit in the small-std, low-reward corner, run SFT on some labelled examples \
         before RFT, and consider labelling exactly these inputs.\n"
    );
    let mut worst = corner.clone();
    if worst.is_empty() {
        worst = rows.iter().collect();
    }
    worst.sort_by(|a, b| {
        (a.reward_std, a.reward_mean)
            .partial_cmp(&(b.reward_std, b.reward_mean))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let _ = writeln!(
        s,
        "## The {} inputs with the smallest reward std{}\n\n| input | reward mean | reward std | prompt |\n|---:|---:|---:|:---|",
        worst.len().min(20),
        if corner.is_empty() {
            ""
        } else {
            " and a low reward"
        }
    );
    for r in worst.iter().take(20) {
        let prompt: String = r
            .prompt
            .chars()
            .take(120)
            .collect::<String>()
            .replace(['|', '\n'], " ");
        let _ = writeln!(
            s,
            "| {} | {:.4} | {:.4} | {prompt} |",
            r.index, r.reward_mean, r.reward_std
        );
    }
    s
}
