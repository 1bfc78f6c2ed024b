//! Reward registry: RL4LMs-style ids and arguments (as in an experiment YAML).
//!
//! | id | arguments (default) | value |
//! |---|---|---|
//! | `rouge_l_max` | py-rouge `Rouge(...)` args: `max_n` (ignored for ROUGE-L), `limit_length` (true), `length_limit` (665), `length_limit_type` ("bytes" \| "words"), `apply_avg` (true), `apply_best` (false), `stemming` (true), `alpha` (0.5), `weight_factor` (1.0), `ensure_compatibility` (true) | max over references of ROUGE-L F |
//! | `rouge` | `rouge_type` ("rouge1" \| "rouge2" \| ... \| "rougeL" \| "rougeLsum"), `use_stemmer` (true), `use_single_ref` (true) | rouge-score F-measure |
//! | `sacre_bleu` | `tokenize` ("13a" \| "intl" \| "none"), `lowercase` (false), `smooth_method` ("exp"), `smooth_value` (null), `use_effective_order` (true) | sentence BLEU / 100 (as RL4LMs) |
//! | `meteor` | `alpha` (0.9), `beta` (3), `gamma` (0.5), `wordnet` (true) | NLTK METEOR, max over references |
//! | `chrf` | `char_order` (6), `word_order` (0), `beta` (2), `lowercase` (false), `whitespace` (false), `eps_smoothing` (false) | sentence chrF (0-100) |
//! | `ter` | `normalized` (false), `no_punct` (false), `asian_support` (false), `case_sensitive` (false) | sentence TER (0-100+, lower is better) |
//! | `f1` / `exact_match` | none | SQuAD v1.1 token F1 / EM, max over references |
//! | `labels` | `max_reward` (1), `min_reward` (-1) | label reward |
//! | `learned_reward` | `model_name` (required: checkpoint directory or hub id), `label_ix` (required), `include_prompt_for_eval` (true), `batch_size` (32) | RL4LMs: softmax probability of class `label_ix` of prompt + prediction; needs a [`ClassifierLoader`] ([`build_with`]) |
//! | `labels_with_custom` | `max_reward` (1), `min_reward` (-1), `modified_label_incorrect_reward` (0.5) | label reward, custom value for wrong predictions on modified labels |

use crate::bleu::{SentenceBleu, Smooth, Tokenizer};
use crate::chrf::ChrF;
use crate::labels::{LabelsReward, LabelsRewardWithCustom, label_correct};
use crate::learned::{ClassifierLoader, LearnedReward};
use crate::meteor::Meteor;
use crate::py_rouge::PyRougeL;
use crate::rouge_score::{RougeScorer, RougeType};
use crate::ter::Ter;
use crate::{Reward, Sample, squad};
use serde_yaml::Value;

/// All registered ids.
pub const IDS: &[&str] = &[
    "rouge_l_max",
    "rouge",
    "sacre_bleu",
    "meteor",
    "chrf",
    "ter",
    "f1",
    "exact_match",
    "labels",
    "labels_with_custom",
];

/// Ids of rewards computed by a model, which [`build_with`] builds with a [`ClassifierLoader`].
pub const MODEL_IDS: &[&str] = &["learned_reward"];

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("unknown reward id '{id}'; accepted ids: {}, {}", IDS.join(", "), MODEL_IDS.join(", "))]
    UnknownId { id: String },
    #[error("reward '{id}': unknown argument '{arg}'; accepted arguments: {}", if accepted.is_empty() { "none".to_string() } else { accepted.join(", ") })]
    UnknownArg {
        id: String,
        arg: String,
        accepted: Vec<&'static str>,
    },
    #[error("reward '{id}': argument '{arg}' {message}")]
    BadValue {
        id: String,
        arg: String,
        message: String,
    },
    #[error("reward '{id}': arguments must be a YAML mapping ({message})")]
    BadArgs { id: String, message: String },
    #[error("reward '{id}': argument '{arg}' is required")]
    MissingArg { id: String, arg: &'static str },
    #[error("reward '{id}': {message}")]
    Model { id: String, message: String },
}

struct Args<'a> {
    id: &'a str,
    map: Vec<(String, &'a Value)>,
}

