//! The label protocol of the controlled experiments (ml-rlgrad's
//! `TorchvisionWithLabelModificationDataModule` / `BertSTSBWithLabelModificationDataModule`):
//!
//! 1. **Label sets.** Each class `c` gets `labels_per_sample - 1` other labels drawn at random
//!    (without replacement), so its set is `{c} ∪ others`; pretraining fits every input of class `c`
//!    with cross-entropy against the uniform distribution over that set ([`LabelSets::soft_targets`]).
//! 2. **Modified inputs.** `floor(frac * n)` train inputs, a uniformly random subset, get a new label
//!    drawn uniformly from the labels *outside* their class's set, which the pretrained model gives
//!    almost no probability: their reward std is small and their reward low. Every other train input
//!    keeps its original label, as does every test input.
//!
//! Subsets of a dataset are drawn stratified by class ([`stratified_subsample`]), as scikit-learn's
//! `train_test_split(stratify=labels)`. Everything is seeded: the same seed gives the same sets,
//! subsets and modified labels.

use crate::{DataError, Result};
use rand::RngExt;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

pub use seeds::named as rng;

/// The label set of every class: `sets[c][0] == c`, then the extra labels in the order drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelSets {
    pub num_classes: usize,
    pub sets: Vec<Vec<usize>>,
}

impl LabelSets {
    /// Draw `labels_per_sample - 1` distinct other labels for each class.
    pub fn random(
        num_classes: usize,
        labels_per_sample: usize,
        rng: &mut ChaCha8Rng,
    ) -> Result<LabelSets> {
        if labels_per_sample == 0 || labels_per_sample > num_classes {
            return Err(DataError::Invalid(format!(
                "num_labels_per_sample = {labels_per_sample} must be in 1..={num_classes} (the number of classes)"
            )));
        }
        let sets = (0..num_classes)
            .map(|c| {
                let mut others: Vec<usize> = (0..num_classes).filter(|&o| o != c).collect();
                others.shuffle(rng);
                std::iter::once(c)
                    .chain(others.into_iter().take(labels_per_sample - 1))
                    .collect()
            })
            .collect();
        Ok(LabelSets { num_classes, sets })
    }

    pub fn contains(&self, class: usize, label: usize) -> bool {
        self.sets[class].contains(&label)
    }

    /// Pretraining targets: row `i` is uniform over the set of class `labels[i]`
    /// (`labels.len() * num_classes` values, row-major).
    pub fn soft_targets(&self, labels: &[usize]) -> Vec<f32> {
        let k = self.num_classes;
        let mut out = vec![0.0f32; labels.len() * k];
        for (i, &c) in labels.iter().enumerate() {
            let set = &self.sets[c];
            for &y in set {
                out[i * k + y] = 1.0 / set.len() as f32;
            }
        }
        out
    }
}

/// The finetuning labels: which train inputs were modified, and every input's target label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Modification {
    /// `modified[i]`: input `i` got a new label outside its class's set.
    pub modified: Vec<bool>,
    /// The finetuning label of every input (the original label unless modified).
    pub targets: Vec<usize>,
}

impl Modification {
    pub fn num_modified(&self) -> usize {
        self.modified.iter().filter(|&&m| m).count()
    }
}

/// Give `floor(frac * n)` random inputs a new label drawn uniformly from the labels outside the
/// set of their class.
pub fn modify_labels(
    labels: &[usize],
    sets: &LabelSets,
    frac: f64,
    rng: &mut ChaCha8Rng,
) -> Result<Modification> {
    if !(0.0..=1.0).contains(&frac) {
        return Err(DataError::Invalid(format!(
            "frac_modified = {frac} must be in [0, 1]"
        )));
    }
    let n = labels.len();
    let count = (n as f64 * frac).floor() as usize;
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    let mut modified = vec![false; n];
    let mut targets = labels.to_vec();
    for &i in &order[..count] {
        let outside: Vec<usize> = (0..sets.num_classes)
            .filter(|&y| !sets.contains(labels[i], y))
            .collect();
        if outside.is_empty() {
            return Err(DataError::Invalid(format!(
                "no label lies outside the set of class {} (num_labels_per_sample equals the number of classes); \
                 lower num_labels_per_sample to modify labels",
                labels[i]
            )));
        }
        modified[i] = true;
        targets[i] = outside[rng.random_range(0..outside.len())];
    }
    Ok(Modification { modified, targets })
}

