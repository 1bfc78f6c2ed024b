//! Training a byte-level BPE (for the small models we pretrain ourselves).

use model::{Gpt2Tokenizer, LmTokenizer, T5Tokenizer};

/// A small corpus with repeated words, so merges are learned, and assorted scripts.
fn corpus() -> Vec<String> {
    let words = [
        "the",
        "model",
        "gradient",
        "vanishes",
        "when",
        "reward",
        "variance",
        "is",
        "small",
        "reinforcement",
        "finetuning",
        "supervised",
        "language",
        "policy",
    ];
    (0..400)
        .map(|i| {
            (0..12)
                .map(|j| words[(i * 7 + j * 3 + i / 5) % words.len()])
                .collect::<Vec<_>>()
                .join(" ")
                + if i % 3 == 0 { ".\n" } else { ", " }
        })
        .collect()
}

const PROBES: [&str; 8] = [
    "the gradient vanishes",
    "  Unseen words: zyzzyva, qwxj!  ",
    "Unicode: caf\u{e9}, \u{65e5}\u{672c}\u{8a9e}, \u{1F600}, \u{0645}\u{0631}\u{062d}\u{0628}\u{0627}",
    "tabs\tand\nnewlines\r\n",
    "<|endoftext|> written in text",
    "",
    "numbers 3.14159 and 1,000,000",
    "\u{0}\u{7f} control bytes",
];

#[test]
fn trained_bpe_learns_merges_and_round_trips_any_text() {
    let tok = Gpt2Tokenizer::train(corpus().iter(), 400, 2).unwrap();
    // 256 byte symbols + <|endoftext|> + learned merges.
    assert!(tok.vocab_size() > 257 + 50, "{}", tok.vocab_size());
    assert!(tok.vocab_size() <= 400);
    assert_eq!(tok.decode(&[tok.eos_token_id()]).unwrap(), "<|endoftext|>");
    // Frequent words become single tokens.
    assert_eq!(tok.encode(" gradient").unwrap().len(), 1);
    for text in PROBES {
        let ids = tok.encode(text).unwrap();
        assert_eq!(tok.decode(&ids).unwrap(), text, "{text:?}");
        assert!(
            !ids.contains(&tok.eos_token_id()),
            "special tokens are not matched in text"
        );
    }
    // Compression on the training text: fewer tokens than bytes.
    let text = corpus().concat();
    assert!(tok.encode(&text).unwrap().len() * 3 < text.len());
}

#[test]
fn training_is_deterministic_and_saves_as_tokenizer_json() {
    let a = Gpt2Tokenizer::train(corpus().iter(), 350, 2).unwrap();
    let b = Gpt2Tokenizer::train(corpus().iter(), 350, 2).unwrap();
    let dir = tempfile::tempdir().unwrap();
    a.save(dir.path().join("tokenizer.json")).unwrap();
    b.save(dir.path().join("b.json")).unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("tokenizer.json")).unwrap(),
        std::fs::read(dir.path().join("b.json")).unwrap()
    );
    let LmTokenizer::Gpt2(reloaded) = LmTokenizer::from_checkpoint(dir.path(), false).unwrap()
    else {
        panic!("a GPT-2 tokenizer")
    };
    for text in PROBES {
        assert_eq!(reloaded.encode(text).unwrap(), a.encode(text).unwrap());
    }
}

#[test]
fn checkpoint_without_tokenizer_files_names_what_is_expected() {
    let dir = tempfile::tempdir().unwrap();
    let err = LmTokenizer::from_checkpoint(dir.path(), true)
        .err()
        .unwrap();
    assert!(err.to_string().contains("spiece.model"), "{err}");
}

#[test]
fn t5_style_bpe_has_t5_special_ids_sentinels_and_appends_eos() {
    let tok = T5Tokenizer::train(corpus().iter(), 420, 2, 8).unwrap();
    assert_eq!(tok.pad_token_id(), 0);
    assert_eq!(tok.eos_token_id(), 1);
    assert_eq!(tok.token_to_id("<unk>"), Some(2));
    assert!(tok.vocab_size() <= 420, "{}", tok.vocab_size());
    let sentinels: Vec<u32> = (0..8)
        .map(|i| tok.token_to_id(&format!("<extra_id_{i}>")).unwrap())
        .collect();
    assert!(
        sentinels
            .iter()
            .all(|&s| s as usize >= tok.vocab_size() - 8)
    );
    for text in PROBES {
        let ids = tok.encode(text, true).unwrap();
        assert_eq!(ids.last(), Some(&1), "</s> appended to {text:?}");
        assert_eq!(tok.decode(&ids, true).unwrap(), text, "{text:?}");
        assert_eq!(tok.encode(text, false).unwrap().len() + 1, ids.len());
    }
    // Saved and reloaded as a T5 checkpoint's tokenizer.json: the same ids.
    let dir = tempfile::tempdir().unwrap();
    tok.save(dir.path().join("tokenizer.json")).unwrap();
    let LmTokenizer::T5(reloaded) = LmTokenizer::from_checkpoint(dir.path(), true).unwrap() else {
        panic!("a T5 tokenizer")
    };
    assert_eq!(
        reloaded
            .encode("the gradient <extra_id_3> vanishes", true)
            .unwrap(),
        tok.encode("the gradient <extra_id_3> vanishes", true)
            .unwrap()
    );
    assert!(T5Tokenizer::train(corpus().iter(), 200, 2, 8).is_err());
}
