//! The pretraining text: general English from the data directory, split into documents, with a
//! held-out validation set.
//!
//! Sources (choose in the spec's `corpus:` list):
//! * `wikitext-2`: WikiText-2's validation and test files (`wikitext-2/{valid,test}.txt`; the
//!   train split is not in the data directory). One document per article (a ` = Title = ` line
//!   starts one). WikiText's number and hyphen escapes (` @-@ `, ` @,@ `, ` @.@ `) are undone;
//!   its `<unk>` tokens are kept as text.
//! * `imdb-unlabelled`: movie reviews, standing in for the IMDB text `lvwerra/gpt2-imdb` was
//!   finetuned on: the reviews at odd positions (0-based 1, 3, 5, ... in file order) of the IMDB
//!   test file `imdb/imdb_test_subset.csv` ([`grue::imdb::pretraining_reviews`]). The IMDB task
//!   holds out the even positions as its test pool and draws its training prompts from the train
//!   file, so no task input is pretrained on.
//!
//! No finetuning task's inputs are in either source. Every 20th document (positions 19, 39, ...
//! of the combined list) is the validation set.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One source of pretraining text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CorpusSource {
    #[serde(rename = "wikitext-2")]
    Wikitext2,
    #[serde(rename = "imdb-unlabelled")]
    ImdbUnlabelled,
}

impl CorpusSource {
    /// The files it reads, relative to the data directory.
    pub fn files(self) -> &'static [&'static str] {
        match self {
            CorpusSource::Wikitext2 => &["wikitext-2/valid.txt", "wikitext-2/test.txt"],
            CorpusSource::ImdbUnlabelled => &["imdb/imdb_test_subset.csv"],
        }
    }

    /// The `runner data fetch` target that provides it.
    pub fn dataset(self) -> &'static str {
        match self {
            CorpusSource::Wikitext2 => "wikitext-2",
            CorpusSource::ImdbUnlabelled => "imdb",
        }
    }
}

/// Documents for training and validation, and a hash of their text.
#[derive(Debug, Clone, PartialEq)]
pub struct Corpus {
    pub train: Vec<String>,
    pub validation: Vec<String>,
    /// sha256 of every document in order (what a cached model's key depends on).
    pub sha256: String,
}

/// Every `VALIDATION_EVERY`-th document is held out.
pub const VALIDATION_EVERY: usize = 20;

impl Corpus {
    /// Reads `sources` from `data_dir`.
    pub fn load(data_dir: &Path, sources: &[CorpusSource]) -> Result<Corpus> {
        if sources.is_empty() {
            bail!(
                "the pretraining corpus is empty: list at least one of wikitext-2, imdb-unlabelled"
            );
        }
        let mut docs = Vec::new();
        for &source in sources {
            if source == CorpusSource::ImdbUnlabelled {
                // grue reads (and checks) the IMDB CSV; its errors name the file and the fix.
                let reviews = grue::imdb::pretraining_reviews(data_dir)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                docs.extend(reviews);
                continue;
            }
            for file in source.files() {
                let path = data_dir.join(file);
                let text = std::fs::read_to_string(&path).with_context(|| {
                    format!(
                        "cannot read pretraining text {} (run `runner data fetch {}` or point \
                         --data-dir / RFT_DATA_DIR at a data directory that has it)",
                        path.display(),
                        source.dataset()
                    )
                })?;
                let found = wikitext_articles(&text);
                if found.is_empty() {
                    bail!("{}: no documents found", path.display());
                }
                docs.extend(found);
            }
        }
        Ok(Corpus::from_documents(docs))
    }

    /// Splits documents into training and validation (every [`VALIDATION_EVERY`]-th).
    pub fn from_documents(docs: Vec<String>) -> Corpus {
        let sha256 = {
            let mut all = Vec::new();
            for d in &docs {
                all.extend_from_slice(d.as_bytes());
                all.push(0);
            }
            data::checksum::sha256_hex(&all)
        };
        let (mut train, mut validation) = (Vec::new(), Vec::new());
        for (i, d) in docs.into_iter().enumerate() {
            if (i + 1) % VALIDATION_EVERY == 0 {
                validation.push(d);
            } else {
                train.push(d);
            }
        }
        Corpus {
            train,
            validation,
            sha256,
        }
    }

    /// Bytes of training text.
    pub fn train_bytes(&self) -> usize {
        self.train.iter().map(String::len).sum()
    }
}

/// WikiText articles: a line ` = Title = ` (one `=` on each side) starts one. Escapes undone.
pub fn wikitext_articles(text: &str) -> Vec<String> {
    let mut articles: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let t = line.trim();
        let is_title = t.starts_with("= ") && t.ends_with(" =") && !t.starts_with("= =");
        if is_title && !current.trim().is_empty() {
            articles.push(std::mem::take(&mut current));
        }
        if t.is_empty() {
            continue;
        }
        let clean = t
            .replace(" @-@ ", "-")
            .replace(" @,@ ", ",")
            .replace(" @.@ ", ".");
        current.push_str(&clean);
        current.push('\n');
    }
    if !current.trim().is_empty() {
        articles.push(current);
    }
    articles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wikitext_splits_articles_at_top_level_titles_and_undoes_escapes() {
        let text = " \n = Alpha = \n \n It is 1 @,@ 000 @-@ odd . \n = = Part = = \n More . \n = Beta = \n Two @.@ 5 .\n";
        let a = wikitext_articles(text);
        assert_eq!(a.len(), 2);
        assert_eq!(a[0], "= Alpha =\nIt is 1,000-odd .\n= = Part = =\nMore .\n");
        assert_eq!(a[1], "= Beta =\nTwo.5 .\n");
    }

    #[test]
    fn every_twentieth_document_is_validation_and_the_hash_follows_the_text() {
        let docs: Vec<String> = (0..45).map(|i| format!("doc {i}")).collect();
        let c = Corpus::from_documents(docs.clone());
        assert_eq!(
            c.validation,
            vec!["doc 19".to_string(), "doc 39".to_string()]
        );
        assert_eq!(c.train.len(), 43);
        let mut other = docs;
        other[3].push('!');
        assert_ne!(Corpus::from_documents(other).sha256, c.sha256);
    }

    #[test]
    fn a_missing_file_names_it_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let err = Corpus::load(dir.path(), &[CorpusSource::Wikitext2]).unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("wikitext-2/valid.txt") && msg.contains("runner data fetch wikitext-2"),
            "{msg}"
        );
    }
}
