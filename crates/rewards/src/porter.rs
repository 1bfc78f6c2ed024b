//! Port of NLTK's `nltk.stem.porter.PorterStemmer` (NLTK 3.10), all three modes.
//!
//! `NltkExtensions` is NLTK's default (used by rouge-score and NLTK METEOR);
//! `OriginalAlgorithm` is what py-rouge uses (`PorterStemmer('ORIGINAL_ALGORITHM')`).
//!
//! The steps rewrite one buffer in place (suffix rules are static tables), over
//! bytes for ASCII words and over `char`s otherwise; nothing is allocated per
//! step. Function names follow NLTK's (`_step1a`, `_measure`, `_ends_cvc`, ...).

use std::cell::RefCell;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    NltkExtensions,
    MartinExtensions,
    OriginalAlgorithm,
}

#[derive(Debug, Clone, Copy)]
pub struct PorterStemmer {
    mode: Mode,
}

/// NLTK_EXTENSIONS irregular forms (`self.pool`).
const POOL: &[(&str, &str)] = &[
    ("sky", "sky"),
    ("skies", "sky"),
    ("dying", "die"),
    ("lying", "lie"),
    ("tying", "tie"),
    ("news", "news"),
    ("innings", "inning"),
    ("inning", "inning"),
    ("outings", "outing"),
    ("outing", "outing"),
    ("cannings", "canning"),
    ("canning", "canning"),
    ("howe", "howe"),
    ("proceed", "proceed"),
    ("exceed", "exceed"),
    ("succeed", "succeed"),
];

/// A letter of the word being stemmed: a byte (ASCII words) or a `char`.
trait Letter: Copy + Eq {
    fn from_ascii(b: u8) -> Self;
    fn is(self, b: u8) -> bool;
}

impl Letter for u8 {
    #[inline]
    fn from_ascii(b: u8) -> Self {
        b
    }
    #[inline]
    fn is(self, b: u8) -> bool {
        self == b
    }
}

impl Letter for char {
    #[inline]
    fn from_ascii(b: u8) -> Self {
        b as char
    }
    #[inline]
    fn is(self, b: u8) -> bool {
        self == b as char
    }
}

#[inline]
fn is_vowel<L: Letter>(c: L) -> bool {
    c.is(b'a') || c.is(b'e') || c.is(b'i') || c.is(b'o') || c.is(b'u')
}

/// `_is_consonant(word, i)`.
fn is_consonant<L: Letter>(w: &[L], mut i: usize) -> bool {
    if is_vowel(w[i]) {
        return false;
    }
    if w[i].is(b'y') {
        let mut negate = false;
        while i > 0 && w[i].is(b'y') {
            negate = !negate;
            i -= 1;
        }
        return is_vowel(w[i]) == negate;
    }
    true
}

/// `_measure(stem)`: the number of vowel-consonant transitions (`_consonant_flags`).
fn measure<L: Letter>(w: &[L]) -> usize {
    let mut m = 0;
    let mut prev_cons = true; // no "vc" can end at position 0
    for (i, &c) in w.iter().enumerate() {
        let cons = if is_vowel(c) {
            false
        } else if c.is(b'y') {
            i == 0 || !prev_cons
        } else {
            true
        };
        if cons && !prev_cons {
            m += 1;
        }
        prev_cons = cons;
    }
    m
}

/// `_contains_vowel(stem)`.
fn contains_vowel<L: Letter>(w: &[L]) -> bool {
    let mut prev_cons = true;
    for (i, &c) in w.iter().enumerate() {
        let cons = if is_vowel(c) {
            false
        } else if c.is(b'y') {
            i == 0 || !prev_cons
        } else {
            true
        };
        if !cons {
            return true;
        }
        prev_cons = cons;
    }
    false
}

fn ends_with<L: Letter>(w: &[L], suffix: &[u8]) -> bool {
    suffix.len() <= w.len()
        && w[w.len() - suffix.len()..]
            .iter()
            .zip(suffix)
            .all(|(c, &s)| c.is(s))
}

/// `_ends_double_consonant(word)`.
fn ends_double_consonant<L: Letter>(w: &[L]) -> bool {
    let n = w.len();
    n >= 2 && w[n - 1] == w[n - 2] && is_consonant(w, n - 1)
}

/// Replace the last `strip` letters of `w` with the ASCII `replacement`.
fn replace_suffix<L: Letter>(w: &mut Vec<L>, strip: usize, replacement: &[u8]) {
    w.truncate(w.len() - strip);
    w.extend(replacement.iter().map(|&b| L::from_ascii(b)));
}

