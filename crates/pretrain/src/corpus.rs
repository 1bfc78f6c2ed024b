//! The pretraining text: general English from the data directory, split into documents, with a
//! held-out validation set.
//!
//! Sources (choose in the spec's `corpus:` list):
//! * `wikitext-2`: WikiText-2's validation and test files (`wikitext-2/{valid,test}.txt`; the
//!   train split is not in the data directory). One document per article (a ` = Title = ` line
//!   starts one). WikiText's number and hyphen escapes (` @-@ `, ` @,@ `, ` @.@ `) are undone;
//!   its `<unk>` tokens are kept as text.
//! * `imdb-unlabelled`: movie reviews, standing in for the IMDB text `lvwerra/gpt2-imdb` was
//!   finetuned on: the reviews at odd positions (1, 3, 5, ... in file order) of the IMDB test
//!   file `imdb/imdb_test_subset.csv`. The IMDB task holds out the even positions as its test
//!   pool and draws its training prompts from the train file, so no task input is pretrained on.
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
                let found = match source {
                    CorpusSource::Wikitext2 => wikitext_articles(&text),
                    CorpusSource::ImdbUnlabelled => {
                        let rows = csv_rows(&text).with_context(|| path.display().to_string())?;
                        imdb_odd_reviews(&rows).with_context(|| path.display().to_string())?
                    }
                };
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

/// The `review` column of the rows at odd positions (1, 3, ...) of an IMDB CSV (header
/// `id,rating,label,review`).
pub fn imdb_odd_reviews(rows: &[Vec<String>]) -> Result<Vec<String>> {
    let Some((header, body)) = rows.split_first() else {
        bail!("empty CSV: expected a header id,rating,label,review");
    };
    let col = header
        .iter()
        .position(|h| h == "review")
        .with_context(|| format!("no `review` column in the header {header:?}"))?;
    body.iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(i, row)| {
            row.get(col)
                .cloned()
                .with_context(|| format!("row {} has {} fields, no review", i + 2, row.len()))
        })
        .collect()
}

/// RFC 4180 CSV: comma-separated, `"`-quoted fields with `""` escapes and newlines inside quotes.
pub fn csv_rows(text: &str) -> Result<Vec<Vec<String>>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let (mut quoted, mut line) = (false, 1usize);
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                line += 1;
            }
            _ => field.push(c),
        }
    }
    if quoted {
        bail!("line {line}: a quoted field is never closed");
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    Ok(rows)
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
    fn csv_reads_quotes_escapes_and_newlines_and_imdb_keeps_odd_rows() {
        let text = "id,rating,label,review\n0,9,1,\"Great, \"\"really\"\".\nYes\"\n1,2,0,Bad\r\n2,8,1,Fine\n3,1,0,\"Awful\"";
        let rows = csv_rows(text).unwrap();
        assert_eq!(rows.len(), 5);
        assert_eq!(rows[1][3], "Great, \"really\".\nYes");
        assert_eq!(
            imdb_odd_reviews(&rows).unwrap(),
            vec!["Bad".to_string(), "Awful".to_string()]
        );
        assert!(csv_rows("a,\"b\n").is_err());
        assert!(imdb_odd_reviews(&csv_rows("id,text\n1,x\n2,y\n").unwrap()).is_err());
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
