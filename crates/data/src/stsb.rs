//! GLUE STS-B as distributed by the GLUE download (`glue-stsb/train.tsv`, `glue-stsb/dev.tsv`):
//! tab-separated, one header line, columns found by name (`sentence1`, `sentence2`, `score`).
//! As in ml-rlgrad, the label is the similarity score rounded to the nearest integer (Python's
//! `round`, ties to even: 2.5 -> 2, 3.5 -> 4), giving 6 classes 0..=5, and the validation split
//! (`dev.tsv`, 1,500 pairs) serves as the test set since GLUE's test labels are not public.

use crate::{DataError, Result, Verify, read_checked};
use std::path::Path;

pub const NUM_CLASSES: usize = 6;
pub const TRAIN_FILE: &str = "glue-stsb/train.tsv";
pub const DEV_FILE: &str = "glue-stsb/dev.tsv";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// `train.tsv` (5,749 pairs).
    Train,
    /// `dev.tsv` (1,500 pairs): the test set of the controlled experiment.
    Dev,
}

pub fn file(split: Split) -> &'static str {
    match split {
        Split::Train => TRAIN_FILE,
        Split::Dev => DEV_FILE,
    }
}

/// Sentence pairs with their rounded-score labels.
#[derive(Debug, Clone, PartialEq)]
pub struct PairSet {
    pub sentence1: Vec<String>,
    pub sentence2: Vec<String>,
    pub scores: Vec<f64>,
    pub labels: Vec<usize>,
}

impl PairSet {
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    pub fn select(&self, indices: &[usize]) -> PairSet {
        PairSet {
            sentence1: indices.iter().map(|&i| self.sentence1[i].clone()).collect(),
            sentence2: indices.iter().map(|&i| self.sentence2[i].clone()).collect(),
            scores: indices.iter().map(|&i| self.scores[i]).collect(),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
        }
    }
}

/// The class of a similarity score in [0, 5]: Python's `round` (ties to even).
pub fn label_of_score(score: f64) -> usize {
    score.round_ties_even() as usize
}

pub fn load(data_dir: &Path, split: Split, verify: Verify) -> Result<PairSet> {
    let rel = file(split);
    let bytes = read_checked(data_dir, rel, "GLUE STS-B", verify)?;
    parse(&data_dir.join(rel), &bytes)
}

/// Parse a STS-B TSV file (`path` names it in errors).
pub fn parse(path: &Path, bytes: &[u8]) -> Result<PairSet> {
    let bad = |message: String| DataError::Format {
        path: path.to_path_buf(),
        message,
    };
    let text = std::str::from_utf8(bytes).map_err(|e| bad(format!("not UTF-8 ({e})")))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .ok_or_else(|| bad("empty file".into()))?
        .split('\t')
        .collect();
    let col = |name: &str| {
        header.iter().position(|h| h.trim() == name).ok_or_else(|| {
            bad(format!(
                "no `{name}` column in the header (columns: {})",
                header.join(", ")
            ))
        })
    };
    let (s1, s2, sc) = (col("sentence1")?, col("sentence2")?, col("score")?);
    let mut set = PairSet {
        sentence1: vec![],
        sentence2: vec![],
        scores: vec![],
        labels: vec![],
    };
    for (i, line) in lines.enumerate() {
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() != header.len() {
            return Err(bad(format!(
                "line {}: {} fields, the header has {}",
                i + 2,
                fields.len(),
                header.len()
            )));
        }
        let score: f64 = fields[sc].trim().parse().map_err(|_| {
            bad(format!(
                "line {}: score {:?} is not a number",
                i + 2,
                fields[sc]
            ))
        })?;
        if !(0.0..=5.0).contains(&score) {
            return Err(bad(format!("line {}: score {score} outside [0, 5]", i + 2)));
        }
        set.sentence1.push(fields[s1].to_string());
        set.sentence2.push(fields[s2].to_string());
        set.scores.push(score);
        set.labels.push(label_of_score(score));
    }
    if set.is_empty() {
        return Err(bad("no rows after the header".into()));
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_pythons() {
        assert_eq!(label_of_score(2.5), 2);
        assert_eq!(label_of_score(3.5), 4);
        assert_eq!(label_of_score(0.4), 0);
        assert_eq!(label_of_score(4.6), 5);
        assert_eq!(label_of_score(5.0), 5);
    }
}
