//! Throughput of the rewards on the golden-fixture inputs (the same inputs
//! `scripts/bench_rewards.py` times with the Python references): one pass over
//! all pairs single-threaded (`score` in a loop) and with all cores
//! (`score_batch`, rayon). Criterion reports elements/s = pairs/s.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rewards::{Sample, build};
use std::hint::black_box;

struct Case {
    name: &'static str,
    fixture: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "rouge_l_max",
        fixture: "rouge_l_max_narrativeqa.json",
    },
    Case {
        name: "sacre_bleu_13a",
        fixture: "sacre_bleu_13a.json",
    },
    Case {
        name: "meteor",
        fixture: "meteor.json",
    },
    Case {
        name: "rouge_rougeL",
        fixture: "rouge_rougeL.json",
    },
    Case {
        name: "chrf",
        fixture: "chrf.json",
    },
    Case {
        name: "ter",
        fixture: "ter.json",
    },
    Case {
        name: "f1",
        fixture: "f1.json",
    },
];

fn load(fixture: &str) -> Option<(String, serde_yaml::Value, Vec<Sample>)> {
    let path = format!("{}/tests/fixtures/{fixture}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let metric = v["metric"].as_str()?.to_string();
    let args: serde_yaml::Value = serde_json::from_value(v["args"].clone()).ok()?;
    let samples = v["cases"]
        .as_array()?
        .iter()
        .map(|c| serde_json::from_value::<Sample>(c.clone()))
        .collect::<Result<Vec<_>, _>>()
        .ok()?;
    Some((metric, args, samples))
}

fn bench(c: &mut Criterion) {
    for case in CASES {
        let Some((metric, args, samples)) = load(case.fixture) else {
            eprintln!("skipping {}: fixture {} missing", case.name, case.fixture);
            continue;
        };
        let reward = build(&metric, &args).expect("fixture args are valid");
        let mut g = c.benchmark_group(case.name);
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
