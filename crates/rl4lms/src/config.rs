//! The typed RL4LMs config schema (`scripts/training/train_text_generation.py --config_path`).
//!
//! Sections whose keys RL4LMs fixes (its own dataclasses, `TextGenEnv`, PPO's constructor, the
//! policy constructors, HF `generate` kwargs we implement) deny unknown fields, so a misspelt key is
//! an error. Open `serde_yaml::Value` maps are kept only where RL4LMs passes kwargs through to a
//! registry (`reward_fn.args`, `datapool.args`, metric `args`).

use serde::{Deserialize, Serialize};
use serde_yaml::Value;

/// A whole config file. Training files have `reward_fn`, `env` (RL only) and `train_evaluation`;
/// ml-rlgrad's sample-extraction files have `evaluation` instead.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub tokenizer: TokenizerConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reward_fn: Option<IdArgs>,
    pub datapool: DatapoolConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<EnvConfig>,
    pub alg: AlgConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_evaluation: Option<EvalConfig>,
    /// ml-rlgrad `extract_samples` files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<EvalConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Left,
    Right,
}

/// `build_tokenizer` in RL4LMs' `training_utils.py`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TokenizerConfig {
    pub model_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub padding_side: Option<Side>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncation_side: Option<Side>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pad_token_as_eos_token: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u64>,
}

/// `{id, args}`: reward functions and metrics; `args` go to the registry as kwargs.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IdArgs {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Value>,
}

/// `build_datapool`: `id`, `args` (pool kwargs), and the sub-sampling keys of ml-rlgrad.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatapoolConfig {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frac_train_samples: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_train_samples: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_samples_rnd_seed: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EnvConfig {
    pub n_envs: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<EnvArgs>,
}

/// `TextGenEnv.__init__` keyword arguments (less the objects RL4LMs fills in itself).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EnvArgs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_prompt_length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_episode_length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminate_on_eos: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_start_token: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_truncation_side: Option<Side>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_scale: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlgId {
    Ppo,
    Nlpo,
    Supervised,
}

/// `alg`: RL (`id`, `args`, `kl_div`, `policy`) or supervised (`id`, `training_args`,
/// `model_type`, `model_name`, `generation_kwargs`). Sample-extraction files have no `id`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AlgConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<AlgId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<PpoArgs>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kl_div: Option<KlDiv>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_args: Option<TrainingArgs>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_type: Option<ModelType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_kwargs: Option<GenerationKwargs>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelType {
    Seq2seq,
    Causal,
}

/// RL4LMs' PPO / NLPO constructor keyword arguments (stable-baselines3 PPO), plus ml-rlgrad's
/// `enforce_token_entropy_reg_estimate`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PpoArgs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_steps: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verbose: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learning_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_epochs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gamma: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gae_lambda: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip_range: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip_range_vf: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalize_advantage: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ent_coef: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vf_coef: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_grad_norm: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_kl: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforce_token_entropy_reg_estimate: Option<bool>,
}

/// `kl_div`: the KL penalty coefficient and the adaptive controller's target.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KlDiv {
    pub coeff: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_kl: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    pub id: PolicyId,
    pub args: PolicyArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyId {
    Seq2seqLmActorCriticPolicy,
    CausalLmActorCriticPolicy,
    MaskableSeq2seqLmActorCriticPolicy,
    MaskableCausalLmActorCriticPolicy,
}

impl PolicyId {
    pub fn is_maskable(self) -> bool {
        matches!(
            self,
            PolicyId::MaskableSeq2seqLmActorCriticPolicy
                | PolicyId::MaskableCausalLmActorCriticPolicy
        )
    }
}

/// Actor-critic policy constructor keyword arguments (the NLPO mask keys included).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyArgs {
    pub model_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_model_parallel: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_truncation_side: Option<Side>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_kwargs: Option<GenerationKwargs>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_decay: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optimizer_kwargs: Option<Value>,
    // NLPO (maskable policies)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_mask: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_tokens_to_keep: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_update_iterations: Option<u64>,
}

/// The HF `TrainingArguments` the supervised files use (and a few common neighbours). Others are
/// rejected rather than silently ignored.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingArgs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_device_train_batch_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging_steps: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_train_epochs: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_decay: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr_scheduler_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learning_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save_total_limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup_steps: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gradient_accumulation_steps: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

/// HF `generate` keyword arguments we interpret, plus RL4LMs' `post_processing_fn` (only `null`
/// appears in the published files). An unknown kwarg is an error rather than silently ignored.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GenerationKwargs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub do_sample: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_new_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_beams: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repetition_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_repeat_ngram_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_return_sequences: Option<u64>,
    /// Present as `null` in the files; anything else is refused by validation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_processing_fn: Option<String>,
}

/// `train_evaluation` (training files) or `evaluation` (extract-samples files).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EvalConfig {
    pub eval_batch_size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_iters: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_every: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save_every: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_samples_per_input: Option<u64>,
    #[serde(default)]
    pub metrics: Vec<IdArgs>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_kwargs: Option<GenerationKwargs>,
}
