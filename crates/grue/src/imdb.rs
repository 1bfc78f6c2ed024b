//! IMDB sentiment continuation (RL4LMs pool `imdb`, class `IMDB` in
//! `rl4lms/data_pools/custom_text_generation_pools.py`; args `seed: 42`,
//! `only_positive_samples: true` in `rl4lms_scripts/training/imdb/gpt2_ppo.yml`).
//!
//! Rules implemented:
//! * prompt = the first `int(len(words) * 0.5)` of `text.split(" ")` (single spaces, so runs of
//!   spaces give empty words, as Python), joined by `" "`; references = `[text]` (the whole review,
//!   `<br />` tags included). The tokenizer then keeps the *last* 64 tokens (truncation side left).
//! * `only_positive_samples` keeps only label-1 reviews of the train split; the test pool keeps
//!   both labels. RL4LMs shuffles with seed 42 and takes 80% of HF train as `train` and the first
//!   5,000 of the shuffled test split as `test`; here file order is kept (the Figure 1 runner
//!   draws its own 5,000 with `RandomState(7)`).
//!
//! Files: the shared CSV subsets (`id,rating,label,review`, RFC 4180): 2,500 positive + 2,500
//! negative reviews per split, the smallest ids of aclImdb_v1.
//!
//! Splits and pretraining: the small GPT-2 pretrained in this project stands in for
//! `lvwerra/gpt2-imdb` (GPT-2 finetuned on IMDB) and uses the **test CSV's odd data rows** (0-based
//! data-row index 1, 3, 5, ..., header excluded, file order; [`pretraining_reviews`]) as part of
//! its pretraining text. The held-out test pool is therefore the **even data rows** (0, 2, 4, ...)
//! only, less the 6 whose text is also an odd row's (aclImdb holds duplicate reviews under
//! different ids): 2,494 reviews. The training pool is the train CSV's positive reviews (2,500).

use crate::error::{Result, format_err};
use crate::files::read_text;
use crate::{Sample, Split, Verify, tabular};
use std::path::Path;

pub const DATASET: &str = "imdb";
pub const TRAIN_FILE: &str = "imdb/imdb_train_subset.csv";
pub const TEST_FILE: &str = "imdb/imdb_test_subset.csv";
pub const HEADER: [&str; 4] = ["id", "rating", "label", "review"];
pub const CAPTION_NOTE: &str = "IMDB: 5,000-review subsets of aclImdb; training pool = the 2,500 positive train reviews; \
    test pool = the test subset's even data rows (0-based 0, 2, 4, ...) less 6 whose text is also an odd row (2,494 reviews), \
    because its odd rows are pretraining text of the small GPT-2 standing in for lvwerra/gpt2-imdb.";

/// One row of the IMDB CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    pub id: u64,
    pub rating: u8,
    /// 1 = positive, 0 = negative.
    pub label: u8,
    pub text: String,
}

/// RL4LMs' prompt: the first half of the review's space-separated words.
pub fn prompt(text: &str) -> String {
    let words: Vec<&str> = text.split(' ').collect();
    words[..words.len() / 2].join(" ")
}

/// The rows of an IMDB CSV, in file order.
pub fn read_reviews(data_dir: &Path, rel: &str, verify: Verify) -> Result<Vec<Review>> {
    let (path, text) = read_text(data_dir, rel, "IMDB reviews", DATASET, verify)?;
    tabular::parse_with_header(&text, &path, &HEADER)?
        .into_iter()
        .map(|(line, f)| {
            let bad = |m: String| format_err(&path, Some(line), m);
            let id = f[0]
                .parse()
                .map_err(|_| bad(format!("id {:?} is not a number", f[0])))?;
            let rating: u8 = f[1]
                .parse()
                .map_err(|_| bad(format!("rating {:?} is not a number", f[1])))?;
            let label: u8 = match f[2].as_str() {
                "0" => 0,
                "1" => 1,
                other => return Err(bad(format!("label {other:?} is not 0 or 1"))),
            };
            Ok(Review {
                id,
                rating,
                label,
                text: f[3].clone(),
            })
        })
        .collect()
}

/// The review texts the project's small GPT-2 pretrains on: the test CSV's odd data rows
/// (0-based 1, 3, 5, ...), in file order. Disjoint from the test pool by construction.
pub fn pretraining_reviews(data_dir: &Path) -> Result<Vec<String>> {
    pretraining_reviews_with(data_dir, Verify::Manifest)
}

pub fn pretraining_reviews_with(data_dir: &Path, verify: Verify) -> Result<Vec<String>> {
    Ok(read_reviews(data_dir, TEST_FILE, verify)?
        .into_iter()
        .skip(1)
        .step_by(2)
        .map(|r| r.text)
        .collect())
}

fn sample(split: Split, ix: usize, r: Review) -> Sample {
    Sample {
        id: format!("{}_{ix}", split.as_str()),
        prompt_or_context: prompt(&r.text),
        references: vec![r.text],
        meta_data: serde_json::json!({ "imdb_id": r.id, "label": r.label, "rating": r.rating }),
    }
}

/// The held-out test reviews: the test CSV's even data rows less those whose text is also an odd
/// (pretraining) row, in file order (2,494 on the shared subset).
pub fn test_pool(data_dir: &Path, verify: Verify) -> Result<Vec<Review>> {
    let all = read_reviews(data_dir, TEST_FILE, verify)?;
    let pretraining: std::collections::HashSet<&str> = all
        .iter()
        .skip(1)
        .step_by(2)
        .map(|r| r.text.as_str())
        .collect();
    Ok(all
        .iter()
        .step_by(2)
        .filter(|r| !pretraining.contains(r.text.as_str()))
        .cloned()
        .collect())
}

/// Labelled reviews `(text, label)` (1 = positive) for training a sentiment classifier, in file
/// order: [`Split::Train`] = every row of the train CSV (both labels, 5,000); [`Split::Test`] =
/// the held-out test pool ([`test_pool`]: even data rows less duplicates of odd rows, 2,494).
pub fn labelled(data_dir: &Path, split: Split, verify: Verify) -> Result<Vec<(String, u8)>> {
    let rows = match split {
        Split::Train => read_reviews(data_dir, TRAIN_FILE, verify)?,
        Split::Test => test_pool(data_dir, verify)?,
    };
    Ok(rows.into_iter().map(|r| (r.text, r.label)).collect())
}

pub fn load(data_dir: &Path, split: Split, verify: Verify) -> Result<Vec<Sample>> {
    let rows: Vec<Review> = match split {
        Split::Train => read_reviews(data_dir, TRAIN_FILE, verify)?
            .into_iter()
            .filter(|r| r.label == 1)
            .collect(),
        Split::Test => test_pool(data_dir, verify)?,
    };
    Ok(rows
        .into_iter()
        .enumerate()
        .map(|(ix, r)| sample(split, ix, r))
        .collect())
}
