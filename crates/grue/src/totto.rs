//! ToTTo (RL4LMs pool `totto`, class `ToTTo` in `rl4lms/data_pools/custom_text_generation_pools.py`,
//! linearisation in `rl4lms/data_pools/task_utils/totto/preprocess_utils.py`; `representation:
//! 'subtable'` in `rl4lms_scripts/training/totto/t5_ppo.yml`).
//!
//! Rules implemented:
//! * `get_highlighted_subtable(table, highlighted_cells, with_heuristic_headers=True)`: for each
//!   highlighted `[row, col]` in order, the cell with its row headers (header cells at raw
//!   positions `0..col` of the same row) and column headers (header cells of earlier rows whose
//!   adjusted column span, computed from `column_span`, overlaps the cell's).
//! * `linearize_subtable(subtable, page_title, section_title)`:
//!   `"<page_title> T </page_title> "` and `"<section_title> S </section_title> "` when the title is
//!   non-empty, then `"<table> "`, then per cell `"<cell> V "` + `"<col_header> H </col_header> "`
//!   per column header + `"<row_header> H </row_header> "` per row header + `"</cell> "`, then
//!   `"</table>"`.
//! * prompt = linearisation without titles, immediately followed by the one with both titles;
//!   references = every annotation's `final_sentence`; ids `{split}_{ix}`.
//!
//! Files: ToTTo's official jsonl (one example per line). Deviation (data): only the 18 official
//! sample examples exist here: the training pool is `train_sample.jsonl` + its 2020-04-27 version
//! (3 + 5 examples), the test pool `dev_sample.jsonl` + its 2020-04-27 version (5 + 5; ToTTo's test
//! split has no references, RL4LMs evaluates on dev). A loader and smoke test only.

use crate::error::{Result, format_err};
use crate::files::{self, read_text};
use crate::{Sample, Split, Verify};
use serde::Deserialize;
use std::path::Path;

pub const DATASET: &str = "totto";
pub const CAPTION_NOTE: &str = "ToTTo: only the 18 official sample examples are available (train 3 + 5, dev 5 + 5 as \
    the test pool); a smoke run, not the paper's ToTTo numbers.";

#[derive(Debug, Clone, Deserialize)]
pub struct Cell {
    pub value: String,
    pub is_header: bool,
    pub column_span: usize,
    #[serde(default)]
    pub row_span: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Annotation {
    pub final_sentence: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Example {
    pub table: Vec<Vec<Cell>>,
    pub highlighted_cells: Vec<[usize; 2]>,
    #[serde(default)]
    pub table_page_title: String,
    #[serde(default)]
    pub table_section_title: String,
    #[serde(default)]
    pub sentence_annotations: Vec<Annotation>,
}

/// A highlighted cell with its heuristic headers.
pub struct SubCell<'a> {
    pub cell: &'a Cell,
    pub row_headers: Vec<&'a Cell>,
    pub col_headers: Vec<&'a Cell>,
}

/// `get_highlighted_subtable(..., with_heuristic_headers=True)`; `None` if a highlighted cell is
/// outside the table.
pub fn highlighted_subtable(ex: &Example) -> Option<Vec<SubCell<'_>>> {
    // adjusted column offsets: (start, end) per cell
    let adjusted: Vec<Vec<(usize, usize)>> = ex
        .table
        .iter()
        .map(|row| {
            let mut at = 0;
            row.iter()
                .map(|c| {
                    let span = (at, at + c.column_span);
                    at += c.column_span;
                    span
                })
                .collect()
        })
        .collect();
    ex.highlighted_cells
        .iter()
        .map(|&[r, c]| {
            let cell = ex.table.get(r)?.get(c)?;
            let row_headers = ex.table[r][..c].iter().filter(|h| h.is_header).collect();
            let (start, end) = adjusted[r][c];
            let mut col_headers = Vec::new();
            for (rr, row) in ex.table[..r].iter().enumerate() {
                for (cc, h) in row.iter().enumerate() {
                    let (s, e) = adjusted[rr][cc];
                    if s < end && e > start && h.is_header {
                        col_headers.push(h);
                    }
                }
            }
            Some(SubCell {
                cell,
                row_headers,
                col_headers,
            })
        })
        .collect()
}

/// `linearize_subtable`.
pub fn linearize_subtable(sub: &[SubCell<'_>], page_title: &str, section_title: &str) -> String {
    let mut s = String::new();
    if !page_title.is_empty() {
        s += &format!("<page_title> {page_title} </page_title> ");
    }
    if !section_title.is_empty() {
        s += &format!("<section_title> {section_title} </section_title> ");
    }
    s += "<table> ";
    for item in sub {
        s += &format!("<cell> {} ", item.cell.value);
        for h in &item.col_headers {
            s += &format!("<col_header> {} </col_header> ", h.value);
        }
        for h in &item.row_headers {
            s += &format!("<row_header> {} </row_header> ", h.value);
        }
        s += "</cell> ";
    }
    s += "</table>";
    s
}

/// RL4LMs' `subtable` prompt of an example; `None` if a highlighted cell is outside the table.
pub fn prompt(ex: &Example) -> Option<String> {
    let sub = highlighted_subtable(ex)?;
    Some(
        linearize_subtable(&sub, "", "")
            + &linearize_subtable(&sub, &ex.table_page_title, &ex.table_section_title),
    )
}

pub fn files_of(split: Split) -> [&'static str; 2] {
    match split {
        Split::Train => [
            "totto/train_sample.jsonl",
            "totto/train_sample.2020-04-27.jsonl",
        ],
        Split::Test => [
            "totto/dev_sample.jsonl",
            "totto/dev_sample.2020-04-27.jsonl",
        ],
    }
}

/// Examples of a ToTTo jsonl file.
pub fn parse_jsonl(text: &str, path: &Path) -> Result<Vec<Example>> {
    files::lines(text)
        .into_iter()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str::<Example>(l)
                .map_err(|e| format_err(path, Some(i + 1), format!("not a ToTTo example: {e}")))
        })
        .collect()
}

pub fn load(data_dir: &Path, split: Split, verify: Verify) -> Result<Vec<Sample>> {
    let mut out = Vec::new();
    for rel in files_of(split) {
        let (path, text) = read_text(data_dir, rel, "ToTTo sample", DATASET, verify)?;
        for (i, ex) in parse_jsonl(&text, &path)?.into_iter().enumerate() {
            let prompt = prompt(&ex).ok_or_else(|| {
                format_err(
                    &path,
                    Some(i + 1),
                    "a highlighted cell is outside the table",
                )
            })?;
            out.push(Sample {
                id: format!("{}_{}", split.as_str(), out.len()),
                prompt_or_context: prompt,
                references: ex
                    .sentence_annotations
                    .iter()
                    .map(|a| a.final_sentence.clone())
                    .collect(),
                meta_data: serde_json::Value::Null,
            });
        }
    }
    Ok(out)
}
