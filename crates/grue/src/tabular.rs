//! A small RFC 4180 CSV reader (comma, `"` quoting with `""` escapes, quoted fields may hold
//! newlines), as pandas writes `to_csv` and the IMDB subsets are written. Each record carries the
//! 1-based line it starts on, for error messages.

use crate::error::{Result, format_err};
use std::path::Path;

/// `(first line, fields)` of every record, the header included.
pub(crate) fn parse_csv(text: &str, path: &Path) -> Result<Vec<(usize, Vec<String>)>> {
    let mut out = Vec::new();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut chars = text.chars().peekable();
    let mut line = 1usize;
    while chars.peek().is_some() {
        let start = line;
        let mut fields = Vec::new();
        let mut field = String::new();
        loop {
            // at the start of a field
            if chars.peek() == Some(&'"') {
                chars.next();
                let quote_line = line;
                loop {
                    match chars.next() {
                        None => {
                            return Err(format_err(
                                path,
                                Some(quote_line),
                                "malformed CSV: a quoted field is never closed",
                            ));
                        }
                        Some('"') => {
                            if chars.peek() == Some(&'"') {
                                chars.next();
                                field.push('"');
                            } else {
                                break;
                            }
                        }
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            field.push(c);
                        }
                    }
                }
                match chars.peek() {
                    None | Some(',') | Some('\n') | Some('\r') => {}
                    Some(c) => {
                        return Err(format_err(
                            path,
                            Some(line),
                            format!("malformed CSV: '{c}' after a closing quote"),
                        ));
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' || c == '\n' || c == '\r' {
                        break;
                    }
                    field.push(c);
                    chars.next();
                }
            }
            fields.push(std::mem::take(&mut field));
            match chars.next() {
                Some(',') => continue,
                Some('\r') => {
                    if chars.peek() == Some(&'\n') {
                        chars.next();
                    }
                    line += 1;
                    break;
                }
                Some('\n') => {
                    line += 1;
                    break;
                }
                None => break,
                Some(_) => unreachable!(),
            }
        }
        out.push((start, fields));
    }
    Ok(out)
}

/// Records after a header that must be exactly `header`; each record must have as many fields.
pub(crate) fn parse_with_header(
    text: &str,
    path: &Path,
    header: &[&str],
) -> Result<Vec<(usize, Vec<String>)>> {
    let mut rows = parse_csv(text, path)?.into_iter();
    let Some((_, head)) = rows.next() else {
        return Err(format_err(path, None, "empty file (expected a CSV header)"));
    };
    if head != header {
        return Err(format_err(
            path,
            Some(1),
            format!("CSV header is {head:?}, expected {header:?}"),
        ));
    }
    rows.map(|(line, fields)| {
        if fields.len() == header.len() {
            Ok((line, fields))
        } else {
            Err(format_err(
                path,
                Some(line),
                format!(
                    "malformed CSV row: {} fields, expected {} ({})",
                    fields.len(),
                    header.len(),
                    header.join(",")
                ),
            ))
        }
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_newlines_escapes_and_line_numbers() {
        let t = "a,b\n\"x\ny\",\"say \"\"hi\"\"\"\nplain,2\n";
        let rows = parse_csv(t, Path::new("f.csv")).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(
            rows[1],
            (2, vec!["x\ny".to_string(), "say \"hi\"".to_string()])
        );
        assert_eq!(rows[2], (4, vec!["plain".to_string(), "2".to_string()]));
    }

    #[test]
    fn unclosed_quote_names_its_line() {
        let e = parse_csv("a,b\n1,\"open\n", Path::new("f.csv"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("f.csv, line 2"), "{e}");
    }
}
