//! RL4LMs' `learned_reward`: the probability a text classifier gives class `label_ix` of the
//! generated text (with the prompt in front when `include_prompt_for_eval`), computed in batches
//! (`LearnedBatchedRewardFunction`: one softmax per text over the classifier's logits).
//!
//! This crate holds no model code: the classifier comes through [`ClassifierLoader`], which the
//! caller supplies (the runner loads a DistilBERT checkpoint directory or hub id with the `model`
//! crate). Without a loader, building `learned_reward` is a configuration error that says so.

use std::sync::Arc;

use crate::{Reward, Sample};

/// A text classifier: class probabilities (softmax of the logits) of each text.
pub trait TextClassifier: Send + Sync {
    /// The number of classes.
    fn num_labels(&self) -> usize;

    /// One probability vector per text, in order. `Err` carries a message naming the problem.
    fn probabilities(&self, texts: &[String]) -> Result<Vec<Vec<f64>>, String>;
}

/// Loads the classifier a `model_name` argument names (a checkpoint directory or a hub id).
pub trait ClassifierLoader: Send + Sync {
    /// `batch_size`: texts per forward pass.
    fn load(&self, model_name: &str, batch_size: usize) -> Result<Arc<dyn TextClassifier>, String>;
}

/// `learned_reward`, see the module documentation.
pub struct LearnedReward {
    pub classifier: Arc<dyn TextClassifier>,
    pub model_name: String,
    pub label_ix: usize,
    pub include_prompt_for_eval: bool,
}

impl LearnedReward {
    /// What the classifier reads: prompt (when included) followed directly by the prediction, as
    /// RL4LMs concatenates them (no separator).
    pub fn text(&self, s: &Sample) -> String {
        match (&s.prompt, self.include_prompt_for_eval) {
            (Some(p), true) => format!("{p}{}", s.prediction),
            _ => s.prediction.clone(),
        }
    }

    /// The rewards of `samples`, or the classifier's error.
    pub fn try_score_batch(&self, samples: &[Sample]) -> Result<Vec<f64>, String> {
        let texts: Vec<String> = samples.iter().map(|s| self.text(s)).collect();
        let probs = self.classifier.probabilities(&texts)?;
        if probs.len() != texts.len() {
            return Err(format!(
                "classifier `{}` returned {} results for {} texts",
                self.model_name,
                probs.len(),
                texts.len()
            ));
        }
        probs
            .into_iter()
            .map(|p| {
                p.get(self.label_ix).copied().ok_or_else(|| {
                    format!(
                        "learned_reward: label_ix {} is out of range for classifier `{}`, which \
                         has {} classes",
                        self.label_ix,
                        self.model_name,
                        p.len()
                    )
                })
            })
            .collect()
    }
}

impl Reward for LearnedReward {
    fn id(&self) -> &str {
        "learned_reward"
    }

    fn uses_references(&self) -> bool {
        false
    }

    /// One sample; a classifier failure scores NaN (and is reported on standard error), so that
    /// scoring never panics. Use [`LearnedReward::try_score_batch`] to get the error instead.
    fn score(&self, sample: &Sample) -> f64 {
        self.score_batch(std::slice::from_ref(sample))[0]
    }

    /// All samples through the classifier in its batches (not one by one).
    fn score_batch(&self, samples: &[Sample]) -> Vec<f64> {
        self.try_score_batch(samples).unwrap_or_else(|e| {
            eprintln!("learned_reward: {e}");
            vec![f64::NAN; samples.len()]
        })
    }

    fn try_score_batch(&self, samples: &[Sample]) -> Result<Vec<f64>, String> {
        LearnedReward::try_score_batch(self, samples)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{ConfigError, build, build_with};
    use serde_yaml::Value;
    use std::sync::Mutex;

    /// Class probabilities from the text's length; records every call.
    #[derive(Default)]
    struct Fake {
        calls: Mutex<Vec<Vec<String>>>,
    }

    impl TextClassifier for Fake {
        fn num_labels(&self) -> usize {
            2
        }
        fn probabilities(&self, texts: &[String]) -> Result<Vec<Vec<f64>>, String> {
            self.calls.lock().unwrap().push(texts.to_vec());
            Ok(texts
                .iter()
                .map(|t| {
                    let p = 1.0 / (1.0 + t.len() as f64);
                    vec![p, 1.0 - p]
                })
                .collect())
        }
    }

    struct Loader(Arc<Fake>);

    impl ClassifierLoader for Loader {
        fn load(&self, name: &str, _batch: usize) -> Result<Arc<dyn TextClassifier>, String> {
            if name == "missing" {
                return Err("checkpoint `missing` does not exist".into());
            }
            Ok(self.0.clone())
        }
    }

    fn sample(prompt: &str, prediction: &str) -> Sample {
        Sample {
            prompt: Some(prompt.into()),
            ..Sample::new(prediction, vec![])
        }
    }

    fn yaml(s: &str) -> Value {
        serde_yaml::from_str(s).unwrap()
    }

    #[test]
    fn the_reward_is_the_probability_of_label_ix_for_prompt_then_prediction_in_one_batch() {
        let fake = Arc::new(Fake::default());
        let loader = Loader(fake.clone());
        let r = build_with(
            "learned_reward",
            &yaml("{model_name: m, label_ix: 1}"),
            Some(&loader),
        )
        .unwrap();
        assert_eq!(r.id(), "learned_reward");
        let scores = r.score_batch(&[sample("ab", "cd"), sample("", "x")]);
        assert_eq!(scores, vec![1.0 - 1.0 / 5.0, 1.0 - 1.0 / 2.0]);
        assert_eq!(
            fake.calls.lock().unwrap().as_slice(),
            [vec!["abcd".to_string(), "x".to_string()]]
        );
    }

    #[test]
    fn include_prompt_for_eval_false_scores_the_prediction_alone() {
        let fake = Arc::new(Fake::default());
        let args = yaml("{model_name: m, label_ix: 0, include_prompt_for_eval: false}");
        let r = build_with("learned_reward", &args, Some(&Loader(fake.clone()))).unwrap();
        assert_eq!(r.score(&sample("a long prompt", "cd")), 1.0 / 3.0);
        assert_eq!(fake.calls.lock().unwrap()[0], vec!["cd".to_string()]);
    }

    #[test]
    fn bad_learned_reward_configs_are_clear_errors() {
        let loader = Loader(Arc::new(Fake::default()));
        let err = |args: &str, loader: Option<&dyn ClassifierLoader>| {
            build_with("learned_reward", &yaml(args), loader)
                .err()
                .unwrap()
                .to_string()
        };
        assert!(err("{label_ix: 1}", Some(&loader)).contains("'model_name' is required"));
        assert!(err("{model_name: m}", Some(&loader)).contains("'label_ix' is required"));
        let e = err("{model_name: m, label_ix: 2}", Some(&loader));
        assert!(e.contains("label_ix") && e.contains("has 2 classes"), "{e}");
        let e = err("{model_name: missing, label_ix: 0}", Some(&loader));
        assert!(e.contains("`missing` does not exist"), "{e}");
        let e = err("{model_name: m, label_ix: 0}", None);
        assert!(e.contains("needs a classifier model"), "{e}");
        assert!(matches!(
            build("learned_reward", &yaml("{model_name: m, label_ix: 0}")),
            Err(ConfigError::Model { .. })
        ));
    }
}
