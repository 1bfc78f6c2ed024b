//! DailyDialog (RL4LMs pool `daily_dialog`, class `DailyDialog` in
//! `rl4lms/data_pools/custom_text_generation_pools.py`, `context_size: 5` in
//! `rl4lms_scripts/training/dialog/gpt2_ppo.yml`).
//!
//! Rules implemented, checked against the sources:
//! * Dialogues are cut as the Hugging Face `daily_dialog` script does: reading the official
//!   `dialogues_<split>.txt` line by line, stop at the first blank line, and take
//!   `line.split("__eou__")[:-1]` as the utterances, *unstripped* (so they keep the spaces around
//!   `__eou__`: `"Say , Jim , ... ? "`, `" You know ... . "`).
//! * RL4LMs: walking each dialogue's utterances, once at least `context_size` = 5 utterances
//!   precede one, emit a sample with context = the last 5 joined by `"<EOU>"` (no spaces added)
//!   followed by `" <EOU>"`, and reference = that utterance + `"<EOU>"`; then push the utterance.
//!   The id is a running utterance counter over the whole split (RL4LMs' `utterance_id`).
//! * RL4LMs' `val`/`test` map to HF `validation`/`test`; the training pool is `train`, the
//!   held-out pool `test`. The act/emotion annotations (RL4LMs' `meta_data`, used only by the
//!   `intent_accuracy` metric) are not read.

use crate::error::{Result, format_err};
use crate::files::read_text;
use crate::{Sample, Split, Verify};
use std::path::Path;

pub const DATASET: &str = "dailydialog";
pub const EOU_TOKEN: &str = "<EOU>";
pub const CONTEXT_SIZE: usize = 5;
pub const CAPTION_NOTE: &str = "DailyDialog: official train (training pool) and test (test pool) splits, \
    as RL4LMs builds them (5-utterance context joined with <EOU>).";

pub fn file(split: Split) -> &'static str {
    match split {
        Split::Train => "dailydialog/train/dialogues_train.txt",
        Split::Test => "dailydialog/test/dialogues_test.txt",
    }
}

/// Dialogues of an official `dialogues_*.txt` file, cut as the Hugging Face script does. A
/// non-blank line without `__eou__` is malformed (the script's act/emotion length check would fail).
pub fn dialogues<'a>(text: &'a str, path: &Path) -> Result<Vec<Vec<&'a str>>> {
    let mut out = Vec::new();
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if line.trim().is_empty() {
            break;
        }
        let mut parts: Vec<&str> = line.split("__eou__").collect();
        parts.pop();
        if parts.is_empty() {
            return Err(format_err(
                path,
                Some(i + 1),
                "malformed dialogue: no `__eou__` utterance separator",
            ));
        }
        out.push(parts);
    }
    Ok(out)
}

/// RL4LMs' samples of a list of dialogues.
pub fn samples(dialogues: &[Vec<&str>], context_size: usize) -> Vec<Sample> {
    let mut out = Vec::new();
    let mut utterance_id = 0usize;
    for dialog in dialogues {
        let mut contexts: Vec<&str> = Vec::new();
        for &utterance in dialog {
            if contexts.len() >= context_size {
                let mut context = contexts[contexts.len() - context_size..].join(EOU_TOKEN);
                context.push(' ');
                context.push_str(EOU_TOKEN);
                out.push(Sample {
                    id: utterance_id.to_string(),
                    prompt_or_context: context,
                    references: vec![format!("{utterance}{EOU_TOKEN}")],
                    meta_data: serde_json::Value::Null,
                });
            }
            contexts.push(utterance);
            utterance_id += 1;
        }
    }
    out
}

pub fn load(data_dir: &Path, split: Split, verify: Verify) -> Result<Vec<Sample>> {
    let (path, text) = read_text(
        data_dir,
        file(split),
        "DailyDialog dialogues",
        DATASET,
        verify,
    )?;
    Ok(samples(&dialogues(&text, &path)?, CONTEXT_SIZE))
}
