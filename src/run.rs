//! Run directories: `runs/<name>/` with the resolved config, result tables, checkpoints and a
//! summary. Every file is written atomically (temporary file, then rename), so a run killed at any
//! moment leaves each file either at its previous version or at its new one.
use anyhow::{Context, Result};
use enas_shared::export::{atomic_write, write_rows};
use enas_shared::Config;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// A run directory.
pub struct RunDir {
    pub path: PathBuf,
}

impl RunDir {
    /// Creates `out`, or `runs/<prefix>-<timestamp>` when `out` is `None`.
    pub fn create(out: Option<&Path>, prefix: &str) -> Result<RunDir> {
        let path = match out {
            Some(p) => p.to_path_buf(),
            None => PathBuf::from("runs").join(format!("{prefix}-{}", timestamp())),
        };
        std::fs::create_dir_all(&path).with_context(|| format!("creating the run directory {}", path.display()))?;
        Ok(RunDir { path })
    }

    /// A new run's directory, `out` or `runs/<prefix>-<timestamp>`, claimed for this process:
    /// created if missing, locked, and refused unless empty (a run is never written over; a
    /// stopped one is continued with its command's `--resume`). The error names what is there.
    pub fn create_new(out: Option<&Path>, prefix: &str) -> Result<(RunDir, RunLock)> {
        let dir = RunDir::create(out, prefix)?;
        // The lock first: a directory another process is writing names that process.
        let lock = RunLock::acquire(&dir.path)?;
        let mut held: Vec<String> = std::fs::read_dir(&dir.path)
            .with_context(|| format!("reading the run directory {}", dir.path.display()))?
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .filter(|name| name != ".lock")
            .collect();
        if !held.is_empty() {
            held.sort();
            let shown = held.len().min(6);
            let more = if held.len() > shown { format!(" and {} more", held.len() - shown) } else { String::new() };
            let found = RunKind::of(&dir.path);
            let what = match found {
                Some(kind) => format!("an `enas {}` run", kind.command()),
                None => "files".to_string(),
            };
            let hint = match found {
                Some(kind) => {
                    format!("continue it with `enas {} --resume {}` or choose", kind.command(), shell_quote(&dir.path))
                }
                None => "choose".to_string(),
            };
            anyhow::bail!(
                "{} already holds {what} ({}{more}): --out must be a new or empty directory; {hint} another --out",
                dir.path.display(),
                held[..shown].join(", ")
            );
        }
        Ok((dir, lock))
    }

    /// An unfinished run of `kind` to continue (`--resume`), claimed for this process: opened,
    /// locked, and refused when another command wrote it or when it already has its
    /// `summary.json`.
    pub fn resume(path: &Path, kind: RunKind) -> Result<(RunDir, RunLock)> {
        let dir = RunDir::open(path)?;
        let lock = RunLock::acquire(&dir.path)?;
        if let Some(found) = RunKind::of(&dir.path).filter(|&found| found != kind) {
            anyhow::bail!(
                "{} is an `enas {}` run, not {}: continue it with `enas {} --resume {}`",
                dir.path.display(),
                found.command(),
                kind.what(),
                found.command(),
                shell_quote(&dir.path)
            );
        }
        anyhow::ensure!(
            !dir.file("summary.json").exists(),
            "{} is a finished {} run (it has summary.json): nothing to resume",
            dir.path.display(),
            kind.word()
        );
        Ok((dir, lock))
    }

    /// Opens an existing run directory, checking that it holds a run's config.
    pub fn open(path: &Path) -> Result<RunDir> {
        anyhow::ensure!(
            path.is_dir(),
            "{} is not a run directory: it does not exist or is not a directory",
            path.display()
        );
        let cfg = path.join("config.yaml");
        anyhow::ensure!(cfg.is_file(), "{} is not a run directory: it has no config.yaml", path.display());
        Ok(RunDir { path: path.to_path_buf() })
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// The resolved config, as the run used it.
    pub fn write_config(&self, cfg: &Config) -> Result<()> {
        Ok(atomic_write(&self.file("config.yaml"), cfg.to_yaml().as_bytes())?)
    }

    /// Reads the run's resolved config back.
    pub fn read_config(&self) -> Result<Config> {
        Ok(Config::load(Some(&self.file("config.yaml")), &[])?)
    }

    pub fn write_json(&self, name: &str, value: &serde_json::Value) -> Result<()> {
        Ok(atomic_write(&self.file(name), serde_json::to_string_pretty(value)?.as_bytes())?)
    }

    pub fn write_text(&self, name: &str, text: &str) -> Result<()> {
        Ok(atomic_write(&self.file(name), text.as_bytes())?)
    }

    /// A table of rows of a serde struct, its field names the header (`export::write_rows`).
    pub fn write_rows<T: Serialize + DeserializeOwned>(&self, name: &str, rows: &[T]) -> Result<()> {
        Ok(write_rows(&self.file(name), rows)?)
    }
}

/// The commands that write a run directory (each continues its own with `--resume`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    Search,
    Train,
    Bench,
}

