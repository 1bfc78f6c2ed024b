//! The mteval-style tokenizers of sacreBLEU, hand-written over bytes:
//! `13a` (`Tokenizer13a`), `intl` (`TokenizerV14International`, ASCII input;
//! other input goes through the regex version in `bleu`) and the Western
//! normalisation of the Tercom tokenizer (`tokenizer_ter.py`).
//!
//! Python applies a list of `re.sub` passes. Every pattern here is one
//! character class, or two adjacent single-character classes `(A)(B)`, so each
//! pass is reproduced by one left-to-right scan with Python's leftmost,
//! non-overlapping match semantics: at position `i`, if `s[i]` is in `A` and
//! `s[i+1]` in `B`, write the replacement and continue at `i + 2`, else copy
//! `s[i]`. The classes are ASCII (or "not an ASCII digit"), so scanning UTF-8
//! bytes is exact: a multi-byte character never matches an ASCII class, and
//! "not a digit" is true for each of its bytes, so a match can only involve
//! its last byte, which is where the regex engine's match would start too.
//! Spaces are only inserted between characters, so the output stays UTF-8.
//!
//! The outputs are not whitespace-normalised: split them with
//! [`crate::text::py_split`] (what `' '.join(line.split())` then `.split()` gives).

/// Two byte buffers reused across passes (and across calls, if kept).
#[derive(Default)]
pub struct Scratch {
    a: Vec<u8>,
    b: Vec<u8>,
}

const PUNCT_13A: u8 = 1;
const SPACE: u8 = 2;
const SPECIAL: u8 = 4;

/// Classes of ASCII bytes for [`tokens_13a`]: the 13a punctuation class, Python
/// whitespace (`str.split()`), and the characters of the later passes (`.`, `,`, `-`).
static BYTE_CLASS: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut c = 0;
    while c < 128 {
        let b = c as u8;
        if matches!(b, 0x7B..=0x7E | 0x5B..=0x60 | 0x20..=0x26 | 0x28..=0x2B | 0x3A..=0x40 | 0x2F) {
            t[c] |= PUNCT_13A;
        }
        if matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | 0x1C..=0x1F) {
            t[c] |= SPACE;
        }
        if matches!(b, b'.' | b',' | b'-') {
            t[c] |= SPECIAL;
        }
        c += 1;
    }
    t
};

/// `([\{-\~\[-\` -\&\(-\+\:-\@\/])`: ASCII punctuation and symbols except `'`, `,`, `-`, `.`
/// (plus the space itself).
#[inline]
fn is_13a_punct(b: u8) -> bool {
    matches!(b, 0x7B..=0x7E | 0x5B..=0x60 | 0x20..=0x26 | 0x28..=0x2B | 0x3A..=0x40 | 0x2F)
}

#[inline]
fn not_digit(b: u8) -> bool {
    !b.is_ascii_digit()
}

#[inline]
fn is_dot_comma(b: u8) -> bool {
    b == b'.' || b == b','
}

/// `re.sub(r"([C])", r" \1 ", s)`.
fn pad_class(src: &[u8], dst: &mut Vec<u8>, class: impl Fn(u8) -> bool) {
    dst.clear();
    for &c in src {
        if class(c) {
            dst.extend_from_slice(&[b' ', c, b' ']);
        } else {
            dst.push(c);
        }
    }
}

/// `re.sub(r"(A)(B)", r"\1 \2 ", s)`.
fn split_pair_after(src: &[u8], dst: &mut Vec<u8>, a: impl Fn(u8) -> bool, b: impl Fn(u8) -> bool) {
    dst.clear();
    let n = src.len();
    let mut i = 0;
    while i < n {
        if i + 1 < n && a(src[i]) && b(src[i + 1]) {
            dst.extend_from_slice(&[src[i], b' ', src[i + 1], b' ']);
            i += 2;
        } else {
            dst.push(src[i]);
            i += 1;
        }
    }
}

/// `re.sub(r"(A)(B)", r" \1 \2", s)`.
fn split_pair_before(
    src: &[u8],
    dst: &mut Vec<u8>,
    a: impl Fn(u8) -> bool,
    b: impl Fn(u8) -> bool,
) {
    dst.clear();
    let n = src.len();
    let mut i = 0;
    while i < n {
        if i + 1 < n && a(src[i]) && b(src[i + 1]) {
            dst.extend_from_slice(&[b' ', src[i], b' ', src[i + 1]]);
            i += 2;
        } else {
            dst.push(src[i]);
            i += 1;
        }
    }
}

