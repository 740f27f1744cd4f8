//! Writing results without losing data: every file goes to a temporary file beside its target and is
//! renamed into place, so a crash leaves either the old file or the new one, never half of one.
//! `write_csv` is the one CSV writer every results table goes through.
use crate::{Error, Result};
use candle_core::Tensor;
use std::collections::HashMap;
use std::path::Path;

/// Writes `bytes` to `path` atomically (temporary file in the same directory, fsync, rename).
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    atomic_write_with(path, |tmp| std::fs::write(tmp, bytes).map_err(|e| e.to_string()))
}

/// Named tensors to a safetensors file, atomically (checkpoints and saved models).
pub fn save_safetensors(path: &Path, tensors: &HashMap<String, Tensor>) -> Result<()> {
    atomic_write_with(path, |tmp| candle_core::safetensors::save(tensors, tmp).map_err(|e| e.to_string()))
}

/// The one atomic writer: `write` fills a temporary file beside `path` (given its path), which is
/// then synced to disk and renamed over `path`; the directory is synced so the rename survives a
/// crash. On any error `path` is untouched and the temporary file removed.
pub fn atomic_write_with(path: &Path, write: impl FnOnce(&Path) -> std::result::Result<(), String>) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io("creating directory", dir, e))?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".tmp-");
    // tempfile creates 0600 files; results and checkpoints get the usual 0644 (before umask).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let tmp = builder.tempfile_in(dir).map_err(|e| Error::io("creating a temporary file in", dir, e))?;
    write(tmp.path()).map_err(|msg| Error::format(path, format!("writing failed: {msg}")))?;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(tmp.path())
        .map_err(|e| Error::io("reopening", tmp.path().to_path_buf(), e))?;
    file.sync_all().map_err(|e| Error::io("syncing", tmp.path().to_path_buf(), e))?;
    tmp.persist(path).map_err(|e| Error::io("renaming into", path, e.error))?;
    // Best effort: not every platform can open (or sync) a directory.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Writes a CSV table (header, then rows) atomically.
pub fn write_csv<R, S>(path: &Path, header: &[&str], rows: R) -> Result<()>
where
    R: IntoIterator,
    R::Item: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let csv_err = |source| Error::Csv { path: path.to_path_buf(), source };
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).map_err(csv_err)?;
    for row in rows {
        let row: Vec<S> = row.into_iter().collect();
        if row.len() != header.len() {
            return Err(Error::format(path, format!("row has {} fields, header has {}", row.len(), header.len())));
        }
        w.write_record(row.iter().map(|s| s.as_ref())).map_err(csv_err)?;
    }
    let bytes = w.into_inner().map_err(|e| Error::io("writing CSV", path, e.into_error()))?;
    atomic_write(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_is_written_whole_and_replaced_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        write_csv(&p, &["a", "b"], [vec!["1", "x,y"]]).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "a,b\n1,\"x,y\"\n");
        write_csv(&p, &["a", "b"], [vec!["2", "z"], vec!["3", "w"]]).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "a,b\n2,z\n3,w\n");
        assert!(write_csv(&p, &["a", "b"], [vec!["1"]]).is_err());
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary files remain");
    }
}
