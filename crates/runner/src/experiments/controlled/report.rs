//! Figures and tables of the controlled experiments.
//!
//! * `controlled_curves`: per setting (columns), the finetuning curves of RFT and SFT for the
//!   modified (small reward std) and other train inputs: train accuracy, reward, reward std,
//!   gradient norm, and test accuracy; mean and ±1 std over seeds. Main variant (Adam, ±1 reward).
//! * `controlled_variants`: train accuracy under the other variants (SGD, high initial reward).
//! * `controlled_summary` (Markdown, LaTeX, CSV): per setting, variant and method, the epochs
//!   needed to fit 50% and 90% of the small-std inputs, and the final train and test accuracy;
//!   the caption states every cut from the paper's protocol.
//! * `controlled_finding`: whether the paper's finding held in each setting.

use crate::experiments::SweepResults;
use crate::store::cols;
use anyhow::Result;
use plotting::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::Setting;

/// One finished run's summary row.
#[derive(Debug, Clone)]
struct Run {
    setting: String,
    method: String,
    variant: Variant,
    seed: i64,
    num: BTreeMap<String, f64>,
}

/// (optimizer, lr, reward function): what besides the method distinguishes runs of a setting.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
struct Variant {
    optimizer: String,
    lr: f64,
    reward: String,
}

impl Variant {
    fn is_main(&self) -> bool {
        self.optimizer == "adam" && self.reward == "labels"
    }
    fn label(&self) -> String {
        let opt = if self.optimizer == "adam" {
            "Adam"
        } else {
            "SGD"
        };
        let reward = if self.reward == "labels" {
            String::new()
        } else {
            ", high initial reward".into()
        };
        format!("{opt} lr {:e}{reward}", self.lr)
    }
    /// The variant whose SFT runs stand for this one: SFT does not use the reward, so the
    /// high-initial-reward variant compares with the SFT of the ±1 reward.
    fn sft_variant(&self) -> Variant {
        Variant {
            reward: "labels".into(),
            ..self.clone()
        }
    }
    fn key(&self) -> (String, String, String) {
        (
            self.optimizer.clone(),
            format!("{:e}", self.lr),
            self.reward.clone(),
        )
    }
}

/// (setting, variant key, method, group, metric) -> seed -> (epochs, values).
type Curves = BTreeMap<
    (String, (String, String, String), String, String, String),
    BTreeMap<i64, Vec<(f64, f64)>>,
>;

const METRICS: [&str; 4] = ["train_accuracy", "reward", "reward_std", "grad_norm"];

fn setting_order(name: &str) -> usize {
    match Setting::parse(name) {
        Some(Setting::MlpMnist) => 0,
        Some(Setting::Resnet18Cifar10) => 1,
        Some(Setting::BertMiniStsb) => 2,
        None => 3,
    }
}

fn setting_title(name: &str) -> String {
    Setting::parse(name).map_or(name.to_string(), |s| s.title().to_string())
}

