//! The IMDB CSV subsets the loaders read (`imdb/imdb_{train,test}_subset.csv`), built from Maas et
//! al.'s archive `aclImdb_v1.tar.gz` by the rule of the shared data folder's `MANIFEST.md`:
//!
//! * for each split (train, test) and polarity (pos, neg), the [`PER_CLASS`] reviews with the
//!   smallest numeric id, read from `aclImdb/{split}/{pos,neg}/{id}_{rating}.txt`;
//! * rows ordered pos (id ascending), then neg (id ascending);
//! * CSV (RFC 4180: comma, double quotes only where a field needs them, LF line ends, UTF-8) with
//!   the header `id,rating,label,review`; label 1 = pos, 0 = neg; rating = the star rating of the
//!   file name; review = the file's text unchanged (`<br />` tags included).
//!
//! The archive is read once, as a stream (it holds 100,000 small files, the unlabelled ones
//! included); only the kept reviews are held in memory. Built files are byte-identical to the
//! shared folder's (the registry's sha256 checks them before they are installed; a test rebuilds
//! the shared files through an archive made from them).

use flate2::read::GzDecoder;
use std::collections::BTreeMap;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// Reviews kept per split and polarity.
pub const PER_CLASS: usize = 2500;

/// The splits in the order of the outputs [`build`] writes.
pub const SPLITS: [&str; 2] = ["train", "test"];

/// One review file of the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Review {
    rating: u8,
    text: String,
}

/// The reviews kept for one split and polarity, by id (at most `per_class`).
type Kept = BTreeMap<u64, Review>;

/// `aclImdb/{split}/{pos|neg}/{id}_{rating}.txt` -> (split index, positive, id, rating); other
/// members (unlabelled reviews, bag-of-words files, URL lists, directories) -> `None`.
fn review_member(path: &str) -> Option<Result<(usize, bool, u64, u8), String>> {
    let path = path.trim_start_matches("./");
    let mut parts = path.split('/');
    let (root, split, polarity, name) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if root != "aclImdb" || parts.next().is_some() {
        return None;
    }
    let split = SPLITS.iter().position(|s| *s == split)?;
    let positive = match polarity {
        "pos" => true,
        "neg" => false,
        _ => return None,
    };
    let stem = name.strip_suffix(".txt")?;
    let parsed = stem.split_once('_').and_then(|(id, rating)| {
        let rating: u8 = rating.parse().ok().filter(|r| (1..=10).contains(r))?;
        Some((id.parse::<u64>().ok()?, rating))
    });
    Some(match parsed {
        Some((id, rating)) => Ok((split, positive, id, rating)),
        None => Err(format!(
            "{path}: a review file's name must be ID_RATING.txt with a rating of 1-10"
        )),
    })
}

/// Read the archive (gzip-compressed tar) and keep, per split and polarity, the `per_class`
/// reviews with the smallest ids. Index: `[split][positive as usize]`.
fn keep_smallest_ids(archive: impl Read, per_class: usize) -> Result<[[Kept; 2]; 2], String> {
    let mut kept: [[Kept; 2]; 2] = Default::default();
    let mut tar = tar::Archive::new(GzDecoder::new(archive));
    let entries = tar
        .entries()
        .map_err(|e| format!("not a tar.gz archive ({e})"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("damaged archive ({e})"))?;
        let path = entry
            .path()
            .map_err(|e| format!("damaged archive ({e})"))?
            .to_string_lossy()
            .into_owned();
        let Some(member) = review_member(&path) else {
            continue;
        };
        let (split, positive, id, rating) = member?;
        let class = &mut kept[split][usize::from(positive)];
        let full = class.len() >= per_class;
        if full && class.last_key_value().is_some_and(|(&last, _)| id > last) {
            continue;
        }
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| format!("{path}: cannot decompress ({e})"))?;
        let text = String::from_utf8(bytes).map_err(|_| format!("{path}: not UTF-8 text"))?;
        if class.insert(id, Review { rating, text }).is_some() {
            return Err(format!("{path}: a second review with id {id}"));
        }
        if class.len() > per_class {
            class.pop_last();
        }
    }
    for (split, by_polarity) in SPLITS.iter().zip(&kept) {
        for (polarity, class) in ["neg", "pos"].iter().zip(by_polarity) {
            if class.len() < per_class {
                return Err(format!(
                    "holds {} reviews in aclImdb/{split}/{polarity}/, at least {per_class} are needed \
                     (is it aclImdb_v1.tar.gz?)",
                    class.len()
                ));
            }
        }
    }
    Ok(kept)
}

/// One CSV field as RFC 4180 writes it: quoted (inner quotes doubled) only where it holds a
/// comma, a quote or a line break.
fn push_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

/// The CSV of one split: header, positive reviews by id, then negative reviews by id.
fn csv(by_polarity: &[Kept; 2]) -> String {
    let mut out = String::from("id,rating,label,review\n");
    for label in [1u8, 0] {
        for (id, review) in &by_polarity[usize::from(label)] {
            out.push_str(&format!("{id},{},{label},", review.rating));
            push_field(&mut out, &review.text);
            out.push('\n');
        }
    }
    out
}

