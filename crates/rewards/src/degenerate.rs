//! Long and degenerate generations (what a policy collapsing during RL produces), shared by the
//! test that every reward scores them finitely and the benchmark that times the worst case.

/// `(name, prediction, references)`: 10,000-token generations (one repeated token, two
/// alternating tokens, random words, only whitespace, only emoji, one 10,000-emoji word, CJK
/// without spaces) against a normal reference, and against an equally degenerate one.
pub fn cases() -> Vec<(&'static str, String, Vec<String>)> {
    let n = 10_000;
    let normal = "the cat sat on the mat while the dog slept by the door".to_string();
    let words = [
        "the", "a", "cat", "dog", "sat", "on", "mat", "ran", "to", "door", "big", "red", "and",
        "slept", "by", "house",
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let random: Vec<&str> = (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            words[(x % words.len() as u64) as usize]
        })
        .collect();
    let repeated = vec!["the"; n].join(" ");
    let whitespace = " \n\t".repeat(n / 3);
    let emoji = vec!["\u{1f600}"; n].join(" ");
    let cases = vec![
        (
            "one token repeated 10,000 times",
            repeated.clone(),
            vec![normal.clone()],
        ),
        (
            "one token repeated, against 10,000 of it",
            repeated.clone(),
            vec![repeated],
        ),
        (
            "two tokens alternating",
            vec!["the cat"; n / 2].join(" "),
            vec![normal.clone()],
        ),
        (
            "10,000 random words",
            random.join(" "),
            vec![normal.clone()],
        ),
        (
            "10,000 random words, against 10,000 others",
            random.join(" "),
            vec![random.iter().rev().copied().collect::<Vec<_>>().join(" ")],
        ),
        ("only whitespace", whitespace.clone(), vec![normal.clone()]),
        (
            "only whitespace, against only whitespace",
            whitespace.clone(),
            vec![whitespace],
        ),
        ("only emoji", emoji.clone(), vec![normal.clone()]),
        ("only emoji, against only emoji", emoji.clone(), vec![emoji]),
        (
            "10,000 emoji in one word",
            "\u{1f600}".repeat(n),
            vec![normal.clone()],
        ),
        (
            "10,000 CJK characters",
            "\u{4e2d}\u{6587}".repeat(n / 2),
            vec![normal],
        ),
    ];
    cases
}

/// The reward configurations the test and the benchmark run: each registry id (defaults), and
/// the argument sets that change the work done.
pub const CONFIGS: &[(&str, &str)] = &[
    ("rouge_l_max", ""),
    (
        "rouge_l_max",
        "{max_n: 4, limit_length: true, length_limit: 100, length_limit_type: words, apply_avg: true, apply_best: true, alpha: 0.5, weight_factor: 1.2, stemming: true}",
    ),
    ("rouge", "{rouge_type: rougeL}"),
    ("rouge", "{rouge_type: rougeLsum}"),
    ("sacre_bleu", ""),
    ("meteor", ""),
    ("chrf", ""),
    ("chrf", "{word_order: 2}"),
    ("ter", ""),
    ("ter", "{normalized: true, asian_support: true}"),
    ("f1", ""),
    ("exact_match", ""),
    ("labels", ""),
    ("labels_with_custom", ""),
];
