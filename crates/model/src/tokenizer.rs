//! Tokenizers, through the `tokenizers` crate.
//!
//! * [`Gpt2Tokenizer`] is GPT-2's byte-level BPE built from OpenAI's `encoder.json` + `vocab.bpe`
//!   (the same content as Hugging Face's `vocab.json` + `merges.txt`), read from a
//!   `tokenizer.json`, or trained on a corpus ([`Gpt2Tokenizer::train`], for the small models we
//!   pretrain ourselves). Special tokens are never matched inside text: `"<|endoftext|>"` in a
//!   string is encoded as plain text (HF's `split_special_tokens=True`); append
//!   [`Gpt2Tokenizer::eos_token_id`] by id instead.
//! * [`T5Tokenizer`] is T5's SentencePiece Unigram model converted from `spiece.model` the way
//!   Hugging Face's `T5Tokenizer` (transformers 5) builds it: pieces and scores plus 100
//!   `<extra_id_N>` sentinels, SentencePiece's precompiled normaliser, whitespace split and
//!   `▁` metaspace, `</s>` appended. Special tokens written in text (`</s>`, `<extra_id_0>`) are
//!   matched, as HF does by default.
//! * [`LmTokenizer`] picks one of the two for a checkpoint directory.
//!
//! Data files are found under a data directory: [`data_dir`] reads `RFT_DATA_DIR`, default `data/`.

use std::path::{Path, PathBuf};

use tokenizers::AddedToken;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::TrainerWrapper;
use tokenizers::models::bpe::{BPE, BpeTrainer};
use tokenizers::models::unigram::Unigram;
use tokenizers::normalizers::Precompiled;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::whitespace::WhitespaceSplit;
use tokenizers::processors::template::TemplateProcessing;

use crate::sentencepiece::{SentencePieceError, SentencePieceModel};

/// Why a tokenizer could not be built or used.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error("tokenizer file {0} not found (set --data-dir or RFT_DATA_DIR)")]
    NotFound(PathBuf),
    #[error("{context}: {message}")]
    Tokenizers { context: String, message: String },
    #[error(transparent)]
    SentencePiece(#[from] SentencePieceError),
    #[error(
        "{0}: no tokenizer found; expected tokenizer.json, vocab.json + merges.txt (GPT-2) or \
         spiece.model (T5)"
    )]
    NoTokenizer(PathBuf),
}

fn wrap(context: impl Into<String>) -> impl FnOnce(tokenizers::Error) -> TokenizerError {
    let context = context.into();
    move |e| TokenizerError::Tokenizers {
        context,
        message: e.to_string(),
    }
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

    fn from_tokenizer(mut inner: tokenizers::Tokenizer) -> Result<Self, TokenizerError> {
        // Special tokens written in text are split as plain text (HF's split_special_tokens).
        inner.set_encode_special_tokens(true);
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

    /// Trains a GPT-2-style byte-level BPE on `texts`: byte-level pre-tokenizer with GPT-2's
    /// regex, all 256 byte symbols in the initial alphabet (so any text round-trips), merges
    /// learned until `vocab_size` tokens (including `<|endoftext|>`), pairs seen fewer than
    /// `min_frequency` times are not merged.
    pub fn train<I, S>(
        texts: I,
        vocab_size: usize,
        min_frequency: u64,
    ) -> Result<Self, TokenizerError>
    where
        I: Iterator<Item = S> + Send,
        S: AsRef<str> + Send,
    {
        let mut inner = tokenizers::Tokenizer::new(BPE::default());
        inner.with_pre_tokenizer(Some(
            ByteLevel::default()
                .add_prefix_space(false)
                .trim_offsets(true)
                .use_regex(true),
        ));
        inner.with_decoder(Some(ByteLevelDecoder::default()));
        let mut trainer: TrainerWrapper = BpeTrainer::builder()
            .vocab_size(vocab_size)
            .min_frequency(min_frequency)
            .show_progress(false)
            .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
            .special_tokens(vec![AddedToken::from("<|endoftext|>", true)])
            .build()
            .into();
        inner
            .train(&mut trainer, texts)
            .map_err(wrap("training a byte-level BPE"))?;
        Self::from_tokenizer(inner)
    }

    /// Writes the tokenizer as a Hugging Face `tokenizer.json` (temp file + rename).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), TokenizerError> {
        save_tokenizer(&self.inner, path.as_ref())
    }
}

