//! Pairs per second of reward configurations on the golden-fixture pairs
//! (`tests/fixtures/pairs.json`), single-threaded and with all cores.
//! `scripts/bench_rewards.py` runs this binary interleaved with the Python
//! references so that both sides see the same machine load.
//!
//! ```text
//! cargo run --release -p rewards --example throughput -- [--seconds S] [--repeat K] [--single-only] [--passes N] CONFIG...
//! ```
//!
//! `CONFIG` is a configuration name of `tests/fixtures/scores.json` (e.g.
//! `sacre_bleu_13a`). Each measurement scores the pair list (repeated K times,
//! default 1) in passes until at least S seconds (default 1.0) have elapsed.
//! Prints one JSON object per configuration:
//! `{"config", "single_thread", "single_thread_cpu", "all_cores", "threads"}`:
//! pairs/s single-threaded by wall clock and by the thread's CPU time (Linux
//! `/proc/thread-self/schedstat`; robust when other processes share the cores,
//! `null` elsewhere), and with `score_batch` on all rayon threads (wall clock).
//! `--passes N` runs exactly N single-threaded passes instead (for profilers).

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

/// CPU time of the calling thread in seconds (Linux), if available.
fn thread_cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 * 1e-9)
}

/// (wall pairs/s, CPU pairs/s) of `pass` over all samples, repeated for at least `seconds`.
fn rate(samples: &[Sample], seconds: f64, mut pass: impl FnMut(&[Sample])) -> (f64, Option<f64>) {
    let cpu0 = thread_cpu_seconds();
    let start = Instant::now();
    let mut done = 0usize;
    loop {
        pass(samples);
        done += samples.len();
        let dt = start.elapsed().as_secs_f64();
        if dt >= seconds {
            let cpu = cpu0
                .zip(thread_cpu_seconds())
                .map(|(a, b)| done as f64 / (b - a).max(1e-9));
            return (done as f64 / dt, cpu);
        }
    }
}

fn json_num(x: Option<f64>) -> String {
    x.map_or("null".to_string(), |v| format!("{v:.1}"))
}

fn main() {
    let mut seconds = 1.0f64;
    let mut repeat = 1usize;
    let mut single_only = false;
    let mut passes = 0usize;
    let mut names = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--seconds" => seconds = args.next().and_then(|v| v.parse().ok()).unwrap_or(seconds),
            "--repeat" => repeat = args.next().and_then(|v| v.parse().ok()).unwrap_or(repeat),
            "--single-only" => single_only = true,
            "--passes" => passes = args.next().and_then(|v| v.parse().ok()).unwrap_or(0),
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
            "usage: throughput [--seconds S] [--repeat K] [--single-only] [--passes N] CONFIG...\nconfigs: {}",
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
        // load the lazily read tables (Punkt, WordNet, exception lists) outside the timing
        reward.score(&samples[0]);
        let single_pass = |s: &[Sample]| {
            let mut acc = 0.0;
            for x in s {
                acc += reward.score(black_box(x));
            }
            black_box(acc);
        };
        if passes > 0 {
            let t = Instant::now();
            for _ in 0..passes {
                single_pass(&samples);
            }
            let rate = (passes * samples.len()) as f64 / t.elapsed().as_secs_f64();
            println!(
                "{{\"config\": \"{name}\", \"passes\": {passes}, \"single_thread\": {rate:.1}}}"
            );
            continue;
        }
        let (single, single_cpu) = rate(&samples, seconds, single_pass);
        let all = (!single_only).then(|| {
            rate(&samples, seconds, |s| {
                black_box(reward.score_batch(black_box(s)));
            })
            .0
        });
        println!(
            "{{\"config\": \"{name}\", \"single_thread\": {single:.1}, \"single_thread_cpu\": {}, \"all_cores\": {}, \"threads\": {}}}",
            json_num(single_cpu),
            json_num(all),
            rayon::current_num_threads()
        );
    }
}
