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

/// sacreBLEU's beam: row `i` of the edit-distance matrix (hypothesis word `i`) is computed only
/// for the reference columns `min_j..max_j` around the pseudo-diagonal `i * |ref| / |hyp|`, and
/// the last row in full. Every other cell is infinite, so only the band is stored: memory is
/// linear in the lengths (about 50 cells per hypothesis word plus the reference length) where
/// a full matrix is quadratic (320 GB for two 200,000-word texts).
#[derive(Clone, Copy)]
struct Beam {
    nh: usize,
    nr: usize,
    length_ratio: f64,
    width: i64,
}

impl Beam {
    fn new(nh: usize, nr: usize) -> Beam {
        let length_ratio = if nh > 0 { nr as f64 / nh as f64 } else { 1.0 };
        let width = if (BEAM_WIDTH as f64) < length_ratio / 2.0 {
            (length_ratio / 2.0 + BEAM_WIDTH as f64).ceil() as i64
        } else {
            BEAM_WIDTH as i64
        };
        Beam {
            nh,
            nr,
            length_ratio,
            width,
        }
    }

    /// The columns `min_j..max_j` computed in row `i` (row 0 is the full initial row).
    fn cols(&self, i: usize) -> (usize, usize) {
        if i == 0 {
            return (0, self.nr + 1);
        }
        let pd = (i as f64 * self.length_ratio).floor() as i64;
        let min_j = (pd - self.width).max(0) as usize;
        let max_j = if i == self.nh {
            self.nr + 1
        } else {
            ((self.nr + 1) as i64).min(pd + self.width).max(0) as usize
        };
        (min_j, max_j.max(min_j))
    }
}

/// One stored row of the band: costs of columns `lo..lo + cost.len()`; other columns are infinite.
#[derive(Clone, Copy)]
struct Row<'a> {
    lo: usize,
    cost: &'a [i64],
}

impl Row<'_> {
    fn get(&self, j: usize) -> i64 {
        j.checked_sub(self.lo)
            .and_then(|k| self.cost.get(k))
            .copied()
            .unwrap_or(INF)
    }
}

/// Fills the band of one row (hypothesis word `word`) from the row above, as sacreBLEU's
/// `BeamEditDistance._edit_distance` does cell by cell (same preference order on ties).
fn fill_row(word: u32, rf: &[u32], prev: Row, lo: usize, cost: &mut [i64], ops: &mut [Op]) {
    for k in 0..cost.len() {
        let j = lo + k;
        let (c, o) = if j == 0 {
            (prev.get(0) + 1, Op::Del)
        } else {
            let (cs, os) = if word == rf[j - 1] {
                (0, Op::Nop)
            } else {
                (1, Op::Sub)
            };
            let left = if k > 0 { cost[k - 1] } else { INF };
            let mut best = (INF, Op::Undef);
            for cand in [
                (prev.get(j - 1) + cs, os),
                (prev.get(j) + 1, Op::Del),
                (left + 1, Op::Ins),
            ] {
                if best.0 > cand.0 {
                    best = cand;
                }
            }
            best
        };
        cost[k] = c;
        if let Some(slot) = ops.get_mut(k) {
            *slot = o;
        }
    }
}

/// The band of the whole matrix of `hyp` against `rf`, with the operations for the trace.
struct Banded {
    beam: Beam,
    /// Row `i` is `cost[start[i]..start[i + 1]]`, its first column `lo[i]`.
    start: Vec<usize>,
    lo: Vec<usize>,
    cost: Vec<i64>,
    ops: Vec<Op>,
}

impl Banded {
    fn new(hyp: &[u32], rf: &[u32]) -> Banded {
        let beam = Beam::new(hyp.len(), rf.len());
        let mut start = Vec::with_capacity(hyp.len() + 2);
        let mut lo = Vec::with_capacity(hyp.len() + 1);
        let mut cells = 0;
        for i in 0..=hyp.len() {
            let (a, b) = beam.cols(i);
            start.push(cells);
            lo.push(a);
            cells += b - a;
        }
        start.push(cells);
        let mut cost = vec![INF; cells];
        let mut ops = vec![Op::Undef; cells];
        for j in 0..=rf.len() {
            cost[j] = j as i64;
            ops[j] = Op::Ins;
        }
        for i in 1..=hyp.len() {
            let (above, here) = cost.split_at_mut(start[i]);
            let prev = Row {
                lo: lo[i - 1],
                cost: &above[start[i - 1]..],
            };
            let n = start[i + 1] - start[i];
            fill_row(
                hyp[i - 1],
                rf,
                prev,
                lo[i],
                &mut here[..n],
                &mut ops[start[i]..start[i + 1]],
            );
        }
        Banded {
            beam,
            start,
            lo,
            cost,
            ops,
        }
    }

