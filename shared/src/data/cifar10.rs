//! CIFAR-10 in its original binary layout.
//!
//! A directory holds `data_batch_*.bin` files (read in numeric order of their suffix, then by
//! name; all of them together are the train source) and optionally `test_batch.bin` (the test
//! set). When `test_batch.bin` is missing, [`load_splits`](super::load_splits) holds `test_size`
//! images out of the train files instead. Every record is 3,073 bytes: one label byte (0-9), then
//! 1,024 red, 1,024 green and 1,024 blue bytes of a row-major 32x32 image. Files may hold any
//! number of records. Pixels are scaled to 0..1.
use std::path::{Path, PathBuf};

use super::io::{read_file, require_dir};
use super::{Dataset, Source};
use crate::error::{Error, Result};

/// Side of a CIFAR-10 image.
pub const SIDE: usize = 32;
/// Bytes per record: label plus 3x32x32 pixels.
pub const RECORD: usize = 1 + 3 * SIDE * SIDE;
const EXPECTED: &str = "data_batch_1.bin .. data_batch_N.bin (train) and test_batch.bin (test)";

/// Reads the train batches and, if present, `test_batch.bin` from `dir`.
pub fn load(dir: &Path) -> Result<Source> {
    require_dir(dir, "cifar10", EXPECTED)?;
    let batches = train_files(dir)?;
    if batches.is_empty() {
        return Err(Error::Data(format!(
            "cifar10: no data_batch_*.bin file in {}; expected {EXPECTED}",
            dir.display()
        )));
    }
    let mut train = Dataset::empty(3, SIDE, SIDE, 10);
    for f in &batches {
        read_into(f, &mut train)?;
    }
    let test_path = dir.join("test_batch.bin");
    let test = if test_path.is_file() {
        let mut t = Dataset::empty(3, SIDE, SIDE, 10);
        read_into(&test_path, &mut t)?;
        Some(t)
    } else {
        None
    };
    Ok(Source { train, test })
}

/// The `data_batch_*.bin` files of `dir`, sorted by numeric suffix (`_2` before `_10`), then name.
fn train_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("list", dir, e))?;
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("list", dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(mid) = name.strip_prefix("data_batch_").and_then(|r| r.strip_suffix(".bin")) {
            let key = mid.parse::<u64>().unwrap_or(u64::MAX);
            found.push((key, name, entry.path()));
        }
    }
    found.sort();
    Ok(found.into_iter().map(|(_, _, p)| p).collect())
}

/// Appends the records of one binary batch file to `out`.
pub fn read_into(path: &Path, out: &mut Dataset) -> Result<()> {
    let bytes = read_file(path)?;
    if bytes.is_empty() {
        // An empty test file would give a test accuracy of 0 / 0.
        return Err(Error::format(path, "the file is empty: a CIFAR-10 batch holds 3073-byte records".to_string()));
    }
    if bytes.len() % RECORD != 0 {
        return Err(Error::format(
            path,
            format!(
                "size {} bytes is not a multiple of the 3073-byte CIFAR-10 record \
                 (1 label byte + 3072 pixel bytes); {} whole records and {} bytes left over",
                bytes.len(),
                bytes.len() / RECORD,
                bytes.len() % RECORD
            ),
        ));
    }
    let n = bytes.len() / RECORD;
    out.images.reserve(n * (RECORD - 1));
    out.labels.reserve(n);
    for (i, rec) in bytes.chunks_exact(RECORD).enumerate() {
        let label = rec[0];
        if label > 9 {
            return Err(Error::format(
                path,
                format!("record {i} (byte offset {}): label {label} is not in 0..=9", i * RECORD),
            ));
        }
        out.labels.push(u32::from(label));
        out.images.extend(rec[1..].iter().map(|&b| f32::from(b) / 255.0));
    }
    Ok(())
}
