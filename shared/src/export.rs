//! Writing results without losing data: every file goes to a temporary file beside its target and is
//! renamed into place, so a crash leaves either the old file or the new one, never half of one.
//! Results tables are CSV through the `csv` crate: a table of rows of a serde struct goes through
//! [`write_rows`] (its header is the struct's field names, [`columns`]) and comes back through
//! [`read_rows`]; [`csv_f64`] has the number formats of the fields; [`write_csv`] writes rows of
//! text under a given header.
use crate::error::{clip, clip_message};
use crate::{Error, Result};
use candle_core::Tensor;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;

/// Writes `bytes` to `path` atomically (temporary file in the same directory, fsync, rename).
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    atomic_write_with(path, |tmp| std::fs::write(tmp, bytes).map_err(|e| e.to_string()))
}

/// Whether [`atomic_write`] could create `path`, checked without creating anything: it is not a
/// directory, and its nearest existing ancestor is a directory (not a file standing where a
/// folder must be made). For an output written late (a cache saved after hours of work).
pub fn check_creatable(path: &Path) -> Result<()> {
    if path.is_dir() {
        return Err(Error::format(path, "is a directory, not a file".to_string()));
    }
    let mut ancestor = path.parent();
    while let Some(a) = ancestor.filter(|a| !a.as_os_str().is_empty()) {
        if a.exists() {
            if !a.is_dir() {
                return Err(Error::format(path, format!("cannot be created: {} is not a directory", a.display())));
            }
            break;
        }
        ancestor = a.parent();
    }
    Ok(())
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
    // tempfile creates 0600 files; every output gets the mode `File::create` gives (0666 less the
    // umask, so 0644 under the usual 022).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let tmp = builder.tempfile_in(dir).map_err(|e| Error::io("creating a temporary file in", dir, e))?;
    // The mode the open gave (the umask applied); `write` may replace the file (safetensors
    // writes its own 0600 temporary file and renames it over ours), so it is set again after.
    let mode = tmp.as_file().metadata().map_err(|e| Error::io("reading the mode of", tmp.path(), e))?.permissions();
    write(tmp.path()).map_err(|msg| Error::format(path, format!("writing failed: {msg}")))?;
    std::fs::set_permissions(tmp.path(), mode).map_err(|e| Error::io("setting the mode of", tmp.path(), e))?;
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
    let csv_err = |cause| Error::csv(path, cause);
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

/// The columns of a table of rows of `T`: its field names, as serde names them (renames applied),
/// in declaration order; what [`write_rows`] writes as the header. `T` must be a struct with
/// named fields (no `flatten`).
pub fn columns<T: DeserializeOwned>() -> Vec<&'static str> {
    let mut fields = None;
    // `T::deserialize` hands its field names to `deserialize_struct`, which keeps them and stops.
    let _ = T::deserialize(FieldNames(&mut fields));
    fields.expect("a CSV row type is a struct with named fields").to_vec()
}

/// A serde `Deserializer` that only records the field names of the struct asked of it.
struct FieldNames<'a>(&'a mut Option<&'static [&'static str]>);

