//! What the GRUE runs ([`crate::grue_rft`]) say about Findings II and III, computed from their
//! rows: Table 1's cells (mean ± std over seeds), Figure 2's summary (the reward change of
//! small-std inputs against the others under RFT) and the two verdicts.
//!
//! * Finding II (per task): RFT barely moves the inputs whose reward std under the initial model
//!   is small. `holds` when their mean reward change is below half that of the other inputs;
//!   `does not hold` otherwise; `not measurable` when RFT did not raise the other inputs' reward
//!   by more than its spread over seeds, or fewer than two seeds have other inputs (then nothing
//!   can be said about the small-std ones).
//! * Finding III (across tasks): the RFT-vs-SFT gap is worst where small-std, low-reward inputs
//!   are common. `holds` when the Spearman correlation between that fraction (under the
//!   pretrained model) and the gap (SFT minus RFT test reward) is above 0.5 over at least 4 tasks;
//!   `does not hold` when it is at most 0.5; `not measurable` with fewer tasks.

use crate::grue_rft::{
    EffectiveRow, EvalRow, InputChangeRow, IterationRow, PhaseTimingRow, SettingRow, TrackRow,
};
use crate::rows::Gathered;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// All rows of the GRUE sweeps of one file, with their runs.
#[derive(Debug, Default)]
pub struct GrueResults {
    pub eval: Vec<Gathered<EvalRow>>,
    pub track: Vec<Gathered<TrackRow>>,
    pub iterations: Vec<Gathered<IterationRow>>,
    pub inputs: Vec<Gathered<InputChangeRow>>,
    pub timing: Vec<Gathered<PhaseTimingRow>>,
    pub settings: Vec<Gathered<SettingRow>>,
    pub effective: Vec<Gathered<EffectiveRow>>,
}

impl GrueResults {
    /// The evaluated tasks, in the paper's order (unknown names last, alphabetically).
    pub fn tasks(&self) -> Vec<String> {
        let mut t: Vec<String> = self.eval.iter().map(|g| g.row.task.clone()).collect();
        t.sort_by_key(|x| {
            let pos = grue::TaskName::parse(x)
                .ok()
                .and_then(|n| grue::TaskName::ALL.iter().position(|a| *a == n));
            (pos.unwrap_or(usize::MAX), x.clone())
        });
        t.dedup();
        t
    }
}

/// Mean and sample std (ddof 1; 0 for one value) of some values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanStd {
    pub mean: f64,
    pub std: f64,
    pub n: usize,
}

impl MeanStd {
    pub fn of(xs: &[f64]) -> Option<MeanStd> {
        if xs.is_empty() {
            return None;
        }
        let n = xs.len();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let std = if n > 1 {
            (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        Some(MeanStd { mean, std, n })
    }

    /// `0.123 ± 0.004`.
    pub fn text(&self, decimals: usize) -> String {
        format!("{:.*} ± {:.*}", decimals, self.mean, decimals, self.std)
    }
}

/// Holds / does not hold / cannot be measured here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Holds,
    DoesNotHold,
    NotMeasurable,
}

impl Verdict {
    pub fn text(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::DoesNotHold => "does not hold",
            Verdict::NotMeasurable => "not measurable here",
        }
    }
}

/// Table 1's models, in column order.
pub const MODELS: [&str; 4] = ["pretrained", "rft", "sft", "sft_rft"];

/// One task of Table 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Table1Row {
    pub task: String,
    /// Fraction of training inputs with small std and low reward under the pretrained model
    /// (the RFT runs' first measurement), over seeds.
    pub small_std_low_reward: Option<MeanStd>,
    /// `(model, split)` -> reward over seeds.
    pub cells: BTreeMap<(String, String), MeanStd>,
}

impl Table1Row {
    pub fn cell(&self, model: &str, split: &str) -> Option<MeanStd> {
        self.cells
            .get(&(model.to_string(), split.to_string()))
            .copied()
    }

    /// SFT minus RFT reward on `split` (means over seeds).
    pub fn gap(&self, split: &str) -> Option<f64> {
        Some(self.cell("sft", split)?.mean - self.cell("rft", split)?.mean)
    }
}

