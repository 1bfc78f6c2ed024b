//! Exact n-gram counting on interned symbols, shared by BLEU (word n-grams),
//! chrF (character and word n-grams) and ROUGE-N.
//!
//! The hypothesis side interns every n-gram: a symbol is its own 1-gram id and
//! the n-gram `(g, s)` (an (n-1)-gram `g` extended by symbol `s`) gets the next
//! free id from a map keyed by `(id of g, s)`. A reference is then scanned with
//! look-ups only: an n-gram whose prefix is not a hypothesis n-gram cannot be
//! one either, so the scan of a start position stops at the first miss. Counts
//! live in plain vectors indexed by id. No strings are hashed after interning
//! and nothing is approximate (ids are exact, no hash collisions can merge two
//! n-grams).

use rustc_hash::{FxBuildHasher, FxHashMap};
use std::hash::Hash;

/// Maps symbols (tokens, characters) to dense ids in order of first appearance.
pub struct Interner<K> {
    map: FxHashMap<K, u32>,
}

impl<K: Hash + Eq> Interner<K> {
    pub fn with_capacity(n: usize) -> Self {
        Interner {
            map: FxHashMap::with_capacity_and_hasher(n, FxBuildHasher),
        }
    }

    /// The id of `k`, inserting it if new.
    #[inline]
    pub fn intern(&mut self, k: K) -> u32 {
        let n = self.map.len() as u32;
        *self.map.entry(k).or_insert(n)
    }

    #[inline]
    pub fn get<Q>(&self, k: &Q) -> Option<u32>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get(k).copied()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[inline]
fn key(prefix: u32, sym: u32) -> u64 {
    (u64::from(prefix) << 32) | u64::from(sym)
}

/// All n-grams of orders `1..=max_order` of one hypothesis.
pub struct HypNgrams {
    max_order: usize,
    /// `(prefix id, symbol)` -> n-gram id, for orders >= 2.
    ext: FxHashMap<u64, u32>,
    /// Occurrences in the hypothesis, per id.
    pub count: Vec<u32>,
    /// Order (1-based) of each id; 0 for symbol ids that never occur.
    pub order: Vec<u8>,
    /// Number of n-gram windows per order (index `n - 1`).
    pub windows: Vec<usize>,
}

impl HypNgrams {
    /// `symbols` are ids below `n_symbols` (from an [`Interner`]).
    pub fn new(symbols: &[u32], n_symbols: usize, max_order: usize) -> Self {
        let len = symbols.len();
        let mut ext =
            FxHashMap::with_capacity_and_hasher(len * max_order.saturating_sub(1), FxBuildHasher);
        let mut count = vec![0u32; n_symbols];
        let mut order = vec![0u8; n_symbols];
        let mut windows = vec![0usize; max_order];
        for (n, w) in windows.iter_mut().enumerate() {
            *w = (len + 1).saturating_sub(n + 1);
        }
        for i in 0..len {
            let mut id = symbols[i];
            count[id as usize] += 1;
            order[id as usize] = 1;
            for (n, &s) in symbols[i + 1..len.min(i + max_order)].iter().enumerate() {
                let next = count.len() as u32;
                let e = *ext.entry(key(id, s)).or_insert(next);
                if e == next {
                    count.push(0);
                    order.push((n + 2) as u8);
                }
                count[e as usize] += 1;
                id = e;
            }
        }
        HypNgrams {
            max_order,
            ext,
            count,
            order,
            windows,
        }
    }

    /// Number of ids (size of a per-id count vector).
    pub fn n_ids(&self) -> usize {
        self.count.len()
    }

    /// Adds to `counts` (indexed by id) the occurrences in a reference of every
    /// hypothesis n-gram; `symbols[i]` is `None` for a reference symbol the
    /// hypothesis does not contain.
    pub fn count_reference(&self, symbols: &[Option<u32>], counts: &mut [u32]) {
        let len = symbols.len();
        for i in 0..len {
            let Some(mut id) = symbols[i] else { continue };
            counts[id as usize] += 1;
            for s in &symbols[i + 1..len.min(i + self.max_order)] {
                let Some(s) = *s else { break };
                let Some(&e) = self.ext.get(&key(id, s)) else {
                    break;
                };
                counts[e as usize] += 1;
                id = e;
            }
        }
    }

    /// Clipped matches per order: `sum over ids of min(hyp count, ref count)`.
    pub fn matches(&self, ref_counts: &[u32], out: &mut [usize]) {
        out.iter_mut().for_each(|x| *x = 0);
        for ((&c, &r), &o) in self.count.iter().zip(ref_counts).zip(&self.order) {
            if o > 0 && r > 0 {
                out[o as usize - 1] += c.min(r) as usize;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Reference implementation with `Vec<&str>` keys.
    fn naive(t: &[&str], max_order: usize) -> HashMap<Vec<String>, u32> {
        let mut m = HashMap::new();
        for n in 1..=max_order {
            for w in t.windows(n) {
                *m.entry(w.iter().map(|s| s.to_string()).collect())
                    .or_default() += 1;
            }
        }
        m
    }

    #[test]
    fn clipped_matches_equal_naive_counts() {
        let hyp: Vec<&str> = "a b a b c a b a".split(' ').collect();
        let rf: Vec<&str> = "b a b x a b a b c".split(' ').collect();
        let mut vocab = Interner::with_capacity(8);
        let hs: Vec<u32> = hyp.iter().map(|w| vocab.intern(*w)).collect();
        let rs: Vec<Option<u32>> = rf.iter().map(|w| vocab.get(*w)).collect();
        for max_order in 1..=5 {
            let h = HypNgrams::new(&hs, vocab.len(), max_order);
            let mut rc = vec![0u32; h.n_ids()];
            h.count_reference(&rs, &mut rc);
            let mut got = vec![0usize; max_order];
            h.matches(&rc, &mut got);
            let (nh, nr) = (naive(&hyp, max_order), naive(&rf, max_order));
            let mut want = vec![0usize; max_order];
            for (k, &c) in &nh {
                want[k.len() - 1] += c.min(nr.get(k).copied().unwrap_or(0)) as usize;
            }
            assert_eq!(got, want, "max_order {max_order}");
            for n in 1..=max_order {
                assert_eq!(h.windows[n - 1], (hyp.len() + 1).saturating_sub(n));
            }
        }
    }
}
