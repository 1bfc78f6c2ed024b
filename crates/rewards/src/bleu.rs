//! sacreBLEU 2.x sentence BLEU (`sacrebleu.sentence_bleu`) with the `13a` and
//! `intl` tokenizers, multiple references, and all four smoothing methods.
//!
//! Speed: the tokenizers are byte scans ([`crate::mteval`]), tokens are interned
//! and n-grams counted by id ([`crate::ngram`]); only the `intl` tokenizer on
//! non-ASCII text still runs sacreBLEU's regular expressions.

use crate::mteval::{self, Scratch};
use crate::ngram::{HypNgrams, Interner};
use crate::text::{py_lower, py_rstrip, py_split};
use regex::Regex;
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

    /// The tokenized line, whitespace-normalised (`' '.join(tokens)`).
    pub fn tokenize(self, line: &str) -> String {
        let mut out = String::new();
        let mut spans = Vec::new();
        self.tokens(line, &mut Scratch::default(), &mut out, &mut spans);
        out.pop(); // the space after the last token
        out
    }

    /// Appends the tokens of `line` to `out` (each followed by a space) and
    /// their byte ranges to `spans`.
    fn tokens(
        self,
        line: &str,
        s: &mut Scratch,
        out: &mut String,
        spans: &mut Vec<(usize, usize)>,
    ) {
        if self == Tokenizer::T13a {
            mteval::tokens_13a(line, s, out, spans);
            return;
        }
        let owned;
        let text = match self {
            Tokenizer::Intl => match mteval::tokenize_intl_ascii(line, s) {
                Some(t) => t,
                None => {
                    owned = tokenize_intl_regex(line);
                    &owned
                }
            },
            _ => line,
        };
        for t in py_split(text) {
            let start = out.len();
            out.push_str(t);
            spans.push((start, out.len()));
            out.push(' ');
        }
    }
}

/// `Tokenizer13a()(line)`.
pub fn tokenize_13a(line: &str) -> String {
    Tokenizer::T13a.tokenize(line)
}

