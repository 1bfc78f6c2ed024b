//! Per-task settings, transcribed from apple/ml-rlgrad's RL4LMs configs:
//! `rl4lms_scripts/training/<task>/<model>_ppo.yml` (reward, tokenizer, env, rollout and evaluation
//! generation) and `rl4lms_scripts/extract_samples/<model>_<task>_extract_samples.yml` (the
//! sampling runs behind Figure 1: 5,000 train inputs drawn with `RandomState(7)`, 10 outputs each).
//!
//! Reward ids and argument names are RL4LMs', and exactly what this workspace's `rewards` registry
//! accepts (`rewards::build(id, &spec.reward.args_yaml())`; `learned_reward` needs a classifier
//! loader, `rewards::build_with`). One normalisation: `extract_samples/t5_narrative_qa_*.yml`
//! writes `apply_best: True,` (a YAML *string*, truthy in Python); the training config's boolean
//! `true` is recorded.

use crate::TaskName;

/// A value of a config argument.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Arg {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'static str),
}

impl Arg {
    pub fn to_yaml(self) -> serde_yaml::Value {
        match self {
            Arg::Bool(b) => serde_yaml::Value::Bool(b),
            Arg::Int(i) => serde_yaml::Value::Number(i.into()),
            Arg::Float(f) => serde_yaml::Value::Number(f.into()),
            Arg::Str(s) => serde_yaml::Value::String(s.to_string()),
        }
    }
}

fn mapping(args: &[(&str, Arg)]) -> serde_yaml::Value {
    if args.is_empty() {
        return serde_yaml::Value::Null;
    }
    let mut m = serde_yaml::Mapping::new();
    for (k, v) in args {
        m.insert(serde_yaml::Value::String(k.to_string()), v.to_yaml());
    }
    serde_yaml::Value::Mapping(m)
}

/// `reward_fn:` of the PPO config: id and arguments, RL4LMs' names.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RewardSpec {
    pub id: &'static str,
    pub args: &'static [(&'static str, Arg)],
}

impl RewardSpec {
    /// The arguments as the YAML mapping `rewards::build` takes (`Null` when there are none).
    pub fn args_yaml(&self) -> serde_yaml::Value {
        mapping(self.args)
    }
}

/// `datapool:` of the configs: RL4LMs pool id and its `args`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DatapoolSpec {
    pub id: &'static str,
    pub args: &'static [(&'static str, Arg)],
}

impl DatapoolSpec {
    pub fn args_yaml(&self) -> serde_yaml::Value {
        mapping(self.args)
    }
}

/// Hugging Face `generate` keyword arguments as the configs set them (`None` = not set, so the
/// model's / Hugging Face's default applies).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct GenKwargs {
    pub do_sample: Option<bool>,
    pub top_k: Option<u32>,
    pub temperature: Option<f64>,
    /// For a causal LM RL4LMs adds the padded prompt length to `min_length` before calling
    /// `generate` (`policy/base_policy.py`, `utils_supervised.generate`), so it counts new tokens.
    pub min_length: Option<usize>,
    pub max_new_tokens: Option<usize>,
    pub num_beams: Option<usize>,
    pub length_penalty: Option<f64>,
}

/// Hugging Face's `GenerationConfig.max_length` default, which applies where no `max_new_tokens` is set.
pub const HF_DEFAULT_MAX_LENGTH: usize = 20;

impl GenKwargs {
    /// New tokens `generate` can produce: `max_new_tokens`, else Hugging Face's default
    /// `max_length = 20`, which for an encoder-decoder counts the decoder start token (19 new
    /// tokens) and for a causal LM the prompt too (`prompt_len` is then needed; 20 - prompt_len).
    pub fn effective_max_new_tokens(&self, seq2seq: bool, prompt_len: usize) -> usize {
        match self.max_new_tokens {
            Some(n) => n,
            None if seq2seq => HF_DEFAULT_MAX_LENGTH - 1,
            None => HF_DEFAULT_MAX_LENGTH.saturating_sub(prompt_len),
        }
    }
    /// Greedy or beam search (no sampling).
    pub fn is_search(&self) -> bool {
        !self.do_sample.unwrap_or(false)
    }
}

/// Which end a tokenizer cuts or pads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Left,
    Right,
}

/// `tokenizer:` of the configs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenizerSpec {
    pub model_name: &'static str,
    pub padding_side: Side,
    /// Used when the extract-samples runner tokenises prompts (Figure 1 sampling).
    pub truncation_side: Side,
    pub pad_token_as_eos_token: bool,
    /// Prompt length (tokens) of the extract-samples runner (`get_max_prompt_length`; for the
    /// causal tasks `max_length + max_new_tokens` stays within GPT-2's 1,024, so it is unchanged).
    pub max_length: usize,
}

