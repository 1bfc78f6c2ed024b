//! The seven GRUE tasks of *Vanishing Gradients in Reinforcement Finetuning of Language Models*
//! (Razin et al., ICLR 2024) as RL4LMs defines them and apple/ml-rlgrad configures them:
//! data loaders of the published formats, prompt formatting, references, splits, the reward id with
//! its arguments, and the generation and truncation settings.
//!
//! Sources read (for formats and semantics; no code is copied):
//! * `apple/ml-rlgrad` `rl4lms/data_pools/custom_text_generation_pools.py` (the data pools: prompt
//!   and reference rules), `rl4lms/data_pools/task_utils/totto/preprocess_utils.py` (ToTTo
//!   linearisation), `rl4lms_scripts/training/*/*_ppo.yml` (reward, env, rollout and evaluation
//!   generation settings), `rl4lms_scripts/extract_samples/*.yml` (the Figure 1 sampling runs),
//!   `rl4lms/envs/text_generation/env.py` (default prompt truncation side "left"),
//!   `rl4lms_extract_samples_from_model_runner.py` (5,000 train samples, `RandomState(7)`).
//! * The Hugging Face dataset scripts the pools load (`daily_dialog`, `iwslt2017`, `gem`
//!   `common_gen`), for how they cut the official files into fields; each rule is documented in
//!   its task module.
//!
//! Every task: [`TaskName`] (parse with [`TaskName::parse`]), its [`spec::TaskSpec`]
//! ([`TaskName::spec`]), and [`TaskName::train`] / [`TaskName::test`] returning RL4LMs-style
//! [`Sample`]s. Tokenisation is the consumer's job (with the model's tokenizer and the recorded
//! [`spec::TaskSpec::max_prompt_length`] and truncation sides).
//!
//! Data deviations forced by what is obtainable are in each module's documentation and in
//! [`TaskName::caption_note`], which result captions include.

pub mod cnn_dailymail;
pub mod commongen;
pub mod dailydialog;
pub mod error;
mod files;
pub mod imdb;
pub mod iwslt2017;
pub mod narrativeqa;
pub mod spec;
mod tabular;
pub mod totto;

use std::path::Path;

pub use data::Verify;
pub use error::{GrueError, Result};
pub use spec::TaskSpec;

/// One input of a task, as RL4LMs' `Sample` (`id`, `prompt_or_input_text`, `references`,
/// `meta_data`). The prompt is text, not yet tokenised or truncated.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sample {
    pub id: String,
    /// RL4LMs' `prompt_or_input_text`: the encoder input (seq2seq) or the context to continue (causal).
    pub prompt_or_context: String,
    pub references: Vec<String>,
    /// RL4LMs' `meta_data` where the pool sets one (e.g. CommonGen's concepts); `Null` otherwise.
    #[serde(default)]
    pub meta_data: serde_json::Value,
}

/// Which pool of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// The training pool (RFT inputs; the Figure 1 statistics sample 5,000 of these).
    Train,
    /// The held-out pool.
    Test,
}

impl Split {
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }
}

/// The seven GRUE tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaskName {
    NarrativeQa,
    ToTTo,
    CommonGen,
    Iwslt2017EnDe,
    CnnDailyMail,
    DailyDialog,
    Imdb,
}

impl TaskName {
    /// All tasks, in the order of the paper's Figure 1.
    pub const ALL: [TaskName; 7] = [
        TaskName::NarrativeQa,
        TaskName::ToTTo,
        TaskName::CommonGen,
        TaskName::Iwslt2017EnDe,
        TaskName::CnnDailyMail,
        TaskName::DailyDialog,
        TaskName::Imdb,
    ];