/// The condition of a suffix rule, evaluated on the stem (the word minus the suffix).
#[derive(Clone, Copy)]
enum Cond {
    Always,
    /// `_has_positive_measure(stem)`
    MeasureGt0,
    /// `measure(stem) > 1`
    MeasureGt1,
    /// step 4 `ion`: `measure(stem) > 1 and stem[-1] in ("s", "t")`
    Ion,
    /// step 2 NLTK `logi`: `_has_positive_measure(word[:-3])`
    Logi,
    /// step 1c NLTK: `len(stem) > 1 and _is_consonant(stem, len(stem) - 1)`
    NltkY,
    /// step 1c original: `_contains_vowel(stem)`
    OriginalY,
    /// step 1b "": `measure(stem) == 1 and _ends_cvc(stem)`
    MeasureEq1Cvc,
    /// step 5b: `measure(word[:-1]) > 1`
    Step5b,
}

type Rule = (&'static [u8], &'static [u8], Cond);

const STEP1A: &[Rule] = &[
    (b"sses", b"ss", Cond::Always),
    (b"ies", b"i", Cond::Always),
    (b"ss", b"ss", Cond::Always),
    (b"s", b"", Cond::Always),
];

const STEP2_HEAD: &[Rule] = &[
    (b"ational", b"ate", Cond::MeasureGt0),
    (b"tional", b"tion", Cond::MeasureGt0),
    (b"enci", b"ence", Cond::MeasureGt0),
    (b"anci", b"ance", Cond::MeasureGt0),
    (b"izer", b"ize", Cond::MeasureGt0),
];
const STEP2_ABLI: Rule = (b"abli", b"able", Cond::MeasureGt0);
const STEP2_BLI: Rule = (b"bli", b"ble", Cond::MeasureGt0);
const STEP2_TAIL: &[Rule] = &[
    (b"alli", b"al", Cond::MeasureGt0),
    (b"entli", b"ent", Cond::MeasureGt0),
    (b"eli", b"e", Cond::MeasureGt0),
    (b"ousli", b"ous", Cond::MeasureGt0),
    (b"ization", b"ize", Cond::MeasureGt0),
    (b"ation", b"ate", Cond::MeasureGt0),
    (b"ator", b"ate", Cond::MeasureGt0),
    (b"alism", b"al", Cond::MeasureGt0),
    (b"iveness", b"ive", Cond::MeasureGt0),
    (b"fulness", b"ful", Cond::MeasureGt0),
    (b"ousness", b"ous", Cond::MeasureGt0),
    (b"aliti", b"al", Cond::MeasureGt0),
    (b"iviti", b"ive", Cond::MeasureGt0),
    (b"biliti", b"ble", Cond::MeasureGt0),
];
const STEP2_NLTK: &[Rule] = &[
    (b"fulli", b"ful", Cond::MeasureGt0),
    (b"logi", b"log", Cond::Logi),
];
const STEP2_MARTIN: &[Rule] = &[(b"logi", b"log", Cond::MeasureGt0)];

const STEP3: &[Rule] = &[
    (b"icate", b"ic", Cond::MeasureGt0),
    (b"ative", b"", Cond::MeasureGt0),
    (b"alize", b"al", Cond::MeasureGt0),
    (b"iciti", b"ic", Cond::MeasureGt0),
    (b"ical", b"ic", Cond::MeasureGt0),
    (b"ful", b"", Cond::MeasureGt0),
    (b"ness", b"", Cond::MeasureGt0),
];

const STEP4: &[Rule] = &[
    (b"al", b"", Cond::MeasureGt1),
    (b"ance", b"", Cond::MeasureGt1),
    (b"ence", b"", Cond::MeasureGt1),
    (b"er", b"", Cond::MeasureGt1),
    (b"ic", b"", Cond::MeasureGt1),
    (b"able", b"", Cond::MeasureGt1),
    (b"ible", b"", Cond::MeasureGt1),
    (b"ant", b"", Cond::MeasureGt1),
    (b"ement", b"", Cond::MeasureGt1),
    (b"ment", b"", Cond::MeasureGt1),
    (b"ent", b"", Cond::MeasureGt1),
    (b"ion", b"", Cond::Ion),
    (b"ou", b"", Cond::MeasureGt1),
    (b"ism", b"", Cond::MeasureGt1),
    (b"ate", b"", Cond::MeasureGt1),
    (b"iti", b"", Cond::MeasureGt1),
    (b"ous", b"", Cond::MeasureGt1),
    (b"ive", b"", Cond::MeasureGt1),
    (b"ize", b"", Cond::MeasureGt1),
];

