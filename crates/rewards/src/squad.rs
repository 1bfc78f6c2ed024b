//! Token F1 and exact match with the SQuAD v1.1 evaluation script's answer
//! normalisation (lower-case, drop ASCII punctuation, drop articles, squeeze
//! whitespace), max over the ground-truth answers.

use crate::text::{py_lower, py_split};
use regex::Regex;
use std::collections::HashMap;
use std::sync::OnceLock;

const PUNCT: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/// `normalize_answer(s)` of the SQuAD v1.1 script.
pub fn normalize_answer(s: &str) -> String {
    static ARTICLES: OnceLock<Regex> = OnceLock::new();
    let re = ARTICLES.get_or_init(|| Regex::new(r"\b(a|an|the)\b").unwrap());
    let lower = py_lower(s);
    let no_punc: String = lower.chars().filter(|c| !PUNCT.contains(*c)).collect();
    let no_art = re.replace_all(&no_punc, " ");
    py_split(&no_art).collect::<Vec<_>>().join(" ")
}

/// `f1_score(prediction, ground_truth)`.
pub fn f1(prediction: &str, ground_truth: &str) -> f64 {
    let p = normalize_answer(prediction);
    let g = normalize_answer(ground_truth);
    let pt: Vec<&str> = py_split(&p).collect();
    let gt: Vec<&str> = py_split(&g).collect();
    let mut gc: HashMap<&str, usize> = HashMap::new();
    for t in &gt {
        *gc.entry(t).or_default() += 1;
    }
    let mut pc: HashMap<&str, usize> = HashMap::new();
    for t in &pt {
        *pc.entry(t).or_default() += 1;
    }
    let same: usize = pc
        .iter()
        .map(|(k, &v)| v.min(gc.get(k).copied().unwrap_or(0)))
        .sum();
    if same == 0 {
        return 0.0;
    }
    let precision = same as f64 / pt.len() as f64;
    let recall = same as f64 / gt.len() as f64;
    (2.0 * precision * recall) / (precision + recall)
}

/// `exact_match_score(prediction, ground_truth)` as 0.0/1.0.
pub fn exact_match(prediction: &str, ground_truth: &str) -> f64 {
    if normalize_answer(prediction) == normalize_answer(ground_truth) {
        1.0
    } else {
        0.0
    }
}

/// `metric_max_over_ground_truths`; 0.0 without ground truths.
pub fn max_over(f: fn(&str, &str) -> f64, prediction: &str, truths: &[String]) -> f64 {
    truths.iter().map(|t| f(prediction, t)).fold(0.0, f64::max)
}