impl<'a> Args<'a> {
    fn new(id: &'a str, v: &'a Value, accepted: &[&'static str]) -> Result<Args<'a>, ConfigError> {
        let mut map = Vec::new();
        match v {
            Value::Null => {}
            Value::Mapping(m) => {
                for (k, val) in m {
                    let Some(k) = k.as_str() else {
                        return Err(ConfigError::BadArgs {
                            id: id.into(),
                            message: format!("non-string key {k:?}"),
                        });
                    };
                    if !accepted.contains(&k) {
                        return Err(ConfigError::UnknownArg {
                            id: id.into(),
                            arg: k.into(),
                            accepted: accepted.to_vec(),
                        });
                    }
                    map.push((k.to_string(), val));
                }
            }
            other => {
                return Err(ConfigError::BadArgs {
                    id: id.into(),
                    message: format!("got {other:?}"),
                });
            }
        }
        Ok(Args { id, map })
    }
    fn get(&self, k: &str) -> Option<&'a Value> {
        self.map
            .iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| *v)
            .filter(|v| !v.is_null())
    }
    fn bad(&self, k: &str, m: &str) -> ConfigError {
        ConfigError::BadValue {
            id: self.id.into(),
            arg: k.into(),
            message: m.into(),
        }
    }
    fn f64(&self, k: &str, d: f64) -> Result<f64, ConfigError> {
        self.get(k).map_or(Ok(d), |v| {
            v.as_f64().ok_or_else(|| self.bad(k, "must be a number"))
        })
    }
    fn opt_f64(&self, k: &str) -> Result<Option<f64>, ConfigError> {
        self.get(k)
            .map(|v| v.as_f64().ok_or_else(|| self.bad(k, "must be a number")))
            .transpose()
    }
    fn usize(&self, k: &str, d: usize) -> Result<usize, ConfigError> {
        self.get(k).map_or(Ok(d), |v| {
            v.as_u64()
                .map(|x| x as usize)
                .ok_or_else(|| self.bad(k, "must be a non-negative integer"))
        })
    }
    fn bool(&self, k: &str, d: bool) -> Result<bool, ConfigError> {
        self.get(k).map_or(Ok(d), |v| {
            v.as_bool()
                .ok_or_else(|| self.bad(k, "must be true or false"))
        })
    }
    fn str(&self, k: &str, d: &'a str) -> Result<&'a str, ConfigError> {
        self.get(k).map_or(Ok(d), |v| {
            v.as_str().ok_or_else(|| self.bad(k, "must be a string"))
        })
    }
}

struct Named<F> {
    id: &'static str,
    f: F,
}

impl<F: Fn(&Sample) -> f64 + Send + Sync> Reward for Named<F> {
    fn id(&self) -> &str {
        self.id
    }
    fn score(&self, s: &Sample) -> f64 {
        (self.f)(s)
    }
}

fn boxed<F: Fn(&Sample) -> f64 + Send + Sync + 'static>(id: &'static str, f: F) -> Box<dyn Reward> {
    Box::new(Named { id, f })
}

/// Build a reward by id with its arguments (`Value::Null` = all defaults). `learned_reward`
/// needs a classifier loader: use [`build_with`].
pub fn build(id: &str, args: &Value) -> Result<Box<dyn Reward>, ConfigError> {
    build_with(id, args, None)
}