thread_local! {
    static BYTES: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static CHARS: RefCell<Vec<char>> = const { RefCell::new(Vec::new()) };
}

impl PorterStemmer {
    pub const fn new(mode: Mode) -> Self {
        PorterStemmer { mode }
    }

    /// `_ends_cvc(word)`.
    fn ends_cvc<L: Letter>(&self, w: &[L]) -> bool {
        let n = w.len();
        (n >= 3
            && is_consonant(w, n - 3)
            && !is_consonant(w, n - 2)
            && is_consonant(w, n - 1)
            && !(w[n - 1].is(b'w') || w[n - 1].is(b'x') || w[n - 1].is(b'y')))
            || (self.mode == Mode::NltkExtensions
                && n == 2
                && !is_consonant(w, 0)
                && is_consonant(w, 1))
    }

    fn holds<L: Letter>(&self, cond: Cond, w: &[L], stem_len: usize) -> bool {
        let stem = &w[..stem_len];
        match cond {
            Cond::Always => true,
            Cond::MeasureGt0 => measure(stem) > 0,
            Cond::MeasureGt1 => measure(stem) > 1,
            Cond::Ion => measure(stem) > 1 && stem.last().is_some_and(|c| c.is(b's') || c.is(b't')),
            Cond::Logi => measure(&w[..w.len() - 3]) > 0,
            Cond::NltkY => stem.len() > 1 && is_consonant(stem, stem.len() - 1),
            Cond::OriginalY => contains_vowel(stem),
            Cond::MeasureEq1Cvc => measure(stem) == 1 && self.ends_cvc(stem),
            Cond::Step5b => measure(&w[..w.len() - 1]) > 1,
        }
    }

    /// `_apply_rule_list(word, rules)`: the first rule whose suffix matches decides.
    /// Returns `None` if no suffix matched.
    fn apply_rules<L: Letter>(&self, w: &mut Vec<L>, rules: &[Rule]) -> Option<()> {
        for &(suffix, replacement, cond) in rules {
            if ends_with(w, suffix) {
                let stem_len = w.len() - suffix.len();
                if self.holds(cond, w, stem_len) {
                    replace_suffix(w, suffix.len(), replacement);
                }
                return Some(());
            }
        }
        None
    }

    fn step1a<L: Letter>(&self, w: &mut Vec<L>) {
        if self.mode == Mode::NltkExtensions && w.len() == 4 && ends_with(w, b"ies") {
            replace_suffix(w, 3, b"ie");
            return;
        }
        self.apply_rules(w, STEP1A);
    }

    fn step1b<L: Letter>(&self, w: &mut Vec<L>) {
        if self.mode == Mode::NltkExtensions && ends_with(w, b"ied") {
            let rep: &[u8] = if w.len() == 4 { b"ie" } else { b"i" };
            replace_suffix(w, 3, rep);
            return;
        }
        if ends_with(w, b"eed") {
            if measure(&w[..w.len() - 3]) > 0 {
                replace_suffix(w, 3, b"ee");
            }
            return;
        }
        let mut succeeded = false;
        for suffix in [&b"ed"[..], b"ing"] {
            if ends_with(w, suffix) && contains_vowel(&w[..w.len() - suffix.len()]) {
                w.truncate(w.len() - suffix.len());
                succeeded = true;
                break;
            }
        }
        if !succeeded {
            return;
        }
        // rules on the intermediate stem
        if self
            .apply_rules(
                w,
                &[
                    (b"at", b"ate", Cond::Always),
                    (b"bl", b"ble", Cond::Always),
                    (b"iz", b"ize", Cond::Always),
                ],
            )
            .is_some()
        {
            return;
        }
        // ("*d", intermediate_stem[-1], last not in l/s/z): drop one of the doubled letters
        if ends_double_consonant(w) {
            let last = w[w.len() - 1];
            if !(last.is(b'l') || last.is(b's') || last.is(b'z')) {
                w.pop();
            }
            return;
        }
        // ("", "e", m == 1 and *o)
        if self.holds(Cond::MeasureEq1Cvc, w, w.len()) {
            w.push(L::from_ascii(b'e'));
        }
    }

