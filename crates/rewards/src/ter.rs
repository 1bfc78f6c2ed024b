//! sacreBLEU 2.x sentence TER (`sacrebleu.sentence_ter`), a port of its
//! `lib_ter` (Tercom-compatible shifts with beam edit distance) and the Tercom
//! tokenizer (`normalized`, `no_punct`, `asian_support`, `case_sensitive`).

use crate::mteval::{self, Scratch};
use crate::text::{py_lower, py_normalize_ws, py_rstrip, py_split};
use std::collections::HashMap;

const MAX_SHIFT_SIZE: usize = 10;
const MAX_SHIFT_DIST: usize = 50;
const BEAM_WIDTH: usize = 25;
const MAX_SHIFT_CANDIDATES: usize = 1000;
const INF: i64 = 10_000_000_000_000_000;

#[derive(Debug, Clone, Default)]
pub struct Ter {
    pub normalized: bool,
    pub no_punct: bool,
    pub asian_support: bool,
    pub case_sensitive: bool,
}

/// Characters `_normalize_asian` puts spaces around: CJK ideographs (4E00-9FFF,
/// 3400-4DBF), strokes and radicals (31C0-31EF, 2E80-2EFF), compatibility
/// blocks (3300-33FF, F900-FAFF, FE30-FE4F), 3200-3F22, and the CJK and
/// full-width punctuation of [`is_asian_punct`]. (Its Hiragana, Katakana and
/// Katakana-extension rules are anchored at the start of the sentence, which
/// the Western normalisation has padded with a space, so they never match.)
fn is_asian_split(c: char) -> bool {
    matches!(c,
        '\u{4e00}'..='\u{9fff}'
        | '\u{3400}'..='\u{4dbf}'
        | '\u{31c0}'..='\u{31ef}'
        | '\u{2e80}'..='\u{2eff}'
        | '\u{3300}'..='\u{33ff}'
        | '\u{f900}'..='\u{faff}'
        | '\u{fe30}'..='\u{fe4f}'
        | '\u{3200}'..='\u{3f22}'
    ) || is_asian_punct(c)
}

/// `TercomTokenizer.ASIAN_PUNCT` and `FULL_WIDTH_PUNCT`.
fn is_asian_punct(c: char) -> bool {
    matches!(c,
        '\u{3001}' | '\u{3002}' | '\u{3008}'..='\u{3011}' | '\u{3014}'..='\u{301f}'
        | '\u{ff61}'..='\u{ff65}' | '\u{30fb}'
        | '\u{ff0e}' | '\u{ff0c}' | '\u{ff1f}' | '\u{ff1a}' | '\u{ff1b}' | '\u{ff01}'
        | '\u{ff02}' | '\u{ff08}' | '\u{ff09}'
    )
}

impl Ter {
    /// `TercomTokenizer(...)(sent.rstrip())`.
    pub fn tokenize(&self, sent: &str) -> String {
        let sent = py_rstrip(sent);
        if sent.is_empty() {
            return String::new();
        }
        let mut s = if self.case_sensitive {
            sent.to_string()
        } else {
            py_lower(sent)
        };
        if self.normalized {
            s = mteval::ter_western(&s, &mut Scratch::default()).to_string();
            if self.asian_support && !s.is_ascii() {
                let mut out = String::with_capacity(s.len() + 16);
                for c in s.chars() {
                    if is_asian_split(c) {
                        out.push(' ');
                        out.push(c);
                        out.push(' ');
                    } else {
                        out.push(c);
                    }
                }
                s = out;
            }
        }
        if self.no_punct {
            s.retain(|c| !matches!(c, '.' | ',' | '?' | ':' | ';' | '!' | '"' | '(' | ')'));
            if self.asian_support {
                s.retain(|c| !is_asian_punct(c));
            }
        }
        py_normalize_ws(&s)
    }

