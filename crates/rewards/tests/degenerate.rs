//! Long and degenerate generations (10,000 tokens: one repeated token, random words, only
//! whitespace, only emoji, ...) get a finite reward in range from every metric. How long each
//! takes is measured by `cargo run --release -p rewards --example degenerate_bench`.

use rewards::degenerate::{CONFIGS, cases};
use rewards::{Sample, build};

#[test]
fn every_metric_scores_long_and_degenerate_generations_finitely() {
    let cases = cases();
    for (id, args) in CONFIGS {
        let reward = build(id, &serde_yaml::from_str(args).unwrap()).unwrap();
        for (name, prediction, references) in &cases {
            let s = Sample::new(prediction.clone(), references.clone());
            let x = reward.score(&s);
            assert!(x.is_finite(), "{id} {args}: {x} on {name}");
            let hi = match *id {
                "chrf" => 100.0,
                "ter" => f64::INFINITY,
                _ => 1.0,
            };
            // sacreBLEU itself gives 100.00000000000004 for two equal 10,000-token texts: allow
            // rounding at the top of the range.
            assert!(
                (-1.0..=hi + 1e-12).contains(&x),
                "{id} {args}: {x} on {name}"
            );
        }
    }
}
