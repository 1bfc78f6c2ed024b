//! Small GPT-2 and T5 language models pretrained from scratch here: the default profile's models
//! to finetune, since no pretrained weights can be downloaded on machines without internet.
//!
//! * [`spec`]: what to pretrain (the `pretrain:` block of a sweep file).
//! * [`corpus`]: the English text it learns from (WikiText-2 and unlabelled IMDB reviews), with
//!   a held-out validation set.
//! * [`classifier`]: the default profile's IMDB sentiment classifier for `learned_reward` (a small
//!   DistilBERT trained here), cached and resumable the same way.
//! * [`span`]: T5's span-corruption objective.
//! * [`train`]: the loop (AdamW, warm-up and linear decay, gradient clipping), its cache (a
//!   Hugging Face checkpoint directory per spec and corpus) and its resumable checkpoints.
//!
//! A GPT-2 learns causal language modelling on windows of the corpus; a T5 learns span
//! corruption. Both use a byte-level BPE trained here on the same text (T5's with T5's special
//! ids and sentinels). The paper finetunes hub checkpoints (`gpt2`, `t5-base`), which the `paper`
//! profile loads instead.

pub mod classifier;
pub mod corpus;
pub mod partial;
pub mod span;
pub mod spec;
pub mod train;

pub use classifier::{
    ClassifierArchitecture, ClassifierData, ClassifierLogRow, ClassifierRecord, ClassifierSpec,
    LabelledData, TrainedClassifier, classifier_cache_key, find_classifier, train_classifier,
    train_classifier_on,
};
pub use corpus::{Corpus, CorpusSource};
pub use spec::{Architecture, PretrainSpec, TokenizerSpec};
pub use train::{LogRow, PretrainRecord, Pretrained, RunOptions, cache_key, find, pretrain};
