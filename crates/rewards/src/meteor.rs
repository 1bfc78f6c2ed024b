//! METEOR as RL4LMs computes it: the Hugging Face `meteor` metric, i.e.
//! `nltk.translate.meteor_score.meteor_score([word_tokenize(r) for r in refs],
//! word_tokenize(pred), alpha, beta, gamma)` (NLTK 3.10): exact, Porter-stem and
//! WordNet-synonym matching, max over references.
//!
//! Words and stems of one (prediction, references) pair are interned once, so
//! the three matching stages of every reference compare integers; stems and
//! WordNet synonyms of the prediction are computed once per pair, not once per
//! reference.

use crate::ngram::Interner;
use crate::porter::{Mode, PorterStemmer};
use crate::text::py_lower;
use crate::treebank::word_tokenize;
use crate::wordnet::WordNet;
use rustc_hash::FxHashMap;

#[derive(Debug, Clone)]
pub struct Meteor {
    pub alpha: f64,
    pub beta: f64,
    pub gamma: f64,
    /// Use WordNet synonyms (when the database is available).
    pub wordnet: bool,
}

impl Default for Meteor {
    fn default() -> Self {
        Meteor {
            alpha: 0.9,
            beta: 3.0,
            gamma: 0.5,
            wordnet: true,
        }
    }
}

const STEMMER: PorterStemmer = PorterStemmer::new(Mode::NltkExtensions);
const NONE: u32 = u32::MAX;

/// `word_tokenize(text)` lower-cased (`_generate_enums` with `str.lower`) and stemmed.
struct Text {
    words: Vec<String>,
    stems: Vec<String>,
}

impl Text {
    fn new(text: &str) -> Text {
        let mut words = word_tokenize(text);
        for w in &mut words {
            if w.is_ascii() {
                w.make_ascii_lowercase();
            } else {
                *w = py_lower(w);
            }
        }
        let stems = words.iter().map(|w| STEMMER.stem(w)).collect();
        Text { words, stems }
    }
}

/// Word and stem ids of one text.
struct Ids {
    word: Vec<u32>,
    stem: Vec<u32>,
}

/// Per-pair state: id stacks for the matching stages and the synonym cache.
struct Matcher<'a> {
    strings: Vec<&'a str>,
    /// top of the stack of (remaining) reference positions per id
    head: Vec<u32>,
    /// next-lower reference position in the same stack
    next: Vec<u32>,
    wordnet: Option<&'a WordNet>,
    /// WordNet lemma-name id -> pair id (names without '_'), built on first use
    name_to_id: Option<FxHashMap<u32, u32>>,
    /// per hypothesis position: pair ids of `synonyms(stem) ∪ {stem}`
    synonyms: Vec<Option<Vec<u32>>>,
}

impl Matcher<'_> {
    /// NLTK `_match_enums` on the `hyp` / `rf` positions (ascending) with keys
    /// `hkey` / `rkey`: matches each hypothesis word, last first, with the last
    /// remaining equal reference word. Keeps the unmatched positions in place.
    fn match_stage(
        &mut self,
        hyp: &mut Vec<u32>,
        rf: &mut Vec<u32>,
        hkey: &[u32],
        rkey: &[u32],
        out: &mut Vec<(u32, u32)>,
    ) {
        self.next.clear();
        for (k, &j) in rf.iter().enumerate() {
            let key = rkey[j as usize] as usize;
            self.next.push(self.head[key]);
            self.head[key] = k as u32;
        }
        let mut ref_used = vec![false; rf.len()];
        let mut hyp_used = vec![false; hyp.len()];
        for (hi, &i) in hyp.iter().enumerate().rev() {
            let key = hkey[i as usize] as usize;
            let k = self.head[key];
            if k != NONE {
                self.head[key] = self.next[k as usize];
                ref_used[k as usize] = true;
                hyp_used[hi] = true;
                out.push((i, rf[k as usize]));
            }
        }
        for &j in rf.iter() {
            self.head[rkey[j as usize] as usize] = NONE;
        }
        let mut used = hyp_used.iter();
        hyp.retain(|_| !used.next().copied().unwrap_or(false));
        let mut used = ref_used.iter();
        rf.retain(|_| !used.next().copied().unwrap_or(false));
    }

    /// Pair ids of `{l.name() for s in synsets(stem) ... if '_' not in name} ∪ {stem}`.
    fn synonyms_of(&mut self, wn: &WordNet, pos: usize, stem: u32) -> &[u32] {
        if self.synonyms[pos].is_none() {
            let strings = &self.strings;
            let name_to_id = self.name_to_id.get_or_insert_with(|| {
                strings
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| !s.contains('_'))
                    .filter_map(|(id, s)| wn.name_id(s).map(|n| (n, id as u32)))
                    .collect()
            });
            let mut names = Vec::new();
            wn.synonym_ids(self.strings[stem as usize], &mut names);
            let mut ids: Vec<u32> = names
                .iter()
                .filter_map(|n| name_to_id.get(n).copied())
                .collect();
            ids.push(stem);
            ids.sort_unstable();
            ids.dedup();
            self.synonyms[pos] = Some(ids);
        }
        self.synonyms[pos].as_deref().unwrap_or(&[])
    }

    /// NLTK `_enum_wordnetsyn_match` on the remaining positions.
    fn wordnet_stage(
        &mut self,
        wn: &WordNet,
        hyp: &[u32],
        rf: &[u32],
        hyp_stem: &[u32],
        ref_stem: &[u32],
        out: &mut Vec<(u32, u32)>,
    ) {
        self.next.clear();
        for (k, &j) in rf.iter().enumerate() {
            let key = ref_stem[j as usize] as usize;
            self.next.push(self.head[key]);
            self.head[key] = k as u32;
        }
        for &i in hyp.iter().rev() {
            let syns = self
                .synonyms_of(wn, i as usize, hyp_stem[i as usize])
                .to_vec();
            // the synonym whose last remaining reference position is highest
            let mut best: Option<(u32, u32)> = None;
            for s in syns {
                let k = self.head[s as usize];
                if k != NONE && best.is_none_or(|(bk, _)| k > bk) {
                    best = Some((k, s));
                }
            }
            if let Some((k, s)) = best {
                self.head[s as usize] = self.next[k as usize];
                out.push((i, rf[k as usize]));
            }
        }
        for &j in rf {
            self.head[ref_stem[j as usize] as usize] = NONE;
        }
    }
}