    fn step1c<L: Letter>(&self, w: &mut Vec<L>) {
        let cond = if self.mode == Mode::NltkExtensions {
            Cond::NltkY
        } else {
            Cond::OriginalY
        };
        self.apply_rules(w, &[(b"y", b"i", cond)]);
    }

    fn step2<L: Letter>(&self, w: &mut Vec<L>) {
        if self.mode == Mode::NltkExtensions
            && ends_with(w, b"alli")
            && measure(&w[..w.len() - 4]) > 0
        {
            replace_suffix(w, 4, b"al");
            return self.step2(w);
        }
        if self.apply_rules(w, STEP2_HEAD).is_some() {
            return;
        }
        let bli = if self.mode == Mode::OriginalAlgorithm {
            STEP2_ABLI
        } else {
            STEP2_BLI
        };
        if self.apply_rules(w, &[bli]).is_some() || self.apply_rules(w, STEP2_TAIL).is_some() {
            return;
        }
        match self.mode {
            Mode::NltkExtensions => self.apply_rules(w, STEP2_NLTK),
            Mode::MartinExtensions => self.apply_rules(w, STEP2_MARTIN),
            Mode::OriginalAlgorithm => None,
        };
    }

    fn step5a<L: Letter>(&self, w: &mut Vec<L>) {
        if ends_with(w, b"e") {
            let stem = &w[..w.len() - 1];
            let m = measure(stem);
            if m > 1 || (m == 1 && !self.ends_cvc(stem)) {
                w.pop();
            }
        }
    }

    fn steps<L: Letter>(&self, w: &mut Vec<L>) {
        self.step1a(w);
        self.step1b(w);
        self.step1c(w);
        self.step2(w);
        self.apply_rules(w, STEP3);
        self.apply_rules(w, STEP4);
        self.step5a(w);
        self.apply_rules(w, &[(b"ll", b"l", Cond::Step5b)]);
    }

    /// `PorterStemmer.stem(word)` (lower-cases first, as NLTK does by default).
    pub fn stem(&self, word: &str) -> String {
        let mut out = String::with_capacity(word.len() + 2);
        self.stem_into(word, &mut out);
        out
    }

    /// Appends `PorterStemmer.stem(word)` to `out`.
    pub fn stem_into(&self, word: &str, out: &mut String) {
        if word.is_ascii() {
            BYTES.with_borrow_mut(|w| {
                w.clear();
                w.extend(word.bytes().map(|b| b.to_ascii_lowercase()));
                self.stem_lowered(w, word.len(), out, |w, out| {
                    out.push_str(std::str::from_utf8(w).expect("ASCII"))
                });
            })
        } else {
            CHARS.with_borrow_mut(|w| {
                w.clear();
                w.extend(crate::text::py_lower(word).chars());
                self.stem_lowered(w, word.chars().count(), out, |w, out| out.extend(w.iter()));
            })
        }
    }

    /// `stem` after lower-casing: `w` is the lowered word, `word_len` the
    /// length of the original word in characters.
    fn stem_lowered<L: Letter>(
        &self,
        w: &mut Vec<L>,
        word_len: usize,
        out: &mut String,
        write: impl Fn(&[L], &mut String),
    ) {
        if self.mode == Mode::NltkExtensions
            && let Some((_, v)) = POOL
                .iter()
                .find(|(k, _)| k.len() == w.len() && k.bytes().zip(w.iter()).all(|(a, c)| c.is(a)))
        {
            out.push_str(v);
            return;
        }
        if self.mode != Mode::OriginalAlgorithm && word_len <= 2 {
            write(w, out);
            return;
        }
        self.steps(w);
        write(w, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_examples() {
        let st = PorterStemmer::new(Mode::OriginalAlgorithm);
        for (w, s) in [
            ("caresses", "caress"),
            ("ponies", "poni"),
            ("feed", "feed"),
            ("agreed", "agre"),
            ("hopping", "hop"),
            ("filing", "file"),
            ("relational", "relat"),
            ("generalization", "gener"),
            ("controll", "control"),
        ] {
            assert_eq!(st.stem(w), s, "{w}");
        }
        let nltk = PorterStemmer::new(Mode::NltkExtensions);
        assert_eq!(nltk.stem("Skies"), "sky");
        assert_eq!(nltk.stem("dying"), "die");
        assert_eq!(nltk.stem("Grüßen"), "grüßen");
        assert_eq!(nltk.stem("happiness"), "happi");
    }
}
