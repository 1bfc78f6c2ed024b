//! `nltk.word_tokenize` (NLTK 3.10): Punkt sentence splitting followed by
//! `NLTKWordTokenizer` (the improved Treebank tokenizer) on every sentence.
//!
//! The regular expressions are NLTK's; the three that need look-around in Python
//! are rewritten without it (same matches, same replacements).

use crate::text::{py_is_word, py_split};
use regex::Regex;
use std::sync::OnceLock;

struct Rules {
    starting: Vec<(Regex, &'static str)>,
    punctuation: Vec<(Regex, &'static str)>,
    parens: Regex,
    dashes: Regex,
    ending: Vec<(Regex, &'static str)>,
    contractions: Vec<(Regex, &'static str)>,
}

fn rules() -> &'static Rules {
    static R: OnceLock<Rules> = OnceLock::new();
    R.get_or_init(|| {
        let r = |p: &str| Regex::new(p).unwrap();
        Rules {
            starting: vec![
                (r("([«“‘„]|[`]+)"), " ${1} "),
                (r("^\""), "``"),
                (r("(``)"), " ${1} "),
                (r("([ (\\[{<])(\"|'{2})"), "${1} `` "),
            ],
            punctuation: vec![
                (r("([^.])(\\.)([\\])}>\"'»”’ ]*)\\s*$"), "${1} ${2} ${3} "),
                (r("([:,])([^\\d])"), " ${1} ${2}"),
                (r("([:,])\\n?$"), " ${1} "),
                (r("\\.{2,}"), " ${0} "),
                (r("[;@#$%&]"), " ${0} "),
                (r("[\\x{2012}-\\x{2015}]"), " ${0} "),
                (r("([^.])(\\.)([\\])}>\"']*)\\s*$"), "${1} ${2}${3} "),
                (r("[?!]"), " ${0} "),
                (r("([^'])' "), "${1} ' "),
                (r("[*]"), " ${0} "),
            ],
            parens: r("[\\]\\[(){}<>]"),
            dashes: r("--"),
            ending: vec![
                (r("([»”’])"), " ${1} "),
                (r("''"), " '' "),
                (r("\""), " '' "),
                (r("\\s+"), " "),
                (r("([^' ])('[sS]|'[mM]|'[dD]|') "), "${1} ${2} "),
                (r("([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) "), "${1} ${2} "),
            ],
            contractions: vec![
                (r("(?i)\\b(can)(not)\\b"), " ${1} ${2} "),
                (r("(?i)\\b(d)('ye)\\b"), " ${1} ${2} "),
                (r("(?i)\\b(gim)(me)\\b"), " ${1} ${2} "),
                (r("(?i)\\b(gon)(na)\\b"), " ${1} ${2} "),
                (r("(?i)\\b(got)(ta)\\b"), " ${1} ${2} "),
                (r("(?i)\\b(lem)(me)\\b"), " ${1} ${2} "),
                (r("(?i)\\b(more)('n)\\b"), " ${1} ${2} "),
                // Python: (?i)\b(wan)(?#X)(na)(?=\s) -> " \1 \2 "
                (r("(?i)\\b(wan)(na)(\\s)"), " ${1} ${2} ${3}"),
                (r("(?i) ('t)(is)\\b"), " ${1} ${2} "),
                (r("(?i) ('t)(was)\\b"), " ${1} ${2} "),
            ],
        }
    })
}

/// `(?i)(?<!\w)(\')(?!(?:re|ve|ll|m|t|s|d|n)\b)(?=\w)` -> `"\1 "`.
fn split_opening_apostrophes(text: &str) -> String {
    if !text.contains('\'') {
        return text.to_string();
    }
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    for i in 0..c.len() {
        out.push(c[i]);
        if c[i] != '\'' {
            continue;
        }
        if i > 0 && py_is_word(c[i - 1]) {
            continue;
        }
        if i + 1 >= c.len() || !py_is_word(c[i + 1]) {
            continue;
        }
        let after = &c[i + 1..];
        let blocked = ["re", "ve", "ll", "m", "t", "s", "d", "n"]
            .iter()
            .any(|alt| {
                let l = alt.len();
                after.len() >= l
                    && after[..l]
                        .iter()
                        .zip(alt.chars())
                        .all(|(a, b)| a.to_lowercase().eq(std::iter::once(b)))
                    && (after.len() == l || !py_is_word(after[l]))
            });
        if !blocked {
            out.push(' ');
        }
    }
    out
}

/// `NLTKWordTokenizer().tokenize(text)`.
pub fn treebank_tokenize(text: &str) -> Vec<String> {
    let r = rules();
    let mut t = text.to_string();
    for (re, rep) in &r.starting {
        t = re.replace_all(&t, *rep).into_owned();
    }
    t = split_opening_apostrophes(&t);
    for (re, rep) in &r.punctuation {
        t = re.replace_all(&t, *rep).into_owned();
    }
    t = r.parens.replace_all(&t, " ${0} ").into_owned();
    t = r.dashes.replace_all(&t, " -- ").into_owned();
    let mut t = format!(" {t} ");
    for (re, rep) in &r.ending {
        t = re.replace_all(&t, *rep).into_owned();
    }
    for (re, rep) in &r.contractions {
        t = re.replace_all(&t, *rep).into_owned();
    }
    py_split(&t).map(str::to_string).collect()
}

/// `nltk.word_tokenize(text)` (English, `preserve_line=False`).
pub fn word_tokenize(text: &str) -> Vec<String> {
    crate::punkt::sent_tokenize(text)
        .iter()
        .flat_map(|s| treebank_tokenize(s))
        .collect()
}
