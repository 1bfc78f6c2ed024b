//! Did the paper's finding hold? Section 4.2: SFT fits the small-reward-std (modified) inputs
//! quickly, while exact-gradient RFT barely moves them.
//!
//! Per setting and variant (optimizer, learning rate, reward), over seeds:
//! - `held` when SFT fits 90% of the small-std inputs within the budget in every seed, and RFT
//!   fits fewer than 50% of them by five times that many epochs (or by the end of its budget, if
//!   sooner) in every seed;
//! - `not held` when RFT reaches 50% by then in some seed;
//! - `inconclusive` when SFT itself does not fit 90% within the budget in some seed.
//!
//! The high-initial-reward variant is compared with the SFT runs of the ±1 reward, since SFT does
//! not use the reward.

use super::Setting;
use super::rows::{CurveRow, Phase, SummaryRow};
use crate::rows::Gathered;
use serde::{Deserialize, Serialize};
use trainers::classify::{Group, Objective, RewardKind};
use trainers::optim::OptimizerKind;

/// The verdict on one setting and variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Held,
    NotHeld,
    Inconclusive,
}

impl Verdict {
    pub fn text(self) -> &'static str {
        match self {
            Verdict::Held => "held",
            Verdict::NotHeld => "not held",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// What besides the method distinguishes the runs of a setting. Ordered by optimizer name,
/// learning rate, then reward name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Variant {
    pub optimizer: OptimizerKind,
    pub lr: f64,
    pub reward_fn: RewardKind,
}

impl PartialOrd for Variant {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        let key = |v: &Variant| (v.optimizer.name(), v.lr, v.reward_fn.name());
        key(self).partial_cmp(&key(other))
    }
}

impl Variant {
    /// Adam with the ±1 reward: the paper's main setting.
    pub fn is_main(&self) -> bool {
        self.optimizer == OptimizerKind::Adam && self.reward_fn == RewardKind::Labels
    }

    /// The variant whose SFT runs stand for this one (SFT does not use the reward).
    pub fn sft_variant(&self) -> Variant {
        Variant {
            reward_fn: RewardKind::Labels,
            ..*self
        }
    }

    pub fn of(s: &SummaryRow) -> Variant {
        Variant {
            optimizer: s.optimizer,
            lr: s.lr,
            reward_fn: s.reward_fn,
        }
    }

    pub fn label(&self) -> String {
        let opt = match self.optimizer {
            OptimizerKind::Adam => "Adam",
            OptimizerKind::Sgd => "SGD",
        };
        let reward = match self.reward_fn {
            RewardKind::Labels => "",
            RewardKind::LabelsWithCustom => ", high initial reward",
        };
        format!("{opt} lr {:e}{reward}", self.lr)
    }
}

/// What the verdict needs of one finetuning run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFacts {
    /// Finetuning epochs budgeted.
    pub epochs: usize,
    /// First epoch at which 90% of the small-std inputs were fitted, if ever.
    pub fit90_modified: Option<i64>,
    /// (epoch, train accuracy of the small-std inputs) as recorded.
    pub modified_accuracy: Vec<(usize, f64)>,
    pub final_accuracy_modified: f64,
    pub final_accuracy_unmodified: f64,
}

/// The verdict on one setting and variant, with the numbers it rests on.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub setting: Setting,
    pub variant: Variant,
    /// SFT: epochs to fit 90% of the small-std inputs, worst seed (None: some seed never did).
    pub sft_fit90_worst: Option<i64>,
    /// The epoch up to which RFT is judged: min(5 × SFT's worst, RFT's budget).
    pub horizon: Option<f64>,
    /// RFT: best small-std train accuracy up to the horizon, best seed.
    pub rft_best_modified_accuracy: Option<f64>,
    /// RFT: mean final train accuracy of the small-std and the other inputs.
    pub rft_final_modified: f64,
    pub rft_final_unmodified: f64,
    pub verdict: Verdict,
}

/// The verdict from the SFT and RFT runs (one per seed) of one setting and variant.
pub fn judge(setting: Setting, variant: Variant, sft: &[RunFacts], rft: &[RunFacts]) -> Finding {
    let mean = |f: fn(&RunFacts) -> f64| rft.iter().map(f).sum::<f64>() / rft.len().max(1) as f64;
    let (rft_final_modified, rft_final_unmodified) = (
        mean(|r| r.final_accuracy_modified),
        mean(|r| r.final_accuracy_unmodified),
    );
    let sft_worst: Option<i64> = sft
        .iter()
        .map(|r| r.fit90_modified)
        .collect::<Option<Vec<i64>>>()
        .and_then(|v| v.into_iter().max());
    let Some(sft_worst) = sft_worst.filter(|_| !rft.is_empty()) else {
        return Finding {
            setting,
            variant,
            sft_fit90_worst: None,
            horizon: None,
            rft_best_modified_accuracy: None,
            rft_final_modified,
            rft_final_unmodified,
            verdict: Verdict::Inconclusive,
        };
    };
    let budget = rft.iter().map(|r| r.epochs).min().unwrap_or(0) as f64;
    let horizon = (5.0 * sft_worst as f64).min(budget);
    let best = rft
        .iter()
        .flat_map(|r| {
            r.modified_accuracy
                .iter()
                .filter(|(epoch, _)| *epoch as f64 <= horizon)
                .map(|(_, acc)| *acc)
        })
        .fold(f64::NEG_INFINITY, f64::max);
    Finding {
        setting,
        variant,
        sft_fit90_worst: Some(sft_worst),
        horizon: Some(horizon),
        rft_best_modified_accuracy: Some(best),
        rft_final_modified,
        rft_final_unmodified,
        verdict: if best < 0.5 {
            Verdict::Held
        } else {
            Verdict::NotHeld
        },
    }
}

