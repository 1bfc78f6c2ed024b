//! The language-model side shared by every trainer: examples, the task reward, generation
//! settings, and greedy evaluation of any [`Policy`] (GPT-2 or T5). Teacher-forced scores and
//! their token layout are the policy's ([`crate::policy`]).

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use model::{CompletionScores, SamplingConfig};
use rewards::{Reward, Sample};

use crate::policy::{Layout, Policy};

/// One input `x` of the RFT objective: a tokenised prompt, its reference texts (for the reward)
/// and one tokenised reference continuation (for SFT).
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub prompt_ids: Vec<u32>,
    pub prompt: String,
    pub references: Vec<String>,
    pub target_ids: Vec<u32>,
}

/// Text of generated tokens (the task's detokeniser).
pub type Decode = Box<dyn Fn(&[u32]) -> String + Send + Sync>;

/// The task reward r(x, y): decode the generated tokens, score them with a [`rewards::Reward`].
pub struct TaskReward {
    pub reward: Box<dyn Reward>,
    pub decode: Decode,
}

impl TaskReward {
    /// `r(x_i, y_i)` for each pair, scored in parallel.
    pub fn score(&self, examples: &[&Example], outputs: &[Vec<u32>]) -> Vec<f64> {
        let samples: Vec<Sample> = examples
            .iter()
            .zip(outputs)
            .map(|(x, y)| Sample {
                prediction: (self.decode)(y),
                references: x.references.clone(),
                prompt: Some(x.prompt.clone()),
                modified: false,
            })
            .collect();
        self.reward.score_batch(&samples)
    }
}

/// How rollouts are sampled (RL4LMs' `policy.args.generation_kwargs` plus the EOS/pad ids).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerationKwargs {
    #[serde(default = "yes")]
    pub do_sample: bool,
    #[serde(default = "one")]
    pub temperature: f64,
    #[serde(default)]
    pub top_k: Option<usize>,
    #[serde(default)]
    pub top_p: Option<f64>,
    #[serde(default)]
    pub min_new_tokens: usize,
    pub max_new_tokens: usize,
}

fn yes() -> bool {
    true
}
fn one() -> f64 {
    1.0
}

impl GenerationKwargs {
    pub fn sampling(&self, eos: Option<u32>, pad: u32, seed: u64) -> SamplingConfig {
        SamplingConfig {
            max_new_tokens: self.max_new_tokens,
            min_new_tokens: self.min_new_tokens,
            greedy: !self.do_sample,
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            eos_token_id: eos,
            pad_token_id: pad,
            use_cache: true,
            seed,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.max_new_tokens == 0 {
            return Err("generation_kwargs.max_new_tokens must be >= 1".into());
        }
        if self.do_sample && !(self.temperature > 0.0) {
            return Err(format!(
                "generation_kwargs.temperature must be > 0, got {}",
                self.temperature
            ));
        }
        Ok(())
    }
}

/// Special token ids of the policy's vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Tokens {
    pub eos: Option<u32>,
    pub pad: u32,
}

/// Teacher-forced scores of `completions` after `prompts`, in one batched pass
/// ([`Policy::score`]); completion token `i` of row `b` is at column `layout.offset + i`.
pub fn score<B: Backend, P: Policy<B>>(
    model: &P,
    prompts: &[Vec<u32>],
    completions: &[Vec<u32>],
    pad: u32,
) -> (Layout, CompletionScores<B>) {
    model.score(prompts, completions, pad)
}

/// Host copy of a float tensor.
pub fn to_vec<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .into_vec::<f32>()
        .expect("float tensor data")
}

/// Mean task reward of greedy decoding over `examples` (no gradients), and each example's reward.
pub fn evaluate_greedy<B: Backend, P: Policy<B>>(
    model: &P,
    examples: &[Example],
    reward: &TaskReward,
    tokens: Tokens,
    max_new_tokens: usize,
) -> (f64, Vec<f64>) {
    let prompts: Vec<Vec<u32>> = examples.iter().map(|x| x.prompt_ids.clone()).collect();
    let config = SamplingConfig {
        greedy: true,
        max_new_tokens,
        eos_token_id: tokens.eos,
        pad_token_id: tokens.pad,
        ..SamplingConfig::default()
    };
    let out = model.generate(&prompts, &config);
    let refs: Vec<&Example> = examples.iter().collect();
    let scores = reward.score(&refs, &out.tokens);
    let mean = scores.iter().sum::<f64>() / scores.len().max(1) as f64;
    (mean, scores)
}
