//! Throughput of the rewards on the golden-fixture pairs (`tests/fixtures/pairs.json`,
//! the same inputs `scripts/bench_rewards.py` times with the Python references):
//! one pass over all pairs single-threaded (`score` in a loop) and with all cores
//! (`score_batch`, rayon). Criterion reports elements/s = pairs/s.
//!
//! `REWARDS_BENCH_REPEAT=k` repeats the pair list k times (default 4) so that a
//! parallel pass has enough work per thread.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rewards::{Sample, build};
use std::hint::black_box;

/// (benchmark name, configuration name in `scores.json`)
const CASES: &[(&str, &str)] = &[
    ("rouge_l_max", "rouge_l_max_narrativeqa"),
    ("sacre_bleu_13a", "sacre_bleu_13a"),
    ("meteor", "meteor"),
    ("rouge_rougeL", "rouge_rougeL"),
    ("chrf", "chrf"),
    ("ter", "ter"),
    ("f1", "f1"),
];

fn fixture(name: &str) -> serde_json::Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture readable"))
        .expect("fixture is JSON")
}

fn bench(c: &mut Criterion) {
    let repeat: usize = std::env::var("REWARDS_BENCH_REPEAT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let pairs: Vec<Sample> = serde_json::from_value(fixture("pairs.json")).expect("pairs");
    let samples: Vec<Sample> = (0..repeat).flat_map(|_| pairs.iter().cloned()).collect();
    let configs = fixture("scores.json");
    for (bench_name, config) in CASES {
        let cfg = configs
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == *config)
            .expect("config exists");
        let args: serde_yaml::Value = serde_json::from_value(cfg["args"].clone()).unwrap();
        let reward = build(cfg["metric"].as_str().unwrap(), &args).expect("fixture args are valid");
        // warm the lazily loaded tables (Punkt, WordNet, py-rouge exceptions)
        reward.score(&samples[0]);
        let mut g = c.benchmark_group(*bench_name);
        g.throughput(Throughput::Elements(samples.len() as u64));
        g.sample_size(10);
        g.bench_function("single_thread", |b| {
            b.iter(|| {
                let mut acc = 0.0;
                for s in &samples {
                    acc += reward.score(black_box(s));
                }
                acc
            })
        });
        g.bench_function("all_cores", |b| {
            b.iter(|| reward.score_batch(black_box(&samples)))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
