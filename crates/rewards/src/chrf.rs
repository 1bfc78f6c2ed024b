//! sacreBLEU 2.x sentence chrF (`sacrebleu.sentence_chrf`): character n-grams
//! (order 6 by default) plus optional word n-grams (chrF++), beta 2.

use crate::ngram::{HypNgrams, Interner};
use crate::text::{py_lower, py_split};
use std::borrow::Cow;

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

/// `extract_all_char_ngrams`' input: the characters, whitespace removed unless kept.
fn chars(line: &str, whitespace: bool) -> Vec<char> {
    if whitespace {
        line.chars().collect()
    } else {
        py_split(line).flat_map(str::chars).collect()
    }
}

/// `CHRF._remove_punctuation(sent)`: words with one leading or trailing
/// punctuation character split off.
fn remove_punctuation(sent: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for w in py_split(sent) {
        let mut it = w.char_indices();
        let (_, first) = it.next().expect("split() gives non-empty words");
        let Some((last_at, last)) = it.next_back() else {
            out.push(w); // one character
            continue;
        };
        if PUNCTS.contains(last) {
            out.push(&w[..last_at]);
            out.push(&w[last_at..]);
        } else if PUNCTS.contains(first) {
            let cut = first.len_utf8();
            out.push(&w[..cut]);
            out.push(&w[cut..]);
        } else {
            out.push(w);
        }
    }
    out
}

/// Hypothesis-side n-grams of one kind (characters or words).
struct Side<K> {
    vocab: Interner<K>,
    ngrams: HypNgrams,
    order: usize,
}

impl<K: std::hash::Hash + Eq> Side<K> {
    fn new(symbols: impl IntoIterator<Item = K>, order: usize) -> Self {
        let mut vocab = Interner::with_capacity(64);
        let ids: Vec<u32> = symbols.into_iter().map(|k| vocab.intern(k)).collect();
        let ngrams = HypNgrams::new(&ids, vocab.len(), order);
        Side {
            vocab,
            ngrams,
            order,
        }
    }

    /// `_get_match_statistics` for every order against one reference: appends
    /// `[hyp count, ref count, matches]` per order.
    fn stats<Q>(&self, reference: &[Q], stats: &mut Vec<usize>)
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq,
    {
        let ids: Vec<Option<u32>> = reference.iter().map(|k| self.vocab.get(k)).collect();
        let mut counts = vec![0u32; self.ngrams.n_ids()];
        self.ngrams.count_reference(&ids, &mut counts);
        let mut matches = vec![0usize; self.order];
        self.ngrams.matches(&counts, &mut matches);
        for (n, (&hyp_count, &m)) in self.ngrams.windows.iter().zip(&matches).enumerate() {
            let ref_count = (reference.len() + 1).saturating_sub(n + 1);
            // "Don't count hits if no reference exists for that n-gram"
            stats.push(if ref_count > 0 { hyp_count } else { 0 });
            stats.push(ref_count);
            stats.push(m);
        }
    }
}

impl ChrF {
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
        fn prep(s: &str, lowercase: bool) -> Cow<'_, str> {
            if lowercase {
                Cow::Owned(py_lower(s))
            } else {
                Cow::Borrowed(s)
            }
        }
        let hyp = prep(hypothesis, self.lowercase);
        let hyp_chars = Side::new(chars(&hyp, self.whitespace), self.char_order);
        let hyp_words =
            (self.word_order > 0).then(|| Side::new(remove_punctuation(&hyp), self.word_order));
        let mut best_f = -1.0;
        let mut best_stats: Vec<usize> = Vec::new();
        let mut stats = Vec::with_capacity(3 * (self.char_order + self.word_order));
        for r in references {
            let r = prep(r, self.lowercase);
            stats.clear();
            hyp_chars.stats(&chars(&r, self.whitespace), &mut stats);
            if let Some(w) = &hyp_words {
                w.stats(&remove_punctuation(&r), &mut stats);
            }
            let f = self.f_score(&stats);
            if f > best_f {
                best_f = f;
                best_stats.clone_from(&stats);
            }
        }
        if best_stats.is_empty() {
            return 0.0;
        }
        self.f_score(&best_stats)
    }
}
