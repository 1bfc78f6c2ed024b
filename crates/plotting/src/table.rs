//! Tables rendered as Markdown, LaTeX and CSV.

use crate::PlotError;
use std::path::Path;

/// Column alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A table of preformatted cells with a caption.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub caption: String,
    pub headers: Vec<String>,
    pub align: Vec<Align>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// A table whose first column is left-aligned and the rest right-aligned (labels, then numbers).
    pub fn new(caption: impl Into<String>, headers: &[&str]) -> Self {
        let align = (0..headers.len())
            .map(|i| if i == 0 { Align::Left } else { Align::Right })
            .collect();
        Self {
            caption: caption.into(),
            headers: headers.iter().map(|h| h.to_string()).collect(),
            align,
            rows: vec![],
        }
    }

    /// Append a row; panics if its width differs from the header's (a programming error).
    pub fn push(&mut self, row: Vec<String>) {
        assert_eq!(
            row.len(),
            self.headers.len(),
            "row width differs from the header"
        );
        self.rows.push(row);
    }

    pub fn to_markdown(&self) -> String {
        let esc = |s: &str| s.replace('|', "\\|");
        let mut out = String::new();
        out.push_str(&format!(
            "| {} |\n",
            self.headers
                .iter()
                .map(|h| esc(h))
                .collect::<Vec<_>>()
                .join(" | ")
        ));
        let rule: Vec<&str> = self
            .align
            .iter()
            .map(|a| if *a == Align::Left { ":---" } else { "---:" })
            .collect();
        out.push_str(&format!("| {} |\n", rule.join(" | ")));
        for row in &self.rows {
            out.push_str(&format!(
                "| {} |\n",
                row.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | ")
            ));
        }
        out.push_str(&format!("\n{}\n", self.caption));
        out
    }

    pub fn to_latex(&self) -> String {
        let spec: String = self
            .align
            .iter()
            .map(|a| if *a == Align::Left { 'l' } else { 'r' })
            .collect();
        let line = |cells: &[String]| {
            cells
                .iter()
                .map(|c| latex_escape(c))
                .collect::<Vec<_>>()
                .join(" & ")
        };
        let mut out = String::from("\\begin{table}[t]\n\\centering\n");
        out.push_str(&format!("\\caption{{{}}}\n", latex_escape(&self.caption)));
        out.push_str(&format!("\\begin{{tabular}}{{{spec}}}\n\\toprule\n"));
        out.push_str(&format!("{} \\\\\n\\midrule\n", line(&self.headers)));
        for row in &self.rows {
            out.push_str(&format!("{} \\\\\n", line(row)));
        }
        out.push_str("\\bottomrule\n\\end{tabular}\n\\end{table}\n");
        out
    }

    /// RFC 4180 CSV (the caption is not part of the data).
    pub fn to_csv(&self) -> String {
        let quote = |s: &str| {
            if s.contains([',', '"', '\n']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        };
        let mut out = String::new();
        for row in std::iter::once(&self.headers).chain(&self.rows) {
            out.push_str(&row.iter().map(|c| quote(c)).collect::<Vec<_>>().join(","));
            out.push('\n');
        }
        out
    }

    /// Write `STEM.md`, `STEM.tex` and `STEM.csv`.
    pub fn save(&self, stem: &Path) -> Result<(), PlotError> {
        for (ext, text) in [
            ("md", self.to_markdown()),
            ("tex", self.to_latex()),
            ("csv", self.to_csv()),
        ] {
            let path = stem.with_extension(ext);
            atomicwrite::write(&path, text.as_bytes())
                .map_err(|source| PlotError::Io { path, source })?;
        }
        Ok(())
    }
}

fn latex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '~' => out.push_str("\\textasciitilde{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            '\\' => out.push_str("\\textbackslash{}"),
            '±' => out.push_str("$\\pm$"),
            '≤' => out.push_str("$\\le$"),
            '≥' => out.push_str("$\\ge$"),
            _ => out.push(c),
        }
    }
    out
}

/// Format with `digits` significant digits, switching to scientific notation for very small or
/// large magnitudes; `NaN` prints as `n/a`.
pub fn format_sig(x: f64, digits: usize) -> String {
    if x.is_nan() {
        return "n/a".into();
    }
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let exp = x.abs().log10().floor() as i32;
    if !(-3..6).contains(&exp) {
        format!("{:.*e}", digits.saturating_sub(1), x)
    } else {
        let decimals = (digits as i32 - 1 - exp).max(0) as usize;
        format!("{x:.decimals$}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        let mut t = Table::new("Max ratio ≤ 1 & slopes", &["setting", "max_ratio"]);
        t.push(vec!["soft_max".into(), "0.25".into()]);
        t.push(vec!["a,\"b\"".into(), "1e-6".into()]);
        t
    }

    #[test]
    fn markdown_has_header_rule_rows_and_caption() {
        let md = table().to_markdown();
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(lines[0], "| setting | max_ratio |");
        assert_eq!(lines[1], "| :--- | ---: |");
        assert_eq!(lines[2], "| soft_max | 0.25 |");
        assert!(md.trim_end().ends_with("Max ratio ≤ 1 & slopes"));
    }

    #[test]
    fn latex_escapes_special_characters() {
        let tex = table().to_latex();
        assert!(tex.contains("soft\\_max & 0.25 \\\\"));
        assert!(tex.contains("\\caption{Max ratio $\\le$ 1 \\& slopes}"));
        assert!(tex.contains("\\begin{tabular}{lr}"));
    }

    #[test]
    fn csv_quotes_commas_and_quotes() {
        assert_eq!(
            table().to_csv(),
            "setting,max_ratio\nsoft_max,0.25\n\"a,\"\"b\"\"\",1e-6\n"
        );
    }

    #[test]
    fn significant_digit_formatting() {
        assert_eq!(format_sig(0.123456, 3), "0.123");
        assert_eq!(format_sig(-1.98765, 3), "-1.99");
        assert_eq!(format_sig(1234.5, 3), "1234");
        assert_eq!(format_sig(2.5e-7, 2), "2.5e-7");
        assert_eq!(format_sig(f64::NAN, 2), "n/a");
    }
}