    /// TER on the 0-100 scale (edits of the best reference / average reference
    /// length); 0.0 without references.
    pub fn score(&self, hypothesis: &str, references: &[String]) -> f64 {
        if references.is_empty() {
            return 0.0;
        }
        let mut vocab: HashMap<String, u32> = HashMap::new();
        let mut ids = |s: &str| -> Vec<u32> {
            py_split(s)
                .map(|w| {
                    let n = vocab.len() as u32;
                    *vocab.entry(w.to_string()).or_insert(n)
                })
                .collect()
        };
        let hyp = ids(&self.tokenize(hypothesis));
        let mut ref_lengths = 0usize;
        let mut best = INF;
        for r in references {
            // sacreBLEU tokenizes every reference twice (`Metric._cache_references`
            // preprocesses the segments and `TER._extract_reference_info` does it again);
            // the normalised tokenizer is not idempotent ("way's," -> "way's ," -> "way 's ,").
            let rw = ids(&self.tokenize(&self.tokenize(r)));
            let (edits, len) = translation_edit_rate(&hyp, &rw);
            ref_lengths += len;
            if edits < best {
                best = edits;
            }
        }
        let avg_ref_len = ref_lengths as f64 / references.len() as f64;
        let edits = best as f64;
        let score = if avg_ref_len > 0.0 {
            edits / avg_ref_len
        } else if edits > 0.0 {
            1.0
        } else {
            0.0
        };
        100.0 * score
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    Ins,
    Del,
    Nop,
    Sub,
    Undef,
}

/// Beam edit distance of `hyp` against `rf`; returns (distance, trace).
fn edit_distance(hyp: &[u32], rf: &[u32]) -> (i64, Vec<Op>) {
    let nh = hyp.len();
    let nr = rf.len();
    let w = nr + 1;
    let mut cost = vec![INF; (nh + 1) * w];
    let mut ops = vec![Op::Undef; (nh + 1) * w];
    for j in 0..=nr {
        cost[j] = j as i64;
        ops[j] = Op::Ins;
    }
    let length_ratio = if nh > 0 { nr as f64 / nh as f64 } else { 1.0 };
    let beam = if (BEAM_WIDTH as f64) < length_ratio / 2.0 {
        (length_ratio / 2.0 + BEAM_WIDTH as f64).ceil() as i64
    } else {
        BEAM_WIDTH as i64
    };
    for i in 1..=nh {
        let pd = (i as f64 * length_ratio).floor() as i64;
        let min_j = (pd - beam).max(0) as usize;
        let mut max_j = ((nr + 1) as i64).min(pd + beam).max(0) as usize;
        if i == nh {
            max_j = nr + 1;
        }
        for j in min_j..max_j {
            let k = i * w + j;
            if j == 0 {
                cost[k] = cost[k - w] + 1;
                ops[k] = Op::Del;
            } else {
                let (cs, os) = if hyp[i - 1] == rf[j - 1] {
                    (0, Op::Nop)
                } else {
                    (1, Op::Sub)
                };
                let cands = [
                    (cost[k - w - 1] + cs, os),
                    (cost[k - w] + 1, Op::Del),
                    (cost[k - 1] + 1, Op::Ins),
                ];
                for (c, o) in cands {
                    if cost[k] > c {
                        cost[k] = c;
                        ops[k] = o;
                    }
                }
            }
        }
    }
    let mut trace = Vec::new();
    let (mut i, mut j) = (nh, nr);
    while i > 0 || j > 0 {
        let op = ops[i * w + j];
        trace.push(op);
        match op {
            Op::Sub | Op::Nop => {
                i -= 1;
                j -= 1;
            }
            Op::Ins => j -= 1,
            Op::Del => i -= 1,
            Op::Undef => break,
        }
    }
    trace.reverse();
    (cost[nh * w + nr], trace)
}

fn perform_shift(words: &[u32], start: usize, length: usize, target: usize) -> Vec<u32> {
    let mut out = Vec::with_capacity(words.len());
    if target < start {
        out.extend_from_slice(&words[..target]);
        out.extend_from_slice(&words[start..start + length]);
        out.extend_from_slice(&words[target..start]);
        out.extend_from_slice(&words[start + length..]);
    } else if target > start + length {
        out.extend_from_slice(&words[..start]);
        out.extend_from_slice(&words[start + length..target]);
        out.extend_from_slice(&words[start..start + length]);
        out.extend_from_slice(&words[target..]);
    } else {
        // Python slices clamp at the end of the list
        let n = words.len();
        let (a, b) = ((start + length).min(n), (length + target).min(n));
        out.extend_from_slice(&words[..start]);
        out.extend_from_slice(&words[a..b.max(a)]);
        out.extend_from_slice(&words[start..start + length]);
        out.extend_from_slice(&words[b..]);
    }
    out
}

type Candidate = (i64, usize, i64, i64, Vec<u32>);

fn shift(words_h: &[u32], words_r: &[u32], checked: &mut usize) -> (i64, Vec<u32>) {
    let (pre_score, inv_trace) = edit_distance(words_h, words_r);
    // flip the trace (ins <-> del) and convert to an alignment
    let mut align: HashMap<i64, i64> = HashMap::new();
    let (mut ph, mut pr) = (-1i64, -1i64);
    let mut hyp_err = Vec::new();
    let mut ref_err = Vec::new();
    for op in inv_trace {
        match op {
            Op::Nop | Op::Sub => {
                ph += 1;
                pr += 1;
                align.insert(pr, ph);
                let e = u8::from(op == Op::Sub);
                hyp_err.push(e);
                ref_err.push(e);
            }
            // flipped: Del in the inverse trace is an insertion
            Op::Del => {
                ph += 1;
                hyp_err.push(1);
            }
            Op::Ins => {
                pr += 1;
                align.insert(pr, ph);
                ref_err.push(1);
            }
            Op::Undef => {}
        }
    }
    let sum = |v: &[u8], a: usize, l: usize| -> usize {
        v.iter().skip(a).take(l).map(|&x| x as usize).sum()
    };
    let mut best: Option<Candidate> = None;
    let (nh, nr) = (words_h.len(), words_r.len());
    'outer: for start_h in 0..nh {
        for start_r in 0..nr {
            if start_r.abs_diff(start_h) > MAX_SHIFT_DIST {
                continue;
            }
            let mut length = 0;
            while words_h[start_h + length] == words_r[start_r + length] && length < MAX_SHIFT_SIZE
            {
                length += 1;
                // candidate (start_h, start_r, length)
                let skip = sum(&hyp_err, start_h, length) == 0
                    || sum(&ref_err, start_r, length) == 0
                    || align
                        .get(&(start_r as i64))
                        .is_some_and(|&a| start_h as i64 <= a && a < (start_h + length) as i64);
                if !skip {
                    let mut prev_idx = -1i64;
                    for offset in -1i64..length as i64 {
                        let pos = start_r as i64 + offset;
                        let idx = if pos == -1 {
                            0
                        } else if let Some(&a) = align.get(&pos) {
                            a + 1
                        } else {
                            break;
                        };
                        if idx == prev_idx {
                            continue;
                        }
                        prev_idx = idx;
                        let shifted = perform_shift(words_h, start_h, length, idx as usize);
                        let cand: Candidate = (
                            pre_score - edit_distance(&shifted, words_r).0,
                            length,
                            -(start_h as i64),
                            -idx,
                            shifted,
                        );
                        *checked += 1;
                        if best.as_ref().is_none_or(|b| cand > *b) {
                            best = Some(cand);
                        }
                    }
                    if *checked >= MAX_SHIFT_CANDIDATES {
                        break 'outer;
                    }
                }
                if nh == start_h + length || nr == start_r + length {
                    break;
                }
            }
        }
    }
    match best {
        None => (0, words_h.to_vec()),
        Some((score, _, _, _, words)) => (score, words),
    }
}

/// `lib_ter.translation_edit_rate(words_hyp, words_ref)` -> (edits, ref length).
fn translation_edit_rate(words_hyp: &[u32], words_ref: &[u32]) -> (i64, usize) {
    if words_ref.is_empty() {
        return (words_hyp.len() as i64, 0);
    }
    let mut shifts = 0;
    let mut input = words_hyp.to_vec();
    let mut checked = 0;
    loop {
        let (delta, new_input) = shift(&input, words_ref, &mut checked);
        if checked >= MAX_SHIFT_CANDIDATES || delta <= 0 {
            break;
        }
        shifts += 1;
        input = new_input;
    }
    let (ed, _) = edit_distance(&input, words_ref);
    (shifts + ed, words_ref.len())
}