/// `re.sub(r"'s ", r" 's ", s)` (Tercom possessives).
fn split_possessive(src: &[u8], dst: &mut Vec<u8>) {
    dst.clear();
    let n = src.len();
    let mut i = 0;
    while i < n {
        if i + 2 < n && src[i] == b'\'' && src[i + 1] == b's' && src[i + 2] == b' ' {
            dst.extend_from_slice(b" 's ");
            i += 3;
        } else {
            dst.push(src[i]);
            i += 1;
        }
    }
}

fn as_str(b: &[u8]) -> &str {
    // Only ASCII spaces are inserted between characters of valid UTF-8 input.
    std::str::from_utf8(b).expect("mteval passes keep UTF-8 valid")
}

/// The four passes shared by `13a` (`TokenizerRegexp`) and the Tercom Western
/// normalisation, on `s.a` (which must already be padded with spaces); the
/// result ends up in `s.a`. `possessive` adds Tercom's `'s ` rule after the first pass.
fn western_passes(s: &mut Scratch, possessive: bool) {
    pad_class(&s.a, &mut s.b, is_13a_punct);
    std::mem::swap(&mut s.a, &mut s.b);
    if possessive && s.a.windows(3).any(|w| w == b"'s ") {
        split_possessive(&s.a, &mut s.b);
        std::mem::swap(&mut s.a, &mut s.b);
    }
    if s.a.iter().any(|&c| is_dot_comma(c)) {
        split_pair_after(&s.a, &mut s.b, not_digit, is_dot_comma);
        std::mem::swap(&mut s.a, &mut s.b);
        split_pair_before(&s.a, &mut s.b, is_dot_comma, not_digit);
        std::mem::swap(&mut s.a, &mut s.b);
    }
    if s.a.contains(&b'-') {
        split_pair_after(&s.a, &mut s.b, |c| c.is_ascii_digit(), |c| c == b'-');
        std::mem::swap(&mut s.a, &mut s.b);
    }
}

/// `Tokenizer13a()(line).split()`: appends the tokens to `out`, each followed
/// by one space, and their byte ranges in `out` to `spans`.
///
/// One scan instead of four passes. After the first pass every character of
/// the punctuation class stands alone, and the other three patterns need a
/// `.`, `,` or `-`, never span whitespace and see the characters around a word
/// only as "not a digit, not `.`/`,`" (a space, or whitespace of any kind,
/// which Python's `split()` removes anyway). So a word (a maximal run of other
/// characters) without `.`, `,` or `-` is a token as it is, and a word with one
/// of them gets the three remaining passes on `" word "` alone.
pub fn tokens_13a(line: &str, s: &mut Scratch, out: &mut String, spans: &mut Vec<(usize, usize)>) {
    let mut pre = std::borrow::Cow::Borrowed(line);
    if pre.contains('<') {
        pre = pre.replace("<skipped>", "").into();
    }
    if pre.contains('\n') {
        pre = pre.replace("-\n", "").replace('\n', " ").into();
    }
    if pre.contains('&') {
        pre = pre
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .into();
    }
    let b = pre.as_bytes();
    let n = b.len();
    let mut i = 0;
    let mut word_start = 0;
    // '.', ',' and '-' in the current word: how many, and where the last one is
    let (mut n_special, mut last_special) = (0usize, 0usize);
    while i < n {
        let c = b[i];
        let (sep, len) = if c < 0x80 {
            let class = BYTE_CLASS[c as usize];
            if class & SPECIAL != 0 {
                n_special += 1;
                last_special = i;
            }
            (class & (PUNCT_13A | SPACE) != 0, 1)
        } else {
            let ch = pre[i..].chars().next().expect("char boundary");
            (crate::text::py_isspace(ch), ch.len_utf8())
        };
        if sep {
            if word_start < i {
                emit_word(
                    &pre[word_start..i],
                    n_special,
                    last_special.wrapping_sub(word_start),
                    s,
                    out,
                    spans,
                );
            }
            if c < 0x80 && c != b' ' && BYTE_CLASS[c as usize] & PUNCT_13A != 0 {
                push_token(&pre[i..i + 1], out, spans);
            }
            word_start = i + len;
            n_special = 0;
        }
        i += len;
    }
    if word_start < n {
        emit_word(
            &pre[word_start..],
            n_special,
            last_special.wrapping_sub(word_start),
            s,
            out,
            spans,
        );
    }
}

