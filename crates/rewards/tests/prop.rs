//! Property tests: every reward on random texts and reference lists never panics and returns a
//! finite score in its range; `score_jsonl` on random lines returns a score per line or an
//! error, never a panic. Cases per property: `PROPTEST_CASES` (default 64; `just fuzz` runs
//! 100,000).

use proptest::prelude::*;
use proptest::test_runner::Config;
use rewards::{Reward, Sample, build, score_jsonl};
use std::sync::OnceLock;

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

/// A reward and the range of its score.
type Ranged = (Box<dyn Reward>, f64, f64);

/// Every registry id, with the argument sets the fixtures use, and the range of its score.
fn rewards() -> &'static [Ranged] {
    static ALL: OnceLock<Vec<Ranged>> = OnceLock::new();
    ALL.get_or_init(|| {
        let configs: &[(&str, &str, f64, f64)] = &[
            ("rouge_l_max", "", 0.0, 1.0),
            (
                "rouge_l_max",
                "{max_n: 4, limit_length: true, length_limit: 100, length_limit_type: words, apply_avg: true, apply_best: true, alpha: 0.5, weight_factor: 1.2, stemming: true}",
                0.0,
                1.0,
            ),
            ("rouge", "{rouge_type: rougeL}", 0.0, 1.0),
            ("rouge", "{rouge_type: rougeLsum}", 0.0, 1.0),
            ("rouge", "{rouge_type: rouge2, use_single_ref: false}", 0.0, 1.0),
            ("sacre_bleu", "", 0.0, 1.0),
            ("sacre_bleu", "{tokenize: intl, smooth_method: floor}", 0.0, 1.0),
            ("sacre_bleu", "{tokenize: none, use_effective_order: false}", 0.0, 1.0),
            ("meteor", "", 0.0, 1.0),
            ("chrf", "", 0.0, 100.0),
            ("chrf", "{word_order: 2}", 0.0, 100.0),
            ("ter", "", 0.0, f64::INFINITY),
            ("ter", "{normalized: true, asian_support: true}", 0.0, f64::INFINITY),
            ("ter", "{normalized: true, no_punct: true, case_sensitive: true}", 0.0, f64::INFINITY),
            ("f1", "", 0.0, 1.0),
            ("exact_match", "", 0.0, 1.0),
            ("labels", "", -1.0, 1.0),
            ("labels_with_custom", "", -1.0, 1.0),
        ];
        configs
            .iter()
            .map(|(id, args, lo, hi)| {
                let args: serde_yaml::Value = serde_yaml::from_str(args).unwrap();
                (build(id, &args).unwrap(), *lo, *hi)
            })
            .collect()
    })
}

/// Pieces that stress the tokenizers: words, punctuation, numbers, XML escapes, contractions,
/// CJK, kana, Hangul, full-width forms, emoji (with modifiers and joiners), odd whitespace,
/// combining marks, control characters.
const PIECES: &[&str] = &[
    "the",
    "cat",
    "sat",
    "on",
    "mat",
    "The",
    "CAT",
    "running",
    "ran",
    "runs",
    "a",
    "an",
    "of",
    ",",
    ".",
    "!",
    "?",
    ";",
    ":",
    "'s",
    "n't",
    "can't",
    "cannot",
    "way's,",
    "\"",
    "(",
    ")",
    "-",
    "--",
    "...",
    "1.5",
    "1,000",
    "3-4",
    "&amp;",
    "&lt;",
    "&quot;",
    "<br />",
    "Mr.",
    "U.S.",
    "e.g.",
    "\u{201c}",
    "\u{201d}",
    "\u{2019}",
    "\u{4e2d}\u{6587}",
    "\u{65e5}\u{672c}\u{8a9e}",
    "\u{3001}",
    "\u{3002}",
    "\u{ff01}",
    "\u{ff0c}",
    "\u{3072}\u{3089}\u{304c}\u{306a}",
    "\u{30ab}\u{30bf}\u{30ab}\u{30ca}",
    "\u{d55c}\u{ad6d}\u{c5b4}",
    "\u{ff21}\u{ff22}",
    "\u{1f600}",
    "\u{1f44d}\u{1f3fd}",
    "\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}",
    "\u{2764}\u{fe0f}",
    "e\u{301}",
    "\u{0915}\u{093f}",
    "\u{00bd}",
    "\u{a0}",
    "\u{2028}",
    "\t",
    "\n",
    "\r\n",
    " ",
    "   ",
    "\u{0}",
    "\u{7f}",
    "\u{feff}",
    "\u{200b}",
    "_",
    "__",
    "@",
    "#",
];

fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => proptest::sample::select(PIECES).prop_map(str::to_string),
        2 => any::<char>().prop_map(|c| c.to_string()),
        1 => "[a-z]{1,12}",
        1 => "\\PC{0,8}",
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => proptest::collection::vec((piece(), proptest::sample::select(&[" ", "", "  ", "\n"][..])), 0..40)
            .prop_map(|v| v.into_iter().map(|(p, sep)| p + sep).collect()),
        1 => any::<String>(),
        1 => (proptest::sample::select(PIECES), 0usize..300)
            .prop_map(|(p, n)| vec![p; n].join(" ")),
    ]
}

fn sample() -> impl Strategy<Value = Sample> {
    (
        text(),
        proptest::collection::vec(text(), 1..4),
        proptest::option::of(text()),
        any::<bool>(),
    )
        .prop_map(|(prediction, references, prompt, modified)| Sample {
            prediction,
            references,
            prompt,
            modified,
        })
}

/// JSONL lines with missing, empty, null or mistyped fields.
const HOSTILE_LINES: &[&str] = &[
    r#"{"prediction": "a"}"#,
    r#"{"prediction": "a", "references": []}"#,
    r#"{"prediction": "a", "references": null}"#,
    r#"{"prediction": "a", "references": [1]}"#,
    r#"{"prediction": "a", "references": {}}"#,
    r#"{"prediction": null, "references": ["a"]}"#,
    r#"{"references": ["a"]}"#,
    r#"{"prediction": "a", "references": ["a"], "modified": "yes"}"#,
    r#"{"prediction": "a", "references": "", "prompt": 3}"#,
    r#"{"prediction": "\ud800", "references": ["a"]}"#,
    r#"{"prediction": "a", "references": ["a"]"#,
    "[]",
    "null",
    "{}",
    "\u{feff}{\"prediction\": \"a\", \"references\": [\"a\"]}",
];

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn every_reward_gives_a_finite_score_in_its_range(s in sample()) {
        for (reward, lo, hi) in rewards() {
            let x = reward.score(&s);
            prop_assert!(x.is_finite(), "{}: {x} on {s:?}", reward.id());
            prop_assert!(*lo - 1e-9 <= x && x <= *hi + 1e-9, "{}: {x} outside [{lo}, {hi}] on {s:?}", reward.id());
        }
    }

    #[test]
    fn score_jsonl_answers_random_lines_with_scores_or_an_error(
        lines in proptest::collection::vec(
            prop_oneof![
                3 => sample().prop_map(|s| serde_json::to_string(&s).unwrap()),
                1 => any::<String>(),
                1 => proptest::sample::select(HOSTILE_LINES).prop_map(str::to_string),
            ],
            0..6,
        ),
        metric in proptest::sample::select(rewards::registry::IDS),
    ) {
        let input = lines.join("\n");
        let mut out = Vec::new();
        if score_jsonl(metric, None, input.as_bytes(), &mut out).is_ok() {
            let written = String::from_utf8(out).unwrap();
            let expected = input.lines().filter(|l| !l.trim().is_empty()).count();
            prop_assert_eq!(written.lines().count(), expected);
            for l in written.lines() {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                prop_assert!(v["score"].as_f64().is_some_and(f64::is_finite), "{l}");
            }
        }
    }
}