/// How a low reward is decided for Figure 1 (our choice: the paper and ml-rlgrad's code publish
/// no threshold). An input is "low reward" when its mean reward over the model's samples is below
/// `below`. Every GRUE reward lies in [0, 1] (ROUGE, BLEU / 100, METEOR, a class probability), so
/// one absolute threshold serves all tasks; a relative one (a quantile of the per-input means)
/// would call a fixed share of every task's inputs "low" and could not show Finding I.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LowReward {
    pub below: f64,
}

/// Default for every task: a mean reward below 0.1.
pub const LOW_REWARD: LowReward = LowReward { below: 0.1 };

/// Everything about a task except its data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TaskSpec {
    pub name: TaskName,
    pub title: &'static str,
    /// The pretrained model of the paper (Hugging Face id).
    pub model: &'static str,
    /// Encoder-decoder (`seq2seq`) or causal LM.
    pub seq2seq: bool,
    pub reward: RewardSpec,
    pub datapool: DatapoolSpec,
    /// Text put before the input by the pool (part of [`crate::Sample::prompt_or_context`] already).
    pub prompt_prefix: &'static str,
    pub tokenizer: TokenizerSpec,
    /// `env.args.max_prompt_length`: prompt tokens in RL training rollouts.
    pub max_prompt_length: usize,
    /// `env.args.max_episode_length`: most tokens an RL episode generates.
    pub max_episode_length: usize,
    /// `env.args.prompt_truncation_side` (RL4LMs' default "left" where the config sets none).
    pub prompt_truncation_side: Side,
    /// `alg.policy.args.generation_kwargs`: how PPO rollouts sample.
    pub rollout_generation: GenKwargs,
    /// `train_evaluation.generation_kwargs`: evaluation decoding during training.
    pub eval_generation: GenKwargs,
    /// `alg.generation_kwargs` of the extract-samples config (Figure 1).
    pub extract_generation: GenKwargs,
    /// Train inputs the extract-samples runner draws (`num_train_samples`), with `RandomState(seed)`.
    pub extract_num_train_samples: usize,
    pub extract_seed: u64,
    /// Outputs sampled per input (`evaluation.num_samples_per_input`).
    pub extract_samples_per_input: usize,
    pub low_reward: LowReward,
    /// The config files these values come from (paths in apple/ml-rlgrad).
    pub sources: &'static [&'static str],
}

const fn sample(
    top_k: Option<u32>,
    min_length: Option<usize>,
    max_new: Option<usize>,
) -> GenKwargs {
    GenKwargs {
        do_sample: Some(true),
        top_k,
        temperature: None,
        min_length,
        max_new_tokens: max_new,
        num_beams: None,
        length_penalty: None,
    }
}

const T5_TOKENIZER: TokenizerSpec = TokenizerSpec {
    model_name: "t5-base",
    padding_side: Side::Left,
    truncation_side: Side::Right,
    pad_token_as_eos_token: false,
    max_length: 512,
};

const ROUGE_L_MAX_ARGS: &[(&str, Arg)] = &[
    ("max_n", Arg::Int(4)),
    ("limit_length", Arg::Bool(true)),
    ("length_limit", Arg::Int(100)),
    ("length_limit_type", Arg::Str("words")),
    ("apply_avg", Arg::Bool(true)),
    ("apply_best", Arg::Bool(true)),
    ("alpha", Arg::Float(0.5)),
    ("weight_factor", Arg::Float(1.2)),
    ("stemming", Arg::Bool(true)),
];

pub static NARRATIVE_QA: TaskSpec = TaskSpec {
    name: TaskName::NarrativeQa,
    title: "NarrativeQA",
    model: "t5-base",
    seq2seq: true,
    reward: RewardSpec {
        id: "rouge_l_max",
        args: ROUGE_L_MAX_ARGS,
    },
    datapool: DatapoolSpec {
        id: "narrative_qa",
        args: &[],
    },
    prompt_prefix: "",
    tokenizer: T5_TOKENIZER,
    max_prompt_length: 512,
    max_episode_length: 50,
    prompt_truncation_side: Side::Right,
    // temperature 1, do_sample, top_k 50; no max_new_tokens (Hugging Face's max_length 20 applies)
    rollout_generation: GenKwargs {
        temperature: Some(1.0),
        ..sample(Some(50), None, None)
    },
    eval_generation: GenKwargs {
        num_beams: Some(4),
        max_new_tokens: Some(50),
        ..GenKwargs::NONE
    },
    extract_generation: sample(Some(50), None, None),
    extract_num_train_samples: 5000,
    extract_seed: 7,
    extract_samples_per_input: 10,
    low_reward: LOW_REWARD,
    sources: &[
        "rl4lms_scripts/training/narrative_qa/t5_ppo.yml",
        "rl4lms_scripts/extract_samples/t5_narrative_qa_extract_samples.yml",
    ],
};