pub fn report(sweeps: &[SweepResults], dir: &Path) -> Result<Vec<PathBuf>> {
    let mut runs = Vec::new();
    let mut curves: Curves = BTreeMap::new();
    for s in sweeps {
        let df = s.table("summary")?;
        let (setting, method, opt, reward) = (
            cols::strs(df, "setting")?,
            cols::strs(df, "method")?,
            cols::strs(df, "optimizer")?,
            cols::strs(df, "reward_fn")?,
        );
        let (lr, seed) = (cols::f64s(df, "lr")?, cols::f64s(df, "seed")?);
        let numeric: Vec<(String, Vec<f64>)> = df
            .get_column_names()
            .iter()
            .map(|c| c.to_string())
            .filter(|c| {
                ![
                    "setting",
                    "method",
                    "optimizer",
                    "reward_fn",
                    "device",
                    "run_id",
                ]
                .contains(&c.as_str())
            })
            .filter_map(|c| cols::f64s(df, &c).ok().map(|v| (c, v)))
            .collect();
        for i in 0..df.height() {
            runs.push(Run {
                setting: setting[i].clone(),
                method: method[i].clone(),
                variant: Variant {
                    optimizer: opt[i].clone(),
                    lr: lr[i],
                    reward: reward[i].clone(),
                },
                seed: seed[i] as i64,
                num: numeric.iter().map(|(c, v)| (c.clone(), v[i])).collect(),
            });
        }
        let df = s.table("curves")?;
        let phase = cols::strs(df, "phase")?;
        let (setting, method, opt, reward, group) = (
            cols::strs(df, "setting")?,
            cols::strs(df, "method")?,
            cols::strs(df, "optimizer")?,
            cols::strs(df, "reward_fn")?,
            cols::strs(df, "group")?,
        );
        let (lr, seed, epoch) = (
            cols::f64s(df, "lr")?,
            cols::f64s(df, "seed")?,
            cols::f64s(df, "epoch")?,
        );
        let values: Vec<Vec<f64>> = METRICS
            .iter()
            .map(|m| cols::f64s(df, m))
            .collect::<Result<_>>()?;
        for i in 0..df.height() {
            if phase[i] != "finetune" {
                continue;
            }
            let v = Variant {
                optimizer: opt[i].clone(),
                lr: lr[i],
                reward: reward[i].clone(),
            };
            for (m, vals) in METRICS.iter().zip(&values) {
                curves
                    .entry((
                        setting[i].clone(),
                        v.key(),
                        method[i].clone(),
                        group[i].clone(),
                        m.to_string(),
                    ))
                    .or_default()
                    .entry(seed[i] as i64)
                    .or_default()
                    .push((epoch[i], vals[i]));
            }
        }
        let df = s.table("test")?;
        let phase = cols::strs(df, "phase")?;
        let (setting, method, opt, reward) = (
            cols::strs(df, "setting")?,
            cols::strs(df, "method")?,
            cols::strs(df, "optimizer")?,
            cols::strs(df, "reward_fn")?,
        );
        let (lr, seed, epoch, acc) = (
            cols::f64s(df, "lr")?,
            cols::f64s(df, "seed")?,
            cols::f64s(df, "epoch")?,
            cols::f64s(df, "test_accuracy")?,
        );
        for i in 0..df.height() {
            if phase[i] != "finetune" {
                continue;
            }
            let v = Variant {
                optimizer: opt[i].clone(),
                lr: lr[i],
                reward: reward[i].clone(),
            };
            curves
                .entry((
                    setting[i].clone(),
                    v.key(),
                    method[i].clone(),
                    "test".into(),
                    "test_accuracy".into(),
                ))
                .or_default()
                .entry(seed[i] as i64)
                .or_default()
                .push((epoch[i], acc[i]));
        }
    }
    let mut settings: Vec<String> = runs.iter().map(|r| r.setting.clone()).collect();
    settings.sort_by_key(|s| (setting_order(s), s.clone()));
    settings.dedup();
    let mut written = Vec::new();
    if settings.is_empty() {
        return Ok(written);
    }

    // The main variant of each setting: Adam with the ±1 reward (else the first one run).
    let main_variant = |setting: &str| -> Option<Variant> {
        let mut vs: Vec<&Variant> = runs
            .iter()
            .filter(|r| r.setting == setting)
            .map(|r| &r.variant)
            .collect();
        vs.sort_by(|a, b| a.partial_cmp(b).unwrap());
        vs.iter()
            .find(|v| v.is_main())
            .or(vs.first())
            .map(|v| (*v).clone())
    };

    // Figure: curves of the main variant, one column per setting.
    let series = |setting: &str, v: &Variant, method: &str, group: &str, metric: &str| {
        let runs = curves.get(&(
            setting.to_string(),
            v.key(),
            method.to_string(),
            group.to_string(),
            metric.to_string(),
        ))?;
        let x: Vec<f64> = runs.values().next()?.iter().map(|p| p.0).collect();
        let aligned = runs
            .values()
            .map(|points| {
                let by: BTreeMap<i64, f64> = points.iter().map(|p| (p.0 as i64, p.1)).collect();
                x.iter()
                    .map(|e| by.get(&(*e as i64)).copied().unwrap_or(f64::NAN))
                    .collect()
            })
            .collect();
        Some((x, aligned))
    };
    let line = |label: String, s: Option<(Vec<f64>, Vec<Vec<f64>>)>| {
        s.map(|(x, runs)| LineSeries { label, x, runs })
    };
    let group_label = |g: &str| {
        if g == "modified" {
            "small-std (modified)"
        } else {
            "other inputs"
        }
    };
    let rows: [(&str, &str, bool); 5] = [
        ("train_accuracy", "train accuracy", false),
        ("reward", "reward V(x) (mean)", false),
        ("reward_std", "reward std (mean)", true),
        ("grad_norm", "gradient norm of the group objective", true),
        ("test_accuracy", "test accuracy", false),
    ];
    let mut panels = Vec::new();
    for (row, (metric, y_label, log)) in rows.into_iter().enumerate() {
        for setting in &settings {
            let Some(v) = main_variant(setting) else {
                continue;
            };
            let mut lines = Vec::new();
            for method in ["sft", "rft"] {
                if metric == "test_accuracy" {
                    lines.extend(line(
                        method.to_uppercase(),
                        series(setting, &v, method, "test", metric),
                    ));
                } else {
                    for group in ["modified", "unmodified"] {
                        lines.extend(line(
                            format!("{} {}", method.to_uppercase(), group_label(group)),
                            series(setting, &v, method, group, metric),
                        ));
                    }
                }
            }
            let y = axis_with_legend_room(y_label, log, metric == "reward", &lines);
            let title = if row == 0 {
                format!("{}: {}", setting_title(setting), v.label())
            } else {
                format!("{}: {y_label}", setting_title(setting))
            };
            panels.push(Panel::Lines(LinePanel {
                title,
                x: Axis::linear("finetuning epoch"),
                y,
                series: lines,
                legend: if log {
                    Legend::LowerLeft
                } else {
                    Legend::UpperLeft
                },
            }));
        }
    }
    let mut fig = Figure::row(
        Some("SFT vs exact-gradient RFT on the small-reward-std (modified) and other train inputs"),
        panels,
    );
    fig.columns = settings.len();
    fig.panel_size = (640, 440);
    let stem = dir.join("controlled_curves");
    fig.save(&stem)?;
    written.push(stem.with_extension("png"));

    // Figure: the other variants, train accuracy.
    let mut variant_panels = Vec::new();
    for setting in &settings {
        let mut vs: Vec<Variant> = runs
            .iter()
            .filter(|r| &r.setting == setting && !r.variant.is_main())
            .map(|r| r.variant.clone())
            .collect();
        vs.sort_by(|a, b| a.partial_cmp(b).unwrap());
        vs.dedup();
        for v in vs {
            let mut lines = Vec::new();
            for method in ["sft", "rft"] {
                for group in ["modified", "unmodified"] {
                    let (from, note) = if method == "sft" && v.reward != "labels" {
                        (v.sft_variant(), " (±1 reward run)")
                    } else {
                        (v.clone(), "")
                    };
                    lines.extend(line(
                        format!("{} {}{note}", method.to_uppercase(), group_label(group)),
                        series(setting, &from, method, group, "train_accuracy"),
                    ));
                }
            }
            variant_panels.push(Panel::Lines(LinePanel {
                title: format!("{}: {}", setting_title(setting), v.label()),
                x: Axis::linear("finetuning epoch"),
                y: axis_with_legend_room("train accuracy", false, false, &lines),
                series: lines,
                legend: Legend::UpperLeft,
            }));
        }
    }
    if !variant_panels.is_empty() {
        let n = variant_panels.len();
        let mut fig = Figure::row(
            Some("Variants: plain SGD, and a high initial reward on the small-std inputs"),
            variant_panels,
        );
        fig.columns = n.min(3);
        fig.panel_size = (720, 480);
        let stem = dir.join("controlled_variants");
        fig.save(&stem)?;
        written.push(stem.with_extension("png"));
    }

    // Table: epochs to fit and final accuracies.
    let mut groups: BTreeMap<(usize, String, String, String), Vec<&Run>> = BTreeMap::new();
    for r in &runs {
        let v = &r.variant;
        groups
            .entry((
                setting_order(&r.setting),
                r.setting.clone(),
                format!("{}{}", if v.is_main() { "0" } else { "1" }, v.label()),
                r.method.clone(),
            ))
            .or_default()
            .push(r);
    }
    let mut table = Table::new(
        caption(&runs, &settings),
        &[
            "setting",
            "variant",
            "method",
            "seeds",
            "small-std inputs",
            "initial reward std (small-std / other)",
            "epochs to fit 50% of small-std",
            "epochs to fit 90% of small-std",
            "final train acc. small-std",
            "final train acc. other",
            "final test acc.",
        ],
    );
    for ((_, setting, variant, method), rs) in &groups {
        let get = |k: &str| -> Vec<f64> {
            rs.iter()
                .map(|r| *r.num.get(k).unwrap_or(&f64::NAN))
                .collect()
        };
        let epochs = get("epochs").first().copied().unwrap_or(f64::NAN);
        table.push(vec![
            setting_title(setting),
            variant[1..].to_string(),
            method.to_uppercase(),
            rs.len().to_string(),
            format!(
                "{}",
                get("num_modified").first().copied().unwrap_or(f64::NAN)
            ),
            format!(
                "{} / {}",
                format_sig(mean(&get("init_reward_std_modified")), 2),
                format_sig(mean(&get("init_reward_std_unmodified")), 2)
            ),
            fit_cell(&get("fit50_modified"), epochs),
            fit_cell(&get("fit90_modified"), epochs),
            mean_std_cell(&get("final_train_accuracy_modified")),
            mean_std_cell(&get("final_train_accuracy_unmodified")),
            mean_std_cell(&get("final_test_accuracy")),
        ]);
    }
    let stem = dir.join("controlled_summary");
    table.save(&stem)?;
    written.push(stem.with_extension("md"));

    // Table: did the paper's finding hold?
    let mut finding = Table::new(
        "Controlled experiments: the paper's finding is that SFT fits the small-reward-std (modified) inputs quickly \
         while exact-gradient RFT barely moves them. Verdict per setting and variant (the high-initial-reward RFT is \
         compared with the SFT run of the ±1 reward, since SFT does not use the reward): `held` when SFT fits 90% of the \
         small-std inputs within the budget in every seed and RFT fits fewer than 50% of them by five times that many \
         epochs (or by the end of the budget, if sooner) in every seed; `not held` when RFT fits 50% by then in some \
         seed; `inconclusive` when SFT itself does not fit 90% within the budget.",
        &[
            "setting",
            "variant",
            "SFT: epochs to fit 90% of small-std (max over seeds)",
            "RFT: best small-std train acc. by 5× that epoch or the budget (max over seeds)",
            "RFT: final train acc. small-std / other",
            "verdict",
        ],
    );
    let mut verdicts: Vec<(String, Variant)> = Vec::new();
    for setting in &settings {
        let mut vs: Vec<Variant> = runs
            .iter()
            .filter(|r| &r.setting == setting && r.method == "rft")
            .map(|r| r.variant.clone())
            .collect();
        vs.sort_by(|a, b| (!a.is_main(), a).partial_cmp(&(!b.is_main(), b)).unwrap());
        vs.dedup();
        verdicts.extend(vs.into_iter().map(|v| (setting.clone(), v)));
    }
    for (setting, v) in &verdicts {
        let pick = |method: &str, variant: &Variant| -> Vec<&Run> {
            runs.iter()
                .filter(|r| &r.setting == setting && &r.variant == variant && r.method == method)
                .collect()
        };
        let (sft, rft) = (pick("sft", &v.sft_variant()), pick("rft", v));
        if sft.is_empty() || rft.is_empty() {
            continue;
        }
        let sft90: Vec<f64> = sft
            .iter()
            .map(|r| *r.num.get("fit90_modified").unwrap_or(&f64::NAN))
            .collect();
        let all_fit = sft90.iter().all(|e| e.is_finite());
        let budget = rft
            .iter()
            .map(|r| *r.num.get("epochs").unwrap_or(&f64::NAN))
            .fold(f64::INFINITY, f64::min);
        let sft_worst = sft90.iter().cloned().fold(0.0, f64::max);
        let horizon = (5.0 * sft_worst).min(budget);
        // RFT's best small-std train accuracy at any recorded epoch up to the horizon.
        let rft_at: Vec<f64> = rft
            .iter()
            .map(|r| {
                curves
                    .get(&(
                        setting.clone(),
                        v.key(),
                        "rft".into(),
                        "modified".into(),
                        "train_accuracy".into(),
                    ))
                    .and_then(|runs| runs.get(&r.seed))
                    .and_then(|pts| {
                        pts.iter()
                            .filter(|p| p.0 <= horizon)
                            .map(|p| p.1)
                            .reduce(f64::max)
                    })
                    .unwrap_or(f64::NAN)
            })
            .collect();
        let worst = rft_at.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let verdict = if !all_fit {
            "inconclusive"
        } else if worst < 0.5 {
            "held"
        } else {
            "not held"
        };
        let fm = mean(
            &rft.iter()
                .map(|r| {
                    *r.num
                        .get("final_train_accuracy_modified")
                        .unwrap_or(&f64::NAN)
                })
                .collect::<Vec<_>>(),
        );
        let fu = mean(
            &rft.iter()
                .map(|r| {
                    *r.num
                        .get("final_train_accuracy_unmodified")
                        .unwrap_or(&f64::NAN)
                })
                .collect::<Vec<_>>(),
        );
        finding.push(vec![
            setting_title(setting),
            v.label(),
            if all_fit {
                format!("{sft_worst}")
            } else {
                "not within budget".into()
            },
            if all_fit {
                format!("{:.3} (at epoch ≤ {horizon})", worst)
            } else {
                "n/a".into()
            },
            format!("{fm:.3} / {fu:.3}"),
            verdict.into(),
        ]);
    }
    let stem = dir.join("controlled_finding");
    finding.save(&stem)?;
    written.push(stem.with_extension("md"));
    Ok(written)
}

