//! Tokenizers, through the `tokenizers` crate.
//!
//! [`Gpt2Tokenizer`] is GPT-2's byte-level BPE built from OpenAI's `encoder.json` + `vocab.bpe`
//! (the same content as Hugging Face's `vocab.json` + `merges.txt`), or read from a `tokenizer.json`.
//! Special tokens are never matched inside text: `"<|endoftext|>"` in a string is encoded as plain
//! text (HF's `split_special_tokens=True`); append [`Gpt2Tokenizer::eos_token_id`] by id instead.
//!
//! Data files are found under a data directory: [`data_dir`] reads `RFT_DATA_DIR`, default `data/`.

use std::path::{Path, PathBuf};

use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;

/// Why a tokenizer could not be built or used.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error("tokenizer file {0} not found (set --data-dir or RFT_DATA_DIR)")]
    NotFound(PathBuf),
    #[error("{context}: {message}")]
    Tokenizers { context: String, message: String },
}

fn wrap(context: impl Into<String>) -> impl FnOnce(tokenizers::Error) -> TokenizerError {
    let context = context.into();
    move |e| TokenizerError::Tokenizers {
        context,
        message: e.to_string(),
    }
}

/// The data directory: `RFT_DATA_DIR` if set, else `data` (relative to the working directory).
pub fn data_dir() -> PathBuf {
    std::env::var_os("RFT_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("data"))
}

/// GPT-2's tokenizer (50,257 ids; `<|endoftext|>` = 50256).
pub struct Gpt2Tokenizer {
    inner: tokenizers::Tokenizer,
    eos_token_id: u32,
}

impl Gpt2Tokenizer {
    /// Reads `<data_dir>/tokenizers/gpt2/{encoder.json, vocab.bpe}`.
    pub fn from_data_dir(data_dir: impl AsRef<Path>) -> Result<Self, TokenizerError> {
        let dir = data_dir.as_ref().join("tokenizers").join("gpt2");
        Self::from_files(dir.join("encoder.json"), dir.join("vocab.bpe"))
    }

    /// Builds the byte-level BPE from a vocabulary (`encoder.json`/`vocab.json`) and merges
    /// (`vocab.bpe`/`merges.txt`), configured as Hugging Face's `gpt2` tokenizer: byte-level
    /// pre-tokenizer with GPT-2's regex and no prefix space, byte-level decoder.
    pub fn from_files(
        vocab: impl AsRef<Path>,
        merges: impl AsRef<Path>,
    ) -> Result<Self, TokenizerError> {
        let (vocab, merges) = (vocab.as_ref(), merges.as_ref());
        for path in [vocab, merges] {
            if !path.is_file() {
                return Err(TokenizerError::NotFound(path.to_path_buf()));
            }
        }
        let bpe = BPE::from_file(&vocab.to_string_lossy(), &merges.to_string_lossy())
            .build()
            .map_err(wrap(format!(
                "reading {} and {}",
                vocab.display(),
                merges.display()
            )))?;
        let mut inner = tokenizers::Tokenizer::new(bpe);
        inner.with_pre_tokenizer(Some(
            ByteLevel::default()
                .add_prefix_space(false)
                .trim_offsets(true)
                .use_regex(true),
        ));
        inner.with_decoder(Some(ByteLevelDecoder::default()));
        Self::from_tokenizer(inner)
    }

    /// Reads a Hugging Face `tokenizer.json`.
    pub fn from_tokenizer_json(path: impl AsRef<Path>) -> Result<Self, TokenizerError> {
        let path = path.as_ref();
        if !path.is_file() {
            return Err(TokenizerError::NotFound(path.to_path_buf()));
        }
        let inner = tokenizers::Tokenizer::from_file(path)
            .map_err(wrap(format!("reading {}", path.display())))?;
        Self::from_tokenizer(inner)
    }

    fn from_tokenizer(inner: tokenizers::Tokenizer) -> Result<Self, TokenizerError> {
        let eos_token_id =
            inner
                .token_to_id("<|endoftext|>")
                .ok_or_else(|| TokenizerError::Tokenizers {
                    context: "GPT-2 vocabulary".into(),
                    message: "has no <|endoftext|> token".into(),
                })?;
        Ok(Gpt2Tokenizer {
            inner,
            eos_token_id,
        })
    }

    pub fn encode(&self, text: &str) -> Result<Vec<u32>, TokenizerError> {
        let encoding = self.inner.encode(text, false).map_err(wrap("encoding"))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Decodes ids back to text (special tokens included as their text).
    pub fn decode(&self, ids: &[u32]) -> Result<String, TokenizerError> {
        self.inner.decode(ids, false).map_err(wrap("decoding"))
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    pub fn eos_token_id(&self) -> u32 {
        self.eos_token_id
    }

    /// The underlying `tokenizers::Tokenizer` (e.g. to save it as `tokenizer.json`).
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }
}