/// NLTK `_count_chunks` on matches sorted by hypothesis position.
fn count_chunks(m: &[(u32, u32)]) -> usize {
    let mut chunks = 1;
    for w in m.windows(2) {
        if !(w[1].0 == w[0].0 + 1 && w[1].1 == w[0].1 + 1) {
            chunks += 1;
        }
    }
    chunks
}

impl Meteor {
    /// `single_meteor_score(reference, hypothesis)` on interned words.
    fn single(&self, hyp: &Ids, rf: &Ids, m: &mut Matcher) -> f64 {
        let (tl, rl) = (hyp.word.len(), rf.word.len());
        if tl == 0 || rl == 0 {
            return 0.0; // ZeroDivisionError in NLTK
        }
        let mut hyp_left: Vec<u32> = (0..tl as u32).collect();
        let mut ref_left: Vec<u32> = (0..rl as u32).collect();
        let mut matches = Vec::with_capacity(tl.min(rl));
        m.match_stage(
            &mut hyp_left,
            &mut ref_left,
            &hyp.word,
            &rf.word,
            &mut matches,
        );
        m.match_stage(
            &mut hyp_left,
            &mut ref_left,
            &hyp.stem,
            &rf.stem,
            &mut matches,
        );
        if self.wordnet
            && !hyp_left.is_empty()
            && !ref_left.is_empty()
            && let Some(wn) = m.wordnet
        {
            m.wordnet_stage(wn, &hyp_left, &ref_left, &hyp.stem, &rf.stem, &mut matches);
        }
        matches.sort_unstable_by_key(|x| x.0);
        let n = matches.len();
        if n == 0 {
            return 0.0;
        }
        let precision = n as f64 / tl as f64;
        let recall = n as f64 / rl as f64;
        let fmean = (precision * recall) / (self.alpha * precision + (1.0 - self.alpha) * recall);
        let frag_frac = count_chunks(&matches) as f64 / n as f64;
        let penalty = self.gamma * frag_frac.powf(self.beta);
        (1.0 - penalty) * fmean
    }

    /// `single_meteor_score(reference, hypothesis)` on pre-tokenized input.
    pub fn single_tokens(&self, reference: &[String], hypothesis: &[String]) -> f64 {
        let lower = |t: &[String]| -> Text {
            let words: Vec<String> = t.iter().map(|w| py_lower(w)).collect();
            let stems = words.iter().map(|w| STEMMER.stem(w)).collect();
            Text { words, stems }
        };
        self.score_texts(&lower(hypothesis), &[lower(reference)])
    }

    /// Max over references on `word_tokenize`d text; 0.0 without references.
    pub fn score(&self, prediction: &str, references: &[String]) -> f64 {
        if references.is_empty() {
            return 0.0;
        }
        let hyp = Text::new(prediction);
        let refs: Vec<Text> = references.iter().map(|r| Text::new(r)).collect();
        self.score_texts(&hyp, &refs)
    }

    fn score_texts(&self, hyp: &Text, refs: &[Text]) -> f64 {
        let mut vocab: Interner<&str> = Interner::with_capacity(4 * hyp.words.len() + 16);
        fn ids<'t>(t: &'t Text, vocab: &mut Interner<&'t str>) -> Ids {
            Ids {
                word: t.words.iter().map(|w| vocab.intern(w)).collect(),
                stem: t.stems.iter().map(|w| vocab.intern(w)).collect(),
            }
        }
        let hyp_ids = ids(hyp, &mut vocab);
        let ref_ids: Vec<Ids> = refs.iter().map(|r| ids(r, &mut vocab)).collect();
        let mut strings = vec![""; vocab.len()];
        for t in std::iter::once(hyp).chain(refs) {
            for w in t.words.iter().chain(&t.stems) {
                if let Some(id) = vocab.get(w.as_str()) {
                    strings[id as usize] = w;
                }
            }
        }
        let mut m = Matcher {
            head: vec![NONE; strings.len()],
            strings,
            next: Vec::new(),
            wordnet: if self.wordnet {
                WordNet::global()
            } else {
                None
            },
            name_to_id: None,
            synonyms: vec![None; hyp.words.len()],
        };
        ref_ids
            .iter()
            .map(|r| self.single(&hyp_ids, r, &mut m))
            .fold(None, |a: Option<f64>, s| {
                Some(a.map_or(s, |a| if s > a { s } else { a }))
            })
            .unwrap_or(0.0)
    }
}