/// Table 1 of the runs labelled `label`, tasks in `order`'s order.
pub fn table1(r: &GrueResults, label: &str, order: &[String]) -> Vec<Table1Row> {
    order
        .iter()
        .filter_map(|task| {
            let mut cells = BTreeMap::new();
            for model in MODELS {
                for split in ["train", "test"] {
                    let xs: Vec<f64> = r
                        .eval
                        .iter()
                        .filter(|g| {
                            let e = &g.row;
                            &e.task == task
                                && e.label == label
                                && e.model == model
                                && e.split == split
                        })
                        .map(|g| g.row.reward)
                        .collect();
                    if let Some(m) = MeanStd::of(&xs) {
                        cells.insert((model.to_string(), split.to_string()), m);
                    }
                }
            }
            if cells.is_empty() {
                return None;
            }
            let fracs: Vec<f64> = r
                .track
                .iter()
                .filter(|g| {
                    let t = &g.row;
                    &t.task == task && t.label == label && t.phase == "rft" && t.iteration == 0
                })
                .map(|g| g.row.frac_small_std_low_reward)
                .collect();
            Some(Table1Row {
                task: task.clone(),
                small_std_low_reward: MeanStd::of(&fracs),
                cells,
            })
        })
        .collect()
}

/// Spearman's rank correlation (average ranks for ties); `None` under 2 points or for a
/// constant series.
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 2 {
        return None;
    }
    let rank = |v: &[f64]| -> Vec<f64> {
        let mut idx: Vec<usize> = (0..v.len()).collect();
        idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
        let mut r = vec![0.0; v.len()];
        let mut i = 0;
        while i < idx.len() {
            let mut j = i;
            while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
                j += 1;
            }
            let avg = (i + j) as f64 / 2.0 + 1.0;
            for &k in &idx[i..=j] {
                r[k] = avg;
            }
            i = j + 1;
        }
        r
    };
    let (rx, ry) = (rank(x), rank(y));
    let n = x.len() as f64;
    let (mx, my) = (rx.iter().sum::<f64>() / n, ry.iter().sum::<f64>() / n);
    let cov: f64 = rx.iter().zip(&ry).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = rx.iter().map(|a| (a - mx).powi(2)).sum();
    let vy: f64 = ry.iter().map(|b| (b - my).powi(2)).sum();
    (vx > 0.0 && vy > 0.0).then(|| cov / (vx * vy).sqrt())
}

/// Finding III over the tasks of Table 1: the correlation, how many tasks entered, the verdict.
pub fn finding3(rows: &[Table1Row]) -> (Option<f64>, usize, Verdict) {
    let pts: Vec<(f64, f64)> = rows
        .iter()
        .filter_map(|r| Some((r.small_std_low_reward?.mean, r.gap("test")?)))
        .collect();
    let (x, y): (Vec<f64>, Vec<f64>) = pts.iter().copied().unzip();
    let rho = spearman(&x, &y);
    let verdict = match rho {
        _ if pts.len() < 4 => Verdict::NotMeasurable,
        None => Verdict::NotMeasurable,
        Some(r) if r > 0.5 => Verdict::Holds,
        Some(_) => Verdict::DoesNotHold,
    };
    (rho, pts.len(), verdict)
}

/// Figure 2's summary of one task and RL phase.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeSummary {
    pub task: String,
    pub phase: String,
    /// Inputs with small initial std, per seed (mean).
    pub small_inputs: f64,
    pub other_inputs: f64,
    /// Mean reward change of the small-std inputs, over seeds (seeds without any are skipped).
    pub small: Option<MeanStd>,
    pub other: Option<MeanStd>,
    pub verdict: Verdict,
}

