//! IWSLT 2017 en-de (RL4LMs pool `iwslt2017en_de`, class `IWSLT2017EnDe` in
//! `rl4lms/data_pools/custom_text_generation_pools.py`).
//!
//! Rules implemented:
//! * prompt = `prompt_prefix + translation["en"] + prompt_suffix` with `prompt_prefix:
//!   "translate English to German: "` and no suffix (`rl4lms_scripts/training/iwslt2017/t5_ppo.yml`);
//!   references = `[translation["de"]]`.
//! * Segments are cut from the WIT3 XML as the Hugging Face `iwslt2017` script does: a line that,
//!   stripped, starts with `<seg` gives the text between its first `>` and the next `<`, stripped;
//!   other tag lines are skipped; no XML entity is decoded (the official test files hold none).
//!   English and German sides come from the en-de and de-en archives and are paired by
//!   (talk `docid`, segment `id`), which must agree line for line.
//!
//! Deviation (data): the training archive is not obtainable, so the official test sets stand in:
//! **tst2016 (1,133 segments) is the training pool and tst2017 (1,138 segments) the test pool**.

use crate::error::{Result, format_err};
use crate::files::{self, read_text};
use crate::{Sample, Split, Verify};
use std::path::Path;

pub const DATASET: &str = "iwslt2017-en-de";
pub const PROMPT_PREFIX: &str = "translate English to German: ";
pub const CAPTION_NOTE: &str = "IWSLT 2017 en-de: the official training data is not available here, so the official \
    test set tst2016 (1,133 segments) is the training pool and tst2017 (1,138 segments) the held-out test pool.";

fn paths(split: Split) -> (&'static str, &'static str) {
    match split {
        Split::Train => (
            "iwslt2017-en-de/en-de/IWSLT17.TED.tst2016.en-de.en.xml",
            "iwslt2017-en-de/de-en/IWSLT17.TED.tst2016.de-en.de.xml",
        ),
        Split::Test => (
            "iwslt2017-en-de/en-de/IWSLT17.TED.tst2017.en-de.en.xml",
            "iwslt2017-en-de/de-en/IWSLT17.TED.tst2017.de-en.de.xml",
        ),
    }
}

/// A segment of a WIT3 XML file: `(docid, seg id, text, 1-based line)`.
pub type Segment = (String, String, String, usize);

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!("{name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')? + start;
    Some(tag[start..end].to_string())
}

/// Segments of a WIT3 `<mteval>` XML file, in file order.
pub fn parse_wit3(text: &str, path: &Path) -> Result<Vec<Segment>> {
    let mut doc: Option<String> = None;
    let mut out = Vec::new();
    for (i, raw) in files::lines(text).into_iter().enumerate() {
        let line = raw.trim();
        if line.starts_with("<doc") {
            doc = Some(
                attr(line, "docid")
                    .ok_or_else(|| format_err(path, Some(i + 1), "<doc> without a docid"))?,
            );
        } else if line.starts_with("<seg") {
            let bad = |m: &str| format_err(path, Some(i + 1), format!("malformed <seg>: {m}"));
            let id = attr(line, "id").ok_or_else(|| bad("no id attribute"))?;
            let after = line.split_once('>').ok_or_else(|| bad("no '>'"))?.1;
            let text = after.split('<').next().unwrap_or("").trim().to_string();
            let doc = doc.clone().ok_or_else(|| bad("outside a <doc>"))?;
            out.push((doc, id, text, i + 1));
        }
    }
    Ok(out)
}

pub fn load(data_dir: &Path, split: Split, verify: Verify) -> Result<Vec<Sample>> {
    let (en_rel, de_rel) = paths(split);
    let (en_path, en) = read_text(data_dir, en_rel, "IWSLT 2017 English side", DATASET, verify)?;
    let (de_path, de) = read_text(data_dir, de_rel, "IWSLT 2017 German side", DATASET, verify)?;
    let en = parse_wit3(&en, &en_path)?;
    let de = parse_wit3(&de, &de_path)?;
    if en.len() != de.len() {
        return Err(format_err(
            &de_path,
            None,
            format!(
                "{} segments, but {} has {}",
                de.len(),
                en_path.display(),
                en.len()
            ),
        ));
    }
    en.into_iter()
        .zip(de)
        .enumerate()
        .map(|(ix, (e, d))| {
            if (&e.0, &e.1) != (&d.0, &d.1) {
                return Err(format_err(
                    &de_path,
                    Some(d.3),
                    format!(
                        "segment (docid {}, id {}) does not pair with {} line {} (docid {}, id {})",
                        d.0,
                        d.1,
                        en_path.display(),
                        e.3,
                        e.0,
                        e.1
                    ),
                ));
            }
            Ok(Sample {
                id: format!("{}_{ix}", split.as_str()),
                prompt_or_context: format!("{PROMPT_PREFIX}{}", e.2),
                references: vec![d.2],
                meta_data: serde_json::Value::Null,
            })
        })
        .collect()
}
