//! BERT's uncased WordPiece tokenizer (`bert-base-uncased`, also `prajjwal1/bert-mini`) for sentence
//! pairs, built from a `vocab.txt` with the `tokenizers` crate the way Hugging Face's
//! `BertTokenizerFast` is: BERT normaliser (clean text, CJK spacing, lowercase, strip accents), BERT
//! pre-tokeniser (whitespace and punctuation), WordPiece (`##` continuations, `[UNK]`), and the
//! pair template `[CLS] A [SEP] B [SEP]` with token type 0 for `[CLS] A [SEP]` and 1 for `B [SEP]`.
//! Pairs longer than `max_length` are truncated longest-first, as `truncation=True`.

use std::path::Path;

use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::bert::BertProcessing;
use tokenizers::{Model, TruncationParams, TruncationStrategy};

use crate::tokenizer::TokenizerError;

/// A tokenised sentence pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairEncoding {
    pub input_ids: Vec<u32>,
    pub token_type_ids: Vec<u32>,
}

/// BERT's WordPiece tokenizer for sentence pairs.
pub struct BertTokenizer {
    inner: tokenizers::Tokenizer,
    pub pad_token_id: u32,
    pub cls_token_id: u32,
    pub sep_token_id: u32,
    pub unk_token_id: u32,
    pub vocab_size: usize,
}

impl BertTokenizer {
    /// Build from a WordPiece `vocab.txt` (one token per line, id = line number).
    pub fn from_vocab(vocab: &Path, max_length: usize) -> Result<Self, TokenizerError> {
        if !vocab.is_file() {
            return Err(TokenizerError::NotFound(vocab.to_path_buf()));
        }
        let context = format!("BERT vocabulary {}", vocab.display());
        // Found by the property tests: below 3 (`[CLS] a [SEP] b [SEP]`), tokenizers' truncation
        // underflows and panics.
        if max_length < 3 {
            return Err(TokenizerError::Tokenizers {
                context,
                message: format!(
                    "max_length {max_length} leaves no room for [CLS] and two [SEP]; use at least 3"
                ),
            });
        }
        let wrap = |e: tokenizers::Error| TokenizerError::Tokenizers {
            context: context.clone(),
            message: e.to_string(),
        };
        let path = vocab.to_str().ok_or_else(|| TokenizerError::Tokenizers {
            context: context.clone(),
            message: "path is not UTF-8".into(),
        })?;
        let wordpiece = WordPiece::from_file(path)
            .unk_token("[UNK]".into())
            .build()
            .map_err(wrap)?;
        let id =
            |token: &str| {
                wordpiece.get_vocab().get(token).copied().ok_or_else(|| {
                    TokenizerError::Tokenizers {
                        context: context.clone(),
                        message: format!("the vocabulary has no {token} token"),
                    }
                })
            };
        let (pad, cls, sep, unk) = (id("[PAD]")?, id("[CLS]")?, id("[SEP]")?, id("[UNK]")?);
        let vocab_size = wordpiece.get_vocab().len();
        let mut inner = tokenizers::Tokenizer::new(wordpiece);
        inner.with_normalizer(Some(BertNormalizer::new(true, true, None, true)));
        inner.with_pre_tokenizer(Some(BertPreTokenizer));
        inner.with_post_processor(Some(BertProcessing::new(
            ("[SEP]".into(), sep),
            ("[CLS]".into(), cls),
        )));
        inner
            .with_truncation(Some(TruncationParams {
                max_length,
                strategy: TruncationStrategy::LongestFirst,
                ..Default::default()
            }))
            .map_err(wrap)?;
        Ok(BertTokenizer {
            inner,
            pad_token_id: pad,
            cls_token_id: cls,
            sep_token_id: sep,
            unk_token_id: unk,
            vocab_size,
        })
    }

    /// The underlying `tokenizers` pipeline (single texts encode as `[CLS] text [SEP]`).
    pub fn into_inner(self) -> tokenizers::Tokenizer {
        self.inner
    }

    /// `[CLS] a [SEP] b [SEP]` with token types.
    pub fn encode_pair(&self, a: &str, b: &str) -> Result<PairEncoding, TokenizerError> {
        let enc = self
            .inner
            .encode((a, b), true)
            .map_err(|e| TokenizerError::Tokenizers {
                context: "encoding a sentence pair".into(),
                message: e.to_string(),
            })?;
        Ok(PairEncoding {
            input_ids: enc.get_ids().to_vec(),
            token_type_ids: enc.get_type_ids().to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_vocab(dir: &Path) -> std::path::PathBuf {
        let tokens = [
            "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "man", "is", "play", "##ing", ".",
            "guitar", "cafe",
        ];
        let path = dir.join("vocab.txt");
        std::fs::write(&path, tokens.join("\n") + "\n").unwrap();
        path
    }

    #[test]
    fn pair_template_wordpieces_lowercase_and_accents() {
        let dir = tempfile::tempdir().unwrap();
        let tok = BertTokenizer::from_vocab(&tiny_vocab(dir.path()), 512).unwrap();
        assert_eq!(
            (tok.pad_token_id, tok.cls_token_id, tok.sep_token_id),
            (0, 2, 3)
        );
        let e = tok.encode_pair("A man is Playing.", "Café zither").unwrap();
        // [CLS] a man is play ##ing . [SEP] cafe [UNK] [SEP]
        assert_eq!(e.input_ids, vec![2, 5, 6, 7, 8, 9, 10, 3, 12, 1, 3]);
        assert_eq!(e.token_type_ids, vec![0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
    }

    #[test]
    fn long_pairs_are_truncated_longest_first() {
        let dir = tempfile::tempdir().unwrap();
        let tok = BertTokenizer::from_vocab(&tiny_vocab(dir.path()), 8).unwrap();
        let e = tok
            .encode_pair("a man a man a man a man", "guitar")
            .unwrap();
        assert_eq!(e.input_ids.len(), 8);
        assert_eq!(e.input_ids, vec![2, 5, 6, 5, 6, 3, 11, 3]);
        assert!(matches!(
            BertTokenizer::from_vocab(&dir.path().join("none.txt"), 8),
            Err(TokenizerError::NotFound(_))
        ));
    }
}
