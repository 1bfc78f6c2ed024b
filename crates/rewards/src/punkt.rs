//! NLTK's Punkt sentence tokenizer (`PunktTokenizer('english')`, NLTK 3.10) with
//! the pretrained English `punkt_tab` parameters, which are embedded in the crate
//! (`assets/punkt_english/`, Apache-2.0 NLTK data; see `assets/README.md`).
//!
//! Only tokenization with fixed parameters is implemented (no training). Indices
//! are code-point indices, exactly as in the Python implementation.

use crate::text::py_isspace;
use regex::Regex;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

static ABBREV: &str = include_str!("../assets/punkt_english/abbrev_types.txt");
static COLLOC: &str = include_str!("../assets/punkt_english/collocations.tab");
static STARTERS: &str = include_str!("../assets/punkt_english/sent_starters.txt");
static ORTHO: &str = include_str!("../assets/punkt_english/ortho_context.tab");

const ORTHO_BEG_UC: u32 = 1 << 1;
const ORTHO_MID_UC: u32 = 1 << 2;
const ORTHO_UNK_UC: u32 = 1 << 3;
const ORTHO_BEG_LC: u32 = 1 << 4;
const ORTHO_MID_LC: u32 = 1 << 5;
const ORTHO_UNK_LC: u32 = 1 << 6;
const ORTHO_UC: u32 = ORTHO_BEG_UC + ORTHO_MID_UC + ORTHO_UNK_UC;
const ORTHO_LC: u32 = ORTHO_BEG_LC + ORTHO_MID_LC + ORTHO_UNK_LC;

struct Params {
    abbrev: HashSet<String>,
    colloc: HashSet<(String, String)>,
    starters: HashSet<String>,
    ortho: HashMap<String, u32>,
    re_numeric: Regex,
    re_initial: Regex,
}

fn params() -> &'static Params {
    static P: OnceLock<Params> = OnceLock::new();
    P.get_or_init(|| {
        let lines = |s: &'static str| s.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
        Params {
            abbrev: lines(ABBREV).map(str::to_string).collect(),
            colloc: lines(COLLOC)
                .filter_map(|l| l.split_once('\t'))
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            starters: lines(STARTERS).map(str::to_string).collect(),
            ortho: lines(ORTHO)
                .filter_map(|l| l.split_once('\t'))
                .filter_map(|(a, b)| b.trim().parse().ok().map(|v| (a.to_string(), v)))
                .collect(),
            re_numeric: Regex::new(r"^-?[\.,]?\d[\d,\.-]*\.?$").unwrap(),
            re_initial: Regex::new(r"^[^\W\d]\.$").unwrap(),
        }
    })
}

#[derive(Debug, Clone)]
struct Tok {
    tok: String,
    typ: String,
    period_final: bool,
    sentbreak: bool,
    abbr: bool,
    ellipsis: bool,
}

impl Tok {
    fn new(tok: String) -> Tok {
        let lower = crate::text::py_lower(&tok);
        let typ = if params().re_numeric.is_match(&lower) {
            "##number##".to_string()
        } else {
            lower
        };
        let period_final = tok.ends_with('.');
        Tok {
            tok,
            typ,
            period_final,
            sentbreak: false,
            abbr: false,
            ellipsis: false,
        }
    }
    fn type_no_period(&self) -> &str {
        if self.typ.chars().count() > 1 && self.typ.ends_with('.') {
            &self.typ[..self.typ.len() - 1]
        } else {
            &self.typ
        }
    }
    fn type_no_sentperiod(&self) -> &str {
        if self.sentbreak {
            self.type_no_period()
        } else {
            &self.typ
        }
    }
    fn first_upper(&self) -> bool {
        self.tok.chars().next().is_some_and(char::is_uppercase)
    }
    fn first_lower(&self) -> bool {
        self.tok.chars().next().is_some_and(char::is_lowercase)
    }
    fn is_ellipsis(&self) -> bool {
        self.tok.len() >= 2 && self.tok.chars().all(|c| c == '.')
    }
    fn is_initial(&self) -> bool {
        params().re_initial.is_match(&self.tok)
    }
}