/// The verdicts on every setting and RFT variant of a sweep's gathered tables, main variant first.
pub fn findings(summaries: &[Gathered<SummaryRow>], curves: &[Gathered<CurveRow>]) -> Vec<Finding> {
    let facts = |run: &Gathered<SummaryRow>| RunFacts {
        epochs: run.row.epochs,
        fit90_modified: run.row.fit90_modified,
        modified_accuracy: curves
            .iter()
            .filter(|c| {
                c.run_id == run.run_id
                    && c.row.phase == Phase::Finetune
                    && c.row.group == Group::Modified
            })
            .map(|c| (c.row.epoch, c.row.train_accuracy))
            .collect(),
        final_accuracy_modified: run.row.final_train_accuracy_modified,
        final_accuracy_unmodified: run.row.final_train_accuracy_unmodified,
    };
    let mut keys: Vec<(Setting, Variant)> = summaries
        .iter()
        .filter(|s| s.row.method == Objective::Rft)
        .map(|s| (s.row.setting, Variant::of(&s.row)))
        .collect();
    keys.sort_by(|a, b| {
        (a.0, !a.1.is_main(), a.1)
            .partial_cmp(&(b.0, !b.1.is_main(), b.1))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    keys.dedup();
    keys.into_iter()
        .filter_map(|(setting, variant)| {
            let pick = |method, v: Variant| -> Vec<RunFacts> {
                summaries
                    .iter()
                    .filter(|s| {
                        s.row.setting == setting
                            && s.row.method == method
                            && Variant::of(&s.row) == v
                    })
                    .map(facts)
                    .collect()
            };
            let (sft, rft) = (
                pick(Objective::Sft, variant.sft_variant()),
                pick(Objective::Rft, variant),
            );
            (!sft.is_empty()).then(|| judge(setting, variant, &sft, &rft))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAIN: Variant = Variant {
        optimizer: OptimizerKind::Adam,
        lr: 1e-4,
        reward_fn: RewardKind::Labels,
    };

    fn run(epochs: usize, fit90: Option<i64>, curve: &[(usize, f64)]) -> RunFacts {
        RunFacts {
            epochs,
            fit90_modified: fit90,
            modified_accuracy: curve.to_vec(),
            final_accuracy_modified: curve.last().map_or(0.0, |p| p.1),
            final_accuracy_unmodified: 1.0,
        }
    }

    #[test]
    fn the_finding_holds_when_sft_fits_and_rft_stays_below_half() {
        let sft = [run(1000, Some(276), &[]), run(1000, Some(300), &[])];
        let rft = [run(1000, None, &[(0, 0.0), (1000, 0.05)])];
        let f = judge(Setting::MlpMnist, MAIN, &sft, &rft);
        assert_eq!(f.verdict, Verdict::Held);
        assert_eq!((f.sft_fit90_worst, f.horizon), (Some(300), Some(1000.0)));
        assert_eq!(f.rft_best_modified_accuracy, Some(0.05));
    }

    #[test]
    fn the_finding_does_not_hold_when_rft_fits_half_within_five_times_sfts_epochs() {
        let sft = [run(1000, Some(20), &[])];
        // Reaches 0.6 at epoch 90 (within 5 × 20 = 100): not held.
        let rft = [
            run(1000, None, &[(0, 0.0), (90, 0.6)]),
            run(1000, None, &[(0, 0.0), (90, 0.1)]),
        ];
        assert_eq!(
            judge(Setting::BertMiniStsb, MAIN, &sft, &rft).verdict,
            Verdict::NotHeld
        );
        // The same accuracy reached only after the horizon does not count.
        let late = [run(1000, None, &[(0, 0.0), (101, 0.6)])];
        assert_eq!(
            judge(Setting::BertMiniStsb, MAIN, &sft, &late).verdict,
            Verdict::Held
        );
    }

    #[test]
    fn the_verdict_is_inconclusive_when_sft_itself_does_not_fit() {
        let sft = [run(100, Some(40), &[]), run(100, None, &[])];
        let rft = [run(100, None, &[(100, 0.0)])];
        let f = judge(Setting::Resnet18Cifar10, MAIN, &sft, &rft);
        assert_eq!(f.verdict, Verdict::Inconclusive);
        assert_eq!(f.sft_fit90_worst, None);
    }

    #[test]
    fn the_high_reward_variant_is_judged_against_the_sft_of_the_plain_reward() {
        let high = Variant {
            reward_fn: RewardKind::LabelsWithCustom,
            ..MAIN
        };
        assert_eq!(high.sft_variant(), MAIN);
        assert!(MAIN.is_main() && !high.is_main());
        assert_eq!(high.label(), "Adam lr 1e-4, high initial reward");
    }
}
