//! Google's `rouge-score` package (0.1.2): ROUGE-N, ROUGE-L and ROUGE-Lsum F-measure
//! with its default tokenizer and NLTK's Porter stemmer; multiple references are
//! combined with `score_multi` (the reference with the best F-measure).

use crate::porter::{Mode, PorterStemmer};
use crate::text::py_lower;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RougeType {
    N(usize),
    L,
    LSum,
}

impl RougeType {
    pub fn parse(s: &str) -> Option<RougeType> {
        match s {
            "rougeL" => Some(RougeType::L),
            "rougeLsum" => Some(RougeType::LSum),
            _ => {
                let d = s.strip_prefix("rouge")?;
                if d.len() == 1 {
                    let n: usize = d.parse().ok()?;
                    (n > 0).then_some(RougeType::N(n))
                } else {
                    None
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    pub precision: f64,
    pub recall: f64,
    pub fmeasure: f64,
}

const STEMMER: PorterStemmer = PorterStemmer::new(Mode::NltkExtensions);

/// `rouge_score.tokenize.tokenize(text, stemmer)`.
pub fn tokenize(text: &str, stem: bool) -> Vec<String> {
    let lower = py_lower(text);
    lower
        .split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit()))
        .filter(|t| !t.is_empty())
        .map(|t| {
            if stem && t.len() > 3 {
                STEMMER.stem(t)
            } else {
                t.to_string()
            }
        })
        .filter(|t| {
            !t.is_empty()
                && t.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        .collect()
}

fn fmeasure(p: f64, r: f64) -> f64 {
    if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    }
}

fn score_ngrams(target: &[String], pred: &[String], n: usize) -> Score {
    fn grams(t: &[String], n: usize) -> HashMap<&[String], usize> {
        let mut c: HashMap<&[String], usize> = HashMap::new();
        if t.len() >= n {
            for w in t.windows(n) {
                *c.entry(w).or_default() += 1;
            }
        }
        c
    }
    let (tg, pg) = (grams(target, n), grams(pred, n));
    let inter: usize = tg
        .iter()
        .map(|(k, &v)| v.min(pg.get(k).copied().unwrap_or(0)))
        .sum();
    let tc: usize = tg.values().sum();
    let pc: usize = pg.values().sum();
    let precision = inter as f64 / pc.max(1) as f64;
    let recall = inter as f64 / tc.max(1) as f64;
    Score {
        precision,
        recall,
        fmeasure: fmeasure(precision, recall),
    }
}

fn lcs_table(r: &[String], c: &[String]) -> Vec<Vec<u32>> {
    let mut t = vec![vec![0u32; c.len() + 1]; r.len() + 1];
    for i in 1..=r.len() {
        for j in 1..=c.len() {
            t[i][j] = if r[i - 1] == c[j - 1] {
                t[i - 1][j - 1] + 1
            } else {
                t[i - 1][j].max(t[i][j - 1])
            };
        }
    }
    t
}

fn score_lcs(target: &[String], pred: &[String]) -> Score {
    if target.is_empty() || pred.is_empty() {
        return Score {
            precision: 0.0,
            recall: 0.0,
            fmeasure: 0.0,
        };
    }
    // single-row LCS length
    let mut prev = vec![0u32; pred.len() + 1];
    let mut cur = vec![0u32; pred.len() + 1];
    for t in target {
        for j in 1..=pred.len() {
            cur[j] = if *t == pred[j - 1] {
                prev[j - 1] + 1
            } else {
                prev[j].max(cur[j - 1])
            };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    let lcs = prev[pred.len()] as f64;
    let precision = lcs / pred.len() as f64;
    let recall = lcs / target.len() as f64;
    Score {
        precision,
        recall,
        fmeasure: fmeasure(precision, recall),
    }
}

fn lcs_ind(r: &[String], c: &[String]) -> Vec<usize> {
    let t = lcs_table(r, c);
    let (mut i, mut j) = (r.len(), c.len());
    let mut out = Vec::new();
    while i > 0 && j > 0 {
        if r[i - 1] == c[j - 1] {
            out.push(i - 1);
            i -= 1;
            j -= 1;
        } else if t[i][j - 1] > t[i - 1][j] {
            j -= 1;
        } else {
            i -= 1;
        }
    }
    out.reverse();
    out
}

fn summary_level_lcs(refs: &[Vec<String>], cands: &[Vec<String>]) -> Score {
    let zero = Score {
        precision: 0.0,
        recall: 0.0,
        fmeasure: 0.0,
    };
    if refs.is_empty() || cands.is_empty() {
        return zero;
    }
    let m: usize = refs.iter().map(Vec::len).sum();
    let n: usize = cands.iter().map(Vec::len).sum();
    if m == 0 || n == 0 {
        return zero;
    }
    let mut cnt_r: HashMap<&str, i64> = HashMap::new();
    let mut cnt_c: HashMap<&str, i64> = HashMap::new();
    for s in refs {
        for t in s {
            *cnt_r.entry(t).or_default() += 1;
        }
    }
    for s in cands {
        for t in s {
            *cnt_c.entry(t).or_default() += 1;
        }
    }
    let mut hits = 0usize;
    for r in refs {
        let mut union: Vec<usize> = cands.iter().flat_map(|c| lcs_ind(r, c)).collect();
        union.sort_unstable();
        union.dedup();
        for i in union {
            let t = r[i].as_str();
            let cc = cnt_c.get(t).copied().unwrap_or(0);
            let cr = cnt_r.get(t).copied().unwrap_or(0);
            if cc > 0 && cr > 0 {
                hits += 1;
                *cnt_c.get_mut(t).unwrap() -= 1;
                *cnt_r.get_mut(t).unwrap() -= 1;
            }
        }
    }
    let recall = hits as f64 / m as f64;
    let precision = hits as f64 / n as f64;
    Score {
        precision,
        recall,
        fmeasure: fmeasure(precision, recall),
    }
}

#[derive(Debug, Clone)]
pub struct RougeScorer {
    pub rouge_type: RougeType,
    pub use_stemmer: bool,
}

impl RougeScorer {
    /// `RougeScorer([type], use_stemmer).score(target, prediction)[type]`.
    pub fn score(&self, target: &str, prediction: &str) -> Score {
        match self.rouge_type {
            RougeType::LSum => {
                let sents = |t: &str| -> Vec<Vec<String>> {
                    t.split('\n')
                        .filter(|s| !s.is_empty())
                        .map(|s| tokenize(s, self.use_stemmer))
                        .collect()
                };
                summary_level_lcs(&sents(target), &sents(prediction))
            }
            RougeType::L => score_lcs(
                &tokenize(target, self.use_stemmer),
                &tokenize(prediction, self.use_stemmer),
            ),
            RougeType::N(n) => score_ngrams(
                &tokenize(target, self.use_stemmer),
                &tokenize(prediction, self.use_stemmer),
                n,
            ),
        }
    }

    /// `score_multi(targets, prediction)`: the score of the first reference with
    /// the highest F-measure (`np.argmax`); all zeros without references.
    pub fn score_multi(&self, targets: &[String], prediction: &str) -> Score {
        let mut best: Option<Score> = None;
        for t in targets {
            let s = self.score(t, prediction);
            if best.is_none_or(|b| s.fmeasure > b.fmeasure) {
                best = Some(s);
            }
        }
        best.unwrap_or(Score {
            precision: 0.0,
            recall: 0.0,
            fmeasure: 0.0,
        })
    }
}
