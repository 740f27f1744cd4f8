//! Writing results without losing data: every file goes to a temporary file beside its target and is
//! renamed into place, so a crash leaves either the old file or the new one, never half of one.
//! `write_csv` is the one CSV writer every results table goes through.
use crate::{Error, Result};
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically (temporary file in the same directory, fsync, rename).
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io("creating directory", dir, e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(|e| Error::io("creating a temporary file in", dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io("writing", tmp.path().to_path_buf(), e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io("syncing", tmp.path().to_path_buf(), e))?;
    tmp.persist(path).map_err(|e| Error::io("renaming into", path, e.error))?;
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