/// A y axis with room for the legend: above the data on linear axes (accuracies in [0, 1],
/// rewards in [-1, 1]), below it on log axes.
fn axis_with_legend_room(label: &str, log: bool, reward: bool, lines: &[LineSeries]) -> Axis {
    if !log {
        return if reward {
            Axis::linear(label).with_range(-1.05, 2.0)
        } else {
            Axis::linear(label).with_range(0.0, 1.45)
        };
    }
    let values = lines
        .iter()
        .flat_map(|l| l.runs.iter().flatten())
        .copied()
        .filter(|v| v.is_finite() && *v > 0.0);
    let (lo, hi) = values.fold((f64::INFINITY, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() || hi <= 0.0 {
        return Axis::log(label);
    }
    let decades = (hi / lo).log10().max(1.0);
    Axis::log(label).with_range(
        lo / 10f64.powf(0.5 * decades),
        hi * 10f64.powf(0.05 * decades),
    )
}

fn mean(v: &[f64]) -> f64 {
    let f: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if f.is_empty() {
        f64::NAN
    } else {
        f.iter().sum::<f64>() / f.len() as f64
    }
}

fn mean_std_cell(v: &[f64]) -> String {
    let m = mean(v);
    if v.len() < 2 {
        return format!("{m:.3}");
    }
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64;
    format!("{m:.3} ± {:.3}", var.sqrt())
}

/// Epochs to fit over seeds (NaN = not within the budget of `epochs`).
fn fit_cell(v: &[f64], epochs: f64) -> String {
    let fitted: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if fitted.is_empty() {
        return format!("not within budget ({epochs} epochs)");
    }
    let lo = fitted.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = fitted.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let span = if v.len() == 1 {
        format!("{lo}")
    } else if lo == hi {
        format!("{lo} (all seeds)")
    } else {
        format!("{} (range {lo}–{hi})", format_sig(mean(&fitted), 3))
    };
    if fitted.len() < v.len() {
        format!(
            "{}/{} seeds: {span}; others not within {epochs}",
            fitted.len(),
            v.len()
        )
    } else {
        span
    }
}

/// The paper's protocol per setting (ml-rlgrad's experiment plans), for the caption.
struct Paper {
    num_train: f64,
    num_test: f64,
    width: f64,
}

fn paper(setting: &str) -> Paper {
    match Setting::parse(setting) {
        Some(Setting::MlpMnist) => Paper {
            num_train: 1000.0,
            num_test: 1000.0,
            width: f64::NAN,
        },
        Some(Setting::Resnet18Cifar10) => Paper {
            num_train: 10000.0,
            num_test: 1000.0,
            width: 64.0,
        },
        _ => Paper {
            num_train: 5749.0,
            num_test: 1500.0,
            width: f64::NAN,
        },
    }
}

/// Caption: the protocol, then per setting every departure from the paper's.
fn caption(runs: &[Run], settings: &[String]) -> String {
    let mut text = String::from(
        "Controlled experiments with perfect exploration (paper Section 4.2; ml-rlgrad's protocol): pretrain with \
         cross-entropy against the uniform distribution over each class's label set, then give 10% of the train \
         inputs a label outside their set (the small-reward-std inputs) and finetune with exact-gradient RFT \
         (reward +1 correct, −1 otherwise) or SFT (cross-entropy). Epochs to fit = first recorded epoch at which \
         the train accuracy of the small-std inputs reaches 50% / 90%; accuracies are at the last epoch, mean ± std \
         over seeds. Paper protocol: Adam lr 1e-4, batch 512, pretrain 1,000 epochs, finetune 5,000 epochs; SGD \
         variant lr 0.01 (MNIST, CIFAR-10) or 0.001 (STS-B). Cuts in this run:",
    );
    for setting in settings {
        let rs: Vec<&Run> = runs.iter().filter(|r| &r.setting == setting).collect();
        let num = |k: &str| {
            rs.first()
                .and_then(|r| r.num.get(k).copied())
                .unwrap_or(f64::NAN)
        };
        let p = paper(setting);
        let mut cuts = Vec::new();
        if num("num_train") != p.num_train {
            let note = if Setting::parse(setting) == Some(Setting::Resnet18Cifar10) {
                " (our CIFAR-10 copy holds 4,000)"
            } else {
                ""
            };
            cuts.push(format!(
                "{} train inputs instead of {}{note}",
                num("num_train"),
                p.num_train
            ));
        }
        if num("num_test") != p.num_test {
            cuts.push(format!(
                "{} test inputs instead of {}",
                num("num_test"),
                p.num_test
            ));
        }
        if p.width.is_finite() && num("resnet_width") != p.width {
            cuts.push(format!(
                "width {} instead of 64 ({}x fewer channels per stage)",
                num("resnet_width"),
                p.width / num("resnet_width")
            ));
        }
        if Setting::parse(setting) == Some(Setting::BertMiniStsb) && num("max_length") < 512.0 {
            cuts.push(format!(
                "pairs truncated to {} tokens instead of 512",
                num("max_length")
            ));
        }
        if num("pretrain_epochs") != 1000.0 {
            cuts.push(format!(
                "pretraining {} epochs instead of 1,000",
                num("pretrain_epochs")
            ));
        }
        if num("pretrain_lr") != 1e-4 || num("pretrain_batch_size") != 512.0 {
            cuts.push(format!(
                "pretraining Adam lr {:e} batch {} instead of 1e-4 / 512",
                num("pretrain_lr"),
                num("pretrain_batch_size")
            ));
        }
        if num("epochs") != 5000.0 {
            cuts.push(format!(
                "finetuning {} epochs instead of 5,000",
                num("epochs")
            ));
        }
        let main: Vec<&&Run> = rs.iter().filter(|r| r.variant.is_main()).collect();
        if let Some(r) = main.first()
            && (r.variant.lr != 1e-4 || r.num.get("batch_size").copied() != Some(512.0))
        {
            cuts.push(format!(
                "finetuning Adam lr {:e} batch {} instead of 1e-4 / 512",
                r.variant.lr,
                r.num.get("batch_size").copied().unwrap_or(f64::NAN)
            ));
        }
        if num("metrics_every") > 1.0 {
            cuts.push(format!(
                "train metrics every {} epochs",
                num("metrics_every")
            ));
        }
        if num("grad_norm_every") > 1.0 {
            cuts.push(format!(
                "gradient norms measured every {} epochs",
                num("grad_norm_every")
            ));
        }
        let seeds: std::collections::BTreeSet<i64> = rs.iter().map(|r| r.seed).collect();
        text.push_str(&format!(
            " {}: {} ({} seed{}).",
            setting_title(setting),
            if cuts.is_empty() {
                "none, the paper's protocol".to_string()
            } else {
                cuts.join("; ")
            },
            seeds.len(),
            if seeds.len() == 1 { "" } else { "s" }
        ));
    }
    text
}
