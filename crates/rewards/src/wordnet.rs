//! A minimal reader of the WordNet 3.0 database files (`index.*`, `data.*`,
//! `*.exc`), reproducing what NLTK's `WordNetCorpusReader.synsets(word)` and
//! `Lemma.name()` return, which is all NLTK's METEOR needs.
//!
//! The directory is taken from the `WORDNET_DIR` environment variable, default
//! `/usr/share/wordnet` (Debian's `wordnet-base` install location).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// NLTK's `POS_LIST` order: noun, verb, adjective, adverb.
const POS: [(&str, char); 4] = [("noun", 'n'), ("verb", 'v'), ("adj", 'a'), ("adv", 'r')];

pub struct WordNet {
    /// lemma -> offsets per POS (index into `POS`).
    index: HashMap<String, [Vec<u32>; 4]>,
    exceptions: [HashMap<String, Vec<String>>; 4],
    data: [Vec<u8>; 4],
}

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

impl WordNet {
    pub fn load(dir: &Path) -> std::io::Result<WordNet> {
        let mut index: HashMap<String, [Vec<u32>; 4]> = HashMap::new();
        let mut exceptions: [HashMap<String, Vec<String>>; 4] = Default::default();
        let mut data: [Vec<u8>; 4] = Default::default();
        for (k, (name, _)) in POS.iter().enumerate() {
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
                let start = 4 + n_ptr + 2;
                if f.len() < start + n_syn {
                    continue;
                }
                let offs: Vec<u32> = f[start..start + n_syn]
                    .iter()
                    .filter_map(|o| o.parse().ok())
                    .collect();
                index.entry(f[0].to_string()).or_default()[k] = offs;
            }
            let exc = std::fs::read_to_string(dir.join(format!("{name}.exc")))?;
            for line in exc.lines() {
                let mut it = line.split_whitespace();
                if let Some(first) = it.next() {
                    exceptions[k].insert(first.to_string(), it.map(str::to_string).collect());
                }
            }
            data[k] = std::fs::read(dir.join(format!("data.{name}")))?;
        }
        Ok(WordNet {
            index,
            exceptions,
            data,
        })
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

    fn has(&self, form: &str, pos: usize) -> bool {
        self.index.get(form).is_some_and(|v| !v[pos].is_empty())
    }

    /// NLTK's `_morphy(form, pos)` (NLTK 3.10 version).
    pub fn morphy(&self, form: &str, pos: usize) -> Vec<String> {
        let forms: Vec<String> = match self.exceptions[pos].get(form) {
            Some(exc) => exc.clone(),
            None => subs(pos)
                .iter()
                .filter(|(old, _)| form.ends_with(old))
                .map(|(old, new)| format!("{}{}", &form[..form.len() - old.len()], new))
                .collect(),
        };
        let mut out: Vec<String> = Vec::new();
        for f in std::iter::once(form.to_string()).chain(forms) {
            if self.has(&f, pos) && !out.contains(&f) {
                out.push(f);
            }
        }
        out
    }

    fn lemma_names_at(&self, pos: usize, offset: u32, out: &mut HashSet<String>) {
        let data = &self.data[pos];
        let start = offset as usize;
        if start >= data.len() {
            return;
        }
        let end = data[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(data.len(), |p| start + p);
        let Ok(line) = std::str::from_utf8(&data[start..end]) else {
            return;
        };
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 4 {
            return;
        }
        let Ok(w_cnt) = usize::from_str_radix(f[3], 16) else {
            return;
        };
        for i in 0..w_cnt {
            let Some(name) = f.get(4 + 2 * i) else { break };
            // NLTK: re.match(r"(.*?)(\(.*\))?$", name) strips a syntactic marker.
            let name = match (name.ends_with(')'), name.find('(')) {
                (true, Some(p)) => &name[..p],
                _ => name,
            };
            out.insert(name.to_string());
        }
    }

    /// `{l.name() for s in wn.synsets(word) for l in s.lemmas()}`.
    pub fn synonyms(&self, word: &str, out: &mut HashSet<String>) {
        let lemma = crate::text::py_lower(word);
        for pos in 0..4 {
            for form in self.morphy(&lemma, pos) {
                if let Some(v) = self.index.get(&form) {
                    for &off in &v[pos] {
                        self.lemma_names_at(pos, off, out);
                    }
                }
            }
        }
    }
}