/// `TokenizerV14International()(line)`.
pub fn tokenize_intl(line: &str) -> String {
    Tokenizer::Intl.tokenize(line)
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

/// sacreBLEU's `intl` regular expressions (Unicode classes), not normalised.
fn tokenize_intl_regex(line: &str) -> String {
    let mut s = line.to_string();
    for (re, rep) in regexes_intl() {
        s = re.replace_all(&s, *rep).into_owned();
    }
    s
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
    /// `BLEU._preprocess_segment` (lowercase if asked, `rstrip`, tokenize), then
    /// `split()`: tokens into `out` / `spans` (cleared first).
    fn preprocess(
        &self,
        text: &str,
        s: &mut Scratch,
        out: &mut String,
        spans: &mut Vec<(usize, usize)>,
    ) {
        out.clear();
        spans.clear();
        if self.lowercase {
            let lower = py_lower(text);
            self.tokenizer.tokens(py_rstrip(&lower), s, out, spans);
        } else {
            self.tokenizer.tokens(py_rstrip(text), s, out, spans);
        }
    }

    /// BLEU on the 0-100 scale; 0.0 without references.
    pub fn score(&self, hypothesis: &str, references: &[String]) -> f64 {
        if references.is_empty() {
            return 0.0;
        }
        let order = self.max_ngram_order;
        let mut scratch = Scratch::default();
        // hypothesis n-grams, interned
        let (mut hyp_text, mut hyp_spans) = (String::new(), Vec::new());
        self.preprocess(hypothesis, &mut scratch, &mut hyp_text, &mut hyp_spans);
        let mut vocab: Interner<&str> = Interner::with_capacity(hyp_spans.len());
        let hyp_ids: Vec<u32> = hyp_spans
            .iter()
            .map(|&(a, b)| vocab.intern(&hyp_text[a..b]))
            .collect();
        let hyp_len = hyp_ids.len();
        let hyp = HypNgrams::new(&hyp_ids, vocab.len(), order);
        // per n-gram: max count over the references
        let mut ref_max = vec![0u32; hyp.n_ids()];
        let mut this_ref = vec![0u32; hyp.n_ids()];
        let (mut ref_text, mut ref_spans) = (String::new(), Vec::new());
        let mut ref_ids: Vec<Option<u32>> = Vec::new();
        let mut closest: Option<(usize, usize)> = None;
        for r in references {
            self.preprocess(r, &mut scratch, &mut ref_text, &mut ref_spans);
            ref_ids.clear();
            ref_ids.extend(ref_spans.iter().map(|&(a, b)| vocab.get(&ref_text[a..b])));
            // closest reference length, ties to the shorter one
            let rl = ref_ids.len();
            let diff = hyp_len.abs_diff(rl);
            closest = match closest {
                None => Some((diff, rl)),
                Some((d, l)) if diff < d || (diff == d && rl < l) => Some((diff, rl)),
                c => c,
            };
            this_ref.iter_mut().for_each(|c| *c = 0);
            hyp.count_reference(&ref_ids, &mut this_ref);
            for (m, &c) in ref_max.iter_mut().zip(&this_ref) {
                *m = (*m).max(c);
            }
        }
        let ref_len = closest.map_or(0, |c| c.1);
        let mut matches = vec![0usize; order];
        hyp.matches(&ref_max, &mut matches);
        let mut correct: Vec<f64> = matches.iter().map(|&m| m as f64).collect();
        let mut total: Vec<f64> = hyp.windows.iter().map(|&w| w as f64).collect();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::py_normalize_ws;

    /// sacreBLEU's `Tokenizer13a` as regular expressions (the oracle for the byte scans).
    fn regex_13a(line: &str) -> String {
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
        static R: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
        let rules = R.get_or_init(|| {
            [
                (
                    r"([\x7B-\x7E\x5B-\x60\x20-\x26\x28-\x2B\x3A-\x40\x2F])",
                    " ${1} ",
                ),
                (r"([^0-9])([\.,])", "${1} ${2} "),
                (r"([\.,])([^0-9])", " ${1} ${2}"),
                (r"([0-9])(-)", "${1} ${2} "),
            ]
            .into_iter()
            .map(|(re, rep)| (Regex::new(re).unwrap(), rep))
            .collect()
        });
        let mut s = format!(" {line} ");
        for (re, rep) in rules {
            s = re.replace_all(&s, *rep).into_owned();
        }
        py_normalize_ws(&s)
    }

    /// Deterministic strings over an alphabet of tokenizer-relevant characters.
    pub(crate) fn fuzz_strings(n: usize, alphabet: &[&str]) -> Vec<String> {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        (0..n)
            .map(|_| {
                let len = (next() % 24) as usize;
                (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect()
            })
            .collect()
    }

    const ALPHABET: &[&str] = &[
        "a",
        "B",
        "7",
        "0",
        ".",
        ",",
        "-",
        "'",
        "s",
        " ",
        "\n",
        "&",
        "&amp;",
        "&quot;",
        "&lt;",
        "<skipped>",
        "$",
        "(",
        "]",
        "é",
        "我",
        "€",
        "½",
        "\u{a0}",
        "_",
        "`",
        "~",
        "/",
        "!",
        "?",
        ":",
        "@",
        "+",
        "\t",
        "\"",
        "٣",
        "—",
    ];

    #[test]
    fn byte_13a_equals_the_regular_expressions() {
        for s in fuzz_strings(20_000, ALPHABET) {
            assert_eq!(tokenize_13a(&s), regex_13a(&s), "input {s:?}");
        }
    }

    #[test]
    fn ascii_intl_equals_the_regular_expressions() {
        let ascii: Vec<&str> = ALPHABET.iter().copied().filter(|a| a.is_ascii()).collect();
        for s in fuzz_strings(20_000, &ascii) {
            assert_eq!(
                tokenize_intl(&s),
                py_normalize_ws(&tokenize_intl_regex(&s)),
                "input {s:?}"
            );
        }
    }
}