/// Like [`build`], with the loader `learned_reward` gets its classifier from.
pub fn build_with(
    id: &str,
    args: &Value,
    loader: Option<&dyn ClassifierLoader>,
) -> Result<Box<dyn Reward>, ConfigError> {
    match id {
        "learned_reward" => {
            let a = Args::new(
                id,
                args,
                &[
                    "model_name",
                    "label_ix",
                    "include_prompt_for_eval",
                    "batch_size",
                ],
            )?;
            let required = |arg: &'static str| ConfigError::MissingArg { id: id.into(), arg };
            let model_name = a.get("model_name").ok_or_else(|| required("model_name"))?;
            let model_name = model_name
                .as_str()
                .ok_or_else(|| a.bad("model_name", "must be a string"))?
                .to_string();
            a.get("label_ix").ok_or_else(|| required("label_ix"))?;
            let label_ix = a.usize("label_ix", 0)?;
            let include_prompt_for_eval = a.bool("include_prompt_for_eval", true)?;
            let batch_size = a.usize("batch_size", 32)?.max(1);
            let model = |message: String| ConfigError::Model {
                id: id.into(),
                message,
            };
            let loader = loader.ok_or_else(|| {
                model(
                    "needs a classifier model, and this caller provides none (the runner does:                      `runner score --metric learned_reward`)"
                        .into(),
                )
            })?;
            let classifier = loader.load(&model_name, batch_size).map_err(model)?;
            let labels = classifier.num_labels();
            if label_ix >= labels {
                return Err(a.bad(
                    "label_ix",
                    &format!("is {label_ix}, but classifier `{model_name}` has {labels} classes"),
                ));
            }
            Ok(Box::new(LearnedReward {
                classifier,
                model_name,
                label_ix,
                include_prompt_for_eval,
            }))
        }
        "rouge_l_max" => {
            let a = Args::new(
                id,
                args,
                &[
                    "max_n",
                    "limit_length",
                    "length_limit",
                    "length_limit_type",
                    "apply_avg",
                    "apply_best",
                    "stemming",
                    "alpha",
                    "weight_factor",
                    "ensure_compatibility",
                ],
            )?;
            let _ = a.usize("max_n", 1)?;
            let limit_type = a.str("length_limit_type", "bytes")?;
            let limit_in_words = match limit_type {
                "words" => true,
                "bytes" => false,
                _ => return Err(a.bad("length_limit_type", "must be 'words' or 'bytes'")),
            };
            let weight_factor = a.f64("weight_factor", 1.0)?;
            if weight_factor <= 0.0 {
                return Err(a.bad("weight_factor", "must be greater than 0"));
            }
            let r = PyRougeL {
                limit_length: a.bool("limit_length", true)?,
                length_limit: a.usize("length_limit", 665)?,
                limit_in_words,
                apply_avg: a.bool("apply_avg", true)?,
                apply_best: a.bool("apply_best", false)?,
                stemming: a.bool("stemming", true)?,
                alpha: a.f64("alpha", 0.5)?,
                weight_factor,
                ensure_compatibility: a.bool("ensure_compatibility", true)?,
            };
            Ok(boxed("rouge_l_max", move |s| {
                r.max_over_references(&s.prediction, &s.references)
            }))
        }
        "rouge" => {
            let a = Args::new(id, args, &["rouge_type", "use_stemmer", "use_single_ref"])?;
            let t = a.str("rouge_type", "rouge1")?;
            let rouge_type = RougeType::parse(t).ok_or_else(|| {
                a.bad("rouge_type", "must be rouge1..rouge9, rougeL or rougeLsum")
            })?;
            let scorer = RougeScorer {
                rouge_type,
                use_stemmer: a.bool("use_stemmer", true)?,
            };
            let single = a.bool("use_single_ref", true)?;
            Ok(boxed("rouge", move |s| {
                let refs = if single && !s.references.is_empty() {
                    &s.references[..1]
                } else {
                    &s.references[..]
                };
                scorer.score_multi(refs, &s.prediction).fmeasure
            }))
        }
        "sacre_bleu" => {
            let a = Args::new(
                id,
                args,
                &[
                    "tokenize",
                    "lowercase",
                    "smooth_method",
                    "smooth_value",
                    "use_effective_order",
                ],
            )?;
            let tokenizer = Tokenizer::parse(a.str("tokenize", "13a")?)
                .ok_or_else(|| a.bad("tokenize", "must be '13a', 'intl' or 'none'"))?;
            let smooth = Smooth::parse(a.str("smooth_method", "exp")?, a.opt_f64("smooth_value")?)
                .ok_or_else(|| {
                    a.bad("smooth_method", "must be 'exp', 'floor', 'add-k' or 'none'")
                })?;
            let b = SentenceBleu {
                tokenizer,
                lowercase: a.bool("lowercase", false)?,
                smooth,
                effective_order: a.bool("use_effective_order", true)?,
                max_ngram_order: 4,
            };
            Ok(boxed("sacre_bleu", move |s| {
                b.score(&s.prediction, &s.references) / 100.0
            }))
        }
        "meteor" => {
            let a = Args::new(id, args, &["alpha", "beta", "gamma", "wordnet"])?;
            let m = Meteor {
                alpha: a.f64("alpha", 0.9)?,
                beta: a.f64("beta", 3.0)?,
                gamma: a.f64("gamma", 0.5)?,
                wordnet: a.bool("wordnet", true)?,
            };
            Ok(boxed("meteor", move |s| {
                m.score(&s.prediction, &s.references)
            }))
        }
        "chrf" => {
            let a = Args::new(
                id,
                args,
                &[
                    "char_order",
                    "word_order",
                    "beta",
                    "lowercase",
                    "whitespace",
                    "eps_smoothing",
                ],
            )?;
            let c = ChrF {
                char_order: a.usize("char_order", 6)?,
                word_order: a.usize("word_order", 0)?,
                beta: a.f64("beta", 2.0)?,
                lowercase: a.bool("lowercase", false)?,
                whitespace: a.bool("whitespace", false)?,
                eps_smoothing: a.bool("eps_smoothing", false)?,
            };
            if c.char_order + c.word_order == 0 {
                return Err(a.bad("char_order", "char_order + word_order must be positive"));
            }
            Ok(boxed("chrf", move |s| {
                c.score(&s.prediction, &s.references)
            }))
        }
        "ter" => {
            let a = Args::new(
                id,
                args,
                &["normalized", "no_punct", "asian_support", "case_sensitive"],
            )?;
            let t = Ter {
                normalized: a.bool("normalized", false)?,
                no_punct: a.bool("no_punct", false)?,
                asian_support: a.bool("asian_support", false)?,
                case_sensitive: a.bool("case_sensitive", false)?,
            };
            Ok(boxed("ter", move |s| t.score(&s.prediction, &s.references)))
        }
        "f1" => {
            Args::new(id, args, &[])?;
            Ok(boxed("f1", |s| squad::f1_max(&s.prediction, &s.references)))
        }
        "exact_match" => {
            Args::new(id, args, &[])?;
            Ok(boxed("exact_match", |s| {
                squad::exact_match_max(&s.prediction, &s.references)
            }))
        }
        "labels" => {
            let a = Args::new(id, args, &["max_reward", "min_reward"])?;
            let r = LabelsReward {
                max_reward: a.f64("max_reward", 1.0)?,
                min_reward: a.f64("min_reward", -1.0)?,
            };
            Ok(boxed("labels", move |s| {
                r.reward(label_correct(&s.prediction, &s.references))
            }))
        }
        "labels_with_custom" => {
            let a = Args::new(
                id,
                args,
                &[
                    "max_reward",
                    "min_reward",
                    "modified_label_incorrect_reward",
                ],
            )?;
            let r = LabelsRewardWithCustom {
                max_reward: a.f64("max_reward", 1.0)?,
                min_reward: a.f64("min_reward", -1.0)?,
                modified_label_incorrect_reward: a.f64("modified_label_incorrect_reward", 0.5)?,
            };
            Ok(boxed("labels_with_custom", move |s| {
                r.reward(label_correct(&s.prediction, &s.references), s.modified)
            }))
        }
        _ => Err(ConfigError::UnknownId { id: id.to_string() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_id_lists_accepted_ids() {
        let e = build("bleu", &Value::Null).err().unwrap();
        let msg = e.to_string();
        assert!(msg.contains("unknown reward id 'bleu'"), "{msg}");
        assert!(
            msg.contains("sacre_bleu") && msg.contains("rouge_l_max"),
            "{msg}"
        );
    }

    #[test]
    fn unknown_arg_lists_accepted_args() {
        let args: Value = serde_yaml::from_str("{tokenizer: intl}").unwrap();
        let msg = build("sacre_bleu", &args).err().unwrap().to_string();
        assert!(
            msg.contains("unknown argument 'tokenizer'") && msg.contains("tokenize,"),
            "{msg}"
        );
    }

    #[test]
    fn bad_values_are_config_errors() {
        let args: Value = serde_yaml::from_str("{tokenize: foo}").unwrap();
        assert!(matches!(
            build("sacre_bleu", &args),
            Err(ConfigError::BadValue { .. })
        ));
        let args: Value = serde_yaml::from_str("{alpha: high}").unwrap();
        assert!(matches!(
            build("meteor", &args),
            Err(ConfigError::BadValue { .. })
        ));
        let args: Value = serde_yaml::from_str("[1, 2]").unwrap();
        assert!(matches!(
            build("f1", &args),
            Err(ConfigError::BadArgs { .. })
        ));
    }

    #[test]
    fn every_id_builds_with_defaults() {
        for id in IDS {
            let r = build(id, &Value::Null).unwrap();
            assert_eq!(r.id(), *id);
        }
    }
}
