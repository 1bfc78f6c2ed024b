//! CommonGen (RL4LMs pool `commongen`, class `CommonGen` in
//! `rl4lms/data_pools/custom_text_generation_pools.py`; args in
//! `rl4lms_scripts/training/common_gen/t5_ppo.yml` and `extract_samples/t5_commongen_extract_samples.yml`).
//!
//! Rules implemented:
//! * prompt = `prefix + concept_separator_token.join(concepts) + concept_end_token` with
//!   `prefix: "generate a sentence with: "`, `concept_separator_token: " "`,
//!   `concept_end_token: "."` (the configs override the class defaults `"summarize: "` and `" "`),
//!   e.g. `"generate a sentence with: field look stand."`.
//! * RL4LMs reads Hugging Face `gem`/`common_gen`, whose `concepts` are the jsonl `concept_set`
//!   split on `#` in file order (no shuffling), one train row per (concept set, sentence) with
//!   `target` = that sentence, one validation row per concept set with `target` = its first
//!   sentence, and test rows with an empty target (RL4LMs then writes `"empty reference"`).
//!   references = `[target]`; meta_data = `{"concepts": [...]}`.
//! * Files here: the authors' seq2seq text files, line-aligned: `commongen.<split>.cs_str.txt`
//!   (the concept set, `_N`/`_V` part-of-speech tags, alphabetical), `.tgt.txt` (the sentence),
//!   `.index.txt` (the concept-set number) and `.src_alpha.txt` (the same concepts in another
//!   order, checked to be the same multiset). The concepts are `cs_str` split on `#` with the tag
//!   removed, in `cs_str`'s (alphabetical) order, which we take to be the order of the later
//!   `concept_set` field (tags dropped) that `gem` reads.
//!
//! Splits: training pool = the train pairs (one sample per pair, 39,069; this is the initial
//! public release, whose train split is smaller than the later v1.0's 67,389 pairs); test pool =
//! the official test split, one sample per concept set (1,497) with **all** its sentences as
//! references (GEM withholds test references, so RL4LMs' test pool is unusable; this snapshot
//! still has them).

use crate::error::{Result, format_err};
use crate::files::{self, read_text};
use crate::{Sample, Split, Verify};
use std::path::Path;

pub const DATASET: &str = "commongen";
pub const PREFIX: &str = "generate a sentence with: ";
pub const CONCEPT_SEPARATOR: &str = " ";
pub const CONCEPT_END: &str = ".";
pub const CAPTION_NOTE: &str = "CommonGen: initial public release (train 39,069 pairs over 27,069 concept sets; the \
    later v1.0 train is larger); test pool = official test split, 1,497 concept sets with all their references \
    (GEM, which RL4LMs loads, withholds test references).";

/// RL4LMs' prompt for a concept list.
pub fn prompt(concepts: &[&str]) -> String {
    format!("{PREFIX}{}{CONCEPT_END}", concepts.join(CONCEPT_SEPARATOR))
}

/// The concepts of a `cs_str` line (`field_N#look_V#stand_V` -> `field look stand`).
pub fn concepts(cs_str: &str) -> Vec<&str> {
    cs_str
        .split('#')
        .map(|c| match c.rsplit_once('_') {
            Some((w, tag)) if !tag.is_empty() && tag.chars().all(|t| t.is_ascii_uppercase()) => w,
            _ => c,
        })
        .collect()
}

fn split_name(split: Split) -> &'static str {
    match split {
        Split::Train => "train",
        Split::Test => "test",
    }
}

pub fn load(data_dir: &Path, split: Split, verify: Verify) -> Result<Vec<Sample>> {
    let name = split_name(split);
    let read = |ext: &str, what: &str| {
        read_text(
            data_dir,
            &format!("commongen/commongen.{name}.{ext}.txt"),
            what,
            DATASET,
            verify,
        )
    };
    let (cs_path, cs) = read("cs_str", "CommonGen concept sets")?;
    let (src_path, src) = read("src_alpha", "CommonGen sources")?;
    let (tgt_path, tgt) = read("tgt", "CommonGen targets")?;
    let (idx_path, idx) = read("index", "CommonGen concept-set numbers")?;
    let (cs, src, tgt, idx) = (
        files::lines(&cs),
        files::lines(&src),
        files::lines(&tgt),
        files::lines(&idx),
    );
    for (p, n) in [
        (&src_path, src.len()),
        (&tgt_path, tgt.len()),
        (&idx_path, idx.len()),
    ] {
        if n != cs.len() {
            return Err(format_err(
                p,
                None,
                format!(
                    "{n} lines, but {} has {} (the files are line-aligned)",
                    cs_path.display(),
                    cs.len()
                ),
            ));
        }
    }
    let mut out: Vec<Sample> = Vec::new();
    let mut last_index: Option<&str> = None;
    for i in 0..cs.len() {
        let c = concepts(cs[i]);
        let mut a: Vec<&str> = c.clone();
        let mut b: Vec<&str> = src[i].split(' ').collect();
        a.sort_unstable();
        b.sort_unstable();
        if cs[i].is_empty() || a != b {
            return Err(format_err(
                &src_path,
                Some(i + 1),
                format!(
                    "concepts {:?} differ from {} line {} ({:?})",
                    src[i],
                    cs_path.display(),
                    i + 1,
                    cs[i]
                ),
            ));
        }
        if idx[i].trim().parse::<u64>().is_err() {
            return Err(format_err(
                &idx_path,
                Some(i + 1),
                format!("not a concept-set number: {:?}", idx[i]),
            ));
        }
        let target = if tgt[i].is_empty() {
            "empty reference"
        } else {
            tgt[i]
        };
        match split {
            Split::Test if last_index == Some(idx[i]) => {
                if let Some(s) = out.last_mut() {
                    s.references.push(target.to_string());
                }
            }
            _ => {
                out.push(Sample {
                    id: format!("{name}_{}", out.len()),
                    prompt_or_context: prompt(&c),
                    references: vec![target.to_string()],
                    meta_data: serde_json::json!({ "concepts": c }),
                });
            }
        }
        last_index = Some(idx[i]);
    }
    Ok(out)
}
