//! ROUGE-L as computed by the `py-rouge` package (`rouge.Rouge`, v1.1), which is
//! what RL4LMs' `rouge_l_max` reward calls, with the max over references taken
//! the way RL4LMs does (one `get_scores(pred, [ref])` call per reference).
//!
//! Faithful to py-rouge's quirks, including: sentences are split on `'\n'`
//! (`ensure_compatibility=True`), the word-length limit is applied per sentence,
//! the WordNet exception table and ROUGE-1.5.5 special cases replace stemming
//! for words that are listed there, `"cannot"` is kept as one token, and in the
//! `apply_avg` branch precision and recall are raised to `1/weight_factor` even
//! for ROUGE-L (so `weight_factor: 1.2` changes the ROUGE-L value).

use crate::porter::{Mode, PorterStemmer};
use crate::text::{py_lower, py_split, py_strip};
use std::collections::HashMap;
use std::sync::OnceLock;

static WORDNET_KV: &str = include_str!("../assets/py_rouge/wordnet_key_value.txt");
static WORDNET_KV_SPECIAL: &str =
    include_str!("../assets/py_rouge/wordnet_key_value_special_cases.txt");

fn wordnet_db(ensure_compatibility: bool) -> &'static HashMap<&'static str, &'static str> {
    static DB: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    static DB_PLAIN: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    let load = |with_special: bool| {
        let mut m = HashMap::new();
        let mut files = vec![WORDNET_KV];
        if with_special {
            files.push(WORDNET_KV_SPECIAL);
        }
        for f in files {
            for line in f.lines() {
                let line = line.trim();
                if let Some((k, v)) = line.split_once('|') {
                    m.insert(k, v);
                }
            }
        }
        m
    };
    if ensure_compatibility {
        DB.get_or_init(|| load(true))
    } else {
        DB_PLAIN.get_or_init(|| load(false))
    }
}

/// Settings of `rouge.Rouge(metrics=["rouge-l"], ...)`.
#[derive(Debug, Clone)]
pub struct PyRougeL {
    pub limit_length: bool,
    pub length_limit: usize,
    /// `true` = "words", `false` = "bytes" (code points, as Python's `len`).
    pub limit_in_words: bool,
    pub apply_avg: bool,
    pub apply_best: bool,
    pub stemming: bool,
    pub alpha: f64,
    pub weight_factor: f64,
    pub ensure_compatibility: bool,
}

impl Default for PyRougeL {
    /// RL4LMs' NarrativeQA `rouge_l_max` arguments.
    fn default() -> Self {
        PyRougeL {
            limit_length: true,
            length_limit: 100,
            limit_in_words: true,
            apply_avg: true,
            apply_best: true,
            stemming: true,
            alpha: 0.5,
            weight_factor: 1.2,
            ensure_compatibility: true,
        }
    }
}

const ORIGINAL: PorterStemmer = PorterStemmer::new(Mode::OriginalAlgorithm);
const NLTK: PorterStemmer = PorterStemmer::new(Mode::NltkExtensions);

/// Whole-word contractions NLTK's Treebank tokenizer splits in text made of
/// `[a-z0-9_ ]` only (the other contraction rules need an apostrophe).
fn split_contraction(tok: &str) -> Option<(&str, &str)> {
    match tok {
        "cannot" => Some(("can", "not")),
        "gimme" => Some(("gim", "me")),
        "gonna" => Some(("gon", "na")),
        "gotta" => Some(("got", "ta")),
        "lemme" => Some(("lem", "me")),
        "wanna" => Some(("wan", "na")),
        _ => None,
    }
}

impl PyRougeL {
    fn stem_token(&self, token: String) -> String {
        if token.chars().count() > 3 {
            if let Some(v) = wordnet_db(self.ensure_compatibility).get(token.as_str()) {
                return (*v).to_string();
            }
            let st = if self.ensure_compatibility {
                ORIGINAL
            } else {
                NLTK
            };
            return st.stem(&token);
        }
        token
    }

    /// Lower-case, keep `[a-z0-9]`, tokenize like `nltk.word_tokenize`, stem.
    fn preprocess_sentence(&self, sentence: &str) -> Vec<String> {
        let lowered = py_lower(sentence);
        let cleaned: String = lowered
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' })
            .collect();
        let cleaned = py_strip(&cleaned);
        let text = if self.ensure_compatibility {
            cleaned.replace("cannot", "_cannot_")
        } else {
            cleaned.to_string()
        };
        let mut tokens: Vec<String> = Vec::new();
        for t in py_split(&text) {
            match split_contraction(t) {
                Some((a, b)) => {
                    tokens.push(a.to_string());
                    tokens.push(b.to_string());
                }
                None => tokens.push(t.to_string()),
            }
        }
        let mut out = Vec::with_capacity(tokens.len());
        for t in tokens {
            let t = if self.stemming && !t.is_empty() {
                self.stem_token(t)
            } else {
                t
            };
            let t = if self.ensure_compatibility {
                t.replace("_cannot_", "cannot")
            } else {
                t
            };
            // py-rouge re-splits the joined sentence on whitespace later.
            out.extend(py_split(&t).map(str::to_string));
        }
        out
    }

