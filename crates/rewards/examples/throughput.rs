//! Pairs per second of one or more reward configurations on the golden-fixture
//! pairs (`tests/fixtures/pairs.json`), single-threaded and with all cores.
//! `scripts/bench_rewards.py` runs this binary interleaved with the Python
//! references so that both sides see the same machine load.
//!
//! ```text
//! cargo run --release -p rewards --example throughput -- [--seconds S] [--repeat K] [--single-only] CONFIG...
//! ```
//!
//! `CONFIG` is a configuration name of `tests/fixtures/scores.json` (e.g.
//! `sacre_bleu_13a`). Each measurement scores the pair list (repeated K times,
//! default 1) in passes until at least S seconds (default 1.0) have elapsed and
//! reports pairs/s. Prints one JSON object per line:
//! `{"config": .., "single_thread": pairs/s, "all_cores": pairs/s, "threads": n}`.

use rewards::{Sample, build};
use std::hint::black_box;
use std::time::Instant;

fn fixture(name: &str) -> serde_json::Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        eprintln!("error: cannot read {path}: {e}");
        std::process::exit(1)
    });
    serde_json::from_str(&text).unwrap_or_else(|e| {
        eprintln!("error: {path} is not valid JSON: {e}");
        std::process::exit(1)
    })
}

/// Pairs/s of `f` applied to all samples in passes for at least `seconds`.
fn rate(samples: &[Sample], seconds: f64, mut pass: impl FnMut(&[Sample])) -> f64 {
    let start = Instant::now();
    let mut done = 0usize;
    loop {
        pass(samples);
        done += samples.len();
        let dt = start.elapsed().as_secs_f64();
        if dt >= seconds {
            return done as f64 / dt;
        }
    }
}

fn main() {
    let mut seconds = 1.0f64;
    let mut repeat = 1usize;
    let mut single_only = false;
    let mut names = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--seconds" => seconds = args.next().and_then(|v| v.parse().ok()).unwrap_or(seconds),
            "--repeat" => repeat = args.next().and_then(|v| v.parse().ok()).unwrap_or(repeat),
            "--single-only" => single_only = true,
            _ => names.push(a),
        }
    }
    let pairs: Vec<Sample> = serde_json::from_value(fixture("pairs.json")).unwrap_or_else(|e| {
        eprintln!("error: tests/fixtures/pairs.json: {e}");
        std::process::exit(1)
    });
    let samples: Vec<Sample> = (0..repeat.max(1))
        .flat_map(|_| pairs.iter().cloned())
        .collect();
    let configs = fixture("scores.json");
    let configs = configs.as_array().cloned().unwrap_or_default();
    if names.is_empty() {
        let all: Vec<&str> = configs.iter().filter_map(|c| c["name"].as_str()).collect();
        eprintln!(
            "usage: throughput [--seconds S] [--repeat K] [--single-only] CONFIG...\nconfigs: {}",
            all.join(", ")
        );
        std::process::exit(2);
    }
    for name in names {
        let Some(cfg) = configs.iter().find(|c| c["name"] == name.as_str()) else {
            eprintln!("error: no configuration {name:?} in tests/fixtures/scores.json");
            std::process::exit(2)
        };
        let args: serde_yaml::Value =
            serde_json::from_value(cfg["args"].clone()).unwrap_or(serde_yaml::Value::Null);
        let metric = cfg["metric"].as_str().unwrap_or_default();
        let reward = build(metric, &args).unwrap_or_else(|e| {
            eprintln!("error: {name}: {e}");
            std::process::exit(2)
        });
        // warm the lazily loaded tables (Punkt, WordNet, exception lists)
        reward.score(&samples[0]);
        let single = rate(&samples, seconds, |s| {
            let mut acc = 0.0;
            for x in s {
                acc += reward.score(black_box(x));
            }
            black_box(acc);
        });
        let all = if single_only {
            f64::NAN
        } else {
            rate(&samples, seconds, |s| {
                black_box(reward.score_batch(black_box(s)));
            })
        };
        let all = if all.is_nan() {
            "null".to_string()
        } else {
            format!("{all:.1}")
        };
        println!(
            "{{\"config\": \"{name}\", \"single_thread\": {single:.1}, \"all_cores\": {all}, \"threads\": {}}}",
            rayon::current_num_threads()
        );
    }
}