#[inline]
fn is_non_word(c: char) -> bool {
    matches!(
        c,
        ')' | '"'
            | ';'
            | '}'
            | ']'
            | '*'
            | ':'
            | '@'
            | '\''
            | '('
            | '{'
            | '['
            | '\u{2018}'
            | '\u{2019}'
            | '\u{201c}'
            | '\u{201d}'
            | '\u{ab}'
            | '\u{bb}'
            | '?'
            | '!'
    )
}

#[inline]
fn is_word_start(c: char) -> bool {
    !matches!(
        c,
        '(' | '"'
            | '`'
            | '{'
            | '['
            | ':'
            | ';'
            | '&'
            | '#'
            | '*'
            | '@'
            | ')'
            | '}'
            | ']'
            | '-'
            | ','
    )
}

/// Length of a `(?:\-{2,}|\.{2,}|(?:\.\s){2,}\.)` match at `p`, if any.
fn multi_char(c: &[char], p: usize) -> Option<usize> {
    let run = |ch: char| c[p..].iter().take_while(|&&x| x == ch).count();
    if p >= c.len() {
        return None;
    }
    let d = run('-');
    if d >= 2 {
        return Some(d);
    }
    let d = run('.');
    if d >= 2 {
        return Some(d);
    }
    // (?:\.\s){2,}\.
    let mut q = p;
    let mut reps = 0;
    while q + 1 < c.len() && c[q] == '.' && py_isspace(c[q + 1]) {
        q += 2;
        reps += 1;
    }
    // backtrack: need reps >= 2 followed by '.'
    while reps >= 2 {
        if q < c.len() && c[q] == '.' {
            return Some(q + 1 - p);
        }
        q -= 2;
        reps -= 1;
    }
    None
}

/// `PunktLanguageVars.word_tokenize` (`_word_tokenize_fmt` findall) for one line.
fn punkt_word_tokenize(line: &[char]) -> Vec<String> {
    let n = line.len();
    let mut out = Vec::new();
    let mut p = 0;
    let ends_word = |q: usize| -> bool {
        if q >= n || py_isspace(line[q]) || is_non_word(line[q]) || multi_char(line, q).is_some() {
            return true;
        }
        if line[q] == ',' {
            let r = q + 1;
            return r >= n
                || py_isspace(line[r])
                || is_non_word(line[r])
                || multi_char(line, r).is_some();
        }
        false
    };
    while p < n {
        if let Some(len) = multi_char(line, p) {
            out.push(line[p..p + len].iter().collect());
            p += len;
            continue;
        }
        let c = line[p];
        if py_isspace(c) {
            p += 1;
            continue;
        }
        if is_word_start(c) {
            let mut q = p + 1;
            loop {
                if ends_word(q) {
                    break;
                }
                q += 1;
            }
            out.push(line[p..q].iter().collect());
            p = q;
            continue;
        }
        out.push(c.to_string());
        p += 1;
    }
    out
}

fn tokenize_words(text: &[char]) -> Vec<Tok> {
    let mut toks = Vec::new();
    for line in text.split(|&c| c == '\n') {
        if line.iter().all(|&c| py_isspace(c)) {
            continue;
        }
        for t in punkt_word_tokenize(line) {
            toks.push(Tok::new(t));
        }
    }
    toks
}

fn first_pass(t: &mut Tok) {
    let p = params();
    let tok = t.tok.as_str();
    if tok == "." || tok == "?" || tok == "!" {
        t.sentbreak = true;
    } else if t.is_ellipsis() {
        t.ellipsis = true;
    } else if t.period_final && !tok.ends_with("..") {
        let stem = crate::text::py_lower(&tok[..tok.len() - 1]);
        let last = stem.rsplit('-').next().unwrap_or("");
        if p.abbrev.contains(&stem) || p.abbrev.contains(last) {
            t.abbr = true;
        } else {
            t.sentbreak = true;
        }
    }
}

