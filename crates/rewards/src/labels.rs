//! Label rewards of the controlled experiments (ml-rlgrad `reward_utils`):
//! `LabelsReward` and `LabelsRewardWithCustomRewardForModifiedLabels`.

/// `LabelsReward(max_reward, min_reward)`: `max_reward` if the predicted label
/// equals the label, else `min_reward`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LabelsReward {
    pub max_reward: f64,
    pub min_reward: f64,
}

impl Default for LabelsReward {
    fn default() -> Self {
        LabelsReward {
            max_reward: 1.0,
            min_reward: -1.0,
        }
    }
}

impl LabelsReward {
    pub fn reward(&self, correct: bool) -> f64 {
        if correct {
            self.max_reward
        } else {
            self.min_reward
        }
    }
}

/// `LabelsRewardWithCustomRewardForModifiedLabels`: like [`LabelsReward`], but an
/// incorrect prediction on an input whose label was modified gets
/// `modified_label_incorrect_reward` (the Python code assigns, in this order:
/// incorrect -> min, modified -> custom, correct -> max).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LabelsRewardWithCustom {
    pub max_reward: f64,
    pub min_reward: f64,
    pub modified_label_incorrect_reward: f64,
}

impl Default for LabelsRewardWithCustom {
    fn default() -> Self {
        LabelsRewardWithCustom {
            max_reward: 1.0,
            min_reward: -1.0,
            modified_label_incorrect_reward: 0.5,
        }
    }
}

impl LabelsRewardWithCustom {
    pub fn reward(&self, correct: bool, modified: bool) -> f64 {
        let mut r = 0.0;
        if !correct {
            r = self.min_reward;
        }
        if modified {
            r = self.modified_label_incorrect_reward;
        }
        if correct {
            r = self.max_reward;
        }
        r
    }
}

/// A text prediction is correct when it equals one of the reference labels
/// (surrounding whitespace ignored).
pub fn label_correct(prediction: &str, references: &[String]) -> bool {
    let p = prediction.trim();
    references.iter().any(|r| r.trim() == p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_reward_matches_ml_rlgrad() {
        let r = LabelsReward {
            max_reward: 1.0,
            min_reward: 0.0,
        };
        assert_eq!(r.reward(true), 1.0);
        assert_eq!(r.reward(false), 0.0);
        let d = LabelsReward::default();
        assert_eq!(d.reward(false), -1.0);
    }

    #[test]
    fn custom_reward_for_modified_labels() {
        let r = LabelsRewardWithCustom {
            max_reward: 1.0,
            min_reward: 0.0,
            modified_label_incorrect_reward: 0.5,
        };
        assert_eq!(r.reward(true, false), 1.0);
        assert_eq!(r.reward(true, true), 1.0);
        assert_eq!(r.reward(false, true), 0.5);
        assert_eq!(r.reward(false, false), 0.0);
    }

    #[test]
    fn label_comparison() {
        let refs = vec!["3".to_string()];
        assert!(label_correct(" 3 ", &refs));
        assert!(!label_correct("4", &refs));
        assert!(!label_correct("3", &[]));
    }
}
