//! GPT-2 and T5 in burn: Hugging Face checkpoints, teacher-forced scoring and sampling.
pub mod alloc;
pub mod backend;
pub mod fused;
pub mod gpt2;
pub mod params;
pub mod weights;
// Checkpoints by directory or hub id; `pytorch_model.bin`; the DistilBERT sentiment classifier.
pub mod checkpoint;
pub mod distilbert;
pub mod hub;
pub mod hub_server;
pub mod torch_pickle;

pub use alloc::tune_allocator;
pub use backend::{BackendTask, CpuBackend, CpuDevice, DeviceError, DeviceKind, probe, run_on};
pub use gpt2::{GPT2Config, GPT2LMHeadModel, KvCache};
pub use params::ParamSource;
pub use weights::ModelError;
// Language-model interfaces, teacher-forced scoring and sampling (beam search is below).
pub mod lm;
pub mod sampling;
pub mod scoring;

pub use lm::{CausalLM, Seq2SeqLM};
pub use sampling::{
    CausalSession, DecodeSession, Generated, SamplingConfig, Seq2SeqSession, generate,
    generate_seq2seq, sample, sampling_distribution,
};
pub use scoring::{
    CausalBatch, CompletionScores, Seq2SeqBatch, TokenScores, completion_logprobs,
    score_completions, score_seq2seq, score_tokens, seq2seq_logprobs, token_logprobs,
};
pub mod tokenizer;

pub use tokenizer::{Gpt2Tokenizer, LmTokenizer, T5Tokenizer, TokenizerError};
pub mod sentencepiece;
pub mod value_head;

pub use value_head::ValueHead;
pub mod t5;

pub use t5::{T5Cache, T5Config, T5ForConditionalGeneration};
pub mod beam;

pub use beam::{BeamConfig, BeamOutput, EarlyStopping, beam_search, beam_search_seq2seq};
// Classifiers of the controlled experiments (paper, Section 4.2).
pub mod bert;
pub mod bert_tokenizer;
pub mod mlp;
pub mod resnet;
pub mod seeded;

pub use bert::{BertConfig, BertForSequenceClassification};
pub use bert_tokenizer::{BertTokenizer, PairEncoding};
pub use distilbert::{DistilBertClassifier, DistilBertConfig, DistilBertForSequenceClassification};
pub use mlp::{Mlp, MlpConfig};
pub use resnet::{ResNet18, ResNet18Config};
pub use seeded::SeededInit;