/// Build the train and test CSVs (`outputs`, in [`SPLITS`] order) from the archive at `archive`,
/// keeping `per_class` reviews per split and polarity. Each output is written whole (temporary
/// file and rename); nothing is written when the archive is not usable.
pub fn build_with(archive: &Path, outputs: &[PathBuf], per_class: usize) -> Result<(), String> {
    if outputs.len() != SPLITS.len() {
        return Err(format!(
            "the IMDB subsets are {} files ({}), {} were asked for",
            SPLITS.len(),
            SPLITS.join(", "),
            outputs.len()
        ));
    }
    let file = std::fs::File::open(archive).map_err(|e| format!("cannot open ({e})"))?;
    let kept = keep_smallest_ids(BufReader::new(file), per_class)?;
    for (out, by_polarity) in outputs.iter().zip(&kept) {
        fetch::write_atomic(out, csv(by_polarity).as_bytes()).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// [`build_with`] at the registry's size ([`PER_CLASS`] reviews per split and polarity).
pub fn build(archive: &Path, outputs: &[PathBuf]) -> Result<(), String> {
    build_with(archive, outputs, PER_CLASS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `.tar.gz` of `(path, content)` files, in the given order.
    fn tar_gz<T: AsRef<[u8]>>(files: &[(String, T)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (path, text) in files {
            let mut header = tar::Header::new_gnu();
            let text = text.as_ref();
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, path, text).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    fn review(split: &str, pol: &str, id: u64, rating: u8, text: &str) -> (String, String) {
        (
            format!("aclImdb/{split}/{pol}/{id}_{rating}.txt"),
            text.to_string(),
        )
    }

    fn build_from(files: &[(String, String)], per_class: usize) -> Result<[String; 2], String> {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("aclImdb_v1.tar.gz");
        std::fs::write(&archive, tar_gz(files)).unwrap();
        let outs = [dir.path().join("train.csv"), dir.path().join("test.csv")];
        build_with(&archive, &outs, per_class)?;
        Ok(outs.map(|p| std::fs::read_to_string(p).unwrap()))
    }

    #[test]
    fn the_smallest_ids_are_kept_numerically_positive_first_and_other_members_are_ignored() {
        let files = vec![
            ("aclImdb/README".to_string(), "readme".to_string()),
            review("train", "pos", 10, 8, "ten"),
            review("train", "pos", 9, 7, "nine"),
            review("train", "pos", 100, 9, "hundred"),
            review("train", "neg", 3, 2, "three"),
            review("train", "neg", 1, 4, "one, \"quoted\""),
            review("train", "unsup", 0, 0, "unlabelled"),
            (
                "aclImdb/train/labeledBow.feat".to_string(),
                "0:1".to_string(),
            ),
            (
                "aclImdb/train/urls_pos.txt".to_string(),
                "http://x".to_string(),
            ),
            review("test", "neg", 5, 1, "five"),
            review("test", "pos", 2, 10, "two<br />lines"),
            review("test", "neg", 4, 3, " spaced "),
            review("test", "pos", 7, 9, "seven"),
        ];
        let [train, test] = build_from(&files, 2).unwrap();
        // 9 < 10 < 100 numerically (a string sort would keep "10" and "100").
        assert_eq!(
            train,
            "id,rating,label,review\n9,7,1,nine\n10,8,1,ten\n1,4,0,\"one, \"\"quoted\"\"\"\n3,2,0,three\n"
        );
        assert_eq!(
            test,
            "id,rating,label,review\n2,10,1,two<br />lines\n7,9,1,seven\n4,3,0, spaced \n5,1,0,five\n"
        );
    }

    #[test]
    fn an_archive_with_too_few_reviews_of_a_class_is_refused_and_writes_nothing() {
        let files = vec![
            review("train", "pos", 1, 8, "a"),
            review("train", "neg", 2, 2, "b"),
            review("test", "pos", 3, 9, "c"),
        ];
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("a.tar.gz");
        std::fs::write(&archive, tar_gz(&files)).unwrap();
        let outs = [dir.path().join("train.csv"), dir.path().join("test.csv")];
        let err = build_with(&archive, &outs, 1).unwrap_err();
        assert!(err.contains("aclImdb/test/neg/"), "{err}");
        assert!(outs.iter().all(|p| !p.exists()));
    }

    #[test]
    fn a_review_file_without_a_rating_or_not_in_utf8_and_a_file_that_is_no_archive_are_named() {
        let bad_name = vec![
            review("train", "pos", 1, 8, "a"),
            ("aclImdb/train/neg/7.txt".to_string(), "b".to_string()),
        ];
        let err = build_from(&bad_name, 1).unwrap_err();
        assert!(err.contains("aclImdb/train/neg/7.txt"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let latin1 = [
            ("aclImdb/train/pos/1_8.txt".to_string(), b"caf\xe9".to_vec()),
            ("aclImdb/train/neg/2_1.txt".to_string(), b"b".to_vec()),
        ];
        let archive = dir.path().join("latin1.tar.gz");
        std::fs::write(&archive, tar_gz(&latin1)).unwrap();
        let outs = [dir.path().join("train.csv"), dir.path().join("test.csv")];
        let err = build_with(&archive, &outs, 1).unwrap_err();
        assert!(
            err.contains("aclImdb/train/pos/1_8.txt: not UTF-8"),
            "{err}"
        );

        let archive = dir.path().join("a.tar.gz");
        std::fs::write(&archive, b"not an archive").unwrap();
        let outs = [dir.path().join("train.csv"), dir.path().join("test.csv")];
        let err = build_with(&archive, &outs, 1).unwrap_err();
        assert!(err.contains("archive"), "{err}");
    }

    #[test]
    fn a_duplicate_id_is_an_error() {
        let files = vec![
            review("train", "pos", 1, 8, "a"),
            review("train", "pos", 1, 9, "b"),
        ];
        let err = build_from(&files, 2).unwrap_err();
        assert!(err.contains("second review with id 1"), "{err}");
    }
}
