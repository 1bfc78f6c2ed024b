//! TER on long and degenerate generations equals sacreBLEU's (golden values from
//! `scripts/make_ter_long_fixtures.py`), and a 200,000-word pair is scored at all.

use rewards::{Sample, build};
use serde_json::Value;

fn fixture() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ter_long.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("ter_long.json")).unwrap()
}

#[test]
fn long_and_degenerate_pairs_score_as_sacrebleu_ter() {
    let doc = fixture();
    let configs = doc["configs"].as_array().unwrap();
    let mut compared = 0;
    for case in doc["cases"].as_array().unwrap() {
        let refs: Vec<String> = case["references"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_string())
            .collect();
        let sample = Sample::new(case["prediction"].as_str().unwrap(), refs);
        for (name, want) in case["scores"].as_object().unwrap() {
            let cfg = configs.iter().find(|c| c["name"] == *name).unwrap();
            let args: serde_yaml::Value = serde_json::from_value(cfg["args"].clone()).unwrap();
            let got = build("ter", &args).unwrap().score(&sample);
            let want = want.as_f64().unwrap();
            assert!(
                (got - want).abs() < 1e-9,
                "{} [{name}]: {got} vs sacreBLEU {want}",
                case["name"]
            );
            compared += 1;
        }
    }
    assert!(compared >= 20, "only {compared} comparisons");
}

/// A 200,000-word pair: before the band, one edit-distance matrix took 320 GB and the process
/// aborted. The reference differs from the hypothesis in its last three words only (new words,
/// so no shift helps): TER = 3 edits / 200,000 reference words.
#[test]
fn a_pair_of_200000_word_texts_scores_three_edits() {
    let n = 200_000;
    let hyp: Vec<String> = (0..n).map(|i| format!("w{}", i % 5000)).collect();
    let mut rf = hyp.clone();
    for w in rf.iter_mut().skip(n - 3) {
        *w = "new".into();
    }
    let sample = Sample::new(hyp.join(" "), vec![rf.join(" ")]);
    let got = build("ter", &serde_yaml::Value::Null)
        .unwrap()
        .score(&sample);
    assert!((got - 100.0 * 3.0 / n as f64).abs() < 1e-12, "{got}");
}
