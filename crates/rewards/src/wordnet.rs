//! A minimal reader of the WordNet 3.0 database files (`index.*`, `data.*`,
//! `*.exc`), reproducing what NLTK's `WordNetCorpusReader.synsets(word)` and
//! `Lemma.name()` return, which is all NLTK's METEOR needs.
//!
//! The directory is taken from the `WORDNET_DIR` environment variable, default
//! `/usr/share/wordnet` (Debian's `wordnet-base` install location).
//!
//! Everything is parsed once at load time (about 117,000 synsets): a synset is
//! its list of lemma-name ids, and a lemma of the index is its list of synset
//! ids per part of speech, so a look-up is a few hash probes and no parsing.

use rustc_hash::{FxBuildHasher, FxHashMap};
use std::collections::HashSet;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// NLTK's `POS_LIST` order: noun, verb, adjective, adverb.
const POS: [&str; 4] = ["noun", "verb", "adj", "adv"];

/// `MORPHOLOGICAL_SUBSTITUTIONS` per POS (same order as `POS`).
fn subs(pos: usize) -> &'static [(&'static str, &'static str)] {
    match pos {
        0 => &[
            ("s", ""),
            ("ses", "s"),
            ("ves", "f"),
            ("xes", "x"),
            ("zes", "z"),
            ("ches", "ch"),
            ("shes", "sh"),
            ("men", "man"),
            ("ies", "y"),
        ],
        1 => &[
            ("s", ""),
            ("ies", "y"),
            ("es", "e"),
            ("es", ""),
            ("ed", "e"),
            ("ed", ""),
            ("ing", "e"),
            ("ing", ""),
        ],
        2 => &[("er", ""), ("est", ""), ("er", "e"), ("est", "e")],
        _ => &[],
    }
}

type Map<K, V> = FxHashMap<K, V>;

fn range(r: &Range<u32>) -> Range<usize> {
    r.start as usize..r.end as usize
}

pub struct WordNet {
    /// index lemma -> synset ids per POS (ranges into `sense_synsets`)
    index: Map<Box<str>, [Range<u32>; 4]>,
    sense_synsets: Vec<u32>,
    /// synset id -> lemma-name ids (range into `synset_names`)
    synsets: Vec<Range<u32>>,
    synset_names: Vec<u32>,
    /// lemma names (`Lemma.name()`), interned
    names: Vec<Box<str>>,
    name_ids: Map<Box<str>, u32>,
    exceptions: [Map<Box<str>, Vec<Box<str>>>; 4],
}

impl WordNet {
    pub fn load(dir: &Path) -> std::io::Result<WordNet> {
        let mut wn = WordNet {
            index: Map::with_capacity_and_hasher(160_000, FxBuildHasher),
            sense_synsets: Vec::with_capacity(210_000),
            synsets: Vec::with_capacity(118_000),
            synset_names: Vec::with_capacity(210_000),
            names: Vec::with_capacity(150_000),
            name_ids: Map::with_capacity_and_hasher(150_000, FxBuildHasher),
            exceptions: Default::default(),
        };
        for (k, name) in POS.iter().enumerate() {
            // data.POS: synsets keyed by the byte offset of their line
            let data = std::fs::read(dir.join(format!("data.{name}")))?;
            let mut by_offset: Map<u32, u32> = Map::default();
            let mut start = 0usize;
            for line in data.split(|&b| b == b'\n') {
                let offset = start as u32;
                start += line.len() + 1;
                if line.first().is_none_or(|&b| b == b' ') {
                    continue; // licence header or empty
                }
                let Ok(line) = std::str::from_utf8(line) else {
                    continue;
                };
                let names_start = wn.synset_names.len() as u32;
                let mut f = line.split(' ');
                let w_cnt = f.nth(3).and_then(|c| usize::from_str_radix(c, 16).ok());
                for _ in 0..w_cnt.unwrap_or(0) {
                    let Some(lemma) = f.next() else { break };
                    let _lex_id = f.next();
                    // NLTK: re.match(r"(.*?)(\(.*\))?$", name) strips a syntactic marker.
                    let lemma = match (lemma.ends_with(')'), lemma.find('(')) {
                        (true, Some(p)) => &lemma[..p],
                        _ => lemma,
                    };
                    let id = wn.name_id_or_insert(lemma);
                    wn.synset_names.push(id);
                }
                by_offset.insert(offset, wn.synsets.len() as u32);
                wn.synsets.push(names_start..wn.synset_names.len() as u32);
            }
            // index.POS: lemma -> synset offsets
            let idx = std::fs::read_to_string(dir.join(format!("index.{name}")))?;
            for line in idx.lines() {
                if line.starts_with(' ') {
                    continue;
                }
                let f: Vec<&str> = line.split_whitespace().collect();
                if f.len() < 4 {
                    continue;
                }
                let (Ok(n_syn), Ok(n_ptr)) = (f[2].parse::<usize>(), f[3].parse::<usize>()) else {
                    continue;
                };
                let first = 4 + n_ptr + 2;
                if f.len() < first + n_syn {
                    continue;
                }
                let senses_start = wn.sense_synsets.len() as u32;
                for o in &f[first..first + n_syn] {
                    if let Some(&s) = o.parse::<u32>().ok().and_then(|o| by_offset.get(&o)) {
                        wn.sense_synsets.push(s);
                    }
                }
                let entry = wn.index.entry(f[0].into()).or_default();
                entry[k] = senses_start..wn.sense_synsets.len() as u32;
            }
            let exc = std::fs::read_to_string(dir.join(format!("{name}.exc")))?;
            for line in exc.lines() {
                let mut it = line.split_whitespace();
                if let Some(first) = it.next() {
                    wn.exceptions[k].insert(first.into(), it.map(Into::into).collect());
                }
            }
        }
        Ok(wn)
    }