impl<'de> serde::Deserializer<'de> for FieldNames<'_> {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> std::result::Result<V::Value, Self::Error> {
        Err(serde::de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> std::result::Result<V::Value, Self::Error> {
        *self.0 = Some(fields);
        Err(serde::de::Error::custom("field names taken"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

/// A CSV table in memory: `header`, then one record per row, each as its `Serialize` writes it
/// (a struct's fields in order; a sequence inside a row becomes that many fields). Every row
/// must have as many fields as the header.
pub fn csv_bytes<T: Serialize>(header: &[&str], rows: &[T]) -> std::result::Result<Vec<u8>, csv::Error> {
    let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
    w.write_record(header)?;
    for row in rows {
        w.serialize(row)?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

/// Writes rows of a serde struct as a CSV table atomically, the header its [`columns`].
pub fn write_rows<T: Serialize + DeserializeOwned>(path: &Path, rows: &[T]) -> Result<()> {
    let bytes = csv_bytes(&columns::<T>(), rows).map_err(|cause| Error::csv(path, cause))?;
    atomic_write(path, &bytes)
}

/// Reads a table written by [`write_rows`]: its first `n` rows (all of them if it has fewer) and
/// how many rows it has. Its columns must be `T`'s (or their first ones, from a file written
/// before trailing columns with defaults were added), and every row valid CSV; an error names the
/// line and the column.
pub fn read_rows<T: DeserializeOwned>(path: &Path, n: usize) -> Result<(Vec<T>, usize)> {
    let csv_err = |cause| Error::csv(path, cause);
    let mut r = csv::Reader::from_path(path).map_err(csv_err)?;
    let header = r.headers().map_err(csv_err)?.clone();
    let want = columns::<T>();
    // A file from before a trailing column was added (one with a serde default) reads too; a
    // missing column without a default fails below, naming the field.
    let prefix = !header.is_empty() && header.len() <= want.len() && header.iter().zip(&want).all(|(h, w)| h == *w);
    if !prefix {
        let got: Vec<&str> = header.iter().collect();
        let got = clip(&got.join(",")).into_owned();
        return Err(Error::format(path, format!("columns `{got}`, expected `{}`", want.join(","))));
    }
    // `n` may be "all" (usize::MAX): the capacity grows with what is read.
    let mut rows = Vec::with_capacity(n.min(1 << 16));
    let mut total = 0;
    for record in r.records() {
        let record = record.map_err(|e| match e.position() {
            Some(p) => {
                Error::format(path, format!("line {}: {}", p.line(), field_error(&e, &header, &Default::default())))
            }
            None => csv_err(e),
        })?;
        if rows.len() < n {
            let line = record.position().map_or(0, |p| p.line());
            let row = record
                .deserialize(Some(&header))
                .map_err(|e| Error::format(path, format!("line {line}: {}", field_error(&e, &header, &record))))?;
            rows.push(row);
        }
        total += 1;
    }
    Ok((rows, total))
}

/// What is wrong in a record that did not read or deserialize, without its position (the caller
/// names the line): the column and its text when `csv` knows them (`seconds `abc`: invalid float
/// literal`), a wrong field count, else the error's message.
pub fn field_error(e: &csv::Error, header: &csv::StringRecord, record: &csv::StringRecord) -> String {
    match e.kind() {
        csv::ErrorKind::Deserialize { err, .. } => match err.field().map(|f| f as usize) {
            Some(f) => {
                let (name, text) = (header.get(f).unwrap_or("?"), record.get(f).unwrap_or_default());
                format!("{} `{}`: {}", clip(name), clip(text), clip_message(&err.kind().to_string()))
            }
            None => err.kind().to_string(),
        },
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => format!("{len} fields, expected {expected_len}"),
        _ => clip_message(&e.to_string()).into_owned(),
    }
}

/// serde formats of `f64` CSV fields, for `#[serde(with = "...")]`. In the fixed-decimal formats a
/// NaN (a value that does not apply) is an empty field; every format reads an empty field as NaN.
pub mod csv_f64 {
    use serde::{Deserialize, Deserializer, Serializer};

    fn fixed<S: Serializer>(x: f64, decimals: usize, s: S) -> Result<S::Ok, S::Error> {
        if x.is_nan() {
            s.serialize_str("")
        } else {
            s.collect_str(&format_args!("{x:.decimals$}"))
        }
    }

    /// An empty field is NaN (`csv` reads it as `None`); a bad number is `csv`'s error, which
    /// names the field.
    fn number<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }

    /// Six decimals (`0.123457`); NaN empty.
    pub mod fixed6 {
        use serde::{Deserializer, Serializer};

        pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
            super::fixed(*x, 6, s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
            super::number(d)
        }
    }

    /// Three decimals (seconds: `1.234`); NaN empty.
    pub mod fixed3 {
        use serde::{Deserializer, Serializer};

        pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
            super::fixed(*x, 3, s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
            super::number(d)
        }
    }

    /// Rust's `Display` of `f64`: the shortest text that reads back as the same number, without
    /// an exponent (`92.025`, `4774454150500146`, `NaN`).
    pub mod shortest {
        use serde::{Deserializer, Serialize, Serializer};

        pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
            s.collect_str(x)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
            super::number(d)
        }

        /// A sequence of numbers, one field each.
        pub fn serialize_all<S: Serializer>(xs: &[f64], s: S) -> Result<S::Ok, S::Error> {
            struct One(f64);
            impl Serialize for One {
                fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    s.collect_str(&self.0)
                }
            }
            s.collect_seq(xs.iter().map(|&x| One(x)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Row {
        name: String,
        #[serde(with = "csv_f64::fixed6")]
        x: f64,
        #[serde(rename = "final", with = "csv_f64::shortest")]
        y: f64,
        #[serde(with = "csv_f64::fixed3")]
        seconds: f64,
    }

    #[test]
    fn rows_go_through_serde_with_their_number_formats() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.csv");
        assert_eq!(columns::<Row>(), ["name", "x", "final", "seconds"]);
        write_rows::<Row>(&p, &[]).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "name,x,final,seconds\n");
        let rows = vec![
            Row { name: "a,b".into(), x: 0.1234567, y: 92.0, seconds: 1.23456 },
            Row { name: "c".into(), x: f64::NAN, y: 2.5e21, seconds: 0.0 },
        ];
        write_rows(&p, &rows).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text, "name,x,final,seconds\n\"a,b\",0.123457,92,1.235\nc,,2500000000000000000000,0.000\n");
        let (back, total) = read_rows::<Row>(&p, 1).unwrap();
        assert_eq!((back.len(), total), (1, 2));
        assert_eq!(back[0].name, "a,b");
        let (back, _) = read_rows::<Row>(&p, 5).unwrap();
        assert!(back[1].x.is_nan() && back[1].y == 2.5e21);
        std::fs::write(&p, "name,x,final,seconds\na,0.5,1,abc\n").unwrap();
        let err = read_rows::<Row>(&p, 1).unwrap_err().to_string();
        assert!(err.contains("line 2: seconds `abc`: invalid float literal"), "{err}");
        std::fs::write(&p, "name,x,final,seconds\na,0.5,1,2\nb,0.5,1\n").unwrap();
        let err = read_rows::<Row>(&p, 1).unwrap_err().to_string();
        assert!(err.contains("line 3: 3 fields, expected 4"), "{err}");
        std::fs::write(&p, "name,x,seconds\n").unwrap();
        let err = read_rows::<Row>(&p, 1).unwrap_err().to_string();
        assert!(err.contains("columns `name,x,seconds`, expected `name,x,final,seconds`"), "{err}");
    }

    #[test]
    fn a_sequence_in_a_row_is_one_field_per_element() {
        #[derive(Serialize)]
        struct Scores {
            arch: &'static str,
            #[serde(serialize_with = "csv_f64::shortest::serialize_all")]
            scores: Vec<f64>,
        }
        let rows = [Scores { arch: "x", scores: vec![1.0, 0.25] }];
        let bytes = csv_bytes(&["arch", "p", "q"], &rows).unwrap();
        assert_eq!(String::from_utf8(bytes).unwrap(), "arch,p,q\nx,1,0.25\n");
        assert!(csv_bytes(&["arch", "p"], &rows).is_err(), "a row longer than the header");
    }

    #[test]
    fn csv_is_written_whole_and_replaced_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        write_csv(&p, &["a", "b"], [vec!["1", "x,y"]]).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "a,b\n1,\"x,y\"\n");
        write_csv(&p, &["a", "b"], [vec!["2", "z"], vec!["3", "w"]]).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "a,b\n2,z\n3,w\n");
        assert!(write_csv(&p, &["a", "b"], [vec!["1"]]).is_err());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "a,b\n2,z\n3,w\n", "a failed write left the file as it was");
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary files remain");
    }

    /// Every output gets the mode `File::create` gives (safetensors' own temporary file is 0600).
    #[cfg(unix)]
    #[test]
    fn outputs_get_the_mode_of_a_created_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let plain = dir.path().join("plain");
        std::fs::File::create(&plain).unwrap();
        let text = dir.path().join("t.txt");
        atomic_write(&text, b"x").unwrap();
        let st = dir.path().join("m.safetensors");
        let t = Tensor::zeros(3, candle_core::DType::F32, &candle_core::Device::Cpu).unwrap();
        save_safetensors(&st, &HashMap::from([("w".to_string(), t)])).unwrap();
        if mode(&plain) == 0o600 {
            eprintln!("the umask makes created files 0600, as safetensors' own are: run this test under umask 022");
        }
        assert_eq!((mode(&text), mode(&st)), (mode(&plain), mode(&plain)), "modes {:o}", mode(&plain));
    }
}
