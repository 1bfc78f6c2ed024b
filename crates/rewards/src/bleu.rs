//! sacreBLEU 2.x sentence BLEU (`sacrebleu.sentence_bleu`) with the `13a` and
//! `intl` tokenizers, multiple references, and all four smoothing methods.

use crate::text::{py_lower, py_normalize_ws, py_rstrip, py_split};
use regex::Regex;
use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tokenizer {
    /// `13a`: mteval-v13a, sacreBLEU's default.
    T13a,
    /// `intl`: mteval-v14 international tokenization.
    Intl,
    /// `none`: split on whitespace only.
    None,
}

impl Tokenizer {
    pub fn parse(s: &str) -> Option<Tokenizer> {
        match s {
            "13a" => Some(Tokenizer::T13a),
            "intl" => Some(Tokenizer::Intl),
            "none" => Some(Tokenizer::None),
            _ => None,
        }
    }

    pub fn tokenize(self, line: &str) -> String {
        match self {
            Tokenizer::T13a => tokenize_13a(line),
            Tokenizer::Intl => tokenize_intl(line),
            Tokenizer::None => line.to_string(),
        }
    }
}

fn regexes_13a() -> &'static [(Regex, &'static str); 4] {
    static R: OnceLock<[(Regex, &'static str); 4]> = OnceLock::new();
    R.get_or_init(|| {
        [
            (
                Regex::new(r"([\x7B-\x7E\x5B-\x60\x20-\x26\x28-\x2B\x3A-\x40\x2F])").unwrap(),
                " ${1} ",
            ),
            (Regex::new(r"([^0-9])([\.,])").unwrap(), "${1} ${2} "),
            (Regex::new(r"([\.,])([^0-9])").unwrap(), " ${1} ${2}"),
            (Regex::new(r"([0-9])(-)").unwrap(), "${1} ${2} "),
        ]
    })
}

/// `Tokenizer13a()(line)`.
pub fn tokenize_13a(line: &str) -> String {
    let mut line = line
        .replace("<skipped>", "")
        .replace("-\n", "")
        .replace('\n', " ");
    if line.contains('&') {
        line = line
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
    }
    let mut s = format!(" {line} ");
    for (re, rep) in regexes_13a() {
        s = re.replace_all(&s, *rep).into_owned();
    }
    py_normalize_ws(&s)
}

fn regexes_intl() -> &'static [(Regex, &'static str); 3] {
    static R: OnceLock<[(Regex, &'static str); 3]> = OnceLock::new();
    R.get_or_init(|| {
        [
            (Regex::new(r"(\P{N})(\p{P})").unwrap(), "${1} ${2} "),
            (Regex::new(r"(\p{P})(\P{N})").unwrap(), " ${1} ${2}"),
            (Regex::new(r"(\p{S})").unwrap(), " ${1} "),
        ]
    })
}

/// `TokenizerV14International()(line)`.
pub fn tokenize_intl(line: &str) -> String {
    let mut s = line.to_string();
    for (re, rep) in regexes_intl() {
        s = re.replace_all(&s, *rep).into_owned();
    }
    py_normalize_ws(&s)
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Smooth {
    None,
    Floor(f64),
    AddK(f64),
    Exp,
}

impl Smooth {
    /// sacreBLEU's names with its default values (`floor` 0.1, `add-k` 1).
    pub fn parse(method: &str, value: Option<f64>) -> Option<Smooth> {
        match method {
            "none" => Some(Smooth::None),
            "floor" => Some(Smooth::Floor(value.unwrap_or(0.1))),
            "add-k" => Some(Smooth::AddK(value.unwrap_or(1.0))),
            "exp" => Some(Smooth::Exp),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SentenceBleu {
    pub tokenizer: Tokenizer,
    pub lowercase: bool,
    pub smooth: Smooth,
    pub effective_order: bool,
    pub max_ngram_order: usize,
}

impl Default for SentenceBleu {
    /// `sacrebleu.sentence_bleu` defaults.
    fn default() -> Self {
        SentenceBleu {
            tokenizer: Tokenizer::T13a,
            lowercase: false,
            smooth: Smooth::Exp,
            effective_order: true,
            max_ngram_order: 4,
        }
    }
}

fn my_log(x: f64) -> f64 {
    if x == 0.0 { -9_999_999_999.0 } else { x.ln() }
}

impl SentenceBleu {
    fn preprocess(&self, s: &str) -> String {
        let s = if self.lowercase {
            py_lower(s)
        } else {
            s.to_string()
        };
        self.tokenizer.tokenize(py_rstrip(&s))
    }

    /// BLEU on the 0-100 scale; 0.0 without references.
    pub fn score(&self, hypothesis: &str, references: &[String]) -> f64 {
        if references.is_empty() {
            return 0.0;
        }
        let order = self.max_ngram_order;
        let refs_tok: Vec<String> = references.iter().map(|r| self.preprocess(r)).collect();
        let mut ref_ngrams: HashMap<Vec<&str>, usize> = HashMap::new();
        let mut ref_lens = Vec::with_capacity(refs_tok.len());
        for r in &refs_tok {
            let toks: Vec<&str> = py_split(r).collect();
            ref_lens.push(toks.len());
            let mut this: HashMap<Vec<&str>, usize> = HashMap::new();
            for n in 1..=order {
                for w in toks.windows(n) {
                    *this.entry(w.to_vec()).or_default() += 1;
                }
            }
            for (k, v) in this {
                let e = ref_ngrams.entry(k).or_default();
                *e = (*e).max(v);
            }
        }
        let hyp_tok = self.preprocess(hypothesis);
        let toks: Vec<&str> = py_split(&hyp_tok).collect();
        let hyp_len = toks.len();
        let mut hyp_ngrams: HashMap<&[&str], usize> = HashMap::new();
        for n in 1..=order {
            for w in toks.windows(n) {
                *hyp_ngrams.entry(w).or_default() += 1;
            }
        }
        // closest reference length, ties to the shorter one
        let mut closest: Option<(usize, usize)> = None;
        for &rl in &ref_lens {
            let diff = hyp_len.abs_diff(rl);
            closest = match closest {
                None => Some((diff, rl)),
                Some((d, l)) if diff < d || (diff == d && rl < l) => Some((diff, rl)),
                c => c,
            };
        }
        let ref_len = closest.map_or(0, |c| c.1);
        let mut correct = vec![0f64; order];
        let mut total = vec![0f64; order];
        for (ng, &c) in &hyp_ngrams {
            let n = ng.len() - 1;
            total[n] += c as f64;
            if let Some(&rc) = ref_ngrams.get(*ng) {
                correct[n] += c.min(rc) as f64;
            }
        }
        self.compute(&mut correct, &mut total, hyp_len, ref_len)
    }

    fn compute(
        &self,
        correct: &mut [f64],
        total: &mut [f64],
        sys_len: usize,
        ref_len: usize,
    ) -> f64 {
        let mut bp = 1.0;
        if sys_len < ref_len {
            bp = if sys_len > 0 {
                (1.0 - ref_len as f64 / sys_len as f64).exp()
            } else {
                0.0
            };
        }
        let order = self.max_ngram_order;
        let mut precisions = vec![0f64; order];
        if !correct.iter().any(|&c| c != 0.0) {
            return 0.0;
        }
        let mut smooth_mteval = 1.0;
        let mut eff_order = order;
        for n in 1..=order {
            if let Smooth::AddK(k) = self.smooth
                && n > 1
            {
                correct[n - 1] += k;
                total[n - 1] += k;
            }
            if total[n - 1] == 0.0 {
                break;
            }
            if self.effective_order {
                eff_order = n;
            }
            if correct[n - 1] == 0.0 {
                match self.smooth {
                    Smooth::Exp => {
                        smooth_mteval *= 2.0;
                        precisions[n - 1] = 100.0 / (smooth_mteval * total[n - 1]);
                    }
                    Smooth::Floor(v) => precisions[n - 1] = 100.0 * v / total[n - 1],
                    _ => {}
                }
            } else {
                precisions[n - 1] = 100.0 * correct[n - 1] / total[n - 1];
            }
        }
        let mut s = 0.0;
        for &p in &precisions[..eff_order] {
            s += my_log(p);
        }
        bp * (s / eff_order as f64).exp()
    }
}