/// Finding II per task for `phase` (`rft` or `sft_rft`) of the runs labelled `label`.
pub fn finding2(
    r: &GrueResults,
    label: &str,
    phase: &str,
    small_std: f64,
    order: &[String],
) -> Vec<ChangeSummary> {
    order
        .iter()
        .filter_map(|task| {
            let rows: Vec<&Gathered<InputChangeRow>> = r
                .inputs
                .iter()
                .filter(|g| &g.row.task == task && g.row.label == label && g.row.phase == phase)
                .collect();
            if rows.is_empty() {
                return None;
            }
            let mut seeds: Vec<u64> = rows.iter().map(|g| g.seed).collect();
            seeds.sort_unstable();
            seeds.dedup();
            let (mut small, mut other, mut n_small, mut n_other) = (vec![], vec![], 0, 0);
            for s in &seeds {
                let of_seed = || rows.iter().filter(|g| g.seed == *s).map(|g| &g.row);
                let change = |small_group: bool| -> Vec<f64> {
                    of_seed()
                        .filter(|x| (x.std_before < small_std) == small_group)
                        .map(|x| x.mean_after - x.mean_before)
                        .collect()
                };
                let (cs, co) = (change(true), change(false));
                n_small += cs.len();
                n_other += co.len();
                if let Some(m) = MeanStd::of(&cs) {
                    small.push(m.mean);
                }
                if let Some(m) = MeanStd::of(&co) {
                    other.push(m.mean);
                }
            }
            let (small, other) = (MeanStd::of(&small), MeanStd::of(&other));
            let verdict = match (small, other) {
                (Some(s), Some(o)) if o.n >= 2 && o.mean > o.std.max(1e-9) => {
                    if s.mean < 0.5 * o.mean {
                        Verdict::Holds
                    } else {
                        Verdict::DoesNotHold
                    }
                }
                _ => Verdict::NotMeasurable,
            };
            let k = seeds.len() as f64;
            Some(ChangeSummary {
                task: task.clone(),
                phase: phase.to_string(),
                small_inputs: n_small as f64 / k,
                other_inputs: n_other as f64 / k,
                small,
                other,
                verdict,
            })
        })
        .collect()
}

/// PPO speed of one task: iterations/s and token transitions/s over its RL phases.
#[derive(Debug, Clone, PartialEq)]
pub struct Speed {
    pub task: String,
    pub iterations_per_second: f64,
    pub transitions_per_second: f64,
    /// Seconds per SFT step (0 when no SFT ran).
    pub sft_step_seconds: f64,
    pub runs: usize,
}

/// PPO and SFT speed per task of the runs labelled `label`.
pub fn speed(r: &GrueResults, label: &str, order: &[String]) -> Vec<Speed> {
    order
        .iter()
        .filter_map(|task| {
            let of = |phases: &[&str]| -> (f64, usize, usize, usize) {
                r.timing
                    .iter()
                    .filter(|g| {
                        &g.row.task == task
                            && g.row.label == label
                            && phases.contains(&g.row.phase.as_str())
                    })
                    .fold((0.0, 0, 0, 0), |(s, u, t, n), g| {
                        (
                            s + g.row.seconds,
                            u + g.row.units,
                            t + g.row.transitions,
                            n + 1,
                        )
                    })
            };
            let (secs, iters, trans, runs) = of(&["rft", "sft_rft"]);
            if runs == 0 || secs <= 0.0 {
                return None;
            }
            let (sft_secs, sft_steps, _, _) = of(&["sft"]);
            Some(Speed {
                task: task.clone(),
                iterations_per_second: iters as f64 / secs,
                transitions_per_second: trans as f64 / secs,
                sft_step_seconds: if sft_steps > 0 {
                    sft_secs / sft_steps as f64
                } else {
                    0.0
                },
                runs,
            })
        })
        .collect()
}

/// What distinguishes a run of Table 2 from the plain RFT run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Heuristic {
    /// RFT with the profile's learning rate, temperature 1, no entropy bonus.
    Rft,
    SftRft,
    /// The learning rate times this factor.
    LearningRate(f64),
    Temperature(f64),
    EntropyCoefficient(f64),
}

impl Heuristic {
    pub fn text(&self) -> String {
        match self {
            Heuristic::Rft => "RFT".into(),
            Heuristic::SftRft => "SFT + RFT".into(),
            Heuristic::LearningRate(k) => format!("RFT, learning rate x{k}"),
            Heuristic::Temperature(t) => format!("RFT, temperature {t}"),
            Heuristic::EntropyCoefficient(e) => format!("RFT, entropy coefficient {e}"),
        }
    }

