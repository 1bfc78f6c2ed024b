//! CNN/DailyMail 3.0.0 (RL4LMs pool `cnn_daily_mail`, class `CNNDailyMail` in
//! `rl4lms/data_pools/custom_text_generation_pools.py`).
//!
//! Rules implemented: prompt = `prompt_prefix + article + prompt_suffix` with `prompt_prefix:
//! "Summarize: "` (capital S) and no suffix (`rl4lms_scripts/training/cnn/t5_ppo.yml`,
//! `extract_samples/t5_cnn_extract_samples.yml`); `truncate_article` is not set, so the article is
//! whole (the tokenizer cuts it at 512 tokens, right side); references = `[highlights]` (the
//! highlight sentences joined by "\n", as Hugging Face serves them); ids `{split}_{ix}`.
//!
//! Files: the Hugging Face export formats as users save them: the train CSV (`article,highlights`,
//! pandas `to_csv`, quoted newlines) and the test JSON list of `{id, article, highlights}`.
//!
//! Deviation (data): only Hugging Face train rows 0-299 and test rows 0-99 are available (all CNN
//! stories, none from the Daily Mail): a pipeline check, not a reproduction of the paper's numbers.

use crate::error::{Result, format_err};
use crate::files::read_text;
use crate::{Sample, Split, Verify, tabular};
use std::path::Path;

pub const DATASET: &str = "cnn_dailymail";
pub const PROMPT_PREFIX: &str = "Summarize: ";
pub const TRAIN_FILE: &str = "cnn_dailymail/hf-train-first300.csv";
pub const TEST_FILE: &str = "cnn_dailymail/hf-test-first100.json";
pub const CAPTION_NOTE: &str = "CNN/DailyMail: only Hugging Face 3.0.0 train rows 0-299 (training pool) and test rows \
    0-99 (test pool) are available, all CNN stories; a small pipeline check, not the paper's 287k-article split.";

#[derive(serde::Deserialize)]
struct Row {
    #[allow(dead_code)]
    id: Option<String>,
    article: String,
    highlights: String,
}

fn sample(split: Split, ix: usize, article: &str, highlights: String) -> Sample {
    Sample {
        id: format!("{}_{ix}", split.as_str()),
        prompt_or_context: format!("{PROMPT_PREFIX}{article}"),
        references: vec![highlights],
        meta_data: serde_json::Value::Null,
    }
}

pub fn load(data_dir: &Path, split: Split, verify: Verify) -> Result<Vec<Sample>> {
    match split {
        Split::Train => {
            let (path, text) = read_text(
                data_dir,
                TRAIN_FILE,
                "CNN/DailyMail train rows",
                DATASET,
                verify,
            )?;
            let rows = tabular::parse_with_header(&text, &path, &["article", "highlights"])?;
            rows.into_iter()
                .enumerate()
                .map(|(ix, (line, mut f))| {
                    if f[0].is_empty() || f[1].is_empty() {
                        return Err(format_err(&path, Some(line), "empty article or highlights"));
                    }
                    let h = f.pop().unwrap_or_default();
                    Ok(sample(split, ix, &f[0], h))
                })
                .collect()
        }
        Split::Test => {
            let (path, text) = read_text(
                data_dir,
                TEST_FILE,
                "CNN/DailyMail test rows",
                DATASET,
                verify,
            )?;
            let rows: Vec<Row> = serde_json::from_str(&text).map_err(|e| {
                format_err(
                    &path,
                    Some(e.line()),
                    format!("not a JSON list of {{id, article, highlights}}: {e}"),
                )
            })?;
            Ok(rows
                .into_iter()
                .enumerate()
                .map(|(ix, r)| sample(split, ix, &r.article, r.highlights))
                .collect())
        }
    }
}
