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

use crate::ngram::Interner;
use crate::porter::{Mode, PorterStemmer};
use crate::text::{py_lower, py_split, py_strip};
use rustc_hash::{FxBuildHasher, FxHashMap};
use std::sync::OnceLock;

static WORDNET_KV: &str = include_str!("../assets/py_rouge/wordnet_key_value.txt");
static WORDNET_KV_SPECIAL: &str =
    include_str!("../assets/py_rouge/wordnet_key_value_special_cases.txt");

type Db = FxHashMap<&'static str, &'static str>;

fn wordnet_db(ensure_compatibility: bool) -> &'static Db {
    static DB: OnceLock<Db> = OnceLock::new();
    static DB_PLAIN: OnceLock<Db> = OnceLock::new();
    let load = |with_special: bool| {
        let mut m = Db::with_capacity_and_hasher(6200, FxBuildHasher);
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

/// Preprocessed summaries: all tokens of all texts in one string.
#[derive(Default)]
struct Texts {
    arena: String,
    /// byte range of every token in `arena`
    spans: Vec<(usize, usize)>,
    /// end (exclusive, in `spans`) of every sentence
    sentence_ends: Vec<usize>,
    /// end (exclusive, in `sentence_ends`) of every text
    text_ends: Vec<usize>,
    /// scratch for the cleaned sentence
    clean: String,
}

impl PyRougeL {
    /// `stem_tokens` for one token, appended to `out`.
    fn stem_token(&self, token: &str, out: &mut String) {
        // `len(token) > 3` in code points; tokens here are ASCII
        if token.len() > 3 {
            if let Some(v) = wordnet_db(self.ensure_compatibility).get(token) {
                out.push_str(v);
                return;
            }
            let st = if self.ensure_compatibility {
                ORIGINAL
            } else {
                NLTK
            };
            st.stem_into(token, out);
            return;
        }
        out.push_str(token);
    }

    /// One token of `tokenize_text(...)`: stem, undo the `_cannot_` hack, store.
    fn push_token(&self, t: &str, texts: &mut Texts) {
        let start = texts.arena.len();
        if self.stemming {
            self.stem_token(t, &mut texts.arena);
        } else {
            texts.arena.push_str(t);
        }
        if self.ensure_compatibility && texts.arena[start..].contains("_cannot_") {
            let fixed = texts.arena[start..].replace("_cannot_", "cannot");
            texts.arena.truncate(start);
            texts.arena.push_str(&fixed);
        }
        // py-rouge re-splits the joined sentence on whitespace later: empty tokens vanish
        if texts.arena.len() > start {
            texts.spans.push((start, texts.arena.len()));
        }
    }

    /// Lower-case, keep `[a-z0-9]`, tokenize like `nltk.word_tokenize`, stem;
    /// appends the tokens of one sentence to `texts`.
    fn preprocess_sentence(&self, sentence: &str, texts: &mut Texts) {
        let mut clean = std::mem::take(&mut texts.clean);
        clean.clear();
        // REMOVE_CHAR_PATTERN.sub(' ', sentence.lower()).strip()
        if sentence.is_ascii() {
            clean.extend(sentence.bytes().map(|b| {
                if b.is_ascii_alphanumeric() {
                    b.to_ascii_lowercase() as char
                } else {
                    ' '
                }
            }));
        } else {
            clean.extend(
                py_lower(sentence)
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' }),
            );
        }
        let text = clean.trim_matches(' ');
        let replaced;
        let text = if self.ensure_compatibility && text.contains("cannot") {
            replaced = text.replace("cannot", "_cannot_");
            replaced.as_str()
        } else {
            text
        };
        for t in text.split(' ').filter(|t| !t.is_empty()) {
            match split_contraction(t) {
                Some((a, b)) => {
                    self.push_token(a, texts);
                    self.push_token(b, texts);
                }
                None => self.push_token(t, texts),
            }
        }
        texts.sentence_ends.push(texts.spans.len());
        texts.clean = clean;
    }

    /// `_preprocess_summary_per_sentence(summary)`, appended to `texts` as one text.
    fn preprocess_into(&self, summary: &str, texts: &mut Texts) {
        let punkt;
        let sentences: Box<dyn Iterator<Item = &str>> = if self.ensure_compatibility {
            Box::new(summary.split('\n'))
        } else {
            punkt = crate::punkt::sent_tokenize(summary);
            Box::new(punkt.iter().map(String::as_str))
        };
        if !self.limit_length {
            for s in sentences {
                self.preprocess_sentence(s, texts);
            }
        } else if self.limit_in_words {
            let mut current = 0usize;
            let mut kept = String::new();
            for s in sentences {
                let n = py_split(s).count();
                let take = if current + n < self.length_limit {
                    n
                } else {
                    self.length_limit - current
                };
                kept.clear();
                for (i, t) in py_split(s).take(take).enumerate() {
                    if i > 0 {
                        kept.push(' ');
                    }
                    kept.push_str(t);
                }
                self.preprocess_sentence(&kept, texts);
                if current + n >= self.length_limit {
                    break;
                }
                current += n;
            }
        } else {
            let mut current = 0usize;
            for s in sentences {
                let s = py_strip(s);
                let n = s.chars().count();
                if current + n < self.length_limit {
                    self.preprocess_sentence(s, texts);
                    current += n;
                } else {
                    let cut = s
                        .char_indices()
                        .nth(self.length_limit - current)
                        .map_or(s.len(), |(i, _)| i);
                    self.preprocess_sentence(&s[..cut], texts);
                    break;
                }
            }
        }
        texts.text_ends.push(texts.sentence_ends.len());
    }

    /// `_preprocess_summary_per_sentence`: returns tokens per sentence.
    pub fn preprocess(&self, summary: &str) -> Vec<Vec<String>> {
        let mut texts = Texts::default();
        self.preprocess_into(summary, &mut texts);
        let mut out = Vec::new();
        let mut start = 0;
        for &end in &texts.sentence_ends {
            out.push(
                texts.spans[start..end]
                    .iter()
                    .map(|&(a, b)| texts.arena[a..b].to_string())
                    .collect(),
            );
            start = end;
        }
        out
    }

    /// `Rouge._compute_ngrams_lcs(hyp, ref, 1.0)` on token ids, sentence by
    /// sentence: (hyp count, ref count, overlap).
    fn lcs_counts(hyp: &[&[u32]], refs: &[&[u32]], lcs: &mut LcsScratch) -> (usize, usize, usize) {
        let eval_counts = &mut lcs.eval_counts;
        eval_counts.iter_mut().for_each(|c| *c = 0);
        let mut eval_count = 0;
        for s in hyp {
            for &t in *s {
                eval_counts[t as usize] += 1;
                eval_count += 1;
            }
        }
        let ref_count: usize = refs.iter().map(|r| r.len()).sum();
        let mut overlap = 0;
        for r in refs {
            let m = r.len();
            lcs.hit.clear();
            lcs.hit.resize(m, false);
            for h in hyp {
                let n = h.len();
                if m == 0 || n == 0 {
                    continue;
                }
                // _lcs(x = reference sentence, y = hypothesis sentence), then _mark_lcs
                let w = n + 1;
                let (vals, dirs) = (&mut lcs.vals, &mut lcs.dirs);
                vals.clear();
                vals.resize((m + 1) * w, 0);
                dirs.clear();
                dirs.resize((m + 1) * w, 0);
                for i in 1..=m {
                    let ri = r[i - 1];
                    for j in 1..=n {
                        let k = i * w + j;
                        if ri == h[j - 1] {
                            vals[k] = vals[k - w - 1] + 1;
                            dirs[k] = 1; // '|'
                        } else if vals[k - w] >= vals[k - 1] {
                            vals[k] = vals[k - w];
                            dirs[k] = 2; // '^'
                        } else {
                            vals[k] = vals[k - 1];
                            dirs[k] = 3; // '<'
                        }
                    }
                }
                let (mut i, mut j) = (m, n);
                while i != 0 && j != 0 {
                    match dirs[i * w + j] {
                        1 => {
                            i -= 1;
                            j -= 1;
                            lcs.hit[i] = true;
                        }
                        2 => i -= 1,
                        _ => j -= 1,
                    }
                }
            }
            for (idx, &h) in lcs.hit.iter().enumerate() {
                // py-rouge decrements the reference counter at the (int) index,
                // never at the token, so only the hypothesis counter matters.
                let c = &mut eval_counts[r[idx] as usize];
                if h && *c > 0 {
                    *c -= 1;
                    overlap += 1;
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
        self.max_over_references(hypothesis, std::slice::from_ref(&reference.to_string()))
    }

    /// RL4LMs `RougeLMax`: max over references of the single-reference F score
    /// (`apply_avg`, `apply_best` or neither give the same value for one
    /// reference, and py-rouge applies `weight_factor` in all three).
    /// With no references the Python reward raises; we return 0.0.
    pub fn max_over_references(&self, hypothesis: &str, references: &[String]) -> f64 {
        if references.is_empty() {
            return 0.0;
        }
        let mut texts = Texts::default();
        self.preprocess_into(hypothesis, &mut texts);
        for r in references {
            self.preprocess_into(r, &mut texts);
        }
        // token ids over all texts
        let mut vocab: Interner<&str> = Interner::with_capacity(texts.spans.len());
        let ids: Vec<u32> = texts
            .spans
            .iter()
            .map(|&(a, b)| vocab.intern(&texts.arena[a..b]))
            .collect();
        let sentences: Vec<&[u32]> = {
            let mut start = 0;
            texts
                .sentence_ends
                .iter()
                .map(|&end| {
                    let s = &ids[start..end];
                    start = end;
                    s
                })
                .collect()
        };
        let mut lcs = LcsScratch {
            eval_counts: vec![0; vocab.len()],
            ..LcsScratch::default()
        };
        let hyp = &sentences[..texts.text_ends[0]];
        let mut best: Option<f64> = None;
        for t in 1..texts.text_ends.len() {
            let refs = &sentences[texts.text_ends[t - 1]..texts.text_ends[t]];
            let (h, r, o) = Self::lcs_counts(hyp, refs, &mut lcs);
            let f = self.prf(h as f64, r as f64, o as f64).2;
            best = Some(best.map_or(f, |b| if f > b { f } else { b }));
        }
        best.unwrap_or(0.0)
    }
}

/// Buffers of [`PyRougeL::lcs_counts`].
#[derive(Default)]
struct LcsScratch {
    eval_counts: Vec<u32>,
    hit: Vec<bool>,
    vals: Vec<u32>,
    dirs: Vec<u8>,
}