pub static TOTTO: TaskSpec = TaskSpec {
    name: TaskName::ToTTo,
    title: "ToTTo",
    model: "t5-base",
    seq2seq: true,
    reward: RewardSpec {
        id: "sacre_bleu",
        args: &[],
    },
    datapool: DatapoolSpec {
        id: "totto",
        args: &[("representation", Arg::Str("subtable"))],
    },
    prompt_prefix: "",
    tokenizer: T5_TOKENIZER,
    max_prompt_length: 512,
    max_episode_length: 50,
    prompt_truncation_side: Side::Left,
    rollout_generation: GenKwargs {
        temperature: Some(1.0),
        ..sample(Some(0), Some(10), Some(50))
    },
    eval_generation: GenKwargs {
        num_beams: Some(5),
        min_length: Some(10),
        max_new_tokens: Some(50),
        ..GenKwargs::NONE
    },
    extract_generation: sample(Some(0), Some(10), Some(50)),
    extract_num_train_samples: 5000,
    extract_seed: 7,
    extract_samples_per_input: 10,
    low_reward: LOW_REWARD,
    sources: &[
        "rl4lms_scripts/training/totto/t5_ppo.yml",
        "rl4lms_scripts/extract_samples/t5_totto_extract_samples.yml",
    ],
};

pub static COMMON_GEN: TaskSpec = TaskSpec {
    name: TaskName::CommonGen,
    title: "CommonGen",
    model: "t5-base",
    seq2seq: true,
    reward: RewardSpec {
        id: "meteor",
        args: &[],
    },
    datapool: DatapoolSpec {
        id: "commongen",
        args: &[
            ("concept_end_token", Arg::Str(".")),
            ("concept_separator_token", Arg::Str(" ")),
            ("prefix", Arg::Str("generate a sentence with: ")),
        ],
    },
    prompt_prefix: "generate a sentence with: ",
    tokenizer: TokenizerSpec {
        max_length: 20,
        ..T5_TOKENIZER
    },
    max_prompt_length: 20,
    max_episode_length: 20,
    prompt_truncation_side: Side::Right,
    rollout_generation: GenKwargs {
        temperature: Some(1.0),
        ..sample(Some(0), Some(5), Some(20))
    },
    eval_generation: GenKwargs {
        num_beams: Some(5),
        min_length: Some(5),
        max_new_tokens: Some(20),
        ..GenKwargs::NONE
    },
    extract_generation: sample(Some(0), Some(5), Some(20)),
    extract_num_train_samples: 5000,
    extract_seed: 7,
    extract_samples_per_input: 10,
    low_reward: LOW_REWARD,
    sources: &[
        "rl4lms_scripts/training/common_gen/t5_ppo.yml",
        "rl4lms_scripts/extract_samples/t5_commongen_extract_samples.yml",
    ],
};

pub static IWSLT2017_EN_DE: TaskSpec = TaskSpec {
    name: TaskName::Iwslt2017EnDe,
    title: "IWSLT 2017 en-de",
    model: "t5-base",
    seq2seq: true,
    reward: RewardSpec {
        id: "sacre_bleu",
        args: &[("tokenize", Arg::Str("intl"))],
    },
    datapool: DatapoolSpec {
        id: "iwslt2017en_de",
        args: &[("prompt_prefix", Arg::Str("translate English to German: "))],
    },
    prompt_prefix: "translate English to German: ",
    tokenizer: TokenizerSpec {
        max_length: 128,
        ..T5_TOKENIZER
    },
    max_prompt_length: 128,
    max_episode_length: 128,
    prompt_truncation_side: Side::Right,
    rollout_generation: sample(Some(10), None, Some(128)),
    eval_generation: GenKwargs {
        num_beams: Some(4),
        length_penalty: Some(0.6),
        max_new_tokens: Some(128),
        ..GenKwargs::NONE
    },
    extract_generation: sample(Some(10), None, Some(128)),
    extract_num_train_samples: 5000,
    extract_seed: 7,
    extract_samples_per_input: 10,
    low_reward: LOW_REWARD,
    sources: &[
        "rl4lms_scripts/training/iwslt2017/t5_ppo.yml",
        "rl4lms_scripts/extract_samples/t5_iwslt2017_extract_samples.yml",
    ],
};

