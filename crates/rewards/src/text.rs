//! Small helpers that reproduce Python's string semantics (`str.isspace`,
//! `str.split()`, `str.strip()`), which the reference implementations rely on.

/// Python's `str.isspace` for one character (Unicode White_Space plus the
/// ASCII separators `\x1c`..`\x1f`, which Python also treats as whitespace).
#[inline]
pub fn py_isspace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.split()` without arguments.
pub fn py_split(s: &str) -> impl Iterator<Item = &str> {
    s.split(py_isspace).filter(|t| !t.is_empty())
}

/// Python's `str.strip()` without arguments.
pub fn py_strip(s: &str) -> &str {
    s.trim_matches(py_isspace)
}

/// Python's `str.rstrip()` without arguments.
pub fn py_rstrip(s: &str) -> &str {
    s.trim_end_matches(py_isspace)
}

/// Python's `' '.join(s.split())`.
pub fn py_normalize_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, t) in py_split(s).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(t);
    }
    out
}

/// Python's `str.lower()` (full Unicode lowercase mapping, final sigma included).
#[inline]
pub fn py_lower(s: &str) -> String {
    if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        s.to_lowercase()
    }
}

/// Python's `\w` for `str` patterns: alphanumeric (`str.isalnum`) or underscore.
#[inline]
pub fn py_is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}
