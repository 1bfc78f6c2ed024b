//! Worst-case time per metric on long and degenerate generations (see `rewards::degenerate`):
//! each pair is scored `--reps` times (default 3) on one thread and the median is kept; prints
//! a Markdown table of the slowest case per metric configuration. Times are the thread's CPU
//! time (`CLOCK_THREAD_CPUTIME_ID`, which a descheduled thread does not accrue, so other
//! processes on the cores do not inflate it); wall clock where that is unavailable.
//!
//! `cargo run --release -p rewards --example degenerate_bench [-- --reps N]`

use rewards::degenerate::{CONFIGS, cases};
use rewards::{Sample, build};
use std::time::Instant;

/// CPU time of the calling thread in seconds (`CLOCK_THREAD_CPUTIME_ID`), else wall-clock time
/// since `start`.
fn now(start: Instant) -> f64 {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid timespec to write into.
        if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0 {
            return ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9;
        }
    }
    start.elapsed().as_secs_f64()
}

fn main() {
    let origin = Instant::now();
    let reps: usize = std::env::args()
        .skip_while(|a| a != "--reps")
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let cases = cases();
    println!("| metric (args) | worst case | CPU time of the worst case (median) | all 11 cases |");
    println!("|---|---|---:|---:|");
    for (id, args) in CONFIGS {
        let reward = build(id, &serde_yaml::from_str(args).unwrap()).unwrap();
        let mut worst = ("", 0.0f64);
        let mut total = 0.0;
        for (name, prediction, references) in &cases {
            let s = Sample::new(prediction.clone(), references.clone());
            let mut times: Vec<f64> = (0..reps)
                .map(|_| {
                    let t = now(origin);
                    let x = reward.score(&s);
                    assert!(x.is_finite(), "{id}: {x} on {name}");
                    now(origin) - t
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
