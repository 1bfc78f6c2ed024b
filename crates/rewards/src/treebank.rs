//! `nltk.word_tokenize` (NLTK 3.10): Punkt sentence splitting followed by
//! `NLTKWordTokenizer` (the improved Treebank tokenizer) on every sentence.
//!
//! The regular expressions are NLTK's; the three that need look-around in Python
//! are rewritten without it (same matches, same replacements).

use crate::text::{py_is_word, py_isspace, py_split};
use regex::Regex;
use std::borrow::Cow;
use std::sync::OnceLock;

/// A cheap test that a rule cannot match, so that its pass can be skipped:
/// every rule needs some character (or substring) that most sentences lack.
#[derive(Clone, Copy)]
enum Guard {
    /// one of these ASCII bytes is present
    Any(&'static [u8]),
    /// this substring is present
    Sub(&'static str),
    /// the text starts with this byte
    Starts(u8),
    /// the text has a non-ASCII character
    NonAscii,
    /// `\s+` -> " " changes something: whitespace other than single spaces
    Whitespace,
    /// a case-insensitive `cannot|gimme|gonna|gotta|lemme|wanna` is present
    Contraction,
    /// this ASCII substring is present, ignoring ASCII case
    SubNoCase(&'static str),
    /// a `"` or `''` is present
    Quotes,
}

enum Kind {
    /// `re.sub(pattern, replacement, text)`
    Re(Regex, &'static str),
    /// the same substitution written out: `None` if nothing matched
    Native(fn(&str) -> Option<String>),
}

struct Pass {
    kind: Kind,
    guard: Guard,
    /// the bytes a replacement can add to the text (its literal part)
    adds: Vec<u8>,
}

struct Rules {
    passes: Vec<Pass>,
    /// index in `passes` before which `split_opening_apostrophes` runs
    opening_apostrophes_at: usize,
    /// index in `passes` before which the text is padded with spaces
    pad_at: usize,
    contraction: Regex,
}

fn rules() -> &'static Rules {
    static R: OnceLock<Rules> = OnceLock::new();
    R.get_or_init(|| {
        let p = |re: &str, rep: &'static str, guard: Guard| Pass {
            kind: Kind::Re(Regex::new(re).unwrap(), rep),
            guard,
            adds: Regex::new(r"\$\{\d\}")
                .unwrap()
                .replace_all(rep, "")
                .bytes()
                .collect(),
        };
        // the written-out passes only insert spaces
        let native = |f: fn(&str) -> Option<String>, guard: Guard| Pass {
            kind: Kind::Native(f),
            guard,
            adds: vec![b' '],
        };
        use Guard::*;
        let starting = vec![
            p("([«“‘„]|[`]+)", " ${1} ", Any(b"`\xc2\xe2")),
            p("^\"", "``", Starts(b'"')),
            p("(``)", " ${1} ", Sub("``")),
            p("([ (\\[{<])(\"|'{2})", "${1} `` ", Quotes),
        ];
        let punctuation = vec![
            // ([^\.])(\.)([\]\)}>"\'»”’ ]*)\s*$  ->  \1 \2 \3
            native(final_period_spaced, Any(b".")),
            // ([:,])([^\d])  ->  " \1 \2"
            native(split_colon_comma, Any(b":,")),
            // ([:,])$  ->  " \1 "
            native(final_colon_comma, Any(b":,")),
            p("\\.{2,}", " ${0} ", Sub("..")),
            p("[;@#$%&]", " ${0} ", Any(b";@#$%&")),
            p("[\\x{2012}-\\x{2015}]", " ${0} ", NonAscii),
            // ([^\.])(\.)([\]\)}>"\']*)\s*$  ->  \1 \2\3
            native(final_period, Any(b".")),
            p("[?!]", " ${0} ", Any(b"?!")),
            p("([^'])' ", "${1} ' ", Sub("' ")),
            p("[*]", " ${0} ", Any(b"*")),
            // parentheses, brackets, braces, angle brackets; double dashes
            p("[\\]\\[(){}<>]", " ${0} ", Any(b"[](){}<>")),
            p("--", " -- ", Sub("--")),
        ];
        let ending = vec![
            p("([»”’])", " ${1} ", NonAscii),
            p("''", " '' ", Sub("''")),
            p("\"", " '' ", Any(b"\"")),
            native(squeeze_whitespace, Whitespace),
            p("([^' ])('[sS]|'[mM]|'[dD]|') ", "${1} ${2} ", Any(b"'")),
            p(
                "([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ",
                "${1} ${2} ",
                Any(b"'"),
            ),
        ];
        let contractions = vec![
            p("(?i)\\b(can)(not)\\b", " ${1} ${2} ", Contraction),
            p("(?i)\\b(d)('ye)\\b", " ${1} ${2} ", SubNoCase("'ye")),
            p("(?i)\\b(gim)(me)\\b", " ${1} ${2} ", Contraction),
            p("(?i)\\b(gon)(na)\\b", " ${1} ${2} ", Contraction),
            p("(?i)\\b(got)(ta)\\b", " ${1} ${2} ", Contraction),
            p("(?i)\\b(lem)(me)\\b", " ${1} ${2} ", Contraction),
            p("(?i)\\b(more)('n)\\b", " ${1} ${2} ", SubNoCase("'n")),
            // Python: (?i)\b(wan)(?#X)(na)(?=\s) -> " \1 \2 "
            p("(?i)\\b(wan)(na)(\\s)", " ${1} ${2} ${3}", Contraction),
            p("(?i) ('t)(is)\\b", " ${1} ${2} ", SubNoCase(" 't")),
            p("(?i) ('t)(was)\\b", " ${1} ${2} ", SubNoCase(" 't")),
        ];
        let opening_apostrophes_at = starting.len();
        let pad_at = starting.len() + punctuation.len();
        let passes = starting
            .into_iter()
            .chain(punctuation)
            .chain(ending)
            .chain(contractions)
            .collect();
        Rules {
            passes,
            opening_apostrophes_at,
            pad_at,
            contraction: Regex::new("(?i)cannot|gimme|gonna|gotta|lemme|wanna").unwrap(),
        }
    })
}

impl Guard {
    /// `false` if the rule certainly does not match `t`; `present` marks the bytes of `t`.
    fn may_match(self, t: &str, present: &[bool; 256], contraction: &Regex) -> bool {
        match self {
            Guard::Any(bytes) => bytes.iter().any(|&b| present[b as usize]),
            Guard::Sub(s) => present[s.as_bytes()[0] as usize] && t.contains(s),
            Guard::Starts(b) => t.as_bytes().first() == Some(&b),
            Guard::NonAscii => present[0x80..].iter().any(|&p| p),
            Guard::Whitespace => {
                let mut prev_space = false;
                t.chars().any(|c| {
                    let space = py_isspace(c);
                    let changes = space && (c != ' ' || prev_space);
                    prev_space = space;
                    changes
                })
            }
            // every such substring has an apostrophe: look only around those
            Guard::SubNoCase(sub) => {
                let k = sub.find('\'').expect("apostrophe");
                present[b'\'' as usize]
                    && t.match_indices('\'').any(|(i, _)| {
                        i >= k
                            && t.as_bytes()
                                .get(i - k..i - k + sub.len())
                                .is_some_and(|w| w.eq_ignore_ascii_case(sub.as_bytes()))
                    })
            }
            Guard::Quotes => {
                present[b'"' as usize] || (present[b'\'' as usize] && t.contains("''"))
            }
            // every one of these words has a doubled "nn", "mm" or "tt"; passes only
            // insert spaces and punctuation, so the first text decides (`present[0]`)
            Guard::Contraction => present[0] && contraction.is_match(t),
        }
    }
}

/// Marks the bytes of `t`; `present[0]` (NUL cannot change the outcome of any
/// rule) records a case-insensitive "nn", "mm" or "tt" instead.
fn mark_bytes(t: &str, present: &mut [bool; 256]) {
    present.fill(false);
    let mut prev = 0u8;
    let mut double = false;
    for b in t.bytes() {
        present[b as usize] = true;
        let l = b.to_ascii_lowercase();
        double |= l == prev && matches!(l, b'n' | b'm' | b't');
        prev = l;
    }
    present[0] = double;
}

/// The two "final period" rules: `([^\.])(\.)(C*)\s*$` with closing characters
/// `C`; `spaced` selects the replacement `\1 \2 \3 ` (else `\1 \2\3 `). The
/// match, if any, is the last `.` that is followed only by a (greedy) run of
/// `C` and then whitespace, and is not preceded by `.` or the start.
fn final_period_with(t: &str, closer: fn(char) -> bool, spaced: bool) -> Option<String> {
    // the last character that is neither whitespace nor a closer must be the '.'
    let p = t
        .char_indices()
        .rev()
        .find(|&(_, c)| !(py_isspace(c) || closer(c)))
        .filter(|&(_, c)| c == '.')?
        .0;
    let before = t[..p].chars().next_back()?;
    if before == '.' {
        return None;
    }
    let rest = &t[p + 1..];
    let x_len = rest.find(|c: char| !closer(c)).unwrap_or(rest.len());
    if !rest[x_len..].chars().all(py_isspace) {
        return None;
    }
    let mut out = String::with_capacity(t.len() + 3);
    out.push_str(&t[..p]);
    out.push_str(if spaced { " . " } else { " ." });
    out.push_str(&rest[..x_len]);
    out.push(' ');
    Some(out)
}

fn final_period_spaced(t: &str) -> Option<String> {
    final_period_with(
        t,
        |c| {
            matches!(
                c,
                ']' | ')' | '}' | '>' | '"' | '\'' | '»' | '”' | '’' | ' '
            )
        },
        true,
    )
}

fn final_period(t: &str) -> Option<String> {
    final_period_with(
        t,
        |c| matches!(c, ']' | ')' | '}' | '>' | '"' | '\''),
        false,
    )
}

/// Python's `\d` for `str` patterns (Unicode decimal digits).
fn is_decimal(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    static D: OnceLock<Regex> = OnceLock::new();
    let mut buf = [0u8; 4];
    D.get_or_init(|| Regex::new(r"\A\d\z").unwrap())
        .is_match(c.encode_utf8(&mut buf))
}

/// `([:,])([^\d])` -> `" \1 \2"` (leftmost, non-overlapping).
fn split_colon_comma(t: &str) -> Option<String> {
    let mut out: Option<String> = None;
    let mut last = 0; // end of the text copied to `out`
    let mut it = t.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if (c == ':' || c == ',')
            && let Some(&(j, d)) = it.peek()
            && !is_decimal(d)
        {
            let o = out.get_or_insert_with(|| String::with_capacity(t.len() + 16));
            o.push_str(&t[last..i]);
            o.push(' ');
            o.push(c);
            o.push(' ');
            o.push(d);
            last = j + d.len_utf8();
            it.next();
        }
    }
    out.map(|mut o| {
        o.push_str(&t[last..]);
        o
    })
}

/// `([:,])$` -> `" \1 "` (Python's `$` also matches before a final newline).
fn final_colon_comma(t: &str) -> Option<String> {
    let body = t.strip_suffix('\n').unwrap_or(t);
    let last = body.chars().next_back()?;
    if last != ':' && last != ',' {
        return None;
    }
    let cut = body.len() - 1;
    Some(format!("{} {} {}", &t[..cut], last, &t[body.len()..]))
}

/// `\s+` -> `" "`.
fn squeeze_whitespace(t: &str) -> Option<String> {
    let mut out = String::with_capacity(t.len());
    let mut in_space = false;
    for c in t.chars() {
        if py_isspace(c) {
            if !in_space {
                out.push(' ');
            }
            in_space = true;
        } else {
            out.push(c);
            in_space = false;
        }
    }
    (out != t).then_some(out)
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
///
/// `present` marks every byte that may occur in the current text (a superset:
/// a replacement only adds the literal bytes of its template), which is all
/// the guards need to skip a pass safely.
pub fn treebank_tokenize(text: &str) -> Vec<String> {
    let (mut out, mut spans) = (String::new(), Vec::new());
    treebank_tokenize_into(text, &mut out, &mut spans);
    spans.iter().map(|&(a, b)| out[a..b].to_string()).collect()
}

/// [`treebank_tokenize`] appending the tokens to `out` and their byte ranges to `spans`.
pub fn treebank_tokenize_into(text: &str, out: &mut String, spans: &mut Vec<(usize, usize)>) {
    let r = rules();
    let mut t: Cow<str> = Cow::Borrowed(text);
    let mut present = [false; 256];
    mark_bytes(&t, &mut present);
    for (i, pass) in r.passes.iter().enumerate() {
        if i == r.opening_apostrophes_at && present[b'\'' as usize] {
            t = Cow::Owned(split_opening_apostrophes(&t));
            present[b' ' as usize] = true;
        }
        if i == r.pad_at {
            t = Cow::Owned(format!(" {t} "));
            present[b' ' as usize] = true;
        }
        if !pass.guard.may_match(&t, &present, &r.contraction) {
            continue;
        }
        let new = match &pass.kind {
            Kind::Re(re, rep) => match re.replace_all(&t, *rep) {
                Cow::Owned(new) => Some(new),
                Cow::Borrowed(_) => None,
            },
            Kind::Native(f) => f(&t),
        };
        if let Some(new) = new {
            for &b in &pass.adds {
                present[b as usize] = true;
            }
            t = Cow::Owned(new);
        }
    }
    for tok in py_split(&t) {
        let start = out.len();
        out.push_str(tok);
        spans.push((start, out.len()));
    }
}

/// `nltk.word_tokenize(text)` (English, `preserve_line=False`).
pub fn word_tokenize(text: &str) -> Vec<String> {
    let (mut out, mut spans) = (String::new(), Vec::new());
    word_tokenize_into(text, &mut out, &mut spans);
    spans.iter().map(|&(a, b)| out[a..b].to_string()).collect()
}

/// [`word_tokenize`] appending the tokens to `out` and their byte ranges to `spans`.
pub fn word_tokenize_into(text: &str, out: &mut String, spans: &mut Vec<(usize, usize)>) {
    for s in crate::punkt::sent_tokenize(text) {
        treebank_tokenize_into(&s, out, spans);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic strings over an alphabet of tokenizer-relevant characters.
    fn fuzz(n: usize, alphabet: &[&str]) -> Vec<String> {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        (0..n)
            .map(|_| {
                let len = (next() % 16) as usize;
                (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect()
            })
            .collect()
    }

    const ALPHABET: &[&str] = &[
        "a", "Z", "7", "٣", ".", ",", ":", " ", "\n", "\t", "\u{a0}", ")", "]", "}", ">", "\"",
        "'", "»", "”", "’", "é", "..",
    ];

    #[test]
    fn native_passes_equal_nltk_regular_expressions() {
        let norm = |s: &str| py_split(s).collect::<Vec<_>>().join(" ");
        type Native = fn(&str) -> Option<String>;
        let cases: [(&str, &str, Native); 5] = [
            (
                "([^.])(\\.)([\\])}>\"'»”’ ]*)\\s*$",
                "${1} ${2} ${3} ",
                final_period_spaced,
            ),
            (
                "([^.])(\\.)([\\])}>\"']*)\\s*$",
                "${1} ${2}${3} ",
                final_period,
            ),
            ("([:,])([^\\d])", " ${1} ${2}", split_colon_comma),
            ("([:,])\\n?$", " ${1} ", final_colon_comma),
            ("\\s+", " ", squeeze_whitespace),
        ];
        let compiled: Vec<Regex> = cases.iter().map(|c| Regex::new(c.0).unwrap()).collect();
        for t in fuzz(30_000, ALPHABET) {
            for ((re, rep, f), rx) in cases.iter().zip(&compiled) {
                let want = rx.replace_all(&t, *rep).into_owned();
                let got = f(&t).unwrap_or_else(|| t.clone());
                if re.ends_with("\\n?$") {
                    // Python keeps the final newline that this regex consumes: same tokens
                    assert_eq!(norm(&got), norm(&want), "{re} on {t:?}");
                } else {
                    assert_eq!(got, want, "{re} on {t:?}");
                }
            }
        }
    }
}
