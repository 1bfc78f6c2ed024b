//! Beyond the paper: which remedy overcomes vanishing gradients, side by side on one task and one
//! budget ([`crate::grue_rft`] runs every method; `experiments/remedies.yaml`). This module turns
//! their rows into one summary per remedy (final reward, and the pool's reward and fraction of
//! small-std inputs per iteration) and answers the two questions the comparison asks:
//!
//! * Targeted SFT: does labelling the k% of inputs with the smallest reward std (as `runner
//!   diagnose` ranks them) before RFT beat labelling a random k%? And does it reach full SFT -> RFT?
//! * DAPO's dynamic sampling drops zero-std groups from the batch: does that help the pool's
//!   small-std inputs (fewer of them at the end than under GRPO), or only the batch?
//!
//! Two remedies differ when their means differ by more than the larger seed spread (std over
//! seeds, at least two seeds each); otherwise "no difference beyond the seed spread".

use crate::grue_report::{GrueResults, MeanStd};
use crate::grue_rft::{GrueRftConfig, PgStepRow, TrackRow};
use crate::rows::Gathered;
use anyhow::Result;

crate::rows! {
    /// What one run of the comparison is: its method, how SFT picked its labels and how many.
    pub struct RemedyRow {
        pub task: String,
        pub label: String,
        pub method: String,
        /// random | smallest_std.
        pub sft_select: String,
        /// Labelled inputs SFT learned (0 without SFT).
        pub sft_labels: usize,
        pub train_inputs: usize,
    }
}

impl RemedyRow {
    pub fn of(c: &GrueRftConfig) -> Result<RemedyRow> {
        Ok(RemedyRow {
            task: c.task.clone(),
            label: c.label.clone(),
            method: c.method.clone(),
            sft_select: c.sft_select.clone(),
            sft_labels: c.sft_labels()?,
            train_inputs: c.train_inputs,
        })
    }

    /// The remedy's name in tables and legends: its label, else its method's name.
    pub fn name(&self) -> String {
        if !self.label.is_empty() {
            return self.label.clone();
        }
        match self.method.as_str() {
            "rft" => "RFT (PPO)",
            "sft_rft" => "SFT → RFT",
            "sft" => "SFT",
            "grpo" => "GRPO",
            "dr_grpo" => "Dr. GRPO",
            "rloo" => "RLOO",
            "dapo" => "DAPO (dynamic sampling)",
            other => other,
        }
        .to_string()
    }
}

/// The rows of a remedies sweep.
#[derive(Debug, Default)]
pub struct RemedyResults {
    pub grue: GrueResults,
    pub remedies: Vec<Gathered<RemedyRow>>,
    pub pg_steps: Vec<Gathered<PgStepRow>>,
}

impl RemedyResults {
    /// The tasks compared, alphabetically.
    pub fn tasks(&self) -> Vec<String> {
        let mut t: Vec<String> = self.remedies.iter().map(|g| g.row.task.clone()).collect();
        t.sort();
        t.dedup();
        t
    }
}

/// One tracked iteration of a remedy's RL phase, over seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct CurvePoint {
    pub iteration: usize,
    pub reward: MeanStd,
    pub small_std: MeanStd,
}

/// One remedy, over its seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct RemedySummary {
    pub name: String,
    pub method: String,
    pub label: String,
    pub sft_select: String,
    pub sft_labels: usize,
    pub train_inputs: usize,
    pub seeds: usize,
    /// Final evaluation reward (the config's decoding) on the train and test pools.
    pub train: Option<MeanStd>,
    pub test: Option<MeanStd>,
    /// The pool at the start and the end of the RL phase (sampled reward; fraction of inputs
    /// with reward std below `small_std`; and with a mean below `low_reward` too).
    pub start_reward: Option<MeanStd>,
    pub end_reward: Option<MeanStd>,
    pub start_small: Option<MeanStd>,
    pub end_small: Option<MeanStd>,
    pub end_small_low: Option<MeanStd>,
    /// Group policy gradients: groups sampled per iteration (DAPO's refills included).
    pub groups_per_iteration: Option<f64>,
    /// Of those groups, the fraction whose rewards were all equal.
    pub batch_zero_std: Option<f64>,
    pub curve: Vec<CurvePoint>,
}

