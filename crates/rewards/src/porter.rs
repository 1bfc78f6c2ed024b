//! Port of NLTK's `nltk.stem.porter.PorterStemmer` (NLTK 3.10), all three modes.
//!
//! `NltkExtensions` is NLTK's default (used by rouge-score and NLTK METEOR);
//! `OriginalAlgorithm` is what py-rouge uses (`PorterStemmer('ORIGINAL_ALGORITHM')`).

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

type W = Vec<char>;

#[inline]
fn is_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u')
}

fn ends_with(w: &[char], suf: &str) -> bool {
    let n = suf.chars().count();
    n <= w.len() && w[w.len() - n..].iter().copied().eq(suf.chars())
}

fn strip(w: &[char], suf: &str) -> W {
    w[..w.len() - suf.chars().count()].to_vec()
}

fn cat(w: &[char], s: &str) -> W {
    let mut v = w.to_vec();
    v.extend(s.chars());
    v
}

enum Cond<'a> {
    None,
    F(&'a dyn Fn(&[char]) -> bool),
}

impl PorterStemmer {
    pub const fn new(mode: Mode) -> Self {
        PorterStemmer { mode }
    }

    fn is_consonant(&self, w: &[char], mut i: usize) -> bool {
        if is_vowel(w[i]) {
            return false;
        }
        if w[i] == 'y' {
            let mut negate = false;
            while i > 0 && w[i] == 'y' {
                negate = !negate;
                i -= 1;
            }
            return is_vowel(w[i]) == negate;
        }
        true
    }

    fn consonant_flags(w: &[char]) -> Vec<bool> {
        let mut flags: Vec<bool> = Vec::with_capacity(w.len());
        for (i, &c) in w.iter().enumerate() {
            let f = if is_vowel(c) {
                false
            } else if c == 'y' {
                if i == 0 { true } else { !flags[i - 1] }
            } else {
                true
            };
            flags.push(f);
        }
        flags
    }

    fn measure(w: &[char]) -> usize {
        let f = Self::consonant_flags(w);
        f.windows(2).filter(|p| !p[0] && p[1]).count()
    }

    fn contains_vowel(w: &[char]) -> bool {
        !Self::consonant_flags(w).iter().all(|&c| c)
    }

    fn ends_double_consonant(&self, w: &[char]) -> bool {
        let n = w.len();
        n >= 2 && w[n - 1] == w[n - 2] && self.is_consonant(w, n - 1)
    }

    fn ends_cvc(&self, w: &[char]) -> bool {
        let n = w.len();
        (n >= 3
            && self.is_consonant(w, n - 3)
            && !self.is_consonant(w, n - 2)
            && self.is_consonant(w, n - 1)
            && !matches!(w[n - 1], 'w' | 'x' | 'y'))
            || (self.mode == Mode::NltkExtensions
                && n == 2
                && !self.is_consonant(w, 0)
                && self.is_consonant(w, 1))
    }

    fn apply_rule_list(&self, w: &[char], rules: &[(&str, String, Cond)]) -> W {
        for (suffix, replacement, cond) in rules {
            let check = |stem: &[char]| match cond {
                Cond::None => true,
                Cond::F(f) => f(stem),
            };
            if *suffix == "*d" && self.ends_double_consonant(w) {
                let stem = &w[..w.len() - 2];
                return if check(stem) {
                    cat(stem, replacement)
                } else {
                    w.to_vec()
                };
            }
            if ends_with(w, suffix) {
                let stem = strip(w, suffix);
                return if check(&stem) {
                    cat(&stem, replacement)
                } else {
                    w.to_vec()
                };
            }
        }
        w.to_vec()
    }

    fn step1a(&self, w: &[char]) -> W {
        if self.mode == Mode::NltkExtensions && ends_with(w, "ies") && w.len() == 4 {
            return cat(&strip(w, "ies"), "ie");
        }
        self.apply_rule_list(
            w,
            &[
                ("sses", "ss".into(), Cond::None),
                ("ies", "i".into(), Cond::None),
                ("ss", "ss".into(), Cond::None),
                ("s", "".into(), Cond::None),
            ],
        )
    }

    fn step1b(&self, w: &[char]) -> W {
        if self.mode == Mode::NltkExtensions && ends_with(w, "ied") {
            return if w.len() == 4 {
                cat(&strip(w, "ied"), "ie")
            } else {
                cat(&strip(w, "ied"), "i")
            };
        }
        if ends_with(w, "eed") {
            let stem = strip(w, "eed");
            return if Self::measure(&stem) > 0 {
                cat(&stem, "ee")
            } else {
                w.to_vec()
            };
        }
        let mut inter: Option<W> = None;
        for suf in ["ed", "ing"] {
            if ends_with(w, suf) {
                let s = strip(w, suf);
                if Self::contains_vowel(&s) {
                    inter = Some(s);
                    break;
                }
            }
        }
        let Some(inter) = inter else {
            return w.to_vec();
        };
        let last = inter[inter.len() - 1];
        let not_lsz = move |_: &[char]| !matches!(last, 'l' | 's' | 'z');
        let cvc = |stem: &[char]| Self::measure(stem) == 1 && self.ends_cvc(stem);
        self.apply_rule_list(
            &inter,
            &[
                ("at", "ate".into(), Cond::None),
                ("bl", "ble".into(), Cond::None),
                ("iz", "ize".into(), Cond::None),
                ("*d", last.to_string(), Cond::F(&not_lsz)),
                ("", "e".into(), Cond::F(&cvc)),
            ],
        )
    }

