//! Token F1 and exact match with the SQuAD v1.1 evaluation script's answer
//! normalisation (lower-case, drop ASCII punctuation, drop articles, squeeze
//! whitespace), max over the ground-truth answers.

use crate::text::{py_is_word, py_lower, py_split};
use rustc_hash::FxHashMap;

const PUNCT: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/// `re.sub(r"\b(a|an|the)\b", " ", text)` with Python's `\w` (alphanumeric or `_`).
fn remove_articles(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut prev_word = false; // is the character before `rest` a word character?
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if !prev_word && matches!(c, 'a' | 't') {
            // the alternatives exclude each other: only one can end at a boundary
            let article = ["the", "an", "a"].into_iter().find(|a| {
                rest.strip_prefix(a)
                    .is_some_and(|after| after.chars().next().is_none_or(|n| !py_is_word(n)))
            });
            if let Some(a) = article {
                out.push(' ');
                rest = &rest[a.len()..];
                prev_word = true; // the article's last letter
                continue;
            }
        }
        out.push(c);
        prev_word = py_is_word(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// `normalize_answer(s)` of the SQuAD v1.1 script.
pub fn normalize_answer(s: &str) -> String {
    let mut buf = String::new();
    normalized_tokens(s, &mut buf).join(" ")
}

/// `normalize_answer(s).split()`: lower-case and drop ASCII punctuation into
/// `buf`, then split; a token made of word characters only is an article or
/// not as a whole, other tokens go through the `\b(a|an|the)\b` scan.
fn normalized_tokens<'b>(s: &str, buf: &'b mut String) -> Vec<&'b str> {
    buf.clear();
    if s.is_ascii() {
        buf.extend(
            s.bytes()
                .filter(|b| !b.is_ascii_punctuation())
                .map(|b| b.to_ascii_lowercase() as char),
        );
    } else {
        buf.extend(py_lower(s).chars().filter(|c| !PUNCT.contains(*c)));
    }
    if py_split(buf).all(|t| t.chars().all(py_is_word)) {
        return py_split(buf)
            .filter(|t| !matches!(*t, "a" | "an" | "the"))
            .collect();
    }
    // rare: non-word characters (e.g. curly quotes) next to articles
    *buf = remove_articles(buf);
    py_split(buf).collect()
}

/// `f1_score` on normalised tokens.
fn f1_tokens(prediction: &[&str], ground_truth: &[&str]) -> f64 {
    let mut same = 0usize;
    if ground_truth.len() <= 32 {
        let mut used = [false; 32];
        for p in prediction {
            if let Some(j) = (0..ground_truth.len()).find(|&j| !used[j] && ground_truth[j] == *p) {
                used[j] = true;
                same += 1;
            }
        }
    } else {
        let mut truth: FxHashMap<&str, u32> = FxHashMap::default();
        for t in ground_truth {
            *truth.entry(t).or_default() += 1;
        }
        for t in prediction {
            if let Some(c) = truth.get_mut(t)
                && *c > 0
            {
                *c -= 1;
                same += 1;
            }
        }
    }
    if same == 0 {
        return 0.0;
    }
    let precision = same as f64 / prediction.len() as f64;
    let recall = same as f64 / ground_truth.len() as f64;
    (2.0 * precision * recall) / (precision + recall)
}

/// `f1_score(prediction, ground_truth)`.
pub fn f1(prediction: &str, ground_truth: &str) -> f64 {
    let (mut a, mut b) = (String::new(), String::new());
    f1_tokens(
        &normalized_tokens(prediction, &mut a),
        &normalized_tokens(ground_truth, &mut b),
    )
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

/// `metric_max_over_ground_truths(f1_score, prediction, truths)`, normalising
/// the prediction once; 0.0 without ground truths.
pub fn f1_max(prediction: &str, truths: &[String]) -> f64 {
    let (mut a, mut b) = (String::new(), String::new());
    let p = normalized_tokens(prediction, &mut a);
    truths
        .iter()
        .map(|t| f1_tokens(&p, &normalized_tokens(t, &mut b)))
        .fold(0.0, f64::max)
}

/// `metric_max_over_ground_truths(exact_match_score, ...)` as 0.0/1.0.
pub fn exact_match_max(prediction: &str, truths: &[String]) -> f64 {
    let (mut a, mut b) = (String::new(), String::new());
    let p = normalized_tokens(prediction, &mut a);
    let hit = truths.iter().any(|t| normalized_tokens(t, &mut b) == p);
    if hit { 1.0 } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn articles_need_python_word_boundaries() {
        assert_eq!(
            normalize_answer("The cat and a dog, an apple"),
            "cat and dog apple"
        );
        assert_eq!(
            normalize_answer("theme, another, alpha"),
            "theme another alpha"
        );
        // '½' is a word character for Python's `re` (str.isalnum), so no boundary
        assert_eq!(normalize_answer("½a a½ a"), "½a a½");
        assert_eq!(normalize_answer("the_a a1 1the the"), "thea a1 1the");
        assert_eq!(normalize_answer("“the” (an)"), "“ ”");
    }

    #[test]
    fn f1_counts_common_tokens() {
        assert_eq!(
            f1("the cat sat", "a cat sat down"),
            2.0 * (1.0 * 2.0 / 3.0) / (1.0 + 2.0 / 3.0)
        );
        assert_eq!(f1("cat cat", "cat"), 2.0 * 0.5 / 1.5);
        assert_eq!(f1("", "cat"), 0.0);
        assert_eq!(
            f1_max(
                "Paris",
                &["paris, france".into(), "the city of paris".into()]
            ),
            2.0 * 0.5 / 1.5
        );
        assert_eq!(
            exact_match_max("The Paris!", &["london".into(), "paris".into()]),
            1.0
        );
    }
}
