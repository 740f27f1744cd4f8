//! MNIST in its original IDX format, gzipped or not.
//!
//! A directory holds `X-images-idx3-ubyte` and `X-labels-idx1-ubyte` (each optionally with a `.gz`
//! suffix; a plain file is preferred when both exist, and gzip is recognised by its magic bytes)
//! for X in `train` and `t10k`:
//!
//! * with both pairs, `train` is the train source and `t10k` the test set;
//! * with only one pair (for example just the 10,000 `t10k` images), that pair is the whole source
//!   and [`load_splits`](super::load_splits) holds `test_size` of its images out as the test set.
//!
//! The image file starts with magic 0x00000803 and the big-endian counts N, rows, cols; the label
//! file with magic 0x00000801 and N. Lengths must match the headers exactly, the two counts must
//! agree, labels must be 0-9. Images keep their own size (28x28 for MNIST, no padding to 32), one
//! channel, pixels divided by 255.
use std::io::Read;
use std::path::{Path, PathBuf};

use super::io::{read_file, require_dir};
use super::{Dataset, Source};
use crate::error::{Error, Result};

/// Magic number of an IDX file of unsigned-byte images (3 dimensions).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned-byte labels (1 dimension).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
const EXPECTED: &str = "t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz] \
                        (and optionally train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz])";

/// Reads the MNIST files of `dir`; see the module documentation for which pair becomes what.
pub fn load(dir: &Path) -> Result<Source> {
    require_dir(dir, "mnist", EXPECTED)?;
    let train = load_pair(dir, "train")?;
    let t10k = load_pair(dir, "t10k")?;
    match (train, t10k) {
        (Some(train), test) => Ok(Source { train, test }),
        (None, Some(all)) => Ok(Source { train: all, test: None }),
        (None, None) => Err(Error::Data(format!("mnist: no IDX files in {}; expected {EXPECTED}", dir.display()))),
    }
}

/// Finds `name` or `name.gz` in `dir`.
fn find(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join(name), dir.join(format!("{name}.gz"))].into_iter().find(|p| p.is_file())
}

/// Reads the `prefix` image/label pair, `None` if neither file exists.
fn load_pair(dir: &Path, prefix: &str) -> Result<Option<Dataset>> {
    let img_name = format!("{prefix}-images-idx3-ubyte");
    let lbl_name = format!("{prefix}-labels-idx1-ubyte");
    match (find(dir, &img_name), find(dir, &lbl_name)) {
        (None, None) => Ok(None),
        (Some(_), None) => {
            Err(Error::Data(format!("mnist: {} has {img_name}[.gz] but not its labels {lbl_name}[.gz]", dir.display())))
        }
        (None, Some(_)) => {
            Err(Error::Data(format!("mnist: {} has {lbl_name}[.gz] but not its images {img_name}[.gz]", dir.display())))
        }
        (Some(ip), Some(lp)) => read_pair(&ip, &lp).map(Some),
    }
}

/// Reads an image file and its label file into one set.
pub fn read_pair(images_path: &Path, labels_path: &Path) -> Result<Dataset> {
    let (n, rows, cols, pixels) = read_images(images_path)?;
    let labels = read_labels(labels_path)?;
    if labels.len() != n {
        return Err(Error::format(
            labels_path,
            format!("holds {} labels but {} holds {n} images", labels.len(), images_path.display()),
        ));
    }
    Ok(Dataset {
        images: pixels.iter().map(|&b| f32::from(b) / 255.0).collect(),
        labels,
        channels: 1,
        height: rows,
        width: cols,
        classes: 10,
    })
}

/// Reads a file, gunzipping it if it starts with the gzip magic bytes.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = read_file(path)?;
    if raw.len() < 2 || raw[0] != 0x1f || raw[1] != 0x8b {
        return Ok(raw);
    }
    let mut out = Vec::with_capacity(raw.len() * 4);
    flate2::read::GzDecoder::new(&raw[..]).read_to_end(&mut out).map_err(|e| {
        Error::format(
            path,
            format!(
                "gzip stream is corrupt or truncated ({e}) after {} decompressed bytes \
                 from {} compressed bytes",
                out.len(),
                raw.len()
            ),
        )
    })?;
    Ok(out)
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Checks an IDX header and the total length; returns the dimensions.
fn check_header(path: &Path, b: &[u8], magic: u32, what: &str) -> Result<Vec<usize>> {
    let dims = (magic & 0xff) as usize;
    let header = 4 + 4 * dims;
    if b.len() < header {
        return Err(Error::format(
            path,
            format!("truncated: {} bytes, shorter than the {header}-byte IDX {what} header", b.len()),
        ));
    }
    let found = be_u32(b, 0);
    if found != magic {
        return Err(Error::format(path, format!("bad magic 0x{found:08x}, expected 0x{magic:08x} (IDX {what})")));
    }
    let shape: Vec<usize> = (0..dims).map(|d| be_u32(b, 4 + 4 * d) as usize).collect();
    let expected = shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .and_then(|body| body.checked_add(header as u64))
        .unwrap_or(u64::MAX);
    if b.len() as u64 != expected {
        let kind = if (b.len() as u64) < expected { "truncated" } else { "too long" };
        return Err(Error::format(
            path,
            format!(
                "{kind}: expected {expected} bytes ({header}-byte header + dimensions \
                 {shape:?}), found {} bytes",
                b.len()
            ),
        ));
    }
    Ok(shape)
}

/// Reads an IDX3 image file: (count, rows, cols, pixels).
fn read_images(path: &Path) -> Result<(usize, usize, usize, Vec<u8>)> {
    let b = read_maybe_gz(path)?;
    let shape = check_header(path, &b, IMAGES_MAGIC, "images")?;
    let (n, rows, cols) = (shape[0], shape[1], shape[2]);
    if rows == 0 || cols == 0 {
        return Err(Error::format(path, format!("image size {rows}x{cols}, expected both above 0")));
    }
    Ok((n, rows, cols, b[16..].to_vec()))
}

/// Reads an IDX1 label file; labels must be 0-9.
fn read_labels(path: &Path) -> Result<Vec<u32>> {
    let b = read_maybe_gz(path)?;
    check_header(path, &b, LABELS_MAGIC, "labels")?;
    b[8..]
        .iter()
        .enumerate()
        .map(
            |(i, &l)| {
                if l > 9 {
                    Err(Error::format(path, format!("label {i} is {l}, expected 0-9")))
                } else {
                    Ok(u32::from(l))
                }
            },
        )
        .collect()
}
