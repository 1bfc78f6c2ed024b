//! sacreBLEU 2.x sentence chrF (`sacrebleu.sentence_chrf`): character n-grams
//! (order 6 by default) plus optional word n-grams (chrF++), beta 2.

use crate::text::{py_lower, py_split};
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct ChrF {
    pub char_order: usize,
    pub word_order: usize,
    pub beta: f64,
    pub lowercase: bool,
    pub whitespace: bool,
    pub eps_smoothing: bool,
}

impl Default for ChrF {
    fn default() -> Self {
        ChrF {
            char_order: 6,
            word_order: 0,
            beta: 2.0,
            lowercase: false,
            whitespace: false,
            eps_smoothing: false,
        }
    }
}

const PUNCTS: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

type Counter = HashMap<String, usize>;

fn char_ngrams(line: &str, max_order: usize, whitespace: bool) -> Vec<Counter> {
    let chars: Vec<char> = if whitespace {
        line.chars().collect()
    } else {
        py_split(line).flat_map(str::chars).collect()
    };
    (1..=max_order)
        .map(|n| {
            let mut c = Counter::new();
            if chars.len() >= n {
                for w in chars.windows(n) {
                    *c.entry(w.iter().collect()).or_default() += 1;
                }
            }
            c
        })
        .collect()
}

fn remove_punctuation(sent: &str) -> Vec<String> {
    let mut out = Vec::new();
    for w in py_split(sent) {
        let chars: Vec<char> = w.chars().collect();
        if chars.len() == 1 {
            out.push(w.to_string());
        } else if PUNCTS.contains(chars[chars.len() - 1]) {
            out.push(chars[..chars.len() - 1].iter().collect());
            out.push(chars[chars.len() - 1].to_string());
        } else if PUNCTS.contains(chars[0]) {
            out.push(chars[0].to_string());
            out.push(chars[1..].iter().collect());
        } else {
            out.push(w.to_string());
        }
    }
    out
}

fn word_ngrams(tokens: &[String], n: usize) -> Counter {
    let mut c = Counter::new();
    if tokens.len() >= n {
        for w in tokens.windows(n) {
            *c.entry(w.join(" ")).or_default() += 1;
        }
    }
    c
}

impl ChrF {
    fn all_ngrams(&self, s: &str) -> Vec<Counter> {
        let mut v = char_ngrams(s, self.char_order, self.whitespace);
        if self.word_order > 0 {
            let words = remove_punctuation(s);
            for n in 1..=self.word_order {
                v.push(word_ngrams(&words, n));
            }
        }
        v
    }

    fn f_score(&self, stats: &[usize]) -> f64 {
        let eps = 1e-16;
        let mut score = 0.0;
        let mut effective_order = 0;
        let factor = self.beta * self.beta;
        let (mut avg_prec, mut avg_rec) = (0.0, 0.0);
        let order = self.char_order + self.word_order;
        for i in 0..order {
            let (n_hyp, n_ref, n_match) = (stats[3 * i], stats[3 * i + 1], stats[3 * i + 2]);
            let prec = if n_hyp > 0 {
                n_match as f64 / n_hyp as f64
            } else {
                eps
            };
            let rec = if n_ref > 0 {
                n_match as f64 / n_ref as f64
            } else {
                eps
            };
            let denom = factor * prec + rec;
            score += if denom > 0.0 {
                (1.0 + factor) * prec * rec / denom
            } else {
                eps
            };
            if n_hyp > 0 && n_ref > 0 {
                avg_prec += prec;
                avg_rec += rec;
                effective_order += 1;
            }
        }
        if self.eps_smoothing {
            return 100.0 * score / order as f64;
        }
        if effective_order == 0 {
            avg_prec = 0.0;
            avg_rec = 0.0;
        } else {
            avg_prec /= effective_order as f64;
            avg_rec /= effective_order as f64;
        }
        if avg_prec + avg_rec != 0.0 {
            let mut s = (1.0 + factor) * avg_prec * avg_rec;
            s /= factor * avg_prec + avg_rec;
            100.0 * s
        } else {
            0.0
        }
    }

    /// chrF on the 0-100 scale (best reference by f-score); 0.0 without references.
    pub fn score(&self, hypothesis: &str, references: &[String]) -> f64 {
        let prep = |s: &str| {
            if self.lowercase {
                py_lower(s)
            } else {
                s.to_string()
            }
        };
        let hyp = self.all_ngrams(&prep(hypothesis));
        let mut best_f = -1.0;
        let mut best_stats: Vec<usize> = Vec::new();
        for r in references {
            let rng = self.all_ngrams(&prep(r));
            let mut stats = Vec::with_capacity(3 * hyp.len());
            for (h, r) in hyp.iter().zip(&rng) {
                let (mut m, mut hc) = (0, 0);
                for (ng, &c) in h {
                    hc += c;
                    if let Some(&rc) = r.get(ng) {
                        m += c.min(rc);
                    }
                }
                stats.push(if r.is_empty() { 0 } else { hc });
                stats.push(r.values().sum());
                stats.push(m);
            }
            let f = self.f_score(&stats);
            if f > best_f {
                best_f = f;
                best_stats = stats;
            }
        }
        if best_stats.is_empty() {
            return 0.0;
        }
        self.f_score(&best_stats)
    }
}