fn stat<'a, T: 'a>(
    rows: impl Iterator<Item = &'a Gathered<T>>,
    value: impl Fn(&T) -> f64,
) -> Option<MeanStd> {
    let mut by_seed: Vec<(u64, f64)> = rows.map(|g| (g.seed, value(&g.row))).collect();
    by_seed.sort_by_key(|x| x.0);
    by_seed.dedup_by_key(|x| x.0);
    MeanStd::of(&by_seed.iter().map(|x| x.1).collect::<Vec<_>>())
}

/// One summary per remedy of `task`, in the order the sweep ran them (first run first).
pub fn summarize(r: &RemedyResults, task: &str) -> Vec<RemedySummary> {
    let mut kinds: Vec<&RemedyRow> = Vec::new();
    for g in r.remedies.iter().filter(|g| g.row.task == task) {
        if !kinds
            .iter()
            .any(|k| k.label == g.row.label && k.method == g.row.method)
        {
            kinds.push(&g.row);
        }
    }
    kinds
        .into_iter()
        .map(|k| {
            let of = |task_: &str, label: &str| task_ == task && label == k.label;
            let seeds = r
                .remedies
                .iter()
                .filter(|g| of(&g.row.task, &g.row.label) && g.row.method == k.method)
                .count();
            let eval = |split: &str| {
                stat(
                    r.grue.eval.iter().filter(|g| {
                        of(&g.row.task, &g.row.label)
                            && g.row.model == k.method
                            && g.row.split == split
                    }),
                    |e| e.reward,
                )
            };
            let track: Vec<&Gathered<TrackRow>> = r
                .grue
                .track
                .iter()
                .filter(|g| of(&g.row.task, &g.row.label) && g.row.phase == k.method)
                .collect();
            let mut iterations: Vec<usize> = track.iter().map(|g| g.row.iteration).collect();
            iterations.sort_unstable();
            iterations.dedup();
            let at = |it: usize, value: &dyn Fn(&TrackRow) -> f64| {
                stat(
                    track.iter().copied().filter(|g| g.row.iteration == it),
                    value,
                )
            };
            let curve: Vec<CurvePoint> = iterations
                .iter()
                .filter_map(|&it| {
                    Some(CurvePoint {
                        iteration: it,
                        reward: at(it, &|t| t.reward)?,
                        small_std: at(it, &|t| t.frac_small_std)?,
                    })
                })
                .collect();
            let (first, last) = (iterations.first().copied(), iterations.last().copied());
            let steps: Vec<&PgStepRow> = r
                .pg_steps
                .iter()
                .filter(|g| of(&g.row.task, &g.row.label) && g.row.phase == k.method)
                .map(|g| &g.row)
                .collect();
            let sampled: usize = steps.iter().map(|s| s.groups_sampled).sum();
            RemedySummary {
                name: k.name(),
                method: k.method.clone(),
                label: k.label.clone(),
                sft_select: k.sft_select.clone(),
                sft_labels: k.sft_labels,
                train_inputs: k.train_inputs,
                seeds,
                train: eval("train"),
                test: eval("test"),
                start_reward: first.and_then(|i| at(i, &|t| t.reward)),
                end_reward: last.and_then(|i| at(i, &|t| t.reward)),
                start_small: first.and_then(|i| at(i, &|t| t.frac_small_std)),
                end_small: last.and_then(|i| at(i, &|t| t.frac_small_std)),
                end_small_low: last.and_then(|i| at(i, &|t| t.frac_small_std_low_reward)),
                groups_per_iteration: (!steps.is_empty())
                    .then(|| sampled as f64 / steps.len() as f64),
                batch_zero_std: (sampled > 0).then(|| {
                    steps
                        .iter()
                        .map(|s| s.frac_reward_zero_std * s.groups_sampled as f64)
                        .sum::<f64>()
                        / sampled as f64
                }),
                curve,
            }
        })
        .collect()
}