fn save_tokenizer(inner: &tokenizers::Tokenizer, path: &Path) -> Result<(), TokenizerError> {
    let context = format!("writing {}", path.display());
    let json = inner.to_string(true).map_err(wrap(context.clone()))?;
    atomicwrite::write(path, json.as_bytes()).map_err(|e| TokenizerError::Tokenizers {
        context,
        message: e.to_string(),
    })
}

/// Number of `<extra_id_N>` sentinel tokens T5's tokenizer appends to the SentencePiece pieces.
pub const T5_EXTRA_IDS: usize = 100;

/// T5's tokenizer: SentencePiece Unigram, as Hugging Face's `T5Tokenizer` builds it.
pub struct T5Tokenizer {
    inner: tokenizers::Tokenizer,
    eos_token_id: u32,
    pad_token_id: u32,
}

impl T5Tokenizer {
    /// Reads `<data_dir>/tokenizers/t5/spiece.model`.
    pub fn from_data_dir(data_dir: impl AsRef<Path>) -> Result<Self, TokenizerError> {
        Self::from_spiece(data_dir.as_ref().join("tokenizers/t5/spiece.model"))
    }

    /// Converts a SentencePiece Unigram model (`spiece.model`), as HF's `convert_slow_tokenizer`
    /// and `T5Tokenizer` do: vocabulary = the pieces with their scores, then `<extra_id_99>` ..
    /// `<extra_id_0>` (score 0); `unk_id` from the trainer spec; the precompiled normaliser
    /// (NFKC-based, from the model file); pre-tokenizer = whitespace split then `▁` metaspace
    /// prepended to every word; `</s>` appended by the post-processor; `<pad>`, `</s>`, `<unk>`
    /// and the sentinels are special tokens.
    pub fn from_spiece(path: impl AsRef<Path>) -> Result<Self, TokenizerError> {
        let path = path.as_ref();
        if !path.is_file() {
            return Err(TokenizerError::NotFound(path.to_path_buf()));
        }
        let spm = SentencePieceModel::open(path)?;
        let bad = |message: String| TokenizerError::Tokenizers {
            context: format!("converting {}", path.display()),
            message,
        };
        if spm.model_type != 1 {
            return Err(bad(format!(
                "model_type {} is not Unigram (1)",
                spm.model_type
            )));
        }
        let mut vocab: Vec<(String, f64)> = spm
            .pieces
            .iter()
            .map(|p| (p.piece.clone(), p.score as f64))
            .collect();
        let sentinels: Vec<String> = (0..T5_EXTRA_IDS)
            .rev()
            .map(|i| format!("<extra_id_{i}>"))
            .collect();
        vocab.extend(sentinels.iter().map(|s| (s.clone(), 0.0)));
        let unigram = Unigram::from(vocab, Some(spm.unk_id), spm.byte_fallback)
            .map_err(|e| bad(e.to_string()))?;
        let mut inner = tokenizers::Tokenizer::new(unigram);
        if !spm.precompiled_charsmap.is_empty() {
            let normalizer = Precompiled::from(&spm.precompiled_charsmap)
                .map_err(|e| bad(format!("precompiled_charsmap: {e}")))?;
            inner.with_normalizer(Some(normalizer));
        }
        inner.with_pre_tokenizer(Some(Sequence::new(vec![
            WhitespaceSplit.into(),
            Metaspace::new('\u{2581}', PrependScheme::Always, true).into(),
        ])));
        inner.with_decoder(Some(Metaspace::new(
            '\u{2581}',
            PrependScheme::Always,
            true,
        )));
        let id = |token: &str| {
            inner
                .token_to_id(token)
                .ok_or_else(|| bad(format!("the vocabulary has no `{token}`")))
        };
        let eos = id("</s>")?;
        id("<pad>")?;
        let post: TemplateProcessing = serde_json::from_value(serde_json::json!({
            "type": "TemplateProcessing",
            "single": [{"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "</s>", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 0}},
                     {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "special_tokens": {"</s>": {"id": "</s>", "ids": [eos], "tokens": ["</s>"]}},
        }))
        .map_err(|e| bad(e.to_string()))?;
        inner.with_post_processor(Some(post));
        let unk = spm.pieces[spm.unk_id].piece.clone();
        let special: Vec<AddedToken> = ["<pad>", "</s>", unk.as_str()]
            .into_iter()
            .map(str::to_string)
            .chain(sentinels)
            .map(|t| AddedToken::from(t, true))
            .collect();
        inner.add_special_tokens(&special);
        Self::from_tokenizer(inner)
    }

    /// Trains a byte-level BPE for a T5-style model pretrained here: T5's special tokens and
    /// their ids (`<pad>` = 0, `</s>` = 1, `<unk>` = 2), merges learned on `texts` until
    /// `vocab_size` tokens including `extra_ids` sentinels `<extra_id_0>`..`<extra_id_{n-1}>`
    /// (added last, as T5's vocabulary ends with its sentinels), `</s>` appended by the
    /// post-processor as HF's T5 tokenizers do. Deviation from T5 (a SentencePiece Unigram): a
    /// byte-level BPE, so any text round-trips and the same trainer serves both model families.
    pub fn train<I, S>(
        texts: I,
        vocab_size: usize,
        min_frequency: u64,
        extra_ids: usize,
    ) -> Result<Self, TokenizerError>
    where
        I: Iterator<Item = S> + Send,
        S: AsRef<str> + Send,
    {
        let bad = |message: String| TokenizerError::Tokenizers {
            context: "training a T5-style byte-level BPE".into(),
            message,
        };
        if vocab_size <= 3 + extra_ids + 256 {
            return Err(bad(format!(
                "vocab_size {vocab_size} leaves no room for merges after 3 special tokens, \
                 {extra_ids} sentinels and 256 bytes"
            )));
        }
        let mut inner = tokenizers::Tokenizer::new(BPE::default());
        inner.with_pre_tokenizer(Some(
            ByteLevel::default()
                .add_prefix_space(false)
                .trim_offsets(true)
                .use_regex(true),
        ));
        inner.with_decoder(Some(ByteLevelDecoder::default()));
        let specials: Vec<AddedToken> = ["<pad>", "</s>", "<unk>"]
            .into_iter()
            .map(|t| AddedToken::from(t, true))
            .collect();
        let mut trainer: TrainerWrapper = BpeTrainer::builder()
            .vocab_size(vocab_size - extra_ids)
            .min_frequency(min_frequency)
            .show_progress(false)
            .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
            .special_tokens(specials)
            .build()
            .into();
        inner
            .train(&mut trainer, texts)
            .map_err(wrap("training a T5-style byte-level BPE"))?;
        let sentinels: Vec<AddedToken> = (0..extra_ids)
            .map(|i| AddedToken::from(format!("<extra_id_{i}>"), true))
            .collect();
        inner.add_special_tokens(&sentinels);
        let eos = inner
            .token_to_id("</s>")
            .ok_or_else(|| bad("no </s> after training".into()))?;
        let post: TemplateProcessing = serde_json::from_value(serde_json::json!({
            "type": "TemplateProcessing",
            "single": [{"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "</s>", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 0}},
                     {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "special_tokens": {"</s>": {"id": "</s>", "ids": [eos], "tokens": ["</s>"]}},
        }))
        .map_err(|e| bad(e.to_string()))?;
        inner.with_post_processor(Some(post));
        Self::from_tokenizer(inner)
    }

    /// Id of a token (e.g. a sentinel `<extra_id_0>`), if the vocabulary has it.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// Reads a Hugging Face `tokenizer.json` of a T5 model.
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
        let id = |token: &str| {
            inner
                .token_to_id(token)
                .ok_or_else(|| TokenizerError::Tokenizers {
                    context: "T5 vocabulary".into(),
                    message: format!("has no {token} token"),
                })
        };
        Ok(T5Tokenizer {
            eos_token_id: id("</s>")?,
            pad_token_id: id("<pad>")?,
            inner,
        })
    }

    /// Ids of `text`, with `</s>` appended when `add_eos` (as HF does for T5 inputs and labels).
    pub fn encode(&self, text: &str, add_eos: bool) -> Result<Vec<u32>, TokenizerError> {
        let encoding = self.inner.encode(text, add_eos).map_err(wrap("encoding"))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Text of `ids`; special tokens (`</s>`, `<pad>`, sentinels) are dropped when `skip_special`.
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String, TokenizerError> {
        self.inner
            .decode(ids, skip_special)
            .map_err(wrap("decoding"))
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    pub fn eos_token_id(&self) -> u32 {
        self.eos_token_id
    }

    pub fn pad_token_id(&self) -> u32 {
        self.pad_token_id
    }

    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }

    /// Writes the tokenizer as a Hugging Face `tokenizer.json` (temp file + rename).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), TokenizerError> {
        save_tokenizer(&self.inner, path.as_ref())
    }
}

/// The tokenizer of a causal (GPT-2) or encoder-decoder (T5) checkpoint.
pub enum LmTokenizer {
    Gpt2(Gpt2Tokenizer),
    T5(T5Tokenizer),
}

impl LmTokenizer {
    /// Finds the tokenizer files in a checkpoint directory: `tokenizer.json`, else GPT-2's
    /// `vocab.json` + `merges.txt` (or `encoder.json` + `vocab.bpe`), else T5's `spiece.model`.
    /// `seq2seq` says which family the model is (T5 when true).
    pub fn from_checkpoint(dir: impl AsRef<Path>, seq2seq: bool) -> Result<Self, TokenizerError> {
        let dir = dir.as_ref();
        let json = dir.join("tokenizer.json");
        if seq2seq {
            if json.is_file() {
                return Ok(LmTokenizer::T5(T5Tokenizer::from_tokenizer_json(json)?));
            }
            if dir.join("spiece.model").is_file() {
                return Ok(LmTokenizer::T5(T5Tokenizer::from_spiece(
                    dir.join("spiece.model"),
                )?));
            }
        } else {
            if json.is_file() {
                return Ok(LmTokenizer::Gpt2(Gpt2Tokenizer::from_tokenizer_json(json)?));
            }
            for (vocab, merges) in [("vocab.json", "merges.txt"), ("encoder.json", "vocab.bpe")] {
                if dir.join(vocab).is_file() && dir.join(merges).is_file() {
                    return Ok(LmTokenizer::Gpt2(Gpt2Tokenizer::from_files(
                        dir.join(vocab),
                        dir.join(merges),
                    )?));
                }
            }
        }
        Err(TokenizerError::NoTokenizer(dir.to_path_buf()))
    }

    /// Ids of a text: GPT-2's as they are (no EOS); T5's with `</s>` appended, as HF encodes both
    /// T5 inputs and labels.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, TokenizerError> {
        match self {
            LmTokenizer::Gpt2(t) => t.encode(text),
            LmTokenizer::T5(t) => t.encode(text, true),
        }
    }

    /// Text of generated ids, special tokens dropped.
    pub fn decode(&self, ids: &[u32]) -> Result<String, TokenizerError> {
        match self {
            LmTokenizer::Gpt2(t) => t.inner().decode(ids, true).map_err(wrap("decoding")),
            LmTokenizer::T5(t) => t.decode(ids, true),
        }
    }

    /// The text of each id (e.g. `Ġworld`, `▁world`), for per-token output.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        match self {
            LmTokenizer::Gpt2(t) => t.inner().id_to_token(id),
            LmTokenizer::T5(t) => t.inner().id_to_token(id),
        }
    }

    pub fn eos_token_id(&self) -> u32 {
        match self {
            LmTokenizer::Gpt2(t) => t.eos_token_id(),
            LmTokenizer::T5(t) => t.eos_token_id(),
        }
    }
}
