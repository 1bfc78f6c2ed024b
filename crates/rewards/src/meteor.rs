//! METEOR as RL4LMs computes it: the Hugging Face `meteor` metric, i.e.
//! `nltk.translate.meteor_score.meteor_score([word_tokenize(r) for r in refs],
//! word_tokenize(pred), alpha, beta, gamma)` (NLTK 3.10): exact, Porter-stem and
//! WordNet-synonym matching, max over references.

use crate::porter::{Mode, PorterStemmer};
use crate::text::py_lower;
use crate::treebank::word_tokenize;
use crate::wordnet::WordNet;
use std::collections::{HashMap, HashSet};

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

type Enum = Vec<(usize, String)>;

/// NLTK `_match_enums`: returns matches and the unmatched remainders.
fn match_enums(hyp: Enum, rf: Enum) -> (Vec<(usize, usize)>, Enum, Enum) {
    let mut ref_positions: HashMap<&str, Vec<usize>> = HashMap::new();
    for (j, (_, w)) in rf.iter().enumerate() {
        ref_positions.entry(w.as_str()).or_default().push(j);
    }
    let mut matched_h = vec![false; hyp.len()];
    let mut matched_r = vec![false; rf.len()];
    let mut out = Vec::new();
    for i in (0..hyp.len()).rev() {
        if let Some(pos) = ref_positions.get_mut(hyp[i].1.as_str())
            && let Some(j) = pos.pop()
        {
            matched_h[i] = true;
            matched_r[j] = true;
            out.push((hyp[i].0, rf[j].0));
        }
    }
    let h = hyp
        .into_iter()
        .zip(matched_h)
        .filter(|(_, m)| !m)
        .map(|(p, _)| p)
        .collect();
    let r = rf
        .into_iter()
        .zip(matched_r)
        .filter(|(_, m)| !m)
        .map(|(p, _)| p)
        .collect();
    (out, h, r)
}

fn wordnet_match(hyp: &Enum, rf: &Enum, wn: &WordNet) -> Vec<(usize, usize)> {
    let mut ref_positions: HashMap<&str, Vec<usize>> = HashMap::new();
    for (j, (_, w)) in rf.iter().enumerate() {
        ref_positions.entry(w.as_str()).or_default().push(j);
    }
    let mut out = Vec::new();
    let mut syns: HashSet<String> = HashSet::new();
    for i in (0..hyp.len()).rev() {
        syns.clear();
        wn.synonyms(&hyp[i].1, &mut syns);
        syns.retain(|s| !s.contains('_'));
        syns.insert(hyp[i].1.clone());
        let mut best: Option<(usize, &str)> = None;
        for s in &syns {
            if let Some(pos) = ref_positions.get(s.as_str())
                && let Some(&last) = pos.last()
                && best.is_none_or(|(b, _)| last > b)
            {
                best = Some((last, s.as_str()));
            }
        }
        if let Some((j, w)) = best {
            let key: &str = ref_positions.get_key_value(w).map(|(k, _)| *k).unwrap();
            ref_positions.get_mut(key).unwrap().pop();
            out.push((hyp[i].0, rf[j].0));
        }
    }
    out
}

fn count_chunks(m: &[(usize, usize)]) -> usize {
    let mut chunks = 1;
    for w in m.windows(2) {
        if !(w[1].0 == w[0].0 + 1 && w[1].1 == w[0].1 + 1) {
            chunks += 1;
        }
    }
    chunks
}

const STEMMER: PorterStemmer = PorterStemmer::new(Mode::NltkExtensions);

impl Meteor {
    /// `single_meteor_score(reference, hypothesis)` on pre-tokenized input.
    pub fn single_tokens(&self, reference: &[String], hypothesis: &[String]) -> f64 {
        let hyp: Enum = hypothesis.iter().map(|w| py_lower(w)).enumerate().collect();
        let rf: Enum = reference.iter().map(|w| py_lower(w)).enumerate().collect();
        let (tl, rl) = (hyp.len(), rf.len());
        let (mut matches, hyp, rf) = match_enums(hyp, rf);
        let hyp: Enum = hyp
            .into_iter()
            .map(|(i, w)| (i, STEMMER.stem(&w)))
            .collect();
        let rf: Enum = rf.into_iter().map(|(i, w)| (i, STEMMER.stem(&w))).collect();
        let (stem_matches, hyp, rf) = match_enums(hyp, rf);
        matches.extend(stem_matches);
        if self.wordnet
            && let Some(wn) = WordNet::global()
        {
            matches.extend(wordnet_match(&hyp, &rf, wn));
        }
        matches.sort_by_key(|m| m.0);
        let m = matches.len();
        if tl == 0 || rl == 0 || m == 0 {
            return 0.0;
        }
        let precision = m as f64 / tl as f64;
        let recall = m as f64 / rl as f64;
        let fmean = (precision * recall) / (self.alpha * precision + (1.0 - self.alpha) * recall);
        let frag_frac = count_chunks(&matches) as f64 / m as f64;
        let penalty = self.gamma * frag_frac.powf(self.beta);
        (1.0 - penalty) * fmean
    }

    /// Max over references on `word_tokenize`d text; 0.0 without references.
    pub fn score(&self, prediction: &str, references: &[String]) -> f64 {
        let hyp = word_tokenize(prediction);
        references
            .iter()
            .map(|r| self.single_tokens(&word_tokenize(r), &hyp))
            .fold(None, |a: Option<f64>, s| {
                Some(a.map_or(s, |a| if s > a { s } else { a }))
            })
            .unwrap_or(0.0)
    }
}
