//! The 42 config files of apple/ml-rlgrad (`rl4lms_scripts/`), embedded: the paper's own settings,
//! which the GRUE experiments start from and scale down with overrides. The files are committed
//! unchanged under `crates/rl4lms/ml-rlgrad/` (Apple's license beside them).

/// `(path under rl4lms_scripts/, file text)` of every file.
pub const FILES: &[(&str, &str)] = &[
    (
        "extract_samples/gpt2_dialog_extract_samples.yml",
        include_str!("../ml-rlgrad/extract_samples/gpt2_dialog_extract_samples.yml"),
    ),
    (
        "extract_samples/gpt2_imdb_extract_samples.yml",
        include_str!("../ml-rlgrad/extract_samples/gpt2_imdb_extract_samples.yml"),
    ),
    (
        "extract_samples/t5_cnn_extract_samples.yml",
        include_str!("../ml-rlgrad/extract_samples/t5_cnn_extract_samples.yml"),
    ),
    (
        "extract_samples/t5_commongen_extract_samples.yml",
        include_str!("../ml-rlgrad/extract_samples/t5_commongen_extract_samples.yml"),
    ),
    (
        "extract_samples/t5_iwslt2017_extract_samples.yml",
        include_str!("../ml-rlgrad/extract_samples/t5_iwslt2017_extract_samples.yml"),
    ),
    (
        "extract_samples/t5_narrative_qa_extract_samples.yml",
        include_str!("../ml-rlgrad/extract_samples/t5_narrative_qa_extract_samples.yml"),
    ),
    (
        "extract_samples/t5_totto_extract_samples.yml",
        include_str!("../ml-rlgrad/extract_samples/t5_totto_extract_samples.yml"),
    ),
    (
        "training/cnn/t5_nlpo.yml",
        include_str!("../ml-rlgrad/training/cnn/t5_nlpo.yml"),
    ),
    (
        "training/cnn/t5_nlpo_on_supervised.yml",
        include_str!("../ml-rlgrad/training/cnn/t5_nlpo_on_supervised.yml"),
    ),
    (
        "training/cnn/t5_ppo.yml",
        include_str!("../ml-rlgrad/training/cnn/t5_ppo.yml"),
    ),
    (
        "training/cnn/t5_ppo_on_supervised.yml",
        include_str!("../ml-rlgrad/training/cnn/t5_ppo_on_supervised.yml"),
    ),
    (
        "training/cnn/t5_supervised.yml",
        include_str!("../ml-rlgrad/training/cnn/t5_supervised.yml"),
    ),
    (
        "training/common_gen/t5_nlpo.yml",
        include_str!("../ml-rlgrad/training/common_gen/t5_nlpo.yml"),
    ),
    (
        "training/common_gen/t5_nlpo_on_supervised.yml",
        include_str!("../ml-rlgrad/training/common_gen/t5_nlpo_on_supervised.yml"),
    ),
    (
        "training/common_gen/t5_ppo.yml",
        include_str!("../ml-rlgrad/training/common_gen/t5_ppo.yml"),
    ),
    (
        "training/common_gen/t5_ppo_on_supervised.yml",
        include_str!("../ml-rlgrad/training/common_gen/t5_ppo_on_supervised.yml"),
    ),
    (
        "training/common_gen/t5_supervised.yml",
        include_str!("../ml-rlgrad/training/common_gen/t5_supervised.yml"),
    ),
    (
        "training/dialog/gpt2_nlpo.yml",
        include_str!("../ml-rlgrad/training/dialog/gpt2_nlpo.yml"),
    ),
    (
        "training/dialog/gpt2_nlpo_on_supervised.yml",
        include_str!("../ml-rlgrad/training/dialog/gpt2_nlpo_on_supervised.yml"),
    ),
    (
        "training/dialog/gpt2_ppo.yml",
        include_str!("../ml-rlgrad/training/dialog/gpt2_ppo.yml"),
    ),
    (
        "training/dialog/gpt2_ppo_on_supervised.yml",
        include_str!("../ml-rlgrad/training/dialog/gpt2_ppo_on_supervised.yml"),
    ),
    (
        "training/dialog/gpt2_supervised.yml",
        include_str!("../ml-rlgrad/training/dialog/gpt2_supervised.yml"),
    ),
    (
        "training/imdb/gpt2_nlpo.yml",
        include_str!("../ml-rlgrad/training/imdb/gpt2_nlpo.yml"),
    ),
    (
        "training/imdb/gpt2_nlpo_on_supervised.yml",
        include_str!("../ml-rlgrad/training/imdb/gpt2_nlpo_on_supervised.yml"),
    ),
    (
        "training/imdb/gpt2_ppo.yml",
        include_str!("../ml-rlgrad/training/imdb/gpt2_ppo.yml"),
    ),
    (
        "training/imdb/gpt2_ppo_on_supervised.yml",
        include_str!("../ml-rlgrad/training/imdb/gpt2_ppo_on_supervised.yml"),
    ),
    (
        "training/imdb/gpt2_supervised.yml",
        include_str!("../ml-rlgrad/training/imdb/gpt2_supervised.yml"),
    ),
    (
        "training/iwslt2017/t5_nlpo.yml",
        include_str!("../ml-rlgrad/training/iwslt2017/t5_nlpo.yml"),
    ),
    (
        "training/iwslt2017/t5_nlpo_on_supervised.yml",
        include_str!("../ml-rlgrad/training/iwslt2017/t5_nlpo_on_supervised.yml"),
    ),
    (
        "training/iwslt2017/t5_ppo.yml",
        include_str!("../ml-rlgrad/training/iwslt2017/t5_ppo.yml"),
    ),
    (
        "training/iwslt2017/t5_ppo_on_supervised.yml",
        include_str!("../ml-rlgrad/training/iwslt2017/t5_ppo_on_supervised.yml"),
    ),
    (
        "training/iwslt2017/t5_supervised.yml",
        include_str!("../ml-rlgrad/training/iwslt2017/t5_supervised.yml"),
    ),
    (
        "training/narrative_qa/t5_nlpo.yml",
        include_str!("../ml-rlgrad/training/narrative_qa/t5_nlpo.yml"),
    ),
    (
        "training/narrative_qa/t5_nlpo_on_supervised.yml",
        include_str!("../ml-rlgrad/training/narrative_qa/t5_nlpo_on_supervised.yml"),
    ),
    (
        "training/narrative_qa/t5_ppo.yml",
        include_str!("../ml-rlgrad/training/narrative_qa/t5_ppo.yml"),
    ),
    (
        "training/narrative_qa/t5_ppo_on_supervised.yml",
        include_str!("../ml-rlgrad/training/narrative_qa/t5_ppo_on_supervised.yml"),
    ),
    (
        "training/narrative_qa/t5_supervised.yml",
        include_str!("../ml-rlgrad/training/narrative_qa/t5_supervised.yml"),
    ),
    (
        "training/totto/t5_nlpo.yml",
        include_str!("../ml-rlgrad/training/totto/t5_nlpo.yml"),
    ),
    (
        "training/totto/t5_nlpo_on_supervised.yml",
        include_str!("../ml-rlgrad/training/totto/t5_nlpo_on_supervised.yml"),
    ),
    (
        "training/totto/t5_ppo.yml",
        include_str!("../ml-rlgrad/training/totto/t5_ppo.yml"),
    ),
    (
        "training/totto/t5_ppo_on_supervised.yml",
        include_str!("../ml-rlgrad/training/totto/t5_ppo_on_supervised.yml"),
    ),
    (
        "training/totto/t5_supervised.yml",
        include_str!("../ml-rlgrad/training/totto/t5_supervised.yml"),
    ),
];

