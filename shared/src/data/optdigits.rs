//! UCI optical recognition of handwritten digits (the set scikit-learn ships as `load_digits`).
//!
//! A directory holds `optdigits.tra` (the train source) and optionally `optdigits.tes` (the test
//! set; when it is missing, [`load_splits`](super::load_splits) holds `test_size` images out of the
//! train file instead). Each non-blank line is 65 comma-separated integers: 64 grey levels 0-16 of a
//! row-major 8x8 image, then the label 0-9. Pixels are divided by 16, giving one channel on 0..1.
use std::path::Path;

use super::io::{read_file, require_dir};
use super::{Dataset, Source};
use crate::error::{Error, Result};

/// Side of an optdigits image.
pub const SIDE: usize = 8;
const FIELDS: usize = SIDE * SIDE + 1;
const EXPECTED: &str = "optdigits.tra (train) and optdigits.tes (test)";

/// Reads `optdigits.tra` and, if present, `optdigits.tes` from `dir`.
pub fn load(dir: &Path) -> Result<Source> {
    require_dir(dir, "optdigits", EXPECTED)?;
    let tra = dir.join("optdigits.tra");
    if !tra.is_file() {
        return Err(Error::Data(format!("optdigits: no optdigits.tra in {}; expected {EXPECTED}", dir.display())));
    }
    let train = read_file_set(&tra)?;
    let tes = dir.join("optdigits.tes");
    let test = if tes.is_file() { Some(read_file_set(&tes)?) } else { None };
    Ok(Source { train, test })
}

/// Reads one optdigits CSV file.
pub fn read_file_set(path: &Path) -> Result<Dataset> {
    let bytes = read_file(path)?;
    let text = std::str::from_utf8(&bytes).map_err(|e| Error::format(path, format!("not UTF-8 text ({e})")))?;
    let mut out = Dataset::empty(1, SIDE, SIDE, 10);
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        parse_row(line, &mut out).map_err(|msg| {
            Error::format(
                path,
                format!(
                    "line {}: {msg}; expected 65 comma-separated integers \
                     (64 pixels 0-16, then a label 0-9)",
                    i + 1
                ),
            )
        })?;
    }
    if out.is_empty() {
        return Err(Error::format(path, "no rows; expected lines of 64 pixels 0-16 then a label 0-9"));
    }
    Ok(out)
}

/// Parses one row into `out`, or says what is wrong with it.
fn parse_row(line: &str, out: &mut Dataset) -> std::result::Result<(), String> {
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    if fields.len() != FIELDS {
        return Err(format!("found {} fields", fields.len()));
    }
    let start = out.images.len();
    for (j, f) in fields.iter().enumerate() {
        let (max, what) = if j + 1 == FIELDS { (9, "label") } else { (16, "pixel") };
        let v: u32 = match f.parse() {
            Ok(v) if v <= max => v,
            _ => {
                out.images.truncate(start);
                return Err(format!("field {} ({what}) is {f:?}, not an integer 0-{max}", j + 1));
            }
        };
        if j + 1 == FIELDS {
            out.labels.push(v);
        } else {
            out.images.push(v as f32 / 16.0);
        }
    }
    Ok(())
}
