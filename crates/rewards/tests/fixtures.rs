//! Golden-fixture parity tests: every score of `tests/fixtures/scores.json`
//! (made by `scripts/make_reward_fixtures.py` with the Python reference
//! implementations) must be reproduced within the stated tolerance.

use rewards::porter::{Mode, PorterStemmer};
use rewards::wordnet::WordNet;
use rewards::{Sample, build, punkt, treebank};
use serde_json::Value;
use std::collections::HashSet;

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
        .unwrap()
}

fn pairs() -> Vec<Sample> {
    serde_json::from_value(fixture("pairs.json")).unwrap()
}

fn wordnet_available() -> bool {
    if WordNet::global().is_some() {
        return true;
    }
    eprintln!(
        "WordNet 3.0 not found (set WORDNET_DIR or apt-get install wordnet-base): METEOR/WordNet fixtures NOT checked"
    );
    false
}

fn check_config(name: &str) {
    let configs = fixture("scores.json");
    let cfg = configs
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no config {name}"));
    let metric = cfg["metric"].as_str().unwrap();
    let args: serde_yaml::Value = serde_json::from_value(cfg["args"].clone()).unwrap();
    let tol = cfg["tolerance"].as_f64().unwrap();
    let reward = build(metric, &args).unwrap();
    let samples = pairs();
    let expected = cfg["scores"].as_array().unwrap();
    assert_eq!(expected.len(), samples.len());
    let batch = reward.score_batch(&samples);
    let mut max_diff: f64 = 0.0;
    let mut failures = Vec::new();
    let mut compared = 0;
    for (i, (s, e)) in samples.iter().zip(expected).enumerate() {
        let got = reward.score(s);
        assert_eq!(
            got.to_bits(),
            batch[i].to_bits(),
            "{name}: batch and single scores differ at {i}"
        );
        assert!(got.is_finite(), "{name}: non-finite score at {i}");
        let Some(e) = e.as_f64() else { continue };
        compared += 1;
        let d = (got - e).abs();
        max_diff = max_diff.max(d);
        if d > tol {
            failures.push(format!(
                "  #{i}: got {got} expected {e} (diff {d:e}) pred={:?} refs={:?}",
                s.prediction, s.references
            ));
        }
    }
    eprintln!("{name}: {compared} pairs compared, max |diff| = {max_diff:e} (tolerance {tol:e})");
    assert!(
        failures.is_empty(),
        "{name}: {} of {compared} scores off:\n{}",
        failures.len(),
        failures
            .iter()
            .take(15)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

macro_rules! parity {
    ($($test:ident => $name:literal),* $(,)?) => {
        $( #[test] fn $test() { check_config($name); } )*
    };
}

parity! {
    rouge_l_max_narrativeqa => "rouge_l_max_narrativeqa",
    rouge_l_max_defaults => "rouge_l_max_defaults",
    rouge_l_max_bytes_75 => "rouge_l_max_bytes_75",
    rouge_rouge1 => "rouge_rouge1",
    rouge_rouge2_multi => "rouge_rouge2_multi",
    rouge_rouge_l => "rouge_rougeL",
    rouge_rouge_lsum => "rouge_rougeLsum",
    sacre_bleu_13a => "sacre_bleu_13a",
    sacre_bleu_intl => "sacre_bleu_intl",
    sacre_bleu_13a_lowercase_floor => "sacre_bleu_13a_lowercase_floor",
    sacre_bleu_add_k_no_eff => "sacre_bleu_add_k_no_eff",
    chrf => "chrf",
    chrf_pp => "chrf_pp",
    ter => "ter",
    ter_normalized => "ter_normalized",
    ter_asian => "ter_asian",
    ter_asian_nopunct => "ter_asian_nopunct",
    ter_nopunct_asian_unnormalized => "ter_nopunct_asian_unnormalized",
    ter_normalized_nopunct_cased => "ter_normalized_nopunct_cased",
    f1 => "f1",
    exact_match => "exact_match",
}

#[test]
fn meteor() {
    if wordnet_available() {
        check_config("meteor");
    }
}

#[test]
fn porter_stemmer_word_by_word() {
    let f = fixture("porter.json");
    let words = f["words"].as_array().unwrap();
    for (mode, key) in [
        (Mode::NltkExtensions, "nltk_extensions"),
        (Mode::OriginalAlgorithm, "original_algorithm"),
    ] {
        let st = PorterStemmer::new(mode);
        let exp = f[key].as_array().unwrap();
        let bad: Vec<String> = words
            .iter()
            .zip(exp)
            .filter_map(|(w, e)| {
                let (w, e) = (w.as_str().unwrap(), e.as_str().unwrap());
                let got = st.stem(w);
                (got != e).then(|| format!("{w:?}: got {got:?} expected {e:?}"))
            })
            .collect();
        eprintln!("porter {key}: {} words", words.len());
        assert!(
            bad.is_empty(),
            "{key}: {} of {} stems differ:\n{}",
            bad.len(),
            words.len(),
            bad[..bad.len().min(20)].join("\n")
        );
    }
}

#[test]
fn nltk_tokenizers() {
    let f = fixture("tokenize.json");
    let texts = f["texts"].as_array().unwrap();
    let mut bad = Vec::new();
    for (i, t) in texts.iter().enumerate() {
        let t = t.as_str().unwrap();
        let sents: Vec<String> = serde_json::from_value(f["sent_tokenize"][i].clone()).unwrap();
        let words: Vec<String> = serde_json::from_value(f["word_tokenize"][i].clone()).unwrap();
        let got_s = punkt::sent_tokenize(t);
        if got_s != sents {
            bad.push(format!(
                "sent_tokenize({t:?})\n   got {got_s:?}\n   exp {sents:?}"
            ));
        }
        let got_w = treebank::word_tokenize(t);
        if got_w != words {
            bad.push(format!(
                "word_tokenize({t:?})\n   got {got_w:?}\n   exp {words:?}"
            ));
        }
    }
    eprintln!("tokenizers: {} texts", texts.len());
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad[..bad.len().min(10)].join("\n")
    );
}

#[test]
fn wordnet_synonyms() {
    if !wordnet_available() {
        return;
    }
    let wn = WordNet::global().unwrap();
    let f = fixture("wordnet.json");
    let words = f["words"].as_array().unwrap();
    let mut bad = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let w = w.as_str().unwrap();
        let exp: HashSet<String> = serde_json::from_value(f["synonyms"][i].clone()).unwrap();
        let mut got = HashSet::new();
        wn.synonyms(w, &mut got);
        if got != exp {
            bad.push(format!(
                "{w:?}: got {} names, expected {}",
                got.len(),
                exp.len()
            ));
        }
    }
    eprintln!("wordnet: {} words", words.len());
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad[..bad.len().min(20)].join("\n")
    );
}