    /// The name, as RL4LMs' `DataPoolRegistry` spells the pool id.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskName::NarrativeQa => "narrative_qa",
            TaskName::ToTTo => "totto",
            TaskName::CommonGen => "commongen",
            TaskName::Iwslt2017EnDe => "iwslt2017en_de",
            TaskName::CnnDailyMail => "cnn_daily_mail",
            TaskName::DailyDialog => "daily_dialog",
            TaskName::Imdb => "imdb",
        }
    }

    /// The id of the dataset in the `data` crate's registry (`runner data fetch <id>`).
    pub fn dataset_id(self) -> &'static str {
        match self {
            TaskName::NarrativeQa => "narrativeqa",
            TaskName::ToTTo => "totto",
            TaskName::CommonGen => "commongen",
            TaskName::Iwslt2017EnDe => "iwslt2017-en-de",
            TaskName::CnnDailyMail => "cnn_dailymail",
            TaskName::DailyDialog => "dailydialog",
            TaskName::Imdb => "imdb",
        }
    }

    /// Parse a task name: the RL4LMs pool id (`narrative_qa`, `iwslt2017en_de`, ...), the data
    /// registry id (`narrativeqa`, `iwslt2017-en-de`, ...) or a common spelling, any case, `-`/`_`
    /// alike. An unknown name is an error listing the known ones.
    pub fn parse(name: &str) -> Result<TaskName> {
        let key: String = name
            .trim()
            .to_ascii_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        let task = match key.as_str() {
            "narrativeqa" => TaskName::NarrativeQa,
            "totto" => TaskName::ToTTo,
            "commongen" => TaskName::CommonGen,
            "iwslt2017ende" | "iwslt2017" | "iwslt17ende" | "iwslt" => TaskName::Iwslt2017EnDe,
            "cnndailymail" | "cnndm" | "cnn" => TaskName::CnnDailyMail,
            "dailydialog" | "dialog" => TaskName::DailyDialog,
            "imdb" => TaskName::Imdb,
            _ => {
                return Err(GrueError::UnknownTask {
                    name: name.to_string(),
                    known: TaskName::ALL
                        .iter()
                        .map(|t| t.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        };
        Ok(task)
    }

    /// The task's settings (model, reward, generation, truncation, Figure 1 threshold).
    pub fn spec(self) -> &'static TaskSpec {
        spec::spec(self)
    }

    /// The deviations from the paper's data that result captions must carry.
    pub fn caption_note(self) -> &'static str {
        match self {
            TaskName::NarrativeQa => narrativeqa::CAPTION_NOTE,
            TaskName::ToTTo => totto::CAPTION_NOTE,
            TaskName::CommonGen => commongen::CAPTION_NOTE,
            TaskName::Iwslt2017EnDe => iwslt2017::CAPTION_NOTE,
            TaskName::CnnDailyMail => cnn_dailymail::CAPTION_NOTE,
            TaskName::DailyDialog => dailydialog::CAPTION_NOTE,
            TaskName::Imdb => imdb::CAPTION_NOTE,
        }
    }

    /// The pool `split` of the task, files checked against the registered sha256 when `verify` asks.
    pub fn load(self, data_dir: &Path, split: Split, verify: Verify) -> Result<Vec<Sample>> {
        match self {
            TaskName::NarrativeQa => narrativeqa::load(data_dir, split, verify),
            TaskName::ToTTo => totto::load(data_dir, split, verify),
            TaskName::CommonGen => commongen::load(data_dir, split, verify),
            TaskName::Iwslt2017EnDe => iwslt2017::load(data_dir, split, verify),
            TaskName::CnnDailyMail => cnn_dailymail::load(data_dir, split, verify),
            TaskName::DailyDialog => dailydialog::load(data_dir, split, verify),
            TaskName::Imdb => imdb::load(data_dir, split, verify),
        }
    }

    /// The training pool (checksums verified).
    pub fn train(self, data_dir: &Path) -> Result<Vec<Sample>> {
        self.load(data_dir, Split::Train, Verify::Manifest)
    }

    /// The held-out pool (checksums verified).
    pub fn test(self, data_dir: &Path) -> Result<Vec<Sample>> {
        self.load(data_dir, Split::Test, Verify::Manifest)
    }
}

impl std::fmt::Display for TaskName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for TaskName {
    type Err = GrueError;
    fn from_str(s: &str) -> Result<TaskName> {
        TaskName::parse(s)
    }
}