    /// The paper's Table 2 (NarrativeQA, T5-base): (train mean, train std, test mean, test std);
    /// the paper's learning rates are 2e-6 x 1 / 10 / 100 / 1000.
    pub fn paper(&self) -> Option<(f64, f64, f64, f64)> {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9 * b.abs().max(1.0);
        Some(match *self {
            Heuristic::Rft => (0.101, 0.009, 0.116, 0.000),
            Heuristic::SftRft => (0.537, 0.005, 0.544, 0.003),
            Heuristic::LearningRate(k) if close(k, 10.0) => (0.012, f64::NAN, 0.020, f64::NAN),
            Heuristic::LearningRate(k) if close(k, 100.0) => (0.053, f64::NAN, 0.048, f64::NAN),
            Heuristic::LearningRate(k) if close(k, 1000.0) => (0.039, f64::NAN, 0.012, f64::NAN),
            Heuristic::Temperature(t) if close(t, 1.5) => (0.077, f64::NAN, 0.118, f64::NAN),
            Heuristic::Temperature(t) if close(t, 2.0) => (0.060, f64::NAN, 0.104, f64::NAN),
            Heuristic::Temperature(t) if close(t, 2.5) => (0.044, f64::NAN, 0.088, f64::NAN),
            Heuristic::EntropyCoefficient(e) if close(e, 0.01) => {
                (0.080, f64::NAN, 0.113, f64::NAN)
            }
            Heuristic::EntropyCoefficient(e) if close(e, 0.1) => (0.024, f64::NAN, 0.019, f64::NAN),
            Heuristic::EntropyCoefficient(e) if close(e, 1.0) => (0.011, f64::NAN, 0.013, f64::NAN),
            _ => return None,
        })
    }
}

/// One row of Table 2 (one task).
#[derive(Debug, Clone, PartialEq)]
pub struct Table2Row {
    pub task: String,
    pub heuristic: Heuristic,
    pub train: Option<MeanStd>,
    pub test: Option<MeanStd>,
    /// Fraction of training inputs with small reward std at the end of RFT, over seeds.
    pub small_std_after: Option<MeanStd>,
}

/// Table 2 of one task: runs grouped by their effective settings; the plain RFT run is the one
/// with the smallest learning rate and the most common temperature and entropy coefficient.
pub fn table2(r: &GrueResults, task: &str) -> Vec<Table2Row> {
    let runs: Vec<&Gathered<EffectiveRow>> =
        r.effective.iter().filter(|g| g.row.task == task).collect();
    let rft: Vec<&&Gathered<EffectiveRow>> =
        runs.iter().filter(|g| g.row.method == "rft").collect();
    let Some(base_lr) = rft
        .iter()
        .map(|g| g.row.ppo_learning_rate)
        .min_by(f64::total_cmp)
    else {
        return Vec::new();
    };
    // The plain settings: the most common temperature and entropy coefficient of the RFT runs
    // (each heuristic changes one knob, so the others keep the config's own value).
    let mode = |f: &dyn Fn(&EffectiveRow) -> f64| -> f64 {
        let mut vals: Vec<f64> = rft.iter().map(|g| f(&g.row)).collect();
        vals.sort_by(f64::total_cmp);
        let mut best = (0, vals[0]);
        for v in &vals {
            let n = vals.iter().filter(|x| *x == v).count();
            if n > best.0 {
                best = (n, *v);
            }
        }
        best.1
    };
    let (base_t, base_e) = (mode(&|e| e.temperature), mode(&|e| e.ent_coef));
    let classify = |e: &EffectiveRow| -> Option<Heuristic> {
        if e.method == "sft_rft" {
            return Some(Heuristic::SftRft);
        }
        let lr = e.ppo_learning_rate / base_lr;
        let (lr1, t1, e0) = (
            (lr - 1.0).abs() < 1e-9,
            e.temperature == base_t,
            e.ent_coef == base_e,
        );
        match (lr1, t1, e0) {
            (true, true, true) => Some(Heuristic::Rft),
            (false, true, true) => Some(Heuristic::LearningRate((lr * 1e6).round() / 1e6)),
            (true, false, true) => Some(Heuristic::Temperature(e.temperature)),
            (true, true, false) => Some(Heuristic::EntropyCoefficient(e.ent_coef)),
            _ => None,
        }
    };
    let mut groups: Vec<(Heuristic, Vec<&str>)> = Vec::new();
    for g in &runs {
        let Some(h) = classify(&g.row) else { continue };
        match groups.iter_mut().find(|(k, _)| *k == h) {
            Some((_, ids)) => ids.push(&g.run_id),
            None => groups.push((h, vec![&g.run_id])),
        }
    }
    let rank = |h: &Heuristic| match h {
        Heuristic::Rft => (0, 0.0),
        Heuristic::SftRft => (1, 0.0),
        Heuristic::LearningRate(k) => (2, *k),
        Heuristic::Temperature(t) => (3, *t),
        Heuristic::EntropyCoefficient(e) => (4, *e),
    };
    groups.sort_by(|a, b| {
        let (x, y) = (rank(&a.0), rank(&b.0));
        x.0.cmp(&y.0).then(x.1.total_cmp(&y.1))
    });
    groups
        .into_iter()
        .map(|(h, ids)| {
            let model = if h == Heuristic::SftRft {
                "sft_rft"
            } else {
                "rft"
            };
            let reward = |split: &str| {
                let xs: Vec<f64> = r
                    .eval
                    .iter()
                    .filter(|g| ids.contains(&g.run_id.as_str()))
                    .filter(|g| g.row.model == model && g.row.split == split)
                    .map(|g| g.row.reward)
                    .collect();
                MeanStd::of(&xs)
            };
            let last: Vec<f64> = ids
                .iter()
                .filter_map(|id| {
                    r.track
                        .iter()
                        .filter(|g| g.run_id == *id && g.row.phase == model)
                        .max_by_key(|g| g.row.iteration)
                        .map(|g| g.row.frac_small_std)
                })
                .collect();
            Table2Row {
                task: task.to_string(),
                heuristic: h,
                train: reward("train"),
                test: reward("test"),
                small_std_after: MeanStd::of(&last),
            }
        })
        .collect()
}

