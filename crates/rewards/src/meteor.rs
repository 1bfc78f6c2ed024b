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
use crate::treebank::word_tokenize_into;
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
const UNSET: u32 = u32::MAX - 1;

/// The texts of one (prediction, references) pair, `word_tokenize`d, lower-cased
/// (`_generate_enums` with `str.lower`) and stemmed, in two string arenas.
#[derive(Default)]
struct Texts {
    words: String,
    stems: String,
    /// byte ranges of the words (in `words`) and of their stems (in `stems`)
    spans: Vec<((usize, usize), (usize, usize))>,
    /// end (exclusive, in `spans`) of every text
    ends: Vec<usize>,
}

impl Texts {
    fn push_word(&mut self, w: &str) {
        let start = self.words.len();
        if w.is_ascii() {
            self.words
                .extend(w.bytes().map(|b| b.to_ascii_lowercase() as char));
        } else {
            self.words.push_str(&py_lower(w));
        }
        let word = (start, self.words.len());
        let stem_start = self.stems.len();
        STEMMER.stem_into(&self.words[start..], &mut self.stems);
        self.spans.push((word, (stem_start, self.stems.len())));
    }

    fn push_text(&mut self, text: &str, raw: &mut String, raw_spans: &mut Vec<(usize, usize)>) {
        raw.clear();
        raw_spans.clear();
        word_tokenize_into(text, raw, raw_spans);
        for &(a, b) in raw_spans.iter() {
            self.push_word(&raw[a..b]);
        }
        self.ends.push(self.spans.len());
    }
}

/// Word and stem ids of one text.
struct Ids {
    word: Vec<u32>,
    stem: Vec<u32>,
}

