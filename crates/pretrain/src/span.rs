//! T5's pretraining objective, span corruption (Raffel et al. 2020, Section 3.1.4; the
//! `span_corruption` preprocessor of `google-research/text-to-text-transfer-transformer`):
//! about `noise_density` of a window's tokens, in spans of mean length `mean_noise_span_length`,
//! are each replaced by one sentinel in the input; the target lists every sentinel followed by
//! the tokens it replaced.
//!
//! ```text
//! window:  a b c d e f g h i j
//! input:   a b <X> e f g <Y> j </s>       (noise spans "c d" and "h i")
//! target:  <X> c d <Y> h i </s>
//! ```
//!
//! As T5's `random_spans_noise_mask`: `round(n * density)` noise tokens (at least 1, at most
//! `n - 1`) in `round(noise / mean_span)` spans (at least 1); noise and non-noise lengths are each
//! split into that many positive parts uniformly at random, and the window alternates non-noise,
//! noise, starting with non-noise.

use rand::Rng;
use rand::seq::SliceRandom;

/// `total` split into `parts` positive lengths, uniformly over all such splits.
fn random_segmentation(total: usize, parts: usize, rng: &mut impl Rng) -> Vec<usize> {
    debug_assert!(parts >= 1 && parts <= total);
    // Choose `parts - 1` distinct cut points among the `total - 1` gaps.
    let mut gaps: Vec<usize> = (1..total).collect();
    gaps.shuffle(rng);
    let mut cuts: Vec<usize> = gaps[..parts - 1].to_vec();
    cuts.sort_unstable();
    let mut lengths = Vec::with_capacity(parts);
    let mut prev = 0;
    for c in cuts.into_iter().chain(std::iter::once(total)) {
        lengths.push(c - prev);
        prev = c;
    }
    lengths
}

/// `true` at the noise positions of a window of `length` tokens.
pub fn noise_mask(
    length: usize,
    noise_density: f64,
    mean_noise_span_length: f64,
    rng: &mut impl Rng,
) -> Vec<bool> {
    if length < 2 {
        return vec![false; length];
    }
    let noise = ((length as f64 * noise_density).round() as usize).clamp(1, length - 1);
    let spans = ((noise as f64 / mean_noise_span_length).round() as usize)
        .max(1)
        .min(noise)
        .min(length - noise);
    let noise_lengths = random_segmentation(noise, spans, rng);
    let keep_lengths = random_segmentation(length - noise, spans, rng);
    let mut mask = Vec::with_capacity(length);
    for (keep, noisy) in keep_lengths.into_iter().zip(noise_lengths) {
        mask.extend(std::iter::repeat_n(false, keep));
        mask.extend(std::iter::repeat_n(true, noisy));
    }
    mask
}

/// The (input, target) pair of one window: noise spans replaced by `sentinels[i]` in the input,
/// each sentinel followed by its span in the target, `eos` closing both. There must be at least
/// as many sentinels as spans.
pub fn corrupt(window: &[u32], mask: &[bool], sentinels: &[u32], eos: u32) -> (Vec<u32>, Vec<u32>) {
    assert_eq!(window.len(), mask.len());
    let (mut input, mut target) = (Vec::new(), Vec::new());
    let mut span = 0usize;
    for (i, (&tok, &noisy)) in window.iter().zip(mask).enumerate() {
        if noisy {
            if i == 0 || !mask[i - 1] {
                let s = *sentinels
                    .get(span)
                    .expect("more noise spans than sentinel tokens");
                input.push(s);
                target.push(s);
                span += 1;
            }
            target.push(tok);
        } else {
            input.push(tok);
        }
    }
    input.push(eos);
    target.push(eos);
    (input, target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn the_mask_has_the_noise_fraction_and_span_count_of_t5() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        for _ in 0..50 {
            let m = noise_mask(100, 0.15, 3.0, &mut rng);
            assert_eq!(m.len(), 100);
            assert_eq!(m.iter().filter(|&&x| x).count(), 15);
            let starts = (0..100).filter(|&i| m[i] && (i == 0 || !m[i - 1])).count();
            assert_eq!(starts, 5);
            assert!(!m[0], "windows start with kept text");
        }
        assert_eq!(noise_mask(1, 0.15, 3.0, &mut rng), vec![false]);
        assert_eq!(
            noise_mask(2, 0.15, 3.0, &mut rng)
                .iter()
                .filter(|&&x| x)
                .count(),
            1
        );
    }

    #[test]
    fn corruption_replaces_spans_with_sentinels_and_targets_restore_them() {
        let window = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19];
        let mask = [
            false, false, true, true, false, false, false, true, true, false,
        ];
        let (input, target) = corrupt(&window, &mask, &[99, 98], 1);
        assert_eq!(input, vec![10, 11, 99, 14, 15, 16, 98, 19, 1]);
        assert_eq!(target, vec![99, 12, 13, 98, 17, 18, 1]);
    }
}