/// C7 on one task's Table 2: none of the heuristics closes half of the train-reward gap between
/// RFT and SFT + RFT. Not measurable without both reference rows or when SFT + RFT is not above RFT.
pub fn heuristics_verdict(rows: &[Table2Row]) -> Verdict {
    let get = |h: Heuristic| rows.iter().find(|r| r.heuristic == h).and_then(|r| r.train);
    let (Some(rft), Some(sft)) = (get(Heuristic::Rft), get(Heuristic::SftRft)) else {
        return Verdict::NotMeasurable;
    };
    let gap = sft.mean - rft.mean;
    if gap <= 0.0 {
        return Verdict::NotMeasurable;
    }
    let rescued = rows.iter().any(|r| {
        !matches!(r.heuristic, Heuristic::Rft | Heuristic::SftRft)
            && r.train.is_some_and(|m| m.mean >= rft.mean + 0.5 * gap)
    });
    if rescued {
        Verdict::DoesNotHold
    } else {
        Verdict::Holds
    }
}

/// The partial-SFT heatmap of one task: rows = fraction of SFT steps (descending), columns =
/// fraction of labelled samples (ascending), cells = reward of RFT after that SFT over reward of
/// RFT after full SFT (means over seeds), on `split`; NaN where a cell has no run or full SFT's
/// reward is not positive.
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    pub steps: Vec<f64>,
    pub samples: Vec<f64>,
    /// `values[row][col]`; NaN where no run finished.
    pub values: Vec<Vec<f64>>,
    /// The reference: RFT after full SFT, over seeds.
    pub full: Option<MeanStd>,
}

impl Heatmap {
    /// Whether the reference, RFT after full SFT, scored above 0: without that every ratio of
    /// the grid is undefined (NaN).
    pub fn reference_positive(&self) -> bool {
        self.full.is_some_and(|f| f.mean > 0.0)
    }
}