use crate::{Error, Override, Plan};
use grue::TaskName;

/// Which training config of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Training {
    /// `*_ppo.yml`: RFT from the pretrained model.
    Ppo,
    /// `*_supervised.yml`: SFT.
    Supervised,
    /// `*_ppo_on_supervised.yml`: RFT from the SFT model (its `model_name` is a placeholder).
    PpoOnSupervised,
}

impl Training {
    fn stem(self) -> &'static str {
        match self {
            Training::Ppo => "ppo",
            Training::Supervised => "supervised",
            Training::PpoOnSupervised => "ppo_on_supervised",
        }
    }
}

/// The directory and model prefix of a task's files (`training/narrative_qa/t5_...`).
fn task_dir(task: TaskName) -> (&'static str, &'static str) {
    match task {
        TaskName::NarrativeQa => ("narrative_qa", "t5"),
        TaskName::ToTTo => ("totto", "t5"),
        TaskName::CommonGen => ("common_gen", "t5"),
        TaskName::Iwslt2017EnDe => ("iwslt2017", "t5"),
        TaskName::CnnDailyMail => ("cnn", "t5"),
        TaskName::DailyDialog => ("dialog", "gpt2"),
        TaskName::Imdb => ("imdb", "gpt2"),
    }
}

/// Path (under `rl4lms_scripts/`) of a task's training config.
pub fn training_path(task: TaskName, which: Training) -> String {
    let (dir, model) = task_dir(task);
    format!("training/{dir}/{model}_{}.yml", which.stem())
}

/// The text of an embedded file.
pub fn text(path: &str) -> Option<&'static str> {
    FILES.iter().find(|(p, _)| *p == path).map(|(_, t)| *t)
}

/// A task's training config, with `sets` applied ([`Override::set`]: keys the file lacks are
/// added, and the typed schema still rejects misspelt ones).
pub fn training(task: TaskName, which: Training, sets: &[Override]) -> Result<Plan, Error> {
    let path = training_path(task, which);
    let text = text(&path).expect("every task has its three training files embedded");
    crate::parse_str_set(text, &format!("ml-rlgrad/{path}"), sets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_has_its_ppo_supervised_and_ppo_on_supervised_files() {
        for task in TaskName::ALL {
            for which in [
                Training::Ppo,
                Training::Supervised,
                Training::PpoOnSupervised,
            ] {
                let plan = training(task, which, &[]).unwrap();
                assert_eq!(plan.task, task, "{}", training_path(task, which));
            }
        }
        assert_eq!(FILES.len(), 42);
    }

    #[test]
    fn a_set_adds_a_missing_key_but_a_misspelt_one_is_still_an_error() {
        let set = |s: &str| Override::parse(s).unwrap();
        let plan = training(
            TaskName::CommonGen,
            Training::Supervised,
            &[set("alg.training_args.max_steps=7")],
        )
        .unwrap();
        assert_eq!(plan.get("alg.training_args.max_steps"), Some("7"));
        let err = training(
            TaskName::CommonGen,
            Training::Supervised,
            &[set("alg.training_args.max_stepz=7")],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("max_stepz"), "{err}");
    }
}
