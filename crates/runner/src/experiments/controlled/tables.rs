//! The controlled experiments' tables: epochs to fit and final accuracies, and the verdict on the
//! paper's finding.

use super::{Data, Setting};
use anyhow::Result;
use plotting::{Table, format_sig};
use protocols::controlled::rows::SummaryRow;
use protocols::controlled::verdict::{Variant, findings};
use protocols::rows::Gathered;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use trainers::classify::Objective;

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

/// Epochs to fit over seeds (`None` = not within the budget of `epochs`).
fn fit_cell(v: &[Option<i64>], epochs: usize) -> String {
    let fitted: Vec<f64> = v.iter().flatten().map(|&e| e as f64).collect();
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

fn method_label(m: Objective) -> &'static str {
    match m {
        Objective::Sft => "SFT",
        Objective::Rft => "RFT",
    }
}

/// `controlled_summary`: per setting, variant and method, epochs to fit and final accuracies.
pub(super) fn summary(data: &Data, dir: &Path) -> Result<Vec<PathBuf>> {
    // (setting, main variant first, variant label, method) -> runs
    let mut groups: BTreeMap<(Setting, bool, String, String), Vec<&SummaryRow>> = BTreeMap::new();
    for r in &data.summaries {
        let v = Variant::of(&r.row);
        groups
            .entry((
                r.row.setting,
                !v.is_main(),
                v.label(),
                method_label(r.row.method).to_string(),
            ))
            .or_default()
            .push(&r.row);
    }
    let mut table = Table::new(
        caption(data),
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
    for ((setting, _, variant, method), rs) in &groups {
        let get = |f: fn(&SummaryRow) -> f64| rs.iter().map(|r| f(r)).collect::<Vec<f64>>();
        let fits = |f: fn(&SummaryRow) -> Option<i64>| rs.iter().map(|r| f(r)).collect::<Vec<_>>();
        table.push(vec![
            setting.title().to_string(),
            variant.clone(),
            method.clone(),
            rs.len().to_string(),
            rs[0].num_modified.to_string(),
            format!(
                "{} / {}",
                format_sig(mean(&get(|r| r.init_reward_std_modified)), 2),
                format_sig(mean(&get(|r| r.init_reward_std_unmodified)), 2)
            ),
            fit_cell(&fits(|r| r.fit50_modified), rs[0].epochs),
            fit_cell(&fits(|r| r.fit90_modified), rs[0].epochs),
            mean_std_cell(&get(|r| r.final_train_accuracy_modified)),
            mean_std_cell(&get(|r| r.final_train_accuracy_unmodified)),
            mean_std_cell(&get(|r| r.final_test_accuracy)),
        ]);
    }
    let stem = dir.join("controlled_summary");
    table.save(&stem)?;
    Ok(vec![stem.with_extension("md")])
}

/// `controlled_finding`: did the paper's finding hold, per setting and variant.
pub(super) fn finding(data: &Data, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut table = Table::new(
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
    for f in findings(&data.summaries, &data.curves) {
        table.push(vec![
            f.setting.title().to_string(),
            f.variant.label(),
            f.sft_fit90_worst
                .map_or("not within budget".into(), |e| e.to_string()),
            match (f.rft_best_modified_accuracy, f.horizon) {
                (Some(acc), Some(h)) => format!("{acc:.3} (at epoch ≤ {h})"),
                _ => "n/a".into(),
            },
            format!(
                "{:.3} / {:.3}",
                f.rft_final_modified, f.rft_final_unmodified
            ),
            f.verdict.text().into(),
        ]);
    }
    let stem = dir.join("controlled_finding");
    table.save(&stem)?;
    Ok(vec![stem.with_extension("md")])
}

/// The paper's protocol per setting (ml-rlgrad's experiment plans): train and test inputs, and
/// the ResNet width.
fn paper(setting: Setting) -> (usize, usize, Option<usize>) {
    match setting {
        Setting::MlpMnist => (1000, 1000, None),
        Setting::Resnet18Cifar10 => (10000, 1000, Some(64)),
        Setting::BertMiniStsb => (5749, 1500, None),
    }
}

/// Every departure of one setting's runs from the paper's protocol.
fn cuts(setting: Setting, rs: &[&Gathered<SummaryRow>]) -> Vec<String> {
    let r = &rs[0].row;
    let (num_train, num_test, width) = paper(setting);
    let mut cuts = Vec::new();
    if r.num_train != num_train {
        let note = if setting == Setting::Resnet18Cifar10 {
            " (our CIFAR-10 copy holds 4,000)"
        } else {
            ""
        };
        cuts.push(format!(
            "{} train inputs instead of {num_train}{note}",
            r.num_train
        ));
    }
    if r.num_test != num_test {
        cuts.push(format!("{} test inputs instead of {num_test}", r.num_test));
    }
    if let Some(w) = width.filter(|&w| r.resnet_width != w) {
        cuts.push(format!(
            "width {} instead of 64 ({}x fewer channels per stage)",
            r.resnet_width,
            w as f64 / r.resnet_width as f64
        ));
    }
    if setting == Setting::BertMiniStsb && r.max_length < 512 {
        cuts.push(format!(
            "pairs truncated to {} tokens instead of 512",
            r.max_length
        ));
    }
    if r.pretrain_epochs != 1000 {
        cuts.push(format!(
            "pretraining {} epochs instead of 1,000",
            r.pretrain_epochs
        ));
    }
    if r.pretrain_lr != 1e-4 || r.pretrain_batch_size != 512 {
        cuts.push(format!(
            "pretraining Adam lr {:e} batch {} instead of 1e-4 / 512",
            r.pretrain_lr, r.pretrain_batch_size
        ));
    }
    if r.epochs != 5000 {
        cuts.push(format!("finetuning {} epochs instead of 5,000", r.epochs));
    }
    if let Some(m) = rs.iter().find(|r| Variant::of(&r.row).is_main())
        && (m.row.lr != 1e-4 || m.row.batch_size != 512)
    {
        cuts.push(format!(
            "finetuning Adam lr {:e} batch {} instead of 1e-4 / 512",
            m.row.lr, m.row.batch_size
        ));
    }
    if r.metrics_every > 1 {
        cuts.push(format!("train metrics every {} epochs", r.metrics_every));
    }
    if r.grad_norm_every > 1 {
        cuts.push(format!(
            "gradient norms measured every {} epochs",
            r.grad_norm_every
        ));
    }
    cuts
}

/// Caption: the protocol, then per setting every departure from the paper's.
fn caption(data: &Data) -> String {
    let mut text = String::from(
        "Controlled experiments with perfect exploration (paper Section 4.2; ml-rlgrad's protocol): pretrain with \
         cross-entropy against the uniform distribution over each class's label set, then give 10% of the train \
         inputs a label outside their set (the small-reward-std inputs) and finetune with exact-gradient RFT \
         (reward +1 correct, −1 otherwise) or SFT (cross-entropy). Epochs to fit = first recorded epoch at which \
         the train accuracy of the small-std inputs reaches 50% / 90%; accuracies are at the last epoch, mean ± std \
         over seeds. Paper protocol: Adam lr 1e-4, batch 512, pretrain 1,000 epochs, finetune 5,000 epochs; SGD \
         variant lr 0.01 (MNIST, CIFAR-10) or 0.001 (STS-B). Cuts in this run:",
    );
    for &setting in &data.settings {
        let rs: Vec<&Gathered<SummaryRow>> = data
            .summaries
            .iter()
            .filter(|r| r.row.setting == setting)
            .collect();
        let cuts = cuts(setting, &rs);
        let seeds: BTreeSet<u64> = rs.iter().map(|r| r.seed).collect();
        text.push_str(&format!(
            " {}: {} ({} seed{}).",
            setting.title(),
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