pub fn partial_sft(r: &GrueResults, task: &str, split: &str) -> Option<Heatmap> {
    let runs: Vec<&Gathered<EffectiveRow>> = r
        .effective
        .iter()
        .filter(|g| g.row.task == task && g.row.method == "sft_rft")
        .collect();
    let mut steps: Vec<f64> = runs.iter().map(|g| g.row.sft_steps_fraction).collect();
    let mut samples: Vec<f64> = runs.iter().map(|g| g.row.sft_samples_fraction).collect();
    steps.sort_by(|a, b| b.total_cmp(a));
    steps.dedup();
    samples.sort_by(f64::total_cmp);
    samples.dedup();
    let cell_seeds = |st: f64, sa: f64| -> Option<MeanStd> {
        let xs: Vec<f64> = runs
            .iter()
            .filter(|g| g.row.sft_steps_fraction == st && g.row.sft_samples_fraction == sa)
            .filter_map(|g| {
                r.eval
                    .iter()
                    .find(|e| {
                        e.run_id == g.run_id && e.row.model == "sft_rft" && e.row.split == split
                    })
                    .map(|e| e.row.reward)
            })
            .collect();
        MeanStd::of(&xs)
    };
    if runs.is_empty() {
        return None;
    }
    let mut heatmap = Heatmap {
        full: cell_seeds(1.0, 1.0),
        values: Vec::new(),
        steps,
        samples,
    };
    // Without a positive full-SFT reward every ratio is undefined (NaN), but the grid is kept.
    let full = match heatmap.full {
        Some(f) if heatmap.reference_positive() => f.mean,
        _ => f64::NAN,
    };
    heatmap.values = heatmap
        .steps
        .iter()
        .map(|&st| {
            heatmap
                .samples
                .iter()
                .map(|&sa| cell_seeds(st, sa).map_or(f64::NAN, |m| m.mean / full))
                .collect()
        })
        .collect();
    Some(heatmap)
}

/// The paper's heatmap (NarrativeQA, train): rows 100/80/60/40/20/5 % of the SFT steps, columns
/// 1/20/40/60/80/100 % of the samples.
pub const PAPER_PARTIAL_SFT: ([f64; 6], [f64; 6], [[f64; 6]; 6]) = (
    [1.0, 0.8, 0.6, 0.4, 0.2, 0.05],
    [0.01, 0.2, 0.4, 0.6, 0.8, 1.0],
    [
        [0.96, 1.01, 1.01, 1.01, 1.02, 1.00],
        [0.95, 1.00, 1.00, 0.99, 0.99, 1.01],
        [0.96, 0.99, 0.99, 0.98, 0.98, 0.99],
        [0.96, 0.96, 0.96, 0.95, 0.96, 0.96],
        [0.90, 0.86, 0.91, 0.86, 0.91, 0.90],
        [0.60, 0.63, 0.62, 0.60, 0.59, 0.63],
    ],
);