/// Draw `n` of the indices of `labels`, stratified by class (each class keeps its share, the
/// remainders go to the classes with the largest fractional parts, ties at random), sorted.
pub fn stratified_subsample(
    labels: &[usize],
    n: usize,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<usize>> {
    let total = labels.len();
    if n > total {
        return Err(DataError::Invalid(format!(
            "asked for {n} inputs but the split has only {total}"
        )));
    }
    if n == total {
        return Ok((0..total).collect());
    }
    let num_classes = labels.iter().copied().max().map_or(0, |m| m + 1);
    let mut by_class: Vec<Vec<usize>> = vec![vec![]; num_classes];
    for (i, &c) in labels.iter().enumerate() {
        by_class[c].push(i);
    }
    let exact: Vec<f64> = by_class
        .iter()
        .map(|v| v.len() as f64 * n as f64 / total as f64)
        .collect();
    let mut take: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
    let mut rest = n - take.iter().sum::<usize>();
    let mut order: Vec<usize> = (0..num_classes).collect();
    order.shuffle(rng);
    order.sort_by(|&a, &b| {
        (exact[b] - exact[b].floor())
            .partial_cmp(&(exact[a] - exact[a].floor()))
            .unwrap()
    });
    for &c in order.iter().cycle() {
        if rest == 0 {
            break;
        }
        if take[c] < by_class[c].len() {
            take[c] += 1;
            rest -= 1;
        }
    }
    let mut out = Vec::with_capacity(n);
    for (c, members) in by_class.iter_mut().enumerate() {
        members.shuffle(rng);
        out.extend_from_slice(&members[..take[c]]);
    }
    out.sort_unstable();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_sets_hold_the_class_and_distinct_others() {
        let sets = LabelSets::random(10, 5, &mut rng(0, "sets")).unwrap();
        for (c, set) in sets.sets.iter().enumerate() {
            assert_eq!(set.len(), 5);
            assert_eq!(set[0], c);
            let mut s = set.clone();
            s.sort();
            s.dedup();
            assert_eq!(s.len(), 5, "duplicates in {set:?}");
            assert!(set.iter().all(|&y| y < 10));
        }
        // Seeded: same seed, same sets; another seed, other sets.
        assert_eq!(sets, LabelSets::random(10, 5, &mut rng(0, "sets")).unwrap());
        assert_ne!(sets, LabelSets::random(10, 5, &mut rng(1, "sets")).unwrap());
        assert!(LabelSets::random(6, 7, &mut rng(0, "sets")).is_err());
    }

    #[test]
    fn soft_targets_are_uniform_over_the_class_set() {
        let sets = LabelSets::random(6, 3, &mut rng(3, "sets")).unwrap();
        let labels = [0, 5, 2, 2];
        let t = sets.soft_targets(&labels);
        for (i, &c) in labels.iter().enumerate() {
            let row = &t[i * 6..(i + 1) * 6];
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
            for (y, &p) in row.iter().enumerate() {
                let want = if sets.contains(c, y) { 1.0 / 3.0 } else { 0.0 };
                assert!((p - want).abs() < 1e-7, "row {i} label {y}: {p}");
            }
            assert!(row[c] > 0.0, "the true class is in its own set");
        }
    }

    #[test]
    fn modified_labels_fall_outside_the_set_and_count_is_the_fraction() {
        let labels: Vec<usize> = (0..1000).map(|i| (i * 7) % 10).collect();
        let sets = LabelSets::random(10, 5, &mut rng(0, "sets")).unwrap();
        let m = modify_labels(&labels, &sets, 0.1, &mut rng(0, "modify")).unwrap();
        assert_eq!(m.num_modified(), 100);
        for (i, &label) in labels.iter().enumerate() {
            if m.modified[i] {
                assert!(
                    !sets.contains(label, m.targets[i]),
                    "input {i}: new label {} is inside the set {:?}",
                    m.targets[i],
                    sets.sets[label]
                );
            } else {
                assert_eq!(m.targets[i], label);
            }
        }
        // Every label outside a set is used (uniform choice, not always the first one).
        let used: std::collections::BTreeSet<usize> = (0..labels.len())
            .filter(|&i| m.modified[i] && labels[i] == 0)
            .map(|i| m.targets[i])
            .collect();
        assert!(used.len() > 1, "{used:?}");
        assert_eq!(
            m,
            modify_labels(&labels, &sets, 0.1, &mut rng(0, "modify")).unwrap()
        );
        let m2 = modify_labels(&labels, &sets, 0.1, &mut rng(1, "modify")).unwrap();
        assert_ne!(
            m.modified, m2.modified,
            "another seed modifies other inputs"
        );
        let full = LabelSets::random(10, 10, &mut rng(0, "sets")).unwrap();
        assert!(modify_labels(&labels, &full, 0.1, &mut rng(0, "m")).is_err());
        assert!(modify_labels(&labels, &sets, 1.5, &mut rng(0, "m")).is_err());
    }

    #[test]
    fn stratified_subsample_keeps_class_shares() {
        // 600 of class 0, 300 of class 1, 100 of class 2.
        let labels: Vec<usize> = (0..1000)
            .map(|i| match i % 10 {
                0..=5 => 0,
                6..=8 => 1,
                _ => 2,
            })
            .collect();
        let idx = stratified_subsample(&labels, 100, &mut rng(5, "sub")).unwrap();
        assert_eq!(idx.len(), 100);
        let count = |c| idx.iter().filter(|&&i| labels[i] == c).count();
        assert_eq!((count(0), count(1), count(2)), (60, 30, 10));
        assert!(idx.windows(2).all(|w| w[0] < w[1]), "sorted, no repeats");
        assert_ne!(
            idx,
            stratified_subsample(&labels, 100, &mut rng(6, "sub")).unwrap()
        );
        // Uneven shares: 7 of 3 equal classes -> 3, 2, 2 in some order.
        let l3: Vec<usize> = (0..30).map(|i| i % 3).collect();
        let idx = stratified_subsample(&l3, 7, &mut rng(1, "sub")).unwrap();
        let mut counts: Vec<usize> = (0..3)
            .map(|c| idx.iter().filter(|&&i| l3[i] == c).count())
            .collect();
        counts.sort();
        assert_eq!(counts, vec![2, 2, 3]);
        assert!(stratified_subsample(&l3, 31, &mut rng(1, "sub")).is_err());
    }
}