    fn row(&self, i: usize) -> Row<'_> {
        Row {
            lo: self.lo[i],
            cost: &self.cost[self.start[i]..self.start[i + 1]],
        }
    }

    fn op(&self, i: usize, j: usize) -> Op {
        match j.checked_sub(self.lo[i]) {
            Some(k) if self.start[i] + k < self.start[i + 1] => self.ops[self.start[i] + k],
            _ => Op::Undef,
        }
    }

    fn distance(&self) -> i64 {
        self.row(self.beam.nh).get(self.beam.nr)
    }

    fn trace(&self) -> Vec<Op> {
        let mut trace = Vec::new();
        let (mut i, mut j) = (self.beam.nh, self.beam.nr);
        while i > 0 || j > 0 {
            let op = self.op(i, j);
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
        trace
    }

    /// The distance of `hyp`, a hypothesis of the same length whose first `prefix` words equal
    /// those this band was computed for: rows up to `prefix` are reused (sacreBLEU's row cache)
    /// and the others computed in two rolling rows.
    fn distance_with_prefix(
        &self,
        hyp: &[u32],
        rf: &[u32],
        prefix: usize,
        buf: &mut RowBuf,
    ) -> i64 {
        let nh = self.beam.nh;
        debug_assert_eq!(hyp.len(), nh);
        if prefix >= nh {
            return self.distance();
        }
        let first = self.row(prefix);
        buf.prev.clear();
        buf.prev.extend_from_slice(first.cost);
        let mut prev_lo = first.lo;
        for i in prefix + 1..=nh {
            let (a, b) = self.beam.cols(i);
            buf.cur.clear();
            buf.cur.resize(b - a, INF);
            let prev = Row {
                lo: prev_lo,
                cost: &buf.prev,
            };
            fill_row(hyp[i - 1], rf, prev, a, &mut buf.cur, &mut []);
            std::mem::swap(&mut buf.prev, &mut buf.cur);
            prev_lo = a;
        }
        Row {
            lo: prev_lo,
            cost: &buf.prev,
        }
        .get(self.beam.nr)
    }
}

