//! An error as `enas` prints it: the chain of messages, outermost first, joined by `: `, each
//! cause once and no backtrace.
use std::error::Error as StdError;

/// The message chain of `e`. A cause whose message the text so far already ends with (a wrapper
/// that prints its source and also returns it, as `csv::Error` does) is not repeated, and a candle
/// error is printed without the backtrace it may hold.
pub fn chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = message(cause);
        if text.is_empty() || out.ends_with(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// One error's own message, candle's without its backtrace.
fn message(e: &(dyn StdError + 'static)) -> String {
    if let Some(c) = e.downcast_ref::<candle_core::Error>() {
        return candle(c);
    }
    if let Some(enas_shared::Error::Candle(c)) = e.downcast_ref::<enas_shared::Error>() {
        return candle(c);
    }
    e.to_string()
}

/// A candle error's message: its `WithBacktrace` layers dropped, its context and path layers
/// written on one line.
fn candle(e: &candle_core::Error) -> String {
    use candle_core::Error as C;
    match e {
        C::WithBacktrace { inner, .. } => candle(inner),
        C::Context { inner, context } => format!("{context}: {}", candle(inner)),
        C::WithPath { inner, path } => format!("{}: {}", path.display(), candle(inner)),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cause_once_and_no_backtrace() {
        let io = || std::io::Error::new(std::io::ErrorKind::IsADirectory, "Is a directory");
        // A wrapper that prints its source and returns it too.
        #[derive(Debug)]
        struct Both(std::io::Error);
        impl std::fmt::Display for Both {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "csv /x: {}", self.0)
            }
        }
        impl StdError for Both {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&self.0)
            }
        }
        let e = anyhow::Error::new(Both(io())).context("loading");
        assert_eq!(chain(&e), "loading: csv /x: Is a directory");
        let bt = candle_core::Error::WithBacktrace {
            inner: Box::new(candle_core::Error::Msg("3 tensors, expected 4".into())),
            backtrace: Box::new(std::backtrace::Backtrace::force_capture()),
        };
        let e = anyhow::Error::new(bt.with_path("/m.safetensors")).context("restoring");
        assert_eq!(chain(&e), "restoring: /m.safetensors: 3 tensors, expected 4");
    }
}
