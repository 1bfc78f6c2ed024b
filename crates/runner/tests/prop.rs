//! Property tests of the runner's parsers of outside input: sweep YAML (mutations of the
//! committed sweep files and random text, parsed and resolved under every profile), the JSONL
//! lines of `runner logprobs`, and a checkpoint's `config.json`. Each returns a value or an
//! error, never panics. Cases per property: `PROPTEST_CASES` (default 64; `just fuzz`: 100,000).

use proptest::prelude::*;
use proptest::test_runner::Config;
use runner::Profile;
use std::path::{Path, PathBuf};

fn config(default: u32) -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default),
        failure_persistence: None,
        ..Config::default()
    }
}

fn sweep_files() -> Vec<(PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments");
    let mut out: Vec<(PathBuf, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect();
    out.sort();
    assert!(out.len() >= 4);
    out
}

/// Values that break naive parsers of numbers, lists and maps.
const HOSTILE_VALUES: &[&str] = &[
    "0",
    "-1",
    "-0.0",
    "1e308",
    "1e-320",
    ".nan",
    ".inf",
    "-.inf",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999",
    "9223372036854775807",
    "4294967296",
    "null",
    "~",
    "[]",
    "{}",
    "[0, 0]",
    "''",
    "\"x\"",
    "yes",
    "*a",
    "&a 1",
    "!!binary AAAA",
    "[[[[",
    "{a: {b: {c: [1, 2]}}}",
    "\u{1f600}",
    "'\\u0000'",
];

/// A sweep file with random edits: characters deleted, inserted or replaced, and numbers or
/// values swapped for hostile ones.
fn mutated_sweep() -> impl Strategy<Value = String> {
    let files: Vec<String> = sweep_files().into_iter().map(|(_, t)| t).collect();
    (
        proptest::sample::select(files),
        proptest::collection::vec(
            (
                0usize..4,
                any::<proptest::sample::Index>(),
                proptest::sample::select(HOSTILE_VALUES),
                0usize..40,
                any::<char>(),
            ),
            1..6,
        ),
    )
        .prop_map(|(text, edits)| {
            let mut t = text;
            for (kind, at, value, len, c) in edits {
                let mut i = at.index(t.len() + 1);
                while !t.is_char_boundary(i) {
                    i -= 1;
                }
                let mut j = (i + len).min(t.len());
                while !t.is_char_boundary(j) {
                    j -= 1;
                }
                match kind {
                    0 => t.replace_range(i..j, ""),
                    1 => t.insert(i, c),
                    2 => {
                        // replace the next number (or word) after i with a hostile value
                        let start = t[i..]
                            .find(|ch: char| ch.is_ascii_digit())
                            .map(|k| i + k)
                            .unwrap_or(i);
                        let end = t[start..]
                            .find(|ch: char| {
                                !(ch.is_ascii_alphanumeric() || ch == '.' || ch == '-')
                            })
                            .map(|k| start + k)
                            .unwrap_or(t.len());
                        t.replace_range(start..end, value);
                    }
                    _ => t.insert_str(i, value),
                }
            }
            t
        })
}

fn parse_and_resolve(text: &str) {
    let path = Path::new("fuzz.yaml");
    if let Ok(file) = runner::sweepfile::parse(text, path) {
        for profile in [Profile::Smoke, Profile::Default, Profile::Paper] {
            for sweep in &file.sweeps {
                let _ = sweep.resolve(profile, path);
            }
        }
    }
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn a_mutated_sweep_file_parses_or_is_an_error(text in mutated_sweep()) {
        parse_and_resolve(&text);
    }

    #[test]
    fn random_text_as_a_sweep_file_parses_or_is_an_error(
        text in prop_oneof![any::<String>(), "[a-z_:{}\\[\\], \n-]{0,200}"]
    ) {
        parse_and_resolve(&text);
    }

    #[test]
    fn a_logprobs_line_parses_or_says_what_a_line_holds(
        line in prop_oneof![
            any::<String>(),
            (any::<String>(), any::<String>()).prop_map(|(p, c)| serde_json::json!({"prompt": p, "completion": c}).to_string()),
            proptest::sample::select(&[
                r#"{"prompt": "a"}"#, r#"{"completion": "a"}"#, r#"{"prompt": 1, "completion": "a"}"#,
                r#"{"prompt": "a", "completion": "b", "extra": 1}"#, r#"{"prompt": null, "completion": null}"#,
                "[]", "{}", "null", r#"{"prompt": "\ud800", "completion": ""}"#,
            ][..]).prop_map(str::to_string),
        ]
    ) {
        match runner::lm::parse_logprobs_line(&line) {
            Ok(_) => {}
            Err(e) => {
                let want = r#"expected {"prompt": string, "completion": string}"#;
                prop_assert!(e.to_string().contains(want), "{}", e);
            }
        }
    }

    #[test]
    fn a_hostile_checkpoint_config_is_an_error_not_a_panic(
        model_type in proptest::option::of(proptest::sample::select(&["gpt2", "t5", "bert", ""][..])),
        n_positions in proptest::option::of(prop_oneof![Just(serde_json::json!(-1)), Just(serde_json::json!(1e300)), any::<u64>().prop_map(serde_json::Value::from), Just(serde_json::json!("1024"))]),
        vocab_size in proptest::option::of(prop_oneof![Just(serde_json::json!(-5)), Just(serde_json::json!(0)), any::<u64>().prop_map(serde_json::Value::from), Just(serde_json::json!(null))]),
        garbage in proptest::option::of(any::<String>()),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let text = match garbage {
            Some(g) => g,
            None => {
                let mut m = serde_json::Map::new();
                if let Some(t) = model_type { m.insert("model_type".into(), t.into()); }
                if let Some(n) = n_positions { m.insert("n_positions".into(), n); }
                if let Some(v) = vocab_size { m.insert("vocab_size".into(), v); }
                serde_json::Value::Object(m).to_string()
            }
        };
        std::fs::write(dir.path().join("config.json"), text).unwrap();
        // No tokenizer files: at best the config parses and the tokenizer is the error.
        let e = runner::lm::Checkpoint::open(dir.path()).err().expect("no tokenizer files");
        prop_assert!(format!("{e:#}").contains(dir.path().to_str().unwrap()), "{e:#}");
    }
}