#[inline]
fn push_token(t: &str, out: &mut String, spans: &mut Vec<(usize, usize)>) {
    let start = out.len();
    out.push_str(t);
    spans.push((start, out.len()));
    out.push(' ');
}

/// The tokens of one word (`n_special` characters `.`, `,`, `-`, the last at `last_special`).
fn emit_word(
    w: &str,
    n_special: usize,
    last_special: usize,
    s: &mut Scratch,
    out: &mut String,
    spans: &mut Vec<(usize, usize)>,
) {
    let wb = w.as_bytes();
    if n_special == 0 {
        push_token(w, out, spans);
        return;
    }
    // "word." / "word," (also "5."): the three passes only cut off the final '.' or ','
    if n_special == 1
        && wb.len() >= 2
        && last_special == wb.len() - 1
        && is_dot_comma(wb[last_special])
    {
        push_token(&w[..last_special], out, spans);
        push_token(&w[last_special..], out, spans);
        return;
    }
    s.a.clear();
    s.a.push(b' ');
    s.a.extend_from_slice(w.as_bytes());
    s.a.push(b' ');
    if s.a.iter().any(|&c| is_dot_comma(c)) {
        split_pair_after(&s.a, &mut s.b, not_digit, is_dot_comma);
        std::mem::swap(&mut s.a, &mut s.b);
        split_pair_before(&s.a, &mut s.b, is_dot_comma, not_digit);
        std::mem::swap(&mut s.a, &mut s.b);
    }
    if s.a.contains(&b'-') {
        split_pair_after(&s.a, &mut s.b, |c| c.is_ascii_digit(), |c| c == b'-');
        std::mem::swap(&mut s.a, &mut s.b);
    }
    for t in as_str(&s.a).split(' ').filter(|t| !t.is_empty()) {
        push_token(t, out, spans);
    }
}

/// The Tercom tokenizer's `_normalize_general_and_western(sent)`, before
/// whitespace normalisation. (Its `'s$` rule never matches: the sentence is
/// padded with a space first.)
pub fn ter_western<'s>(sent: &str, s: &'s mut Scratch) -> &'s str {
    let mut pre = std::borrow::Cow::Borrowed(sent);
    if pre.contains('\n') {
        pre = pre.replace("\n-", "").replace('\n', " ").into();
    }
    // sacreBLEU's Tercom tokenizer always runs these four substitutions
    if pre.contains('&') {
        pre = pre
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .into();
    }
    s.a.clear();
    s.a.push(b' ');
    s.a.extend_from_slice(pre.as_bytes());
    s.a.push(b' ');
    western_passes(s, true);
    as_str(&s.a)
}

/// `\p{P}` restricted to ASCII.
#[inline]
fn is_ascii_p(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'"'
            | b'#'
            | b'%'
            | b'&'
            | b'\''
            | b'('
            | b')'
            | b'*'
            | b','
            | b'-'
            | b'.'
            | b'/'
            | b':'
            | b';'
            | b'?'
            | b'@'
            | b'['
            | b'\\'
            | b']'
            | b'_'
            | b'{'
            | b'}'
    )
}

/// `\p{S}` restricted to ASCII.
#[inline]
fn is_ascii_s(b: u8) -> bool {
    matches!(
        b,
        b'$' | b'+' | b'<' | b'=' | b'>' | b'^' | b'`' | b'|' | b'~'
    )
}

/// `TokenizerV14International()(line)` for ASCII `line`, before whitespace
/// normalisation; `None` for non-ASCII input.
pub fn tokenize_intl_ascii<'s>(line: &str, s: &'s mut Scratch) -> Option<&'s str> {
    if !line.is_ascii() {
        return None;
    }
    s.a.clear();
    s.a.extend_from_slice(line.as_bytes());
    // (\P{N})(\p{P}) -> "\1 \2 ";  (\p{P})(\P{N}) -> " \1 \2";  (\p{S}) -> " \1 "
    split_pair_after(&s.a, &mut s.b, not_digit, is_ascii_p);
    std::mem::swap(&mut s.a, &mut s.b);
    split_pair_before(&s.a, &mut s.b, is_ascii_p, not_digit);
    std::mem::swap(&mut s.a, &mut s.b);
    pad_class(&s.a, &mut s.b, is_ascii_s);
    std::mem::swap(&mut s.a, &mut s.b);
    Some(as_str(&s.a))
}