    /// `_preprocess_summary_per_sentence`: returns tokens per sentence.
    pub fn preprocess(&self, summary: &str) -> Vec<Vec<String>> {
        let sentences: Vec<String> = if self.ensure_compatibility {
            summary.split('\n').map(str::to_string).collect()
        } else {
            crate::punkt::sent_tokenize(summary)
        };
        let mut kept: Vec<String> = Vec::new();
        if self.limit_length && self.length_limit > 0 {
            let mut current = 0usize;
            if self.limit_in_words {
                for s in &sentences {
                    let toks: Vec<&str> = py_split(py_strip(s)).collect();
                    if current + toks.len() < self.length_limit {
                        kept.push(toks.join(" "));
                        current += toks.len();
                    } else {
                        kept.push(toks[..self.length_limit - current].join(" "));
                        break;
                    }
                }
            } else {
                for s in &sentences {
                    let s = py_strip(s);
                    let n = s.chars().count();
                    if current + n < self.length_limit {
                        kept.push(s.to_string());
                        current += n;
                    } else {
                        kept.push(s.chars().take(self.length_limit - current).collect());
                        break;
                    }
                }
            }
        } else {
            kept = sentences;
        }
        kept.iter().map(|s| self.preprocess_sentence(s)).collect()
    }

    /// `Rouge._compute_ngrams_lcs(hyp, ref, 1.0)`: (hyp count, ref count, overlap).
    fn lcs_counts(hyp: &[Vec<String>], refs: &[Vec<String>]) -> (usize, usize, usize) {
        let mut eval_counts: HashMap<&str, usize> = HashMap::new();
        let mut eval_count = 0;
        for s in hyp {
            for t in s {
                *eval_counts.entry(t.as_str()).or_default() += 1;
                eval_count += 1;
            }
        }
        let ref_count: usize = refs.iter().map(Vec::len).sum();
        let mut overlap = 0;
        let mut vals: Vec<u32> = Vec::new();
        let mut dirs: Vec<u8> = Vec::new();
        for r in refs {
            let m = r.len();
            let mut hit = vec![false; m];
            for h in hyp {
                let n = h.len();
                if m == 0 || n == 0 {
                    continue;
                }
                let w = n + 1;
                vals.clear();
                vals.resize((m + 1) * w, 0);
                dirs.clear();
                dirs.resize((m + 1) * w, 0);
                for i in 1..=m {
                    for j in 1..=n {
                        let k = i * w + j;
                        if r[i - 1] == h[j - 1] {
                            vals[k] = vals[k - w - 1] + 1;
                            dirs[k] = 1;
                        } else if vals[k - w] >= vals[k - 1] {
                            vals[k] = vals[k - w];
                            dirs[k] = 2;
                        } else {
                            vals[k] = vals[k - 1];
                            dirs[k] = 3;
                        }
                    }
                }
                let (mut i, mut j) = (m, n);
                while i != 0 && j != 0 {
                    match dirs[i * w + j] {
                        1 => {
                            i -= 1;
                            j -= 1;
                            hit[i] = true;
                        }
                        2 => i -= 1,
                        _ => j -= 1,
                    }
                }
            }
            for (idx, &h) in hit.iter().enumerate() {
                if h {
                    // py-rouge decrements the reference counter at the (int) index,
                    // never at the token, so only the hypothesis counter matters.
                    if let Some(c) = eval_counts.get_mut(r[idx].as_str())
                        && *c > 0
                    {
                        *c -= 1;
                        overlap += 1;
                    }
                }
            }
        }
        (eval_count, ref_count, overlap)
    }

    fn prf(&self, hyp_count: f64, ref_count: f64, overlap: f64) -> (f64, f64, f64) {
        let mut p = if hyp_count == 0.0 {
            0.0
        } else {
            overlap / hyp_count
        };
        if self.weight_factor != 1.0 {
            p = p.powf(1.0 / self.weight_factor);
        }
        let mut r = if ref_count == 0.0 {
            0.0
        } else {
            overlap / ref_count
        };
        if self.weight_factor != 1.0 {
            r = r.powf(1.0 / self.weight_factor);
        }
        let f = if r == 0.0 || p == 0.0 {
            0.0
        } else {
            p * r / ((1.0 - self.alpha) * p + self.alpha * r)
        };
        (p, r, f)
    }

    /// `Rouge(metrics=["rouge-l"], ...).get_scores(hypothesis, [reference])["rouge-l"]["f"]`.
    pub fn score_single(&self, hypothesis: &str, reference: &str) -> f64 {
        let hyp = self.preprocess(hypothesis);
        self.score_pre(&hyp, reference)
    }

    fn score_pre(&self, hyp: &[Vec<String>], reference: &str) -> f64 {
        let refs = self.preprocess(reference);
        let (h, r, o) = Self::lcs_counts(hyp, &refs);
        if self.apply_avg {
            self.prf(h as f64, r as f64, o as f64).2
        } else {
            // apply_best (single reference) or keep-all: the same single score, but
            // py-rouge passes weight_factor here too.
            self.prf(h as f64, r as f64, o as f64).2
        }
    }

    /// RL4LMs `RougeLMax`: max over references of the single-reference F score.
    /// With no references the Python reward raises; we return 0.0.
    pub fn max_over_references(&self, hypothesis: &str, references: &[String]) -> f64 {
        let hyp = self.preprocess(hypothesis);
        references
            .iter()
            .map(|r| self.score_pre(&hyp, r))
            .fold(None, |acc: Option<f64>, s| {
                Some(acc.map_or(s, |a| if s > a { s } else { a }))
            })
            .unwrap_or(0.0)
    }
}