/// How two remedies compare on one quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Higher,
    Lower,
    /// The means differ by no more than the larger seed spread.
    Within,
    /// A side has fewer than two seeds: no spread to compare against.
    TooFewSeeds,
}

impl Comparison {
    /// `a` against `b`.
    pub fn of(a: MeanStd, b: MeanStd) -> Comparison {
        let d = a.mean - b.mean;
        if a.n < 2 || b.n < 2 {
            Comparison::TooFewSeeds
        } else if d.abs() <= a.std.max(b.std) {
            Comparison::Within
        } else if d > 0.0 {
            Comparison::Higher
        } else {
            Comparison::Lower
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            Comparison::Higher => "higher",
            Comparison::Lower => "lower",
            Comparison::Within => "no difference beyond the seed spread",
            Comparison::TooFewSeeds => "not comparable (fewer than two seeds)",
        }
    }
}

/// The two questions, answered from the summaries (None where the sweep lacks the runs).
#[derive(Debug, Clone, PartialEq)]
pub struct Answers {
    /// Targeted SFT -> RFT against random SFT -> RFT with as many labels: train reward, and
    /// the pool's small-std fraction at the end.
    pub targeted_vs_random: Option<(usize, Comparison, Comparison)>,
    /// Targeted SFT -> RFT against full SFT -> RFT: train reward.
    pub targeted_vs_full: Option<Comparison>,
    /// DAPO against GRPO: the pool's small-std fraction at the end, and train reward.
    pub dapo_vs_grpo: Option<(Comparison, Comparison)>,
}

pub fn answers(s: &[RemedySummary]) -> Answers {
    let targeted = s
        .iter()
        .find(|x| x.method == "sft_rft" && x.sft_select == "smallest_std");
    let random = targeted.and_then(|t| {
        s.iter().find(|x| {
            x.method == "sft_rft" && x.sft_select == "random" && x.sft_labels == t.sft_labels
        })
    });
    let full = s.iter().find(|x| {
        x.method == "sft_rft" && x.sft_select == "random" && x.sft_labels == x.train_inputs
    });
    let by = |m: &str| s.iter().find(|x| x.method == m);
    let cmp = |a: Option<MeanStd>, b: Option<MeanStd>| Some(Comparison::of(a?, b?));
    Answers {
        targeted_vs_random: targeted.zip(random).and_then(|(t, r)| {
            Some((
                t.sft_labels,
                cmp(t.train, r.train)?,
                cmp(t.end_small, r.end_small)?,
            ))
        }),
        targeted_vs_full: targeted.zip(full).and_then(|(t, f)| cmp(t.train, f.train)),
        dapo_vs_grpo: by("dapo")
            .zip(by("grpo"))
            .and_then(|(d, g)| Some((cmp(d.end_small, g.end_small)?, cmp(d.train, g.train)?))),
    }
}

