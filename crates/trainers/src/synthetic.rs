//! A tiny generation task for tests and demos: reverse a string of letters.
//!
//! Vocabulary: `0` = EOS (also padding), `1` = `=` (separator), `2..` = letters `a, b, ...`.
//! Prompt `a b c =`, target `c b a <eos>`. The reward scores the decoded letters (space
//! separated, up to EOS) against the reversed string with any metric of the `rewards` registry
//! (default: rouge-score ROUGE-L F, which gives partial credit and cares about order).
//!
//! The same examples train a GPT-2 ([`ReverseTask::model`]: prompt and completion in one sequence)
//! or a T5 ([`ReverseTask::t5_model`]: the prompt `a b c =` is the encoder's source, the decoder
//! starts from EOS/pad and writes `c b a <eos>`).

use burn::tensor::backend::Backend;
use model::{GPT2Config, GPT2LMHeadModel, T5Config, T5ForConditionalGeneration};
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::lm::{Example, TaskReward, Tokens};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReverseTask {
    /// Letters in the alphabet (<= 26).
    pub alphabet: usize,
    /// Letters per string.
    pub length: usize,
}

pub const EOS: u32 = 0;
pub const SEP: u32 = 1;

impl ReverseTask {
    pub fn validate(&self) -> Result<(), TrainError> {
        if !(1..=26).contains(&self.alphabet) || self.length == 0 {
            return Err(TrainError::Config(format!(
                "reverse task needs 1 <= alphabet <= 26 and length >= 1, got {} and {}",
                self.alphabet, self.length
            )));
        }
        Ok(())
    }

    pub fn vocab_size(&self) -> usize {
        self.alphabet + 2
    }

    pub fn tokens(&self) -> Tokens {
        Tokens {
            eos: Some(EOS),
            pad: EOS,
        }
    }

    /// Text of token ids: letters joined by spaces, stopping at EOS; `=` for the separator.
    pub fn decode(ids: &[u32]) -> String {
        ids.iter()
            .take_while(|&&t| t != EOS)
            .map(|&t| {
                if t == SEP {
                    "=".to_string()
                } else {
                    char::from(b'a' + (t - 2) as u8).to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Every string of `length` letters, in lexicographic order.
    pub fn examples(&self) -> Vec<Example> {
        crate::exact::all_sequences(self.alphabet, self.length)
            .into_iter()
            .map(|s| {
                let letters: Vec<u32> = s.iter().map(|&t| t + 2).collect();
                let mut prompt_ids = letters.clone();
                prompt_ids.push(SEP);
                let mut target_ids: Vec<u32> = letters.iter().rev().copied().collect();
                let reference = Self::decode(&target_ids);
                target_ids.push(EOS);
                Example {
                    prompt: Self::decode(&prompt_ids),
                    prompt_ids,
                    references: vec![reference],
                    target_ids,
                }
            })
            .collect()
    }

    /// The task reward: registry metric `id` with `args`, on decoded text.
    pub fn reward(&self, id: &str, args: &serde_yaml::Value) -> Result<TaskReward, TrainError> {
        let reward = rewards::build(id, args).map_err(|e| TrainError::Config(e.to_string()))?;
        Ok(TaskReward {
            reward,
            decode: Box::new(|ids: &[u32]| Self::decode(ids)),
        })
    }

    /// A small GPT-2 for this vocabulary, initialised from `seed`.
    pub fn model<B: Backend>(
        &self,
        n_layer: usize,
        n_embd: usize,
        n_head: usize,
        seed: u64,
        device: &B::Device,
    ) -> Result<GPT2LMHeadModel<B>, TrainError> {
        let config = GPT2Config {
            vocab_size: self.vocab_size(),
            n_positions: 2 * self.length + 4,
            n_embd,
            n_layer,
            n_head,
            bos_token_id: None,
            eos_token_id: Some(EOS),
            ..GPT2Config::default()
        };
        Ok(GPT2LMHeadModel::init(config, seed, device)?)
    }

    /// A small T5 for this vocabulary, initialised from `seed`: `n_layer` encoder and `n_layer`
    /// decoder blocks, `d_model` wide, `n_head` heads of `d_model / n_head`, feed-forward
    /// `4 d_model`, tied embeddings. Pad, EOS and the decoder start are all [`EOS`] (T5 starts its
    /// decoder from pad). The prompt goes to the encoder as is, without T5's appended `</s>`: the
    /// separator already ends it.
    pub fn t5_model<B: Backend>(
        &self,
        n_layer: usize,
        d_model: usize,
        n_head: usize,
        seed: u64,
        device: &B::Device,
    ) -> Result<T5ForConditionalGeneration<B>, TrainError> {
        if n_head == 0 || !d_model.is_multiple_of(n_head) {
            return Err(TrainError::Config(format!(
                "t5_model needs n_head dividing d_model, got {n_head} and {d_model}"
            )));
        }
        let config = T5Config {
            vocab_size: self.vocab_size(),
            d_model,
            d_kv: d_model / n_head,
            d_ff: 4 * d_model,
            num_layers: n_layer,
            num_decoder_layers: Some(n_layer),
            num_heads: n_head,
            relative_attention_num_buckets: 8,
            relative_attention_max_distance: 2 * self.length + 4,
            pad_token_id: EOS,
            eos_token_id: EOS,
            decoder_start_token_id: EOS,
            ..T5Config::default()
        };
        Ok(T5ForConditionalGeneration::init(config, seed, device)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_reverse_their_prompt() {
        let t = ReverseTask {
            alphabet: 3,
            length: 2,
        };
        let ex = t.examples();
        assert_eq!(ex.len(), 9);
        assert_eq!(ex[5].prompt, "b c =");
        assert_eq!(ex[5].prompt_ids, vec![3, 4, SEP]);
        assert_eq!(ex[5].target_ids, vec![4, 3, EOS]);
        assert_eq!(ex[5].references, vec!["c b".to_string()]);
        assert_eq!(ReverseTask::decode(&[4, 3, EOS, 2]), "c b");
    }
}
