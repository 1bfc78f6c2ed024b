//! Property tests of the model crate's parsers of outside input: safetensors files (random
//! bytes, truncations, edited headers with wrong dtypes, shapes and offsets), checkpoint
//! directories (the tiny GPT-2 and T5 fixtures with hostile `config.json` values or damaged
//! weights), SentencePiece model bytes, BERT vocabularies and texts, and a byte-level BPE on
//! random Unicode (it must round-trip). Each returns a value or an error, never panics.
//! Cases per property: `PROPTEST_CASES` (default 32; `just fuzz`: 100,000).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use model::sentencepiece::SentencePieceModel;
use model::weights::SafeTensorsFile;
use model::{
    BertTokenizer, CpuBackend, GPT2LMHeadModel, Gpt2Tokenizer, T5ForConditionalGeneration,
};
use proptest::prelude::*;
use proptest::test_runner::Config;

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

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

/// Opens `bytes` as a safetensors file and reads every tensor as f32 (with its own shape, and
/// with a wrong one) and as i64.
fn exercise_safetensors(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    std::fs::write(&path, bytes).unwrap();
    let Ok(file) = SafeTensorsFile::open(&path) else {
        return;
    };
    for name in file.names() {
        let shape = file.shape(&name).unwrap_or_default();
        let _ = file.f32_values(&name, &shape);
        let mut wrong = shape.clone();
        wrong.push(2);
        let _ = file.f32_values(&name, &wrong);
        let _ = file.i64_values(&name);
    }
    let _ = file.f32_values("no such tensor", &[1]);
}

/// Header edits: dtypes, shapes and offsets swapped for hostile ones.
const HEADER_EDITS: &[(&str, &str)] = &[
    ("\"F32\"", "\"F64\""),
    ("\"F32\"", "\"I8\""),
    ("\"F32\"", "\"BOOL\""),
    ("\"F32\"", "\"F16\""),
    ("\"F32\"", "\"BF16\""),
    ("\"F32\"", "\"I64\""),
    ("\"F32\"", "\"U8\""),
    ("\"F32\"", "\"XX\""),
    ("\"shape\":[", "\"shape\":[0,"),
    ("\"shape\":[", "\"shape\":[18446744073709551615,"),
    ("\"shape\":[", "\"shape\":[4294967296,4294967296,"),
    ("\"data_offsets\":[", "\"data_offsets\":[1,"),
    ("\"data_offsets\":[0", "\"data_offsets\":[99999999999"),
    ("\"data_offsets\":[", "\"data_offsets\":[-1,"),
    (",\"data_offsets\"", ",\"data_offsets\":[0,0],\"x\""),
];

/// A safetensors file with its JSON header edited (the 8-byte length prefix kept consistent).
fn edited_header(bytes: &[u8], edits: &[(usize, usize)]) -> Vec<u8> {
    if bytes.len() < 8 {
        return bytes.to_vec();
    }
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    if 8 + n > bytes.len() {
        return bytes.to_vec();
    }
    let mut header = String::from_utf8_lossy(&bytes[8..8 + n]).into_owned();
    for &(which, nth) in edits {
        let (from, to) = HEADER_EDITS[which % HEADER_EDITS.len()];
        if let Some((i, _)) = header.match_indices(from).nth(nth) {
            header.replace_range(i..i + from.len(), to);
        }
    }
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&bytes[8 + n..]);
    out
}

fn damaged(original: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = original.len();
    let a = original.clone();
    let b = original.clone();
    let c = original;
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        (0..len).prop_map(move |cut| a[..cut].to_vec()),
        proptest::collection::vec((0usize..64, 0usize..8), 1..4)
            .prop_map(move |edits| edited_header(&b, &edits)),
        proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..8).prop_map(
            move |flips| {
                let mut v = c.clone();
                // flip bytes, mostly in the header
                for (at, x) in flips {
                    let i = at.index(v.len().min(600));
                    v[i] ^= x | 1;
                }
                v
            }
        ),
    ]
}

/// `config.json` values that break naive loaders: zero, huge, negative, wrong types.
fn hostile_number() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        Just(serde_json::json!(0)),
        Just(serde_json::json!(1)),
        Just(serde_json::json!(3)),
        Just(serde_json::json!(-1)),
        Just(serde_json::json!(1e300)),
        Just(serde_json::json!(0.5)),
        Just(serde_json::json!(u64::MAX)),
        Just(serde_json::json!(1u64 << 40)),
        Just(serde_json::json!(1u64 << 62)),
        Just(serde_json::json!("32")),
        Just(serde_json::json!(null)),
        (0u64..100_000).prop_map(serde_json::Value::from),
    ]
}

/// A copy of a fixture checkpoint with some `config.json` fields replaced and, sometimes,
/// damaged weights; loading it gives a model or an error.
fn hostile_checkpoint(
    name: &'static str,
    fields: &'static [&'static str],
) -> impl Strategy<Value = (serde_json::Value, Option<Vec<u8>>)> {
    let config: serde_json::Value =
        serde_json::from_slice(&read(&fixture(name).join("config.json"))).unwrap();
    let weights = read(&fixture(name).join("model.safetensors"));
    (
        proptest::collection::vec((proptest::sample::select(fields), hostile_number()), 1..4),
        proptest::option::weighted(0.2, damaged(weights)),
    )
        .prop_map(move |(edits, weights)| {
            let mut c = config.clone();
            for (field, value) in edits {
                c[field] = value;
            }
            (c, weights)
        })
}