pub static CNN_DAILY_MAIL: TaskSpec = TaskSpec {
    name: TaskName::CnnDailyMail,
    title: "CNN/DailyMail",
    model: "t5-base",
    seq2seq: true,
    reward: RewardSpec {
        id: "meteor",
        args: &[],
    },
    datapool: DatapoolSpec {
        id: "cnn_daily_mail",
        args: &[("prompt_prefix", Arg::Str("Summarize: "))],
    },
    prompt_prefix: "Summarize: ",
    tokenizer: T5_TOKENIZER,
    max_prompt_length: 512,
    max_episode_length: 100,
    prompt_truncation_side: Side::Right,
    rollout_generation: sample(Some(50), Some(50), Some(100)),
    eval_generation: GenKwargs {
        temperature: Some(0.7),
        ..sample(Some(0), Some(50), Some(100))
    },
    extract_generation: sample(Some(50), Some(50), Some(100)),
    extract_num_train_samples: 5000,
    extract_seed: 7,
    extract_samples_per_input: 10,
    low_reward: LOW_REWARD,
    sources: &[
        "rl4lms_scripts/training/cnn/t5_ppo.yml",
        "rl4lms_scripts/extract_samples/t5_cnn_extract_samples.yml",
    ],
};

pub static DAILY_DIALOG: TaskSpec = TaskSpec {
    name: TaskName::DailyDialog,
    title: "DailyDialog",
    model: "gpt2",
    seq2seq: false,
    reward: RewardSpec {
        id: "meteor",
        args: &[],
    },
    datapool: DatapoolSpec {
        id: "daily_dialog",
        args: &[("context_size", Arg::Int(5))],
    },
    prompt_prefix: "",
    tokenizer: TokenizerSpec {
        model_name: "gpt2",
        padding_side: Side::Left,
        truncation_side: Side::Right,
        pad_token_as_eos_token: true,
        max_length: 128,
    },
    max_prompt_length: 128,
    max_episode_length: 20,
    prompt_truncation_side: Side::Left,
    rollout_generation: sample(Some(20), Some(2), Some(20)),
    eval_generation: sample(Some(20), Some(2), Some(20)),
    extract_generation: sample(Some(20), Some(2), Some(20)),
    extract_num_train_samples: 5000,
    extract_seed: 7,
    extract_samples_per_input: 10,
    low_reward: LOW_REWARD,
    sources: &[
        "rl4lms_scripts/training/dialog/gpt2_ppo.yml",
        "rl4lms_scripts/extract_samples/gpt2_dialog_extract_samples.yml",
    ],
};

/// `learned_reward` as the PPO config sets it, plus `batch_size: 100` of the evaluation metric.
pub static IMDB: TaskSpec = TaskSpec {
    name: TaskName::Imdb,
    title: "IMDB",
    model: "lvwerra/gpt2-imdb",
    seq2seq: false,
    reward: RewardSpec {
        id: "learned_reward",
        args: &[
            ("model_name", Arg::Str("lvwerra/distilbert-imdb")),
            ("label_ix", Arg::Int(1)),
            ("include_prompt_for_eval", Arg::Bool(true)),
            ("batch_size", Arg::Int(100)),
        ],
    },
    datapool: DatapoolSpec {
        id: "imdb",
        args: &[
            ("seed", Arg::Int(42)),
            ("only_positive_samples", Arg::Bool(true)),
        ],
    },
    prompt_prefix: "",
    tokenizer: TokenizerSpec {
        model_name: "lvwerra/gpt2-imdb",
        padding_side: Side::Left,
        truncation_side: Side::Left,
        pad_token_as_eos_token: true,
        max_length: 64,
    },
    max_prompt_length: 64,
    max_episode_length: 48,
    prompt_truncation_side: Side::Left,
    rollout_generation: sample(None, Some(48), Some(48)),
    eval_generation: GenKwargs::NONE,
    extract_generation: sample(None, Some(48), Some(48)),
    extract_num_train_samples: 5000,
    extract_seed: 7,
    extract_samples_per_input: 10,
    low_reward: LOW_REWARD,
    sources: &[
        "rl4lms_scripts/training/imdb/gpt2_ppo.yml",
        "rl4lms_scripts/extract_samples/gpt2_imdb_extract_samples.yml",
    ],
};

impl GenKwargs {
    /// Nothing set.
    pub const NONE: GenKwargs = GenKwargs {
        do_sample: None,
        top_k: None,
        temperature: None,
        min_length: None,
        max_new_tokens: None,
        num_beams: None,
        length_penalty: None,
    };
}

pub(crate) fn spec(t: TaskName) -> &'static TaskSpec {
    match t {
        TaskName::NarrativeQa => &NARRATIVE_QA,
        TaskName::ToTTo => &TOTTO,
        TaskName::CommonGen => &COMMON_GEN,
        TaskName::Iwslt2017EnDe => &IWSLT2017_EN_DE,
        TaskName::CnnDailyMail => &CNN_DAILY_MAIL,
        TaskName::DailyDialog => &DAILY_DIALOG,
        TaskName::Imdb => &IMDB,
    }
}
