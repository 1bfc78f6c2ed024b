//! The classifier behind RL4LMs' `learned_reward` ([`rewards::learned`]): a DistilBERT checkpoint
//! directory or hub id (`lvwerra/distilbert-imdb`), resolved as `runner generate` resolves
//! checkpoints ([`crate::lm::resolve_checkpoint`]) and run on the CPU.

use std::path::Path;
use std::sync::{Arc, Mutex};

use burn::backend::Flex;
use model::DistilBertClassifier;
use rewards::{ClassifierLoader, TextClassifier};

/// Loads `model_name` as a [`DistilBertClassifier`] on the CPU.
pub struct ModelClassifierLoader;

impl ClassifierLoader for ModelClassifierLoader {
    fn load(&self, model_name: &str, batch_size: usize) -> Result<Arc<dyn TextClassifier>, String> {
        let dir =
            crate::lm::resolve_checkpoint(Path::new(model_name)).map_err(|e| format!("{e:#}"))?;
        let classifier = DistilBertClassifier::<Flex>::load(&dir, &Default::default())
            .map_err(|e| format!("model_name `{model_name}`: {e}"))?;
        Ok(Arc::new(Cpu {
            labels: classifier.model.config.num_labels(),
            classifier: Mutex::new(classifier),
            batch_size,
        }))
    }
}

struct Cpu {
    classifier: Mutex<DistilBertClassifier<Flex>>,
    labels: usize,
    batch_size: usize,
}

impl TextClassifier for Cpu {
    fn num_labels(&self) -> usize {
        self.labels
    }

    fn probabilities(&self, texts: &[String]) -> Result<Vec<Vec<f64>>, String> {
        let classifier = self.classifier.lock().map_err(|e| e.to_string())?;
        let probs = classifier
            .probabilities(texts, self.batch_size)
            .map_err(|e| e.to_string())?;
        Ok(probs
            .into_iter()
            .map(|p| p.into_iter().map(f64::from).collect())
            .collect())
    }
}
