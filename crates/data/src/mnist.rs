//! MNIST in IDX format, gzip-compressed (`mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`),
//! normalised as ml-rlgrad does (`ToTensor` then `Normalize(0.1307, 0.3081)`).

use crate::{DataError, ImageSet, Result, Verify, normalise, read_checked};
use flate2::read::GzDecoder;
use std::io::Read;
use std::path::Path;

pub const MEAN: [f32; 1] = [0.1307];
pub const STD: [f32; 1] = [0.3081];

/// Which half of MNIST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train,
    Test,
}

impl Split {
    fn prefix(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "t10k",
        }
    }
}

/// File names of a split, relative to the data directory: (images, labels).
pub fn files(split: Split) -> (String, String) {
    let p = split.prefix();
    (
        format!("mnist/{p}-images-idx3-ubyte.gz"),
        format!("mnist/{p}-labels-idx1-ubyte.gz"),
    )
}

/// Load one split of MNIST from `data_dir`, images `[n, 1, 28, 28]` normalised.
pub fn load(data_dir: &Path, split: Split, verify: Verify) -> Result<ImageSet> {
    let (img_rel, lbl_rel) = files(split);
    let what = format!("MNIST {} split", split.prefix());
    let images = gunzip(
        &data_dir.join(&img_rel),
        &read_checked(data_dir, &img_rel, &what, verify)?,
    )?;
    let labels = gunzip(
        &data_dir.join(&lbl_rel),
        &read_checked(data_dir, &lbl_rel, &what, verify)?,
    )?;
    let (dims, pixels) = parse_idx(&data_dir.join(&img_rel), &images, 2051, 3)?;
    let (ldims, label_bytes) = parse_idx(&data_dir.join(&lbl_rel), &labels, 2049, 1)?;
    if dims[0] != ldims[0] {
        return Err(DataError::Format {
            path: data_dir.join(&lbl_rel),
            message: format!("{} labels for {} images", ldims[0], dims[0]),
        });
    }
    if let Some(bad) = label_bytes.iter().find(|&&l| l > 9) {
        return Err(DataError::Format {
            path: data_dir.join(&lbl_rel),
            message: format!("label {bad} outside 0..=9"),
        });
    }
    let (h, w) = (dims[1], dims[2]);
    Ok(ImageSet {
        images: normalise(pixels, h * w, &MEAN, &STD),
        labels: label_bytes.iter().map(|&l| l as usize).collect(),
        shape: [1, h, w],
        num_classes: 10,
    })
}

fn gunzip(path: &Path, bytes: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| DataError::Format {
            path: path.to_path_buf(),
            message: format!("not a valid gzip file ({e})"),
        })?;
    Ok(out)
}

/// Parse an IDX file of unsigned bytes: big-endian magic (`0x0000 08 ndim`), `ndim` big-endian
/// u32 sizes, then the data. Returns the sizes and the data.
pub fn parse_idx<'a>(
    path: &Path,
    bytes: &'a [u8],
    magic: u32,
    ndim: usize,
) -> Result<(Vec<usize>, &'a [u8])> {
    let bad = |message: String| DataError::Format {
        path: path.to_path_buf(),
        message,
    };
    let header = 4 + 4 * ndim;
    if bytes.len() < header {
        return Err(bad(format!(
            "{} bytes is too short for an IDX header",
            bytes.len()
        )));
    }
    let word = |i: usize| u32::from_be_bytes(bytes[4 * i..4 * i + 4].try_into().unwrap());
    if word(0) != magic {
        return Err(bad(format!(
            "IDX magic number {} (expected {magic})",
            word(0)
        )));
    }
    let dims: Vec<usize> = (1..=ndim).map(|i| word(i) as usize).collect();
    let n: usize = dims.iter().product();
    let data = &bytes[header..];
    if data.len() != n {
        return Err(bad(format!(
            "IDX header promises {n} values ({dims:?}) but the file holds {}",
            data.len()
        )));
    }
    Ok((dims, data))
}
