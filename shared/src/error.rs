//! The typed error of the library crates. Every variant names the thing that was wrong (a file, a
//! config key, a position in an arc) and what was expected, so the CLI can print it as it is.
//! A variant that wraps another error (a file error, a CSV error) prints it in its own message and
//! does not return it as `source()`, so a printed chain names each cause once. User text quoted in
//! a message goes through [`clip`] (or [`clip_message`] for another crate's message), so one huge
//! token in a file or flag gives a short error.
use std::borrow::Cow;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("{action} {path}: {cause}")]
    Io { action: &'static str, path: PathBuf, cause: std::io::Error },
    /// A data file exists but its contents are not what its format promises.
    #[error("{path}: {msg}")]
    Format { path: PathBuf, msg: String },
    /// A configuration value is missing, unknown, ill-typed or out of range.
    #[error("config {origin}: {msg}")]
    Config { origin: String, msg: String },
    /// An architecture text does not fit the search space.
    #[error("architecture: {0}")]
    Arch(String),
    /// A name (a strategy, a zero-cost proxy, a search space) that is none of the known ones; the
    /// message lists them.
    #[error("{0}")]
    Name(String),
    /// A dataset specification or split request cannot be satisfied.
    #[error("data: {0}")]
    Data(String),
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// Writing CSV failed.
    #[error("csv {path}: {cause}")]
    Csv { path: PathBuf, cause: csv::Error },
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn io(action: &'static str, path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        Error::Io { action, path: path.into(), cause }
    }
    pub fn csv(path: impl Into<PathBuf>, cause: csv::Error) -> Self {
        Error::Csv { path: path.into(), cause }
    }
    pub fn format(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Error::Format { path: path.into(), msg: msg.into() }
    }
}

/// Characters of a piece of user text (a token, a cell, a value) that an error message quotes.
pub const CLIP_CHARS: usize = 80;

/// User text as an error message quotes it: whole up to [`CLIP_CHARS`] characters, else its first
/// [`CLIP_CHARS`] characters, `...` and its size in bytes.
pub fn clip(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(CLIP_CHARS) {
        None => Cow::Borrowed(text),
        Some((end, _)) => Cow::Owned(format!("{}... ({} bytes)", &text[..end], text.len())),
    }
}

/// Another crate's message (a YAML or CSV parser's), which may quote user text: whole up to 400
/// characters, else its first 240 and last 120 characters around a note of what was cut, so both
/// the key it names and what it expected stay readable.
pub fn clip_message(msg: &str) -> Cow<'_, str> {
    let chars = msg.chars().count();
    if chars <= 400 {
        return Cow::Borrowed(msg);
    }
    let head: String = msg.chars().take(240).collect();
    let tail: String = msg.chars().skip(chars - 120).collect();
    Cow::Owned(format!("{head}... ({} bytes cut) ...{tail}", msg.len() - head.len() - tail.len()))
}

/// Text read from a file without its UTF-8 byte-order mark, which some editors write first.
pub fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_short_text_and_cuts_long_text_with_its_size() {
        assert_eq!(clip("0 1 x"), "0 1 x");
        let long = "é".repeat(1000);
        let c = clip(&long);
        assert!(c.starts_with(&"é".repeat(CLIP_CHARS)) && c.ends_with("... (2000 bytes)"), "{c}");
        let msg = format!("key: invalid type: string \"{}\", expected usize", "x".repeat(100_000));
        let c = clip_message(&msg);
        assert!(c.len() < 500 && c.starts_with("key: invalid type") && c.ends_with("expected usize"), "{c}");
        assert_eq!(strip_bom("\u{feff}arch"), "arch");
        assert_eq!(strip_bom("arch\u{feff}"), "arch\u{feff}");
    }
}