/// Per-pair state: id stacks for the matching stages and the WordNet caches.
struct Matcher<'a> {
    strings: Vec<&'a str>,
    /// top of the stack of (remaining) reference positions per id
    head: Vec<u32>,
    /// next-lower reference position in the same stack
    next: Vec<u32>,
    wordnet: Option<&'a WordNet>,
    /// per id: WordNet lemma-name id of the string (NONE: none, or it has '_'); UNSET
    name: Vec<u32>,
    /// per hypothesis position: lemma-name ids of the synonyms of its stem
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
        self.push_stacks(rf, rkey);
        let mut ref_used = vec![false; rf.len()];
        let mut hyp_used = vec![false; hyp.len()];
        for (hi, &i) in hyp.iter().enumerate().rev() {
            if let Some(k) = self.pop(hkey[i as usize]) {
                ref_used[k] = true;
                hyp_used[hi] = true;
                out.push((i, rf[k]));
            }
        }
        self.clear_stacks(rf, rkey);
        let mut used = hyp_used.iter();
        hyp.retain(|_| !used.next().copied().unwrap_or(false));
        let mut used = ref_used.iter();
        rf.retain(|_| !used.next().copied().unwrap_or(false));
    }

    /// Stacks of the indices `k` of `rf` by key `rkey[rf[k]]`, highest on top.
    fn push_stacks(&mut self, rf: &[u32], rkey: &[u32]) {
        self.next.clear();
        for (k, &j) in rf.iter().enumerate() {
            let key = rkey[j as usize] as usize;
            self.next.push(self.head[key]);
            self.head[key] = k as u32;
        }
    }

    fn top(&self, key: u32) -> Option<usize> {
        let k = self.head[key as usize];
        (k != NONE).then_some(k as usize)
    }

    fn pop(&mut self, key: u32) -> Option<usize> {
        let k = self.top(key)?;
        self.head[key as usize] = self.next[k];
        Some(k)
    }

    fn clear_stacks(&mut self, rf: &[u32], rkey: &[u32]) {
        for &j in rf {
            self.head[rkey[j as usize] as usize] = NONE;
        }
    }

    /// The lemma-name id of string `id`, if it is a lemma name without '_'.
    fn name_of(&mut self, wn: &WordNet, id: u32) -> u32 {
        if self.name[id as usize] == UNSET {
            let s = self.strings[id as usize];
            self.name[id as usize] = if s.contains('_') {
                NONE
            } else {
                wn.name_id(s).unwrap_or(NONE)
            };
        }
        self.name[id as usize]
    }

    /// NLTK `_enum_wordnetsyn_match` on the remaining positions: a hypothesis
    /// word (last first) matches the last remaining reference word equal to its
    /// stem or to a lemma name (without '_') of a synset of its stem.
    fn wordnet_stage(
        &mut self,
        wn: &WordNet,
        hyp: &[u32],
        rf: &[u32],
        hyp_stem: &[u32],
        ref_stem: &[u32],
        out: &mut Vec<(u32, u32)>,
    ) {
        self.push_stacks(rf, ref_stem);
        // lemma-name id -> id of the remaining reference stem with that name
        let mut by_name: FxHashMap<u32, u32> = FxHashMap::default();
        for &j in rf {
            let stem = ref_stem[j as usize];
            let name = self.name_of(wn, stem);
            if name != NONE {
                by_name.insert(name, stem);
            }
        }
        for &i in hyp.iter().rev() {
            let stem = hyp_stem[i as usize];
            if self.synonyms[i as usize].is_none() {
                let mut names = Vec::new();
                wn.synonym_ids(self.strings[stem as usize], &mut names);
                names.sort_unstable();
                names.dedup();
                self.synonyms[i as usize] = Some(names);
            }
            // the candidate whose last remaining reference position is highest
            let mut best: Option<(usize, u32)> = self.top(stem).map(|k| (k, stem));
            for n in self.synonyms[i as usize].as_deref().unwrap_or(&[]) {
                if let Some(&s) = by_name.get(n)
                    && let Some(k) = self.top(s)
                    && best.is_none_or(|(bk, _)| k > bk)
                {
                    best = Some((k, s));
                }
            }
            if let Some((k, s)) = best {
                self.pop(s);
                out.push((i, rf[k]));
            }
        }
        self.clear_stacks(rf, ref_stem);
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
        let mut texts = Texts::default();
        for t in [hypothesis, reference] {
            for w in t {
                texts.push_word(w);
            }
            texts.ends.push(texts.spans.len());
        }
        self.score_texts(&texts)
    }

    /// Max over references on `word_tokenize`d text; 0.0 without references.
    pub fn score(&self, prediction: &str, references: &[String]) -> f64 {
        if references.is_empty() {
            return 0.0;
        }
        let mut texts = Texts::default();
        let (mut raw, mut raw_spans) = (String::new(), Vec::new());
        texts.push_text(prediction, &mut raw, &mut raw_spans);
        for r in references {
            texts.push_text(r, &mut raw, &mut raw_spans);
        }
        self.score_texts(&texts)
    }

    /// Max over `texts[1..]` (references) of the score of `texts[0]` (hypothesis).
    fn score_texts(&self, texts: &Texts) -> f64 {
        let mut vocab: Interner<&str> = Interner::with_capacity(2 * texts.spans.len());
        let mut strings: Vec<&str> = Vec::with_capacity(2 * texts.spans.len());
        fn intern<'t>(
            s: &'t str,
            vocab: &mut Interner<&'t str>,
            strings: &mut Vec<&'t str>,
        ) -> u32 {
            let id = vocab.intern(s);
            if id as usize == strings.len() {
                strings.push(s);
            }
            id
        }
        let mut ids: Vec<Ids> = Vec::with_capacity(texts.ends.len());
        let mut start = 0;
        for &end in &texts.ends {
            let spans = &texts.spans[start..end];
            let mut word = Vec::with_capacity(spans.len());
            let mut stem = Vec::with_capacity(spans.len());
            for &((a, b), (c, d)) in spans {
                word.push(intern(&texts.words[a..b], &mut vocab, &mut strings));
                stem.push(intern(&texts.stems[c..d], &mut vocab, &mut strings));
            }
            ids.push(Ids { word, stem });
            start = end;
        }
        let n_ids = strings.len();
        let mut m = Matcher {
            strings,
            head: vec![NONE; n_ids],
            next: Vec::new(),
            wordnet: if self.wordnet {
                WordNet::global()
            } else {
                None
            },
            name: vec![UNSET; n_ids],
            synonyms: vec![None; ids[0].word.len()],
        };
        ids[1..]
            .iter()
            .map(|r| self.single(&ids[0], r, &mut m))
            .fold(None, |a: Option<f64>, s| {
                Some(a.map_or(s, |a| if s > a { s } else { a }))
            })
            .unwrap_or(0.0)
    }
}
