//! Small file helpers shared by the dataset readers.
use std::path::Path;

use crate::error::{Error, Result};

/// Reads a whole file, naming it in the error.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io("read", path, e))
}

/// Fails with a message naming `dir` and the files the reader `kind` looks for unless `dir` is an
/// existing directory.
pub(crate) fn require_dir(dir: &Path, kind: &str, expected: &str) -> Result<()> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::Data(format!(
            "{kind}: {} is not a directory; expected a directory holding {expected}",
            dir.display()
        ))),
        Err(e) => Err(Error::Data(format!(
            "{kind}: cannot open directory {} ({e}); expected a directory holding {expected}",
            dir.display()
        ))),
    }
}