#[derive(PartialEq)]
enum Ortho {
    True,
    False,
    Unknown,
}

fn ortho_heuristic(t: &Tok) -> Ortho {
    if matches!(t.tok.as_str(), ";" | ":" | "," | "." | "!" | "?") {
        return Ortho::False;
    }
    let oc = params()
        .ortho
        .get(t.type_no_sentperiod())
        .copied()
        .unwrap_or(0);
    if t.first_upper() && oc & ORTHO_LC != 0 && oc & ORTHO_MID_UC == 0 {
        return Ortho::True;
    }
    if t.first_lower() && (oc & ORTHO_UC != 0 || oc & ORTHO_BEG_LC == 0) {
        return Ortho::False;
    }
    Ortho::Unknown
}

fn second_pass(t1: &mut Tok, t2: &Tok) {
    let p = params();
    if !t1.period_final {
        return;
    }
    let typ = t1.type_no_period().to_string();
    let next_typ = t2.type_no_sentperiod();
    let initial = t1.is_initial();
    if p.colloc.contains(&(typ.clone(), next_typ.to_string())) {
        t1.sentbreak = false;
        t1.abbr = true;
        return;
    }
    if (t1.abbr || t1.ellipsis) && !initial {
        if ortho_heuristic(t2) == Ortho::True {
            t1.sentbreak = true;
            return;
        }
        if t2.first_upper() && p.starters.contains(next_typ) {
            t1.sentbreak = true;
            return;
        }
    }
    if initial || typ == "##number##" {
        let h = ortho_heuristic(t2);
        if h == Ortho::False {
            t1.sentbreak = false;
            t1.abbr = true;
            return;
        }
        if h == Ortho::Unknown
            && initial
            && t2.first_upper()
            && p.ortho.get(next_typ).copied().unwrap_or(0) & ORTHO_LC == 0
        {
            t1.sentbreak = false;
            t1.abbr = true;
        }
    }
}

fn text_contains_sentbreak(text: &[char]) -> bool {
    let mut toks = tokenize_words(text);
    for t in toks.iter_mut() {
        first_pass(t);
    }
    let n = toks.len();
    for i in 0..n {
        if i + 1 < n {
            let (a, b) = toks.split_at_mut(i + 1);
            second_pass(&mut a[i], &b[0]);
            if a[i].sentbreak {
                return true;
            }
        }
    }
    false
}

struct EndMatch {
    start: usize,
    after_end: usize,
    next_tok: Option<usize>,
}

fn period_contexts(c: &[char]) -> Vec<EndMatch> {
    let n = c.len();
    let mut out = Vec::new();
    for p in 0..n {
        if !matches!(c[p], '.' | '?' | '!') {
            continue;
        }
        if p + 1 < n && is_non_word(c[p + 1]) {
            out.push(EndMatch {
                start: p,
                after_end: p + 2,
                next_tok: None,
            });
        } else if p + 1 < n && py_isspace(c[p + 1]) {
            let mut q = p + 1;
            while q < n && py_isspace(c[q]) {
                q += 1;
            }
            if q < n {
                let mut r = q;
                while r < n && !py_isspace(c[r]) {
                    r += 1;
                }
                out.push(EndMatch {
                    start: p,
                    after_end: r,
                    next_tok: Some(q),
                });
            }
        }
    }
    out
}

fn is_ascii_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