    fn step1c(&self, w: &[char]) -> W {
        let nltk = |stem: &[char]| stem.len() > 1 && self.is_consonant(stem, stem.len() - 1);
        let orig = |stem: &[char]| Self::contains_vowel(stem);
        let c: Cond = if self.mode == Mode::NltkExtensions {
            Cond::F(&nltk)
        } else {
            Cond::F(&orig)
        };
        self.apply_rule_list(w, &[("y", "i".into(), c)])
    }

    fn step2(&self, w: &[char]) -> W {
        if self.mode == Mode::NltkExtensions
            && ends_with(w, "alli")
            && Self::measure(&strip(w, "alli")) > 0
        {
            return self.step2(&cat(&strip(w, "alli"), "al"));
        }
        let pm = |s: &[char]| Self::measure(s) > 0;
        let word = w.to_vec();
        let logi = move |_: &[char]| Self::measure(&word[..word.len() - 3]) > 0;
        let mut rules: Vec<(&str, String, Cond)> = vec![
            ("ational", "ate".into(), Cond::F(&pm)),
            ("tional", "tion".into(), Cond::F(&pm)),
            ("enci", "ence".into(), Cond::F(&pm)),
            ("anci", "ance".into(), Cond::F(&pm)),
            ("izer", "ize".into(), Cond::F(&pm)),
            if self.mode == Mode::OriginalAlgorithm {
                ("abli", "able".into(), Cond::F(&pm))
            } else {
                ("bli", "ble".into(), Cond::F(&pm))
            },
            ("alli", "al".into(), Cond::F(&pm)),
            ("entli", "ent".into(), Cond::F(&pm)),
            ("eli", "e".into(), Cond::F(&pm)),
            ("ousli", "ous".into(), Cond::F(&pm)),
            ("ization", "ize".into(), Cond::F(&pm)),
            ("ation", "ate".into(), Cond::F(&pm)),
            ("ator", "ate".into(), Cond::F(&pm)),
            ("alism", "al".into(), Cond::F(&pm)),
            ("iveness", "ive".into(), Cond::F(&pm)),
            ("fulness", "ful".into(), Cond::F(&pm)),
            ("ousness", "ous".into(), Cond::F(&pm)),
            ("aliti", "al".into(), Cond::F(&pm)),
            ("iviti", "ive".into(), Cond::F(&pm)),
            ("biliti", "ble".into(), Cond::F(&pm)),
        ];
        if self.mode == Mode::NltkExtensions {
            rules.push(("fulli", "ful".into(), Cond::F(&pm)));
            rules.push(("logi", "log".into(), Cond::F(&logi)));
        }
        if self.mode == Mode::MartinExtensions {
            rules.push(("logi", "log".into(), Cond::F(&pm)));
        }
        self.apply_rule_list(w, &rules)
    }

    fn step3(&self, w: &[char]) -> W {
        let pm = |s: &[char]| Self::measure(s) > 0;
        self.apply_rule_list(
            w,
            &[
                ("icate", "ic".into(), Cond::F(&pm)),
                ("ative", "".into(), Cond::F(&pm)),
                ("alize", "al".into(), Cond::F(&pm)),
                ("iciti", "ic".into(), Cond::F(&pm)),
                ("ical", "ic".into(), Cond::F(&pm)),
                ("ful", "".into(), Cond::F(&pm)),
                ("ness", "".into(), Cond::F(&pm)),
            ],
        )
    }

    fn step4(&self, w: &[char]) -> W {
        let g1 = |s: &[char]| Self::measure(s) > 1;
        let ion = |s: &[char]| Self::measure(s) > 1 && matches!(s.last(), Some('s') | Some('t'));
        let mut rules: Vec<(&str, String, Cond)> = Vec::new();
        for suf in [
            "al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent",
        ] {
            rules.push((suf, String::new(), Cond::F(&g1)));
        }
        rules.push(("ion", String::new(), Cond::F(&ion)));
        for suf in ["ou", "ism", "ate", "iti", "ous", "ive", "ize"] {
            rules.push((suf, String::new(), Cond::F(&g1)));
        }
        self.apply_rule_list(w, &rules)
    }

    fn step5a(&self, w: &[char]) -> W {
        if ends_with(w, "e") {
            let stem = strip(w, "e");
            let m = Self::measure(&stem);
            if m > 1 {
                return stem;
            }
            if m == 1 && !self.ends_cvc(&stem) {
                return stem;
            }
        }
        w.to_vec()
    }

    fn step5b(&self, w: &[char]) -> W {
        let word = w.to_vec();
        let c = move |_: &[char]| Self::measure(&word[..word.len() - 1]) > 1;
        self.apply_rule_list(w, &[("ll", "l".into(), Cond::F(&c))])
    }

    /// `PorterStemmer.stem(word)` (lower-cases first, as NLTK does by default).
    pub fn stem(&self, word: &str) -> String {
        let lower = crate::text::py_lower(word);
        if self.mode == Mode::NltkExtensions
            && let Some((_, v)) = POOL.iter().find(|(k, _)| *k == lower)
        {
            return (*v).to_string();
        }
        if self.mode != Mode::OriginalAlgorithm && word.chars().count() <= 2 {
            return lower;
        }
        let w: W = lower.chars().collect();
        let w = self.step1a(&w);
        let w = self.step1b(&w);
        let w = self.step1c(&w);
        let w = self.step2(&w);
        let w = self.step3(&w);
        let w = self.step4(&w);
        let w = self.step5a(&w);
        let w = self.step5b(&w);
        w.into_iter().collect()
    }
}