/// Two reusable rows for [`Banded::distance_with_prefix`].
#[derive(Default)]
struct RowBuf {
    prev: Vec<i64>,
    cur: Vec<i64>,
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

/// Prefix sums of a 0/1 error vector, so that `sum(err[a:a+l])` (Python slice) is O(1).
fn prefix_sums(err: &[u8]) -> Vec<usize> {
    let mut out = Vec::with_capacity(err.len() + 1);
    out.push(0);
    let mut s = 0;
    for &e in err {
        s += e as usize;
        out.push(s);
    }
    out
}

fn slice_sum(sums: &[usize], a: usize, l: usize) -> usize {
    let n = sums.len() - 1;
    let (a, b) = (a.min(n), (a + l).min(n));
    sums[b] - sums[a]
}

/// (score, length, -start_h, -idx): the ranking of `_shift`'s candidates (the shifted words,
/// its fifth element, never decide: equal keys mean equal shifts).
type Key = (i64, usize, i64, i64);

/// `lib_ter._shift`: the best shift of `words_h` and how much it lowers the edit distance;
/// `band` is the edit-distance band of `words_h`.
fn shift(
    words_h: &[u32],
    words_r: &[u32],
    band: &Banded,
    checked: &mut usize,
    buf: &mut RowBuf,
) -> (i64, Vec<u32>) {
    let pre_score = band.distance();
    let (nh, nr) = (words_h.len(), words_r.len());
    // flip the trace (ins <-> del) and convert to an alignment; align[pos_ref] = pos_hyp
    let mut align: Vec<Option<i64>> = vec![None; nr];
    let (mut ph, mut pr) = (-1i64, -1i64);
    let mut hyp_err = Vec::with_capacity(nh);
    let mut ref_err = Vec::with_capacity(nr);
    let mut set_align = |pr: i64, ph: i64| {
        if let Some(slot) = usize::try_from(pr).ok().and_then(|p| align.get_mut(p)) {
            *slot = Some(ph);
        }
    };
    for op in band.trace() {
        match op {
            Op::Nop | Op::Sub => {
                ph += 1;
                pr += 1;
                set_align(pr, ph);
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
                set_align(pr, ph);
                ref_err.push(1);
            }
            Op::Undef => {}
        }
    }
    let hyp_sums = prefix_sums(&hyp_err);
    let ref_sums = prefix_sums(&ref_err);
    let align_at = |pos: i64| -> Option<i64> {
        usize::try_from(pos)
            .ok()
            .and_then(|p| align.get(p).copied().flatten())
    };
    let mut best: Option<(Key, Vec<u32>)> = None;
    'outer: for start_h in 0..nh {
        // `_find_shifted_pairs` visits every start_r and skips those more than
        // MAX_SHIFT_DIST away: visit only the others, in the same order.
        let lo_r = start_h.saturating_sub(MAX_SHIFT_DIST);
        let hi_r = (start_h + MAX_SHIFT_DIST + 1).min(nr);
        for start_r in lo_r..hi_r {
            let mut length = 0;
            while words_h[start_h + length] == words_r[start_r + length] && length < MAX_SHIFT_SIZE
            {
                length += 1;
                // candidate (start_h, start_r, length)
                let skip = slice_sum(&hyp_sums, start_h, length) == 0
                    || slice_sum(&ref_sums, start_r, length) == 0
                    || align_at(start_r as i64)
                        .is_some_and(|a| start_h as i64 <= a && a < (start_h + length) as i64);
                if !skip {
                    let mut prev_idx = -1i64;
                    for offset in -1i64..length as i64 {
                        let pos = start_r as i64 + offset;
                        let idx = if pos == -1 {
                            0
                        } else if let Some(a) = align_at(pos) {
                            a + 1
                        } else {
                            break;
                        };
                        if idx == prev_idx {
                            continue;
                        }
                        prev_idx = idx;
                        let shifted = perform_shift(words_h, start_h, length, idx as usize);
                        let prefix = shifted
                            .iter()
                            .zip(words_h)
                            .take_while(|(a, b)| a == b)
                            .count();
                        let dist = band.distance_with_prefix(&shifted, words_r, prefix, buf);
                        let key: Key = (pre_score - dist, length, -(start_h as i64), -idx);
                        *checked += 1;
                        if best.as_ref().is_none_or(|(b, _)| key > *b) {
                            best = Some((key, shifted));
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
        Some(((score, ..), words)) => (score, words),
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
    let mut buf = RowBuf::default();
    let mut band = Banded::new(&input, words_ref);
    loop {
        let (delta, new_input) = shift(&input, words_ref, &band, &mut checked, &mut buf);
        if checked >= MAX_SHIFT_CANDIDATES || delta <= 0 {
            break;
        }
        shifts += 1;
        input = new_input;
        band = Banded::new(&input, words_ref);
    }
    (shifts + band.distance(), words_ref.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The full (quadratic) matrix with the same beam, as the code before the band: the band
    /// must give the same distance and trace.
    fn full_matrix(hyp: &[u32], rf: &[u32]) -> (i64, Vec<Op>) {
        let (nh, nr) = (hyp.len(), rf.len());
        let w = nr + 1;
        let beam = Beam::new(nh, nr);
        let mut cost = vec![INF; (nh + 1) * w];
        let mut ops = vec![Op::Undef; (nh + 1) * w];
        for j in 0..=nr {
            cost[j] = j as i64;
            ops[j] = Op::Ins;
        }
        for i in 1..=nh {
            let (a, b) = beam.cols(i);
            for j in a..b {
                let k = i * w + j;
                if j == 0 {
                    cost[k] = cost[k - w] + 1;
                    ops[k] = Op::Del;
                    continue;
                }
                let (cs, os) = if hyp[i - 1] == rf[j - 1] {
                    (0, Op::Nop)
                } else {
                    (1, Op::Sub)
                };
                for (c, o) in [
                    (cost[k - w - 1] + cs, os),
                    (cost[k - w] + 1, Op::Del),
                    (cost[k - 1] + 1, Op::Ins),
                ] {
                    if cost[k] > c {
                        cost[k] = c;
                        ops[k] = o;
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

    fn words(seed: u64, n: usize, vocab: u32) -> Vec<u32> {
        let mut x = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((x >> 33) % vocab as u64) as u32
            })
            .collect()
    }

    #[test]
    fn the_band_gives_the_distance_and_trace_of_the_full_matrix() {
        let mut cases = 0;
        for seed in 0..60u64 {
            for (nh, nr) in [
                (0, 5),
                (5, 0),
                (1, 90),
                (90, 1),
                (40, 40),
                (70, 130),
                (130, 70),
            ] {
                let vocab = 2 + (seed % 7) as u32;
                let (h, r) = (words(seed, nh, vocab), words(seed + 1000, nr, vocab));
                let band = Banded::new(&h, &r);
                let (d, t) = full_matrix(&h, &r);
                assert_eq!(
                    (band.distance(), band.trace()),
                    (d, t),
                    "seed {seed} {nh}x{nr}"
                );
                cases += 1;
            }
        }
        assert_eq!(cases, 420);
    }

    #[test]
    fn reusing_the_rows_of_a_shared_prefix_gives_the_full_distance() {
        let mut buf = RowBuf::default();
        for seed in 0..40u64 {
            let r = words(seed + 7, 80, 4);
            let h = words(seed, 60, 4);
            let band = Banded::new(&h, &r);
            for prefix in [0, 1, 13, 59, 60] {
                let mut other = h.clone();
                for w in other.iter_mut().skip(prefix) {
                    *w = (*w + 1) % 4;
                }
                let want = full_matrix(&other, &r).0;
                assert_eq!(
                    band.distance_with_prefix(&other, &r, prefix, &mut buf),
                    want
                );
            }
        }
    }
}