fn slices_from_text(c: &[char]) -> Vec<(usize, usize)> {
    let mut slices = Vec::new();
    let mut last_break = 0;
    let mut prev_slice = (0usize, 0usize);
    let mut prev: Option<EndMatch> = None;
    let mut contexts: Vec<(usize, usize, Option<usize>, Vec<char>)> = Vec::new();
    let ctx = |ps: (usize, usize), m: &EndMatch| -> Vec<char> {
        let mut v: Vec<char> = if ps.0 < ps.1 {
            c[ps.0..ps.1].to_vec()
        } else {
            Vec::new()
        };
        v.extend_from_slice(&c[m.start..m.after_end]);
        v
    };
    for m in period_contexts(c) {
        let before = &c[prev_slice.1..m.start];
        let mut idx = before.iter().rposition(|&x| is_ascii_ws(x)).unwrap_or(0);
        if idx != 0 {
            idx += prev_slice.1 + 1;
        } else {
            idx = prev_slice.0;
        }
        let prev_word = (idx, m.start);
        if let Some(pm) = &prev
            && prev_slice.1 <= prev_word.0
        {
            contexts.push((pm.start + 1, 0, pm.next_tok, ctx(prev_slice, pm)));
        }
        prev = Some(m);
        prev_slice = prev_word;
    }
    if let Some(pm) = &prev {
        contexts.push((pm.start + 1, 0, pm.next_tok, ctx(prev_slice, pm)));
    }
    for (end, _, next_tok, context) in contexts {
        if text_contains_sentbreak(&context) {
            slices.push((last_break, end));
            last_break = next_tok.unwrap_or(end);
        }
    }
    let mut rlen = c.len();
    while rlen > 0 && py_isspace(c[rlen - 1]) {
        rlen -= 1;
    }
    slices.push((last_break, rlen));
    slices
}

fn is_closing(c: char) -> bool {
    matches!(
        c,
        '"' | '\''
            | ')'
            | ']'
            | '}'
            | '\u{2018}'
            | '\u{2019}'
            | '\u{201c}'
            | '\u{201d}'
            | '\u{ab}'
            | '\u{bb}'
    )
}

/// `re_boundary_realignment.match(s)` -> end of the match.
fn boundary_realignment(s: &[char]) -> Option<usize> {
    let n = s.len();
    let mut k = 0;
    while k < n && is_closing(s[k]) {
        k += 1;
        // lazy: try to finish after k closing characters
        if k < n && py_isspace(s[k]) {
            let mut e = k;
            while e < n && py_isspace(s[e]) {
                e += 1;
            }
            return Some(e);
        }
        if k + 1 < n && s[k] == '-' && s[k + 1] == '-' {
            return Some(k);
        }
        if k == n || s[k] == '\n' {
            return Some(k);
        }
    }
    None
}

/// `PunktSentenceTokenizer.span_tokenize(text)` with boundary realignment,
/// in code-point indices.
fn spans(c: &[char]) -> Vec<(usize, usize)> {
    let slices = slices_from_text(c);
    let mut out = Vec::new();
    let mut realign = 0;
    let sub = |a: usize, b: usize| -> &[char] {
        if a < b && a <= c.len() {
            &c[a..b.min(c.len())]
        } else {
            &[]
        }
    };
    for i in 0..slices.len() {
        let s1 = (slices[i].0 + realign, slices[i].1);
        if i + 1 == slices.len() {
            if !sub(s1.0, s1.1).is_empty() {
                out.push(s1);
            }
            continue;
        }
        let s2 = slices[i + 1];
        let s2text = sub(s2.0, s2.1);
        if let Some(end) = boundary_realignment(s2text) {
            let mut l = end;
            while l > 0 && py_isspace(s2text[l - 1]) {
                l -= 1;
            }
            out.push((s1.0, s2.0 + l));
            realign = end;
        } else {
            realign = 0;
            if !sub(s1.0, s1.1).is_empty() {
                out.push(s1);
            }
        }
    }
    out
}

/// `nltk.sent_tokenize(text)` (English).
pub fn sent_tokenize(text: &str) -> Vec<String> {
    let c: Vec<char> = text.chars().collect();
    spans(&c)
        .into_iter()
        .map(|(a, b)| {
            if a < b {
                c[a..b].iter().collect()
            } else {
                String::new()
            }
        })
        .collect()
}