/// C8: on the grid's smallest fraction of samples (the paper: 1%), some partial SFT with fewer
/// than all steps reaches at least 0.95 of full SFT -> RFT. Not measurable when the reference
/// (full SFT -> RFT) is not above its spread over seeds.
pub fn partial_sft_verdict(h: &Heatmap) -> Verdict {
    // A reference within its own spread over seeds makes every ratio noise.
    if h.full.is_some_and(|f| f.n >= 2 && f.mean <= f.std) {
        return Verdict::NotMeasurable;
    }
    let Some(col) = h
        .samples
        .iter()
        .position(|s| *s == h.samples.iter().copied().fold(f64::INFINITY, f64::min))
    else {
        return Verdict::NotMeasurable;
    };
    let partial: Vec<f64> = h
        .steps
        .iter()
        .zip(&h.values)
        .filter(|(st, _)| **st < 1.0)
        .map(|(_, row)| row[col])
        .filter(|v| v.is_finite())
        .collect();
    if partial.is_empty() {
        Verdict::NotMeasurable
    } else if partial.iter().any(|v| *v >= 0.95) {
        Verdict::Holds
    } else {
        Verdict::DoesNotHold
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g<T>(seed: u64, row: T) -> Gathered<T> {
        Gathered {
            run_id: format!("r{seed}"),
            seed,
            row,
        }
    }

    fn change(
        task: &str,
        seed: u64,
        std: f64,
        before: f64,
        after: f64,
    ) -> Gathered<InputChangeRow> {
        g(
            seed,
            InputChangeRow {
                task: task.into(),
                label: String::new(),
                phase: "rft".into(),
                position: 0,
                index: 0,
                mean_before: before,
                std_before: std,
                mean_after: after,
                std_after: std,
            },
        )
    }

    #[test]
    fn spearman_is_one_for_a_monotone_pair_and_minus_one_reversed() {
        let x = [0.1, 0.5, 0.2, 0.9];
        let y = [1.0, 3.0, 2.0, 10.0];
        assert!((spearman(&x, &y).unwrap() - 1.0).abs() < 1e-12);
        let rev: Vec<f64> = y.iter().map(|v| -v).collect();
        assert!((spearman(&x, &rev).unwrap() + 1.0).abs() < 1e-12);
        assert_eq!(spearman(&x, &[1.0; 4]), None);
        // ties share their average rank
        let r = spearman(&[1.0, 1.0, 2.0], &[1.0, 2.0, 3.0]).unwrap();
        assert!((r - 0.866_025_403_784_438_6).abs() < 1e-12, "{r}");
    }

    #[test]
    fn finding2_holds_when_small_std_inputs_move_less_and_not_otherwise() {
        let order = vec!["t".to_string()];
        let mut r = GrueResults::default();
        for seed in 0..3 {
            r.inputs.push(change("t", seed, 0.0, 0.0, 0.01));
            r.inputs.push(change("t", seed, 0.3, 0.2, 0.5));
        }
        let s = &finding2(&r, "", "rft", 0.05, &order)[0];
        assert_eq!(s.verdict, Verdict::Holds);
        assert_eq!((s.small_inputs, s.other_inputs), (1.0, 1.0));

        let mut r = GrueResults::default();
        for seed in 0..3 {
            r.inputs.push(change("t", seed, 0.0, 0.0, 0.4));
            r.inputs.push(change("t", seed, 0.3, 0.2, 0.5));
        }
        assert_eq!(
            finding2(&r, "", "rft", 0.05, &order)[0].verdict,
            Verdict::DoesNotHold
        );

        // RFT moved nothing: nothing can be said.
        let mut r = GrueResults::default();
        for seed in 0..3 {
            r.inputs.push(change("t", seed, 0.0, 0.0, 0.0));
            r.inputs
                .push(change("t", seed, 0.3, 0.2, 0.2 - 0.01 * seed as f64));
        }
        assert_eq!(
            finding2(&r, "", "rft", 0.05, &order)[0].verdict,
            Verdict::NotMeasurable
        );
    }

    fn table_row(task: &str, frac: f64, rft: f64, sft: f64) -> Table1Row {
        let m = |x: f64| MeanStd {
            mean: x,
            std: 0.0,
            n: 1,
        };
        let mut cells = BTreeMap::new();
        cells.insert(("rft".into(), "test".into()), m(rft));
        cells.insert(("sft".into(), "test".into()), m(sft));
        Table1Row {
            task: task.into(),
            small_std_low_reward: Some(m(frac)),
            cells,
        }
    }

    #[test]
    fn finding3_holds_when_the_gap_grows_with_the_fraction_and_not_when_it_shrinks() {
        let grows: Vec<Table1Row> = (0..5)
            .map(|i| table_row("t", i as f64 * 0.2, 0.1, 0.1 + i as f64 * 0.05))
            .collect();
        let (rho, n, v) = finding3(&grows);
        assert_eq!((n, v), (5, Verdict::Holds));
        assert!((rho.unwrap() - 1.0).abs() < 1e-12);
        let shrinks: Vec<Table1Row> = (0..5)
            .map(|i| table_row("t", i as f64 * 0.2, 0.1, 0.5 - i as f64 * 0.05))
            .collect();
        assert_eq!(finding3(&shrinks).2, Verdict::DoesNotHold);
        assert_eq!(finding3(&grows[..3]).2, Verdict::NotMeasurable);
    }

    #[test]
    fn table1_averages_seeds_per_model_and_split() {
        let mut r = GrueResults::default();
        for (seed, x) in [(0, 0.1), (1, 0.3)] {
            r.eval.push(g(
                seed,
                EvalRow {
                    task: "t".into(),
                    label: String::new(),
                    model: "rft".into(),
                    split: "test".into(),
                    inputs: 4,
                    reward: x,
                },
            ));
        }
        let rows = table1(&r, "", &["t".to_string(), "missing".to_string()]);
        assert_eq!(rows.len(), 1);
        let c = rows[0].cell("rft", "test").unwrap();
        assert!((c.mean - 0.2).abs() < 1e-12 && (c.std - 0.141_421_356).abs() < 1e-6);
        assert_eq!(rows[0].small_std_low_reward, None);
    }

    fn effective(run: &str, method: &str, lr: f64, t: f64, e: f64) -> Gathered<EffectiveRow> {
        Gathered {
            run_id: run.into(),
            seed: 0,
            row: EffectiveRow {
                task: "t".into(),
                label: String::new(),
                method: method.into(),
                ppo_learning_rate: lr,
                temperature: t,
                ent_coef: e,
                sft_steps: 1,
                sft_frac_train_samples: 1.0,
                sft_steps_fraction: 1.0,
                sft_samples_fraction: 1.0,
            },
        }
    }

    fn eval(run: &str, model: &str, reward: f64) -> Gathered<EvalRow> {
        Gathered {
            run_id: run.into(),
            seed: 0,
            row: EvalRow {
                task: "t".into(),
                label: String::new(),
                model: model.into(),
                split: "train".into(),
                inputs: 1,
                reward,
            },
        }
    }

    #[test]
    fn table2_names_each_run_by_what_it_changes_and_the_verdict_sees_a_rescue() {
        let mut r = GrueResults::default();
        let runs = [
            ("a", "rft", 1e-4, 1.0, 0.0, 0.10),
            ("b", "sft_rft", 1e-4, 1.0, 0.0, 0.50),
            ("c", "rft", 1e-3, 1.0, 0.0, 0.05),
            ("d", "rft", 1e-4, 2.0, 0.0, 0.08),
            ("e", "rft", 1e-4, 1.0, 0.1, 0.02),
        ];
        for (id, m, lr, t, e, rew) in runs {
            r.effective.push(effective(id, m, lr, t, e));
            r.eval.push(eval(id, m, rew));
        }
        let rows = table2(&r, "t");
        let names: Vec<String> = rows.iter().map(|x| x.heuristic.text()).collect();
        assert_eq!(
            names,
            [
                "RFT",
                "SFT + RFT",
                "RFT, learning rate x10",
                "RFT, temperature 2",
                "RFT, entropy coefficient 0.1"
            ]
        );
        assert_eq!(heuristics_verdict(&rows), Verdict::Holds);
        assert_eq!(Heuristic::LearningRate(10.0).paper().unwrap().0, 0.012);
        // a temperature that closes more than half of the gap rescues RFT
        r.eval.retain(|g| g.run_id != "d");
        r.eval.push(eval("d", "rft", 0.35));
        assert_eq!(heuristics_verdict(&table2(&r, "t")), Verdict::DoesNotHold);
    }

    #[test]
    fn the_partial_sft_heatmap_is_relative_to_full_sft_and_its_verdict_reads_the_smallest_column() {
        let mut r = GrueResults::default();
        let cells = [
            (1.0, 1.0, 0.5),
            (1.0, 0.01, 0.45),
            (0.2, 0.01, 0.48),
            (0.2, 1.0, 0.2),
        ];
        for (i, (st, sa, rew)) in cells.into_iter().enumerate() {
            let id = format!("r{i}");
            let mut e = effective(&id, "sft_rft", 1e-4, 1.0, 0.0);
            e.row.sft_steps_fraction = st;
            e.row.sft_samples_fraction = sa;
            r.effective.push(e);
            r.eval.push(eval(&id, "sft_rft", rew));
        }
        let h = partial_sft(&r, "t", "train").unwrap();
        assert_eq!(
            (h.steps.clone(), h.samples.clone()),
            (vec![1.0, 0.2], vec![0.01, 1.0])
        );
        assert!((h.values[1][0] - 0.96).abs() < 1e-12 && (h.values[1][1] - 0.4).abs() < 1e-12);
        assert_eq!(partial_sft_verdict(&h), Verdict::Holds);
        let mut worse = h.clone();
        worse.values[1][0] = 0.5;
        assert_eq!(partial_sft_verdict(&worse), Verdict::DoesNotHold);
        let mut noisy = h.clone();
        noisy.full = Some(MeanStd {
            mean: 0.03,
            std: 0.04,
            n: 2,
        });
        assert_eq!(partial_sft_verdict(&noisy), Verdict::NotMeasurable);
    }
}