impl RunKind {
    /// The command: `enas search`, `enas train`, `enas bench`.
    pub fn command(self) -> &'static str {
        match self {
            RunKind::Search => "search",
            RunKind::Train => "train",
            RunKind::Bench => "bench",
        }
    }

    /// The run in a sentence ("a finished training run").
    fn word(self) -> &'static str {
        match self {
            RunKind::Search => "search",
            RunKind::Train => "training",
            RunKind::Bench => "bench",
        }
    }

    fn what(self) -> &'static str {
        match self {
            RunKind::Search => "a search",
            RunKind::Train => "a training run",
            RunKind::Bench => "a bench",
        }
    }

    /// Which command wrote the run in `dir`, told by the files only that command writes (from
    /// the first it writes after config.yaml: a run stopped early is told apart too).
    pub fn of(dir: &Path) -> Option<RunKind> {
        let has = |name: &str| dir.join(name).exists();
        if has("state.json") || has("architectures.csv") || has("epochs.csv") {
            Some(RunKind::Search)
        } else if has("metrics.csv") || has("model.safetensors") || has("arc.txt") {
            Some(RunKind::Train)
        } else if has("trajectories.csv") || has("bench.json") {
            Some(RunKind::Bench)
        } else {
            None
        }
    }
}

/// `path` as a shell word: as it is when it holds only safe characters, else single-quoted.
pub fn shell_quote(path: &Path) -> String {
    let s = path.display().to_string();
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// An exclusive claim on a run directory for one writer process: the file `DIR/.lock` holding
/// the writer's pid, created atomically (`create_new`) and removed when the lock is dropped. A
/// lock left by a process that no longer runs (killed) is stale and taken over.
pub struct RunLock {
    path: PathBuf,
}

impl RunLock {
    pub fn acquire(dir: &Path) -> Result<RunLock> {
        let path = dir.join(".lock");
        for _ in 0..2 {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    use std::io::Write;
                    write!(f, "{}", std::process::id()).with_context(|| format!("writing {}", path.display()))?;
                    return Ok(RunLock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    match text.trim().parse::<u32>() {
                        Ok(pid) if Path::new(&format!("/proc/{pid}")).exists() => anyhow::bail!(
                            "{} is in use by another enas process (pid {pid}, {}); wait for it to finish or stop it",
                            dir.display(),
                            path.display()
                        ),
                        // A dead writer's (or an unreadable) lock: stale, removed, tried again.
                        _ => {
                            let _ = std::fs::remove_file(&path);
                        }
                    }
                }
                Err(e) => return Err(e).with_context(|| format!("creating the lock file {}", path.display())),
            }
        }
        anyhow::bail!("{}: could not take the run directory's lock {}", dir.display(), path.display())
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Refuses to write `output` when it is the file `input` (compared as canonical paths, so
/// `./x`, `../d/x` and links are seen through): a command must never replace what it reads.
pub fn refuse_overwriting_input(output: &Path, input: &Path, input_flag: &str) -> Result<()> {
    let canon = |p: &Path| -> Option<PathBuf> {
        if let Ok(c) = p.canonicalize() {
            return Some(c);
        }
        // A file that does not exist yet: its folder's canonical path and its name.
        let parent = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.canonicalize().ok()?,
            _ => std::env::current_dir().ok()?,
        };
        Some(parent.join(p.file_name()?))
    };
    if let (Some(o), Some(i)) = (canon(output), canon(input)) {
        anyhow::ensure!(
            o != i,
            "--out {} is the input {input_flag} ({}): writing it would replace what is being read; choose another --out",
            output.display(),
            input.display()
        );
    }
    Ok(())
}

/// Reads a CSV table as text: its header and rows (any columns).
pub fn read_table(path: &Path) -> Result<(Vec<String>, Vec<Vec<String>>)> {
    let mut r = csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let header = r
        .headers()
        .with_context(|| format!("reading the header of {}", path.display()))?
        .iter()
        .map(String::from)
        .collect();
    let mut rows = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.with_context(|| format!("{}: row {} is not valid CSV", path.display(), i + 2))?;
        rows.push(rec.iter().map(String::from).collect());
    }
    Ok((header, rows))
}

/// Seconds since the Unix epoch, as `YYYYMMDD-HHMMSS` in UTC.
pub fn timestamp() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!("{y:04}{m:02}{d:02}-{:02}{:02}{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Howard Hinnant's days-to-civil conversion (proleptic Gregorian, UTC).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn civil_dates() {
        assert_eq!(super::civil_from_days(0), (1970, 1, 1));
        assert_eq!(super::civil_from_days(20_785), (2026, 11, 28));
    }
}
