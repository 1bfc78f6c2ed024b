//! `cargo run -p rewards --example score_jsonl -- METRIC [ARGS_YAML] < in.jsonl > out.jsonl`
//!
//! The same engine `runner score` uses ([`rewards::score_jsonl`]).

use std::io::{BufReader, BufWriter};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(metric) = args.next() else {
        eprintln!("usage: score_jsonl METRIC [ARGS_YAML] < input.jsonl");
        std::process::exit(2);
    };
    let yaml = args.next();
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    if let Err(e) = rewards::score_jsonl(
        &metric,
        yaml.as_deref(),
        BufReader::new(stdin.lock()),
        BufWriter::new(stdout.lock()),
    ) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