impl Answers {
    /// One sentence per question.
    pub fn text(&self) -> Vec<String> {
        let mut out = Vec::new();
        match self.targeted_vs_random {
            Some((k, reward, small)) => out.push(format!(
                "Targeted SFT (labels for the {k} inputs with the smallest reward std) → RFT against random SFT with as \
                 many labels: \
                 train reward {}, small-std fraction at the end {}.",
                reward.text(),
                small.text()
            )),
            None => out.push("Targeted vs random SFT: not run.".into()),
        }
        if let Some(c) = self.targeted_vs_full {
            out.push(format!(
                "Targeted SFT → RFT against full SFT → RFT: train reward {}.",
                c.text()
            ));
        }
        match self.dapo_vs_grpo {
            Some((small, reward)) => out.push(format!(
                "DAPO's dynamic sampling against GRPO: the pool's small-std fraction at the end {}, train reward {}.",
                small.text(),
                reward.text()
            )),
            None => out.push("DAPO vs GRPO: not run.".into()),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grue_rft::EvalRow;

    fn ms(mean: f64, std: f64) -> MeanStd {
        MeanStd { mean, std, n: 3 }
    }

    #[test]
    fn comparisons_need_a_gap_beyond_the_seed_spread_and_two_seeds() {
        assert_eq!(
            Comparison::of(ms(0.5, 0.1), ms(0.3, 0.1)),
            Comparison::Higher
        );
        assert_eq!(
            Comparison::of(ms(0.3, 0.1), ms(0.5, 0.05)),
            Comparison::Lower
        );
        assert_eq!(
            Comparison::of(ms(0.5, 0.3), ms(0.3, 0.1)),
            Comparison::Within
        );
        let one = MeanStd {
            mean: 0.9,
            std: 0.0,
            n: 1,
        };
        assert_eq!(Comparison::of(one, ms(0.1, 0.0)), Comparison::TooFewSeeds);
    }

    fn results(targeted_train: [f64; 2], random_train: [f64; 2]) -> RemedyResults {
        let mut r = RemedyResults::default();
        let runs = [
            ("targeted", "smallest_std", 8, targeted_train),
            ("random", "random", 8, random_train),
            ("", "random", 32, [0.5, 0.52]),
        ];
        for (label, select, labels, train) in runs {
            for (seed, reward) in train.iter().enumerate() {
                let g = |row| Gathered {
                    run_id: format!("{label}{seed}"),
                    seed: seed as u64,
                    row,
                };
                r.remedies.push(g(RemedyRow {
                    task: "commongen".into(),
                    label: label.into(),
                    method: "sft_rft".into(),
                    sft_select: select.into(),
                    sft_labels: labels,
                    train_inputs: 32,
                }));
                r.grue.eval.push(Gathered {
                    run_id: format!("{label}{seed}"),
                    seed: seed as u64,
                    row: EvalRow {
                        task: "commongen".into(),
                        label: label.into(),
                        model: "sft_rft".into(),
                        split: "train".into(),
                        inputs: 32,
                        reward: *reward,
                    },
                });
                for (it, small) in [(0, 0.9), (4, 0.8 - reward)] {
                    r.grue.track.push(Gathered {
                        run_id: format!("{label}{seed}"),
                        seed: seed as u64,
                        row: TrackRow {
                            task: "commongen".into(),
                            label: label.into(),
                            phase: "sft_rft".into(),
                            iteration: it,
                            reward: *reward,
                            frac_small_std: small,
                            frac_small_std_low_reward: small / 2.0,
                            frac_reward_zero_std: 0.0,
                        },
                    });
                }
            }
        }
        r
    }

    #[test]
    fn targeted_sft_can_beat_random_sft_or_not() {
        let better = summarize(&results([0.40, 0.42], [0.20, 0.22]), "commongen");
        assert_eq!(better.len(), 3);
        assert_eq!(better[2].name, "SFT → RFT");
        assert_eq!(better[0].curve.len(), 2);
        let a = answers(&better);
        assert_eq!(
            a.targeted_vs_random,
            Some((8, Comparison::Higher, Comparison::Lower))
        );
        assert_eq!(a.targeted_vs_full, Some(Comparison::Lower));
        assert!(a.dapo_vs_grpo.is_none());

        let same = answers(&summarize(
            &results([0.20, 0.30], [0.21, 0.29]),
            "commongen",
        ));
        assert_eq!(
            same.targeted_vs_random,
            Some((8, Comparison::Within, Comparison::Within))
        );
        let worse = answers(&summarize(
            &results([0.10, 0.11], [0.30, 0.31]),
            "commongen",
        ));
        assert_eq!(worse.targeted_vs_random.unwrap().1, Comparison::Lower);
        assert!(worse.text()[0].contains("lower"), "{:?}", worse.text());
    }
}
