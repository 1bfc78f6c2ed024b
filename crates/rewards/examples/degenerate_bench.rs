//! Worst-case time per metric on long and degenerate generations (see `rewards::degenerate`):
//! each pair is scored `--reps` times (default 3) on one thread and the median is kept; prints
//! a Markdown table of the slowest case per metric configuration.
//!
//! `cargo run --release -p rewards --example degenerate_bench [-- --reps N]`

use rewards::degenerate::{CONFIGS, cases};
use rewards::{Sample, build};
use std::time::Instant;

fn main() {
    let reps: usize = std::env::args()
        .skip_while(|a| a != "--reps")
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let cases = cases();
    println!("| metric (args) | worst case | median time of the worst case | all cases |");
    println!("|---|---|---:|---:|");
    for (id, args) in CONFIGS {
        let reward = build(id, &serde_yaml::from_str(args).unwrap()).unwrap();
        let mut worst = ("", 0.0f64);
        let mut total = 0.0;
        for (name, prediction, references) in &cases {
            let s = Sample::new(prediction.clone(), references.clone());
            let mut times: Vec<f64> = (0..reps)
                .map(|_| {
                    let t = Instant::now();
                    let x = reward.score(&s);
                    assert!(x.is_finite(), "{id}: {x} on {name}");
                    t.elapsed().as_secs_f64()
                })
                .collect();
            times.sort_by(f64::total_cmp);
            let median = times[times.len() / 2];
            total += median;
            if median > worst.1 {
                worst = (name, median);
            }
        }
        let label = if args.is_empty() {
            id.to_string()
        } else if args.len() > 40 {
            format!("{id} (NarrativeQA args)")
        } else {
            format!("{id} {args}")
        };
        println!(
            "| {label} | {} | {:.1} ms | {:.1} ms |",
            worst.0,
            worst.1 * 1e3,
            total * 1e3
        );
    }
}