    fn name_id_or_insert(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.name_ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.into());
        self.name_ids.insert(name.into(), id);
        id
    }

    /// The process-wide instance (from `WORDNET_DIR`), or `None` if it cannot be read.
    pub fn global() -> Option<&'static WordNet> {
        static WN: OnceLock<Option<WordNet>> = OnceLock::new();
        WN.get_or_init(|| {
            let dir = std::env::var_os("WORDNET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/usr/share/wordnet"));
            match WordNet::load(&dir) {
                Ok(wn) => Some(wn),
                Err(e) => {
                    eprintln!(
                        "rewards: WordNet 3.0 not readable in {} ({e}); METEOR runs with exact and \
                         stem matching only (set WORDNET_DIR or install Debian's wordnet-base)",
                        dir.display()
                    );
                    None
                }
            }
        })
        .as_ref()
    }

    /// NLTK's `_morphy(form, pos)` (NLTK 3.10): appends to `out` the base forms
    /// found in the index for `pos` (the form itself first), without repeats.
    fn morphy_into<'a>(&'a self, form: &str, pos: usize, out: &mut Vec<&'a str>) {
        let start = out.len();
        let consider = |cand: &str, out: &mut Vec<&'a str>| {
            if let Some((key, senses)) = self.index.get_key_value(cand)
                && !senses[pos].is_empty()
                && !out[start..].contains(&&**key)
            {
                out.push(key);
            }
        };
        consider(form, out);
        if let Some(exc) = self.exceptions[pos].get(form) {
            for e in exc {
                consider(e, out);
            }
            return;
        }
        let mut cand = String::with_capacity(form.len() + 2);
        for (old, new) in subs(pos) {
            if let Some(stem) = form.strip_suffix(old) {
                cand.clear();
                cand.push_str(stem);
                cand.push_str(new);
                consider(&cand, out);
            }
        }
    }

    /// NLTK's `_morphy(form, pos)` (NLTK 3.10).
    pub fn morphy(&self, form: &str, pos: usize) -> Vec<String> {
        let mut out = Vec::new();
        self.morphy_into(form, pos, &mut out);
        out.into_iter().map(str::to_string).collect()
    }

    /// Ids of `{l.name() for s in wn.synsets(word) for l in s.lemmas()}`,
    /// appended to `out` (with repeats).
    pub fn synonym_ids(&self, word: &str, out: &mut Vec<u32>) {
        let lowered;
        let lemma = if word.bytes().any(|b| b.is_ascii_uppercase()) || !word.is_ascii() {
            lowered = crate::text::py_lower(word);
            lowered.as_str()
        } else {
            word
        };
        let mut forms = Vec::new();
        for pos in 0..4 {
            forms.clear();
            self.morphy_into(lemma, pos, &mut forms);
            for form in &forms {
                let senses = &self.index[*form][pos];
                for &s in &self.sense_synsets[range(senses)] {
                    out.extend_from_slice(&self.synset_names[range(&self.synsets[s as usize])]);
                }
            }
        }
    }

    /// The id of a lemma name, if some synset has it.
    pub fn name_id(&self, name: &str) -> Option<u32> {
        self.name_ids.get(name).copied()
    }

    /// The lemma name of an id from [`WordNet::synonym_ids`].
    pub fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }

    /// `{l.name() for s in wn.synsets(word) for l in s.lemmas()}`.
    pub fn synonyms(&self, word: &str, out: &mut HashSet<String>) {
        let mut ids = Vec::new();
        self.synonym_ids(word, &mut ids);
        out.extend(ids.into_iter().map(|id| self.name(id).to_string()));
    }
}
