//! Reward functions of the GRUE/RL4LMs benchmark and the controlled experiments
//! of "Vanishing Gradients in Reinforcement Finetuning of Language Models",
//! reimplemented so that every score equals the Python reference implementation
//! (py-rouge, rouge-score, sacreBLEU, NLTK METEOR, the SQuAD script, ml-rlgrad).
//!
//! * [`Reward`]: score one sample, or a batch in parallel (rayon).
//! * [`registry::build`]: RL4LMs-style ids and arguments -> `Box<dyn Reward>`.
//! * [`score_jsonl`]: the `runner score` subcommand's engine.

pub mod bleu;
pub mod chrf;
pub mod degenerate;
pub mod labels;
pub mod learned;
pub mod meteor;
pub mod mteval;
pub mod ngram;
pub mod porter;
pub mod punkt;
pub mod py_rouge;
pub mod registry;
pub mod rouge_score;
pub mod squad;
pub mod ter;
pub mod text;
pub mod treebank;
pub mod wordnet;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};

pub use learned::{ClassifierLoader, LearnedReward, TextClassifier};
pub use registry::{ConfigError, build, build_with};

/// One generated text with its references (and optional prompt).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub prediction: String,
    #[serde(default, deserialize_with = "one_or_many")]
    pub references: Vec<String>,
    #[serde(default)]
    pub prompt: Option<String>,
    /// Only used by `labels_with_custom`: the input's label was modified.
    #[serde(default)]
    pub modified: bool,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

impl Sample {
    pub fn new(prediction: impl Into<String>, references: Vec<String>) -> Sample {
        Sample {
            prediction: prediction.into(),
            references,
            prompt: None,
            modified: false,
        }
    }
}

/// A reward function: text in, one `f64` out. Never panics on any input.
pub trait Reward: Send + Sync {
    /// The registry id this reward was built from.
    fn id(&self) -> &str;

    /// Score one generated text against its references (and prompt).
    fn score(&self, sample: &Sample) -> f64;

    /// Whether the score depends on the references (a learned classifier's does not, so its
    /// JSONL input lines may leave them out).
    fn uses_references(&self) -> bool {
        true
    }

    /// Score many samples in parallel (rayon), preserving order.
    fn score_batch(&self, samples: &[Sample]) -> Vec<f64> {
        samples.par_iter().map(|s| self.score(s)).collect()
    }

    /// Like [`Reward::score_batch`], for rewards that can fail (a learned reward's model): the
    /// error instead of NaN scores.
    fn try_score_batch(&self, samples: &[Sample]) -> Result<Vec<f64>, String> {
        Ok(self.score_batch(samples))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RewardError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("input line {line}: {message}")]
    Input { line: usize, message: String },
    #[error("{0}")]
    Scoring(String),
}

/// Output line of [`score_jsonl`].
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct ScoredLine {
    pub index: usize,
    pub score: f64,
}

/// One input line of [`score_jsonl`] as written: every field optional, so that a missing one
/// gets its own message instead of a default.
#[derive(Deserialize)]
struct InputLine {
    prediction: Option<String>,
    #[serde(default, deserialize_with = "some_one_or_many")]
    references: Option<Vec<String>>,
    #[serde(default)]
    prompt: Option<String>,
    #[serde(default)]
    modified: bool,
}

fn some_one_or_many<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<String>>, D::Error> {
    one_or_many(d).map(Some)
}

const LINE_FORMAT: &str =
    r#"each line is {"prediction": "...", "references": ["...", ...]} with at least one reference"#;

/// Parses one non-empty JSONL line; a missing `prediction`, or (for a reward that uses
/// references) a missing or empty `references` list, is an error (a reward without references
/// would be a silent 0).
fn parse_input_line(line: &str, needs_references: bool) -> Result<Sample, String> {
    let l: InputLine = serde_json::from_str(line).map_err(|e| {
        // serde_json's "at line 1 column C" is about the JSON text, not the file: keep the column.
        let e = e.to_string();
        let e = e.replace(" at line 1 column ", " at column ");
        format!("{e}; {LINE_FORMAT}")
    })?;
    let prediction = l
        .prediction
        .ok_or_else(|| format!("missing field \"prediction\"; {LINE_FORMAT}"))?;
    let references = match l.references {
        None if !needs_references => Vec::new(),
        Some(r) if !needs_references => r,
        None => return Err(format!("missing field \"references\"; {LINE_FORMAT}")),
        Some(r) if r.is_empty() => {
            return Err(
                "field \"references\" is an empty list; give at least one reference".to_string(),
            );
        }
        Some(r) => r,
    };
    Ok(Sample {
        prediction,
        references,
        prompt: l.prompt,
        modified: l.modified,
    })
}

/// Score a JSONL stream: each non-empty input line is
/// `{"prediction": str, "references": [str] | str, "prompt": str?, "modified": bool?}`;
/// writes one `{"index": i, "score": x}` line per input line (`i` counts the
/// non-empty input lines from 0). `args_yaml` is a YAML mapping of the reward's
/// arguments (see [`registry::build`]). A line that is not such an object, or whose
/// `references` is missing or empty, is a [`RewardError::Input`] naming the line (counted from
/// 1 over all lines) and the field.
pub fn score_jsonl(
    metric: &str,
    args_yaml: Option<&str>,
    input: impl BufRead,
    output: impl Write,
) -> Result<(), RewardError> {
    score_jsonl_with(metric, args_yaml, None, input, output)
}

/// [`score_jsonl`] with a [`ClassifierLoader`] for `learned_reward`.
pub fn score_jsonl_with(
    metric: &str,
    args_yaml: Option<&str>,
    loader: Option<&dyn ClassifierLoader>,
    input: impl BufRead,
    mut output: impl Write,
) -> Result<(), RewardError> {
    let args: serde_yaml::Value = match args_yaml {
        Some(s) if !s.trim().is_empty() => {
            serde_yaml::from_str(s).map_err(|e| ConfigError::BadArgs {
                id: metric.to_string(),
                message: e.to_string(),
            })?
        }
        _ => serde_yaml::Value::Null,
    };
    let reward = build_with(metric, &args, loader)?;
    let mut samples = Vec::new();
    for (ln, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        samples.push(
            parse_input_line(&line, reward.uses_references()).map_err(|message| {
                RewardError::Input {
                    line: ln + 1,
                    message,
                }
            })?,
        );
    }
    let scores = reward
        .try_score_batch(&samples)
        .map_err(RewardError::Scoring)?;
    for (index, score) in scores.into_iter().enumerate() {
        let line = serde_json::to_string(&ScoredLine { index, score }).map_err(|e| {
            RewardError::Input {
                line: index + 1,
                message: e.to_string(),
            }
        })?;
        writeln!(output, "{line}")?;
    }
    Ok(())
}