fn write_checkpoint(
    name: &str,
    config: &serde_json::Value,
    weights: Option<&[u8]>,
) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    match weights {
        Some(w) => std::fs::write(dir.path().join("model.safetensors"), w).unwrap(),
        None => {
            std::fs::copy(
                fixture(name).join("model.safetensors"),
                dir.path().join("model.safetensors"),
            )
            .unwrap();
        }
    }
    dir
}

const GPT2_FIELDS: &[&str] = &[
    "vocab_size",
    "n_positions",
    "n_embd",
    "n_layer",
    "n_head",
    "n_inner",
    "layer_norm_epsilon",
    "activation_function",
    "bos_token_id",
    "eos_token_id",
];
const T5_FIELDS: &[&str] = &[
    "vocab_size",
    "d_model",
    "d_kv",
    "d_ff",
    "num_layers",
    "num_decoder_layers",
    "num_heads",
    "relative_attention_num_buckets",
    "relative_attention_max_distance",
    "layer_norm_epsilon",
    "pad_token_id",
    "eos_token_id",
    "decoder_start_token_id",
    "feed_forward_proj",
];

/// A byte-level BPE trained once on a small mixed-script corpus.
fn bpe() -> &'static Gpt2Tokenizer {
    static BPE: OnceLock<Gpt2Tokenizer> = OnceLock::new();
    BPE.get_or_init(|| {
        let corpus: Vec<String> = (0..200)
            .map(|i| {
                format!(
                    "the gradient {i} vanishes when the reward std is small, caf\u{e9} \u{65e5}\u{672c} \u{1F600} {}",
                    "x".repeat(i % 7)
                )
            })
            .collect();
        Gpt2Tokenizer::train(corpus.iter(), 400, 2).unwrap()
    })
}

/// Random protobuf-like bytes: (field number, wire type, payload) records, as in a
/// SentencePiece model, so that parsing gets past the first byte.
fn proto_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        (
            1u8..8,
            0u8..6,
            proptest::collection::vec(any::<u8>(), 0..12),
        ),
        0..12,
    )
    .prop_map(|records| {
        let mut out = Vec::new();
        for (field, wire, payload) in records {
            out.push(field << 3 | wire);
            if wire == 2 {
                out.push(payload.len() as u8);
            }
            out.extend(payload);
        }
        out
    })
}

proptest! {
    #![proptest_config(config(32))]

    #[test]
    fn damaged_safetensors_open_or_are_an_error(bytes in damaged(read(&fixture("gpt2-tiny/model.safetensors")))) {
        exercise_safetensors(&bytes);
    }

    #[test]
    fn a_gpt2_checkpoint_with_hostile_config_or_weights_loads_or_is_an_error(
        (config, weights) in hostile_checkpoint("gpt2-tiny", GPT2_FIELDS)
    ) {
        let dir = write_checkpoint("gpt2-tiny", &config, weights.as_deref());
        let _ = GPT2LMHeadModel::<CpuBackend>::load(dir.path(), &Default::default());
    }

    #[test]
    fn a_t5_checkpoint_with_hostile_config_or_weights_loads_or_is_an_error(
        (config, weights) in hostile_checkpoint("t5-tiny", T5_FIELDS)
    ) {
        let dir = write_checkpoint("t5-tiny", &config, weights.as_deref());
        let _ = T5ForConditionalGeneration::<CpuBackend>::load(dir.path(), &Default::default());
    }

    #[test]
    fn byte_level_bpe_round_trips_random_unicode(text in prop_oneof![any::<String>(), "\\PC{0,40}", "[ \t\n\u{a0}\u{3000}]{0,10}"]) {
        let t = bpe();
        let ids = t.encode(&text).unwrap();
        prop_assert!(ids.iter().all(|&id| (id as usize) < t.vocab_size()));
        prop_assert_eq!(t.decode(&ids).unwrap(), text);
    }

    #[test]
    fn sentencepiece_model_bytes_parse_or_are_an_error(bytes in prop_oneof![proptest::collection::vec(any::<u8>(), 0..200), proto_bytes()]) {
        let _ = SentencePieceModel::parse(&bytes);
    }

    #[test]
    fn a_bert_vocabulary_and_texts_encode_or_are_an_error(
        vocab in proptest::collection::vec(prop_oneof![
            proptest::sample::select(&["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "##s", "cat", "##", "", " "][..]).prop_map(str::to_string),
            "\\PC{0,6}",
        ], 0..30),
        a in any::<String>(),
        b in any::<String>(),
        max_length in 0usize..20,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vocab.txt");
        std::fs::write(&path, vocab.join("\n")).unwrap();
        if let Ok(t) = BertTokenizer::from_vocab(&path, max_length) {
            let _ = t.encode_pair(&a, &b);
        }
    }
}
