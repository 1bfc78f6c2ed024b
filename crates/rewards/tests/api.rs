//! Public API: JSONL scoring, registry errors, and robustness on hostile input.

use rewards::registry::IDS;
use rewards::{RewardError, Sample, ScoredLine, build, score_jsonl};

#[test]
fn score_jsonl_writes_one_line_per_input() {
    let input = concat!(
        r#"{"prediction": "the cat sat on the mat", "references": ["the cat sat on the mat"]}"#,
        "\n\n",
        r#"{"prediction": "a dog", "references": "the cat", "prompt": "describe"}"#,
        "\n",
        r#"{"prediction": "", "references": [""]}"#,
        "\n"
    );
    let mut out = Vec::new();
    score_jsonl(
        "sacre_bleu",
        Some("tokenize: 13a"),
        input.as_bytes(),
        &mut out,
    )
    .unwrap();
    let lines: Vec<ScoredLine> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(
        lines.iter().map(|l| l.index).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert!((lines[0].score - 1.0).abs() < 1e-12);
    assert_eq!(lines[1].score, 0.0);
    assert_eq!(lines[2].score, 0.0);
}

#[test]
fn score_jsonl_reports_bad_lines_and_configs() {
    let mut out = Vec::new();
    let e = score_jsonl("f1", None, "{\"prediction\": 3}\n".as_bytes(), &mut out).unwrap_err();
    assert!(matches!(e, RewardError::Input { line: 1, .. }), "{e}");
    let e = score_jsonl("nope", None, "".as_bytes(), &mut out).unwrap_err();
    assert!(e.to_string().contains("accepted ids"), "{e}");
    let e = score_jsonl("meteor", Some("alpha: [1"), "".as_bytes(), &mut out).unwrap_err();
    assert!(matches!(e, RewardError::Config(_)), "{e}");
}

fn input_error(metric: &str, input: &str) -> (usize, String) {
    let mut out = Vec::new();
    match score_jsonl(metric, None, input.as_bytes(), &mut out).unwrap_err() {
        RewardError::Input { line, message } => (line, message),
        other => panic!("expected an input error, got {other}"),
    }
}

#[test]
fn a_line_without_references_is_an_error_naming_the_line_and_the_field() {
    let input = concat!(
        r#"{"prediction": "a", "references": ["a"]}"#,
        "\n\n",
        r#"{"prediction": "the cat"}"#,
        "\n"
    );
    for metric in IDS {
        let (line, message) = input_error(metric, input);
        assert_eq!(line, 3, "{metric}: {message}");
        assert!(message.contains("\"references\""), "{metric}: {message}");
        assert!(message.contains("missing"), "{metric}: {message}");
    }
}

#[test]
fn an_empty_reference_list_is_an_error_not_a_zero_score() {
    for metric in IDS {
        let (line, message) = input_error(metric, r#"{"prediction": "x", "references": []}"#);
        assert_eq!(line, 1, "{metric}");
        assert!(
            message.contains("\"references\"") && message.contains("empty"),
            "{metric}: {message}"
        );
    }
}

#[test]
fn a_line_without_prediction_or_with_wrong_types_is_an_error() {
    let (_, message) = input_error("f1", r#"{"references": ["a"]}"#);
    assert!(message.contains("\"prediction\""), "{message}");
    let (_, message) = input_error("f1", r#"{"prediction": "a", "references": [1]}"#);
    assert!(message.contains("references"), "{message}");
    let (_, message) = input_error("f1", "[1, 2]");
    assert!(message.contains("each line is"), "{message}");
}

#[test]
fn label_rewards_through_the_registry() {
    let r = build(
        "labels_with_custom",
        &serde_yaml::from_str("{min_reward: 0}").unwrap(),
    )
    .unwrap();
    let mut s = Sample::new("2", vec!["3".into()]);
    assert_eq!(r.score(&s), 0.0);
    s.modified = true;
    assert_eq!(r.score(&s), 0.5);
    s.prediction = "3".into();
    assert_eq!(r.score(&s), 1.0);
    let r = build("labels", &serde_yaml::Value::Null).unwrap();
    assert_eq!(r.score(&Sample::new("x", vec!["y".into()])), -1.0);
}

/// Every reward returns a finite number (never panics) on hostile input,
/// including no references at all.
#[test]
fn hostile_inputs_never_panic() {
    let long = "word. ".repeat(400) + &"ß🙂中".repeat(100);
    let texts: Vec<String> = vec![
        String::new(),
        " \t\n\r ".into(),
        "...".into(),
        ". . . . .".into(),
        "'''\"\"\"```".into(),
        "((((]]]]".into(),
        "\u{0}\u{1f}\u{7f}\u{200b}\u{feff}".into(),
        "\u{301}\u{301}a\u{301}".into(),
        "İ\u{212a}ΣΣ ς".into(),
        "-- - -- ---- -".into(),
        "!?!?!?.?!".into(),
        "'t 'tis 'twas d'ye more'n".into(),
        "A. B. C. D.".into(),
        "1.2.3.4 ,,, ::: ;;;".into(),
        "<skipped>&amp;&quot;&lt;&gt;-\n".into(),
        long,
    ];
    for id in IDS {
        let r = build(id, &serde_yaml::Value::Null).unwrap();
        for p in &texts {
            for refs in [vec![], vec![String::new()], texts.clone()] {
                let s = Sample::new(p.clone(), refs);
                let v = r.score(&s);
                assert!(v.is_finite(), "{id} on {p:?}: {v}");
            }
        }
    }
}
